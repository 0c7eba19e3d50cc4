// SigmaHQ's regression evidence: every rule linked from a case must fire on
// its evidence log, at least match_count times when the case gives one. Runs
// the CLI (`sigscope hunt`) on the rule and on the evidence, once per format.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"

namespace sigscope {
namespace {

using nlohmann::json;

struct RegressionCase {
  std::string name;       // case folder, for the test name
  std::string rule_id;
  std::string rule_path;  // relative to corpus/sigma
  std::string evidence;   // path without extension, relative to corpus/sigma-regression
  int match_count = 1;
};

std::vector<RegressionCase> load_cases() {
  std::vector<RegressionCase> out;
  auto dir = testing::shared_dir();
  if (dir.empty()) return out;
  json index = json::parse(testing::read_file(dir / "corpus" / "sigma-regression" / "cases.json"));
  for (const auto& c : index["cases"]) {
    if (c["tests"].empty()) continue;  // the case's test is commented out upstream
    for (const auto& t : c["tests"]) {
      RegressionCase rc;
      rc.name = c["case_dir"];
      rc.rule_id = c["rules"][0]["id"];
      rc.rule_path = c["rules"][0]["rule_path"];
      std::string path = t["path"];
      const std::string prefix = "regression_data/";
      if (path.rfind(prefix, 0) == 0) path = path.substr(prefix.size());
      rc.evidence = path.substr(0, path.rfind('.'));
      if (t.contains("match_count") && t["match_count"].is_number()) rc.match_count = t["match_count"];
      out.push_back(rc);
    }
  }
  return out;
}

const std::vector<RegressionCase>& cases() {
  static const std::vector<RegressionCase> all = load_cases();
  return all;
}

int count_detections(const std::string& output, const std::string& rule_id) {
  int n = 0;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (json::parse(line)["rule_id"] == rule_id) ++n;
  }
  return n;
}

class Regression : public ::testing::TestWithParam<std::tuple<std::size_t, std::string>> {};

TEST_P(Regression, RuleFiresOnEvidence) {
  SIGSCOPE_REQUIRE_SHARED();
  const auto& [index, extension] = GetParam();
  const RegressionCase& c = cases().at(index);
  auto root = testing::shared_dir() / "corpus";
  auto rule = root / "sigma" / c.rule_path;
  auto evidence = root / "sigma-regression" / (c.evidence + extension);
  ASSERT_TRUE(std::filesystem::exists(evidence)) << evidence;
  auto result = testing::run_cli({"hunt", "-r", rule.string(), "-f", "jsonl", "-q", evidence.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err.find("not run"), std::string::npos) << result.err;
  int fired = count_detections(result.out, c.rule_id);
  EXPECT_GE(fired, c.match_count) << "rule " << c.rule_id << " (" << c.rule_path << ") on " << evidence;
}

std::string case_name(const ::testing::TestParamInfo<Regression::ParamType>& info) {
  const auto& [index, extension] = info.param;
  std::string name = cases().at(index).name;
  name = name.substr(name.rfind('/') + 1);
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name + "_" + std::to_string(index) + "_" + extension.substr(1);
}

std::vector<std::size_t> case_indices() {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < cases().size(); ++i) out.push_back(i);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Evtx, Regression, ::testing::Combine(::testing::ValuesIn(case_indices()), ::testing::Values(".evtx")),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Json, Regression, ::testing::Combine(::testing::ValuesIn(case_indices()), ::testing::Values(".json")),
                         case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Regression);

TEST(RegressionSuite, CasesPresent) {
  SIGSCOPE_REQUIRE_SHARED();
  EXPECT_GE(cases().size(), 150u);
}

}  // namespace
}  // namespace sigscope
