// Sigma correlation rules: plans that map detections to the correlations
// they feed, the hits those detections leave, and the evaluation of the
// hits in time order into correlation detections.
//
// Correlations run after matching: every worker records a small hit for each
// detection that feeds a correlation, and the hits are evaluated once the
// inputs are read, since events of one host can come from many files in any
// order.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigscope/compile/compiled.h"
#include "sigscope/match/event_view.h"

namespace sigscope {

// The fields one runnable detection rule gives one correlation: the group-by
// fields (after the correlation's aliases) and the condition's field.
struct CorrelationFeed {
  std::uint32_t correlation = 0;  // index into CorrelationSet::plans
  std::uint32_t ref = 0;          // first position of the rule in the correlation's `rules`
  std::vector<FieldId> group;     // one per group-by field
  FieldId value = kNoField;       // the condition's field, if it has one
};

// One correlation rule ready to run.
struct CorrelationPlan {
  const CompiledRule* rule = nullptr;
  // Each entry of the rule's `rules`: a runnable detection rule (index into
  // Engine::rules()) or another correlation (index into CorrelationSet::plans).
  struct Ref {
    bool correlation = false;
    std::uint32_t index = 0;
  };
  std::vector<Ref> refs;
  // Per ref to a correlation: for each group-by field, its position in that
  // correlation's group-by list (or -1 when it has no such field).
  std::vector<std::vector<int>> child_group;
  // Per ref to a correlation: the position of the condition's field in that
  // correlation's group-by list, or -1.
  std::vector<int> child_value;
};

// The correlation rules of an engine.
struct CorrelationSet {
  std::vector<CorrelationPlan> plans;  // each after the plans it references
  // Per runnable rule: the correlations its detections feed.
  std::vector<std::vector<CorrelationFeed>> feeds;
  // Per runnable rule: false when it is referenced only by correlations with
  // generate: false, so its own detections are not reported.
  std::vector<bool> reported;
  // Per plan: false when it is referenced only by correlations with
  // generate: false, so it only feeds them.
  std::vector<bool> plan_reported;
  bool empty() const { return plans.empty(); }
};

// A detection that feeds a correlation, as a Matcher records it.
struct CorrelationHit {
  std::int64_t time_us = 0;  // event time, microseconds since 1970 (UTC)
  std::uint64_t record = 0;  // the event's record number in its input
  std::uint32_t input = 0;   // set by the caller, e.g. the input's index
  std::uint32_t rule = 0;    // runnable rule that fired
  std::uint32_t correlation = 0;
  std::uint32_t ref = 0;
  std::uint32_t key_size = 0;  // bytes of `text` that hold the group-by values
  bool has_value = false;
  // The group-by values, each written by append_group_value(), then the
  // condition field's first value when has_value.
  std::string text;

  std::string_view key() const { return std::string_view(text).substr(0, key_size); }
  std::string_view value() const { return std::string_view(text).substr(key_size); }
};

// Distinct strings, each stored once and named by a dense id from 0.
// Group keys and condition values repeat across hits (one source address
// fails thousands of logons), so hits keep ids instead of text.
class StringPool {
 public:
  // Returns the id of `text`, adding it when it is new.
  std::uint32_t intern(std::string_view text);
  // Returns the id of `text`, or nullopt when it was never added.
  std::optional<std::uint32_t> find(std::string_view text) const;
  std::string_view operator[](std::uint32_t id) const { return texts_[id]; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(texts_.size()); }
  // Heap bytes of the texts and the table.
  std::size_t memory_bytes() const {
    return blocks_.size() * kBlockBytes + texts_.capacity() * sizeof(std::string_view) +
           slots_.capacity() * sizeof(std::uint64_t);
  }

 private:
  std::size_t slot_of(std::string_view text, std::uint64_t hash) const;
  void grow();
  static constexpr std::size_t kBlockBytes = 1 << 20;
  std::vector<std::string_view> texts_;  // by id, pointing into blocks_
  // Open addressing: the hash's high half, then id + 1 (0 when empty).
  std::vector<std::uint64_t> slots_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::size_t block_used_ = kBlockBytes;  // bytes used in blocks_.back()
};

// The hits of a hunt, kept until every input is read. A hunt can gather
// millions, so each takes 40 bytes in memory, and its group key and value are
// ids into a pool of distinct strings. Once the hits and the pool take more
// than a memory budget, they move to temporary files, one per partition of
// the groups, and evaluate_correlations() reads one partition at a time.
// NOTE: evaluation reads a partition whole, at about 100 bytes per hit (an
// estimate), so one group with tens of millions of hits, or about a billion
// hits in all, still takes more than 150 MB.
class CorrelationHits {
 public:
  static constexpr std::uint32_t kNoValue = UINT32_MAX;
  static constexpr std::size_t kDefaultMemoryBudget = std::size_t{16} << 20;
  // Groups of a spilled hunt go to this many files, by a hash of the
  // correlation and the group key.
  static constexpr std::size_t kPartitions = 128;

  struct View {
    std::int64_t time_us = 0;
    std::uint64_t record = 0;
    std::uint32_t input = 0, rule = 0, correlation = 0, ref = 0;
    std::uint32_t key = 0;         // id of the group key in strings()
    std::uint32_t value = kNoValue;  // id of the condition field's value, or kNoValue
    bool has_value() const { return value != kNoValue; }
  };

  // `memory_budget`: bytes of hits and strings kept in memory before they
  // spill. `spill_dir`: where the temporary files go; empty means $TMPDIR,
  // else /tmp. The files are unlinked as soon as they are created.
  explicit CorrelationHits(std::size_t memory_budget = kDefaultMemoryBudget, std::string spill_dir = {});
  ~CorrelationHits();
  CorrelationHits(const CorrelationHits&) = delete;
  CorrelationHits& operator=(const CorrelationHits&) = delete;
  CorrelationHits(CorrelationHits&&) noexcept = default;  // the moved-from object keeps no files
  CorrelationHits& operator=(CorrelationHits&&) = delete;

  // Appends `hit`, interning its group key and value, or writes it to its
  // partition file once the hits have spilled.
  void add(const CorrelationHit& hit);
  // All hits added, in memory or spilled.
  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

  // The hits in memory; all of them unless spilled().
  std::size_t memory_size() const { return hits_.size(); }
  View operator[](std::size_t index) const;
  // The group keys and values the hits in memory name.
  const StringPool& strings() const { return strings_; }

  // True once the hits have moved to temporary files.
  bool spilled() const { return !parts_.empty(); }
  // Bytes written to the temporary files.
  std::uint64_t spilled_bytes() const { return spilled_bytes_; }
  const std::string& spill_dir() const { return spill_dir_; }
  // Why spilling failed, with what to do: the temporary files could not be
  // created or written, so every hit stays in memory. Empty when nothing
  // failed.
  const std::string& spill_error() const { return spill_error_; }
  // Hits that could not be read back from the temporary files.
  std::uint64_t lost() const { return lost_; }

  // Partition of the group `key` of correlation `correlation`.
  static std::size_t partition_of(std::uint32_t correlation, std::string_view key);
  // Calls `f` with each spilled hit of partition `part` and its position
  // among all hits added, in the order they were added. Hits that cannot be
  // read back are added to `unread`.
  void read_partition(std::size_t part, const std::function<void(const CorrelationHit&, std::uint64_t)>& f,
                      std::uint64_t& unread) const;

 private:
  struct Stored {
    std::int64_t time_us;
    std::uint64_t record;
    std::uint32_t input, rule, correlation, key, value;
    std::uint16_t ref;
  };
  // One temporary file: its hits are the `written` bytes in the file, then
  // `pending`.
  struct Partition {
    int fd = -1;
    std::uint64_t written = 0;
    std::string pending;
    std::uint64_t records = 0;
  };
  std::size_t memory_bytes() const;
  void add_to_memory(const CorrelationHit& hit);
  void spill();
  void write(const CorrelationHit& hit, std::uint64_t order);
  bool flush(Partition& part);
  // Brings every spilled hit back to memory after a failed write.
  void unspill();
  void close_files();
  bool for_each_spilled(std::size_t part, const std::function<void(const CorrelationHit&, std::uint64_t)>& f) const;

  std::deque<Stored> hits_;  // a deque, so growing never copies the hits
  StringPool strings_;
  std::size_t count_ = 0;
  std::size_t memory_budget_;
  std::string spill_dir_;
  std::vector<Partition> parts_;  // one per partition once spilled
  std::uint64_t spilled_bytes_ = 0;
  std::uint64_t lost_ = 0;
  std::string spill_error_;
};

// One detection that made up a correlation's window.
struct FireEvent {
  std::int64_t time_us = 0;
  std::uint64_t record = 0;  // the event's record number in its input
  std::uint32_t input = 0;   // as CorrelationHit::input
  std::uint32_t rule = 0;    // runnable rule that fired
};

// The position of a fire's first event among all events of its correlation.
// Events are ordered by time, then detections before fires of referenced
// correlations, detections in the order they were read, and fires by their
// position in `rules`, then by fire. Fires with equal last times are listed
// in this order, so the order does not depend on how the hits were spilled.
struct FireOrder {
  std::int64_t time = 0;
  bool fire = false;
  std::uint16_t ref = 0;
  std::uint64_t index = 0;
  auto operator<=>(const FireOrder&) const = default;
};

// One firing of a correlation rule for one group.
struct CorrelationFire {
  std::uint32_t correlation = 0;  // index into CorrelationSet::plans
  std::vector<std::string> group;  // values of the group-by fields, in order
  std::int64_t first_us = 0, last_us = 0;
  double value = 0;               // the aggregate the condition compared
  // The detections that make up the window (at most kMaxFireEvents of them).
  std::vector<FireEvent> events;
  std::uint64_t event_count = 0;  // all of them, also those not listed
  FireOrder order;  // of its first event
};

// True when `a` is listed before `b`: by correlation, then by the time of
// the last event, then by FireOrder.
bool fire_before(const CorrelationFire& a, const CorrelationFire& b);

constexpr std::size_t kMaxFireEvents = 100;

// Counts of what evaluate_correlations() could not use.
struct CorrelationStats {
  std::uint64_t detections = 0;     // detections of rules that feed correlations
  std::uint64_t without_time = 0;   // events with such detections but no readable time
  std::uint32_t untimed_input = 0;  // the first of those events: its input and record
  std::uint64_t untimed_record = 0;
  // Per detection and correlation it feeds: a group-by field was missing,
  // or the value of a value_sum (and the like) field was not a decimal number.
  std::uint64_t without_group = 0;
  std::uint64_t without_value = 0;
  // Spilled hits that could not be read back from their temporary file.
  std::uint64_t unread = 0;
};

// Appends one group-by value to a group key as its length, ':' and its
// bytes, so no value can run into the next whatever bytes it holds.
void append_group_value(std::string& key, std::string_view value);

// Parses an event time: ISO 8601 ("2024-05-01T10:00:00Z", with optional
// fraction and offset, 'T' or space), seconds, milliseconds, microseconds
// or nanoseconds since 1970, or a Windows FILETIME from 1970 to 2099.
// Returns microseconds since 1970 in UTC.
std::optional<std::int64_t> parse_event_time(std::string_view text);

// Returns the time of `event` in microseconds since 1970 (UTC): the first of
// its timestamp and other_timestamps that parse_event_time() reads, or
// nullopt when none is a valid time.
std::optional<std::int64_t> event_time(const RawEvent& event);

// Writes microseconds since 1970 as ISO 8601 UTC with six fraction digits
// ("2024-05-01T10:00:00.250000Z"), so that the times sort as text too.
std::string format_event_time(std::int64_t time_us);

// A correlation rule that cannot run, with the reason.
struct UnrunnableCorrelation {
  const CompiledRule* rule = nullptr;
  std::string reason;
};

// Resolves the `rules` of each correlation in `all` to rules in `runnable`
// or to other correlations, and interns the fields they read in `fields`.
// Correlations that reference a rule that does not run, or themselves, are
// left out and listed in `unrunnable`.
CorrelationSet plan_correlations(const std::vector<CompiledRule>& all, const std::vector<const CompiledRule*>& runnable,
                                 FieldTable& fields, std::vector<UnrunnableCorrelation>& unrunnable);

// Lists the correlations in `rules` that cannot run even when every detection
// rule in `rules` runs, whatever its status, with the reason plan_correlations gives.
std::vector<UnrunnableCorrelation> find_unrunnable_correlations(const std::vector<CompiledRule>& rules);

// Evaluates every correlation over `hits`, which must be in the order the
// events were read. They are ordered by time here, and equal times keep that
// order. Returns the fires plan by plan, each plan's by the time of their
// last event. Spilled hits are read back one partition at a time.
std::vector<CorrelationFire> evaluate_correlations(const CorrelationSet& set, const CorrelationHits& hits,
                                                   CorrelationStats& stats);

// Evaluates every correlation as above and passes each fire to `sink`
// instead of returning them all: correlation by correlation, each in no set
// order (sort by fire_before()). Only the fires of correlations that other
// correlations reference are kept until the end, so memory does not grow
// with the fires of the others.
void evaluate_correlations(const CorrelationSet& set, const CorrelationHits& hits, CorrelationStats& stats,
                           const std::function<void(CorrelationFire&&)>& sink);

}  // namespace sigscope
