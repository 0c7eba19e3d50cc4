// `sigscope overlap` over the whole SigmaHQ snapshot: it finishes quickly and
// finds the duplicates this test pins.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace sigscope {
namespace {

using nlohmann::json;

bool has_pair(const json& report, const std::string& kind, const std::string& a, const std::string& b) {
  for (const auto& p : report["pairs"]) {
    if (p["kind"] != kind) continue;
    if (kind == "equivalent") {
      const std::string x = p["rules"][0]["id"], y = p["rules"][1]["id"];
      if ((x == a && y == b) || (x == b && y == a)) return true;
    } else if (p["specific"]["id"] == a && p["general"]["id"] == b) {
      return true;
    }
  }
  return false;
}

TEST(SigmaCorpus, OverlapFindsKnownDuplicates) {
  SIGSCOPE_REQUIRE_SHARED();
  testing::TempDir dir;
  const auto corpus = testing::shared_dir() / "corpus" / "sigma";
  const auto out = dir.path() / "overlap.json";
  auto start = std::chrono::steady_clock::now();
  auto result = testing::run_cli({"overlap", corpus.string(), "--format", "json", "-o", out.string()});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(seconds, 60.0);
  EXPECT_NE(result.err.find("overlap: "), std::string::npos) << result.err;

  json report = json::parse(testing::read_file(out));
  const auto& summary = report["summary"];
  EXPECT_GE(summary["analysed"].get<int>(), 3900);
  EXPECT_GE(summary["subsumed_pairs"].get<int>(), 100);
  EXPECT_GE(summary["equivalent_pairs"].get<int>(), 1);

  // The deprecated "App Permissions Granted For Other APIs" tests exactly what
  // "App Granted Privileged Delegated Or App Permissions" does.
  EXPECT_TRUE(has_pair(report, "equivalent", "ba2a7c80-027b-460f-92e2-57d113897dbc",
                       "5aecf3d5-f8a0-48e7-99be-3a759df7358f"));
  // cmd.exe running 'assoc ' (with .exe) is a case of cmd.exe running 'assoc'.
  EXPECT_TRUE(has_pair(report, "subsumed", "ae6f14e6-14de-45b0-9f44-c0986f50dc89",
                       "3d3aa6cd-6272-44d6-8afc-7e88dfef7061"));
  // whoami /all is one of the whoami runs "Local Accounts Discovery" matches.
  EXPECT_TRUE(has_pair(report, "subsumed", "c248c896-e412-4279-8c15-1c558067b6fa",
                       "502b42de-4306-40b4-9596-6f590c81f073"));
  // Never the other way round.
  EXPECT_FALSE(has_pair(report, "subsumed", "3d3aa6cd-6272-44d6-8afc-7e88dfef7061",
                        "ae6f14e6-14de-45b0-9f44-c0986f50dc89"));
}

// A copy of a SigmaHQ rule with a large filter block (21 filter_optional_* selections,
// too many conjuncts for a normal form), changed only in id and title.
TEST(SigmaCorpus, OverlapFindsCopyOfRuleWithLargeFilter) {
  SIGSCOPE_REQUIRE_SHARED();
  const auto original = testing::shared_dir() / "corpus" / "sigma" / "rules" / "windows" / "dns_query" /
                        "dns_query_win_remote_access_software_domains_non_browsers.yml";
  std::string text = testing::read_file(original);
  const std::string id = "4d07b1f4-cb00-4470-b9f8-b0191d48ff52";
  const auto at = text.find("id: " + id);
  ASSERT_NE(at, std::string::npos) << "the rule's id changed upstream";
  testing::TempDir dir;
  dir.write("original.yml", text);
  text.replace(at, 4 + id.size(), "id: 0f3c2d1e-5b6a-4c7d-8e9f-a0b1c2d3e4f5");
  text.replace(text.find("title: "), 7, "title: Copy of ");
  dir.write("copy.yml", text);

  auto result = testing::run_cli({"overlap", dir.path().string(), "--format", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json report = json::parse(result.out);
  EXPECT_EQ(report["summary"]["skipped"]["normal form larger than 256 conjuncts"], 2);
  EXPECT_TRUE(has_pair(report, "equivalent", id, "0f3c2d1e-5b6a-4c7d-8e9f-a0b1c2d3e4f5")) << result.out;
}

}  // namespace
}  // namespace sigscope
