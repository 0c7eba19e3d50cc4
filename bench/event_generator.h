// Varied Sysmon-shaped or mixed Windows events for benchmarks and tests, drawn
// from real sample logs. bench/gen_events writes them to a file; the
// differential test feeds them to the engine directly.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sigscope/input/event.h"

namespace sigscope::bench {

struct GeneratorOptions {
  // Draw only Sysmon events, each EventID by the weights of a workstation feed.
  bool sysmon = false;
  std::uint64_t seed = 20261204;
};

// Makes an endless stream of JSON-lines events by copying real events and
// varying them: timestamps advance, process ids and GUIDs are redrawn, host
// and user names come from pools, digits in command lines and paths change.
// The same folders, options and seed give the same stream.
class EventGenerator {
 public:
  // Reads every EVTX and JSON input under `folders` with sigscope's readers.
  // Returns false and sets `error` when no usable event is found. `mix`
  // receives, in Sysmon mode, a one-line description of the EventID mix used.
  bool load(const std::vector<std::string>& folders, const GeneratorOptions& options, std::string& error,
            std::string& mix);

  // Appends the next event to `line` as one JSON object and a newline.
  void next(std::string& line);

  std::size_t pool_size() const { return pool_.size(); }
  std::size_t sysmon_pool_size() const { return sysmon_events_; }

 private:
  struct Field {
    std::string name;
    std::string value;
    ValueType type;
  };
  using Event = std::vector<Field>;

  bool sysmon_ = false;
  std::vector<Event> pool_;
  std::size_t sysmon_events_ = 0;
  std::vector<std::vector<std::size_t>> by_id_;
  std::discrete_distribution<std::size_t> pick_id_;
  std::mt19937_64 rng_;
  std::vector<std::string> hosts_, users_;
  std::uint64_t events_ = 0;
  long long second_ = 1735689600;  // 2025-01-01T00:00:00Z
  std::vector<FieldValue> views_;
};

}  // namespace sigscope::bench
