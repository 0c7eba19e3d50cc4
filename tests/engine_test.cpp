// Matching semantics of the engine, one point per test: modifiers, wildcards,
// case folding, null/empty/missing, keywords, nested fields, arrays, regex
// engines, logsource routing and filters.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "sigscope/compile/compiler.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/match/engine.h"
#include "sigscope/match/glob.h"
#include "sigscope/output/detections.h"
#include "sigscope/rules/loader.h"
#include "test_support.h"

namespace sigscope {
namespace {

constexpr const char* kId = "00000000-0000-4000-8000-000000000001";

// A rule with one selection `sel` holding `entries`, for product `logsource`.
std::string rule(const std::string& entries, const std::string& logsource = "product: test",
                 const std::string& condition = "sel", const std::string& id = kId) {
  return "title: t\nid: " + id + "\nlogsource:\n  " + logsource + "\ndetection:\n  sel:\n" + entries +
         "  condition: " + condition + "\n";
}

class EngineFixture {
 public:
  explicit EngineFixture(const std::string& rules_yaml, EngineOptions options = {}) {
    DiagnosticList diagnostics;
    auto rules = load_rules_from_text(rules_yaml, "test.yml", diagnostics);
    auto compiled = compile_rules(std::move(rules), diagnostics, 1);
    for (const auto& d : diagnostics.items())
      if (d.severity == Severity::Error) ADD_FAILURE() << d.format();
    engine = std::make_unique<Engine>(std::move(compiled.rules), options, diagnostics);
    matcher = engine->matcher();
  }

  std::set<std::string> fired(const std::string& event_json) {
    std::set<std::string> ids;
    std::string error;
    bool ok = reader.read_object(event_json, 1, [&](const RawEvent& event) {
      std::vector<Detection> detections;
      matcher->match(event, detections);
      for (const auto& d : detections) ids.insert(engine->rules()[d.rule]->rule.id);
    }, error);
    EXPECT_TRUE(ok) << error;
    return ids;
  }
  bool hits(const std::string& event_json) { return fired(event_json).count(kId) > 0; }

  std::unique_ptr<Engine> engine;
  std::unique_ptr<Matcher> matcher;
  JsonEventReader reader;
};

bool matches(const std::string& entries, const std::string& event_json) {
  EngineFixture f(rule(entries));
  return f.hits(event_json);
}

TEST(EngineModifiers, EqualsIsWholeValue) {
  EXPECT_TRUE(matches("    Image: 'C:\\a.exe'\n", R"({"Image": "c:\\A.EXE"})"));
  EXPECT_FALSE(matches("    Image: 'C:\\a.exe'\n", R"({"Image": "C:\\a.exe.bak"})"));
}

TEST(EngineModifiers, ContainsStartswithEndswith) {
  EXPECT_TRUE(matches("    F|contains: 'mid'\n", R"({"F": "a MID b"})"));
  EXPECT_TRUE(matches("    F|startswith: 'ab'\n", R"({"F": "abc"})"));
  EXPECT_FALSE(matches("    F|startswith: 'bc'\n", R"({"F": "abc"})"));
  EXPECT_TRUE(matches("    F|endswith: 'bc'\n", R"({"F": "abc"})"));
  EXPECT_FALSE(matches("    F|endswith: 'ab'\n", R"({"F": "abc"})"));
}

TEST(EngineModifiers, AllNeedsEveryValue) {
  const std::string entries = "    F|contains|all:\n      - 'a'\n      - 'z'\n";
  EXPECT_TRUE(matches(entries, R"({"F": "a..z"})"));
  EXPECT_FALSE(matches(entries, R"({"F": "a..."})"));
}

TEST(EngineModifiers, ListIsAnyOf) {
  EXPECT_TRUE(matches("    F:\n      - 'x'\n      - 'y'\n", R"({"F": "y"})"));
}

TEST(EngineModifiers, WindashAllDashesAtWordStart) {
  const std::string entries = "    C|contains|windash: ' -enc '\n";
  for (const char* dash : {"-", "/", "\u2013", "\u2014", "\u2015"})
    EXPECT_TRUE(matches(entries, std::string(R"({"C": "ps )") + dash + R"(enc x"})")) << dash;
  EXPECT_FALSE(matches(entries, R"({"C": "ps _enc x"})"));
}

TEST(EngineModifiers, RegexFlags) {
  EXPECT_TRUE(matches("    F|re: 'a.c'\n", R"({"F": "xxabcxx"})"));  // unanchored search
  EXPECT_FALSE(matches("    F|re: 'ABC'\n", R"({"F": "abc"})"));      // case-sensitive
  EXPECT_TRUE(matches("    F|re|i: 'ABC'\n", R"({"F": "abc"})"));
  EXPECT_FALSE(matches("    F|re: '^b$'\n", R"({"F": "a\nb\nc"})"));
  EXPECT_TRUE(matches("    F|re|m: '^b$'\n", R"({"F": "a\nb\nc"})"));
  EXPECT_FALSE(matches("    F|re: 'a.c'\n", R"({"F": "a\nc"})"));
  EXPECT_TRUE(matches("    F|re|s: 'a.c'\n", R"({"F": "a\nc"})"));
}

TEST(EngineModifiers, RegexLookAheadUsesBacktrackingEngine) {
  EXPECT_TRUE(matches("    F|re: 'foo(?=bar)'\n", R"({"F": "foobar"})"));
  EXPECT_FALSE(matches("    F|re: 'foo(?=bar)'\n", R"({"F": "foobaz"})"));
  EXPECT_TRUE(matches("    F|re: '(a)\\1'\n", R"({"F": "xaax"})"));  // backreference
}

TEST(EngineModifiers, RegexMatchLimitIsCounted) {
  EngineFixture f(rule("    F|re: '^(a|aa)+(?=b)$'\n"));
  std::string value(40, 'a');
  EXPECT_FALSE(f.hits(R"({"F": ")" + value + R"(c"})"));
  EXPECT_GT(f.matcher->regex_limit_hits(), 0u);
}

TEST(EngineModifiers, Base64AndBase64Offset) {
  EXPECT_TRUE(matches("    F|base64|contains: 'ping'\n", R"({"F": "x cGluZw== y"})"));
  const std::string entries = "    F|base64offset|contains: 'http://'\n";
  EXPECT_TRUE(matches(entries, R"({"F": "aHR0cDovL2V4YW1wbGUuY29t"})"));   // "http://example.com"
  EXPECT_TRUE(matches(entries, R"({"F": "IGh0dHA6Ly9leGFtcGxlLmNvbQ=="})"));  // " http://example.com"
  EXPECT_TRUE(matches(entries, R"({"F": "ICBodHRwOi8vZXhhbXBsZS5jb20="})"));  // "  http://example.com"
}

TEST(EngineModifiers, Utf16ThenBase64) {
  // "ping" in UTF-16LE, base64: cABpAG4AZwA=
  EXPECT_TRUE(matches("    F|utf16le|base64|contains: 'ping'\n", R"({"F": "-enc cABpAG4AZwA="})"));
  EXPECT_TRUE(matches("    F|wide|base64|contains: 'ping'\n", R"({"F": "-enc cABpAG4AZwA="})"));
  // UTF-16BE "ping": AHAAaQBuAGc=
  EXPECT_TRUE(matches("    F|utf16be|base64|contains: 'ping'\n", R"({"F": "AHAAaQBuAGc="})"));
  // With byte order mark FF FE: //5wAGkAbgBnAA==
  EXPECT_TRUE(matches("    F|utf16|base64|contains: 'ping'\n", R"({"F": "//5wAGkAbgBnAA=="})"));
}

TEST(EngineModifiers, CidrIpv4AndIpv6) {
  const std::string entries = "    Ip|cidr:\n      - '10.0.0.0/8'\n      - 'fe80::/10'\n";
  EXPECT_TRUE(matches(entries, R"({"Ip": "10.200.3.4"})"));
  EXPECT_FALSE(matches(entries, R"({"Ip": "11.0.0.1"})"));
  EXPECT_TRUE(matches(entries, R"({"Ip": "FE80::1"})"));
  EXPECT_TRUE(matches(entries, R"({"Ip": "fe80:0000::abcd"})"));  // compared numerically, not as text
  EXPECT_FALSE(matches(entries, R"({"Ip": "fec0::1"})"));
  EXPECT_TRUE(matches(entries, R"({"Ip": "::ffff:10.1.1.1"})"));  // IPv4-mapped
  EXPECT_FALSE(matches(entries, R"({"Ip": "not an ip"})"));
}

TEST(EngineModifiers, Exists) {
  EXPECT_TRUE(matches("    F|exists: true\n", R"({"F": ""})"));
  EXPECT_TRUE(matches("    F|exists: true\n", R"({"F": null})"));
  EXPECT_FALSE(matches("    F|exists: true\n", R"({"G": 1})"));
  EXPECT_TRUE(matches("    F|exists: false\n", R"({"G": 1})"));
}

TEST(EngineModifiers, FieldRef) {
  EXPECT_TRUE(matches("    A|fieldref: B\n", R"({"A": "Admin", "B": "admin"})"));
  EXPECT_FALSE(matches("    A|fieldref: B\n", R"({"A": "x", "B": "y"})"));
  EXPECT_FALSE(matches("    A|fieldref: B\n", R"({"A": "x"})"));
  EXPECT_TRUE(matches("    A|fieldref|endswith: B\n", R"({"A": "c:\\tools\\x.exe", "B": "x.exe"})"));
  EXPECT_TRUE(matches("    A|fieldref|neq: B\n", R"({"A": "x", "B": "y"})"));
  EXPECT_FALSE(matches("    A|fieldref|neq: B\n", R"({"A": "x", "B": "X"})"));
}

TEST(EngineModifiers, NumericComparisons) {
  EXPECT_TRUE(matches("    N|lt: 10\n", R"({"N": 9})"));
  EXPECT_TRUE(matches("    N|lt: 10\n", R"({"N": "9"})"));  // numeric string
  EXPECT_FALSE(matches("    N|lt: 10\n", R"({"N": 10})"));
  EXPECT_TRUE(matches("    N|lte: 10\n", R"({"N": 10.0})"));
  EXPECT_TRUE(matches("    N|gt: 10\n", R"({"N": "0x20"})"));  // hexadecimal text
  EXPECT_TRUE(matches("    N|gte: 1.5\n", R"({"N": 1.5})"));
  EXPECT_FALSE(matches("    N|gt: 10\n", R"({"N": "many"})"));
}

TEST(EngineModifiers, Neq) {
  EXPECT_TRUE(matches("    S|neq: 'ok'\n", R"({"S": "fail"})"));
  EXPECT_FALSE(matches("    S|neq: 'ok'\n", R"({"S": "OK"})"));
  EXPECT_FALSE(matches("    S|neq: 'ok'\n", R"({"T": "x"})"));  // the field must be present
  EXPECT_FALSE(matches("    S|neq:\n      - 'a'\n      - 'b'\n", R"({"S": "b"})"));  // differs from every value
}

TEST(EngineModifiers, Cased) {
  EXPECT_TRUE(matches("    F|cased: 'CmD'\n", R"({"F": "CmD"})"));
  EXPECT_FALSE(matches("    F|cased: 'CmD'\n", R"({"F": "cmd"})"));
}

TEST(EngineModifiers, TimeParts) {
  const std::string event = R"({"T": "2024-05-01T22:45:10.123Z"})";
  EXPECT_TRUE(matches("    T|hour: 22\n", event));
  EXPECT_TRUE(matches("    T|minute: 45\n", event));
  EXPECT_TRUE(matches("    T|day: 1\n", event));
  EXPECT_TRUE(matches("    T|month: 5\n", event));
  EXPECT_TRUE(matches("    T|year: 2024\n", event));
  EXPECT_TRUE(matches("    T|week: 18\n", event));  // ISO 8601 week
  EXPECT_TRUE(matches("    T|hour|gte: 20\n", event));
  EXPECT_FALSE(matches("    T|hour|lt: 6\n", event));
  EXPECT_TRUE(matches("    T|hour: 6\n", R"({"T": "2024-05-01 06:00:00.000"})"));  // Sysmon UtcTime layout
}

TEST(EngineModifiers, ExpandWithoutValueIsNotRun) {
  EngineFixture f(rule("    U|expand: '%admins%'\n"));
  EXPECT_TRUE(f.engine->rules().empty());
  ASSERT_EQ(f.engine->unsupported().size(), 1u);
  EXPECT_NE(f.engine->unsupported()[0].reason.find("%admins%"), std::string::npos);
}

TEST(EngineWildcards, StarQuestionAndEscapes) {
  EXPECT_TRUE(matches("    F: 'a*c'\n", R"({"F": "abbbc"})"));
  EXPECT_TRUE(matches("    F: 'a*c'\n", R"({"F": "a\r\n\tc"})"));
  EXPECT_TRUE(matches("    F: 'a?c'\n", R"({"F": "abc"})"));
  EXPECT_TRUE(matches("    F: 'a?c'\n", R"({"F": "aäc"})"));  // one code point
  EXPECT_FALSE(matches("    F: 'a?c'\n", R"({"F": "ac"})"));
  EXPECT_TRUE(matches("    F: 'a\\*c'\n", R"({"F": "a*c"})"));
  EXPECT_FALSE(matches("    F: 'a\\*c'\n", R"({"F": "abc"})"));
  EXPECT_TRUE(matches("    F: 'C:\\\\\\\\x'\n", R"({"F": "C:\\\\x"})"));  // four backslashes: two
}

TEST(EngineCase, UnicodeFolding) {
  EXPECT_TRUE(matches("    F|endswith: 'äbc.exe'\n", R"({"F": "C:\\ÄBC.EXE"})"));
  EXPECT_TRUE(matches("    F: 'ΣΊΣΥΦΟΣ'\n", R"({"F": "σίσυφοσ"})"));
  EXPECT_TRUE(matches("    F|contains: 'straße'\n", R"({"F": "STRAẞE"})"));  // capital sharp s folds to ß
}

TEST(EngineValues, NumbersAndNumericStrings) {
  EXPECT_TRUE(matches("    EventID: 4688\n", R"({"EventID": "4688"})"));
  EXPECT_TRUE(matches("    EventID: '4688'\n", R"({"EventID": 4688})"));
  EXPECT_FALSE(matches("    EventID: 4688\n", R"({"EventID": 46880})"));
  EXPECT_TRUE(matches("    Flag: true\n", R"({"Flag": true})"));
  EXPECT_TRUE(matches("    Flag: true\n", R"({"Flag": "True"})"));
}

TEST(EngineValues, NullEmptyMissing) {
  EXPECT_TRUE(matches("    F: null\n", R"({"G": 1})"));
  EXPECT_TRUE(matches("    F: null\n", R"({"F": null})"));
  EXPECT_FALSE(matches("    F: null\n", R"({"F": ""})"));
  EXPECT_TRUE(matches("    F: ''\n", R"({"F": ""})"));
  EXPECT_FALSE(matches("    F: ''\n", R"({"F": null})"));
  EXPECT_FALSE(matches("    F: ''\n", R"({"G": 1})"));
}

TEST(EngineValues, NotOverMissingFieldIsTrue) {
  EngineFixture f(rule("    A: 'x'\n  filter:\n    B: 'y'\n", "product: test", "sel and not filter"));
  EXPECT_TRUE(f.hits(R"({"A": "x"})"));
  EXPECT_FALSE(f.hits(R"({"A": "x", "B": "Y"})"));
}

TEST(EngineKeywords, SearchEveryStringValue) {
  std::string yaml = "title: t\nid: " + std::string(kId) +
                     "\nlogsource:\n  product: test\ndetection:\n  keywords:\n    - 'mimikatz'\n  condition: keywords\n";
  EngineFixture f(yaml);
  EXPECT_TRUE(f.hits(R"({"A": "run MIMIKATZ now"})"));
  EXPECT_TRUE(f.hits(R"({"Nested": {"Deep": "mimikatz.exe"}})"));
  EXPECT_TRUE(f.hits(R"({"List": ["x", "mimikatz"]})"));
  EXPECT_FALSE(f.hits(R"({"A": "mimi katz"})"));
}

// Keyword search folds non-ASCII text as field matching does. Only the
// Kelvin sign (U+212A) and the long s (U+017F) fold to ASCII letters, so an
// ASCII keyword can match text that contains one of them.
TEST(EngineKeywords, NonAsciiTextIsFolded) {
  std::string yaml = "title: t\nid: " + std::string(kId) +
                     "\nlogsource:\n  product: test\ndetection:\n  keywords:\n    - 'mimikatz'\n    - 'sekurlsa'\n"
                     "  condition: keywords\n";
  EngineFixture f(yaml);
  EXPECT_TRUE(f.hits(R"({"A": "run MIMI\u212AATZ now"})"));
  EXPECT_TRUE(f.hits(R"({"A": "\u017Fekurlsa::logonpasswords"})"));
  EXPECT_TRUE(f.hits(R"({"A": "Gr\u00F6\u00DFe", "B": "run mimikatz"})"));
  EXPECT_FALSE(f.hits(R"({"A": "mimik\u00E4tz"})"));
  EXPECT_FALSE(f.hits(R"({"A": "Gr\u00F6\u00DFe", "B": "sekur lsa"})"));
}

TEST(EngineFields, NestedPathsAndArrays) {
  EXPECT_TRUE(matches("    a.b.c: 'x'\n", R"({"a": {"b": {"c": "X"}}})"));
  EXPECT_TRUE(matches("    a.b: 'x'\n", R"({"a": [{"b": "y"}, {"b": "x"}]})"));
  EXPECT_TRUE(matches("    tags: 'two'\n", R"({"tags": ["one", "two"]})"));
  EXPECT_FALSE(matches("    tags: 'three'\n", R"({"tags": ["one", "two"]})"));
  EXPECT_FALSE(matches("    a.b: 1\n", R"({"a.b": 2, "a": {"b": 1}})"));  // a literal dotted key wins
}

TEST(EngineFields, NamesWithSpacesAnswerWithoutThem) {
  EXPECT_TRUE(matches("    ThreatName|contains: 'EICAR'\n", R"({"Threat Name": "Virus:DOS/EICAR_Test_File"})"));
}

TEST(EngineRouting, ChannelAndEventIdSelectRules) {
  EngineFixture f(rule("    Image|endswith: '\\cmd.exe'\n", "category: process_creation\n  product: windows"));
  EXPECT_TRUE(f.hits(R"({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\cmd.exe"})"));
  // Another Sysmon event id with the same field is not process creation.
  EXPECT_FALSE(f.hits(R"({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 7, "Image": "C:\\cmd.exe"})"));
  EXPECT_FALSE(f.hits(R"({"Channel": "Application", "EventID": 1, "Image": "C:\\cmd.exe"})"));
}

TEST(EngineRouting, Security4688UsesFieldRenames) {
  EngineFixture f(rule("    Image|endswith: '\\cmd.exe'\n    ParentImage|endswith: '\\winword.exe'\n",
                       "category: process_creation\n  product: windows"));
  EXPECT_TRUE(f.hits(R"({"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\cmd.exe",
                         "ParentProcessName": "C:\\Office\\WINWORD.EXE"})"));
  EXPECT_FALSE(f.hits(R"({"Channel": "Security", "EventID": 4624, "NewProcessName": "C:\\cmd.exe",
                          "ParentProcessName": "C:\\Office\\WINWORD.EXE"})"));
}

// Security 4657 names the process ProcessName (4688 calls it NewProcessName).
TEST(EngineRouting, Security4657NamesTheProcessProcessName) {
  EngineFixture f(rule("    Image|endswith: '\\reg.exe'\n    Details|contains: 'evil'\n",
                       "category: registry_set\n  product: windows"));
  EXPECT_TRUE(f.hits(R"({"Channel": "Security", "EventID": 4657, "OperationType": "Existing registry value modified",
                         "ProcessName": "C:\\Windows\\System32\\reg.exe", "NewValue": "evil.dll"})"));
  EXPECT_FALSE(f.hits(R"({"Channel": "Security", "EventID": 4657, "OperationType": "Existing registry value modified",
                          "NewProcessName": "C:\\Windows\\System32\\reg.exe", "NewValue": "evil.dll"})"));
  EXPECT_TRUE(f.hits(R"({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 13,
                         "Image": "C:\\Windows\\System32\\reg.exe", "Details": "evil.dll"})"));
}

TEST(EngineRouting, ServiceRoutesByChannel) {
  EngineFixture f(rule("    EventID: 1102\n", "product: windows\n  service: security"));
  EXPECT_TRUE(f.hits(R"({"Channel": "Security", "EventID": 1102})"));
  EXPECT_TRUE(f.hits(R"({"Channel": "security", "EventID": 1102})"));  // channel case ignored
  EXPECT_FALSE(f.hits(R"({"Channel": "System", "EventID": 1102})"));
}

// smbclient-connectivity has a provider but no channel in the logsource
// tables, so its rules are routed by Provider_Name.
TEST(EngineRouting, ProviderOnlyServiceRoutesByProvider) {
  const std::string other = "00000000-0000-4000-8000-000000000002";
  EngineFixture f(rule("    EventID: 30803\n", "product: windows\n  service: smbclient-connectivity") + "---\n" +
                  rule("    EventID: 30803\n", "product: windows", "sel", other));
  const std::set<std::string> both = {kId, other};
  EXPECT_EQ(f.fired(R"({"Channel": "Microsoft-Windows-SmbClient/Connectivity",
                        "Provider_Name": "Microsoft-Windows-SMBClient", "EventID": 30803})"),
            both);
  // Provider names are compared without case, as channel names are.
  EXPECT_TRUE(f.hits(R"({"Channel": "Microsoft-Windows-SmbClient/Connectivity",
                         "Provider_Name": "microsoft-windows-smbclient", "EventID": 30803})"));
  // evtx_dump's layout names the provider in System.Provider's attributes.
  EXPECT_TRUE(f.hits(R"({"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-SMBClient"}},
                         "Channel": "Microsoft-Windows-SmbClient/Connectivity", "EventID": 30803}}})"));
  const std::set<std::string> product_rule_only = {other};
  EXPECT_EQ(f.fired(R"({"Channel": "Microsoft-Windows-SmbClient/Connectivity",
                        "Provider_Name": "Microsoft-Windows-SMBServer", "EventID": 30803})"),
            product_rule_only);
  EXPECT_FALSE(f.hits(R"({"Channel": "Microsoft-Windows-SmbClient/Connectivity", "EventID": 30803})"));
}

TEST(EngineRouting, ProviderFieldsOfAPipeline) {
  EngineOptions options;
  options.channel_fields = {"winlog.channel"};
  options.provider_fields = {"winlog.provider_name"};
  EngineFixture f(rule("    ServerAddress: '203.0.113.5'\n", "product: windows\n  service: smbclient-connectivity"),
                  options);
  EXPECT_TRUE(f.hits(R"({"winlog": {"channel": "Microsoft-Windows-SmbClient/Connectivity",
                         "provider_name": "Microsoft-Windows-SMBClient"}, "ServerAddress": "203.0.113.5"})"));
  EXPECT_FALSE(f.hits(R"({"winlog": {"channel": "Microsoft-Windows-SmbClient/Connectivity",
                          "provider_name": "Microsoft-Windows-SMBServer"}, "ServerAddress": "203.0.113.5"})"));
}

TEST(EngineExplain, NamesProviderRouting) {
  EngineFixture f(rule("    EventID: 30803\n", "product: windows\n  service: smbclient-connectivity"));
  std::string text;
  std::string error;
  f.reader.read_object(R"({"Channel": "Microsoft-Windows-SmbClient/Connectivity",
                           "Provider_Name": "Microsoft-Windows-SMBClient", "EventID": 30803})",
                       1, [&](const RawEvent& e) { text = f.matcher->explain(0, e); }, error);
  EXPECT_NE(text.find("MATCH"), std::string::npos) << text;
  EXPECT_NE(text.find("Provider_Name 'Microsoft-Windows-SMBClient'"), std::string::npos) << text;
  EXPECT_NE(text.find("reaches this rule by its provider"), std::string::npos) << text;
}

TEST(EngineRouting, ChannelLessEventsReachEveryRule) {
  EngineFixture f(rule("    Image|endswith: '\\cmd.exe'\n", "category: process_creation\n  product: windows"));
  EXPECT_TRUE(f.hits(R"({"Image": "C:\\cmd.exe"})"));
}

TEST(EngineRouting, AssumedLogsourceLimitsChannelLessEvents) {
  EngineOptions options;
  options.assumed_logsource = Logsource{"network_connection", "windows", "", "", {}};
  EngineFixture f(rule("    Image|endswith: '\\cmd.exe'\n", "category: process_creation\n  product: windows"), options);
  EXPECT_FALSE(f.hits(R"({"Image": "C:\\cmd.exe"})"));
}

TEST(EngineRouting, DisabledRoutingSendsEverything) {
  EngineOptions options;
  options.logsource_routing = false;
  EngineFixture f(rule("    Image|endswith: '\\cmd.exe'\n", "category: process_creation\n  product: windows"), options);
  EXPECT_TRUE(f.hits(R"({"Channel": "Application", "EventID": 9, "Image": "C:\\cmd.exe"})"));
}

TEST(EngineFilters, FilterSuppressesNamedRuleOnly) {
  std::string other = "00000000-0000-4000-8000-000000000002";
  std::string yaml = rule("    Image|endswith: '\\rar.exe'\n") + "---\n" +
                     rule("    Image|endswith: '\\rar.exe'\n", "product: test", "sel", other) +
                     "---\ntitle: f\nid: 00000000-0000-4000-8000-000000000003\nlogsource:\n  product: test\n"
                     "filter:\n  rules:\n    - " + kId + "\n  selection:\n    User|startswith: 'adm_'\n"
                     "  condition: not selection\n";
  EngineFixture f(yaml);
  EXPECT_EQ(f.fired(R"({"Image": "c:\\rar.exe", "User": "adm_x"})"), std::set<std::string>{other});
  EXPECT_EQ(f.fired(R"({"Image": "c:\\rar.exe", "User": "bob"})").size(), 2u);
}

TEST(EngineFilters, FilterOfAnotherLogsourceIsNotApplied) {
  // A network_connection filter that named a process_creation rule
  // suppressed it. As in pySigma, a filter now applies only to rules its
  // logsource covers, and the engine warns when it skips one.
  std::string yaml = rule("    Image|endswith: '\\rar.exe'\n", "category: process_creation\n  product: test") +
                     "---\ntitle: f\nid: 00000000-0000-4000-8000-000000000003\nlogsource:\n"
                     "  category: network_connection\n  product: test\n"
                     "filter:\n  rules:\n    - " + kId + "\n  selection:\n    User|startswith: 'adm_'\n"
                     "  condition: not selection\n";
  EngineOptions options;
  options.logsource_routing = false;
  EngineFixture f(yaml, options);
  EXPECT_EQ(f.fired(R"({"Image": "c:\\rar.exe", "User": "adm_x"})"), std::set<std::string>{kId});

  DiagnosticList diagnostics;
  auto compiled = compile_rules(load_rules_from_text(yaml, "test.yml", diagnostics), diagnostics, 1);
  Engine engine(std::move(compiled.rules), options, diagnostics);
  bool warned = false;
  for (const auto& d : diagnostics.items())
    warned = warned || d.message.find("does not cover that rule's") != std::string::npos;
  EXPECT_TRUE(warned);

  // The same filter with only the product covers the rule.
  std::string broad = yaml;
  broad.replace(broad.find("  category: network_connection\n"), 31, "");
  EngineFixture g(broad, options);
  EXPECT_TRUE(g.fired(R"({"Image": "c:\\rar.exe", "User": "adm_x"})").empty());
}

TEST(EngineRuleSources, DroppedSourcesKeepResultsAndDetectionDetails) {
  std::string other = "00000000-0000-4000-8000-000000000002";
  std::string yaml = rule("    Image|endswith: '\\rar.exe'\n    CommandLine|contains|all: [' a ', ' -hp']\n") +
                     "---\n" + rule("    - 'mimikatz'\n    - 'sekurlsa'\n", "product: test", "sel", other) +
                     "---\ntitle: f\nid: 00000000-0000-4000-8000-000000000003\nlogsource:\n  product: test\n"
                     "filter:\n  rules:\n    - " + kId + "\n  selection:\n    User|re: '^adm_[0-9]+$'\n"
                     "  condition: not selection\n";
  EngineOptions slim;
  slim.keep_rule_sources = false;
  EngineFixture kept(yaml), dropped(yaml, slim);
  for (const char* event : {R"({"Image": "c:\\rar.exe", "CommandLine": "rar a -hpX", "User": "adm_1"})",
                            R"({"Image": "c:\\rar.exe", "CommandLine": "rar a -hpX", "User": "bob"})",
                            R"({"Image": "c:\\RAR.exe", "CommandLine": "rar a x", "User": "bob"})",
                            R"({"Image": "c:\\x.exe", "CommandLine": "SEKURLSA::logonpasswords"})"})
    EXPECT_EQ(kept.fired(event), dropped.fired(event)) << event;
  EXPECT_EQ(dropped.fired(R"({"Image": "c:\\rar.exe", "CommandLine": "rar a -hpX", "User": "bob"})"),
            std::set<std::string>{kId});

  ASSERT_EQ(dropped.engine->rules().size(), 2u);
  const CompiledRule& slimmed = *dropped.engine->rules()[0];
  EXPECT_TRUE(slimmed.rule.source_text.empty());
  EXPECT_FALSE(kept.engine->rules()[0]->rule.source_text.empty());
  // What detection output reads stays: metadata, stage names, predicate fields.
  EXPECT_EQ(slimmed.rule.id, kId);
  EXPECT_EQ(slimmed.rule.title, "t");
  ASSERT_EQ(slimmed.stages.size(), 1u);
  EXPECT_EQ(slimmed.stages[0].name, "sel");
  ASSERT_EQ(slimmed.stages[0].predicates.size(), 2u);
  EXPECT_EQ(slimmed.stages[0].predicates[0].field, "Image");
  EXPECT_TRUE(slimmed.stages[0].predicates[0].values.empty());
  EXPECT_EQ(dropped.engine->stage_names(0), (std::vector<std::string>{"sel", "filter:selection"}));
}

TEST(EngineUnsupported, CorrelationAndAggregationReported) {
  std::string yaml =
      "title: c\nid: 00000000-0000-4000-8000-000000000009\ncorrelation:\n  type: event_count\n  rules: [x]\n"
      "  timespan: 5m\n  condition:\n    gte: 3\n---\n" +
      rule("    A: x\n", "product: test", "sel | count() > 5");
  EngineFixture f(yaml);
  EXPECT_TRUE(f.engine->rules().empty());
  EXPECT_EQ(f.engine->unsupported().size(), 2u);
}

TEST(EngineExplain, ShowsStagesAndReasons) {
  EngineFixture f(rule("    Image|endswith: '\\cmd.exe'\n    User: 'bob'\n"));
  std::string text;
  std::string error;
  f.reader.read_object(R"({"Image": "C:\\cmd.exe", "User": "alice"})", 1,
                       [&](const RawEvent& e) { text = f.matcher->explain(0, e); }, error);
  EXPECT_NE(text.find("no match"), std::string::npos) << text;
  EXPECT_NE(text.find("[x] Image ends_with"), std::string::npos) << text;
  EXPECT_NE(text.find("[ ] User eq"), std::string::npos) << text;
  EXPECT_NE(text.find("'alice'"), std::string::npos) << text;
}

TEST(GlobProgram, AnchorsAndSegments) {
  auto m = [](const char* pattern, MatchOp op, const char* value) {
    return GlobProgram(Pattern::parse(pattern), op).matches(value);
  };
  EXPECT_TRUE(m("a*b*c", MatchOp::Equals, "aXbYc"));
  EXPECT_FALSE(m("a*b*c", MatchOp::Equals, "aXbYcd"));
  EXPECT_TRUE(m("b*c", MatchOp::Contains, "aXbYcd"));
  EXPECT_TRUE(m("abc", MatchOp::EndsWith, "xxabc"));
  EXPECT_TRUE(m("a?c", MatchOp::EndsWith, "zzabc"));
  EXPECT_TRUE(m("", MatchOp::Contains, "anything"));
  EXPECT_TRUE(m("", MatchOp::Equals, ""));
  EXPECT_FALSE(m("", MatchOp::Equals, "x"));
  EXPECT_TRUE(m("*", MatchOp::Equals, ""));
  EXPECT_TRUE(m("ab*ab", MatchOp::Equals, "abab"));
  EXPECT_FALSE(m("ab*ab", MatchOp::Equals, "aba"));
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(EngineCache, SecondBuildLoadsCachedDatabases) {
  testing::TempDir cache;
  EngineOptions options;
  options.cache_dir = cache.path().string();
  const std::string yaml = rule("    F|contains: 'needle'\n    G|re: 'a[0-9]+b'\n");
  std::size_t files = 0;
  for (int run = 0; run < 2; ++run) {
    EngineFixture f(yaml, options);
    EXPECT_EQ(f.engine->prefiltered_predicates(), 2u);
    EXPECT_TRUE(f.hits(R"({"F": "a NEEDLE", "G": "xa12b"})"));
    EXPECT_FALSE(f.hits(R"({"F": "a NEEDLE", "G": "xab"})"));
    files = 0;
    for (const auto& e : std::filesystem::directory_iterator(cache.path())) files += e.path().extension() == ".db";
    EXPECT_EQ(files, 1u);
  }
}

TEST(EngineCache, CorruptCacheFileIsRebuilt) {
  testing::TempDir cache;
  EngineOptions options;
  options.cache_dir = cache.path().string();
  const std::string yaml = rule("    F|contains: 'needle'\n");
  { EngineFixture f(yaml, options); }
  for (const auto& e : std::filesystem::directory_iterator(cache.path())) testing::TempDir::overwrite(e.path(), "SSHS1garbage");
  EngineFixture f(yaml, options);
  EXPECT_TRUE(f.hits(R"({"F": "needle"})"));
}

// The cache is read database by database; a file cut short or with bytes
// after the last database is rejected and rebuilt, never half used.
TEST(EngineCache, TruncatedOrExtendedCacheFileIsRebuilt) {
  for (int damage = 0; damage < 2; ++damage) {
    testing::TempDir cache;
    EngineOptions options;
    options.cache_dir = cache.path().string();
    const std::string yaml = rule("    F|contains: 'needle'\n    G|re: 'a[0-9]+b'\n");
    { EngineFixture f(yaml, options); }
    std::filesystem::path file;
    for (const auto& e : std::filesystem::directory_iterator(cache.path())) file = e.path();
    ASSERT_FALSE(file.empty());
    const auto size = std::filesystem::file_size(file);
    if (damage == 0) {
      std::filesystem::resize_file(file, size - 3);
    } else {
      std::ofstream(file, std::ios::binary | std::ios::app) << 'x';
    }
    EngineFixture f(yaml, options);
    EXPECT_EQ(f.engine->prefiltered_predicates(), 2u);
    EXPECT_TRUE(f.hits(R"({"F": "needle", "G": "a1b"})"));
    EXPECT_EQ(std::filesystem::file_size(file), size) << "the rebuilt cache replaces the damaged file";
  }
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(EngineFields, EventDataShadowsSystemField) {
  // Event 104 (log cleared) is in the System channel and names the cleared
  // log in UserData's Channel; routing uses System's, matching UserData's.
  const std::string cleared =
      R"({"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog"}}, "EventID": 104,
          "Channel": "System"}, "UserData": {"LogFileCleared": {"Channel": "%s"}}}})";
  auto event = [&](const std::string& log) {
    std::string e = cleared;
    e.replace(e.find("%s"), 2, log);
    return e;
  };
  EngineFixture f(rule("    EventID: 104\n    Channel:\n      - 'Security'\n      - 'System'\n",
                       "product: windows\n  service: system"));
  EXPECT_TRUE(f.hits(event("Security")));
  EXPECT_FALSE(f.hits(event("Microsoft-Windows-Diagnostics-Networking/Operational")));
}

// The `event` object of a detection, hunted again as JSON, fires the rules
// that the event fired as read from EVTX. Event 104's UserData repeats
// System's Channel name, which a flat object would merge into one array.
TEST(EngineFields, ShadowedSystemFieldSurvivesEventJson) {
  constexpr const char* kImportant = "00000000-0000-4000-8000-000000000104";
  constexpr const char* kOther = "00000000-0000-4000-8000-000000000105";
  const std::string logsource = "product: windows\n  service: system";
  const std::string important = rule("    EventID: 104\n    Channel:\n      - 'Security'\n      - 'System'\n",
                                     logsource, "sel", kImportant);
  const std::string other = "title: t\nid: " + std::string(kOther) + "\nlogsource:\n  " + logsource +
                            "\ndetection:\n  sel:\n    EventID: 104\n  filter:\n    Channel:\n      - 'Security'\n"
                            "      - 'System'\n  condition: sel and not filter\n";
  EngineFixture f(important + "---\n" + other);

  for (const char* cleared : {"Security", "Application"}) {
    SCOPED_TRACE(cleared);
    // The fields in the order and with the flags the EVTX reader gives them.
    const std::vector<FieldValue> fields = {
        {"Provider_Name", "Microsoft-Windows-Eventlog", ValueType::String, false, true},
        {"EventID", "104", ValueType::Number, false, true},
        {"TimeCreated", "2021-10-25T18:11:09.0020102Z", ValueType::String, false, true},
        {"Channel", "System", ValueType::String, false, true},
        {"SubjectUserName", "admin", ValueType::String, false, false},
        {"Channel", cleared, ValueType::String, false, false},
    };
    RawEvent event;
    event.fields = fields;
    event.timestamp = "2021-10-25T18:11:09.0020102Z";
    std::vector<Detection> detections;
    f.matcher->match(event, detections);
    std::set<std::string> from_evtx;
    for (const auto& d : detections) from_evtx.insert(f.engine->rules()[d.rule]->rule.id);
    EXPECT_EQ(from_evtx, std::set<std::string>{std::string(cleared) == "Security" ? kImportant : kOther});

    std::string json;
    append_event_json(event, json);
    EXPECT_EQ(f.fired(json), from_evtx) << json;

    // Correlations read the time, so it must be read back as well.
    std::string timestamp, error;
    JsonEventReader reader;
    ASSERT_TRUE(reader.read_object(json, 1, [&](const RawEvent& e) { timestamp = e.timestamp; }, error)) << error;
    EXPECT_EQ(timestamp, event.timestamp);
  }
}

TEST(EngineRouting, EmptyChannelIsStillWindows) {
  EngineFixture f(rule("    Image|endswith: '\\cmd.exe'\n", "category: process_creation\n  product: windows"));
  EXPECT_FALSE(f.hits(R"({"Channel": "", "EventID": 1, "Image": "C:\\cmd.exe"})"));
  EngineFixture any(rule("    EventID: 5\n", "product: windows"));
  EXPECT_TRUE(any.hits(R"({"Channel": "", "EventID": 5})"));
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// The scan memo returns the result of a field value's first scan when the
// value comes again. Results must stay those of a fresh scan: the same value again,
// another value, a list-valued field, a value too long for the memo, and one
// value under two fields whose databases differ.
TEST(EngineScanMemo, RepeatedValuesKeepTheirResults) {
  constexpr const char* kParentRule = "00000000-0000-4000-8000-000000000002";
  std::string yaml = rule("    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: 'whoami'\n") + "---\n" +
                     rule("    ParentImage|endswith: '\\cmd.exe'\n", "product: test", "sel", kParentRule);
  EngineFixture f(yaml);
  const std::string image = R"("Image": "C:\\Windows\\cmd.exe")";
  const std::string long_line = std::string(600, 'x') + " whoami";
  const std::string too_long_line = std::string(5000, 'x') + " whoami";
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    EXPECT_TRUE(f.hits("{" + image + R"(, "CommandLine": "whoami /all"})"));
    EXPECT_FALSE(f.hits("{" + image + R"(, "CommandLine": "dir"})"));
    EXPECT_FALSE(f.hits(R"({"Image": "C:\\Windows\\cmd.exe.bak", "CommandLine": "whoami"})"));
    EXPECT_TRUE(f.hits(R"({"Image": ["C:\\x.exe", "C:\\Windows\\cmd.exe"], "CommandLine": "whoami"})"));
    EXPECT_TRUE(f.hits("{" + image + R"(, "CommandLine": ")" + long_line + "\"}"));
    EXPECT_TRUE(f.hits("{" + image + R"(, "CommandLine": ")" + too_long_line + "\"}"));
    // The same path as Image and as ParentImage fires only the rule of its field.
    EXPECT_EQ(f.fired(R"({"Image": "C:\\Windows\\cmd.exe", "ParentImage": "C:\\p.exe", "CommandLine": "whoami"})"),
              std::set<std::string>{kId});
    EXPECT_EQ(f.fired(R"({"Image": "C:\\p.exe", "ParentImage": "C:\\Windows\\cmd.exe", "CommandLine": "whoami"})"),
              std::set<std::string>{kParentRule});
  }
  EXPECT_GT(f.matcher->memo_hits(), 5u);
  EXPECT_LT(f.matcher->memo_hits(), f.matcher->scanned_values());
}

// Long values are kept too, but the memo's heap stays under its bound
// (2 MiB) when every value is new, and results stay right past it.
TEST(EngineScanMemo, LongNewValuesStayBounded) {
  EngineFixture f(rule("    CommandLine|contains: 'whoami'\n"));
  // Sends `count` new 4 KB command lines; every other one contains whoami.
  auto send_new_lines = [&](int count) {
    for (int i = 0; i < count; ++i) {
      std::string line = fmt::format("{:04}", i) + std::string(4000, 'x');
      if (i % 2 == 0) line += " whoami";
      EXPECT_EQ(f.hits(R"({"CommandLine": ")" + line + "\"}"), i % 2 == 0) << i;
    }
  };
  send_new_lines(3000);
  EXPECT_GT(f.matcher->memo_bytes(), 1u << 20);
  EXPECT_LE(f.matcher->memo_bytes(), 2u << 20);

  // A smaller budget, as hunt gives each of many workers, bounds it too.
  f.matcher = f.engine->matcher(512u << 10);
  send_new_lines(600);
  EXPECT_GT(f.matcher->memo_bytes(), 256u << 10);
  EXPECT_LE(f.matcher->memo_bytes(), 512u << 10);
}

}  // namespace
}  // namespace sigscope
