// Times the rule pipeline on a Sigma corpus: load (YAML parse and validation)
// plus compile, and the in-memory catalog analysis. The corpus folder is the
// first non-flag argument, or SIGMA_RULES, or ../shared/corpus/sigma.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "sigscope/analysis/catalog.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/rules/loader.h"

namespace {

std::string g_corpus;

void BM_LoadAndCompile(benchmark::State& state) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  std::size_t rules = 0;
  for (auto _ : state) {
    sigscope::DiagnosticList diagnostics;
    auto loaded = sigscope::load_rules({g_corpus}, diagnostics, threads);
    auto compiled = sigscope::compile_rules(std::move(loaded.rules), diagnostics, threads);
    rules = compiled.rules.size();
    benchmark::DoNotOptimize(compiled.rules.data());
  }
  state.counters["rules"] = static_cast<double>(rules);
}

void BM_AnalyseCatalog(benchmark::State& state) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  sigscope::DiagnosticList diagnostics;
  auto loaded = sigscope::load_rules({g_corpus}, diagnostics, threads);
  auto compiled = sigscope::compile_rules(std::move(loaded.rules), diagnostics, threads);
  for (auto _ : state) {
    state.PauseTiming();
    auto copy = compiled.rules;
    state.ResumeTiming();
    auto catalog = sigscope::build_catalog(std::move(copy), diagnostics, threads);
    benchmark::DoNotOptimize(catalog.pages.data());
  }
}

}  // namespace

BENCHMARK(BM_LoadAndCompile)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_AnalyseCatalog)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc > 1) g_corpus = argv[1];
  else if (const char* env = std::getenv("SIGMA_RULES")) g_corpus = env;
  else g_corpus = std::string(SIGSCOPE_SHARED_DIR) + "/corpus/sigma";
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
