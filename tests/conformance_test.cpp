// The shared Sigma conformance cases, each as one test, through the library
// path `sigscope hunt` uses: rules loaded, compiled and put in an Engine,
// events read by the JSON reader, rule ids compared with the expected sets,
// and the detections that feed correlations evaluated as the hunt does.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/match/engine.h"
#include "sigscope/rules/loader.h"
#include "sigscope/rules/yaml.h"
#include "test_support.h"

namespace sigscope {
namespace {

std::vector<std::string> case_files() {
  std::vector<std::string> files;
  auto dir = testing::shared_dir();
  if (dir.empty()) return files;
  for (const auto& e : std::filesystem::directory_iterator(dir / "conformance"))
    if (e.path().extension() == ".yml") files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  return files;
}

// Renders a YAML node (an event written in flow style) back to JSON text.
std::string to_json(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::Null: return "null";
    case YamlNode::Kind::Scalar: {
      if (node.style == YamlNode::Style::Plain) {
        if (node.is_null()) return "null";
        if (node.text == "true" || node.text == "false" || node.is_number()) return node.text;
      }
      std::string out;
      append_json_string(out, node.text);
      return out;
    }
    case YamlNode::Kind::Sequence: {
      std::string out = "[";
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        if (i) out += ',';
        out += to_json(node.items[i]);
      }
      return out + "]";
    }
    case YamlNode::Kind::Mapping: {
      std::string out = "{";
      for (std::size_t i = 0; i < node.entries.size(); ++i) {
        if (i) out += ",";
        append_json_string(out, node.entries[i].key);
        out += ':';
        out += to_json(node.entries[i].value);
      }
      return out + "}";
    }
  }
  return "null";
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, Case) {
  SIGSCOPE_REQUIRE_SHARED();
  auto path = testing::shared_dir() / "conformance" / GetParam();
  DiagnosticList case_diagnostics;
  auto docs = parse_yaml_stream(testing::read_file(path), path.string(), case_diagnostics);
  ASSERT_EQ(docs.size(), 1u);
  const YamlNode& root = docs[0].root;
  bool convention = root.find("convention") && root.find("convention")->as_bool();

  DiagnosticList diagnostics;
  auto rules = load_rules_from_text(root.find("rules")->text, path.string(), diagnostics);
  auto compiled = compile_rules(std::move(rules), diagnostics, 1);
  Engine engine(std::move(compiled.rules), EngineOptions{}, diagnostics);
  for (const auto& u : engine.unsupported()) ADD_FAILURE() << "rule not run: " << u.id << ": " << u.reason;
  auto matcher = engine.matcher();

  const YamlNode* events = root.find("events");
  const YamlNode* expect = root.find("expect");
  const YamlNode* expect_correlations = root.find("expect_correlations");
  ASSERT_NE(events, nullptr);
  ASSERT_TRUE(expect || expect_correlations);
  JsonEventReader reader;
  std::vector<std::set<std::string>> fired(events->items.size());
  CorrelationHits hits;
  CorrelationStats correlation_stats;
  for (std::size_t i = 0; i < events->items.size(); ++i) {
    std::string error;
    std::vector<Detection> detections;
    bool ok = reader.read_object(to_json(events->items[i]), i + 1, [&](const RawEvent& event) {
      matcher->match(event, detections);
      std::vector<CorrelationHit> found;
      matcher->correlation_hits(event, detections, 0, found, correlation_stats);
      for (const auto& hit : found) hits.add(hit);
      for (const auto& d : detections) fired[i].insert(engine.rules()[d.rule]->rule.id);
    }, error);
    ASSERT_TRUE(ok) << "event " << i << ": " << error;
  }
  if (expect_correlations) {
    // Each correlation fires exactly the expected number of times over the
    // whole sequence of events.
    std::map<std::string, int> fires;
    for (const auto& fire : evaluate_correlations(engine.correlations(), hits, correlation_stats))
      ++fires[engine.correlations().plans[fire.correlation].rule->rule.id];
    for (const auto& e : expect_correlations->items) {
      const std::string id = e.find("rule")->text;
      EXPECT_EQ(fires[id], std::stoi(e.find("fires")->text))
          << "correlation " << id << (e.find("note") ? ": " + e.find("note")->text : std::string())
          << (convention ? " (this case fixes a convention)" : "");
    }
  }
  if (!expect) return;
  for (const auto& e : expect->items) {
    std::size_t index = std::stoul(e.find("event")->text);
    std::set<std::string> expected;
    for (const auto& id : e.find("matches")->items) expected.insert(id.text);
    EXPECT_EQ(fired.at(index), expected) << "event " << index << ": " << to_json(events->items[index])
                                       << (convention ? " (this case fixes a convention)" : "");
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, Conformance, ::testing::ValuesIn(case_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.find('.'));
                           for (auto& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return "case_" + name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conformance);

TEST(ConformanceSuite, SharedCasesPresent) {
  SIGSCOPE_REQUIRE_SHARED();
  EXPECT_GE(case_files().size(), 15u);
}

}  // namespace
}  // namespace sigscope
