// The catalog site beyond the rule pages: the Navigator layer (sigscope
// layer and the site's file), related rules, provider pages, the heatmap
// and what keeps pages safe (escaped index data, no inline scripts).
#include <gtest/gtest.h>

#include <regex>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace sigscope {
namespace {

using nlohmann::json;
using testing::read_file;
using testing::run_cli;
using testing::TempDir;

std::string rule(const std::string& id, const std::string& title, const std::string& level,
                 const std::string& status, const std::string& detection, const std::string& tags) {
  return "title: " + title + "\nid: " + id + "\nstatus: " + status +
         "\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n" + detection +
         "level: " + level + "\ntags:\n" + tags;
}

// Three rules on T1059.001 (one deprecated) and one on T1003.001.
void write_corpus(const TempDir& dir) {
  dir.write("rules/a.yml", rule("aaaaaaaa-0000-4000-8000-000000000001", "Rule A", "high", "test",
                                "  sel:\n    Image|endswith: '\\powershell.exe'\n    CommandLine|contains:\n"
                                "      - ' -enc '\n      - ' -nop '\n  condition: sel\n",
                                "  - attack.execution\n  - attack.t1059.001\n"));
  dir.write("rules/b.yml", rule("aaaaaaaa-0000-4000-8000-000000000002", "Rule B", "medium", "stable",
                                "  sel:\n    Image|endswith: '\\powershell.exe'\n    CommandLine|contains:\n"
                                "      - ' -enc '\n      - ' -w hidden '\n  condition: sel\n",
                                "  - attack.execution\n  - attack.t1059.001\n"));
  dir.write("rules/c.yml", rule("aaaaaaaa-0000-4000-8000-000000000003", "Rule C", "critical", "deprecated",
                                "  sel:\n    Image|endswith: '\\powershell.exe'\n  condition: sel\n",
                                "  - attack.execution\n  - attack.t1059.001\n"));
  dir.write("rules/d.yml", rule("aaaaaaaa-0000-4000-8000-000000000004", "Rule D", "low", "test",
                                "  sel:\n    CommandLine|contains: 'sekurlsa'\n  condition: sel\n",
                                "  - attack.credential-access\n  - attack.t1003.001\n"));
}

const json* technique(const json& layer, const std::string& id) {
  for (const auto& t : layer["techniques"])
    if (t["techniqueID"] == id) return &t;
  return nullptr;
}

TEST(Layer, CountScoreMetadataAndLinks) {
  TempDir dir;
  write_corpus(dir);
  auto out = dir.path() / "layer.json";
  auto r = run_cli({"layer", (dir.path() / "rules").string(), "-o", out.string(), "--base-url",
                    "https://example.org/catalog"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json layer = json::parse(read_file(out));

  EXPECT_EQ(layer["versions"]["layer"], "4.5");
  EXPECT_EQ(layer["versions"]["attack"], "18");
  EXPECT_FALSE(layer["versions"]["navigator"].get<std::string>().empty());
  EXPECT_EQ(layer["domain"], "enterprise-attack");

  const json* t = technique(layer, "T1059.001");
  ASSERT_NE(t, nullptr) << layer.dump(1);
  EXPECT_EQ((*t)["score"], 2);  // the deprecated rule is left out
  ASSERT_EQ((*t)["metadata"].size(), 2u);
  // Highest level first.
  EXPECT_EQ((*t)["metadata"][0], json({{"name", "aaaaaaaa-0000-4000-8000-000000000001"}, {"value", "Rule A"}}));
  EXPECT_EQ((*t)["metadata"][1]["value"], "Rule B");
  ASSERT_EQ((*t)["links"].size(), 2u);
  EXPECT_EQ((*t)["links"][0]["label"], "Rule A");
  EXPECT_EQ((*t)["links"][0]["url"], "https://example.org/catalog/rules/aaaaaaaa-0000-4000-8000-000000000001.html");
  EXPECT_EQ((*t)["showSubtechniques"], false);

  // The parent shows its scored sub-techniques.
  const json* parent = technique(layer, "T1059");
  ASSERT_NE(parent, nullptr);
  EXPECT_EQ((*parent)["showSubtechniques"], true);
  EXPECT_FALSE(parent->contains("score"));
  EXPECT_EQ(layer["gradient"]["maxValue"], 2);
  ASSERT_NE(technique(layer, "T1003.001"), nullptr);
  EXPECT_EQ((*technique(layer, "T1003.001"))["score"], 1);
}

TEST(Layer, LevelScoreToStdout) {
  TempDir dir;
  write_corpus(dir);
  auto r = run_cli({"layer", (dir.path() / "rules").string(), "--score", "level"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json layer = json::parse(r.out);
  EXPECT_EQ((*technique(layer, "T1059.001"))["score"], 4);  // high; the critical rule is deprecated
  EXPECT_EQ((*technique(layer, "T1003.001"))["score"], 2);  // low
  EXPECT_EQ(layer["gradient"]["maxValue"], 5);
  EXPECT_EQ(layer["legendItems"].size(), 5u);
  // Without --base-url, links are relative to the catalog folder.
  EXPECT_EQ((*technique(layer, "T1003.001"))["links"][0]["url"], "rules/aaaaaaaa-0000-4000-8000-000000000004.html");
}

TEST(Layer, BadScoreIsAUsageError) {
  TempDir dir;
  write_corpus(dir);
  EXPECT_EQ(run_cli({"layer", (dir.path() / "rules").string(), "--score", "max"}).exit_code, 2);
  EXPECT_EQ(run_cli({"layer", (dir.path() / "nothing").string()}).exit_code, 2);
}

// The corpus covers T1059.001 (rules A and B) and T1003.001 (rule D); rule
// C is deprecated, so it covers nothing.
TEST(Layer, BaselineGapsFromATextFile) {
  TempDir dir;
  write_corpus(dir);
  dir.write("baseline.txt",
            "# techniques we must cover\nT1059.001, t1003.001\nT1059   # parent: covered by its sub-technique\n"
            "T1003.002\nT1547\n");
  const auto gaps = dir.path() / "gaps.json";
  auto r = run_cli({"layer", (dir.path() / "rules").string(), "-o", (dir.path() / "layer.json").string(), "--baseline",
                    (dir.path() / "baseline.txt").string(), "--gaps-output", gaps.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 techniques covered by at least one rule, 2 without a rule"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no rule: T1003.002 OS Credential Dumping: Security Account Manager"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no rule: T1547 Boot or Logon Autostart Execution"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("no rule: T1059"), std::string::npos) << r.err;

  json layer = json::parse(read_file(gaps));
  EXPECT_EQ(layer["versions"]["layer"], "4.5");
  ASSERT_NE(technique(layer, "T1003.002"), nullptr);
  EXPECT_EQ((*technique(layer, "T1003.002"))["comment"], "no rule");
  EXPECT_EQ((*technique(layer, "T1003.002"))["color"], "#d7301f");
  EXPECT_EQ((*technique(layer, "T1059.001"))["comment"], "2 rules");
  EXPECT_EQ((*technique(layer, "T1059"))["comment"], "2 rules");
  EXPECT_EQ((*technique(layer, "T1003.001"))["comment"], "1 rule");
  // The parent of a listed sub-technique is shown expanded.
  ASSERT_NE(technique(layer, "T1003"), nullptr);
  EXPECT_EQ((*technique(layer, "T1003"))["showSubtechniques"], true);

  // --fail-on-gaps turns the two gaps into exit status 1, for CI.
  r = run_cli({"layer", (dir.path() / "rules").string(), "-o", (dir.path() / "layer.json").string(), "--baseline",
               (dir.path() / "baseline.txt").string(), "--fail-on-gaps"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST(Layer, BaselineFromANavigatorLayer) {
  TempDir dir;
  write_corpus(dir);
  // A parent's tag does not cover its sub-technique; disabled entries are not asked for.
  dir.write("rules/e.yml", rule("aaaaaaaa-0000-4000-8000-000000000005", "Rule E", "high", "stable",
                                "  sel:\n    Image|endswith: '\\schtasks.exe'\n  condition: sel\n",
                                "  - attack.persistence\n  - attack.t1053\n"));
  dir.write("want.json", R"({"name": "threat profile", "techniques": [
      {"techniqueID": "T1059.001", "score": 3}, {"techniqueID": "T1053.005"}, {"techniqueID": "T1053"},
      {"techniqueID": "T1110", "enabled": false}]})");
  auto r = run_cli({"layer", (dir.path() / "rules").string(), "-o", (dir.path() / "layer.json").string(), "--baseline",
                    (dir.path() / "want.json").string(), "--fail-on-gaps"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("2 techniques covered by at least one rule, 1 without a rule"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no rule: T1053.005"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("T1110"), std::string::npos) << r.err;
}

TEST(Layer, BadBaselinesAreUsageErrors) {
  TempDir dir;
  write_corpus(dir);
  const std::string rules = (dir.path() / "rules").string();
  dir.write("typo.txt", "T1059.001\nT10590\n");
  auto r = run_cli({"layer", rules, "--baseline", (dir.path() / "typo.txt").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("typo.txt:2: 'T10590' is not a technique id"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "no layer is written before the baseline is read";

  dir.write("broken.json", R"({"techniques": [{"techniqueID": "T1059"}, {"score": 1}]})");
  r = run_cli({"layer", rules, "--baseline", (dir.path() / "broken.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("technique entry 2 has no \"techniqueID\" string"), std::string::npos) << r.err;

  dir.write("bad.json", "{\"techniques\": [");
  r = run_cli({"layer", rules, "--baseline", (dir.path() / "bad.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not valid JSON"), std::string::npos) << r.err;

  r = run_cli({"layer", rules, "--fail-on-gaps"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("need --baseline"), std::string::npos) << r.err;
}

TEST(Site, LayerFileMatchesTheCommand) {
  TempDir dir;
  write_corpus(dir);
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()}).exit_code, 0);
  json layer = json::parse(read_file(dir.path() / "site" / "attack-navigator-layer.json"));
  EXPECT_EQ(layer["versions"]["layer"], "4.5");
  EXPECT_EQ((*technique(layer, "T1059.001"))["score"], 2);
}

TEST(Site, RelatedRulesRankedBySharedIndicators) {
  TempDir dir;
  write_corpus(dir);
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()}).exit_code, 0);
  json page = json::parse(read_file(dir.path() / "site" / "rules" / "aaaaaaaa-0000-4000-8000-000000000001.json"));
  const json& related = page["related_rules"];
  ASSERT_EQ(related.size(), 2u) << related.dump(1);
  EXPECT_EQ(related[0]["id"], "aaaaaaaa-0000-4000-8000-000000000002");  // Image and ' -enc '
  EXPECT_EQ(related[0]["shared"], 2);
  EXPECT_EQ(related[0]["examples"].size(), 2u);
  EXPECT_EQ(related[1]["id"], "aaaaaaaa-0000-4000-8000-000000000003");  // Image only
  EXPECT_EQ(related[1]["shared"], 1);
  json lone = json::parse(read_file(dir.path() / "site" / "rules" / "aaaaaaaa-0000-4000-8000-000000000004.json"));
  EXPECT_TRUE(lone["related_rules"].empty());
  std::string html = read_file(dir.path() / "site" / "rules" / "aaaaaaaa-0000-4000-8000-000000000001.html");
  EXPECT_NE(html.find("id=\"related-rules\""), std::string::npos);
  EXPECT_NE(html.find("href=\"aaaaaaaa-0000-4000-8000-000000000002.html\">Rule B</a>"), std::string::npos);
  // explain with a corpus ranks the same way, without the rule itself.
  auto r = run_cli({"explain", (dir.path() / "rules" / "a.yml").string(), "--corpus",
                    (dir.path() / "rules").string(), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json explained = json::parse(r.out);
  ASSERT_TRUE(explained.is_array()) << r.out;
  ASSERT_EQ(explained.size(), 1u);
  ASSERT_EQ(explained[0]["related_rules"].size(), 2u);
  EXPECT_EQ(explained[0]["related_rules"][0]["shared"], 2);
}

TEST(Site, ProviderPagesListEventsFieldsAndRules) {
  TempDir dir;
  write_corpus(dir);
  auto site = dir.path() / "site";
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", site.string()}).exit_code, 0);
  std::string providers = read_file(site / "providers.html");
  EXPECT_NE(providers.find("href=\"providers/microsoft-windows-sysmon-operational.html\""), std::string::npos);
  std::string sysmon = read_file(site / "providers" / "microsoft-windows-sysmon-operational.html");
  EXPECT_NE(sysmon.find("id=\"event-1\""), std::string::npos);
  EXPECT_NE(sysmon.find("<code>CommandLine</code>"), std::string::npos);
  EXPECT_NE(sysmon.find("href=\"../rules/aaaaaaaa-0000-4000-8000-000000000004.html\""), std::string::npos);
  // CommandLine: rules A, B and D; Image: A, B and C.
  EXPECT_NE(sysmon.find("<tr><td><code>CommandLine</code></td><td></td><td>yes</td><td>yes</td>"
                        "<td><details><summary>3</summary>"),
            std::string::npos);
  std::string security = read_file(site / "providers" / "security.html");
  EXPECT_NE(security.find("id=\"event-4688\""), std::string::npos);
  EXPECT_NE(security.find("<tr><td><code>NewProcessName</code></td><td>Image</td>"), std::string::npos);
  EXPECT_NE(security.find("href=\"../rules/aaaaaaaa-0000-4000-8000-000000000001.html\""), std::string::npos);
}

// Security 4688 lists its own fields: Sysmon's OriginalFileName shows as
// missing because a rule tests it, and Hashes, which no rule tests, is gone.
TEST(Site, ProviderPageMarksFieldsTheEventLacks) {
  TempDir dir;
  write_corpus(dir);
  dir.write("rules/e.yml", rule("aaaaaaaa-0000-4000-8000-000000000005", "Rule E", "low", "test",
                                "  sel:\n    OriginalFileName: 'psexec.c'\n  condition: sel\n",
                                "  - attack.execution\n"));
  auto site = dir.path() / "site";
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", site.string()}).exit_code, 0);
  std::string security = read_file(site / "providers" / "security.html");
  const auto begin = security.find("id=\"event-4688\"");
  ASSERT_NE(begin, std::string::npos);
  const std::string section = security.substr(begin, security.find("</section>", begin) - begin);
  EXPECT_NE(section.find("<tr class=\"missing\"><td><code>OriginalFileName</code></td><td></td>"
                         "<td><strong class=\"missing\">no</strong></td>"),
            std::string::npos)
      << section;
  EXPECT_NE(section.find("Rules test fields that this event does not have: <code>OriginalFileName</code> (1 rule)"),
            std::string::npos)
      << section;
  EXPECT_EQ(section.find("<code>Hashes</code>"), std::string::npos) << section;
  EXPECT_NE(section.find("<tr><td><code>TokenElevationType</code></td><td></td><td>yes</td>"), std::string::npos)
      << section;
  // Sysmon event 1 has Hashes.
  std::string sysmon = read_file(site / "providers" / "microsoft-windows-sysmon-operational.html");
  EXPECT_NE(sysmon.find("<tr><td><code>Hashes</code></td><td></td><td>yes</td>"), std::string::npos);
}

// Hayabusa's title table spells a channel "Microsfot-...": its page keeps that
// name and names the corrected one.
TEST(Site, MisspelledChannelPageNamesTheCorrectName) {
  TempDir dir;
  write_corpus(dir);
  auto site = dir.path() / "site";
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", site.string()}).exit_code, 0);
  std::string providers = read_file(site / "providers.html");
  EXPECT_NE(providers.find(">Microsfot-Windows-USB-USBHUB3-Analytic</a> <span class=\"muted\">(probably misspelled: "
                           "Microsoft-Windows-USB-USBHUB3-Analytic)</span>"),
            std::string::npos);
  std::string page = read_file(site / "providers" / "microsfot-windows-usb-usbhub3-analytic.html");
  EXPECT_NE(page.find("<h1>Microsfot-Windows-USB-USBHUB3-Analytic</h1>"), std::string::npos);
  EXPECT_NE(page.find("<p class=\"misspelled\"><strong>Probably misspelled.</strong>"), std::string::npos);
  EXPECT_NE(page.find("has the word <code>Microsfot</code>"), std::string::npos);
  EXPECT_NE(page.find("The channel meant is probably <code>Microsoft-Windows-USB-USBHUB3-Analytic</code>"),
            std::string::npos);
  // Correctly spelled channels get no such note.
  std::string security = read_file(site / "providers" / "security.html");
  EXPECT_EQ(security.find("misspelled"), std::string::npos);
}

TEST(Site, HeatmapHasTheFullMatrix) {
  TempDir dir;
  write_corpus(dir);
  auto site = dir.path() / "site";
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", site.string()}).exit_code, 0);
  std::string html = read_file(site / "attack.html");
  EXPECT_TRUE(std::filesystem::exists(site / "assets" / "attack.js"));
  // Every tactic column, techniques without rules and sub-techniques included.
  EXPECT_NE(html.find("data-tactic=\"reconnaissance\""), std::string::npos);
  EXPECT_NE(html.find("data-tactic=\"impact\""), std::string::npos);
  EXPECT_NE(html.find("data-tid=\"T1059.001\""), std::string::npos);
  EXPECT_NE(html.find("data-tid=\"T1595\""), std::string::npos);
  EXPECT_NE(html.find("<b class=\"n\">2</b>"), std::string::npos);  // T1059 / T1059.001, active rules
}

TEST(Site, NoScriptBreakoutOrInlineScripts) {
  TempDir dir;
  dir.write("rules/x.yml", rule("bbbbbbbb-0000-4000-8000-000000000009", "'</script><script>alert(1)</script>'",
                                "high", "test", "  sel:\n    CommandLine|contains: '</script>'\n  condition: sel\n",
                                "  - attack.t1059\n"));
  auto site = dir.path() / "site";
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", site.string()}).exit_code, 0);
  std::string data = read_file(site / "assets" / "index-data.js");
  EXPECT_EQ(data.find("</"), std::string::npos);
  EXPECT_NE(data.find("<\\/script>"), std::string::npos);
  std::regex inline_handler(R"(<[^>]+\son[a-z]+\s*=)", std::regex::icase);
  for (const char* f : {"index.html", "attack.html", "providers.html", "providers/security.html",
                        "rules/bbbbbbbb-0000-4000-8000-000000000009.html"}) {
    std::string html = read_file(site / f);
    EXPECT_FALSE(std::regex_search(html, inline_handler)) << f;
  }
  for (const char* f : {"index.html", "attack.html"}) {
    std::string html = read_file(site / f);
    EXPECT_EQ(html.find("<script>"), std::string::npos) << f;
    EXPECT_NE(html.find("<script src=\"assets/"), std::string::npos) << f;
  }
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(Site, RelatedIdsOutsideTheCatalogAreNotLinks) {
  // Found by a trial on the SigmaHQ corpus: `related:` ids of rules removed
  // upstream were links to pages that do not exist.
  TempDir dir;
  write_corpus(dir);
  dir.write("rules/e.yml",
            "title: Rule E\nid: aaaaaaaa-0000-4000-8000-000000000005\nstatus: test\nrelated:\n"
            "  - id: aaaaaaaa-0000-4000-8000-000000000004\n    type: similar\n"
            "  - id: ffffffff-0000-4000-8000-00000000dead\n    type: obsolete\n"
            "logsource:\n  product: windows\n  category: process_creation\n"
            "detection:\n  sel:\n    CommandLine|contains: 'sekurlsa'\n  condition: sel\nlevel: high\n");
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()}).exit_code, 0);
  std::string html = read_file(dir.path() / "site" / "rules" / "aaaaaaaa-0000-4000-8000-000000000005.html");
  EXPECT_NE(html.find("<a href=\"aaaaaaaa-0000-4000-8000-000000000004.html\">"), std::string::npos);
  EXPECT_EQ(html.find("href=\"ffffffff-0000-4000-8000-00000000dead.html\""), std::string::npos);
  EXPECT_NE(html.find("<code>ffffffff-0000-4000-8000-00000000dead</code> <span class=\"note\">(not in this catalog)"),
            std::string::npos);
  // The corpus count of the shared indicator lists the other rule.
  EXPECT_NE(html.find("<details class=\"peers\"><summary>1</summary><ul><li><a href=\"../rules/"
                      "aaaaaaaa-0000-4000-8000-000000000004.html\">Rule D</a></li></ul></details>"),
            std::string::npos);
}

TEST(Site, HugeTitlesAreShortenedInLists) {
  // Found by a trial: a 100 KB title made every page listing it as related
  // about a million pixels wide.
  TempDir dir;
  write_corpus(dir);
  const std::string huge(100000, 'W');
  dir.write("rules/h.yml", rule("aaaaaaaa-0000-4000-8000-000000000009", huge, "high", "test",
                                "  sel:\n    CommandLine|contains: 'sekurlsa'\n  condition: sel\n",
                                "  - attack.credential-access\n"));
  ASSERT_EQ(run_cli({"catalog", (dir.path() / "rules").string(), "--out", (dir.path() / "site").string()}).exit_code, 0);
  std::string other = read_file(dir.path() / "site" / "rules" / "aaaaaaaa-0000-4000-8000-000000000004.html");
  EXPECT_EQ(other.find(std::string(161, 'W')), std::string::npos);
  EXPECT_NE(other.find(std::string(160, 'W') + "\u2026"), std::string::npos);
  // The rule's own page keeps the whole title.
  std::string own = read_file(dir.path() / "site" / "rules" / "aaaaaaaa-0000-4000-8000-000000000009.html");
  EXPECT_NE(own.find("<h1>" + huge + "</h1>"), std::string::npos);
}

TEST(Layer, KeepsTechniqueIdsNewerThanTheBundledData) {
  // Found by a trial: ATT&CK v19 ids such as T1685 were dropped silently.
  TempDir dir;
  write_corpus(dir);
  dir.write("rules/n.yml", rule("aaaaaaaa-0000-4000-8000-000000000010", "Rule N", "high", "test",
                                "  sel:\n    CommandLine|contains: 'x'\n  condition: sel\n",
                                "  - attack.stealth\n  - attack.t1685\n"));
  auto r = run_cli({"layer", (dir.path() / "rules").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json layer = json::parse(r.out);
  ASSERT_NE(technique(layer, "T1685"), nullptr);
  EXPECT_NE(layer["description"].get<std::string>().find("are kept as tagged: T1685"), std::string::npos);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(Site, CorrelationWithMissingReferenceWarned) {
  // Found by a user test: the catalog showed a correlation that references a
  // rule that does not exist with no warning and "diagnostics": [] on its
  // page, while check reported it as correlation-reference.
  testing::TempDir dir;
  dir.write("rules/correlation_missing_ref.yml",
            "title: Corr missing\nid: 88888888-0000-4000-8000-000000000006\nstatus: test\ncorrelation:\n"
            "    type: event_count\n    rules:\n        - 88888888-0000-4000-8000-00000000dead\n"
            "    group-by: [Computer]\n    timespan: 5m\n    condition:\n        gte: 3\nlevel: high\n");
  dir.write("rules/correlation_ok.yml",
            "title: Corr ok\nid: 88888888-0000-4000-8000-000000000007\nstatus: test\ncorrelation:\n"
            "    type: event_count\n    rules: [88888888-0000-4000-8000-000000000008]\n"
            "    group-by: [Computer]\n    timespan: 5m\n    condition:\n        gte: 3\nlevel: high\n");
  dir.write("rules/whoami.yml",
            "title: Whoami\nid: 88888888-0000-4000-8000-000000000008\nstatus: test\n"
            "logsource:\n    product: windows\n    category: process_creation\n"
            "detection:\n    selection:\n        Image|endswith: '\\whoami.exe'\n    condition: selection\nlevel: low\n");
  auto site = dir.path() / "site";
  // --strict fails only when a rule does not load, and this correlation loads.
  auto r = run_cli({"catalog", (dir.path() / "rules").string(), "--strict", "--out", site.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: [rule 88888888-0000-4000-8000-000000000006] hunt cannot run this correlation: it "
                       "references '88888888-0000-4000-8000-00000000dead'"),
            std::string::npos)
      << r.err;

  json page = json::parse(read_file(site / "rules" / "88888888-0000-4000-8000-000000000006.json"));
  ASSERT_EQ(page["diagnostics"].size(), 1u) << page["diagnostics"].dump();
  EXPECT_EQ(page["diagnostics"][0]["severity"], "warning");
  EXPECT_NE(page["diagnostics"][0]["message"].get<std::string>().find("00000000dead"), std::string::npos);
  json ok = json::parse(read_file(site / "rules" / "88888888-0000-4000-8000-000000000007.json"));
  EXPECT_TRUE(ok["diagnostics"].empty()) << ok["diagnostics"].dump();
}

}  // namespace
}  // namespace sigscope
