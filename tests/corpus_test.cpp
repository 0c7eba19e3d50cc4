// The whole SigmaHQ snapshot through `sigscope catalog`: only the genuinely
// invalid files fail, and this test pins which ones.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "test_support.h"

namespace sigscope {
namespace {

using testing::read_file;
using testing::run_cli;
using testing::TempDir;

// Files of the snapshot that are invalid Sigma. All four use pseudo-code
// conditions ("count(...) per ... > 200", "write ... then if ... -> alert")
// that no Sigma version defines.
const std::set<std::string> kInvalidFiles = {
    "unsupported/network/net_dns_high_subdomain_rate.yml",
    "unsupported/windows/sysmon_always_install_elevated_parent_child_correlated.yml",
    "unsupported/windows/win_dumping_ntdsdit_via_dcsync.yml",
    "unsupported/windows/win_dumping_ntdsdit_via_netsync.yml",
};

TEST(SigmaCorpus, CatalogFailsOnlyInvalidFiles) {
  SIGSCOPE_REQUIRE_SHARED();
  TempDir dir;
  std::filesystem::path corpus = testing::shared_dir() / "corpus" / "sigma";
  auto result = run_cli({"catalog", corpus.string(), "--out", (dir.path() / "site").string(), "--max-warnings", "0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  std::set<std::string> failed;
  std::istringstream lines(result.err);
  std::string line;
  const std::string prefix = corpus.string() + "/";
  while (std::getline(lines, line)) {
    auto pos = line.find(": error: ");
    if (pos == std::string::npos) continue;
    std::string location = line.substr(0, pos);
    std::string file = location.substr(0, location.find(':'));
    ASSERT_EQ(file.rfind(prefix, 0), 0u) << "error without a corpus file: " << line;
    failed.insert(file.substr(prefix.size()));
    // Each error names the rule and gives a reason.
    EXPECT_NE(line.find("[rule "), std::string::npos) << line;
  }
  EXPECT_EQ(failed, kInvalidFiles);

  auto index = nlohmann::json::parse(read_file(dir.path() / "site" / "index.json"));
  const auto& summary = index["summary"];
  EXPECT_EQ(summary["files"], 4039);
  EXPECT_EQ(summary["rules_failed"], kInvalidFiles.size());
  EXPECT_EQ(index["rules"].size(), summary["rules_loaded"].get<std::size_t>());
  EXPECT_GE(index["rules"].size(), 4030u);
  for (const auto& rule : index["rules"]) {
    std::string slug = rule["slug"];
    ASSERT_TRUE(std::filesystem::exists(dir.path() / "site" / "rules" / (slug + ".html"))) << slug;
    ASSERT_TRUE(std::filesystem::exists(dir.path() / "site" / "rules" / (slug + ".json"))) << slug;
  }
}

}  // namespace
}  // namespace sigscope
