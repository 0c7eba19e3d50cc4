// `sigscope check` over the whole SigmaHQ snapshot: it finishes quickly and
// finds the cases docs/lint.md records.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace sigscope {
namespace {

TEST(SigmaCorpusLint, CheckFindsDocumentedCases) {
  SIGSCOPE_REQUIRE_SHARED();
  auto corpus = testing::shared_dir() / "corpus" / "sigma";
  auto r = testing::run_cli({"check", "--format", "json", corpus.string()});
  // Four files of the snapshot are not valid Sigma, so the exit status is 1.
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& s = j["summary"];
  EXPECT_GT(s["rules_loaded"].get<int>(), 3000);
  EXPECT_LT(s["lint_seconds"].get<double>(), 30.0);
  const auto& by = s["by_check"];
  // docs/lint.md lists these counts; the semantic checks find real rules.
  for (const char* check : {"contradictory-equality", "never-matches", "filter-covers-selection", "duplicate-id",
                            "dangling-detection", "attack-tag", "unknown-field", "technique-without-tactic",
                            "regex-subset", "specific-logsource", "escaped-wildcard", "load-error",
                            "unknown-logsource", "obsolete-aggregation", "obsolete-timeframe",
                            "unresolved-placeholder"})
    EXPECT_GT(by.value(check, 0), 0) << check;
  // Two rules of the main rule set have a dead contradictory branch.
  std::set<std::string> files;
  for (const auto& f : j["findings"])
    if (f["check"] == "contradictory-equality") files.insert(f["file"].get<std::string>());
  bool nodejs = false, traversal = false;
  for (const auto& f : files) {
    nodejs |= f.find("proc_creation_lnx_exploit_cve_2025_55182_susp_nodejs_server_child_process.yml") != std::string::npos;
    traversal |= f.find("proc_creation_win_cmd_path_traversal.yml") != std::string::npos;
  }
  EXPECT_TRUE(nodejs);
  EXPECT_TRUE(traversal);
}

}  // namespace
}  // namespace sigscope
