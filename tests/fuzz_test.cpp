// Long-running robustness suites (CTest label "long"). Randomly damaged rule
// files, condition strings and JSON events must be reported or read, never
// crash or hang. A repeated corpus hunt must give the same output for every
// thread count.
#include <gtest/gtest.h>

#include <random>

#include <simdjson.h>

#include "sigscope/compile/compiler.h"
#include "sigscope/condition/parser.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/rules/loader.h"
#include "test_support.h"

namespace sigscope {
namespace {

// Applies 1 to 8 random edits: byte flips, deletions, duplications and
// insertions of characters that matter to YAML, JSON and conditions.
std::string mutate(std::string text, std::mt19937_64& rng, bool ascii_only = false) {
  static const std::string kSpecial = "{}[]:,-|*?\\\"'#&!%@`\n\t \x00\xff\xc3";
  static const std::string kAsciiSpecial = "{}[]:,-|*?\\\"'#&!%@`<>=~^$\n\t \r";
  std::uniform_int_distribution<int> edits(1, 8), kind(0, 3);
  int n = edits(rng);
  for (int i = 0; i < n && !text.empty(); ++i) {
    std::size_t pos = std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(rng);
    switch (kind(rng)) {
      case 0: text[pos] = ascii_only ? static_cast<char>(0x20 + rng() % 0x5F) : static_cast<char>(rng()); break;
      case 1: text.erase(pos, std::uniform_int_distribution<std::size_t>(1, 16)(rng)); break;
      case 2: text.insert(pos, text.substr(pos, std::uniform_int_distribution<std::size_t>(1, 32)(rng))); break;
      default:
        text.insert(pos, 1, ascii_only ? kAsciiSpecial[rng() % kAsciiSpecial.size()] : kSpecial[rng() % kSpecial.size()]);
        break;
    }
  }
  return text;
}

// Iterations per fuzz test: SIGSCOPE_FUZZ_ITERATIONS, default 200000.
int iterations() {
  const char* env = std::getenv("SIGSCOPE_FUZZ_ITERATIONS");
  return env && *env ? std::atoi(env) : 200000;
}

std::vector<std::string> corpus_files(const std::filesystem::path& dir, const std::string& ext, std::size_t max) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(testing::read_file(e.path()));
    if (out.size() >= max) break;
  }
  return out;
}

TEST(Fuzz, DamagedRulesAreReported) {
  SIGSCOPE_REQUIRE_SHARED();
  auto rules = corpus_files(testing::shared_dir() / "corpus" / "sigma" / "rules", ".yml", 400);
  ASSERT_FALSE(rules.empty());
  std::mt19937_64 rng(20261204);
  std::size_t failed = 0;
  for (int i = 0; i < iterations(); ++i) {
    std::string text = mutate(rules[rng() % rules.size()], rng);
    DiagnosticList diagnostics;
    std::size_t rejected = 0;
    auto loaded = load_rules_from_text(text, "fuzz.yml", diagnostics, &rejected);
    auto compiled = compile_rules(std::move(loaded), diagnostics, 1);
    failed += rejected + compiled.failed;
    // Every rejected document comes with at least one error.
    if (rejected + compiled.failed > 0) {
      ASSERT_GT(diagnostics.error_count(), 0u) << text;
    }
  }
  EXPECT_GT(failed, 0u);
}

// Text that stays valid UTF-8 reaches the YAML parser itself.
TEST(Fuzz, DamagedRulesInValidTextAreReported) {
  SIGSCOPE_REQUIRE_SHARED();
  auto rules = corpus_files(testing::shared_dir() / "corpus" / "sigma" / "rules", ".yml", 400);
  ASSERT_FALSE(rules.empty());
  std::mt19937_64 rng(1234);
  for (int i = 0; i < iterations(); ++i) {
    std::string text = mutate(rules[rng() % rules.size()], rng, true);
    DiagnosticList diagnostics;
    std::size_t rejected = 0;
    auto loaded = load_rules_from_text(text, "fuzz.yml", diagnostics, &rejected);
    auto compiled = compile_rules(std::move(loaded), diagnostics, 1);
    if (rejected + compiled.failed > 0) {
      ASSERT_GT(diagnostics.error_count(), 0u) << text;
    }
  }
}

TEST(Fuzz, DamagedConditionsAreReported) {
  std::mt19937_64 rng(7);
  static const std::vector<std::string> kTokens = {"sel", "filter_*", "them", "and", "or", "not", "(", ")",
                                                   "1", "all", "of", "any", "|", "count()", ">", "5", "x*y"};
  for (int i = 0; i < 5 * iterations(); ++i) {
    std::string text;
    int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) text += kTokens[rng() % kTokens.size()] + (rng() % 4 ? " " : "");
    auto result = parse_condition(text);
    if (auto* err = std::get_if<ConditionParseError>(&result)) {
      ASSERT_FALSE(err->message.empty());
      ASSERT_LE(err->offset, static_cast<int>(text.size()));
    }
  }
}

TEST(Fuzz, DamagedJsonIsReadOrRejected) {
  SIGSCOPE_REQUIRE_SHARED();
  auto inputs = corpus_files(testing::shared_dir() / "corpus" / "sigma-regression", ".json", 200);
  ASSERT_FALSE(inputs.empty());
  std::mt19937_64 rng(99);
  JsonEventReader reader;
  std::uint64_t events = 0, rejected = 0;
  for (int i = 0; i < iterations(); ++i) {
    simdjson::padded_string text(mutate(inputs[rng() % inputs.size()], rng));
    DiagnosticList diagnostics;
    ReadStats stats = reader.read(std::string_view(text.data(), text.size()), "fuzz.json",
                                  [&](const RawEvent& e) { events += e.fields.size() > 0 ? 1 : 0; }, diagnostics);
    rejected += stats.rejected;
    if (stats.rejected > 0) {
      ASSERT_GT(diagnostics.error_count(), 0u);
    }
  }
  EXPECT_GT(events, 0u);
  EXPECT_GT(rejected, 0u);
}

TEST(Soak, HuntOutputIndependentOfThreads) {
  SIGSCOPE_REQUIRE_SHARED();
  auto corpus = testing::shared_dir() / "corpus";
  std::string reference;
  for (const char* threads : {"1", "2", "3", "8", "2", "1"}) {
    auto r = testing::run_cli({"hunt", "-r", (corpus / "sigma" / "rules").string(), (corpus / "evtx").string(),
                               (corpus / "json").string(), (corpus / "sigma-regression").string(), "-f", "jsonl", "-j",
                               threads, "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
    if (reference.empty()) reference = r.out;
    EXPECT_EQ(r.out, reference) << "threads " << threads;
  }
  EXPECT_GT(reference.size(), 100000u);
}

}  // namespace
}  // namespace sigscope
