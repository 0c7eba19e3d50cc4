// Times the engine phase by phase on one input file, single-threaded, after
// rules are loaded and the engine is built: reading events (JSON or EVTX),
// and reading plus matching every rule. The difference is the matching cost.
// Usage: engine_bench RULES INPUT [--no-prefilter] [--repeat N] [--once]
//
// --once runs one read-and-match pass with callgrind instrumentation switched
// on only around it, so that
//   valgrind --tool=callgrind --instr-atstart=no engine_bench RULES INPUT --once
// counts the instructions of reading and matching without the startup, which
// runs uninstrumented and so much faster. Add --collect-atstart=no
// --toggle-collect='*Matcher::match*' to count matching alone.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "sigscope/compile/compiler.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"
#include "sigscope/match/engine.h"
#include "sigscope/rules/loader.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

using namespace sigscope;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <typename F>
std::uint64_t for_each_event(const LoadedInput& input, const std::string& path, F&& f) {
  DiagnosticList diagnostics;
  std::uint64_t n = 0;
  auto sink = [&](const RawEvent& e) {
    ++n;
    f(e);
  };
  if (input.format == InputFormat::Json) {
    static JsonEventReader reader;
    reader.read(std::string_view(input.json.data(), input.json.size()), path, sink, diagnostics);
  } else {
    static EvtxChunkParser parser;
    auto file = EvtxFile::open(path, diagnostics);
    for (std::size_t c = 0; file && c < file->chunk_count(); ++c) parser.parse_chunk(*file, c, sink, diagnostics);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: engine_bench RULES INPUT [--no-prefilter] [--repeat N] [--once]\n");
    return 2;
  }
  EngineOptions options;
  int repeat = 3;
  bool once = false;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-prefilter") == 0) options.prefilter = false;
    if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--once") == 0) once = true;
  }
  DiagnosticList diagnostics;
  double t0 = now();
  auto loaded_rules = load_rules({argv[1]}, diagnostics);
  auto compiled = compile_rules(std::move(loaded_rules.rules), diagnostics);
  double t1 = now();
  Engine engine(std::move(compiled.rules), options, diagnostics);
  double t2 = now();
  std::printf("rules: %zu run, %zu predicates (%zu prefiltered), %zu rules with witnesses\n", engine.rules().size(),
              engine.predicate_count(), engine.prefiltered_predicates(), engine.witnessed_rules());
  std::printf("load+compile %.3f s, engine build %.3f s\n", t1 - t0, t2 - t1);

  std::string skip;
  InputFile file{argv[2], 0};
  auto input = load_input(file, diagnostics, skip);
  if (!input) {
    std::fprintf(stderr, "cannot read %s\n", argv[2]);
    return 1;
  }
  auto matcher = engine.matcher();
  std::vector<Detection> detections;
  if (once) {
    std::uint64_t events = 0, hits = 0;
    CALLGRIND_START_INSTRUMENTATION;
    events = for_each_event(*input, argv[2], [&](const RawEvent& e) {
      matcher->match(e, detections);
      hits += detections.size();
    });
    CALLGRIND_STOP_INSTRUMENTATION;
    std::printf("once: %llu events, %llu detections; %llu field values scanned, %llu of them answered by the scan memo\n",
                static_cast<unsigned long long>(events), static_cast<unsigned long long>(hits),
                static_cast<unsigned long long>(matcher->scanned_values()),
                static_cast<unsigned long long>(matcher->memo_hits()));
    return 0;
  }
  double best_read = 1e9, best_match = 1e9;
  std::uint64_t events = 0, hits = 0;
  for (int r = 0; r < repeat; ++r) {
    double a = now();
    events = for_each_event(*input, argv[2], [](const RawEvent&) {});
    double b = now();
    hits = 0;
    for_each_event(*input, argv[2], [&](const RawEvent& e) {
      matcher->match(e, detections);
      hits += detections.size();
    });
    double c = now();
    best_read = std::min(best_read, b - a);
    best_match = std::min(best_match, c - b);
  }
  double mb = static_cast<double>(input->format == InputFormat::Json ? input->json.size() : 0) / (1 << 20);
  std::printf("events %llu, detections %llu\n", static_cast<unsigned long long>(events), static_cast<unsigned long long>(hits));
  std::printf("read only:       %.3f s  %.0f events/s\n", best_read, events / best_read);
  std::printf("read and match:  %.3f s  %.0f events/s%s\n", best_match, events / best_match,
              mb > 0 ? (", " + std::to_string(mb / best_match) + " MB/s").c_str() : "");
  std::printf("matching alone:  %.2f us/event\n", (best_match - best_read) / events * 1e6);
  std::printf("scan memo: %llu of %llu field values scanned were answered without scanning\n",
              static_cast<unsigned long long>(matcher->memo_hits()),
              static_cast<unsigned long long>(matcher->scanned_values()));
  return 0;
}
