// The load-error cases of the shared conformance suite: the named rule is
// rejected with a message that identifies it, and the other rules still load.
#include <gtest/gtest.h>

#include "sigscope/common/text.h"
#include "sigscope/rules/yaml.h"
#include "test_support.h"

namespace sigscope {
namespace {

TEST(ConformanceLoad, ExpectedLoadErrors) {
  SIGSCOPE_REQUIRE_SHARED();
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::shared_dir() / "conformance")) {
    if (entry.path().extension() != ".yml") continue;
    DiagnosticList case_diagnostics;
    auto docs = parse_yaml_stream(testing::read_file(entry.path()), entry.path().string(), case_diagnostics);
    ASSERT_EQ(docs.size(), 1u) << entry.path();
    const YamlNode& root = docs[0].root;
    const YamlNode* expect = root.find("expect_load_error");
    if (!expect) continue;
    ++cases;
    SCOPED_TRACE(entry.path().filename().string());
    std::string rule_id = expect->find("rule")->text;
    std::string mentions = expect->find("mentions")->text;

    DiagnosticList diagnostics;
    auto rules = testing::compile_text(root.find("rules")->text, diagnostics, entry.path().string());
    bool rejected_with_reason = false;
    for (const auto& d : diagnostics.items())
      if (d.severity == Severity::Error && d.rule_id == rule_id &&
          fold_case(d.message).find(fold_case(mentions)) != std::string::npos)
        rejected_with_reason = true;
    EXPECT_TRUE(rejected_with_reason) << "rule " << rule_id << " not rejected with a message about " << mentions;
    for (const auto& r : rules) EXPECT_NE(r.rule.id, rule_id);
    // Every other rule of the case loads.
    std::size_t expected_rules = 0;
    for (const auto& doc : parse_yaml_stream(root.find("rules")->text, "rules", case_diagnostics))
      if (doc.root.find("id") && doc.root.find("id")->text != rule_id) ++expected_rules;
    EXPECT_EQ(rules.size(), expected_rules);
  }
  EXPECT_GE(cases, 2);
}

}  // namespace
}  // namespace sigscope
