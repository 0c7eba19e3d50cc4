#include "event_generator.h"

#include <cstdlib>
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "sigscope/common/diagnostics.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"
#include "sigscope/output/detections.h"

namespace sigscope::bench {
namespace {

bool is_id_field(const std::string& n) {
  return n == "ProcessId" || n == "ProcessID" || n == "ThreadID" || n == "ThreadId" || n == "ParentProcessId" ||
         n == "EventRecordID" || n == "SourceProcessId" || n == "TargetProcessId";
}

bool is_guid_field(const std::string& n) { return n.size() > 4 && n.substr(n.size() - 4) == "Guid"; }

bool is_time_field(const std::string& n) {
  return n == "TimeCreated" || n == "UtcTime" || n == "@timestamp" || n == "EventTime" || n == "CreationUtcTime";
}

constexpr std::string_view kSysmonChannel = "Microsoft-Windows-Sysmon/Operational";

// Share of each Sysmon EventID in the generated feed, in percent. An
// estimate of a workstation feed with a common community configuration:
// image loads, network connections, registry writes and file creations
// dominate, process creation is about one event in ten.
struct SysmonShare {
  int event_id;
  double percent;
};
constexpr SysmonShare kSysmonMix[] = {
    {1, 10},  // process creation
    {3, 18},  // network connection
    {5, 6},   // process terminated
    {7, 20},  // image loaded
    {10, 8},  // process access
    {11, 12}, // file created
    {12, 4},  // registry key or value created or deleted
    {13, 10}, // registry value set
    {22, 6},  // DNS query
    {8, 1},   // CreateRemoteThread
    {17, 1},  // pipe created
    {18, 1},  // pipe connected
    {23, 1},  // file deleted
    {15, 1},  // file stream created
    {2, 0.5}, // file creation time changed
    {6, 0.5}, // driver loaded
};

}  // namespace

bool EventGenerator::load(const std::vector<std::string>& folders, const GeneratorOptions& options,
                          std::string& error, std::string& mix) {
  sysmon_ = options.sysmon;
  rng_.seed(options.seed);
  pool_.clear();
  DiagnosticList diagnostics;
  JsonEventReader json;
  EvtxChunkParser evtx;
  auto collect = [&](const RawEvent& raw) {
    Event e;
    for (const auto& f : raw.fields) e.push_back({std::string(f.name), std::string(f.value), f.type});
    pool_.push_back(std::move(e));
  };
  for (const auto& input : find_inputs(folders, diagnostics)) {
    std::string skip;
    auto loaded = load_input(input, diagnostics, skip);
    if (!loaded) continue;
    if (loaded->format == InputFormat::Json) {
      json.read(std::string_view(loaded->json.data(), loaded->json.size()), input.path, collect, diagnostics);
    } else if (auto file = EvtxFile::open(input.path, diagnostics)) {
      for (std::size_t c = 0; c < file->chunk_count(); ++c) evtx.parse_chunk(*file, c, collect, diagnostics);
    }
  }
  if (pool_.empty()) {
    error = "no events found under the given folders";
    return false;
  }
  auto field_value = [](const Event& e, std::string_view name) -> std::string_view {
    for (const auto& f : e)
      if (f.name == name) return f.value;
    return {};
  };

  // Sysmon mode: one pool per EventID of kSysmonMix, drawn by weight.
  std::vector<double> weights;
  by_id_.clear();
  sysmon_events_ = 0;
  if (sysmon_) {
    std::map<int, std::vector<std::size_t>> found;
    for (std::size_t i = 0; i < pool_.size(); ++i) {
      if (field_value(pool_[i], "Channel") != kSysmonChannel) continue;
      ++sysmon_events_;
      found[std::atoi(std::string(field_value(pool_[i], "EventID")).c_str())].push_back(i);
    }
    double total = 0;
    for (const auto& share : kSysmonMix)
      if (found.count(share.event_id)) total += share.percent;
    if (total == 0) {
      error = fmt::format("no Sysmon events (Channel {}) found under the given folders", kSysmonChannel);
      return false;
    }
    mix = fmt::format("{} real Sysmon events; EventID mix used (share, real events drawn from):", sysmon_events_);
    const char* separator = " ";
    for (const auto& share : kSysmonMix) {
      auto it = found.find(share.event_id);
      if (it == found.end()) {
        mix += fmt::format("{}{}: none in the folders", separator, share.event_id);
      } else {
        by_id_.push_back(it->second);
        weights.push_back(share.percent);
        mix += fmt::format("{}{}: {:.1f}% ({})", separator, share.event_id, 100 * share.percent / total,
                           it->second.size());
      }
      separator = ", ";
    }
  }
  pick_id_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  hosts_.clear();
  users_.clear();
  for (int i = 0; i < 200; ++i) hosts_.push_back(fmt::format("WS{:04d}.corp.example", i));
  for (int i = 0; i < 500; ++i) users_.push_back(fmt::format("CORP\\user{:04d}", i));
  events_ = 0;
  second_ = 1735689600;
  return true;
}

void EventGenerator::next(std::string& line) {
  std::uniform_int_distribution<std::size_t> pick(0, pool_.size() - 1);
  std::uniform_int_distribution<int> digit(0, 9), percent(0, 99);
  std::uniform_int_distribution<std::uint32_t> pid(4, 65535);
  std::uniform_int_distribution<std::uint64_t> hex;

  std::size_t index;
  if (sysmon_) {
    const auto& ids = by_id_[pick_id_(rng_)];
    index = ids[rng_() % ids.size()];
  } else {
    index = pick(rng_);
  }
  Event e = pool_[index];
  ++second_;
  for (auto& f : e) {
    if (is_time_field(f.name)) {
      std::time_t t = static_cast<std::time_t>(second_);
      std::tm tm{};
      gmtime_r(&t, &tm);
      f.value = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, events_ % 1000);
    } else if (is_id_field(f.name) && f.type == ValueType::Number) {
      f.value = std::to_string(pid(rng_));
    } else if (is_guid_field(f.name)) {
      std::uint64_t a = hex(rng_), b = hex(rng_);
      f.value = fmt::format("{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                            b >> 48, b & 0xFFFFFFFFFFFFull);
    } else if (f.name == "Computer" || f.name == "Hostname") {
      f.value = hosts_[rng_() % hosts_.size()];
    } else if (f.name == "User" || f.name == "SubjectUserName" || f.name == "TargetUserName") {
      f.value = users_[rng_() % users_.size()];
    } else if ((f.name == "CommandLine" || f.name == "TargetFilename" || f.name == "TargetObject") &&
               percent(rng_) < 50) {
      for (auto& c : f.value)
        if (c >= '0' && c <= '9') c = static_cast<char>('0' + digit(rng_));
    }
  }
  views_.clear();
  for (const auto& f : e) views_.push_back({f.name, f.value, f.type, false});
  RawEvent raw;
  raw.fields = views_;
  append_event_json(raw, line);
  line.push_back('\n');
  ++events_;
}

}  // namespace sigscope::bench
