#include <gtest/gtest.h>

#include "sigscope/compile/compiler.h"
#include "test_support.h"

namespace sigscope {
namespace {

using testing::compile_one;
using testing::compile_text;

std::string rule_with(const std::string& detection_body) {
  return "title: Test rule\n"
         "id: 11111111-2222-4333-8444-555555555555\n"
         "status: test\n"
         "logsource:\n  product: windows\n  category: process_creation\n"
         "detection:\n" +
         detection_body + "level: medium\n";
}

// Compiles a rule with one selection `sel` holding `entry` and returns its predicate.
Predicate single_predicate(const std::string& entry) {
  CompiledRule r = compile_one(rule_with("  sel:\n    " + entry + "\n  condition: sel\n"));
  if (r.stages.size() != 1 || r.stages[0].predicates.size() != 1) {
    ADD_FAILURE() << "expected one predicate for: " << entry;
    return {};
  }
  return r.stages[0].predicates[0];
}

// Expects `entry` to be rejected with a message containing `word`.
void expect_rejected(const std::string& entry, const std::string& word) {
  DiagnosticList diagnostics;
  auto rules = compile_text(rule_with("  sel:\n    " + entry + "\n  condition: sel\n"), diagnostics);
  EXPECT_TRUE(rules.empty()) << entry;
  bool found = false;
  for (const auto& d : diagnostics.items())
    if (d.severity == Severity::Error && d.message.find(word) != std::string::npos) found = true;
  std::string all;
  for (const auto& d : diagnostics.items()) all += d.format() + "\n";
  EXPECT_TRUE(found) << "no error mentioning '" << word << "' for " << entry << ":\n" << all;
}

std::vector<std::string> literals(const CompiledValue& v) {
  std::vector<std::string> out;
  for (const auto& p : v.alternatives) out.push_back(p.literal_text());
  return out;
}

TEST(CompilerModifiers, PlainValueIsEquality) {
  Predicate p = single_predicate("Image: 'C:\\Windows\\cmd.exe'");
  EXPECT_EQ(p.field, "Image");
  EXPECT_EQ(p.op, MatchOp::Equals);
  EXPECT_EQ(p.kind(), "eq");
  ASSERT_EQ(p.values.size(), 1u);
  EXPECT_EQ(p.values[0].alternatives[0].literal_text(), "C:\\Windows\\cmd.exe");
}

TEST(CompilerModifiers, AnchorsKeepPatternUnglued) {
  Predicate c = single_predicate("CommandLine|contains: 'foo'");
  EXPECT_EQ(c.op, MatchOp::Contains);
  // The pattern is the value itself; contains is in the operator, not in added wildcards.
  EXPECT_TRUE(c.values[0].alternatives[0].is_literal());
  EXPECT_EQ(single_predicate("Image|startswith: 'C:\\'").op, MatchOp::StartsWith);
  EXPECT_EQ(single_predicate("Image|endswith: '\\a.exe'").kind(), "ends_with");
}

TEST(CompilerModifiers, AllAndsTheValues) {
  Predicate p = single_predicate("CommandLine|contains|all:\n      - 'install'\n      - 'module'");
  EXPECT_TRUE(p.match_all);
  EXPECT_EQ(p.values.size(), 2u);
  EXPECT_EQ(p.extra_modifiers(), std::vector<std::string>{"all"});
}

TEST(CompilerModifiers, WindashExpandsFiveDashes) {
  Predicate p = single_predicate("CommandLine|contains|windash: ' -enc '");
  ASSERT_EQ(p.values.size(), 1u);
  auto alts = literals(p.values[0]);
  ASSERT_EQ(alts.size(), 5u);
  EXPECT_EQ(alts[0], " -enc ");
  EXPECT_EQ(alts[1], " /enc ");
  EXPECT_EQ(alts[2], " \xE2\x80\x93" "enc ");
  EXPECT_EQ(alts[3], " \xE2\x80\x94" "enc ");
  EXPECT_EQ(alts[4], " \xE2\x80\x95" "enc ");
  EXPECT_EQ(p.extra_modifiers(), std::vector<std::string>{"windash"});
}

TEST(CompilerModifiers, WindashLeavesMidWordDash) {
  Predicate p = single_predicate("CommandLine|contains|windash: 'ms-settings'");
  EXPECT_EQ(literals(p.values[0]), std::vector<std::string>{"ms-settings"});
}

TEST(CompilerModifiers, WindashPermutesEveryFlag) {
  Predicate p = single_predicate("CommandLine|contains|windash: '-a -b'");
  EXPECT_EQ(p.values[0].alternatives.size(), 25u);
}

TEST(CompilerModifiers, Base64) {
  Predicate p = single_predicate("Data|base64|contains: 'ping'");
  EXPECT_EQ(literals(p.values[0]), std::vector<std::string>{"cGluZw=="});
}

TEST(CompilerModifiers, Base64OffsetThreeShifts) {
  Predicate p = single_predicate("CommandLine|base64offset|contains: 'http://'");
  EXPECT_EQ(literals(p.values[0]),
            (std::vector<std::string>{"aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"}));
}

TEST(CompilerModifiers, WideThenBase64Offset) {
  Predicate p = single_predicate("CommandLine|wide|base64offset|contains: 'ping'");
  EXPECT_EQ(literals(p.values[0]),
            (std::vector<std::string>{"cABpAG4AZw", "AAaQBuAGcA", "wAGkAbgBnA"}));
}

TEST(CompilerModifiers, Utf16Variants) {
  EXPECT_EQ(literals(single_predicate("D|utf16le: 'cmd'").values[0])[0],
            std::string("c\0m\0d\0", 6));
  EXPECT_EQ(literals(single_predicate("D|wide: 'cmd'").values[0])[0], std::string("c\0m\0d\0", 6));
  EXPECT_EQ(literals(single_predicate("D|utf16be: 'cmd'").values[0])[0],
            std::string("\0c\0m\0d", 6));
  EXPECT_EQ(literals(single_predicate("D|utf16: 'cmd'").values[0])[0],
            std::string("\xFF\xFE" "c\0m\0d\0", 8));
}

TEST(CompilerModifiers, RegexWithFlags) {
  Predicate p = single_predicate("Data|re|i|m|s: '^abc.def$'");
  EXPECT_EQ(p.op, MatchOp::Regex);
  EXPECT_EQ(p.kind(), "regex");
  const RegexSpec& re = p.values[0].regex;
  EXPECT_TRUE(re.case_insensitive);
  EXPECT_TRUE(re.multi_line);
  EXPECT_TRUE(re.dot_all);
  EXPECT_FALSE(re.needs_backtracking);
  EXPECT_EQ(p.extra_modifiers(), (std::vector<std::string>{"i", "m", "s"}));
}

TEST(CompilerModifiers, RegexLookAheadNeedsBacktracking) {
  Predicate p = single_predicate("CommandLine|re: 'https?://[0-9]{1,10}(?!.)'");
  EXPECT_TRUE(p.values[0].regex.needs_backtracking);
}

TEST(CompilerModifiers, Cidr) {
  Predicate v4 = single_predicate("DestinationIp|cidr: '10.1.2.3/8'");
  EXPECT_EQ(v4.op, MatchOp::Cidr);
  EXPECT_FALSE(v4.values[0].cidr.ipv6);
  EXPECT_EQ(v4.values[0].cidr.prefix, 8);
  EXPECT_EQ(v4.values[0].cidr.address[1], 0);  // host bits cleared
  Predicate v6 = single_predicate("DestinationIp|cidr: 'fe80::/10'");
  EXPECT_TRUE(v6.values[0].cidr.ipv6);
  EXPECT_EQ(v6.values[0].cidr.prefix, 10);
}

TEST(CompilerModifiers, Exists) {
  Predicate p = single_predicate("Field|exists: false");
  EXPECT_EQ(p.op, MatchOp::Exists);
  EXPECT_FALSE(p.values[0].exists);
}

TEST(CompilerModifiers, FieldRef) {
  Predicate p = single_predicate("TargetUserName|fieldref: SubjectUserName");
  EXPECT_EQ(p.kind(), "fieldref");
  EXPECT_EQ(p.values[0].kind, CompiledValue::Kind::FieldRef);
  EXPECT_EQ(p.values[0].field_ref, "SubjectUserName");
  Predicate q = single_predicate("A|fieldref|endswith: B");
  EXPECT_EQ(q.op, MatchOp::EndsWith);
  EXPECT_EQ(q.kind(), "fieldref");
  Predicate n = single_predicate("A|fieldref|neq: B");
  EXPECT_TRUE(n.negated);
}

TEST(CompilerModifiers, NumericComparisons) {
  for (auto [mod, op] : {std::pair{"lt", MatchOp::Less}, {"lte", MatchOp::LessEqual},
                         {"gt", MatchOp::Greater}, {"gte", MatchOp::GreaterEqual}}) {
    Predicate p = single_predicate(std::string("Count|") + mod + ": 10");
    EXPECT_EQ(p.op, op) << mod;
    EXPECT_EQ(p.kind(), mod);
    EXPECT_EQ(p.values[0].number, 10);
  }
}

TEST(CompilerModifiers, Neq) {
  Predicate p = single_predicate("Status|neq: 'ok'");
  EXPECT_TRUE(p.negated);
  EXPECT_EQ(p.kind(), "neq");
  EXPECT_EQ(p.op, MatchOp::Equals);
}

TEST(CompilerModifiers, Cased) {
  Predicate p = single_predicate("Image|cased|endswith: 'Cmd.exe'");
  EXPECT_TRUE(p.cased);
  EXPECT_EQ(p.extra_modifiers(), std::vector<std::string>{"cased"});
}

TEST(CompilerModifiers, ExpandKeepsPlaceholders) {
  Predicate p = single_predicate("User|expand: '%admins%'");
  EXPECT_TRUE(p.expand);
  EXPECT_TRUE(p.values[0].alternatives[0].has_placeholders());
}

TEST(CompilerModifiers, TimeParts) {
  for (auto [mod, part] : {std::pair{"minute", TimePart::Minute}, {"hour", TimePart::Hour},
                           {"day", TimePart::Day}, {"week", TimePart::Week},
                           {"month", TimePart::Month}, {"year", TimePart::Year}}) {
    Predicate p = single_predicate(std::string("UtcTime|") + mod + ": 3");
    EXPECT_EQ(p.time_part, part) << mod;
    EXPECT_EQ(p.values[0].kind, CompiledValue::Kind::Number);
  }
  Predicate late = single_predicate("UtcTime|hour|gte: 22");
  EXPECT_EQ(late.op, MatchOp::GreaterEqual);
  EXPECT_EQ(late.time_part, TimePart::Hour);
}

TEST(CompilerValues, NullEmptyNumberBool) {
  EXPECT_EQ(single_predicate("F: null").values[0].kind, CompiledValue::Kind::Null);
  Predicate empty = single_predicate("F: ''");
  EXPECT_EQ(empty.values[0].kind, CompiledValue::Kind::Pattern);
  EXPECT_TRUE(empty.values[0].alternatives[0].empty());
  Predicate number = single_predicate("EventID: 4688");
  EXPECT_TRUE(number.values[0].numeric);
  EXPECT_EQ(number.values[0].alternatives[0].literal_text(), "4688");
  EXPECT_EQ(single_predicate("F: true").values[0].alternatives[0].literal_text(), "true");
}

TEST(CompilerRejects, InvalidModifierCombinations) {
  expect_rejected("F|unknownmod: x", "unknown modifier");
  expect_rejected("F|contains|startswith: x", "conflicts");
  expect_rejected("F|re|contains: x", "cannot be combined");
  expect_rejected("F|i: x", "need the re modifier");
  expect_rejected("F|exists: maybe", "true or false");
  expect_rejected("F|exists|all: true", "exists cannot be combined");
  expect_rejected("F|lt: abc", "needs a number");
  expect_rejected("F|cidr: 10.0.0.300/8", "invalid CIDR");
  expect_rejected("F|re: '(unclosed'", "invalid regular expression");
  expect_rejected("F|base64: 'a*b'", "wildcards");
  expect_rejected("F|hour|contains: 3", "time modifier");
  expect_rejected("F|lt|neq: 3", "neq cannot be combined");
  expect_rejected("F|contains: null", "null");
  expect_rejected("F|windash|re: x", "cannot be combined");
}

TEST(CompilerStages, ListOfMapsIsOr) {
  CompiledRule r = compile_one(rule_with(
      "  sel:\n    - Image|endswith: '\\appcmd.exe'\n    - OriginalFileName: 'appcmd.exe'\n"
      "  condition: sel\n"));
  ASSERT_EQ(r.stages.size(), 1u);
  EXPECT_EQ(r.stages[0].root.op, StageNode::Op::Or);
  EXPECT_EQ(r.stages[0].predicates.size(), 2u);
}

TEST(CompilerStages, MapIsAnd) {
  CompiledRule r = compile_one(rule_with("  sel:\n    A: x\n    B: y\n  condition: sel\n"));
  EXPECT_EQ(r.stages[0].root.op, StageNode::Op::And);
}

TEST(CompilerStages, KeywordListIsOneKeywordPredicate) {
  CompiledRule r = compile_one(rule_with("  keywords:\n    - 'a'\n    - 'b'\n  condition: keywords\n"));
  ASSERT_EQ(r.stages[0].predicates.size(), 1u);
  EXPECT_TRUE(r.stages[0].predicates[0].is_keyword());
  EXPECT_EQ(r.stages[0].predicates[0].kind(), "keyword");
  EXPECT_EQ(r.stages[0].predicates[0].values.size(), 2u);
}

TEST(CompilerStages, KeywordAllKey) {
  CompiledRule r =
      compile_one(rule_with("  sel:\n    '|all':\n      - 'a'\n      - 'b'\n  condition: sel\n"));
  ASSERT_EQ(r.stages[0].predicates.size(), 1u);
  EXPECT_TRUE(r.stages[0].predicates[0].is_keyword());
  EXPECT_TRUE(r.stages[0].predicates[0].match_all);
}

TEST(CompilerCondition, OneOfExpandsToOr) {
  CompiledRule r = compile_one(rule_with(
      "  selection_a:\n    A: x\n  selection_b:\n    B: y\n  filter_c:\n    C: z\n"
      "  condition: 1 of selection_* and not all of filter_*\n"));
  ASSERT_EQ(r.condition.op, ConditionExpr::Op::And);
  EXPECT_EQ(r.condition.children[0].op, ConditionExpr::Op::Or);
  EXPECT_EQ(r.condition.children[0].children.size(), 2u);
  EXPECT_EQ(r.condition.children[1].op, ConditionExpr::Op::Not);
  EXPECT_EQ(r.referenced_stages(), (std::vector<int>{0, 1, 2}));
}

TEST(CompilerCondition, ThemSkipsUnderscoreNames) {
  CompiledRule r = compile_one(rule_with(
      "  selection:\n    A: x\n  _helper:\n    B: y\n  condition: all of them\n"));
  EXPECT_EQ(r.condition.op, ConditionExpr::Op::Stage);
  EXPECT_EQ(r.condition.stage, 0);
}

TEST(CompilerCondition, ConditionListIsOr) {
  CompiledRule r = compile_one(
      rule_with("  a:\n    A: x\n  b:\n    B: y\n  condition:\n    - a\n    - b\n"));
  EXPECT_EQ(r.condition.op, ConditionExpr::Op::Or);
  EXPECT_EQ(r.condition_texts.size(), 2u);
}

// A misspelled condition key reads as a selection, so the error points at it.
TEST(CompilerErrors, MisspelledConditionKeyIsNamed) {
  DiagnosticList diagnostics;
  auto rules = compile_text(rule_with("  sel:\n    A: x\n  condtion: sel\n"), diagnostics, "rules/x.yml");
  EXPECT_TRUE(rules.empty());
  ASSERT_EQ(diagnostics.error_count(), 1u);
  const Diagnostic& d = diagnostics.items()[0];
  EXPECT_EQ(d.line, 10);
  EXPECT_EQ(d.column, 3);
  EXPECT_NE(d.message.find("'condtion' looks like a misspelling"), std::string::npos) << d.message;
  EXPECT_EQ(d.hint, "rename the key to 'condition'");
}

// With no selection to name, the hint does not end in an empty list.
TEST(CompilerErrors, DanglingConditionWithoutSelections) {
  DiagnosticList diagnostics;
  compile_text(rule_with("  condition: sel\n"), diagnostics, "rules/x.yml");
  std::string hints;
  for (const auto& d : diagnostics.items()) hints += d.hint + "\n";
  EXPECT_EQ(hints.find("use one of: \n"), std::string::npos) << hints;
  EXPECT_NE(hints.find("define 'sel' in the detection section"), std::string::npos) << hints;
}

// A title that YAML reads as null is named as such, at its own line.
TEST(CompilerErrors, NullTitleIsNamed) {
  DiagnosticList diagnostics;
  std::string yaml = rule_with("  sel:\n    A: x\n  condition: sel\n");
  yaml.replace(0, yaml.find('\n'), "title: Null");
  testing::compile_text(yaml, diagnostics, "rules/x.yml");
  ASSERT_EQ(diagnostics.error_count(), 1u);
  EXPECT_EQ(diagnostics.items()[0].line, 1);
  EXPECT_NE(diagnostics.items()[0].message.find("'title' is empty or a YAML null"), std::string::npos)
      << diagnostics.items()[0].message;
}

// A typo of a modifier gets the modifier it most likely meant.
TEST(CompilerErrors, MisspelledModifierGetsClosest) {
  DiagnosticList diagnostics;
  compile_text(rule_with("  sel:\n    Image|contians: x\n  condition: sel\n"), diagnostics, "rules/x.yml");
  ASSERT_EQ(diagnostics.error_count(), 1u);
  EXPECT_EQ(diagnostics.items()[0].hint.rfind("write 'contains', the closest modifier", 0), 0u)
      << diagnostics.items()[0].hint;
  DiagnosticList far;
  compile_text(rule_with("  sel:\n    Image|xyz: x\n  condition: sel\n"), far, "rules/x.yml");
  ASSERT_EQ(far.error_count(), 1u);
  EXPECT_EQ(far.items()[0].hint.rfind("use one of the Sigma 2.1 modifiers", 0), 0u) << far.items()[0].hint;
}

TEST(CompilerErrors, UndefinedIdentifierNamesIt) {
  DiagnosticList diagnostics;
  auto rules = compile_text(rule_with("  sel:\n    A: x\n  condition: sel and missing_sel\n"),
                            diagnostics, "rules/x.yml");
  EXPECT_TRUE(rules.empty());
  ASSERT_EQ(diagnostics.error_count(), 1u);
  const Diagnostic& d = diagnostics.items()[0];
  EXPECT_EQ(d.file, "rules/x.yml");
  EXPECT_EQ(d.rule_id, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(d.line, 10);
  EXPECT_EQ(d.column, 22);  // "condition: sel and missing_sel": the column of missing_sel
  EXPECT_NE(d.message.find("missing_sel"), std::string::npos);
  EXPECT_FALSE(d.hint.empty());
}

TEST(CompilerErrors, MissingCondition) {
  DiagnosticList diagnostics;
  auto rules = compile_text(rule_with("  sel:\n    A: x\n"), diagnostics);
  EXPECT_TRUE(rules.empty());
  ASSERT_EQ(diagnostics.error_count(), 1u);
  EXPECT_NE(diagnostics.items()[0].message.find("condition"), std::string::npos);
}

TEST(CompilerErrors, PatternMatchingNothing) {
  DiagnosticList diagnostics;
  auto rules = compile_text(rule_with("  sel:\n    A: x\n  condition: sel and not 1 of filter_*\n"),
                            diagnostics);
  EXPECT_TRUE(rules.empty());
  EXPECT_NE(diagnostics.items()[0].message.find("filter_*"), std::string::npos);
}

TEST(CompilerErrors, YamlSyntaxErrorHasPosition) {
  DiagnosticList diagnostics;
  auto rules = compile_text("title: x\ndetection:\n  sel: [unclosed\n", diagnostics, "bad.yml");
  EXPECT_TRUE(rules.empty());
  ASSERT_GE(diagnostics.error_count(), 1u);
  EXPECT_EQ(diagnostics.items()[0].file, "bad.yml");
  EXPECT_GT(diagnostics.items()[0].line, 0);
  EXPECT_NE(diagnostics.items()[0].message.find("invalid YAML"), std::string::npos);
}

// The error points at the line the author must fix: a key indented between
// two levels of a mapping, or a top-level key indented by one space.
TEST(CompilerErrors, YamlIndentationErrorNamesBadLine) {
  struct Case {
    const char* yaml;
    int line;
    int column;
  };
  const Case cases[] = {
      {"title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n        Image: a\n"
       "      bad: b\n    condition: sel\n",
       7, 7},
      {"title: t\nlogsource:\n  product: windows\n detection:\n    sel:\n        Image: a\n"
       "    condition: sel\n",
       4, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    DiagnosticList diagnostics;
    auto rules = compile_text(c.yaml, diagnostics, "indent.yml");
    EXPECT_TRUE(rules.empty());
    ASSERT_EQ(diagnostics.error_count(), 1u);
    const Diagnostic& d = diagnostics.items()[0];
    EXPECT_NE(d.message.find("invalid indentation"), std::string::npos) << d.message;
    EXPECT_EQ(d.line, c.line);
    EXPECT_EQ(d.column, c.column);
  }
}

TEST(CompilerErrors, DuplicateKeyIsReported) {
  DiagnosticList diagnostics;
  auto rules = compile_text(rule_with("  sel:\n    A: x\n    A: y\n  condition: sel\n"), diagnostics);
  ASSERT_GE(diagnostics.error_count(), 1u);
  EXPECT_NE(diagnostics.items()[0].message.find("duplicate key 'A'"), std::string::npos);
  EXPECT_EQ(diagnostics.items()[0].line, 10);
}

TEST(CompilerValues, YamlAliasesAreFollowed) {
  CompiledRule r = compile_one(rule_with("  sel:\n    A: &v 'shared'\n    B: *v\n  condition: sel\n"));
  ASSERT_EQ(r.stages[0].predicates.size(), 2u);
  EXPECT_EQ(r.stages[0].predicates[1].values[0].written, "shared");
}

TEST(CompilerErrors, BadRuleDoesNotStopOthers) {
  DiagnosticList diagnostics;
  std::string good = rule_with("  sel:\n    A: x\n  condition: sel\n");
  std::string bad = rule_with("  sel:\n    A|nope: x\n  condition: sel\n");
  auto rules = compile_text(good + "---\n" + bad + "---\n" + good, diagnostics);
  EXPECT_EQ(rules.size(), 2u);
  EXPECT_EQ(diagnostics.error_count(), 1u);
}

TEST(CompilerCollections, GlobalAndRepeat) {
  std::string text =
      "action: global\n"
      "title: Shared title\n"
      "status: test\n"
      "detection:\n  condition: sel\n"
      "---\n"
      "id: 11111111-0000-4000-8000-000000000001\n"
      "logsource:\n  product: windows\n  service: security\n"
      "detection:\n  sel:\n    EventID: 4624\n"
      "---\n"
      "action: repeat\n"
      "id: 11111111-0000-4000-8000-000000000002\n"
      "detection:\n  sel:\n    EventID: 4625\n"
      "---\n"
      "action: reset\n"
      "---\n"
      "title: Alone\n"
      "id: 11111111-0000-4000-8000-000000000003\n"
      "logsource:\n  product: linux\n"
      "detection:\n  sel:\n    A: b\n  condition: sel\n";
  DiagnosticList diagnostics;
  auto rules = compile_text(text, diagnostics);
  std::string all;
  for (const auto& d : diagnostics.items()) all += d.format() + "\n";
  ASSERT_EQ(rules.size(), 3u) << all;
  EXPECT_EQ(rules[0].rule.title, "Shared title");
  EXPECT_EQ(rules[1].rule.title, "Shared title");
  EXPECT_EQ(rules[1].rule.logsource.service, "security");
  EXPECT_EQ(rules[1].stages[0].predicates[0].values[0].written, "4625");
  EXPECT_EQ(rules[2].rule.title, "Alone");
  EXPECT_EQ(rules[2].rule.status, "");
}

TEST(CompilerMetadata, CustomAttributesKept) {
  CompiledRule r = compile_one(rule_with("  sel:\n    A: x\n  condition: sel\n") +
                               "regression_tests_path: regression_data/x/info.yml\n");
  ASSERT_EQ(r.rule.custom.size(), 1u);
  EXPECT_EQ(r.rule.custom[0].key, "regression_tests_path");
}

TEST(CompilerCorrelation, ParsedAndValidated) {
  std::string text =
      "title: Many failed logons\n"
      "id: 22222222-0000-4000-8000-000000000001\n"
      "correlation:\n"
      "  type: event_count\n"
      "  rules:\n    - failed_logon\n"
      "  group-by:\n    - TargetUserName\n"
      "  timespan: 15m\n"
      "  condition:\n    gte: 10\n"
      "level: high\n";
  DiagnosticList diagnostics;
  auto rules = compile_text(text, diagnostics);
  ASSERT_EQ(rules.size(), 1u);
  const Correlation& c = rules[0].rule.correlation;
  EXPECT_EQ(rules[0].rule.kind, RuleKind::Correlation);
  EXPECT_EQ(c.type, CorrelationType::EventCount);
  EXPECT_EQ(c.timespan_seconds, 900u);
  EXPECT_EQ(c.group_by, std::vector<std::string>{"TargetUserName"});
  ASSERT_TRUE(c.condition.gte.has_value());
  EXPECT_EQ(*c.condition.gte, 10);

  DiagnosticList bad_diagnostics;
  auto bad = compile_text(
      "title: x\nid: 22222222-0000-4000-8000-000000000002\ncorrelation:\n  type: value_count\n"
      "  rules: [a]\n  timespan: 5x\n  condition:\n    gt: 3\n",
      bad_diagnostics);
  EXPECT_TRUE(bad.empty());
  EXPECT_GE(bad_diagnostics.error_count(), 2u);  // bad timespan, missing field
}

TEST(CompilerFilter, FilterDocumentCompiles) {
  std::string text =
      "title: Filter admins\n"
      "id: 33333333-0000-4000-8000-000000000001\n"
      "logsource:\n  product: windows\n"
      "filter:\n  rules:\n    - 11111111-2222-4333-8444-555555555555\n"
      "  selection:\n    User|startswith: 'adm_'\n  condition: not selection\n";
  DiagnosticList diagnostics;
  auto rules = compile_text(text, diagnostics);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].rule.kind, RuleKind::Filter);
  EXPECT_EQ(rules[0].rule.filter.rules.size(), 1u);
  EXPECT_EQ(rules[0].stages.size(), 1u);
  EXPECT_EQ(rules[0].condition.op, ConditionExpr::Op::Not);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(CompilerErrors, InvalidUtf8RejectedWithoutHanging) {
  // Found by fuzzing: libfyaml loops forever on a directive line followed by
  // an invalid byte, so such text must never reach it.
  DiagnosticList diagnostics;
  auto rules = testing::compile_text("a: |\n  x\n%\xaa", diagnostics, "hang.yml");
  EXPECT_TRUE(rules.empty());
  ASSERT_EQ(diagnostics.error_count(), 1u);
  EXPECT_EQ(diagnostics.items()[0].line, 3);
  EXPECT_NE(diagnostics.items()[0].message.find("not valid UTF-8 (byte offset 10)"), std::string::npos)
      << diagnostics.items()[0].message;
}

}  // namespace
}  // namespace sigscope
