// Generates a large, varied JSON-lines event file from the real sample logs,
// for throughput benchmarks. Events are drawn at random from every EVTX and
// JSON input under the given folders and varied by EventGenerator
// (event_generator.h). The seed is fixed, so the same inputs give the same
// output.
//
// With --sysmon, only Sysmon events (Channel Microsoft-Windows-Sysmon/Operational)
// are drawn, and each draw first picks an EventID by the weights of a
// workstation feed. EventIDs with no real event in the folders are left out
// and the remaining weights are rescaled; the mix actually used is printed.
//
// Usage: gen_events [--sysmon] OUT.jsonl SIZE_MB FOLDER...
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "event_generator.h"

int main(int argc, char** argv) {
  sigscope::bench::GeneratorOptions options;
  if (argc > 1 && std::strcmp(argv[1], "--sysmon") == 0) {
    options.sysmon = true;
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

  sigscope::bench::EventGenerator generator;
  std::string error, mix;
  if (!generator.load(folders, options, error, mix)) {
    std::fprintf(stderr, "gen_events: %s\n", error.c_str());
    return 1;
  }
  if (!mix.empty()) std::fprintf(stderr, "gen_events: %s\n", mix.c_str());

  std::FILE* out = std::fopen(out_path.c_str(), "wb");
  if (!out) {
    std::perror(out_path.c_str());
    return 1;
  }
  std::uint64_t written = 0, events = 0;
  std::string line;
  while (static_cast<double>(written) < target) {
    line.clear();
    generator.next(line);
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
      std::perror(out_path.c_str());
      return 1;
    }
    written += line.size();
    ++events;
  }
  if (std::fclose(out) != 0) {
    std::perror(out_path.c_str());
    return 1;
  }
  std::fprintf(stderr, "gen_events: wrote %llu events (%.1f MB) drawn from %zu real events\n",
               static_cast<unsigned long long>(events), static_cast<double>(written) / (1024 * 1024),
               generator.pool_size());
  return 0;
}
