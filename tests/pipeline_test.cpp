// Processing pipelines: loading and its diagnostics, every transformation's
// effect on the compiled form, conditions, priority order, and the shipped
// pipelines over the SigmaHQ corpus.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <set>

#include "sigscope/compile/compiler.h"
#include "sigscope/pipeline/pipeline.h"
#include "sigscope/rules/loader.h"
#include "test_support.h"

namespace sigscope {
namespace {

using testing::compile_one;
using testing::TempDir;

std::string all_messages(const DiagnosticList& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics.items()) out += d.format() + "\n";
  return out;
}

// Parses a pipeline that must load without any diagnostic.
Pipeline load(const std::string& yaml) {
  DiagnosticList diagnostics;
  auto pipeline = parse_pipeline(yaml, "test-pipeline.yml", diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << all_messages(diagnostics);
  if (!pipeline) {
    ADD_FAILURE() << "pipeline did not load";
    return {};
  }
  return *pipeline;
}

std::string rule_yaml(const std::string& logsource, const std::string& detection,
                      const std::string& extra = "") {
  return "title: Test rule\n"
         "id: 11111111-2222-4333-8444-555555555555\n"
         "status: test\n"
         "logsource:\n" +
         logsource + "detection:\n" + detection + extra + "level: medium\n";
}

const std::string kProcessCreation = "  product: windows\n  category: process_creation\n";
const std::string kNetworkConnection = "  product: windows\n  category: network_connection\n";

// Checks the invariants of the compiled form: every predicate is referenced by
// exactly one leaf and every stage index of the condition is valid.
void expect_consistent(const CompiledRule& rule) {
  for (const auto& stage : rule.stages) {
    std::vector<int> uses(stage.predicates.size(), 0);
    std::function<void(const StageNode&)> walk = [&](const StageNode& node) {
      if (node.op == StageNode::Op::Predicate) {
        ASSERT_GE(node.predicate, 0) << stage.name;
        ASSERT_LT(static_cast<std::size_t>(node.predicate), stage.predicates.size()) << stage.name;
        ++uses[static_cast<std::size_t>(node.predicate)];
        return;
      }
      EXPECT_FALSE(node.children.empty()) << stage.name;
      for (const auto& child : node.children) walk(child);
    };
    walk(stage.root);
    for (std::size_t i = 0; i < uses.size(); ++i)
      EXPECT_EQ(uses[i], 1) << "predicate " << i << " of stage " << stage.name;
  }
  std::function<void(const ConditionExpr&)> walk_condition = [&](const ConditionExpr& e) {
    if (e.op == ConditionExpr::Op::Stage) {
      ASSERT_GE(e.stage, 0);
      ASSERT_LT(static_cast<std::size_t>(e.stage), rule.stages.size());
      return;
    }
    for (const auto& child : e.children) walk_condition(child);
  };
  if (rule.rule.kind != RuleKind::Correlation) walk_condition(rule.condition);
}

struct Applied {
  std::vector<CompiledRule> rules;
  std::vector<Diagnostic> diagnostics;
  PipelineApplyResult result;

  std::size_t error_count() const {
    return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                                  [](const Diagnostic& d) { return d.severity == Severity::Error; }));
  }
};

std::string all_messages(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

Applied apply(const std::vector<Pipeline>& pipelines, const std::vector<std::string>& rule_texts) {
  Applied out;
  for (const auto& text : rule_texts) out.rules.push_back(compile_one(text));
  DiagnosticList diagnostics;
  out.result = apply_pipelines(pipelines, out.rules, diagnostics);
  out.diagnostics = diagnostics.items();
  for (const auto& rule : out.rules) expect_consistent(rule);
  return out;
}

// Applies one pipeline to one rule that must come through without diagnostics.
CompiledRule apply_clean(const std::string& pipeline_yaml, const std::string& rule_text) {
  Applied applied = apply({load(pipeline_yaml)}, {rule_text});
  EXPECT_TRUE(applied.diagnostics.empty()) << all_messages(applied.diagnostics);
  if (applied.rules.size() != 1) {
    ADD_FAILURE() << "the rule was removed";
    return {};
  }
  return std::move(applied.rules.front());
}

std::vector<std::string> fields_of(const Stage& stage) {
  std::vector<std::string> out;
  for (const auto& p : stage.predicates) out.push_back(p.field);
  return out;
}

std::vector<std::string> sigma_texts(const CompiledValue& value) {
  std::vector<std::string> out;
  for (const auto& alternative : value.alternatives) out.push_back(alternative.to_sigma());
  return out;
}

// ---------------------------------------------------------------- loading

TEST(PipelineLoad, ValidFileReadsEveryPart) {
  Pipeline p = load(R"(
name: test
priority: 30
vars:
  admins: [alice, bob]
  host: dc1
transformations:
  - id: map_image
    type: field_name_mapping
    mapping:
      Image: process.executable
      CommandLine: [a.cmd, b.cmd]
    rule_conditions:
      - type: logsource
        product: windows
        category: process_creation
      - type: logsource
        service: sysmon
    rule_cond_op: or
    rule_cond_not: true
    field_name_conditions:
      - type: include_fields
        fields: ['Im.*']
        mode: re
  - type: add_condition
    conditions:
      Channel|contains: '%host%'
    negated: true
)");
  EXPECT_EQ(p.name, "test");
  EXPECT_EQ(p.priority, 30);
  EXPECT_EQ(p.vars["admins"], (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(p.vars["host"], std::vector<std::string>{"dc1"});
  ASSERT_EQ(p.transformations.size(), 2u);

  const Transformation& map = p.transformations[0];
  EXPECT_EQ(map.type, TransformationType::FieldNameMapping);
  EXPECT_EQ(map.label, "map_image");
  ASSERT_EQ(map.mapping.size(), 2u);
  EXPECT_EQ(map.mapping[1].to, (std::vector<std::string>{"a.cmd", "b.cmd"}));
  EXPECT_EQ(map.rule_conditions.conditions.size(), 2u);
  EXPECT_TRUE(map.rule_conditions.any);
  EXPECT_TRUE(map.rule_conditions.negated);
  EXPECT_EQ(map.rule_conditions.conditions[0].category, std::optional<std::string>("process_creation"));
  EXPECT_FALSE(map.rule_conditions.conditions[1].category.has_value());
  ASSERT_EQ(map.field_name_conditions.conditions.size(), 1u);
  EXPECT_EQ(map.field_name_conditions.conditions[0].field_patterns.size(), 1u);
  EXPECT_EQ(map.line, 8);

  const Transformation& add = p.transformations[1];
  EXPECT_EQ(add.type, TransformationType::AddCondition);
  EXPECT_EQ(add.label, "#2");
  EXPECT_EQ(add.selection_name, "_pipeline_2");
  EXPECT_TRUE(add.negated);
  ASSERT_TRUE(add.compiled_conditions.has_value());
  EXPECT_TRUE(add.compiled_conditions->predicates[0].values[0].alternatives[0].has_placeholders());
}

TEST(PipelineLoad, NameDefaultsToFileStem) {
  DiagnosticList diagnostics;
  auto p = parse_pipeline("transformations: []\n", "/tmp/my-pipe.yml", diagnostics);
  ASSERT_TRUE(p.has_value()) << all_messages(diagnostics);
  EXPECT_EQ(p->name, "my-pipe");
  EXPECT_EQ(p->priority, 0);
}

struct BadPipeline {
  const char* description;
  const char* yaml;
  const char* message;  // part of the expected error message
  int line;             // line of the error
};

const BadPipeline kBadPipelines[] = {
    {"not a mapping", "- a\n- b\n", "must be a YAML mapping", 1},
    {"unknown key", "name: x\nfoo: 1\n", "unknown key 'foo' in a pipeline", 2},
    {"priority text", "priority: high\n", "priority must be an integer", 1},
    {"vars list", "vars: [a]\n", "vars must be a mapping", 1},
    {"var mapping", "vars:\n  a: {b: c}\n", "var 'a' must be a string, a number or a list", 2},
    {"var empty list", "vars:\n  a: []\n", "var 'a' is an empty list", 2},
    {"transformations mapping", "transformations:\n  a: b\n", "transformations must be a list", 2},
    {"item not mapping", "transformations:\n  - field_name_mapping\n", "must be a mapping", 2},
    {"no type", "transformations:\n  - id: x\n    mapping: {a: b}\n", "transformation x has no type", 2},
    {"unknown type", "transformations:\n  - type: frobnicate\n",
     "unknown transformation type 'frobnicate'", 2},
    {"backend only", "transformations:\n  - type: query_expression_placeholders\n    expression: x\n",
     "does not apply to a matching engine", 2},
    {"not implemented", "transformations:\n  - type: nest\n", "is not supported by sigscope", 2},
    {"unknown parameter", "transformations:\n  - type: field_name_mapping\n    mappings: {a: b}\n",
     "unknown key 'mappings' in a field_name_mapping transformation", 3},
    {"missing parameter", "transformations:\n  - type: field_name_mapping\n", "needs 'mapping'", 2},
    {"empty target list", "transformations:\n  - type: field_name_mapping\n    mapping:\n      a: []\n",
     "'a' is mapped to an empty list", 4},
    {"bad cond op",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      - {type: logsource, product: windows}\n    rule_cond_op: xor\n",
     "rule_cond_op must be 'and' or 'or'", 6},
    {"cond not bool",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      - {type: logsource, product: windows}\n    rule_cond_not: maybe\n",
     "rule_cond_not must be true or false", 6},
    {"unknown condition type",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      - type: colour\n",
     "unknown rule condition type 'colour'", 5},
    {"condition in wrong scope",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      - type: include_fields\n        fields: [a]\n",
     "belongs under field_name_conditions, not rule_conditions", 5},
    {"condition without type",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      - product: windows\n",
     "rule condition #1 has no type", 5},
    {"unknown condition parameter",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      - {type: logsource, produkt: windows}\n",
     "unknown key 'produkt' in a logsource condition", 5},
    {"invalid field regex",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    field_name_conditions:\n"
     "      - type: include_fields\n        mode: re\n        fields: ['a(']\n",
     "invalid regular expression 'a('", 7},
    {"invalid field mode",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    field_name_conditions:\n"
     "      - type: include_fields\n        mode: glob\n        fields: [a]\n",
     "field matching mode 'glob' is invalid", 6},
    {"match_string without cond",
     "transformations:\n  - type: drop_detection_item\n    detection_item_conditions:\n"
     "      - type: match_string\n        pattern: abc\n",
     "match_string needs 'cond'", 4},
    {"look-around in replace_string",
     "transformations:\n  - type: replace_string\n    regex: 'a(?=b)'\n    replacement: c\n",
     "invalid regular expression 'a(?=b)'", 3},
    {"bad replacement group",
     "transformations:\n  - type: replace_string\n    regex: 'a(b)'\n    replacement: '\\2'\n",
     "invalid replacement", 4},
    {"unknown replacement escape",
     "transformations:\n  - type: replace_string\n    regex: 'a'\n    replacement: '\\q'\n",
     "unknown escape \\q", 4},
    {"add_condition bad modifier",
     "transformations:\n  - type: add_condition\n    conditions:\n      Channel|sometimes: x\n",
     "unknown modifier 'sometimes'", 4},
    {"add_condition scalar", "transformations:\n  - type: add_condition\n    conditions: x\n",
     "needs 'conditions' as a mapping", 3},
    {"include and exclude",
     "transformations:\n  - type: value_placeholders\n    include: [a]\n    exclude: [b]\n",
     "include or exclude, not both", 2},
    {"empty change_logsource", "transformations:\n  - type: change_logsource\n",
     "needs at least one of category, product and service", 2},
    {"expression with unknown name",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      win: {type: logsource, product: windows}\n    rule_cond_expr: win and lin\n",
     "uses 'lin', which is not a condition name", 6},
    {"expression leaves a condition out",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      win: {type: logsource, product: windows}\n      lin: {type: logsource, product: linux}\n"
     "    rule_cond_expr: not win\n",
     "never uses condition 'lin'", 7},
    {"expression over a list",
     "transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions:\n"
     "      - {type: logsource, product: windows}\n    rule_cond_expr: a\n",
     "needs rule_conditions as a mapping", 6},
    {"duplicate key", "name: a\nname: b\n", "key 'name' is given twice", 2},
    {"two documents", "name: a\n---\nname: b\n", "one YAML document, found 2", 3},
    {"empty file", "# nothing\n", "the pipeline file is empty", 1},
};

TEST(PipelineLoad, EachBadInputIsReported) {
  for (const auto& bad : kBadPipelines) {
    SCOPED_TRACE(bad.description);
    DiagnosticList diagnostics;
    auto pipeline = parse_pipeline(bad.yaml, "bad.yml", diagnostics);
    EXPECT_FALSE(pipeline.has_value());
    const Diagnostic* found = nullptr;
    for (const auto& d : diagnostics.items())
      if (d.severity == Severity::Error && d.message.find(bad.message) != std::string::npos) found = &d;
    ASSERT_NE(found, nullptr) << "expected '" << bad.message << "' in:\n" << all_messages(diagnostics);
    EXPECT_EQ(found->file, "bad.yml");
    EXPECT_EQ(found->line, bad.line) << found->format();
    EXPECT_FALSE(found->hint.empty()) << found->format();
  }
}

TEST(PipelineLoad, YamlSyntaxErrorIsReported) {
  DiagnosticList diagnostics;
  auto pipeline = parse_pipeline("name: [unclosed\n", "bad.yml", diagnostics);
  EXPECT_FALSE(pipeline.has_value());
  EXPECT_GE(diagnostics.error_count(), 1u);
}

TEST(PipelineLoad, SkipUnsupportedWarnsInstead) {
  const std::string yaml =
      "transformations:\n  - type: query_expression_placeholders\n    expression: x\n"
      "  - type: field_name_prefix\n    prefix: x.\n";
  DiagnosticList diagnostics;
  PipelineLoadOptions options;
  options.skip_unsupported = true;
  auto pipeline = parse_pipeline(yaml, "p.yml", diagnostics, options);
  ASSERT_TRUE(pipeline.has_value()) << all_messages(diagnostics);
  EXPECT_EQ(pipeline->transformations.size(), 1u);
  EXPECT_EQ(diagnostics.error_count(), 0u);
  ASSERT_EQ(diagnostics.warning_count(), 1u);
  EXPECT_NE(diagnostics.items()[0].message.find("it is skipped"), std::string::npos);
}

TEST(PipelineLoad, PostprocessingIsIgnoredWithWarning) {
  DiagnosticList diagnostics;
  auto pipeline = parse_pipeline("postprocessing:\n  - type: embed\n", "p.yml", diagnostics);
  ASSERT_TRUE(pipeline.has_value());
  ASSERT_EQ(diagnostics.warning_count(), 1u);
  EXPECT_NE(diagnostics.items()[0].message.find("does not apply to a matching engine"), std::string::npos);
}

TEST(PipelineLoad, FileNotFoundIsReported) {
  DiagnosticList diagnostics;
  auto pipelines = load_pipelines({"/nonexistent/pipeline.yml"}, diagnostics);
  EXPECT_FALSE(pipelines.has_value());
  ASSERT_EQ(diagnostics.error_count(), 1u);
  EXPECT_NE(diagnostics.items()[0].message.find("pipeline not found"), std::string::npos);
  EXPECT_NE(diagnostics.items()[0].hint.find("ecs-windows"), std::string::npos);
}

// ---------------------------------------------------------------- field names

TEST(PipelineFields, MappingRenamesField) {
  CompiledRule r = apply_clean(
      "transformations:\n  - id: m\n    type: field_name_mapping\n"
      "    mapping: {Image: process.executable}\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image|endswith: '\\cmd.exe'\n    User: x\n  condition: sel\n",
                "fields:\n  - Image\n  - User\n"));
  EXPECT_EQ(fields_of(r.stages[0]), (std::vector<std::string>{"process.executable", "User"}));
  EXPECT_EQ(r.stages[0].predicates[0].op, MatchOp::EndsWith);
  EXPECT_EQ(r.stages[0].predicates[0].pipeline_items, std::vector<std::string>{"m"});
  EXPECT_TRUE(r.stages[0].predicates[1].pipeline_items.empty());
  EXPECT_EQ(r.rule.fields, (std::vector<std::string>{"process.executable", "User"}));
  ASSERT_EQ(r.pipeline.field_mappings.size(), 1u);
  EXPECT_EQ(r.pipeline.field_mappings[0].from, "Image");
}

TEST(PipelineFields, ListMappingBecomesOr) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: field_name_mapping\n"
      "    mapping:\n      CommandLine: [process.command_line, winlog.event_data.CommandLine]\n",
      rule_yaml(kProcessCreation,
                "  sel:\n    Image: a\n    CommandLine|contains: b\n    User: c\n  condition: sel\n"));
  const Stage& s = r.stages[0];
  ASSERT_EQ(s.root.op, StageNode::Op::And);
  ASSERT_EQ(s.root.children.size(), 3u);
  const StageNode& any = s.root.children[1];
  ASSERT_EQ(any.op, StageNode::Op::Or);
  ASSERT_EQ(any.children.size(), 2u);
  const Predicate& first = s.predicates[static_cast<std::size_t>(any.children[0].predicate)];
  const Predicate& second = s.predicates[static_cast<std::size_t>(any.children[1].predicate)];
  EXPECT_EQ(first.field, "process.command_line");
  EXPECT_EQ(second.field, "winlog.event_data.CommandLine");
  EXPECT_EQ(first.op, MatchOp::Contains);
  EXPECT_EQ(second.values[0].alternatives[0].to_sigma(), "b");
  EXPECT_EQ(s.predicates.size(), 4u);
}

TEST(PipelineFields, PrefixMappingPrefixAndSuffix) {
  CompiledRule r = apply_clean(
      "transformations:\n"
      "  - type: field_name_prefix_mapping\n    mapping: {Parent: process.parent., Target: [a., b.]}\n"
      "  - type: field_name_suffix\n    suffix: .keyword\n"
      "    field_name_conditions: [{type: include_fields, fields: [User]}]\n"
      "  - type: field_name_prefix\n    prefix: 'x.'\n"
      "    field_name_conditions: [{type: exclude_fields, mode: re, fields: ['\\w+\\.']}]\n",
      rule_yaml(kProcessCreation,
                "  sel:\n    ParentImage: a\n    TargetImage: b\n    User: c\n    Hashes: d\n  condition: sel\n"));
  std::vector<std::string> fields = fields_of(r.stages[0]);
  EXPECT_EQ(fields, (std::vector<std::string>{"process.parent.Image", "a.Image", "b.Image",
                                              "User.keyword", "x.Hashes"}));
}

TEST(PipelineFields, FieldRefValuesAreMapped) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: field_name_mapping\n    mapping: {ParentUser: user.parent, User: user.name}\n",
      rule_yaml(kProcessCreation, "  sel:\n    User|fieldref: ParentUser\n  condition: sel\n"));
  const Predicate& p = r.stages[0].predicates[0];
  EXPECT_EQ(p.field, "user.name");
  ASSERT_EQ(p.values.size(), 1u);
  EXPECT_EQ(p.values[0].field_ref, "user.parent");
}

TEST(PipelineFields, CorrelationFieldsAreMapped) {
  const std::string correlation =
      "title: Many failed logons\nid: 22222222-0000-4000-8000-000000000001\n"
      "correlation:\n  type: value_count\n  rules:\n    - failed_logon\n"
      "  group-by:\n    - TargetUserName\n  timespan: 15m\n"
      "  condition:\n    gte: 10\n    field: IpAddress\n";
  CompiledRule r = apply_clean(
      "transformations:\n  - type: field_name_mapping\n"
      "    mapping: {TargetUserName: user.name, IpAddress: source.ip}\n",
      correlation);
  EXPECT_EQ(r.rule.correlation.group_by, std::vector<std::string>{"user.name"});
  EXPECT_EQ(r.rule.correlation.condition.field, "source.ip");

  Applied applied = apply({load("transformations:\n  - type: field_name_mapping\n"
                                "    mapping: {TargetUserName: [a.name, b.name]}\n")},
                          {correlation});
  EXPECT_TRUE(applied.rules.empty());
  EXPECT_NE(all_messages(applied.diagnostics).find("cannot group or aggregate by"), std::string::npos);
}

TEST(PipelineFields, KeywordsKeepNoField) {
  CompiledRule r = apply_clean("transformations:\n  - type: field_name_prefix\n    prefix: x.\n",
                               rule_yaml(kProcessCreation, "  keywords:\n    - evil\n  condition: keywords\n"));
  EXPECT_TRUE(r.stages[0].predicates[0].is_keyword());
}

// ---------------------------------------------------------------- add_condition

TEST(PipelineAddCondition, AddsStageAndAndsCondition) {
  CompiledRule r = apply_clean(
      "name: routes\ntransformations:\n  - id: sysmon1\n    type: add_condition\n"
      "    conditions:\n      Channel: Microsoft-Windows-Sysmon/Operational\n      EventID: [1, 2]\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  filter:\n    User: b\n  condition: sel and not filter\n"));
  ASSERT_EQ(r.stages.size(), 3u);
  const Stage& added = r.stages[2];
  EXPECT_EQ(added.name, "_pipeline_sysmon1");
  EXPECT_EQ(fields_of(added), (std::vector<std::string>{"Channel", "EventID"}));
  EXPECT_EQ(added.predicates[1].values.size(), 2u);
  EXPECT_EQ(added.predicates[0].line, 0);

  ASSERT_EQ(r.condition.op, ConditionExpr::Op::And);
  ASSERT_EQ(r.condition.children.size(), 2u);
  EXPECT_EQ(r.condition.children[0].op, ConditionExpr::Op::Stage);
  EXPECT_EQ(r.condition.children[0].stage, 2);
  EXPECT_EQ(to_string(r.condition_ast), "_pipeline_sysmon1 and sel and not filter");
  EXPECT_EQ(r.condition_texts, std::vector<std::string>{"sel and not filter"});

  ASSERT_EQ(r.pipeline.added_stages.size(), 1u);
  EXPECT_EQ(r.pipeline.added_stages[0].stage, 2);
  EXPECT_EQ(r.pipeline.added_stages[0].pipeline, "routes");
  EXPECT_EQ(r.pipeline.added_stages[0].item, "sysmon1");
  EXPECT_EQ(r.pipeline.added_stages[0].line, 3);
}

TEST(PipelineAddCondition, NegatedAndUniqueNames) {
  CompiledRule r = apply_clean(
      "transformations:\n"
      "  - {type: add_condition, conditions: {User: a}, negated: true}\n"
      "  - {type: add_condition, conditions: {User: b}, name: _pipeline_1}\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"));
  ASSERT_EQ(r.stages.size(), 3u);
  EXPECT_EQ(r.stages[1].name, "_pipeline_1");
  EXPECT_EQ(r.stages[2].name, "_pipeline_1_2");
  EXPECT_EQ(to_string(r.condition_ast), "_pipeline_1_2 and not _pipeline_1 and sel");
  EXPECT_TRUE(r.pipeline.added_stages[0].negated);
  EXPECT_FALSE(r.pipeline.added_stages[1].negated);
}

TEST(PipelineAddCondition, PlaceholdersComeFromVars) {
  CompiledRule r = apply_clean(
      "vars:\n  channels: [Security, System]\n"
      "transformations:\n  - type: add_condition\n    conditions:\n      Channel: '%channels%'\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"));
  const Predicate& p = r.stages[1].predicates[0];
  EXPECT_EQ(sigma_texts(p.values[0]), (std::vector<std::string>{"Security", "System"}));
  EXPECT_FALSE(p.expand);
}

TEST(PipelineAddCondition, TemplateUsesLogsource) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: add_condition\n    template: true\n"
      "    conditions:\n      source: '$product/${category}'\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"));
  EXPECT_EQ(sigma_texts(r.stages[1].predicates[0].values[0]),
            std::vector<std::string>{"windows/process_creation"});
}

// ---------------------------------------------------------------- placeholders

const std::string kPlaceholderRule = rule_yaml(
    kProcessCreation,
    "  sel:\n    ComputerName|expand: '%hosts%'\n    User|expand: 'CORP\\%admins%'\n  condition: sel\n");

TEST(PipelinePlaceholders, ValuesExpandToAlternatives) {
  CompiledRule r = apply_clean(
      "vars:\n  hosts: [dc1, 'dc*']\n  admins: alice\n"
      "transformations:\n  - id: fill\n    type: value_placeholders\n",
      kPlaceholderRule);
  const Predicate& hosts = r.stages[0].predicates[0];
  EXPECT_EQ(sigma_texts(hosts.values[0]), (std::vector<std::string>{"dc1", "dc*"}));
  EXPECT_TRUE(hosts.values[0].alternatives[1].has_wildcards());
  EXPECT_FALSE(hosts.expand);
  EXPECT_EQ(hosts.pipeline_items, std::vector<std::string>{"fill"});
  EXPECT_EQ(sigma_texts(r.stages[0].predicates[1].values[0]), std::vector<std::string>{"CORP\\alice"});
  EXPECT_TRUE(unresolved_placeholders(r).empty());
}

TEST(PipelinePlaceholders, IncludeLimitsAndWildcardsFillTheRest) {
  CompiledRule r = apply_clean(
      "vars:\n  hosts: dc1\n  admins: alice\n"
      "transformations:\n"
      "  - type: value_placeholders\n    include: [hosts]\n"
      "  - type: wildcard_placeholders\n",
      kPlaceholderRule);
  EXPECT_EQ(sigma_texts(r.stages[0].predicates[0].values[0]), std::vector<std::string>{"dc1"});
  // Sigma escapes a backslash that precedes a wildcard.
  EXPECT_EQ(sigma_texts(r.stages[0].predicates[1].values[0]), std::vector<std::string>{"CORP\\\\*"});
}

TEST(PipelinePlaceholders, UnresolvedRuleIsRemovedAndReported) {
  Applied applied = apply({load("vars:\n  hosts: dc1\ntransformations:\n  - type: value_placeholders\n")},
                          {kPlaceholderRule});
  EXPECT_TRUE(applied.rules.empty());
  EXPECT_EQ(applied.result.failed, 1u);
  EXPECT_EQ(applied.result.unresolved, std::vector<std::string>{"11111111-2222-4333-8444-555555555555"});
  ASSERT_EQ(applied.error_count(), 1u);
  const Diagnostic& d = applied.diagnostics[0];
  EXPECT_EQ(d.rule_id, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(d.message, "placeholder %admins% has no value, so the rule cannot run");
  EXPECT_NE(d.hint.find("vars"), std::string::npos);
  EXPECT_EQ(d.line, 10);
}

TEST(PipelinePlaceholders, TooManyCombinationsRejected) {
  std::string hosts = "[";
  for (int i = 0; i < 300; ++i) hosts += (i ? ", h" : "h") + std::to_string(i);
  hosts += "]";
  Applied applied = apply({load("vars:\n  hosts: " + hosts + "\ntransformations:\n  - type: value_placeholders\n")},
                          {rule_yaml(kProcessCreation, "  sel:\n    Computer|expand: '%hosts%-%hosts%'\n  condition: sel\n")});
  EXPECT_TRUE(applied.rules.empty());
  EXPECT_EQ(applied.result.rejected.size(), 1u);
  EXPECT_NE(all_messages(applied.diagnostics).find("expand to more than 65536 alternatives"), std::string::npos);
}

TEST(PipelinePlaceholders, RuleWithoutPipelineKeepsThem) {
  CompiledRule r = compile_one(kPlaceholderRule);
  EXPECT_EQ(unresolved_placeholders(r), (std::vector<std::string>{"admins", "hosts"}));
}

// ---------------------------------------------------------------- values

TEST(PipelineValues, ReplaceStringUsesGroups) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: replace_string\n    regex: '^C:\\\\Windows\\\\(.*)$'\n"
      "    replacement: '%SystemRoot%\\\\\\1'\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\n  condition: sel\n"));
  EXPECT_EQ(r.stages[0].predicates[0].values[0].alternatives[0].literal_text(),
            "%SystemRoot%\\System32\\cmd.exe");
}

TEST(PipelineValues, ReplaceStringReadsWildcards) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: replace_string\n    regex: 'Program Files'\n    replacement: 'Program*'\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: 'C:\\Program Files\\x.exe'\n  condition: sel\n"));
  const Pattern& p = r.stages[0].predicates[0].values[0].alternatives[0];
  EXPECT_TRUE(p.has_wildcards());
  EXPECT_EQ(p.to_sigma(), "C:\\Program*\\x.exe");
}

TEST(PipelineValues, ReplaceStringSkipSpecialKeepsWildcards) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: replace_string\n    regex: 'a'\n    replacement: '*'\n    skip_special: true\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: 'ba*ab'\n  condition: sel\n"));
  const Pattern& p = r.stages[0].predicates[0].values[0].alternatives[0];
  // The replaced `*` characters are literal; only the original wildcard stays one.
  EXPECT_EQ(p.to_sigma(), "b\\**\\*b");
}

TEST(PipelineValues, MapStringReplacesWholeValues) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: map_string\n    mapping: {'true': egress, '2': [error, err]}\n",
      rule_yaml(kNetworkConnection, "  sel:\n    Initiated: 'true'\n    Level: 2\n    Other: 'truex'\n  condition: sel\n"));
  const Stage& s = r.stages[0];
  EXPECT_EQ(sigma_texts(s.predicates[0].values[0]), std::vector<std::string>{"egress"});
  EXPECT_EQ(sigma_texts(s.predicates[1].values[0]), (std::vector<std::string>{"error", "err"}));
  EXPECT_FALSE(s.predicates[1].values[0].numeric);
  EXPECT_EQ(sigma_texts(s.predicates[2].values[0]), std::vector<std::string>{"truex"});
}

TEST(PipelineValues, HashesSplitByAlgorithm) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: hashes_fields\n    valid_hash_algos: [MD5, SHA256, IMPHASH]\n"
      "    field_prefix: file.hash.\n",
      rule_yaml(kProcessCreation,
                "  sel:\n    Hashes|contains:\n      - 'IMPHASH=AAA'\n      - 'sha256=BBB'\n"
                "      - 'SHA1=CCC'\n      - '0123456789abcdef0123456789abcdef'\n  condition: sel\n"));
  const Stage& s = r.stages[0];
  ASSERT_EQ(s.root.op, StageNode::Op::Or);
  EXPECT_EQ(fields_of(s), (std::vector<std::string>{"file.hash.IMPHASH", "file.hash.SHA256", "file.hash.MD5"}));
  EXPECT_EQ(sigma_texts(s.predicates[0].values[0]), std::vector<std::string>{"AAA"});
  EXPECT_EQ(s.predicates[0].op, MatchOp::Contains);
}

// ---------------------------------------------------------------- other transformations

TEST(PipelineOther, DropDetectionItemRemovesPredicate) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: drop_detection_item\n"
      "    field_name_conditions: [{type: include_fields, fields: [EventID]}]\n",
      rule_yaml(kProcessCreation,
                "  sel:\n    - EventID: 1\n      Image: a\n    - EventID: 2\n      User: b\n  condition: sel\n"));
  EXPECT_EQ(fields_of(r.stages[0]), (std::vector<std::string>{"Image", "User"}));
  EXPECT_EQ(r.stages[0].root.op, StageNode::Op::Or);
}

TEST(PipelineOther, DropEverythingRejectsRule) {
  Applied applied = apply({load("transformations:\n  - type: drop_detection_item\n")},
                          {rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n")});
  EXPECT_TRUE(applied.rules.empty());
  EXPECT_EQ(applied.result.rejected.size(), 1u);
  EXPECT_NE(all_messages(applied.diagnostics).find("dropped every detection item of selection 'sel'"),
            std::string::npos);
}

TEST(PipelineOther, ChangeLogsourceKeepsOriginal) {
  CompiledRule r = apply_clean(
      "transformations:\n  - type: change_logsource\n    product: windows\n    service: sysmon\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"));
  EXPECT_EQ(r.rule.logsource.service, "sysmon");
  EXPECT_EQ(r.rule.logsource.category, "");
  ASSERT_TRUE(r.pipeline.original_logsource.has_value());
  EXPECT_EQ(r.pipeline.original_logsource->category, "process_creation");
}

TEST(PipelineOther, RuleFailureRejectsById) {
  Applied applied = apply(
      {load("name: strict\ntransformations:\n  - id: no_net\n    type: rule_failure\n"
            "    message: network rules need Zeek data\n"
            "    rule_conditions: [{type: logsource, category: network_connection}]\n")},
      {rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"),
       rule_yaml(kNetworkConnection, "  sel:\n    Image: a\n  condition: sel\n")});
  ASSERT_EQ(applied.rules.size(), 1u);
  EXPECT_EQ(applied.rules[0].rule.logsource.category, "process_creation");
  EXPECT_EQ(applied.result.rejected.size(), 1u);
  ASSERT_EQ(applied.error_count(), 1u);
  const Diagnostic& d = applied.diagnostics[0];
  EXPECT_EQ(d.rule_id, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(d.message, "rejected by pipeline 'strict' transformation no_net: network rules need Zeek data");
}

TEST(PipelineOther, DetectionItemFailureNamesItem) {
  Applied applied = apply(
      {load("transformations:\n  - type: detection_item_failure\n    message: User is not collected\n"
            "    field_name_conditions: [{type: include_fields, fields: [User]}]\n")},
      {rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"),
       rule_yaml(kProcessCreation, "  sel:\n    Image: a\n    User|contains: b\n  condition: sel\n")});
  EXPECT_EQ(applied.rules.size(), 1u);
  ASSERT_EQ(applied.error_count(), 1u);
  const Diagnostic& d = applied.diagnostics[0];
  EXPECT_NE(d.message.find("detection item 'User|contains'"), std::string::npos) << d.format();
  EXPECT_NE(d.message.find("User is not collected"), std::string::npos);
  EXPECT_EQ(d.line, 10);
}

TEST(PipelineOther, StateAndCustomAttributes) {
  CompiledRule r = apply_clean(
      "transformations:\n"
      "  - {type: set_state, key: index, val: winlogbeat-*}\n"
      "  - {type: set_custom_attribute, attribute: owner, value: soc}\n"
      "  - type: field_name_prefix\n    prefix: x.\n"
      "    rule_conditions: [{type: processing_state, key: index, val: winlogbeat-*}]\n"
      "  - type: field_name_prefix\n    prefix: y.\n"
      "    rule_conditions: [{type: processing_state, key: index, val: other, op: eq}]\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"));
  EXPECT_EQ(r.pipeline.state.at("index"), "winlogbeat-*");
  EXPECT_EQ(r.pipeline.custom_attributes.at("owner"), "soc");
  EXPECT_EQ(r.stages[0].predicates[0].field, "x.Image");
}

TEST(PipelineOther, FieldsListTransformations) {
  CompiledRule r = apply_clean(
      "transformations:\n"
      "  - {type: add_field, field: [a, b]}\n"
      "  - {type: remove_field, field: a}\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n", "fields:\n  - Image\n"));
  EXPECT_EQ(r.rule.fields, (std::vector<std::string>{"Image", "b"}));
}

// ---------------------------------------------------------------- conditions

TEST(PipelineConditions, LogsourceLimitsMapping) {
  Applied applied = apply(
      {load("transformations:\n  - type: field_name_mapping\n    mapping: {Image: process.executable}\n"
            "    rule_conditions: [{type: logsource, product: windows, category: process_creation}]\n")},
      {rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"),
       rule_yaml(kNetworkConnection, "  sel:\n    Image: a\n  condition: sel\n")});
  ASSERT_EQ(applied.rules.size(), 2u);
  EXPECT_EQ(applied.rules[0].stages[0].predicates[0].field, "process.executable");
  EXPECT_EQ(applied.rules[1].stages[0].predicates[0].field, "Image");
  EXPECT_TRUE(applied.rules[1].pipeline.applied_items.empty());
  EXPECT_EQ(applied.result.changed, 1u);
}

TEST(PipelineConditions, OpNotAndExpression) {
  const std::string rules[] = {
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n  condition: sel\n"),
      rule_yaml(kNetworkConnection, "  sel:\n    Image: a\n  condition: sel\n"),
      rule_yaml("  product: linux\n  category: process_creation\n", "  sel:\n    Image: a\n  condition: sel\n"),
  };
  auto prefixed = [&](const std::string& pipeline_yaml) {
    Applied applied = apply({load(pipeline_yaml)}, {rules[0], rules[1], rules[2]});
    std::vector<bool> out;
    for (const auto& r : applied.rules) out.push_back(r.stages[0].predicates[0].field == "x.Image");
    return out;
  };
  const std::string head = "transformations:\n  - type: field_name_prefix\n    prefix: x.\n";
  EXPECT_EQ(prefixed(head + "    rule_conditions:\n      - {type: logsource, product: windows}\n"
                            "      - {type: logsource, category: process_creation}\n"),
            (std::vector<bool>{true, false, false}));
  EXPECT_EQ(prefixed(head + "    rule_conditions:\n      - {type: logsource, product: windows}\n"
                            "      - {type: logsource, category: process_creation}\n"
                            "    rule_cond_op: or\n"),
            (std::vector<bool>{true, true, true}));
  EXPECT_EQ(prefixed(head + "    rule_conditions:\n      - {type: logsource, product: windows}\n"
                            "    rule_cond_not: true\n"),
            (std::vector<bool>{false, false, true}));
  EXPECT_EQ(prefixed(head + "    rule_conditions:\n      win: {type: logsource, product: windows}\n"
                            "      proc: {type: logsource, category: process_creation}\n"
                            "    rule_cond_expr: proc and not win\n"),
            (std::vector<bool>{false, false, true}));
}

TEST(PipelineConditions, ContainsDetectionItemTagAndApplied) {
  const std::string rule = rule_yaml(kNetworkConnection, "  sel:\n    Initiated: 'true'\n    Image: a\n  condition: sel\n",
                                     "tags:\n  - attack.T1059\n");
  CompiledRule r = apply_clean(
      "transformations:\n"
      "  - id: outbound\n    type: set_state\n    key: direction\n    val: out\n"
      "    rule_conditions: [{type: contains_detection_item, field: Initiated, value: 'true'}]\n"
      "  - type: field_name_prefix\n    prefix: x.\n"
      "    rule_conditions:\n      - {type: processing_item_applied, processing_item_id: outbound}\n"
      "      - {type: tag, tag: attack.t1059}\n      - {type: contains_field, field: Image}\n"
      "      - {type: is_sigma_rule}\n",
      rule);
  EXPECT_EQ(r.pipeline.state.at("direction"), "out");
  EXPECT_EQ(fields_of(r.stages[0]), (std::vector<std::string>{"x.Initiated", "x.Image"}));
}

TEST(PipelineConditions, DetectionItemConditions) {
  const std::string rule = rule_yaml(
      kProcessCreation,
      "  sel:\n    Image|endswith: '\\cmd.exe'\n    CommandLine: '*whoami*'\n    ParentImage: null\n"
      "    User: 'abc'\n  condition: sel\n");
  CompiledRule r = apply_clean(
      "transformations:\n"
      "  - type: field_name_prefix\n    prefix: re.\n"
      "    detection_item_conditions: [{type: match_string, cond: any, pattern: '\\\\'}]\n"
      "  - type: field_name_prefix\n    prefix: wild.\n"
      "    detection_item_conditions: [{type: contains_wildcard, cond: all}]\n"
      "  - type: field_name_prefix\n    prefix: null.\n"
      "    detection_item_conditions: [{type: is_null, cond: any}]\n"
      "  - type: field_name_prefix\n    prefix: value.\n"
      "    detection_item_conditions: [{type: match_value, cond: any, value: abc}]\n",
      rule);
  EXPECT_EQ(fields_of(r.stages[0]),
            (std::vector<std::string>{"re.Image", "wild.CommandLine", "null.ParentImage", "value.User"}));
}

TEST(PipelineConditions, FieldProcessedByItem) {
  CompiledRule r = apply_clean(
      "transformations:\n"
      "  - id: known\n    type: field_name_mapping\n    mapping: {Image: process.executable, Message: message}\n"
      "  - type: field_name_prefix\n    prefix: data.\n"
      "    field_name_conditions: [{type: processing_item_applied, processing_item_id: known}]\n"
      "    field_name_cond_not: true\n",
      rule_yaml(kProcessCreation, "  sel:\n    Image: a\n    Message: b\n    User: c\n  condition: sel\n"));
  EXPECT_EQ(fields_of(r.stages[0]), (std::vector<std::string>{"process.executable", "message", "data.User"}));
}

// ---------------------------------------------------------------- order and vars

TEST(PipelineOrder, PriorityDecidesOrder) {
  Pipeline late = load("name: late\npriority: 10\ntransformations:\n"
                       "  - {type: field_name_mapping, mapping: {A: B}}\n");
  Pipeline early = load("name: early\npriority: 5\ntransformations:\n"
                        "  - {type: field_name_mapping, mapping: {B: C}}\n");
  // Given late first, sorting still runs early (B to C, nothing yet) before late (A to B).
  Applied applied = apply({late, early}, {rule_yaml(kProcessCreation, "  sel:\n    A: x\n  condition: sel\n")});
  ASSERT_EQ(applied.rules.size(), 1u);
  EXPECT_EQ(applied.rules[0].stages[0].predicates[0].field, "B");
  EXPECT_EQ(applied.rules[0].pipeline.pipelines, (std::vector<std::string>{"early", "late"}));
}

TEST(PipelineOrder, LoadSortsByPriorityStably) {
  TempDir dir;
  auto a = dir.write("a.yml", "name: a\npriority: 20\n");
  auto b = dir.write("b.yml", "name: b\npriority: 10\n");
  auto c = dir.write("c.yml", "name: c\npriority: 20\n");
  DiagnosticList diagnostics;
  auto pipelines = load_pipelines({a.string(), c.string(), b.string(), "sysmon"}, diagnostics);
  ASSERT_TRUE(pipelines.has_value()) << all_messages(diagnostics);
  std::vector<std::string> names;
  for (const auto& p : *pipelines) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "sysmon", "a", "c"}));

  auto folder = load_pipelines({dir.path().string()}, diagnostics);
  ASSERT_TRUE(folder.has_value()) << all_messages(diagnostics);
  names.clear();
  for (const auto& p : *folder) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "a", "c"}));
}

TEST(PipelineOrder, LaterPipelineVarsWin) {
  Pipeline base = load("priority: 1\nvars:\n  hosts: base\n  admins: root\n");
  Pipeline local = load("priority: 2\nvars:\n  hosts: [local1, local2]\n"
                        "transformations:\n  - type: value_placeholders\n");
  Applied applied = apply({local, base}, {kPlaceholderRule});
  ASSERT_EQ(applied.rules.size(), 1u) << all_messages(applied.diagnostics);
  EXPECT_EQ(sigma_texts(applied.rules[0].stages[0].predicates[0].values[0]),
            (std::vector<std::string>{"local1", "local2"}));
}

// ---------------------------------------------------------------- shipped pipelines

TEST(PipelineShipped, FoundByNameAndAlias) {
  ASSERT_NE(find_shipped_pipeline("ecs-windows"), nullptr);
  EXPECT_EQ(find_shipped_pipeline("winlogbeat"), find_shipped_pipeline("ecs-windows"));
  EXPECT_EQ(find_shipped_pipeline("ecs_windows"), find_shipped_pipeline("ecs-windows"));
  ASSERT_NE(find_shipped_pipeline("winlogbeat-sysmon"), nullptr);
  ASSERT_NE(find_shipped_pipeline("sysmon"), nullptr);
  EXPECT_EQ(find_shipped_pipeline("splunk"), nullptr);
}

TEST(PipelineShipped, EachLoadsWithoutDiagnostics) {
  for (const auto& shipped : shipped_pipelines()) {
    SCOPED_TRACE(std::string(shipped.name));
    DiagnosticList diagnostics;
    auto pipeline = parse_pipeline(shipped.yaml, std::string(shipped.name), diagnostics);
    ASSERT_TRUE(pipeline.has_value()) << all_messages(diagnostics);
    EXPECT_TRUE(diagnostics.empty()) << all_messages(diagnostics);
    EXPECT_EQ(pipeline->name, shipped.name);
    EXPECT_FALSE(pipeline->transformations.empty());
  }
}

TEST(PipelineChannelFields, FollowsChannelMappings) {
  DiagnosticList diagnostics;
  auto ecs = load_pipelines({"ecs-windows"}, diagnostics);
  ASSERT_TRUE(ecs.has_value()) << all_messages(diagnostics);
  EXPECT_EQ(pipeline_channel_fields(*ecs), std::vector<std::string>{"winlog.channel"});
  auto sysmon = load_pipelines({"sysmon"}, diagnostics);
  ASSERT_TRUE(sysmon.has_value()) << all_messages(diagnostics);
  EXPECT_TRUE(pipeline_channel_fields(*sysmon).empty());

  // A later pipeline that renames the field again, and a list of names.
  std::vector<Pipeline> chain = {
      load("transformations:\n  - type: field_name_mapping\n    mapping:\n      Channel: log.channel\n"),
      load("transformations:\n  - type: field_name_mapping\n    mapping:\n"
           "      log.channel: [winlog.channel, Channel]\n")};
  EXPECT_EQ(pipeline_channel_fields(chain), std::vector<std::string>{"winlog.channel"});
}

TEST(PipelineShipped, EcsWindowsMapsProcessCreation) {
  DiagnosticList diagnostics;
  auto pipelines = load_pipelines({"ecs-windows"}, diagnostics);
  ASSERT_TRUE(pipelines.has_value()) << all_messages(diagnostics);
  Applied applied = apply(*pipelines, {rule_yaml(kProcessCreation,
                                                 "  sel:\n    Image|endswith: '\\cmd.exe'\n    EventID: 1\n"
                                                 "    Data|contains: x\n  condition: sel\n")});
  ASSERT_EQ(applied.rules.size(), 1u) << all_messages(applied.diagnostics);
  const CompiledRule& r = applied.rules[0];
  std::vector<std::string> fields = fields_of(r.stages[0]);
  EXPECT_EQ(fields[0], "winlog.event_data.Image");
  EXPECT_EQ(fields[1], "winlog.event_id");
  EXPECT_EQ(fields[2], "winlog.event_data.param1");
  EXPECT_EQ(fields.size(), 12u);
  ASSERT_EQ(r.stages.size(), 2u);
  EXPECT_EQ(fields_of(r.stages[1]), (std::vector<std::string>{"winlog.channel", "winlog.event_id"}));
  EXPECT_EQ(sigma_texts(r.stages[1].predicates[0].values[0]),
            std::vector<std::string>{"Microsoft-Windows-Sysmon/Operational"});
  EXPECT_EQ(sigma_texts(r.stages[1].predicates[1].values[0]), std::vector<std::string>{"1"});
}

TEST(PipelineShipped, WinlogbeatSysmonUsesModuleNames) {
  DiagnosticList diagnostics;
  auto pipelines = load_pipelines({"winlogbeat-sysmon"}, diagnostics);
  ASSERT_TRUE(pipelines.has_value()) << all_messages(diagnostics);
  Applied applied = apply(
      *pipelines,
      {rule_yaml(kProcessCreation,
                 "  sel:\n    Image: a\n    CommandLine: b\n    IntegrityLevel: c\n"
                 "    Hashes|contains: 'IMPHASH=ABC'\n  condition: sel\n"),
       rule_yaml(kNetworkConnection, "  sel:\n    Initiated: 'true'\n    DestinationPort: 443\n  condition: sel\n"),
       rule_yaml(kProcessCreation, "  sel:\n    User|contains: AUTHORI\n  condition: sel\n")});
  ASSERT_EQ(applied.rules.size(), 2u);
  EXPECT_EQ(fields_of(applied.rules[0].stages[0]),
            (std::vector<std::string>{"process.executable", "process.command_line",
                                      "winlog.event_data.IntegrityLevel", "process.pe.imphash"}));
  const Stage& net = applied.rules[1].stages[0];
  EXPECT_EQ(fields_of(net), (std::vector<std::string>{"network.direction", "destination.port"}));
  EXPECT_EQ(sigma_texts(net.predicates[0].values[0]), std::vector<std::string>{"egress"});
  ASSERT_EQ(applied.result.rejected.size(), 1u);
  EXPECT_NE(all_messages(applied.diagnostics).find("splits User into user.domain and user.name"),
            std::string::npos);
}

TEST(PipelineShipped, SysmonAddsChannelAndEventId) {
  DiagnosticList diagnostics;
  auto pipelines = load_pipelines({"sysmon"}, diagnostics);
  ASSERT_TRUE(pipelines.has_value()) << all_messages(diagnostics);
  Applied applied = apply(*pipelines, {rule_yaml("  product: windows\n  category: registry_event\n",
                                                 "  sel:\n    TargetObject|contains: Run\n  condition: sel\n")});
  ASSERT_EQ(applied.rules.size(), 1u);
  const CompiledRule& r = applied.rules[0];
  EXPECT_EQ(r.stages[0].predicates[0].field, "TargetObject");
  ASSERT_EQ(r.stages.size(), 2u);
  EXPECT_EQ(fields_of(r.stages[1]), (std::vector<std::string>{"Channel", "EventID"}));
  EXPECT_EQ(sigma_texts(r.stages[1].predicates[1].values[0]), std::vector<std::string>{"12"});
  EXPECT_EQ(r.stages[1].predicates[1].values.size(), 3u);
}

// The SigmaHQ corpus through each shipped pipeline: the only errors allowed
// are placeholders without a value and, for winlogbeat-sysmon, rules testing a
// field that Winlogbeat's sysmon module removes.
TEST(PipelineCorpus, ShippedPipelinesApplyToSigmaHq) {
  SIGSCOPE_REQUIRE_SHARED();
  DiagnosticList load_diagnostics;
  std::string corpus = (testing::shared_dir() / "corpus" / "sigma").string();
  LoadResult loaded = load_rules({corpus}, load_diagnostics);
  CompileResult compiled = compile_rules(std::move(loaded.rules), load_diagnostics);
  ASSERT_GT(compiled.rules.size(), 3000u);

  for (const auto& shipped : shipped_pipelines()) {
    SCOPED_TRACE(std::string(shipped.name));
    DiagnosticList diagnostics;
    auto pipelines = load_pipelines({std::string(shipped.name)}, diagnostics);
    ASSERT_TRUE(pipelines.has_value()) << all_messages(diagnostics);
    ASSERT_TRUE(diagnostics.empty()) << all_messages(diagnostics);

    std::vector<CompiledRule> rules = compiled.rules;
    PipelineApplyResult result = apply_pipelines(*pipelines, rules, diagnostics);

    std::size_t unresolved = 0, lost_fields = 0;
    for (const auto& d : diagnostics.items()) {
      ASSERT_EQ(d.severity, Severity::Error) << d.format();
      ASSERT_FALSE(d.rule_id.empty()) << d.format();
      if (d.message.find("no value, so the rule cannot run") != std::string::npos) {
        ++unresolved;
        continue;
      }
      if (shipped.name == "winlogbeat-sysmon" && d.message.find("sysmon module") != std::string::npos) {
        ++lost_fields;
        continue;
      }
      ADD_FAILURE() << "unexpected error: " << d.format();
    }
    EXPECT_EQ(unresolved, result.unresolved.size());
    EXPECT_EQ(lost_fields, result.rejected.size());
    EXPECT_EQ(rules.size() + result.failed, compiled.rules.size());
    EXPECT_GT(unresolved, 0u);  // rules-placeholder/ needs vars that no shipped pipeline gives
    std::cout << "[ " << shipped.name << " ] " << compiled.rules.size() << " rules, " << result.changed
              << " transformed, " << unresolved << " with placeholders without a value, " << lost_fields
              << " rejected for fields the sysmon module removes\n";
    for (const auto& id : result.unresolved) std::cout << "    unresolved placeholders: " << id << "\n";
    for (const auto& id : result.rejected) std::cout << "    rejected: " << id << "\n";

    // Every Windows rule left is consistent, and in the Winlogbeat layouts
    // every field is a mapped name (a dotted ECS/winlog path or `message`).
    for (const auto& rule : rules) {
      expect_consistent(rule);
      if (rule.rule.logsource.product != "windows" || shipped.name == "sysmon") continue;
      for (const auto& stage : rule.stages)
        for (const auto& p : stage.predicates)
          EXPECT_TRUE(p.is_keyword() || p.field.find('.') != std::string::npos || p.field == "message")
              << rule.rule.id << " keeps field " << p.field;
    }
  }
}

}  // namespace
}  // namespace sigscope
