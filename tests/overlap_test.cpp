// Overlap analysis on hand-written rule pairs: equivalent normal forms,
// subsumption with its predicate-by-predicate reason, and pairs that look
// alike but must not be reported.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sigscope/analysis/catalog.h"
#include "sigscope/analysis/overlap.h"
#include "sigscope/catalog/overlap_page.h"
#include "test_support.h"

namespace sigscope {
namespace {

std::string rule(const std::string& id, const std::string& detection,
                 const std::string& logsource = "  product: windows\n  category: process_creation\n") {
  return "title: Rule " + id + "\nid: " + id + "\nstatus: test\nlogsource:\n" + logsource + "detection:\n" + detection +
         "level: low\n";
}

std::vector<CompiledRule> compile(const std::vector<std::string>& docs) {
  std::string text;
  for (const auto& d : docs) text += (text.empty() ? "" : "---\n") + d;
  DiagnosticList diagnostics;
  auto rules = testing::compile_text(text, diagnostics);
  EXPECT_EQ(rules.size(), docs.size()) << "a test rule did not compile";
  return rules;
}

// The pairs between rule 0 and rule 1 of a two-rule corpus.
struct PairResult {
  OverlapReport report;
  std::vector<CompiledRule> rules;
  const OverlapPair* pair() const { return report.pairs.empty() ? nullptr : &report.pairs.front(); }
};

PairResult analyse(const std::string& a, const std::string& b) {
  PairResult r;
  r.rules = compile({rule("a", a), rule("b", b)});
  r.report = find_overlaps(r.rules);
  EXPECT_LE(r.report.pairs.size(), 1u);
  return r;
}

void expect_equivalent(const std::string& a, const std::string& b, const std::string& basis = "identical normal form") {
  auto r = analyse(a, b);
  ASSERT_NE(r.pair(), nullptr) << "no pair found";
  EXPECT_EQ(r.pair()->kind, OverlapKind::Equivalent);
  EXPECT_EQ(r.pair()->basis, basis);
}

// Rule `specific` (0 = a, 1 = b) is subsumed by the other one.
const OverlapPair expect_subsumed(const std::string& a, const std::string& b, std::size_t specific) {
  auto r = analyse(a, b);
  EXPECT_NE(r.pair(), nullptr) << "no pair found";
  if (!r.pair()) return {};
  EXPECT_EQ(r.pair()->kind, OverlapKind::Subsumed);
  EXPECT_EQ(r.pair()->specific, specific);
  EXPECT_EQ(r.pair()->general, 1 - specific);
  return *r.pair();
}

void expect_none(const std::string& a, const std::string& b) {
  auto r = analyse(a, b);
  EXPECT_EQ(r.pair(), nullptr) << overlap_text(r.report, r.rules);
}

// --- Equivalent ------------------------------------------------------------

TEST(Overlap, EquivalentWhenSelectionsAreOrderedDifferently) {
  expect_equivalent(
      "  img:\n    Image|endswith: '\\certutil.exe'\n  cmd:\n    CommandLine|contains: 'urlcache'\n"
      "  condition: img and cmd\n",
      "  sel:\n    CommandLine|contains: 'urlcache'\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n");
}

TEST(Overlap, EquivalentWhenValueListsAreOrderedDifferently) {
  expect_equivalent("  sel:\n    Image|endswith:\n      - '\\a.exe'\n      - '\\b.exe'\n      - '\\c.exe'\n  condition: sel\n",
                    "  sel:\n    Image|endswith:\n      - '\\c.exe'\n      - '\\a.exe'\n      - '\\b.exe'\n      - '\\a.exe'\n"
                    "  condition: sel\n");
}

TEST(Overlap, EquivalentAcrossLetterCase) {
  expect_equivalent("  sel:\n    Image|endswith: '\\CertUtil.EXE'\n  condition: sel\n",
                    "  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n");
}

TEST(Overlap, EquivalentWhenOneOfSplitsAValueList) {
  // 1 of sel* over single values equals one selection listing them.
  expect_equivalent(
      "  sel_a:\n    Image|endswith: '\\a.exe'\n  sel_b:\n    Image|endswith: '\\b.exe'\n  condition: 1 of sel_*\n",
      "  sel:\n    Image|endswith:\n      - '\\b.exe'\n      - '\\a.exe'\n  condition: sel\n");
}

TEST(Overlap, EquivalentWildcardAndModifierSpellings) {
  // contains 'x' is the glob '*x*'; startswith 'y' is 'y*' (a backslash before
  // the star is written twice, or it would escape it).
  expect_equivalent("  sel:\n    CommandLine|contains: 'x'\n    ParentImage|startswith: 'C:\\Windows\\'\n  condition: sel\n",
                    "  sel:\n    CommandLine: '*x*'\n    ParentImage: 'C:\\Windows\\\\*'\n  condition: sel\n");
}

TEST(Overlap, EquivalentFiltersWrittenApart) {
  // not f1 and not f2 over one field is not (f1 or f2).
  expect_equivalent(
      "  sel:\n    Image|endswith: '\\x.exe'\n  f1:\n    ParentImage: 'a'\n  f2:\n    ParentImage: 'b'\n"
      "  condition: sel and not f1 and not f2\n",
      "  sel:\n    Image|endswith: '\\x.exe'\n  filter:\n    ParentImage:\n      - 'b'\n      - 'a'\n"
      "  condition: sel and not filter\n");
}

TEST(Overlap, EquivalentByMutualImplication) {
  // Equal sets of matches, different normal forms: 'a' or 'ab' is the same as contains 'a'.
  expect_equivalent("  sel:\n    CommandLine|contains:\n      - 'a'\n      - 'ab'\n  condition: sel\n",
                    "  sel:\n    CommandLine|contains: 'a'\n  condition: sel\n", "mutual implication");
}

// --- Subsumed --------------------------------------------------------------

TEST(Overlap, EndswithImpliesContains) {
  auto p = expect_subsumed("  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n",
                           "  sel:\n    Image|contains: 'certutil'\n  condition: sel\n", 0);
  ASSERT_EQ(p.reason.size(), 1u);
  ASSERT_EQ(p.reason[0].literals.size(), 1u);
  const LiteralReason& lr = p.reason[0].literals[0];
  EXPECT_EQ(lr.general, "Image contains 'certutil'");
  EXPECT_EQ(lr.specific, "Image endswith '\\certutil.exe'");
  EXPECT_FALSE(lr.identical);
  EXPECT_EQ(lr.text(),
            "Image contains 'certutil' is implied by Image endswith '\\certutil.exe': Image endswith "
            "'\\certutil.exe' implies Image contains 'certutil' ('certutil' occurs in '\\certutil.exe')");
}

TEST(Overlap, ExtraConjunctIsMoreSpecific) {
  auto p = expect_subsumed("  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n",
                           "  sel:\n    Image|endswith: '\\certutil.exe'\n    CommandLine|contains: 'urlcache'\n"
                           "  condition: sel\n",
                           1);
  ASSERT_EQ(p.reason.size(), 1u);
  ASSERT_EQ(p.reason[0].literals.size(), 1u);
  EXPECT_TRUE(p.reason[0].literals[0].identical);
  EXPECT_EQ(p.reason[0].literals[0].text(), "Image endswith '\\certutil.exe': the same test in both rules");
}

TEST(Overlap, OrBranchesSubset) {
  auto p = expect_subsumed(
      "  a:\n    Image|endswith: '\\a.exe'\n  b:\n    CommandLine|contains: 'b'\n  condition: 1 of them\n",
      "  a:\n    Image|endswith: '\\a.exe'\n  b:\n    CommandLine|contains: 'b'\n  c:\n    ParentImage|endswith: '\\c.exe'\n"
      "  condition: 1 of them\n",
      0);
  EXPECT_EQ(p.reason.size(), 2u);  // one line per branch of the specific rule
}

TEST(Overlap, EqualsImpliesStartsWithAndValueListSuperset) {
  expect_subsumed("  sel:\n    CommandLine: 'abc'\n  condition: sel\n",
                  "  sel:\n    CommandLine|startswith: 'ab'\n  condition: sel\n", 0);
  expect_subsumed("  sel:\n    Image|endswith:\n      - '\\a.exe'\n      - '\\b.exe'\n  condition: sel\n",
                  "  sel:\n    Image|endswith:\n      - '\\a.exe'\n      - '\\b.exe'\n      - '\\c.exe'\n  condition: sel\n",
                  0);
  expect_subsumed("  sel:\n    CommandLine|contains: 'abc'\n  condition: sel\n",
                  "  sel:\n    CommandLine|contains: 'bc'\n  condition: sel\n", 0);
}

TEST(Overlap, BroaderExclusionIsMoreSpecific) {
  // Excluding every Image containing 'x' leaves fewer matches than excluding one path.
  auto p = expect_subsumed(
      "  sel:\n    CommandLine|contains: 'run'\n  filter:\n    Image|contains: 'x'\n  condition: sel and not filter\n",
      "  sel:\n    CommandLine|contains: 'run'\n  filter:\n    Image|endswith: '\\x.exe'\n  condition: sel and not filter\n",
      0);
  ASSERT_EQ(p.reason.size(), 1u);
  bool found = false;
  for (const auto& lr : p.reason[0].literals)
    if (lr.contrapositive) {
      found = true;
      EXPECT_EQ(lr.general, "not (Image endswith '\\x.exe')");
      EXPECT_EQ(lr.specific, "not (Image contains 'x')");
      EXPECT_NE(lr.text().find("Image endswith '\\x.exe' implies Image contains 'x'"), std::string::npos) << lr.text();
    }
  EXPECT_TRUE(found);
}

TEST(Overlap, CasedImpliesUncased) {
  expect_subsumed("  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n",
                  "  sel:\n    Image|endswith|cased: '\\X.exe'\n  condition: sel\n", 1);
}

TEST(Overlap, NumericComparisons) {
  expect_subsumed("  sel:\n    Size|gt: 100\n  condition: sel\n", "  sel:\n    Size|gte: 50\n  condition: sel\n", 0);
}

TEST(Overlap, CidrInsideCidr) {
  expect_subsumed("  sel:\n    DestinationIp|cidr: '10.1.0.0/16'\n  condition: sel\n",
                  "  sel:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: sel\n", 0);
}

TEST(Overlap, AllModifierIsAConjunction) {
  expect_subsumed("  sel:\n    CommandLine|contains|all:\n      - 'a'\n      - 'b'\n  condition: sel\n",
                  "  sel:\n    CommandLine|contains: 'a'\n  condition: sel\n", 0);
}

// --- Not claimed -----------------------------------------------------------

TEST(Overlap, DifferentLogsourceIsNeverCompared) {
  auto rules = compile({rule("a", "  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n"),
                        rule("b", "  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n",
                             "  product: windows\n  category: image_load\n")});
  auto report = find_overlaps(rules);
  EXPECT_TRUE(report.pairs.empty());
}

TEST(Overlap, NegationFlipsAreNotSubsumption) {
  expect_none("  sel:\n    Image|endswith: '\\x.exe'\n  f:\n    User: 'a'\n  condition: sel and not f\n",
              "  sel:\n    Image|endswith: '\\x.exe'\n  f:\n    User: 'a'\n  condition: sel and f\n");
  // A narrower exclusion does not make the rule more specific.
  expect_subsumed(
      "  sel:\n    CommandLine|contains: 'run'\n  f:\n    Image|endswith: '\\x.exe'\n  condition: sel and not f\n",
      "  sel:\n    CommandLine|contains: 'run'\n  f:\n    Image|contains: 'x'\n  condition: sel and not f\n", 1);
}

TEST(Overlap, CasedIsNotImpliedByUncased) {
  // Same text: the uncased rule also matches '\X.EXE', the cased one does not.
  expect_subsumed("  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n",
                  "  sel:\n    Image|endswith|cased: '\\x.exe'\n  condition: sel\n", 1);
  expect_none("  sel:\n    Image|endswith|cased: '\\X.exe'\n  condition: sel\n",
              "  sel:\n    Image|endswith|cased: '\\x.exe'\n  condition: sel\n");
}

TEST(Overlap, WildcardsThatOnlyLookSimilar) {
  // '*a?c*' matches 'axc'; contains 'abc' does not.
  expect_subsumed("  sel:\n    CommandLine: '*a?c*'\n  condition: sel\n",
                  "  sel:\n    CommandLine|contains: 'abc'\n  condition: sel\n", 1);
  // 'a*c' and contains 'ac' overlap but neither holds the other.
  expect_none("  sel:\n    CommandLine: 'a*c'\n  condition: sel\n",
              "  sel:\n    CommandLine|contains: 'ac'\n  condition: sel\n");
  // An escaped star is a literal character.
  expect_subsumed("  sel:\n    CommandLine|contains: 'a*b'\n  condition: sel\n",
                  "  sel:\n    CommandLine|contains: 'a\\*b'\n  condition: sel\n", 1);
  // startswith 'ab' does not imply endswith 'ab'.
  expect_none("  sel:\n    CommandLine|startswith: 'ab'\n  condition: sel\n",
              "  sel:\n    CommandLine|endswith: 'ab'\n  condition: sel\n");
}

TEST(Overlap, DifferentFieldsAndRegexesAreNotCompared) {
  expect_none("  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n",
              "  sel:\n    ParentImage|endswith: '\\x.exe'\n  condition: sel\n");
  expect_none("  sel:\n    CommandLine|re: 'ab+c'\n  condition: sel\n",
              "  sel:\n    CommandLine|re: 'ab*c'\n  condition: sel\n");
  expect_none("  sel:\n    - 'mimikatz'\n  condition: sel\n",
              "  sel:\n    CommandLine|contains: 'mimikatz'\n  condition: sel\n");
  expect_equivalent("  sel:\n    CommandLine|re: 'ab+c'\n  condition: sel\n",
                    "  sel:\n    CommandLine|re: 'ab+c'\n  condition: sel\n");
}

TEST(Overlap, SkipsRulesWhoseNormalFormExplodes) {
  // not (a1 and b1) and not (a2 and b2) ... doubles the branches per filter.
  std::string detection;
  std::string condition = "  condition: sel";
  for (int i = 0; i < 10; ++i) {
    detection += fmt::format("  f{0}:\n    A{0}: 'x'\n    B{0}: 'y'\n", i);
    condition += fmt::format(" and not f{}", i);
  }
  detection = "  sel:\n    Image: 'x'\n" + detection + condition + "\n";
  auto rules = compile({rule("a", detection), rule("b", "  sel:\n    Image: 'x'\n  condition: sel\n")});
  auto report = find_overlaps(rules);
  EXPECT_EQ(report.rules_analysed, 1u);
  EXPECT_EQ(report.skipped.at("normal form larger than 256 conjuncts"), 1u);
  OverlapOptions options;
  options.max_conjuncts = 2048;
  report = find_overlaps(rules, options);
  EXPECT_EQ(report.rules_analysed, 2u);
  ASSERT_EQ(report.pairs.size(), 1u);
  EXPECT_EQ(report.pairs[0].specific, 0u);
}

TEST(Overlap, DuplicateWithLargeFilterIsEquivalent) {
  // Ten two-field filters give 1024 conjuncts, past the limit, so neither
  // copy has a normal form; their formulas are still the same.
  std::string detection = "  sel:\n    Image|endswith: '\\x.exe'\n";
  std::string condition = "  condition: sel and not 1 of filter_*";
  for (int i = 0; i < 10; ++i) detection += fmt::format("  filter_{0}:\n    A{0}: 'x'\n    B{0}|contains: 'y'\n", i);
  detection += condition + "\n";
  // The copy lists the filters in reverse order.
  std::string reversed = "  sel:\n    Image|endswith: '\\X.EXE'\n";
  for (int i = 9; i >= 0; --i) reversed += fmt::format("  filter_{0}:\n    B{0}|contains: 'y'\n    A{0}: 'x'\n", i);
  reversed += condition + "\n";
  auto rules = compile({rule("a", detection), rule("b", reversed), rule("c", "  sel:\n    Image: 'x'\n  condition: sel\n")});
  auto report = find_overlaps(rules);
  EXPECT_EQ(report.skipped.at("normal form larger than 256 conjuncts"), 2u);
  ASSERT_EQ(report.pairs.size(), 1u);
  const OverlapPair& pair = report.pairs[0];
  EXPECT_EQ(pair.kind, OverlapKind::Equivalent);
  EXPECT_EQ(pair.basis, "identical formula");
  EXPECT_EQ(pair.specific, 0u);
  EXPECT_EQ(pair.general, 1u);
  EXPECT_NE(pair.normal_form.find("Image endswith '\\x.exe'"), std::string::npos) << pair.normal_form;
  EXPECT_NE(pair.normal_form.find("not (A3 equals 'x')"), std::string::npos) << pair.normal_form;
  std::string text = overlap_text(report, rules);
  EXPECT_NE(text.find("equivalent (identical formula) on windows/process_creation"), std::string::npos) << text;
  EXPECT_NE(text.find("  formula: "), std::string::npos) << text;
}

TEST(Overlap, LargeFiltersThatDifferAreNotEquivalent) {
  auto filters = [](const std::string& last_value) {
    std::string detection = "  sel:\n    Image: 'x'\n";
    for (int i = 0; i < 10; ++i)
      detection += fmt::format("  filter_{0}:\n    A{0}: '{1}'\n    B{0}: 'y'\n", i, i == 9 ? last_value : "x");
    return detection + "  condition: sel and not 1 of filter_*\n";
  };
  auto rules = compile({rule("a", filters("x")), rule("b", filters("z"))});
  auto report = find_overlaps(rules);
  EXPECT_EQ(report.skipped.at("normal form larger than 256 conjuncts"), 2u);
  EXPECT_TRUE(report.pairs.empty());
}

TEST(Overlap, NormalFormText) {
  auto rules = compile({rule("a",
                             "  sel:\n    Image|endswith:\n      - '\\B.exe'\n      - '\\a.exe'\n"
                             "  filter:\n    User|contains: 'SYSTEM'\n  condition: sel and not filter\n")});
  EXPECT_EQ(overlap_normal_form(rules[0]),
            "Image endswith one of '\\a.exe', '\\b.exe' and not (User contains 'system')");
}

TEST(Overlap, TextAndJsonReports) {
  auto r = analyse("  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n",
                   "  sel:\n    Image|contains: 'certutil'\n  condition: sel\n");
  std::string text = overlap_text(r.report, r.rules);
  EXPECT_NE(text.find("subsumed on windows/process_creation"), std::string::npos) << text;
  EXPECT_NE(text.find("specific: Rule a [a]"), std::string::npos) << text;
  EXPECT_NE(text.find("Image endswith '\\certutil.exe' implies Image contains 'certutil'"), std::string::npos) << text;
  auto j = overlap_json(r.report, r.rules);
  EXPECT_EQ(j["summary"]["subsumed_pairs"], 1);
  EXPECT_EQ(j["summary"]["analysed"], 2);
  const auto& pair = j["pairs"][0];
  EXPECT_EQ(pair["kind"], "subsumed");
  EXPECT_EQ(pair["specific"]["id"], "a");
  EXPECT_EQ(pair["general"]["id"], "b");
  const auto& lit = pair["reason"][0]["literals"][0];
  EXPECT_EQ(lit["relation"], "implies");
  EXPECT_EQ(lit["steps"][0]["from"], "endswith '\\certutil.exe'");
  EXPECT_EQ(lit["steps"][0]["to"], "contains 'certutil'");
}

TEST(Overlap, CorrelationRulesAreSkipped) {
  std::string text = rule("a", "  sel:\n    Image: 'x'\n  condition: sel\n") +
                     "---\ntitle: Corr\nid: c\ncorrelation:\n  type: event_count\n  rules:\n    - a\n"
                     "  group-by:\n    - User\n  timespan: 5m\n  condition:\n    gte: 3\n";
  DiagnosticList diagnostics;
  auto rules = testing::compile_text(text, diagnostics);
  ASSERT_EQ(rules.size(), 2u);
  auto report = find_overlaps(rules);
  EXPECT_EQ(report.rules_analysed, 1u);
  EXPECT_EQ(report.skipped.at("correlation rule"), 1u);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(OverlapPage, LinksRulesAndEscapesText) {
  auto rules = compile({"title: Rule <b>one</b>\nid: 11111111-0000-4000-8000-000000000001\nstatus: test\n"
                        "logsource:\n  product: windows\n  category: process_creation\ndetection:\n"
                        "  sel:\n    CommandLine|contains: '<script>x'\n  condition: sel\nlevel: high\n",
                        "title: Rule & two\nid: 11111111-0000-4000-8000-000000000002\nstatus: test\n"
                        "logsource:\n  product: windows\n  category: process_creation\ndetection:\n"
                        "  sel:\n    CommandLine|contains: 'script>'\n  condition: sel\nlevel: low\n"});
  DiagnosticList diagnostics;
  Catalog catalog = build_catalog(std::move(rules), diagnostics, 1);
  std::string html = overlap_page_html(catalog);
  EXPECT_EQ(html.find("<script"), std::string::npos) << html;
  EXPECT_EQ(html.find("<b>one</b>"), std::string::npos);
  EXPECT_NE(html.find("Rule &lt;b&gt;one&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("Rule &amp; two"), std::string::npos);
  EXPECT_NE(html.find("href=\"rules/11111111-0000-4000-8000-000000000001.html\""), std::string::npos);
  EXPECT_NE(html.find("href=\"rules/11111111-0000-4000-8000-000000000002.html\""), std::string::npos);
  EXPECT_NE(html.find("is covered by"), std::string::npos);
  EXPECT_NE(html.find("&#39;script&gt;&#39; occurs in &#39;&lt;script&gt;x&#39;"), std::string::npos) << html;
}

TEST(OverlapPage, CatalogWritesTheOverlapPage) {
  testing::TempDir dir;
  dir.write("rules/a.yml", rule("aaaaaaaa-0000-4000-8000-00000000000a",
                                "  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n"));
  dir.write("rules/b.yml", rule("aaaaaaaa-0000-4000-8000-00000000000b",
                                "  sel:\n    Image|contains: 'certutil'\n  condition: sel\n"));
  auto result = testing::run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string page = testing::read_file(dir.path() / "site" / "overlap.html");
  EXPECT_NE(page.find("rules/aaaaaaaa-0000-4000-8000-00000000000a.html"), std::string::npos);
  EXPECT_NE(testing::read_file(dir.path() / "site" / "index.html").find("href=\"overlap.html\""), std::string::npos);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(OverlapCli, TextJsonAndSummary) {
  testing::TempDir dir;
  dir.write("rules/a.yml", rule("a", "  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n"));
  dir.write("rules/b.yml", rule("b", "  sel:\n    Image|contains: 'certutil'\n  condition: sel\n"));
  dir.write("rules/c.yml", rule("c", "  sel:\n    Image|contains: 'certutil'\n  condition: sel | count() by Host > 3\n"));
  const std::string rules = (dir.path() / "rules").string();

  auto text = testing::run_cli({"overlap", rules});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("subsumed on windows/process_creation"), std::string::npos) << text.out;
  EXPECT_NE(text.err.find("2 rules analysed, 1 skipped (1 Sigma 1.x aggregation in the condition)"), std::string::npos)
      << text.err;
  EXPECT_NE(text.err.find("0 equivalent pairs, 1 subsumed pair "), std::string::npos) << text.err;

  const auto out = dir.path() / "overlap.json";
  auto json_run = testing::run_cli({"overlap", rules, "--format", "json", "-o", out.string()});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  EXPECT_TRUE(json_run.out.empty());
  auto j = nlohmann::json::parse(testing::read_file(out));
  EXPECT_EQ(j["summary"]["subsumed_pairs"], 1);
  EXPECT_EQ(j["skipped"][0]["id"], "c");

  auto missing = testing::run_cli({"overlap", (dir.path() / "nothing").string()});
  EXPECT_EQ(missing.exit_code, 2);
}

}  // namespace
}  // namespace sigscope
