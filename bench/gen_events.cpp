// Generates a large, varied JSON-lines event file from the real sample logs,
// for throughput benchmarks. Events are drawn at random from every EVTX and
// JSON input under the given folders, read with sigscope's own readers. Each
// copy is varied: timestamps advance, process ids, record ids and GUIDs are
// redrawn, host and user names come from a pool, and digits inside command
// lines and paths change. The seed is fixed, so the same
// inputs give the same output.
//
// With --sysmon, only Sysmon events (Channel Microsoft-Windows-Sysmon/Operational)
// are drawn, and each draw first picks an EventID by the weights in
// kSysmonMix, which approximate the mix of a real Sysmon feed. EventIDs with
// no real event in the folders are left out and the remaining weights are
// rescaled; the mix actually used is printed.
//
// Usage: gen_events [--sysmon] OUT.jsonl SIZE_MB FOLDER...
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"
#include "sigscope/output/detections.h"

namespace fs = std::filesystem;
using namespace sigscope;

namespace {

struct Field {
  std::string name;
  std::string value;
  ValueType type;
};
using Event = std::vector<Field>;

void collect(const RawEvent& raw, std::vector<Event>& out) {
  Event e;
  for (const auto& f : raw.fields) e.push_back({std::string(f.name), std::string(f.value), f.type});
  out.push_back(std::move(e));
}

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

// Returns the event's field value named `name`, or an empty string.
std::string_view field_value(const Event& e, std::string_view name) {
  for (const auto& f : e)
    if (f.name == name) return f.value;
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  bool sysmon = false;
  if (argc > 1 && std::strcmp(argv[1], "--sysmon") == 0) {
    sysmon = true;
    --argc;
    ++argv;
  }
  if (argc < 4) {
    std::fprintf(stderr, "usage: gen_events [--sysmon] OUT.jsonl SIZE_MB FOLDER...\n");
    return 2;
  }
  const std::string out_path = argv[1];
  const double target = std::atof(argv[2]) * 1024 * 1024;
  std::vector<std::string> folders(argv + 3, argv + argc);

  std::vector<Event> pool;
  DiagnosticList diagnostics;
  JsonEventReader json;
  EvtxChunkParser evtx;
  for (const auto& input : find_inputs(folders, diagnostics)) {
    std::string skip;
    auto loaded = load_input(input, diagnostics, skip);
    if (!loaded) continue;
    auto sink = [&](const RawEvent& e) { collect(e, pool); };
    if (loaded->format == InputFormat::Json) {
      json.read(std::string_view(loaded->json.data(), loaded->json.size()), input.path, sink, diagnostics);
    } else if (auto file = EvtxFile::open(input.path, diagnostics)) {
      for (std::size_t c = 0; c < file->chunk_count(); ++c) evtx.parse_chunk(*file, c, sink, diagnostics);
    }
  }
  if (pool.empty()) {
    std::fprintf(stderr, "gen_events: no events found under the given folders\n");
    return 1;
  }

  // Sysmon mode: one pool per EventID of kSysmonMix, drawn by weight.
  std::vector<std::vector<std::size_t>> by_id;
  std::vector<double> weights;
  if (sysmon) {
    std::map<int, std::vector<std::size_t>> found;
    std::size_t sysmon_events = 0;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      if (field_value(pool[i], "Channel") != kSysmonChannel) continue;
      ++sysmon_events;
      found[std::atoi(std::string(field_value(pool[i], "EventID")).c_str())].push_back(i);
    }
    double total = 0;
    for (const auto& share : kSysmonMix)
      if (found.count(share.event_id)) total += share.percent;
    if (total == 0) {
      std::fprintf(stderr, "gen_events: no Sysmon events (Channel %s) found under the given folders\n",
                   std::string(kSysmonChannel).c_str());
      return 1;
    }
    std::fprintf(stderr, "gen_events: %zu real Sysmon events; EventID mix used (share, real events drawn from):",
                 sysmon_events);
    const char* separator = " ";
    for (const auto& share : kSysmonMix) {
      auto it = found.find(share.event_id);
      if (it == found.end()) {
        std::fprintf(stderr, "%s%d: none in the folders", separator, share.event_id);
        separator = ", ";
        continue;
      }
      by_id.push_back(it->second);
      weights.push_back(share.percent);
      std::fprintf(stderr, "%s%d: %.1f%% (%zu)", separator, share.event_id, 100 * share.percent / total,
                   it->second.size());
      separator = ", ";
    }
    std::fprintf(stderr, "\n");
  }
  std::discrete_distribution<std::size_t> pick_id(weights.begin(), weights.end());

  std::mt19937_64 rng(20261204);
  std::vector<std::string> hosts, users;
  for (int i = 0; i < 200; ++i) hosts.push_back(fmt::format("WS{:04d}.corp.example", i));
  for (int i = 0; i < 500; ++i) users.push_back(fmt::format("CORP\\user{:04d}", i));
  std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<int> digit(0, 9), percent(0, 99);
  std::uniform_int_distribution<std::uint32_t> pid(4, 65535);
  std::uniform_int_distribution<std::uint64_t> hex;

  std::FILE* out = std::fopen(out_path.c_str(), "wb");
  if (!out) {
    std::perror(out_path.c_str());
    return 1;
  }
  std::uint64_t written = 0, events = 0;
  long long second = 1735689600;  // 2025-01-01T00:00:00Z
  std::string line;
  std::vector<FieldValue> views;
  while (static_cast<double>(written) < target) {
    std::size_t index;
    if (sysmon) {
      const auto& ids = by_id[pick_id(rng)];
      index = ids[rng() % ids.size()];
    } else {
      index = pick(rng);
    }
    Event e = pool[index];
    ++second;
    for (auto& f : e) {
      if (is_time_field(f.name)) {
        std::time_t t = static_cast<std::time_t>(second);
        std::tm tm{};
        gmtime_r(&t, &tm);
        f.value = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, events % 1000);
      } else if (is_id_field(f.name) && f.type == ValueType::Number) {
        f.value = std::to_string(pid(rng));
      } else if (is_guid_field(f.name)) {
        std::uint64_t a = hex(rng), b = hex(rng);
        f.value = fmt::format("{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                              b >> 48, b & 0xFFFFFFFFFFFFull);
      } else if (f.name == "Computer" || f.name == "Hostname") {
        f.value = hosts[rng() % hosts.size()];
      } else if (f.name == "User" || f.name == "SubjectUserName" || f.name == "TargetUserName") {
        f.value = users[rng() % users.size()];
      } else if ((f.name == "CommandLine" || f.name == "TargetFilename" || f.name == "TargetObject") && percent(rng) < 50) {
        for (auto& c : f.value)
          if (c >= '0' && c <= '9') c = static_cast<char>('0' + digit(rng));
      }
    }
    views.clear();
    for (const auto& f : e) views.push_back({f.name, f.value, f.type, false});
    RawEvent raw;
    raw.fields = views;
    line.clear();
    append_event_json(raw, line);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out);
    written += line.size();
    ++events;
  }
  std::fclose(out);
  std::fprintf(stderr, "gen_events: wrote %llu events (%.1f MB) drawn from %zu real events\n",
               static_cast<unsigned long long>(events), static_cast<double>(written) / (1024 * 1024), pool.size());
  return 0;
}
