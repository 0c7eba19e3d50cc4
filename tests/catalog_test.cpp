// Catalog pages built through the CLI: the example rule's page data, corpus
// counts on a small corpus written by the test, and HTML escaping.
#include <gtest/gtest.h>

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sigscope/analysis/rule_facts.h"
#include "test_support.h"

namespace sigscope {
namespace {

using nlohmann::json;
using testing::read_file;
using testing::run_cli;
using testing::TempDir;

constexpr const char* kIisRulePath =
    "corpus/sigma/rules/windows/process_creation/proc_creation_win_iis_appcmd_susp_module_install.yml";
constexpr const char* kIisRuleId = "9465ddf4-f9e4-4ebd-8d98-702df3a93239";

std::string small_rule(const std::string& id, const std::string& detection) {
  return "title: Corpus rule " + id + "\nid: " + id +
         "\nstatus: test\nlogsource:\n  product: windows\n  category: process_creation\n"
         "detection:\n" + detection + "level: low\n";
}

// Writes the example rule plus six rules of our own that share (or nearly
// share) its indicators, builds the catalog and returns the example's page.
json build_iis_page(TempDir& dir) {
  dir.write("rules/iis.yml", read_file(testing::shared_dir() / kIisRulePath));
  // Same indicator with other letter case: matching ignores case, so it counts.
  dir.write("rules/a.yml", small_rule("aaaaaaaa-0000-4000-8000-000000000001",
                                      "  sel:\n    Image|endswith: '\\APPCMD.EXE'\n    OriginalFileName: 'appcmd.exe'\n"
                                      "  condition: sel\n"));
  dir.write("rules/b.yml", small_rule("aaaaaaaa-0000-4000-8000-000000000002",
                                      "  sel:\n    Image|endswith: '\\appcmd.exe'\n    CommandLine|contains: 'install'\n"
                                      "  condition: sel\n"));
  // cased with the same text still names the same (field, kind, value).
  dir.write("rules/c.yml", small_rule("aaaaaaaa-0000-4000-8000-000000000003",
                                      "  sel:\n    Image|endswith|cased: '\\appcmd.exe'\n  condition: sel\n"));
  // An exclusion of the same parent: counted for the exclusion, not the indicators.
  dir.write("rules/d.yml", small_rule("aaaaaaaa-0000-4000-8000-000000000004",
                                      "  sel:\n    Image|endswith: '\\w3wp.exe'\n"
                                      "  filter:\n    ParentImage: 'C:\\Windows\\System32\\inetsrv\\iissetup.exe'\n"
                                      "  condition: sel and not filter\n"));
  dir.write("rules/e.yml", small_rule("aaaaaaaa-0000-4000-8000-000000000005",
                                      "  sel:\n    CommandLine|contains|windash: '-name:'\n  condition: sel\n"));
  // Another kind on the same value does not count.
  dir.write("rules/f.yml", small_rule("aaaaaaaa-0000-4000-8000-000000000006",
                                      "  sel:\n    CommandLine|startswith: 'install'\n    Image|contains: '\\appcmd.exe'\n"
                                      "  condition: sel\n"));
  auto result = run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return json::parse(read_file(dir.path() / "site" / "rules" / (std::string(kIisRuleId) + ".json")));
}

const json* find_indicator(const json& page, const std::string& field, const std::string& kind,
                           const std::string& value) {
  for (const auto& ind : page["indicators"])
    if (ind["field"] == field && ind["kind"] == kind && ind["value"] == value) return &ind;
  return nullptr;
}

TEST(CatalogPage, IisRuleAttackCoverage) {
  SIGSCOPE_REQUIRE_SHARED();
  TempDir dir;
  json page = build_iis_page(dir);
  EXPECT_EQ(page["id"], kIisRuleId);
  ASSERT_EQ(page["attack"]["tactics"].size(), 1u);
  const json& tactic = page["attack"]["tactics"][0];
  EXPECT_EQ(tactic["name"], "Persistence");
  EXPECT_EQ(tactic["id"], "TA0003");
  ASSERT_EQ(tactic["techniques"].size(), 1u);
  EXPECT_EQ(tactic["techniques"][0]["id"], "T1505.003");
  EXPECT_EQ(tactic["techniques"][0]["name"], "Server Software Component: Web Shell");
}

TEST(CatalogPage, IisRuleEventCoverage) {
  SIGSCOPE_REQUIRE_SHARED();
  TempDir dir;
  json page = build_iis_page(dir);
  const json& sources = page["events"]["sources"];
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0]["log"], "Sysmon");
  EXPECT_EQ(sources[0]["event_id"], 1);
  EXPECT_EQ(sources[0]["title"], "Process creation");
  EXPECT_EQ(sources[1]["log"], "Security");
  EXPECT_EQ(sources[1]["event_id"], 4688);
  EXPECT_EQ(sources[1]["field_renames"]["Image"], "NewProcessName");
  EXPECT_EQ(sources[1]["field_renames"]["ParentImage"], "ParentProcessName");
}

// Real rule pages: Security 4688 has none of Sysmon's Description, Product
// and OriginalFileName, which the Radmin rule tests, one of them at least.
TEST(CatalogPage, RulePageNamesFieldsSecurity4688Lacks) {
  SIGSCOPE_REQUIRE_SHARED();
  const auto rules = testing::shared_dir() / "corpus" / "sigma" / "rules" / "windows" / "process_creation";
  auto result = run_cli({"explain", (rules / "proc_creation_win_pua_radmin.yml").string(), "--format", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json page = json::parse(result.out).at(0);  // an array with one page per rule
  const json& sources = page["events"]["sources"];
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0]["event_id"], 1);
  EXPECT_EQ(sources[0]["missing_fields"], json::array());
  EXPECT_EQ(sources[0]["can_match"], true);
  EXPECT_EQ(sources[1]["event_id"], 4688);
  EXPECT_EQ(sources[1]["missing_fields"], json({"Description", "OriginalFileName", "Product"}));
  EXPECT_EQ(sources[1]["can_match"], false);
  EXPECT_NE(sources[1]["field_list"].get<std::string>().find("sample events"), std::string::npos);

  // Image has a 4688 name (NewProcessName), so this rule still can match there.
  result = run_cli({"explain", (rules / "proc_creation_win_lolbin_unregmp2.yml").string(), "--format", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  page = json::parse(result.out).at(0);
  const json& security = page["events"]["sources"][1];
  EXPECT_EQ(security["event_id"], 4688);
  EXPECT_EQ(security["missing_fields"], json({"OriginalFileName"}));
  EXPECT_EQ(security["can_match"], true);

  result = run_cli({"explain", (rules / "proc_creation_win_pua_radmin.yml").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("| Description, OriginalFileName, Product; the rule cannot match this event"),
            std::string::npos)
      << result.out;
}

TEST(CatalogPage, CanMatchWithoutAbsentFields) {
  auto rule_of = [](const std::string& detection) {
    return testing::compile_one(small_rule("aaaaaaaa-0000-4000-8000-000000000009", detection));
  };
  const std::set<std::string> absent = {"OriginalFileName"};
  EXPECT_FALSE(can_match_without(rule_of("  sel:\n    OriginalFileName: 'a.exe'\n  condition: sel\n"), absent));
  // Another way to match remains.
  EXPECT_TRUE(can_match_without(
      rule_of("  sel:\n    - Image|endswith: '\\a.exe'\n    - OriginalFileName: 'a.exe'\n  condition: sel\n"), absent));
  // A filter on the absent field excludes nothing.
  EXPECT_TRUE(can_match_without(rule_of("  sel:\n    Image|endswith: '\\a.exe'\n  filter:\n    OriginalFileName: 'b.exe'\n"
                                        "  condition: sel and not filter\n"),
                                absent));
  // null and exists: false hold on an absent field; neq needs the field.
  EXPECT_TRUE(can_match_without(rule_of("  sel:\n    OriginalFileName: null\n  condition: sel\n"), absent));
  EXPECT_TRUE(can_match_without(rule_of("  sel:\n    OriginalFileName|exists: false\n  condition: sel\n"), absent));
  EXPECT_FALSE(can_match_without(rule_of("  sel:\n    OriginalFileName|neq: 'a.exe'\n  condition: sel\n"), absent));
  EXPECT_FALSE(can_match_without(rule_of("  sel:\n    OriginalFileName|exists: true\n  condition: sel\n"), absent));
}

TEST(CatalogPage, IisRuleStages) {
  SIGSCOPE_REQUIRE_SHARED();
  TempDir dir;
  json page = build_iis_page(dir);
  const json& stages = page["stages"];
  ASSERT_EQ(stages.size(), 4u);
  EXPECT_EQ(stages[0]["name"], "condition");
  EXPECT_EQ(stages[0]["text"], "all of selection_* and not 1 of filter_*");
  EXPECT_EQ(stages[1]["name"], "selection_img");
  EXPECT_EQ(stages[1]["predicates"].size(), 2u);
  EXPECT_EQ(stages[2]["name"], "selection_cli");
  EXPECT_EQ(stages[2]["predicates"][0]["match"], "all");
  EXPECT_EQ(stages[3]["label"], "not filter_iis_setup");
  EXPECT_TRUE(stages[3]["negated"].get<bool>());
  EXPECT_NE(stages[1]["yaml"].get<std::string>().find("- Image|endswith: '\\appcmd.exe'"), std::string::npos);
}

TEST(CatalogPage, IisRuleExclusion) {
  SIGSCOPE_REQUIRE_SHARED();
  TempDir dir;
  json page = build_iis_page(dir);
  ASSERT_EQ(page["exclusions"].size(), 1u);
  const json& ex = page["exclusions"][0];
  EXPECT_EQ(ex["field"], "ParentImage");
  EXPECT_EQ(ex["kind"], "eq");
  EXPECT_EQ(ex["values"], json::array({"C:\\Windows\\System32\\inetsrv\\iissetup.exe"}));
  EXPECT_EQ(ex["corpus"], json::array({1}));
}

TEST(CatalogPage, IisRuleIndicatorsAndCorpusCounts) {
  SIGSCOPE_REQUIRE_SHARED();
  TempDir dir;
  json page = build_iis_page(dir);
  EXPECT_EQ(page["indicators"].size(), 5u);

  const json* image = find_indicator(page, "Image", "ends_with", "\\appcmd.exe");
  ASSERT_NE(image, nullptr);
  EXPECT_EQ((*image)["corpus"], 3);  // a (other case), b, c (cased, same text)

  const json* original = find_indicator(page, "OriginalFileName", "eq", "appcmd.exe");
  ASSERT_NE(original, nullptr);
  EXPECT_EQ((*original)["corpus"], 1);

  const json* install = find_indicator(page, "CommandLine", "contains", "install");
  ASSERT_NE(install, nullptr);
  EXPECT_EQ((*install)["modifiers"], json::array({"all"}));
  EXPECT_EQ((*install)["corpus"], 1);  // b; f uses startswith

  const json* module = find_indicator(page, "CommandLine", "contains", "module");
  ASSERT_NE(module, nullptr);
  EXPECT_EQ((*module)["corpus"], 0);

  const json* name = find_indicator(page, "CommandLine", "contains", "-name:");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ((*name)["modifiers"], json::array({"windash"}));
  EXPECT_EQ((*name)["corpus"], 1);

  // The excluded parent is not an indicator.
  EXPECT_EQ(find_indicator(page, "ParentImage", "eq", "C:\\Windows\\System32\\inetsrv\\iissetup.exe"), nullptr);
}

TEST(CatalogPage, ExplainPrintsMarkdownSections) {
  SIGSCOPE_REQUIRE_SHARED();
  auto result = run_cli({"explain", (testing::shared_dir() / kIisRulePath).string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* heading : {"# IIS Native-Code Module Command Line Installation", "## MITRE ATT&CK coverage",
                              "## Event coverage", "## Rule body", "## Stages and predicates",
                              "### Stage 3: not filter_iis_setup", "## Exclusions", "## Indicators"})
    EXPECT_NE(result.out.find(heading), std::string::npos) << heading;
  EXPECT_NE(result.out.find("| Image | ends_with |  | `\\appcmd.exe` |"), std::string::npos) << result.out;
  // Outside a table, a '|' of the logic needs no backslash.
  EXPECT_NE(result.out.find("Logic: `CommandLine contains|all all of"), std::string::npos) << result.out;
}

// The rule explained is left out of its own indicator counts however the
// --corpus path is spelled: "dir/./x.yml" is the same file as "dir/x.yml".
TEST(CatalogPage, ExplainCountsOtherRulesWhateverCorpusSpelling) {
  TempDir dir;
  auto rule = [](const char* id, const char* title) {
    return fmt::format("title: {}\nid: {}\nlogsource:\n  product: windows\n  category: process_creation\n"
                       "detection:\n  sel:\n    Image|endswith: '\\odd.exe'\n  condition: sel\nlevel: high\n",
                       title, id);
  };
  dir.write("rules/a.yml", rule("cccccccc-0000-4000-8000-000000000001", "A"));
  dir.write("rules/b.yml", rule("cccccccc-0000-4000-8000-000000000002", "B"));
  const std::string explained = (dir.path() / "rules" / "a.yml").string();
  for (const std::string& corpus : {(dir.path() / "rules").string(), (dir.path() / "rules" / ".").string()}) {
    auto result = run_cli({"explain", explained, "--corpus", corpus});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    // One other rule (b.yml) shares the indicator.
    EXPECT_NE(result.out.find("| Image | ends_with |  | `\\odd.exe` | 1 |"), std::string::npos)
        << "--corpus " << corpus << "\n" << result.out;
  }
}

// Counts of one read in the singular: "1 rule page", not "1 rule pages".
TEST(CatalogLoad, OneRuleSummaryIsSingular) {
  TempDir dir;
  dir.write("rules/x.yml",
            "title: X\nid: dddddddd-0000-4000-8000-000000000002\nstatus: test\nlogsource:\n  product: windows\n"
            "  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n"
            "level: high\n");
  auto catalog = run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  ASSERT_EQ(catalog.exit_code, 0) << catalog.err;
  EXPECT_NE(catalog.err.find("loaded 1 rule from 1 file in "), std::string::npos) << catalog.err;
  EXPECT_NE(catalog.err.find("wrote 1 rule page ("), std::string::npos) << catalog.err;
  EXPECT_NE(read_file(dir.path() / "site" / "index.html").find(">1 rule from 1 file "), std::string::npos);

  auto explain = run_cli({"explain", (dir.path() / "rules" / "x.yml").string(), "--corpus",
                          (dir.path() / "rules").string()});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_NE(explain.err.find("corpus: 1 rule from 1 file (0 rule documents failed)"), std::string::npos)
      << explain.err;
}

// Scripts read one shape: an array for one rule as for several.
TEST(CatalogPage, ExplainJsonIsAlwaysArray) {
  TempDir dir;
  auto rule = [](const char* id, const char* title) {
    return fmt::format("title: {}\nid: {}\nlogsource:\n  product: windows\n  category: process_creation\n"
                       "detection:\n  sel:\n    Image|endswith: '\\odd.exe'\n  condition: sel\nlevel: high\n",
                       title, id);
  };
  const auto one = dir.write("one.yml", rule("cccccccc-0000-4000-8000-000000000011", "One"));
  const auto two = dir.write("two.yml", rule("cccccccc-0000-4000-8000-000000000012", "First") + "---\n" +
                                            rule("cccccccc-0000-4000-8000-000000000013", "Second"));
  auto single = run_cli({"explain", one.string(), "--format", "json"});
  ASSERT_EQ(single.exit_code, 0) << single.err;
  json pages = json::parse(single.out);
  ASSERT_TRUE(pages.is_array()) << single.out;
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0]["id"], "cccccccc-0000-4000-8000-000000000011");

  auto several = run_cli({"explain", two.string(), "--format", "json"});
  ASSERT_EQ(several.exit_code, 0) << several.err;
  pages = json::parse(several.out);
  ASSERT_TRUE(pages.is_array()) << several.out;
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[0]["title"], "First");
  EXPECT_EQ(pages[1]["title"], "Second");
}

// With no warning shown, the count of hidden ones does not say "more".
TEST(CatalogLoad, HiddenWarningCountReadsRight) {
  TempDir dir;
  dir.write("rules/x.yml",
            "title: X\nid: dddddddd-0000-4000-8000-000000000001\nlogsource:\n  product: windows\n"
            "detection:\n  sel:\n    Image|contains|all: a\n  condition: sel\nlevel: high\n");
  auto none = run_cli({"overlap", (dir.path() / "rules").string(), "--max-warnings", "0"});
  EXPECT_NE(none.err.find("info: 1 warning is not shown"), std::string::npos) << none.err;
  EXPECT_EQ(none.err.find("more warning"), std::string::npos) << none.err;
}

// A filter written as a list of maps is an OR of the maps, so `not filter`
// suppresses on each map alone: one exclusion group per map.
TEST(CatalogPage, ListFilterGroupsEachMap) {
  auto rule = testing::compile_one(
      "title: Ex\nid: eeeeeeee-0000-4000-8000-000000000001\nlogsource:\n  product: windows\n"
      "  category: process_creation\ndetection:\n  selection:\n    Image|endswith: '\\cmd.exe'\n"
      "  filter:\n    - ParentImage|endswith: '\\a.exe'\n    - User|contains: SYSTEM\n"
      "      ParentImage|startswith: 'C:\\x'\n  condition: selection and not filter\nlevel: high\n");
  auto exclusions = rule_exclusions(rule);
  ASSERT_EQ(exclusions.size(), 3u);
  EXPECT_EQ(exclusions[0].field, "ParentImage");
  EXPECT_EQ(exclusions[0].group, 0);
  EXPECT_EQ(exclusions[1].field, "User");
  EXPECT_EQ(exclusions[1].group, 1);
  EXPECT_EQ(exclusions[2].field, "ParentImage");
  EXPECT_EQ(exclusions[2].group, 1);
}

// A correlation's page names its type, group-by, window and condition, and
// links the rules it lists (here by name) to their pages.
TEST(CatalogSite, CorrelationPageLinksItsRules) {
  TempDir dir;
  dir.write("rules/base.yml",
            "title: Failed Logon\nid: 0e95725d-7320-415d-80f7-004da920fc11\nname: failed_logon\nstatus: test\n"
            "logsource:\n  product: windows\n  service: security\ndetection:\n  selection:\n    EventID: 4625\n"
            "  condition: selection\nlevel: low\n");
  dir.write("rules/corr.yml",
            "title: Many Failed Logons\nid: 0e95725d-7320-415d-80f7-004da920fc12\nstatus: test\ncorrelation:\n"
            "  type: event_count\n  rules:\n    - failed_logon\n    - missing_rule\n  group-by:\n    - TargetUserName\n"
            "  timespan: 5m\n  condition:\n    gte: 10\nlevel: high\ntags:\n  - attack.credential-access\n"
            "  - attack.t1110.001\n");
  auto result = run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const std::string html = read_file(dir.path() / "site" / "rules" / "0e95725d-7320-415d-80f7-004da920fc12.html");
  EXPECT_NE(html.find("<a href=\"0e95725d-7320-415d-80f7-004da920fc11.html\"><code>failed_logon</code></a>"),
            std::string::npos);
  EXPECT_NE(html.find("<code>missing_rule</code> <span class=\"note\">(not in this catalog)</span>"), std::string::npos);
  EXPECT_NE(html.find("<tr><th>Group by</th><td>TargetUserName</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<tr><th>Condition</th><td>gte 10</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("reads the detections of the rules it lists"), std::string::npos);
  EXPECT_EQ(html.find("no event mapping is known"), std::string::npos);

  json page = json::parse(read_file(dir.path() / "site" / "rules" / "0e95725d-7320-415d-80f7-004da920fc12.json"));
  EXPECT_EQ(page["correlation"]["rule_slugs"], json::array({"0e95725d-7320-415d-80f7-004da920fc11", ""}));

  // The base rule's page names the correlation that uses it.
  const std::string base = read_file(dir.path() / "site" / "rules" / "0e95725d-7320-415d-80f7-004da920fc11.html");
  EXPECT_NE(base.find("<tr><th>Used by</th><td><ul><li>correlation <a href=\"0e95725d-7320-415d-80f7-004da920fc12.html\">"
                      "Many Failed Logons</a></li></ul></td></tr>"),
            std::string::npos);

  // The correlation alerts, so its technique counts in the layer.
  json layer = json::parse(read_file(dir.path() / "site" / "attack-navigator-layer.json"));
  bool found = false;
  for (const auto& t : layer["techniques"]) found |= t["techniqueID"] == "T1110.001";
  EXPECT_TRUE(found) << layer.dump();
}

TEST(CatalogSite, RuleTextIsHtmlEscaped) {
  TempDir dir;
  dir.write("rules/x.yml",
            "title: <script>alert(1)</script>\n"
            "id: bbbbbbbb-0000-4000-8000-000000000001\n"
            "description: '<img src=x onerror=alert(2)>'\n"
            "author: a & b\n"
            "logsource:\n  product: windows\n  category: process_creation\n"
            "detection:\n  sel:\n    CommandLine|contains: '<b>\"quoted\"</b>'\n  condition: sel\n"
            "level: high\n");
  auto result = run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string page = read_file(dir.path() / "site" / "rules" / "bbbbbbbb-0000-4000-8000-000000000001.html");
  std::string index = read_file(dir.path() / "site" / "index.html");
  for (const std::string& html : {page, index}) {
    EXPECT_EQ(html.find("<script>alert"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  }
  EXPECT_EQ(page.find("<img src=x"), std::string::npos);
  EXPECT_EQ(page.find("<b>\"quoted\"</b>"), std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;&quot;quoted&quot;&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(page.find("a &amp; b"), std::string::npos);
}

TEST(CatalogSite, WritesIndexAssetsAndLayer) {
  TempDir dir;
  dir.write("rules/x.yml", small_rule("cccccccc-0000-4000-8000-000000000001",
                                      "  sel:\n    Image|endswith: '\\x.exe'\n  filter:\n"
                                      "    ParentImage|endswith: '\\iissetup.exe'\n  condition: sel and not filter\n") +
                               "tags:\n  - attack.execution\n  - attack.t1059.001\n");
  auto result = run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* f : {"index.html", "index.json", "attack.html", "attack-navigator-layer.json",
                        "assets/catalog.css", "assets/catalog.js", "assets/index-data.js"})
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "site" / f)) << f;
  json index = json::parse(read_file(dir.path() / "site" / "index.json"));
  ASSERT_EQ(index["rules"].size(), 1u);
  EXPECT_EQ(index["rules"][0]["tactics"], json::array({"execution"}));
  EXPECT_EQ(index["rules"][0]["techniques"], json::array({"T1059.001"}));
  // The search text has the indicator and the excluded value.
  const std::string search = index["rules"][0]["indicators"];
  EXPECT_NE(search.find("Image \\x.exe"), std::string::npos) << search;
  EXPECT_NE(search.find("ParentImage \\iissetup.exe"), std::string::npos) << search;
  json layer = json::parse(read_file(dir.path() / "site" / "attack-navigator-layer.json"));
  EXPECT_EQ(layer["versions"]["layer"], "4.5");
  // The sub-technique with its rule, and its parent shown expanded.
  ASSERT_EQ(layer["techniques"].size(), 2u);
  EXPECT_EQ(layer["techniques"][0]["techniqueID"], "T1059.001");
  EXPECT_EQ(layer["techniques"][0]["score"], 1);
  EXPECT_EQ(layer["techniques"][1]["techniqueID"], "T1059");
  EXPECT_EQ(layer["techniques"][1]["showSubtechniques"], true);
  EXPECT_NE(result.out.find("index.html"), std::string::npos);
}

TEST(CatalogAttack, NewerTagsKeptWithNote) {
  TempDir dir;
  dir.write("rules/x.yml", small_rule("dddddddd-0000-4000-8000-000000000001",
                                      "  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n") +
                               "tags:\n  - attack.stealth\n  - attack.t1685\n  - attack.defense_evasion\n  - attack.t1027\n");
  auto result = run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json page = json::parse(read_file(dir.path() / "site" / "rules" / "dddddddd-0000-4000-8000-000000000001.json"));
  std::set<std::string> technique_ids;
  bool stealth_unknown = false;
  for (const auto& t : page["attack"]["tactics"]) {
    if (t["shortname"] == "stealth") stealth_unknown = !t["known"].get<bool>() && t.contains("note");
    for (const auto& tech : t["techniques"]) {
      technique_ids.insert(tech["id"]);
      if (tech["id"] == "T1685") {
        EXPECT_FALSE(tech["known"].get<bool>());
      }
    }
  }
  EXPECT_TRUE(stealth_unknown);
  EXPECT_TRUE(technique_ids.count("T1685"));
  EXPECT_TRUE(technique_ids.count("T1027"));
}

TEST(CatalogSite, RebuildRemovesPagesOfGoneRules) {
  TempDir dir;
  auto a = dir.write("rules/a.yml", small_rule("eeeeeeee-0000-4000-8000-000000000001", "  sel:\n    A: x\n  condition: sel\n"));
  dir.write("rules/b.yml", small_rule("eeeeeeee-0000-4000-8000-000000000002", "  sel:\n    B: x\n  condition: sel\n"));
  auto site = dir.path() / "site";
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", site.string()}).exit_code, 0);
  std::filesystem::remove(a);
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", site.string()}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(site / "rules" / "eeeeeeee-0000-4000-8000-000000000001.html"));
  EXPECT_TRUE(std::filesystem::exists(site / "rules" / "eeeeeeee-0000-4000-8000-000000000002.html"));
}

TEST(CatalogPage, EncodedIndicatorsKeepLetterCase) {
  TempDir dir;
  dir.write("rules/x.yml", small_rule("ffffffff-0000-4000-8000-000000000001",
                                      "  sel:\n    CommandLine|base64offset|contains:\n      - 'Set-Mp'\n"
                                      "      - 'set-mp'\n  condition: sel\n"));
  auto r = run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json page = json::parse(read_file(dir.path() / "site" / "rules" / "ffffffff-0000-4000-8000-000000000001.json"));
  EXPECT_NE(find_indicator(page, "CommandLine", "contains", "Set-Mp"), nullptr);
  EXPECT_NE(find_indicator(page, "CommandLine", "contains", "set-mp"), nullptr);
}

TEST(CatalogSite, ExampleCorpusBuilds) {
  TempDir dir;
  auto result = run_cli({"catalog", std::string(SIGSCOPE_SOURCE_DIR) + "/examples/rules", "--out",
                         (dir.path() / "site").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json index = json::parse(read_file(dir.path() / "site" / "index.json"));
  EXPECT_EQ(index["summary"]["rules_failed"], 0);
  EXPECT_EQ(index["summary"]["correlation_rules"], 1);
  EXPECT_EQ(index["summary"]["filter_rules"], 1);
  json correlation = json::parse(read_file(dir.path() / "site" / "rules" / "3f1b2c4d-8e9a-4b7c-9d1e-2f3a4b5c6d05.json"));
  EXPECT_EQ(correlation["correlation"]["type"], "event_count");
  EXPECT_EQ(correlation["correlation"]["timespan_seconds"], 300);
  EXPECT_TRUE(correlation["stages"].empty());
}

}  // namespace
}  // namespace sigscope
