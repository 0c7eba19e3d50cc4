// sigscope check's lint checks: for every check a rule that trips it and one
// that does not, the semantic analysis on its own, the configuration file,
// and the CLI's report formats and exit codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sigscope/analysis/lint.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/rules/loader.h"
#include "test_support.h"

namespace sigscope {
namespace {

using testing::run_cli;
using testing::TempDir;

struct RuleText {
  std::string detection = "  selection:\n    Image|endswith: '\\cmd.exe'\n  condition: selection\n";
  std::string logsource = "  category: process_creation\n  product: windows\n";
  std::string tags = "  - attack.execution\n  - attack.t1059\n";
  std::string id = "5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5a";
  std::string title = "Test rule";
  std::string status = "test";
  std::string date = "2024-01-01";
  std::string level = "low";  // empty: no level key
  std::string extra;  // more top-level keys
};

std::string render(const RuleText& r) {
  std::string out = "title: " + r.title + "\n";
  if (!r.id.empty()) out += "id: " + r.id + "\n";
  out += "status: " + r.status + "\ndescription: A rule for the lint tests\nauthor: sigscope\ndate: " + r.date + "\n";
  out += "logsource:\n" + r.logsource;
  if (!r.tags.empty()) out += "tags:\n" + r.tags;
  out += "detection:\n" + r.detection;
  if (!r.level.empty()) out += "level: " + r.level + "\n";
  out += r.extra;
  return out;
}

// Loads, compiles and lints YAML text as `sigscope check` does: rules that fail
// to compile are linted as written, and the loader's warnings join the findings.
std::vector<LintFinding> lint_texts(const std::vector<std::pair<std::string, std::string>>& files,
                                    const LintConfig& config = {}) {
  std::vector<CompiledRule> compiled;
  std::vector<Rule> uncompiled;
  DiagnosticList diagnostics;
  for (const auto& [path, text] : files) {
    for (auto& rule : load_rules_from_text(text, path, diagnostics)) {
      Rule copy = rule;
      if (auto c = compile_rule(std::move(rule), diagnostics)) compiled.push_back(std::move(*c));
      else uncompiled.push_back(std::move(copy));
    }
  }
  std::vector<LintFinding> findings = lint_rules(compiled, uncompiled, config, 1);
  std::vector<LintFinding> warnings = lint_load_warnings(diagnostics, compiled, uncompiled, findings, config);
  findings.insert(findings.end(), warnings.begin(), warnings.end());
  return findings;
}

std::vector<LintFinding> lint(const RuleText& r, const LintConfig& config = {}) {
  return lint_texts({{"proc_creation_win_test_rule.yml", render(r)}}, config);
}

std::size_t count(const std::vector<LintFinding>& findings, const std::string& check) {
  return std::count_if(findings.begin(), findings.end(), [&](const LintFinding& f) { return f.check == check; });
}

std::string dump(const std::vector<LintFinding>& findings) { return lint_report_text(findings); }

RuleText with_detection(std::string detection) {
  RuleText r;
  r.detection = std::move(detection);
  return r;
}
RuleText with_tags(std::string tags) {
  RuleText r;
  r.tags = std::move(tags);
  return r;
}

TEST(Lint, CleanRuleHasNoFindings) {
  auto f = lint(RuleText{});
  EXPECT_TRUE(f.empty()) << dump(f);
}

// One rule that trips the check and one that does not.
struct Case {
  std::string check;
  RuleText trips;
  RuleText clean;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  auto det = with_detection;
  c.push_back({"dangling-detection",
               det("  selection:\n    Image|endswith: '\\cmd.exe'\n  unused:\n    CommandLine|contains: x\n"
                   "  condition: selection\n"),
               det("  selection:\n    Image|endswith: '\\cmd.exe'\n  other:\n    CommandLine|contains: x\n"
                   "  condition: selection and other\n")});
  c.push_back({"dangling-condition", det("  selection:\n    Image|endswith: '\\cmd.exe'\n  condition: selection and missing\n"),
               RuleText{}});
  c.push_back({"them-single-detection", det("  selection:\n    Image|endswith: '\\cmd.exe'\n  condition: 1 of them\n"),
               det("  sel_a:\n    Image|endswith: '\\cmd.exe'\n  sel_b:\n    Image|endswith: '\\pwsh.exe'\n"
                   "  condition: 1 of them\n")});
  c.push_back({"all-of-them",
               det("  sel_a:\n    Image|endswith: '\\cmd.exe'\n  sel_b:\n    CommandLine|contains: x\n  condition: all of them\n"),
               det("  sel_a:\n    Image|endswith: '\\cmd.exe'\n  sel_b:\n    CommandLine|contains: x\n  condition: all of sel_*\n")});
  {
    RuleText t = det("  selection:\n    EventID: 1\n    Image|endswith: '\\cmd.exe'\n  condition: selection\n");
    t.logsource = "  product: windows\n  service: sysmon\n";
    RuleText ok = det("  selection:\n    EventID: 255\n  condition: selection\n");
    ok.logsource = "  product: windows\n  service: security\n";
    c.push_back({"specific-logsource", t, ok});
  }
  {
    RuleText t;
    t.logsource += "  foo: bar\n";
    RuleText ok;
    ok.logsource += "  definition: Sysmon must log process creation\n";
    c.push_back({"logsource-keys", t, ok});
  }
  {
    RuleText t;
    t.logsource = "  category: proces_creation\n  product: windows\n";
    RuleText ok;
    ok.logsource = "  category: file_access\n  product: windows\n";
    c.push_back({"unknown-logsource", t, ok});
  }
  {
    RuleText t;
    t.id.clear();
    c.push_back({"missing-id", t, RuleText{}});
  }
  {
    RuleText t;
    t.id = "not-a-uuid";
    c.push_back({"id-format", t, RuleText{}});
  }
  {
    RuleText t;
    t.status = "tset";
    RuleText ok;
    ok.status = "experimental";
    c.push_back({"unknown-status", t, ok});
  }
  {
    RuleText t;
    t.level = "hihg";
    RuleText ok;
    ok.level = "critical";
    c.push_back({"unknown-level", t, ok});
  }
  {
    RuleText t;
    t.level.clear();
    c.push_back({"missing-level", t, RuleText{}});
  }
  {
    RuleText t;
    t.date = "yesterday";
    c.push_back({"date-format", t, RuleText{}});
  }
  {
    RuleText t;
    t.extra = "references: https://example.com/a\n";
    RuleText ok;
    ok.extra = "references:\n  - https://example.com/a\n";
    c.push_back({"attribute-type", t, ok});
  }
  {
    RuleText t;
    t.extra = "related:\n  - type: derived\n";
    RuleText ok;
    ok.extra = "related:\n  - id: 5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5b\n    type: derived\n";
    c.push_back({"related-entry", t, ok});
  }
  {
    RuleText t;
    t.extra = "references:\n  - https://example.com/a\n  - https://example.com/a\n";
    RuleText ok;
    ok.extra = "references:\n  - https://example.com/a\n  - https://example.com/b\n";
    c.push_back({"duplicate-reference", t, ok});
  }
  {
    RuleText t;
    t.extra = "realted:\n  - id: 5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5b\n    type: derived\n";
    RuleText ok;
    ok.extra = "simulation:\n  - atomic\n";
    c.push_back({"misspelled-attribute", t, ok});
  }
  c.push_back({"invalid-modifier-combination", det("  selection:\n    CommandLine|all:\n      - a\n      - b\n  condition: selection\n"),
               det("  selection:\n    CommandLine|contains|all:\n      - a\n      - b\n  condition: selection\n")});
  c.push_back({"repeated-modifier", det("  selection:\n    CommandLine|contains|contains: a\n  condition: selection\n"),
               det("  selection:\n    CommandLine|base64offset|contains: a\n  condition: selection\n")});
  c.push_back({"ineffective-modifier", det("  selection:\n    CommandLine|re|cased: 'a.*b'\n  condition: selection\n"),
               det("  selection:\n    CommandLine|contains|cased: a\n  condition: selection\n")});
  c.push_back({"unresolved-placeholder", det("  selection:\n    User|expand: '%Admins%'\n  condition: selection\n"),
               det("  selection:\n    User: '%Admins%'\n  condition: selection\n")});
  c.push_back({"empty-value-list",
               det("  selection:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: []\n  condition: selection\n"),
               RuleText{}});
  c.push_back({"obsolete-aggregation", det("  selection:\n    Image|endswith: '\\cmd.exe'\n  condition: selection | count() > 5\n"),
               RuleText{}});
  c.push_back({"obsolete-timeframe",
               det("  selection:\n    Image|endswith: '\\cmd.exe'\n  timeframe: 5m\n  condition: selection\n"), RuleText{}});
  c.push_back({"tag-format", with_tags("  - attack.execution\n  - attack.T1059\n"), RuleText{}});
  c.push_back({"tag-namespace", with_tags("  - attack.execution\n  - attack.t1059\n  - foo.bar\n"), RuleText{}});
  c.push_back({"attack-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - attack.foobar\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - attack.g0016\n  - attack.s0005\n  - attack.stealth\n")});
  c.push_back({"car-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - car.2013-5-4\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - car.2013-05-004\n")});
  c.push_back({"cve-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - cve.2021.3156\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - cve.2021-3156\n")});
  c.push_back({"d3fend-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - d3fend.foo\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - d3fend.d3-pa\n  - d3fend.detect\n")});
  c.push_back({"tlp-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - tlp.purple\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - tlp.clear\n")});
  c.push_back({"detection-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - detection.foo\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - detection.dfir\n")});
  c.push_back({"stp-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - stp.9\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - stp.3a\n")});
  c.push_back({"duplicate-tag", with_tags("  - attack.execution\n  - attack.t1059\n  - attack.t1059\n"), RuleText{}});
  c.push_back({"double-wildcard", det("  selection:\n    CommandLine: '*a**b*'\n  condition: selection\n"),
               det("  selection:\n    CommandLine: 'a*b'\n  condition: selection\n")});
  c.push_back({"number-as-string", det("  selection:\n    ProcessId: '4'\n  condition: selection\n"),
               det("  selection:\n    ProcessId: 4\n  condition: selection\n")});
  c.push_back({"control-character", det("  selection:\n    CommandLine|contains: \"C:\\temp\"\n  condition: selection\n"),
               det("  selection:\n    CommandLine|contains: 'C:\\temp'\n  condition: selection\n")});
  c.push_back({"wildcards-instead-of-modifier", det("  selection:\n    CommandLine:\n      - '*whoami*'\n      - '*hostname*'\n  condition: selection\n"),
               det("  selection:\n    CommandLine:\n      - '*whoami*'\n      - 'hostname*'\n  condition: selection\n")});
  c.push_back({"keyword-field-test", det("  keywords:\n    - Image|endswith '\\whoami.exe'\n  condition: keywords\n"),
               det("  keywords:\n    - 'Image endswith whoami'\n  condition: keywords\n")});
  c.push_back({"escaped-wildcard", det("  selection:\n    CommandLine|contains: 'a\\*b'\n  condition: selection\n"),
               det("  selection:\n    CommandLine|contains: 'a\\b'\n  condition: selection\n")});
  c.push_back({"never-matches",
               det("  sel_a:\n    Image|endswith: '\\a.exe'\n  sel_b:\n    Image|endswith: '\\b.exe'\n  condition: sel_a and sel_b\n"),
               det("  sel_a:\n    Image|endswith: '\\a.exe'\n  sel_b:\n    Image|endswith: '\\b.exe'\n  condition: sel_a or sel_b\n")});
  c.push_back({"filter-covers-selection",
               det("  selection:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: ' /c '\n"
                   "  filter:\n    Image|endswith: 'cmd.exe'\n  condition: selection and not filter\n"),
               det("  selection:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: ' /c '\n"
                   "  filter:\n    CommandLine|contains: ' /c echo'\n  condition: selection and not filter\n")});
  c.push_back({"contradictory-equality",
               det("  sel_a:\n    EventID: 1\n  sel_b:\n    EventID: 4688\n  sel_c:\n    Image|endswith: '\\a.exe'\n"
                   "  condition: (sel_a and sel_b) or sel_c\n"),
               det("  sel_a:\n    EventID: 1\n  sel_b:\n    EventID:\n      - 1\n      - 4688\n  sel_c:\n    Image|endswith: '\\a.exe'\n"
                   "  condition: (sel_a and sel_b) or sel_c\n")});
  c.push_back({"all-single-value", det("  selection:\n    CommandLine|contains|all: a\n  condition: selection\n"),
               det("  selection:\n    CommandLine|contains|all:\n      - a\n      - b\n  condition: selection\n")});
  c.push_back({"regex-unsupported", det("  selection:\n    CommandLine|re: '(?<=a)b'\n  condition: selection\n"),
               det("  selection:\n    CommandLine|re: 'a.*b'\n  condition: selection\n")});
  c.push_back({"regex-subset", det("  selection:\n    CommandLine|re: '\\d+ (?:x|y)'\n  condition: selection\n"),
               det("  selection:\n    CommandLine|re: '^[0-9]+ (x|y){1,3}$'\n  condition: selection\n")});
  c.push_back({"unknown-field", det("  selection:\n    FooBarField: x\n  condition: selection\n"),
               det("  selection:\n    ParentImage|endswith: '\\x.exe'\n    CommandLine|contains: y\n  condition: selection\n")});
  c.push_back({"technique-without-tactic", with_tags("  - attack.t1059\n"),
               with_tags("  - attack.execution\n  - attack.t1059\n  - attack.stealth\n  - attack.t1027\n")});
  return c;
}

TEST(Lint, EveryCheckTripsAndStaysQuiet) {
  LintConfig all;  // the off-by-default checks too
  for (const auto& check : lint_checks())
    if (!check.enabled_by_default) all.enable.insert(std::string(check.id));
  EXPECT_FALSE(all.enable.empty());
  std::set<std::string> covered;
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.check);
    ASSERT_NE(find_lint_check(c.check), nullptr);
    auto trips = lint(c.trips, all);
    EXPECT_GE(count(trips, c.check), 1u) << render(c.trips) << dump(trips);
    auto clean = lint(c.clean, all);
    EXPECT_EQ(count(clean, c.check), 0u) << render(c.clean) << dump(clean);
    covered.insert(c.check);
  }
  // The corpus-wide checks are tested below; load-error by the CLI test.
  for (const char* id : {"duplicate-id", "duplicate-title", "duplicate-filename", "filename-length", "load-error",
                         "duplicate-name", "correlation-reference", "correlation-status", "correlation-alias",
                         "misplaced-generate", "empty-file"})
    covered.insert(id);
  for (const auto& check : lint_checks()) EXPECT_TRUE(covered.count(std::string(check.id))) << check.id;
}

TEST(Lint, OffByDefault) {
  auto rule = with_detection("  sel_a:\n    Image|endswith: '\\cmd.exe'\n  sel_b:\n    CommandLine|contains: x\n"
                             "  condition: all of them\n");
  EXPECT_EQ(count(lint(rule), "all-of-them"), 0u);
  LintConfig config;
  ASSERT_FALSE(parse_lint_config("enable: [all-of-them]\n", "lint.yml", config));
  EXPECT_EQ(count(lint(rule, config), "all-of-them"), 1u);
}

TEST(Lint, CorpusWideChecks) {
  RuleText a, b;
  b.title = "Another rule";
  auto same_id = lint_texts({{"rules/proc_creation_one.yml", render(a)}, {"rules/proc_creation_two.yml", render(b)}});
  EXPECT_EQ(count(same_id, "duplicate-id"), 2u) << dump(same_id);
  EXPECT_EQ(count(same_id, "duplicate-title"), 0u);
  b.id = "5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5f";
  auto distinct = lint_texts({{"rules/proc_creation_one.yml", render(a)}, {"rules/proc_creation_two.yml", render(b)}});
  EXPECT_EQ(count(distinct, "duplicate-id"), 0u) << dump(distinct);

  b.title = a.title;
  auto same_title = lint_texts({{"rules/proc_creation_one.yml", render(a)}, {"rules/proc_creation_two.yml", render(b)}});
  EXPECT_EQ(count(same_title, "duplicate-title"), 2u) << dump(same_title);

  auto same_name = lint_texts({{"a/proc_creation_one.yml", render(a)}, {"b/proc_creation_one.yml", render(b)}});
  EXPECT_EQ(count(same_name, "duplicate-filename"), 2u) << dump(same_name);
  EXPECT_EQ(count(distinct, "duplicate-filename"), 0u);

  auto short_name = lint_texts({{"rules/a.yml", render(a)}});
  EXPECT_EQ(count(short_name, "filename-length"), 1u);
  EXPECT_EQ(count(lint(a), "filename-length"), 0u);
}

TEST(Lint, SemanticAnalysis) {
  auto det = with_detection;
  // 'not (a and b)' is not a filter of a alone.
  auto demorgan = lint(det("  selection:\n    Image|endswith: '\\svchost.exe'\n  svchost:\n    Image|endswith: '\\svchost.exe'\n"
                           "  nocmd:\n    CommandLine: null\n  condition: selection and not (svchost and nocmd)\n"));
  EXPECT_EQ(count(demorgan, "filter-covers-selection"), 0u) << dump(demorgan);
  EXPECT_EQ(count(demorgan, "never-matches"), 0u) << dump(demorgan);
  // Numeric ranges.
  auto ranges = lint(det("  sel:\n    ProcessId|gt: 10\n  low:\n    ProcessId|lt: 5\n  condition: sel and low\n"));
  EXPECT_EQ(count(ranges, "contradictory-equality"), 1u) << dump(ranges);
  EXPECT_EQ(count(ranges, "never-matches"), 1u) << dump(ranges);
  auto overlap = lint(det("  sel:\n    ProcessId|gt: 10\n  low:\n    ProcessId|lt: 50\n  condition: sel and low\n"));
  EXPECT_EQ(count(overlap, "contradictory-equality"), 0u) << dump(overlap);
  // Case: 'CMD.EXE' and 'cmd.exe' are one value without cased.
  auto cased = lint(det("  sel:\n    Image|endswith: 'CMD.EXE'\n  sel2:\n    Image|endswith: '\\cmd.exe'\n  condition: sel and sel2\n"));
  EXPECT_EQ(count(cased, "contradictory-equality"), 0u) << dump(cased);
  // A filter inside a list of alternatives covers only when it covers every branch.
  auto partial = lint(det("  selection:\n    - Image|endswith: '\\cmd.exe'\n    - Image|endswith: '\\pwsh.exe'\n"
                          "  filter:\n    Image|endswith: '\\cmd.exe'\n  condition: selection and not filter\n"));
  EXPECT_EQ(count(partial, "filter-covers-selection"), 0u) << dump(partial);
  auto full = lint(det("  selection:\n    - Image|endswith: '\\cmd.exe'\n    - Image: 'C:\\x\\cmd.exe'\n"
                       "  filter:\n    Image|contains: 'cmd.exe'\n  condition: selection and not filter\n"));
  EXPECT_EQ(count(full, "filter-covers-selection"), 1u) << dump(full);
  EXPECT_EQ(count(full, "never-matches"), 1u) << dump(full);
  // neq contradicting an equality in the same selection.
  auto neq = lint(det("  sel:\n    Image: 'C:\\a.exe'\n    Image|neq: 'C:\\a.exe'\n  condition: sel\n"));
  EXPECT_EQ(count(neq, "never-matches"), 1u) << dump(neq);
  // exists: false with a value on the same field.
  auto exists = lint(det("  sel:\n    Image|endswith: '\\a.exe'\n  gone:\n    Image|exists: false\n  condition: sel and gone\n"));
  EXPECT_EQ(count(exists, "never-matches"), 1u) << dump(exists);
  // Positions name the line of the second predicate.
  auto eq = lint(det("  sel_a:\n    EventID: 1\n  sel_b:\n    EventID: 4688\n  condition: sel_a and sel_b\n"));
  ASSERT_EQ(count(eq, "contradictory-equality"), 1u) << dump(eq);
  for (const auto& f : eq)
    if (f.check == "contradictory-equality") {
      EXPECT_GT(f.line, 1);
    }
}

TEST(Lint, Config) {
  LintConfig config;
  EXPECT_FALSE(parse_lint_config("disable: [unknown-field]\nexclude:\n  dangling-detection: [5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5a]\n"
                                 "severity:\n  technique-without-tactic: error\n",
                                 "lint.yml", config));
  RuleText r = with_detection("  selection:\n    FooBar: x\n  unused:\n    Image: x\n  condition: selection\n");
  r.tags = "  - attack.t1059\n";
  auto f = lint(r, config);
  EXPECT_EQ(count(f, "unknown-field"), 0u);
  EXPECT_EQ(count(f, "dangling-detection"), 0u);
  ASSERT_EQ(count(f, "technique-without-tactic"), 1u);
  for (const auto& x : f)
    if (x.check == "technique-without-tactic") {
      EXPECT_EQ(x.severity, LintSeverity::Error);
    }
  auto defaults = lint(r);
  EXPECT_EQ(count(defaults, "unknown-field"), 1u);
  EXPECT_EQ(count(defaults, "dangling-detection"), 1u);

  LintConfig bad;
  auto err = parse_lint_config("disable: [no-such-check]\n", "lint.yml", bad);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("no-such-check"), std::string::npos);
  EXPECT_NE(err->find("lint.yml:1"), std::string::npos);
  EXPECT_TRUE(parse_lint_config("severity:\n  never-matches: fatal\n", "lint.yml", bad));
  EXPECT_TRUE(parse_lint_config("disables: []\n", "lint.yml", bad));
  EXPECT_TRUE(parse_lint_config("- a\n", "lint.yml", bad));
  EXPECT_FALSE(parse_lint_config("", "lint.yml", bad));
}

// The CLI: formats, config, exit codes.
class LintCli : public ::testing::Test {
 protected:
  void SetUp() override {
    RuleText warn = with_detection("  selection:\n    Image|endswith: '\\cmd.exe'\n  unused:\n    Image: x\n  condition: selection\n");
    warn_rule = dir.write("rules/proc_creation_win_warning.yml", render(warn)).string();
    RuleText clean;
    clean.id = "5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5c";
    clean.title = "Clean rule";
    clean_rule = dir.write("clean/proc_creation_win_clean.yml", render(clean)).string();
    RuleText error = with_detection("  sel_a:\n    EventID: 1\n  sel_b:\n    EventID: 2\n  condition: sel_a and sel_b\n");
    error.id = "5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5d";
    error.title = "Error rule";
    error_rule = dir.write("errors/proc_creation_win_error.yml", render(error)).string();
    broken_rule = dir.write("broken/proc_creation_win_broken.yml", "title: Broken\ndetection: [\n").string();
  }
  TempDir dir;
  std::string warn_rule, clean_rule, error_rule, broken_rule;
};

TEST_F(LintCli, ExitCodes) {
  EXPECT_EQ(run_cli({"check", clean_rule}).exit_code, 0);
  auto warn = run_cli({"check", warn_rule});
  EXPECT_EQ(warn.exit_code, 0) << warn.out << warn.err;  // warnings pass the default fail level
  EXPECT_NE(warn.out.find("warning[dangling-detection]"), std::string::npos) << warn.out;
  EXPECT_EQ(run_cli({"check", "--fail-level", "warning", warn_rule}).exit_code, 1);
  EXPECT_EQ(run_cli({"check", error_rule}).exit_code, 1);
  EXPECT_EQ(run_cli({"check", "--fail-level", "none", error_rule}).exit_code, 0);
  auto broken = run_cli({"check", "--fail-level", "none", broken_rule});
  EXPECT_EQ(broken.exit_code, 1) << broken.err;  // load failures stay exit 1
  EXPECT_EQ(run_cli({"check", (dir.path() / "missing").string()}).exit_code, 2);
  EXPECT_EQ(run_cli({"check", "--format", "xml", clean_rule}).exit_code, 2);
  EXPECT_EQ(run_cli({"check", "--list-checks"}).exit_code, 0);
  auto help = run_cli({"check", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit status"), std::string::npos) << help.out;
}

TEST_F(LintCli, ExclusionMatchingNoRuleIsWarned) {
  // A typo in the file name: the finding it was meant to hide stays, and the
  // entry is named with its line.
  auto config = dir.write("exclude.yml", "exclude:\n  never-matches:\n    - proc_creation_win_eror.yml\n"
                                         "  contradictory-equality: [Error rule]\n  '*': ['rules/*']\n");
  auto r = run_cli({"check", "--config", config.string(), error_rule});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("error[never-matches]"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find(config.string() + ":3: warning: exclude entry 'proc_creation_win_eror.yml' of "
                                          "'never-matches' matches no loaded rule"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(config.string() + ":5: warning: exclude entry 'rules/*' of '*' matches no loaded rule"),
            std::string::npos)
      << r.err;
  // The title entry matched the rule, so it is not named.
  EXPECT_EQ(r.err.find("'Error rule'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("contradictory-equality"), std::string::npos) << r.out;
}

TEST_F(LintCli, OneRuleSummaryIsSingular) {
  // One rule that loads and one document that does not.
  const std::string rules = (dir.path() / "one").string();
  dir.write("one/proc_creation_win_clean.yml", render(RuleText{}));
  dir.write("one/proc_creation_win_broken.yml", "title: Broken\nlogsource: [\n");
  auto r = run_cli({"check", rules});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(" in 1 rule; 1 rule document failed to load"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("loaded 1 rule from 2 files in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checked 1 rule in "), std::string::npos) << r.err;
}

TEST_F(LintCli, Config) {
  auto config = dir.write("lint.yml", "disable: [dangling-detection]\n");
  auto r = run_cli({"check", "--fail-level", "warning", "--config", config.string(), warn_rule});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto exclude = dir.write("exclude.yml", "exclude:\n  never-matches: [proc_creation_win_error.yml]\n"
                                          "  contradictory-equality: [5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5d]\n");
  r = run_cli({"check", "--config", exclude.string(), error_rule});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto bad = dir.write("bad.yml", "enable: [not-a-check]\n");
  r = run_cli({"check", "--config", bad.string(), clean_rule});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not-a-check"), std::string::npos) << r.err;
  r = run_cli({"check", "--config", (dir.path() / "none.yml").string(), clean_rule});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(LintCli, Json) {
  auto r = run_cli({"check", "--format", "json", (dir.path() / "rules").string(), (dir.path() / "errors").string(),
                    (dir.path() / "broken").string()});
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["summary"]["files"], 3);
  EXPECT_EQ(j["summary"]["by_check"]["dangling-detection"], 1);
  EXPECT_EQ(j["summary"]["by_check"]["never-matches"], 1);
  EXPECT_GE(j["summary"]["by_check"]["load-error"].get<int>(), 1);
  for (const auto& f : j["findings"]) {
    for (const char* key : {"check", "severity", "file", "line", "column", "rule_id", "message", "hint"})
      EXPECT_TRUE(f.contains(key)) << key;
  }
}

// A condition naming a selection that does not exist is one finding, not a
// dangling-condition plus a load-error, and the text, JSON and SARIF reports
// list and count the same findings, load errors included.
TEST_F(LintCli, EveryFormatCountsSameFindings) {
  RuleText dangling = with_detection("  selection:\n    Image|endswith: '\\cmd.exe'\n  condition: selection and missing\n");
  dangling.id = "5b2c5f2e-9a1c-4f7e-8d5b-1f0e2d3c4b5e";
  dangling.title = "Dangling rule";
  dir.write("mixed/proc_creation_win_dangling.yml", render(dangling));
  dir.write("mixed/proc_creation_win_broken.yml", "title: Broken\ndetection: [\n");
  const std::string rules = (dir.path() / "mixed").string();

  auto text = run_cli({"check", rules});
  EXPECT_EQ(text.exit_code, 1) << text.out << text.err;
  auto occurrences = [](const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(occurrences(text.out, "[dangling-condition]"), 1u) << text.out;
  EXPECT_EQ(occurrences(text.out, "[load-error]"), 1u) << text.out;  // the broken file only
  EXPECT_EQ(occurrences(text.out, "'missing'"), 1u) << text.out;  // the compile error is not repeated
  EXPECT_NE(text.out.find("2 findings (2 errors, 0 warnings, 0 info) in 1 rule; 2 rule documents failed to load"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("  dangling-condition"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  load-error"), std::string::npos) << text.out;
  // Each problem is printed once: in the report, not again on stderr.
  EXPECT_EQ(text.err.find("error:"), std::string::npos) << text.err;

  auto json = run_cli({"check", "--format", "json", rules});
  EXPECT_EQ(json.exit_code, 1) << json.err;
  auto report = nlohmann::json::parse(json.out);
  EXPECT_EQ(report["summary"]["findings"], 2);
  EXPECT_EQ(report["findings"].size(), 2u);
  EXPECT_EQ(report["summary"]["by_check"]["dangling-condition"], 1);
  EXPECT_EQ(report["summary"]["by_check"]["load-error"], 1);

  auto sarif = run_cli({"check", "--format", "sarif", rules});
  EXPECT_EQ(sarif.exit_code, 1) << sarif.err;
  const auto results = nlohmann::json::parse(sarif.out)["runs"][0]["results"];
  ASSERT_EQ(results.size(), 2u) << results.dump(1);
  std::multiset<std::string> ids;
  for (const auto& result : results) ids.insert(result["ruleId"].get<std::string>());
  EXPECT_EQ(ids, (std::multiset<std::string>{"dangling-condition", "load-error"}));
}

TEST_F(LintCli, Sarif) {
  auto out = dir.path() / "report.sarif";
  auto r = run_cli({"check", "--format", "sarif", "-o", out.string(), (dir.path() / "rules").string(),
                    (dir.path() / "errors").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto j = nlohmann::json::parse(testing::read_file(out));
  EXPECT_EQ(j["version"], "2.1.0");
  EXPECT_EQ(j["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
  ASSERT_EQ(j["runs"].size(), 1u);
  const auto& run = j["runs"][0];
  const auto& driver = run["tool"]["driver"];
  EXPECT_EQ(driver["name"], "sigscope");
  EXPECT_EQ(driver["rules"].size(), lint_checks().size());
  std::set<std::string> rule_ids;
  for (const auto& rule : driver["rules"]) {
    ASSERT_TRUE(rule["id"].is_string());
    ASSERT_TRUE(rule["shortDescription"]["text"].is_string());
    ASSERT_TRUE(rule["help"]["text"].is_string());
    rule_ids.insert(rule["id"]);
  }
  ASSERT_GE(run["results"].size(), 2u);
  std::set<std::string> levels = {"error", "warning", "note", "none"};
  for (const auto& res : run["results"]) {
    ASSERT_TRUE(rule_ids.count(res["ruleId"].get<std::string>()));
    EXPECT_EQ(driver["rules"][res["ruleIndex"].get<int>()]["id"], res["ruleId"]);
    EXPECT_TRUE(levels.count(res["level"].get<std::string>()));
    EXPECT_TRUE(res["message"]["text"].is_string());
    const auto& loc = res["locations"][0]["physicalLocation"];
    EXPECT_TRUE(loc["artifactLocation"]["uri"].is_string());
    EXPECT_GE(loc["region"]["startLine"].get<int>(), 1);
    if (loc["region"].contains("startColumn")) {
      EXPECT_GE(loc["region"]["startColumn"].get<int>(), 1);
    }
  }
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(LintTrial, DeadBranchOfALiveRuleIsAWarning) {
  // Found by a trial: the rule matches '-s' and '\' in either argument. Only
  // the combinations that test one argument twice are dead, so the rule must
  // not fail CI.
  testing::TempDir dir;
  auto rule = dir.write("proc_creation_lnx_two_args_any_position.yml",
                        "title: Sudoedit With Dash S And Backslash In Any Argument\n"
                        "id: 0c000000-0000-4000-8000-000000000001\nstatus: test\n"
                        "description: Matches '-s' in one argument and '\\' in another.\nauthor: Trial User\n"
                        "date: 2025-01-01\ntags:\n    - attack.privilege-escalation\n    - attack.t1068\n"
                        "logsource:\n    product: linux\n    service: auditd\n"
                        "detection:\n    cmd_base:\n        type: 'EXECVE'\n        a0: '/usr/bin/sudoedit'\n"
                        "    cmd_s:\n        - a1: '-s'\n        - a2: '-s'\n"
                        "    cmd_backslash:\n        - a1: '\\'\n        - a2: '\\'\n"
                        "    condition: all of cmd_*\nlevel: high\n");
  auto r = testing::run_cli({"check", "--format", "json", rule.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("contradictory-equality"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("never-matches"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(LintTrial, ControlAndBidiCharactersInMetadata) {
  // Found by a trial: ESC in a title and U+202E in a description passed
  // without a finding, while the catalog showed "gnp.exe" as "exe.png".
  testing::TempDir dir;
  auto rule = dir.write("proc_creation_win_hidden_characters.yml",
                        "title: \"Hidden \\e[31m colour\"\nid: 0c000000-0000-4000-8000-000000000002\nstatus: test\n"
                        "description: \"Looks like \\u202Egnp.exe\"\nauthor: Trial User\ndate: 2025-01-01\n"
                        "tags:\n    - attack.execution\n    - attack.t1059\n"
                        "logsource:\n    product: windows\n    category: process_creation\n"
                        "detection:\n    sel:\n        Image|endswith: '\\x.exe'\n    condition: sel\nlevel: high\n");
  auto r = testing::run_cli({"check", "--format", "json", rule.string()});
  EXPECT_NE(r.out.find("title holds a control character U+001B"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("description holds a bidirectional control U+202E"), std::string::npos) << r.out;
  auto clean = dir.write("proc_creation_win_clean_text.yml",
                         "title: Plain title\nid: 0c000000-0000-4000-8000-000000000003\nstatus: test\n"
                         "description: |\n    Two lines\n    \twith a tab.\nauthor: Trial User\ndate: 2025-01-01\n"
                         "tags:\n    - attack.execution\n    - attack.t1059\n"
                         "logsource:\n    product: windows\n    category: process_creation\n"
                         "detection:\n    sel:\n        Image|endswith: '\\x.exe'\n    condition: sel\nlevel: high\n");
  auto ok = testing::run_cli({"check", "--format", "json", clean.string()});
  EXPECT_EQ(ok.out.find("control-character"), std::string::npos) << ok.out;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(LintTrial, TerminalOutputCarriesNoEscapeSequences) {
  // Found by a trial: check's text report and explain printed ESC sequences
  // from a rule's id, title and tags, which a terminal would act on.
  testing::TempDir dir;
  auto rule = dir.write("proc_creation_win_term_escape.yml",
                        "title: \"Red \\e[31m title\"\nid: \"red-\\e[31m-id\"\nstatus: test\n"
                        "description: x\nauthor: Trial User\ndate: 2025-01-01\n"
                        "tags:\n    - \"attack.\\e[41mexecution\"\n"
                        "logsource:\n    product: windows\n    category: process_creation\n"
                        "detection:\n    sel:\n        Image|endswith: '\\x.exe'\n    condition: sel\nlevel: high\n");
  auto check = testing::run_cli({"check", rule.string()});
  EXPECT_EQ(check.out.find('\x1b'), std::string::npos) << check.out;
  EXPECT_EQ(check.err.find('\x1b'), std::string::npos) << check.err;
  EXPECT_NE(check.out.find("control-character"), std::string::npos) << check.out;
  auto explain = testing::run_cli({"explain", rule.string()});
  EXPECT_EQ(explain.out.find('\x1b'), std::string::npos) << explain.out;
  EXPECT_NE(explain.out.find("Red \\x1b[31m title"), std::string::npos) << explain.out;
}

TEST(Lint, CorrelationReferencesAndSharedNames) {
  // check passed correlations that hunt could not run, and names that
  // several rules shared.
  const std::string base = "logsource:\n  product: test\ndetection:\n  sel:\n    x: 1\n  condition: sel\n";
  auto findings = lint_texts(
      {{"a.yml", "title: A\nid: 34000000-0000-4000-8000-000000000001\nname: dup\n" + base},
       {"b.yml", "title: B\nid: 34000000-0000-4000-8000-000000000002\nname: dup\n" + base},
       {"c.yml", "title: C\nid: 34000000-0000-4000-8000-000000000003\ncorrelation:\n  type: event_count\n"
                 "  rules: [missing]\n  timespan: 1h\n  condition:\n    gte: 2\n"},
       {"d.yml", "title: D\nid: 34000000-0000-4000-8000-000000000004\ncorrelation:\n  type: event_count\n"
                 "  rules: [34000000-0000-4000-8000-000000000001]\n  timespan: 1h\n  condition:\n    gte: 2\n"}});
  EXPECT_EQ(count(findings, "duplicate-name"), 2u) << dump(findings);
  ASSERT_EQ(count(findings, "correlation-reference"), 1u) << dump(findings);
  for (const auto& f : findings)
    if (f.check == "correlation-reference") EXPECT_NE(f.message.find("'missing'"), std::string::npos) << f.message;
}

TEST(Lint, CorrelationOfDeprecatedRule) {
  // hunt skips deprecated and unsupported rules by default, so a correlation
  // over one never fires, and check reported nothing.
  const std::string base = "logsource:\n  product: test\ndetection:\n  sel:\n    x: 1\n  condition: sel\n";
  const std::string correlation = "correlation:\n  type: event_count\n  rules:\n    - old_logon\n    - "
                                  "35000000-0000-4000-8000-000000000003\n  timespan: 1h\n  condition:\n    gte: 2\n";
  auto findings = lint_texts(
      {{"old.yml", "title: Old logon\nid: 35000000-0000-4000-8000-000000000001\nname: old_logon\nstatus: deprecated\n" + base},
       {"gone.yml", "title: Gone\nid: 35000000-0000-4000-8000-000000000003\nstatus: unsupported\n" + base},
       {"active.yml", "title: Active\nid: 35000000-0000-4000-8000-000000000002\nname: active_logon\nstatus: test\n" + base},
       {"corr.yml", "title: Many old logons\nid: 35000000-0000-4000-8000-000000000004\nstatus: test\n" + correlation},
       {"corr_old.yml", "title: Retired correlation\nid: 35000000-0000-4000-8000-000000000005\nstatus: deprecated\n" +
                            correlation},
       {"corr_ok.yml", "title: Many logons\nid: 35000000-0000-4000-8000-000000000006\ncorrelation:\n"
                       "  type: event_count\n  rules: [active_logon]\n  timespan: 1h\n  condition:\n    gte: 2\n"}});
  ASSERT_EQ(count(findings, "correlation-status"), 2u) << dump(findings);
  std::vector<const LintFinding*> found;
  for (const auto& f : findings)
    if (f.check == "correlation-status") found.push_back(&f);
  EXPECT_EQ(found[0]->file, "corr.yml");
  EXPECT_EQ(found[0]->severity, LintSeverity::Warning);
  EXPECT_EQ(found[0]->line, 7) << "points at the reference in the rules list";
  EXPECT_NE(found[0]->message.find("'Many old logons'"), std::string::npos) << found[0]->message;
  EXPECT_NE(found[0]->message.find("'old_logon' (old.yml:1)"), std::string::npos) << found[0]->message;
  EXPECT_NE(found[0]->message.find("deprecated"), std::string::npos) << found[0]->message;
  EXPECT_NE(found[0]->hint.find("maintained rule"), std::string::npos) << found[0]->hint;
  EXPECT_EQ(found[1]->file, "corr.yml");
  EXPECT_NE(found[1]->message.find("unsupported"), std::string::npos) << found[1]->message;

  LintConfig off;
  ASSERT_FALSE(parse_lint_config("disable: [correlation-status]\n", "lint.yml", off));
  EXPECT_EQ(count(lint_texts({{"old.yml", "title: Old\nid: 35000000-0000-4000-8000-000000000001\nname: old_logon\n"
                                          "status: deprecated\n" + base},
                              {"corr.yml", "title: C\nid: 35000000-0000-4000-8000-000000000004\n" + correlation}},
                             off),
                  "correlation-status"),
            0u);
}

// An alias entry keyed by a rule the correlation does not list is never
// used, so hunt reads share_access's events by the alias name, "user".
TEST(Lint, CorrelationAliasOfUnlistedRule) {
  const std::string base = "logsource:\n  product: test\ndetection:\n  sel:\n    x: 1\n  condition: sel\n";
  const std::vector<std::pair<std::string, std::string>> rules = {
      {"logon.yml", "title: Logon\nid: 36000000-0000-4000-8000-000000000001\nname: logon\n" + base},
      {"share.yml", "title: Share\nid: 36000000-0000-4000-8000-000000000002\nname: share_access\n" + base},
      {"other.yml", "title: Other\nid: 36000000-0000-4000-8000-000000000003\nname: other\n" + base},
  };
  auto correlation = [](const std::string& aliased_rule) {
    return "title: Logon then share\nid: 36000000-0000-4000-8000-000000000004\ncorrelation:\n  type: temporal\n"
           "  rules:\n    - logon\n    - share_access\n  aliases:\n    user:\n      logon: TargetUserName\n      " +
           aliased_rule + ": SubjectUserName\n  group-by:\n    - user\n  timespan: 1h\n  condition:\n    gte: 2\n";
  };
  auto with = [&](const std::string& aliased_rule) {
    auto files = rules;
    files.emplace_back("corr.yml", correlation(aliased_rule));
    return lint_texts(files);
  };

  // A typo, another loaded rule, and a rule that is not loaded at all while
  // every listed rule is.
  for (const char* unlisted : {"share_acess", "other", "missing_rule"}) {
    SCOPED_TRACE(unlisted);
    auto findings = with(unlisted);
    ASSERT_EQ(count(findings, "correlation-alias"), 1u) << dump(findings);
    const LintFinding* f = nullptr;
    for (const auto& finding : findings)
      if (finding.check == "correlation-alias") f = &finding;
    EXPECT_EQ(f->file, "corr.yml");
    EXPECT_EQ(f->severity, LintSeverity::Warning);
    EXPECT_EQ(f->line, 11) << "points at the alias entry";
    EXPECT_NE(f->message.find("alias 'user'"), std::string::npos) << f->message;
    EXPECT_NE(f->message.find("'" + std::string(unlisted) + "'"), std::string::npos) << f->message;
  }

  // A listed rule keyed by its name or by its id is fine.
  EXPECT_EQ(count(with("share_access"), "correlation-alias"), 0u);
  EXPECT_EQ(count(with("36000000-0000-4000-8000-000000000002"), "correlation-alias"), 0u);

  // Without the rule files, an unknown key may be the id of a listed rule
  // that is not loaded, so nothing is certain and nothing is reported.
  auto alone = lint_texts({{"corr.yml", correlation("share_acess")}});
  EXPECT_EQ(count(alone, "correlation-alias"), 0u) << dump(alone);

  LintConfig off;
  ASSERT_FALSE(parse_lint_config("disable: [correlation-alias]\n", "lint.yml", off));
  auto files = rules;
  files.emplace_back("corr.yml", correlation("other"));
  EXPECT_EQ(count(lint_texts(files, off), "correlation-alias"), 0u);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(Lint, UnknownWindowsLogsource) {
  // Found by a user test: a typo'd category got no finding, and hunt never
  // sent the rule an event that has a Channel field.
  const std::string typo = "title: Date and category typos\nid: 88888888-0000-4000-8000-00000000000b\nstatus: test\n"
                           "date: 2024-01-01\nlogsource:\n    product: windows\n    category: proces_creation\n"
                           "detection:\n    selection:\n        Image|endswith: '\\whoami.exe'\n"
                           "    condition: selection\nlevel: high\n";
  auto findings = lint_texts({{"date_category_typos.yml", typo}});
  ASSERT_EQ(count(findings, "unknown-logsource"), 1u) << dump(findings);
  const LintFinding& f = findings.front();
  EXPECT_EQ(f.severity, LintSeverity::Warning);
  EXPECT_EQ(f.line, 7);
  EXPECT_NE(f.message.find("category 'proces_creation'"), std::string::npos) << f.message;
  EXPECT_NE(f.hint.find("'category: process_creation'"), std::string::npos) << f.hint;

  auto with_logsource = [](std::string logsource) {
    RuleText r;
    r.logsource = std::move(logsource);
    return lint(r);
  };
  auto service = with_logsource("  product: windows\n  service: sysmn\n");
  ASSERT_EQ(count(service, "unknown-logsource"), 1u) << dump(service);
  EXPECT_NE(service.front().hint.find("'service: sysmon'"), std::string::npos) << service.front().hint;
  // The router compares names case-sensitively, so another case is unknown too.
  auto upper = with_logsource("  category: Process_Creation\n  product: windows\n");
  ASSERT_EQ(count(upper, "unknown-logsource"), 1u) << dump(upper);
  EXPECT_NE(upper.front().hint.find("'category: process_creation'"), std::string::npos) << upper.front().hint;
  // Nothing close: no name is suggested.
  auto far = with_logsource("  product: windows\n  service: smbserver-connectivity\n");
  ASSERT_EQ(count(far, "unknown-logsource"), 1u) << dump(far);
  EXPECT_EQ(far.front().hint.find("closest"), std::string::npos) << far.front().hint;
  // Other products are not routed by these tables. ETW categories are known names.
  EXPECT_EQ(count(with_logsource("  category: proces_creation\n  product: linux\n"), "unknown-logsource"), 0u);
  EXPECT_EQ(count(with_logsource("  category: file_rename\n  product: windows\n"), "unknown-logsource"), 0u);
}

TEST(Lint, UnresolvedPlaceholderAndPipelines) {
  RuleText r = with_detection("  selection:\n    Image|endswith: '\\net.exe'\n    User|expand:\n      - '%Admins%'\n"
                              "      - '%Operators%'\n  condition: selection\n");
  auto findings = lint(r);
  ASSERT_EQ(count(findings, "unresolved-placeholder"), 1u) << dump(findings);
  const LintFinding& f = findings.front();
  EXPECT_EQ(f.severity, LintSeverity::Warning);
  EXPECT_EQ(f.line, 16);  // the User|expand key
  EXPECT_NE(f.message.find("placeholders %Admins%, %Operators% have no value without a pipeline (-p)"),
            std::string::npos)
      << f.message;
  EXPECT_NE(f.hint.find("pass a pipeline with -p that sets %Admins%, %Operators%"), std::string::npos) << f.hint;
  EXPECT_NE(f.hint.find("remove the expand modifier"), std::string::npos) << f.hint;

  auto pipeline = [](const std::string& text) {
    DiagnosticList diagnostics;
    auto p = parse_pipeline(text, "admins.yml", diagnostics);
    EXPECT_TRUE(p.has_value()) << (diagnostics.empty() ? "" : diagnostics.items().front().format());
    return p ? *p : Pipeline{};
  };
  // A pipeline that sets one of the two leaves the other reported.
  LintConfig config;
  config.pipelines = {pipeline("vars:\n  Admins: [alice, bob]\ntransformations:\n  - type: value_placeholders\n")};
  findings = lint(r, config);
  ASSERT_EQ(count(findings, "unresolved-placeholder"), 1u) << dump(findings);
  EXPECT_NE(findings.front().message.find("placeholder %Operators% has no value in the pipelines given with -p"),
            std::string::npos)
      << findings.front().message;
  // Setting both, or replacing every placeholder with a wildcard, leaves nothing to report.
  config.pipelines = {pipeline("vars:\n  Admins: alice\n  Operators: carol\ntransformations:\n"
                               "  - type: value_placeholders\n")};
  EXPECT_EQ(count(lint(r, config), "unresolved-placeholder"), 0u);
  config.pipelines = {pipeline("transformations:\n  - type: wildcard_placeholders\n")};
  EXPECT_EQ(count(lint(r, config), "unresolved-placeholder"), 0u);
}

TEST_F(LintCli, PipelineSetsPlaceholder) {
  RuleText r = with_detection("  selection:\n    User|expand: '%Admins%'\n  condition: selection\n");
  const auto rule = dir.write("placeholder/proc_creation_win_admins.yml", render(r));
  auto without = run_cli({"check", rule.string()});
  EXPECT_EQ(without.exit_code, 0) << without.out << without.err;
  EXPECT_NE(without.out.find("warning[unresolved-placeholder]: placeholder %Admins% has no value"),
            std::string::npos)
      << without.out;
  const auto admins = dir.write("admins.yml", "vars:\n  Admins: alice\ntransformations:\n  - type: value_placeholders\n");
  auto with = run_cli({"check", "-p", admins.string(), rule.string()});
  EXPECT_EQ(with.exit_code, 0) << with.out << with.err;
  EXPECT_EQ(with.out.find("unresolved-placeholder"), std::string::npos) << with.out;
  auto missing = run_cli({"check", "-p", (dir.path() / "none.yml").string(), rule.string()});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("cannot load the processing pipelines"), std::string::npos) << missing.err;
}

TEST(Lint, MisspelledLogsourceKeySuggestsKey) {
  // A typo'd key beside a valid one: the rule loads, and the finding names
  // the key, its line and the key it was meant to be.
  RuleText r;
  r.logsource = "  categroy: process_creation\n  product: windows\n";
  auto findings = lint(r);
  ASSERT_EQ(count(findings, "logsource-keys"), 1u) << dump(findings);
  const LintFinding& f = findings.front();
  EXPECT_EQ(f.line, 8);
  EXPECT_EQ(f.column, 3);
  EXPECT_NE(f.message.find("'categroy'"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("misspelling of 'category'"), std::string::npos) << f.message;
  EXPECT_NE(f.hint.find("rename 'categroy' to 'category'"), std::string::npos) << f.hint;

  // A key far from every valid one gets no suggestion.
  r.logsource = "  category: process_creation\n  product: windows\n  vendor: microsoft\n";
  findings = lint(r);
  ASSERT_EQ(count(findings, "logsource-keys"), 1u) << dump(findings);
  EXPECT_EQ(findings.front().message.find("misspelling"), std::string::npos) << findings.front().message;
}

TEST(Lint, LogsourceOfOnlyMisspelledKeysNamesKey) {
  // The only key is a typo, so the logsource is empty and the rule fails to
  // load: the error points at the key and names the valid one.
  RuleText r;
  r.logsource = "  prodcut: windows\n";
  DiagnosticList diagnostics;
  auto rules = load_rules_from_text(render(r), "typo.yml", diagnostics);
  EXPECT_TRUE(rules.empty());
  ASSERT_EQ(diagnostics.error_count(), 1u);
  const Diagnostic& d = diagnostics.items().front();
  EXPECT_EQ(d.line, 8);
  EXPECT_EQ(d.column, 3);
  EXPECT_NE(d.message.find("'prodcut' looks like a misspelling of 'product'"), std::string::npos) << d.message;
  EXPECT_NE(d.hint.find("rename 'prodcut' to 'product'"), std::string::npos) << d.hint;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(Lint, LoaderWarningsAsFindings) {
  // The loader's own warnings: a correlation's misplaced generate and a file without a document.
  auto generate = lint_texts({{"corr.yml", "title: C\nid: 36000000-0000-4000-8000-000000000001\nlevel: low\n"
                                           "generate: true\ncorrelation:\n  type: event_count\n  rules: [x]\n"
                                           "  timespan: 1h\n  condition:\n    gte: 2\n"}});
  EXPECT_EQ(count(generate, "misplaced-generate"), 1u) << dump(generate);
  auto empty = lint_texts({{"empty_rule_file.yml", "# nothing yet\n"}});
  ASSERT_EQ(count(empty, "empty-file"), 1u) << dump(empty);
  EXPECT_EQ(empty.front().file, "empty_rule_file.yml");

  // A problem that a lint check and the loader both see is reported once.
  RuleText no_id;
  no_id.id.clear();
  EXPECT_EQ(count(lint(no_id), "missing-id"), 1u) << dump(lint(no_id));
  auto twice = lint(with_detection("  selection:\n    CommandLine|contains|contains: a\n    Image|all: x\n"
                                   "  unused:\n    Image: y\n  condition: selection\n"));
  EXPECT_EQ(count(twice, "repeated-modifier"), 1u) << dump(twice);
  EXPECT_EQ(count(twice, "all-single-value"), 1u) << dump(twice);
  EXPECT_EQ(count(twice, "dangling-detection"), 1u) << dump(twice);
  // sigscope applies base64 once, so its repetition is reported too (by the compiler's warning).
  auto base64 = lint(with_detection("  selection:\n    CommandLine|base64|base64|contains: a\n  condition: selection\n"));
  EXPECT_EQ(count(base64, "repeated-modifier"), 1u) << dump(base64);

  // The configuration applies to them like to every check.
  RuleText typo;
  typo.level = "hihg";
  LintConfig config;
  ASSERT_FALSE(parse_lint_config("severity:\n  unknown-level: error\n", "lint.yml", config));
  auto graded = lint(typo, config);
  ASSERT_EQ(count(graded, "unknown-level"), 1u) << dump(graded);
  for (const auto& f : graded)
    if (f.check == "unknown-level") {
      EXPECT_EQ(f.severity, LintSeverity::Error);
      EXPECT_EQ(f.title, "Test rule");
      EXPECT_EQ(f.line, 17) << "the level line";
    }
  LintConfig off;
  ASSERT_FALSE(parse_lint_config("disable: [unknown-level]\n", "lint.yml", off));
  EXPECT_EQ(count(lint(typo, off), "unknown-level"), 0u);
  LintConfig excluded;
  ASSERT_FALSE(parse_lint_config("exclude:\n  unknown-level: [proc_creation_win_test_rule.yml]\n", "lint.yml", excluded));
  EXPECT_EQ(count(lint(typo, excluded), "unknown-level"), 0u);
}

TEST(LintTrial, LoaderWarningsFailCheck) {
  // Found by a user test: an unknown level or status, an id that is no UUID
  // and an obsolete '| near' aggregation (a rule hunt does not run) were only
  // printed on stderr, so the JSON and SARIF reports missed them and
  // --fail-level warning passed.
  testing::TempDir dir;
  auto level = dir.write("r3/level_typo_rule.yml",
                         "title: Date and category typos\nid: 88888888-0000-4000-8000-00000000000b\nstatus: test\n"
                         "date: 2024-01-01\n\nlogsource:\n    product: windows\n    category: process_creation\n"
                         "detection:\n    selection:\n        Image|endswith: '\\whoami.exe'\n"
                         "    condition: selection\nlevel: hihg\n");
  dir.write("rules/misc_mistakes_rule.yml",
            "title: Misc mistakes\nid: not-a-uuid\nstatus: tset\ndate: 2024-01-01\n"
            "logsource:\n    product: windows\n    category: process_creation\n"
            "detection:\n    selection:\n        Image|endswith: 'C:\\temp\\x.exe'\n    condition: selection\n"
            "level: hihg\n");
  dir.write("rules/cond_case_2.yml",
            "title: Cond case 2\nid: 88888888-0000-4000-8001-000000000002\nstatus: test\n"
            "logsource:\n    product: windows\n    category: process_creation\n"
            "detection:\n    selection:\n        Image|endswith: '\\cmd.exe'\n    filter:\n        User: SYSTEM\n"
            "    condition: selection | near filter\nlevel: high\n");
  const std::string rules = (dir.path() / "rules").string();

  auto text = testing::run_cli({"check", "--fail-level", "warning", level.string()});
  EXPECT_EQ(text.exit_code, 1) << text.out << text.err;
  EXPECT_NE(text.out.find("warning[unknown-level]: unknown level 'hihg'"), std::string::npos) << text.out;
  EXPECT_EQ(text.err.find("hihg"), std::string::npos) << "reported once, in the report: " << text.err;

  auto json = testing::run_cli({"check", "--format", "json", level.string(), rules});
  EXPECT_EQ(json.exit_code, 1) << json.err;  // obsolete-aggregation is an error
  auto j = nlohmann::json::parse(json.out);
  const auto& by = j["summary"]["by_check"];
  EXPECT_EQ(by.value("unknown-level", 0), 2) << by.dump();
  EXPECT_EQ(by.value("unknown-status", 0), 1) << by.dump();
  EXPECT_EQ(by.value("id-format", 0), 1) << by.dump();
  EXPECT_EQ(by.value("obsolete-aggregation", 0), 1) << by.dump();
  EXPECT_EQ(by.value("dangling-detection", 0), 1) << "compiler and lint see 'filter' unused: " << by.dump();
  for (const auto& f : j["findings"])
    if (f["check"] == "obsolete-aggregation") {
      EXPECT_EQ(f["severity"], "error");
      EXPECT_NE(f["message"].get<std::string>().find("'| near filter'"), std::string::npos) << f.dump();
      EXPECT_EQ(f["line"], 12);
    }

  auto sarif = testing::run_cli({"check", "--format", "sarif", level.string(), rules});
  auto s = nlohmann::json::parse(sarif.out);
  std::multiset<std::string> ids;
  for (const auto& result : s["runs"][0]["results"]) ids.insert(result["ruleId"].get<std::string>());
  EXPECT_EQ(ids.count("unknown-level"), 2u);
  EXPECT_EQ(ids.count("unknown-status"), 1u);
  EXPECT_EQ(ids.count("id-format"), 1u);
  EXPECT_EQ(ids.count("obsolete-aggregation"), 1u);
}

TEST(LintTrial, DuplicateIdReportedOnce) {
  // load_corpus warns about the second rule with an id, lint reports every rule of the group.
  testing::TempDir dir;
  RuleText a, b;
  b.title = "Another rule";
  dir.write("rules/proc_creation_one.yml", render(a));
  dir.write("rules/proc_creation_two.yml", render(b));
  auto r = testing::run_cli({"check", "--format", "json", (dir.path() / "rules").string()});
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["summary"]["by_check"].value("duplicate-id", 0), 2) << r.out;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(Lint, DatesMustExistInCalendar) {
  // Found by a user test: 'yesterday' got a warning, but 2024-13-45 and
  // 2024/13/45 did not.
  auto date_findings = [](const std::string& date, const std::string& modified) {
    RuleText r;
    r.date = date;
    r.extra = "modified: " + modified + "\n";
    std::vector<LintFinding> out;
    for (auto& f : lint(r))
      if (f.check == "date-format") out.push_back(f);
    return out;
  };
  auto month = date_findings("2024-13-45", "2024/13/45");
  ASSERT_EQ(month.size(), 2u) << dump(month);
  EXPECT_EQ(month[0].message, "date '2024-13-45' is not a calendar date, because there is no month 13");
  EXPECT_EQ(month[1].message, "modified '2024/13/45' is not a calendar date, because there is no month 13");
  EXPECT_EQ(month[0].line, 6) << "points at the date line";

  auto day = date_findings("2023-02-29", "2024-04-31");
  ASSERT_EQ(day.size(), 2u) << dump(day);
  EXPECT_EQ(day[0].message, "date '2023-02-29' is not a calendar date, because 2023-02 has 28 days");
  EXPECT_EQ(day[1].message, "modified '2024-04-31' is not a calendar date, because 2024-04 has 30 days");

  auto shape = date_findings("yesterday", "2024-01/02");
  ASSERT_EQ(shape.size(), 2u) << dump(shape);
  EXPECT_EQ(shape[0].message, "date 'yesterday' is not YYYY-MM-DD");
  EXPECT_EQ(shape[1].message, "modified '2024-01/02' is not YYYY-MM-DD");
  EXPECT_EQ(date_findings("2024-01-00", "2024-01-01").size(), 1u);

  // Leap days and Sigma 1.x's slashes are fine.
  EXPECT_TRUE(date_findings("2024-02-29", "2000/02/29").empty());
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(LintTrial, EachUnknownModifierReported) {
  // Found by a user test: of 'endwith' and 'al' in one rule only 'endwith'
  // was reported, because compiling stopped at the first invalid key.
  testing::TempDir dir;
  auto rule = dir.write("unknown_modifier_rule.yml",
                        "title: Unknown modifier\nid: 88888888-0000-4000-8000-000000000002\nstatus: test\n"
                        "logsource:\n    product: windows\n    category: process_creation\n"
                        "detection:\n    selection:\n        Image|endwith: '\\cmd.exe'\n"
                        "        CommandLine|contains|al:\n            - 'a'\n            - 'b'\n"
                        "    condition: selection\nlevel: high\n");
  // Across selections and the alternatives of a list, too.
  auto spread = dir.write("unknown_modifiers_spread.yml",
                          "title: Unknown modifiers in several selections\nid: 88888888-0000-4000-8000-000000000003\n"
                          "status: test\nlogsource:\n    product: windows\n    category: process_creation\n"
                          "detection:\n    selection:\n        - Image|endwith: '\\cmd.exe'\n"
                          "        - Image|startwith: '\\pwsh.exe'\n    filter:\n        User|cotains: SYSTEM\n"
                          "    condition: selection and not filter\nlevel: high\n");
  auto r = testing::run_cli({"check", "--format", "json", rule.string(), spread.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::vector<std::pair<int, std::string>> errors;
  for (const auto& f : j["findings"])
    if (f["check"] == "load-error") errors.emplace_back(f["line"].get<int>(), f["message"].get<std::string>());
  ASSERT_EQ(errors.size(), 5u) << r.out;
  EXPECT_EQ(errors[0], std::make_pair(9, std::string("unknown modifier 'endwith'")));
  EXPECT_EQ(errors[1], std::make_pair(10, std::string("unknown modifier 'al'")));
  EXPECT_EQ(errors[2], std::make_pair(9, std::string("unknown modifier 'endwith'")));
  EXPECT_EQ(errors[3], std::make_pair(10, std::string("unknown modifier 'startwith'")));
  EXPECT_EQ(errors[4], std::make_pair(12, std::string("unknown modifier 'cotains'")));
  EXPECT_EQ(j["summary"]["rules_failed"], 2);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// The number-as-string fix does not tell a text field to drop its quotes.
TEST(LintHints, NumberAsStringKeepsTextFieldsQuoted) {
  testing::TempDir dir;
  dir.write("r.yml", "title: T\nid: ffffffff-0000-4000-8000-000000000001\nlogsource:\n  product: windows\n"
                     "  category: process_creation\ndetection:\n  sel:\n    ProcessId: '4'\n  condition: sel\n"
                     "level: low\n");
  auto result = testing::run_cli({"check", (dir.path() / "r.yml").string()});
  EXPECT_NE(result.out.find("fix: if ProcessId holds a number, write ProcessId: 4; if it holds text"), std::string::npos)
      << result.out;
}

}  // namespace
}  // namespace sigscope
