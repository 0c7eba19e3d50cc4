// `sigscope hunt` through the CLI: output formats, inputs (files, folders,
// stdin, gzip, zstd), level filter, logsource option, pipelines, explain and
// the closing summary.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace sigscope {
namespace {

using nlohmann::json;
using testing::run_cli;
using testing::TempDir;

// Exit status of a hunt that could not read some inputs or records. The
// events file below holds one line that is not JSON.
constexpr int kPartlyUnreadable = 3;

const char* kRules = R"(title: Encoded PowerShell
id: 10000000-0000-4000-8000-000000000001
status: test
level: high
tags:
  - attack.execution
logsource:
  category: process_creation
  product: windows
detection:
  sel:
    Image|endswith: '\powershell.exe'
    CommandLine|contains|windash: ' -enc '
  condition: sel
---
title: Any Whoami
id: 10000000-0000-4000-8000-000000000002
status: test
level: low
logsource:
  category: process_creation
  product: windows
detection:
  sel:
    CommandLine|contains: 'whoami'
  condition: sel
)";

const char* kEvents =
    R"({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "UtcTime": "2024-01-01 10:00:00.000", "Image": "C:\\Windows\\powershell.exe", "CommandLine": "powershell /enc AAA"})"
    "\n"
    R"({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /c whoami"})"
    "\n"
    "not json at all\n"
    R"({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 3, "Image": "C:\\Windows\\powershell.exe", "CommandLine": "powershell -enc AAA"})"
    "\n";

struct HuntFiles {
  TempDir dir;
  std::string rules;
  std::string events;
  HuntFiles() {
    rules = dir.write("rules/r.yml", kRules).string();
    events = dir.write("logs/events.jsonl", kEvents).string();
  }
};

std::vector<json> parse_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

TEST(HuntCli, JsonLinesDetections) {
  HuntFiles s;
  auto r = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", s.events});
  ASSERT_EQ(r.exit_code, kPartlyUnreadable) << r.err;
  auto lines = parse_lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["rule_id"], "10000000-0000-4000-8000-000000000001");
  EXPECT_EQ(lines[0]["title"], "Encoded PowerShell");
  EXPECT_EQ(lines[0]["level"], "high");
  EXPECT_EQ(lines[0]["tags"], json::array({"attack.execution"}));
  EXPECT_EQ(lines[0]["input"], s.events);
  EXPECT_EQ(lines[0]["record"], 1);
  EXPECT_EQ(lines[0]["timestamp"], "2024-01-01 10:00:00.000");
  EXPECT_EQ(lines[0]["stages"], json::array({"sel"}));
  EXPECT_EQ(lines[0]["event"]["CommandLine"], "powershell /enc AAA");
  EXPECT_EQ(lines[1]["record"], 2);
}

TEST(HuntCli, SummaryCountsRejectedRecords) {
  HuntFiles s;
  auto r = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", s.events});
  ASSERT_EQ(r.exit_code, kPartlyUnreadable);
  EXPECT_NE(r.err.find("read 3 events from 1 input;"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rejected 1 record (invalid JSON: 1)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(s.events + ":3:"), std::string::npos) << r.err;  // file and line of the bad record
  EXPECT_NE(r.err.find("2 detections by 2 rules"), std::string::npos) << r.err;
  // Only what was lost is named; the message was "0 inputs and 1 record".
  EXPECT_NE(r.err.find("error: 1 record could not be read"), std::string::npos) << r.err;
}

TEST(HuntCli, CsvAndTableFormats) {
  HuntFiles s;
  auto csv = run_cli({"hunt", "-r", s.rules, "-f", "csv", s.events});
  ASSERT_EQ(csv.exit_code, kPartlyUnreadable);
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')), "rule_id,title,level,tags,input,record,timestamp,stages,event");
  EXPECT_NE(csv.out.find("\"Encoded PowerShell\",\"high\",\"attack.execution\""), std::string::npos) << csv.out;
  auto table = run_cli({"hunt", "-r", s.rules, "-f", "table", s.events});
  ASSERT_EQ(table.exit_code, kPartlyUnreadable);
  EXPECT_NE(table.out.find("TIMESTAMP"), std::string::npos);
  EXPECT_NE(table.out.find("Encoded PowerShell"), std::string::npos);
}

TEST(HuntCli, OutputFileAndMinLevel) {
  HuntFiles s;
  auto out = s.dir.path() / "out.jsonl";
  auto r = run_cli({"hunt", "-r", s.rules, "--min-level", "medium", "-o", out.string(), s.events});
  ASSERT_EQ(r.exit_code, kPartlyUnreadable) << r.err;
  EXPECT_TRUE(r.out.empty());
  auto lines = parse_lines(testing::read_file(out));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "high");
}

TEST(HuntCli, StdinAndCompressedInputs) {
  HuntFiles s;
  auto from_stdin = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-"}, kEvents);
  ASSERT_EQ(from_stdin.exit_code, kPartlyUnreadable) << from_stdin.err;
  EXPECT_EQ(parse_lines(from_stdin.out).size(), 2u);
  EXPECT_EQ(parse_lines(from_stdin.out)[0]["input"], "<stdin>");

  std::string gz = s.events + ".gz", zst = s.events + ".zst";
  ASSERT_EQ(std::system(("gzip -c '" + s.events + "' > '" + gz + "'").c_str()), 0);
  ASSERT_EQ(std::system(("zstd -q -c '" + s.events + "' > '" + zst + "'").c_str()), 0);
  for (const std::string& path : std::vector<std::string>{gz, zst}) {
    auto r = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", path});
    ASSERT_EQ(r.exit_code, kPartlyUnreadable) << r.err;
    EXPECT_EQ(parse_lines(r.out).size(), 2u) << path;
  }
}

TEST(HuntCli, FolderInputSkipsOtherFiles) {
  HuntFiles s;
  s.dir.write("logs/readme.txt", "plain text\n");
  auto r = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", (s.dir.path() / "logs").string()});
  ASSERT_EQ(r.exit_code, kPartlyUnreadable);
  EXPECT_EQ(parse_lines(r.out).size(), 2u);
  EXPECT_NE(r.err.find("skipped 1 input (not EVTX or JSON: 1); -v lists them"), std::string::npos) << r.err;
}

// -v names each skipped input, as the summary states.
TEST(HuntCli, VerboseListsSkippedInputs) {
  HuntFiles s;
  auto text = s.dir.write("logs/readme.txt", "plain text\n");
  auto r = run_cli({"-v", "hunt", "-r", s.rules, "-f", "jsonl", (s.dir.path() / "logs").string()});
  EXPECT_NE(r.err.find("skipped " + text.string() + ": not EVTX or JSON"), std::string::npos) << r.err;
}

// When no input is a log, nothing was hunted: that is a failure, as for
// unreadable inputs, not a clean run.
TEST(HuntCli, OnlyNonLogInputsFail) {
  HuntFiles s;
  auto text = s.dir.write("notes/readme.txt", "plain text\n");
  auto license = s.dir.write("notes/LICENSE", "MIT\n");
  auto r = run_cli({"hunt", "-r", s.rules, text.string(), license.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no input could be read: none of the 2 inputs is an EVTX or JSON log"), std::string::npos)
      << r.err;
}

// An empty file is a log with no events yet, whatever its name or
// compression: it is skipped and counted, not an error.
// A folder with no file, or a tree of them, is a wrong path more often than a
// clean host, so it is an error, like an input that does not exist. Neither
// touches an earlier result file.
TEST(HuntCli, NothingToReadKeepsTheOutputFile) {
  HuntFiles s;
  std::filesystem::create_directories(s.dir.path() / "empty" / "sub");
  const auto previous = s.dir.write("previous.jsonl", "{\"earlier\": \"detections\"}\n");
  auto r = run_cli({"hunt", "-r", s.rules, "-o", previous.string(), (s.dir.path() / "empty").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no file was found to hunt: " + (s.dir.path() / "empty").string() + " is empty; " +
                       previous.string() + " was left as it was"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(testing::read_file(previous), "{\"earlier\": \"detections\"}\n");

  r = run_cli({"hunt", "-r", s.rules, "-o", previous.string(), (s.dir.path() / "nope.evtx").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("nope.evtx"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no input could be read"), std::string::npos) << r.err;
  EXPECT_EQ(testing::read_file(previous), "{\"earlier\": \"detections\"}\n");
}

// --explain names why a loaded rule does not run, instead of "not found".
TEST(HuntCli, ExplainNamesWhyARuleIsLeftOut) {
  HuntFiles s;
  s.dir.write("rules/old.yml",
              "title: Old\nid: 10000000-0000-4000-8000-0000000000d1\nstatus: deprecated\nlevel: high\nlogsource:\n"
              "  product: windows\ndetection:\n  sel:\n    CommandLine: x\n  condition: sel\n");
  const std::string rules = (s.dir.path() / "rules").string();
  auto r = run_cli({"hunt", "-r", rules, "--explain", "10000000-0000-4000-8000-0000000000d1", s.events});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("rule 10000000-0000-4000-8000-0000000000d1 is not run: its status is deprecated "
                       "(--all-statuses runs it)"),
            std::string::npos)
      << r.err;
  r = run_cli({"hunt", "-r", rules, "--min-level", "high", "--explain", "10000000-0000-4000-8000-000000000002",
               s.events});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("is not run: its level (low) is below --min-level high"), std::string::npos) << r.err;
  r = run_cli({"hunt", "-r", rules, "--explain", "10000000-0000-4000-8000-0000000000ff", s.events});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("not found among the loaded rules"), std::string::npos) << r.err;
}

// Cells that a spreadsheet would run as formulas are written as text.
TEST(HuntCli, CsvCellsAreNotFormulas) {
  HuntFiles s;
  const auto rules = s.dir.write("formula/r.yml",
                                 "title: =HYPERLINK(\"http://x\",\"y\")\nid: 10000000-0000-4000-8000-0000000000e1\n"
                                 "status: test\nlevel: high\nlogsource:\n  product: windows\ndetection:\n  sel:\n"
                                 "    CommandLine|contains: whoami\n  condition: sel\n");
  const auto input = s.dir.write("=evil.jsonl", R"j({"CommandLine": "whoami", "@timestamp": "@SUM(1)"})j" "\n");
  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "csv", input.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"'@SUM(1)\""), std::string::npos) << r.out;
  // The input's path starts with the temporary folder, so it needs no guard.
  EXPECT_NE(r.out.find("\"" + input.string() + "\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(",\"="), std::string::npos) << r.out;
}

// The table's DETAILS show the field the event has, also when the rule
// names it otherwise (ParentImage is ParentProcessName on Security 4688).
TEST(HuntCli, TableDetailsFollowFieldRenames) {
  HuntFiles s;
  const auto rules = s.dir.write("wmi/r.yml",
                                 "title: WmiPrvSE child\nid: 10000000-0000-4000-8000-0000000000f1\nstatus: test\n"
                                 "level: high\nlogsource:\n  category: process_creation\n  product: windows\n"
                                 "detection:\n  sel:\n    ParentImage|endswith: '\\wmiprvse.exe'\n  condition: sel\n");
  const auto input = s.dir.write(
      "sec.jsonl", R"j({"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\cmd.exe", "ParentProcessName": "C:\\Windows\\wbem\\WmiPrvSE.exe"})j"
                   "\n");
  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "table", input.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ParentProcessName=C:\\Windows\\wbem\\WmiPrvSE.exe"), std::string::npos) << r.out;
}

// An -o path that cannot be written stops the hunt before the rules load.
TEST(HuntCli, UnwritableOutputIsReportedFirst) {
  HuntFiles s;
  const std::string out = (s.dir.path() / "no-such-folder" / "out.jsonl").string();
  auto r = run_cli({"hunt", "-r", s.rules, "-o", out, s.events});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot write detections to " + out + ": its folder does not exist"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("loaded"), std::string::npos) << "the rules were loaded first:\n" << r.err;
  r = run_cli({"hunt", "-r", s.rules, "-o", s.dir.path().string(), s.events});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("it is a folder"), std::string::npos) << r.err;
}

TEST(HuntCli, EmptyFilesAreSkippedNotErrors) {
  HuntFiles s;
  auto json = s.dir.write("empty/a.jsonl", "");
  auto evtx = s.dir.write("empty/b.evtx", "");
  auto blank = s.dir.write("empty/c.json", "\n\n");
  auto good = s.dir.write("good/d.jsonl", R"({"CommandLine": "whoami"})" "\n");
  auto r = run_cli({"-v", "hunt", "-r", s.rules, "-f", "jsonl", (s.dir.path() / "empty").string(), good.string()});
  EXPECT_EQ(parse_lines(r.out).size(), 1u);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipped 3 inputs (empty: 3)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("skipped " + evtx.string() + ": empty"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("error:"), std::string::npos) << r.err;

  auto alone = run_cli({"hunt", "-r", s.rules, json.string()});
  EXPECT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_NE(alone.err.find("every input is empty"), std::string::npos) << alone.err;
  auto text = run_cli({"hunt", "-r", s.rules, s.dir.write("notes/readme.txt", "plain text\n").string()});
  EXPECT_EQ(text.exit_code, 2) << text.err;
  EXPECT_NE(text.err.find("no input could be read: the input is not an EVTX or JSON log"), std::string::npos)
      << text.err;
}

// Pipes and links to nothing inside a folder are not read; -v names them
// and the summary counts them with the other skipped inputs.
TEST(HuntCli, FolderPipesAndDanglingLinksAreListed) {
  HuntFiles s;
  s.dir.write("odd/a.jsonl", R"({"CommandLine": "whoami"})" "\n");
  const std::filesystem::path fifo = s.dir.path() / "odd" / "pipe.evtx";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::create_symlink(s.dir.path() / "odd" / "gone.jsonl", s.dir.path() / "odd" / "link.jsonl");
  auto r = run_cli({"-v", "hunt", "-r", s.rules, "-f", "jsonl", (s.dir.path() / "odd").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_lines(r.out).size(), 1u);
  EXPECT_NE(r.err.find("skipped " + fifo.string() + ": not a regular file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("link.jsonl: symbolic link to nothing"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("skipped 2 inputs"), std::string::npos) << r.err;
}

TEST(HuntCli, ArrayAndConcatenatedObjects) {
  HuntFiles s;
  auto array = s.dir.write("logs2/a.json",
                           R"([{"CommandLine": "whoami"}, {"CommandLine": "x"}, {"CommandLine": "whoami /all"}])");
  auto r = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", array.string()});
  ASSERT_EQ(r.exit_code, 0);
  auto lines = parse_lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["record"], 3);
  auto pretty = s.dir.write("logs2/b.json", "{\n \"CommandLine\": \"whoami\"\n}\n{\n \"CommandLine\": \"id\"\n}\n");
  auto p = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", pretty.string()});
  EXPECT_EQ(parse_lines(p.out).size(), 1u) << p.err;
}

TEST(HuntCli, LogsourceOptionLimitsPlainEvents) {
  HuntFiles s;
  auto plain = s.dir.write("logs3/p.jsonl", R"({"CommandLine": "whoami"})" "\n");
  auto all = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", plain.string()});
  EXPECT_EQ(parse_lines(all.out).size(), 1u);
  // product:windows keeps every Windows rule.
  auto windows = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "--logsource", "product:windows", plain.string()});
  ASSERT_EQ(windows.exit_code, 0) << windows.err;
  EXPECT_EQ(parse_lines(windows.out).size(), 1u);
  EXPECT_EQ(windows.err.find("without a Channel field"), std::string::npos) << windows.err;
  // Other products reach none of these rules, which is reported as a likely typo.
  auto linux = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "--logsource", "product:linux", plain.string()});
  EXPECT_EQ(linux.exit_code, 2);
  EXPECT_NE(linux.err.find("no loaded rule has the logsource"), std::string::npos) << linux.err;
  // Without --logsource, the summary warns that plain events reached every rule.
  EXPECT_NE(all.err.find("1 event without a Channel field went to every rule"), std::string::npos) << all.err;
  auto bad = run_cli({"hunt", "-r", s.rules, "--logsource", "nonsense", plain.string()});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(HuntCli, EcsPipelineMapsWinlogbeatFields) {
  HuntFiles s;
  auto ecs = s.dir.write("logs4/ecs.jsonl",
                         R"({"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "event_data": {"Image": "C:\\powershell.exe", "CommandLine": "powershell -enc AAA"}}})"
                         "\n"
                         R"({"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 3, "event_data": {"Image": "C:\\powershell.exe", "CommandLine": "powershell -enc AAA"}}})"
                         "\n");
  auto without = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", ecs.string()});
  EXPECT_TRUE(parse_lines(without.out).empty());
  auto with = run_cli({"hunt", "-r", s.rules, "-p", "ecs-windows", "-f", "jsonl", ecs.string()});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  auto lines = parse_lines(with.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["record"], 1);
  auto missing = run_cli({"hunt", "-r", s.rules, "-p", "no-such-pipeline", ecs.string()});
  EXPECT_EQ(missing.exit_code, 2);
}

TEST(HuntCli, EcsPipelineChannelIsAChannel) {
  // With ecs-windows, Winlogbeat events were reported as events without a
  // Channel field, although the pipeline maps Channel to winlog.channel.
  HuntFiles s;
  auto ecs = s.dir.write("logs5/winlogbeat.ndjson",
                         R"({"@timestamp": "2024-05-01T10:00:00Z", "event": {"code": "1", "provider": "Microsoft-Windows-Sysmon"}, )"
                         R"("winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, )"
                         R"("computer_name": "ws1", "event_data": {"Image": "C:\\powershell.exe", "CommandLine": "powershell -enc AAA"}}})"
                         "\n"
                         R"({"@timestamp": "2024-05-01T10:00:01Z", "event": {"code": "4624"}, "winlog": {"channel": "Security", )"
                         R"("event_id": 4624, "event_data": {"TargetUserName": "alice"}}})"
                         "\n");
  auto r = run_cli({"hunt", "-r", s.rules, "-p", "ecs-windows", "-f", "jsonl", ecs.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_lines(r.out).size(), 1u) << r.out;
  EXPECT_EQ(r.err.find("without a Channel"), std::string::npos) << r.err;

  // An event with neither field is still reported, naming both.
  auto mixed = s.dir.write("logs5/mixed.ndjson", R"({"message": "no channel here"})" "\n");
  auto m = run_cli({"hunt", "-r", s.rules, "-p", "ecs-windows", "-f", "jsonl", ecs.string(), mixed.string()});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.err.find("1 event without a Channel or winlog.channel field went to every rule"), std::string::npos)
      << m.err;
}

TEST(HuntCli, EcsPipelineRoutesByWinlogChannel) {
  // With ecs-windows, Winlogbeat events went to every rule, because routing
  // read only Channel: a Cisco keyword rule fired on each event whose
  // log.level was "information".
  HuntFiles s;
  auto rules = s.dir.write("rules6/r.yml",
                           "title: Cisco keyword\nid: 30000000-0000-4000-8000-000000000001\nlevel: low\n"
                           "logsource:\n  product: cisco\n  service: aaa\ndetection:\n  keywords:\n    - 'information'\n"
                           "  condition: keywords\n---\n"
                           "title: Encoded PowerShell\nid: 30000000-0000-4000-8000-000000000002\nlevel: high\n"
                           "logsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n"
                           "    CommandLine|contains: ' -enc '\n  condition: sel\n");
  auto events = s.dir.write(
      "logs6/winlogbeat.ndjson",
      R"({"@timestamp": "2024-05-01T10:00:00Z", "log": {"level": "information"}, )"
      R"("winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, )"
      R"("event_data": {"Image": "C:\\powershell.exe", "CommandLine": "powershell -enc AAA"}}})"
      "\n"
      R"({"@timestamp": "2024-05-01T10:00:01Z", "log": {"level": "information"}, )"
      R"("winlog": {"channel": "Security", "event_id": 4624, "event_data": {"TargetUserName": "alice"}}})"
      "\n");
  auto r = run_cli({"hunt", "-r", rules.string(), "-p", "ecs-windows", "-f", "jsonl", events.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = parse_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(lines[0]["rule_id"], "30000000-0000-4000-8000-000000000002");

  auto explain = run_cli({"hunt", "-r", rules.string(), "-p", "ecs-windows", "--explain",
                          "30000000-0000-4000-8000-000000000002", "--record", "1", events.string()});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_NE(explain.out.find("Channel 'Microsoft-Windows-Sysmon/Operational', EventID '1'"), std::string::npos)
      << explain.out;
}

TEST(HuntCli, ExplainOneRecord) {
  HuntFiles s;
  auto r = run_cli({"hunt", "-r", s.rules, "--explain", "10000000-0000-4000-8000-000000000001", "--record", "2", s.events});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no match"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[ ] Image ends_with"), std::string::npos) << r.out;
  auto unknown = run_cli({"hunt", "-r", s.rules, "--explain", "nope", s.events});
  EXPECT_EQ(unknown.exit_code, 2);
}

TEST(HuntCli, ExplainFindsUnsupportedRuleByName) {
  // Rules that are not run were found by id only, so their `name` gave
  // "not found" instead of the reason.
  TempDir dir;
  // The runnable rule keeps the hunt from stopping with "no rule can run".
  auto rules = dir.write("rules/r.yml", R"(title: Needs a variable
id: 34000000-0000-4000-8000-000000000001
name: needs_variable
level: low
logsource: {product: windows}
detection: {sel: {CommandLine|expand: '%admin_tools%'}, condition: sel}
---
title: Counts a missing rule
id: 34000000-0000-4000-8000-000000000002
name: counts_missing
level: high
correlation: {type: event_count, rules: [no_such_rule], group-by: [User], timespan: 5m, condition: {gte: 2}}
---
title: Whoami
id: 34000000-0000-4000-8000-000000000003
level: low
logsource: {product: windows}
detection: {sel: {CommandLine: whoami}, condition: sel}
)");
  auto log = dir.write("logs/a.jsonl", "{\"CommandLine\": \"whoami\"}\n");

  auto detection = run_cli({"hunt", "-r", rules.string(), "--explain", "needs_variable", log.string()});
  EXPECT_EQ(detection.exit_code, 1) << detection.err;
  EXPECT_NE(detection.err.find("rule needs_variable (34000000-0000-4000-8000-000000000001) is not run: placeholder "
                               "%admin_tools% has no value"),
            std::string::npos)
      << detection.err;

  auto correlation = run_cli({"hunt", "-r", rules.string(), "--explain", "counts_missing", log.string()});
  EXPECT_EQ(correlation.exit_code, 1) << correlation.err;
  EXPECT_NE(correlation.err.find("rule counts_missing (34000000-0000-4000-8000-000000000002) is not run:"),
            std::string::npos)
      << correlation.err;

  auto by_id = run_cli({"hunt", "-r", rules.string(), "--explain", "34000000-0000-4000-8000-000000000001", log.string()});
  EXPECT_EQ(by_id.exit_code, 1) << by_id.err;
  EXPECT_NE(by_id.err.find("rule 34000000-0000-4000-8000-000000000001 is not run:"), std::string::npos) << by_id.err;
}

TEST(HuntCli, TableEscapesControlCharacters) {
  HuntFiles s;
  auto ansi = s.dir.write("logs5/a.jsonl", "{\"CommandLine\": \"whoami \\u001b[31mRED\\u0007\"}\n");
  auto r = run_cli({"hunt", "-r", s.rules, "-f", "table", ansi.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_NE(r.out.find("\\x1b[31mRED\\x07"), std::string::npos) << r.out;
}

TEST(HuntCli, TableCutsWholeCharacters) {
  // The table cuts values at 80 bytes. After an odd number of ASCII bytes,
  // the cut fell in the middle of a two-byte letter and wrote invalid UTF-8.
  // A right-to-left override would reverse the rest of the terminal line,
  // so it is escaped.
  HuntFiles s;
  std::string letters;
  for (int i = 0; i < 60; ++i) letters += "\u0416";  // Cyrillic capital Zhe, two bytes in UTF-8
  auto log = s.dir.write("logs5/utf8.jsonl", "{\"CommandLine\": \"whoami   " + letters + "\"}\n" +
                                                 "{\"CommandLine\": \"whoami \u202e txt.exe\"}\n");
  auto r = run_cli({"hunt", "-r", s.rules, "-f", "table", log.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\xD0\x96..."), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\xD0..."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("whoami \\u202e txt.exe"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\xE2\x80\xAE"), std::string::npos) << r.out;
}

TEST(HuntCli, NamedLikeLogButGarbage) {
  HuntFiles s;
  auto garbage = s.dir.write("logs6/x.evtx", "not an event log");
  auto r = run_cli({"hunt", "-r", s.rules, garbage.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(garbage.string() + ": error: content is neither EVTX"), std::string::npos) << r.err;
}

TEST(HuntCli, Utf16JsonWithByteOrderMark) {
  HuntFiles s;
  std::string utf8 = "{\"CommandLine\": \"whoami\"}\r\n";
  std::string utf16 = "\xFF\xFE";
  for (char c : utf8) {
    utf16.push_back(c);
    utf16.push_back('\0');
  }
  auto path = s.dir.write("logs7/u.json", utf16);
  auto r = run_cli({"hunt", "-r", s.rules, "-f", "jsonl", path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_lines(r.out).size(), 1u) << r.err;
}

TEST(HuntCli, ExplainAppliesRouting) {
  HuntFiles s;
  // Record 4 is Sysmon event 3, which process_creation rules never see.
  auto r = run_cli({"hunt", "-r", s.rules, "--explain", "10000000-0000-4000-8000-000000000001", "--record", "4", s.events});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("condition true, but not reported"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is not from this rule's logsource"), std::string::npos) << r.out;
}

TEST(HuntCli, ExplainReadsLikeTheHunt) {
  // --explain read its input whole: a bad element of a JSON array (here in
  // UTF-16) made the whole input unreadable, and a large input was held in
  // memory. It now reads the input as the hunt does, with the same numbers.
  HuntFiles s;
  std::string text = "[{\"CommandLine\": \"dir\"},\n{\"CommandLine\": bad},\n"
                     "{\"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"EventID\": 1, "
                     "\"CommandLine\": \"cmd /c whoami\"}]\n";
  std::string utf16 = "\xFF\xFE";
  for (char c : text) {
    utf16.push_back(c);
    utf16.push_back('\0');
  }
  auto path = s.dir.write("logs8/array.json", utf16);
  auto r = run_cli({"hunt", "-r", s.rules, "--explain", "10000000-0000-4000-8000-000000000002", "--record", "3",
                    path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": MATCH"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("invalid JSON in value 2"), std::string::npos) << r.err;
  auto missing = run_cli({"hunt", "-r", s.rules, "--explain", "10000000-0000-4000-8000-000000000002", "--record", "9",
                          path.string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("there is no record 9; records are numbered from 1"), std::string::npos) << missing.err;
}

TEST(HuntCli, DuplicateRuleIdsWarned) {
  HuntFiles s;
  auto copy = s.dir.write("rules2/copy.yml", kRules);
  auto hunt = run_cli({"hunt", "-r", s.rules, "-r", copy.string(), "-f", "jsonl", s.events});
  EXPECT_NE(hunt.err.find("rule id 10000000-0000-4000-8000-000000000001 is also used by"), std::string::npos)
      << hunt.err;
  // check reports it as a finding, on stdout.
  auto r = run_cli({"check", s.rules, copy.string()});
  EXPECT_NE(r.out.find("error[duplicate-id]: id 10000000-0000-4000-8000-000000000001 is also used by"),
            std::string::npos)
      << r.out;
  // The same file given twice is loaded once.
  auto twice = run_cli({"hunt", "-r", s.rules, "-r", s.rules, "-f", "jsonl", s.events});
  EXPECT_EQ(parse_lines(twice.out).size(), 2u);
}

TEST(HuntCli, MissingInputGivesPartlyUnreadable) {
  HuntFiles s;
  auto r = run_cli({"hunt", "-r", s.rules, (s.dir.path() / "absent.jsonl").string(), s.events});
  EXPECT_NE(r.err.find("input not found"), std::string::npos) << r.err;
  EXPECT_EQ(r.exit_code, kPartlyUnreadable);
  EXPECT_EQ(parse_lines(r.out).size(), 2u);  // the readable input is still hunted
}

TEST(HuntCli, UnwritableOutputFailsTheRun) {
  HuntFiles s;
  auto r = run_cli({"hunt", "-r", s.rules, "-o", "/dev/full", s.events});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot write detections to /dev/full"), std::string::npos) << r.err;
  auto dir = run_cli({"hunt", "-r", s.rules, "-o", s.dir.path().string(), s.events});
  EXPECT_EQ(dir.exit_code, 2);
}

TEST(HuntCli, NoRunnableRuleFailsTheRun) {
  HuntFiles s;
  auto bad = s.dir.write("bad/r.yml",
                         "title: x\nlogsource:\n  product: windows\ndetection:\n  sel:\n    A|nope: 1\n  condition: sel\n");
  auto r = run_cli({"hunt", "-r", bad.string(), s.events});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no rule can run"), std::string::npos) << r.err;
}

TEST(HuntCli, UsageErrorsExitWithTwo) {
  HuntFiles s;
  EXPECT_EQ(run_cli({"hunt", "-r", s.rules, "--record", "3", s.events}).exit_code, 2);
  EXPECT_EQ(run_cli({"hunt", "-r", s.rules, "-j", "100000", s.events}).exit_code, 2);
  EXPECT_EQ(run_cli({"nonsense"}).exit_code, 2);
  auto version = run_cli({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("sigscope "), std::string::npos);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

using testing::number_after;
using testing::run_cli_piped;

TEST(HuntStream, PipedInputKeepsMemoryFlat) {
  // 300 MB of JSON lines through a pipe: read in blocks, never whole.
  HuntFiles s;
  const std::string line =
      R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\cmd.exe","CommandLine":"cmd /c whoami"})";
  const long long bytes = 300LL << 20;
  auto r = run_cli_piped("yes '" + line + "' | head -c " + std::to_string(bytes),
                         {"hunt", "-r", s.rules, "-j", "2", "-o", "/dev/null", "-"});
  // Status 3: head cuts the last line, which is one unreadable record.
  ASSERT_EQ(r.exit_code, 3) << r.err;
  const long long events = bytes / static_cast<long long>(line.size() + 1);
  EXPECT_EQ(number_after(r.err, "info: read "), events) << r.err;
  long long peak = number_after(r.err, "peak memory ");
  ASSERT_GT(peak, 0) << r.err;
  EXPECT_LT(peak, 100) << "peak memory in MiB; the input alone is 300 MiB";
  // The last line is cut short by head: it is rejected, not lost silently.
  EXPECT_NE(r.err.find("rejected 1 record (invalid JSON: 1)"), std::string::npos) << r.err;
}

TEST(HuntStream, TruncatedGzipKeepsEventsBeforeTheDamage) {
  HuntFiles s;
  std::string many;
  for (int i = 0; i < 20000; ++i)
    many += R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"cmd /c whoami )" +
            std::to_string(i) + "\"}\n";
  auto plain = s.dir.write("big.jsonl", many);
  ASSERT_EQ(std::system(("gzip -c '" + plain.string() + "' > '" + plain.string() + ".gz'").c_str()), 0);
  std::string gz = testing::read_file(plain.string() + ".gz");
  auto cut = s.dir.write("cut.jsonl.gz", gz.substr(0, gz.size() / 2));
  auto r = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", cut.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // partly unreadable
  EXPECT_NE(r.err.find("input ends early: gzip data is truncated"), std::string::npos) << r.err;
  long long read = number_after(r.err, "info: read ");
  EXPECT_GT(read, 1000) << r.err;
  EXPECT_LT(read, 20000) << r.err;
  EXPECT_EQ(static_cast<long long>(parse_lines(r.out).size()), read);
  EXPECT_NE(r.err.find("info: read 1 input only up to where its data ends early"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("skipped 1 input"), std::string::npos) << r.err;
}

// A cut gzip file from which 9,976 events were read was summarized as
// "skipped 1 input (partly unreadable: 1)", as if none of it was read.
TEST(HuntStream, TruncatedGzipIsPartlyReadNotSkipped) {
  HuntFiles s;
  const auto cut = std::filesystem::path(SIGSCOPE_SOURCE_DIR) / "tests" / "data" / "truncated.jsonl.gz";
  auto r = testing::run_cli({"hunt", "-r", s.rules, "-o", (s.dir.path() / "out.jsonl").string(), cut.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("info: read 9976 events from 1 input;"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("info: rejected 1 record (invalid JSON: 1)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("info: read 1 input only up to where its data ends early or is corrupt"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error: the end of 1 input and 1 record could not be read"), std::string::npos) << r.err;

  auto verbose = testing::run_cli({"hunt", "-v", "-r", s.rules, "-o", (s.dir.path() / "out.jsonl").string(), cut.string()});
  EXPECT_NE(verbose.err.find("read only in part: " + cut.string()), std::string::npos) << verbose.err;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(HuntStream, OutputOrderIgnoresThreadCount) {
  // Several 1 MiB blocks, with detections spread over them.
  HuntFiles s;
  std::string many;
  for (int i = 0; i < 40000; ++i)
    many += R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":")" +
            std::string(i % 7 == 0 ? "cmd /c whoami " : "notepad.exe ") + std::to_string(i) + "\"}\n";
  auto path = s.dir.write("many.jsonl", many);
  auto one = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-j", "1", path.string()});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(parse_lines(one.out).size(), 40000u / 7 + 1);
  for (const char* threads : {"2", "3", "8"}) {
    auto r = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-j", threads, path.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, one.out) << threads << " threads";
    auto piped = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-j", threads, "-"}, many);
    EXPECT_EQ(parse_lines(piped.out).size(), parse_lines(one.out).size());
  }
}

TEST(HuntStream, ManySmallInputsKeepOrder) {
  // One job per input and more inputs than jobs in flight: the reader waits
  // for the window to empty, and results are written by whichever worker
  // finishes the oldest job.
  HuntFiles s;
  for (int f = 0; f < 300; ++f) {
    std::string events;
    for (int i = 0; i < 3; ++i)
      events += R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":")" +
                std::string((f + i) % 4 == 0 ? "cmd /c whoami " : "notepad.exe ") + std::to_string(f * 3 + i) + "\"}\n";
    s.dir.write(fmt::format("many/{:03}.jsonl", f), events);
  }
  const std::string logs = (s.dir.path() / "many").string();
  auto single_thread = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-j", "1", logs});
  ASSERT_EQ(single_thread.exit_code, 0) << single_thread.err;
  EXPECT_EQ(parse_lines(single_thread.out).size(), 225u);
  EXPECT_NE(single_thread.err.find("read 900 events from 300 inputs"), std::string::npos) << single_thread.err;
  for (const char* threads : {"2", "3", "8"}) {
    auto r = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-j", threads, logs});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, single_thread.out) << threads << " threads";
    EXPECT_NE(r.err.find("read 900 events from 300 inputs"), std::string::npos) << r.err;
  }
}

TEST(HuntStream, DetectionHeavyInputsKeepOrder) {
  // Every event fires, so the detections outweigh the input: past 4 MiB of
  // output held for earlier jobs, a worker waits for its job's turn and then
  // writes its output while the job runs. The last input is large enough to
  // be cut into blocks by the reader.
  HuntFiles s;
  auto events = [](int file, int count) {
    std::string text;
    for (int i = 0; i < count; ++i)
      text += R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"cmd /c whoami )" +
              std::to_string(file) + "-" + std::to_string(i) + " " + std::string(200, 'x') + "\"}\n";
    return text;
  };
  for (int f = 0; f < 12; ++f) s.dir.write(fmt::format("heavy/{:02}.jsonl", f), events(f, 4000));
  s.dir.write("heavy/99-large.jsonl", events(99, 30000));
  const std::string logs = (s.dir.path() / "heavy").string();
  auto single_thread = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-j", "1", logs});
  ASSERT_EQ(single_thread.exit_code, 0) << single_thread.err;
  EXPECT_EQ(parse_lines(single_thread.out).size(), 78000u);
  EXPECT_GT(single_thread.out.size(), 30u << 20);
  for (const char* threads : {"2", "3", "8"}) {
    auto r = testing::run_cli({"hunt", "-r", s.rules, "-f", "jsonl", "-j", threads, logs});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out == single_thread.out) << threads << " threads: the output differs";
  }
}

TEST(HuntStream, SmallCompressedInputFreesWrittenParts) {
  // A gzip file under 2 MiB is one job, planned and run by one worker in
  // parts of 1 MiB. The parts' written detection buffers were kept until the
  // whole file was done: 24 MB of firing events took 60 MB more than the
  // same file uncompressed.
  HuntFiles s;
  std::string text;
  for (int i = 0; text.size() < (24u << 20); ++i)
    text += R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"cmd /c whoami )" +
            std::to_string(i) + " " + std::string(150, 'x') + "\"}\n";
  auto plain = s.dir.write("big/events.jsonl", text);
  ASSERT_EQ(std::system(("gzip -c '" + plain.string() + "' > '" + plain.string() + ".gz'").c_str()), 0);
  ASSERT_LT(std::filesystem::file_size(plain.string() + ".gz"), 2u << 20);
  auto peak = [&](const std::string& path) {
    auto r = run_cli({"hunt", "-r", s.rules, "-j", "1", "-o", (s.dir.path() / "out.jsonl").string(), path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto at = r.err.find("peak memory ");
    return at == std::string::npos ? 0 : std::stoi(r.err.substr(at + 12));
  };
  const int plain_peak = peak(plain.string());
  const int compressed_peak = peak(plain.string() + ".gz");
  EXPECT_GT(plain_peak, 0);
  EXPECT_LT(compressed_peak, plain_peak + 16) << "MiB, against " << plain_peak << " MiB uncompressed";
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(HuntStream, StreamedCompressionBombIsStopped) {
  // 100 MB of 10 KB JSON lines compress about 1000 times: the stream stops
  // at the 64 MiB floor of the expansion limit instead of reading on.
  HuntFiles s;
  auto gz = s.dir.path() / "bomb.jsonl.gz";
  const std::string line = "{\"Channel\":\"x\",\"pad\":\"" + std::string(10000, 'a') + "\"}";
  std::string command = "yes '" + line + "' | head -n 10000 | gzip -c > '" + gz.string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto r = testing::run_cli({"hunt", "-r", s.rules, "-o", "/dev/null", gz.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("looks like a compression bomb"), std::string::npos) << r.err;
  const long long read = testing::number_after(r.err, "info: read ");
  EXPECT_GT(read, 1000) << r.err;
  EXPECT_LT(read, 10000) << r.err;
}

const char* kCorrelationRules = R"(title: Failed login
id: 30000000-0000-4000-8000-000000000001
name: failed_login
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4625
  condition: sel
---
title: Successful login
id: 30000000-0000-4000-8000-000000000002
name: successful_login
level: low
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4624
  condition: sel
---
title: Many failed logins
id: 30000000-0000-4000-8000-000000000003
name: many_failed
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [TargetUserName]
  timespan: 5m
  condition:
    gte: 3
---
title: Brute force then success
id: 30000000-0000-4000-8000-000000000004
level: high
tags: [attack.credential-access, attack.t1110]
correlation:
  type: temporal_ordered
  rules: [many_failed, successful_login]
  group-by: [TargetUserName]
  timespan: 10m
)";

std::string security_event(int event_id, const char* user, const char* time) {
  return fmt::format(R"({{"Channel": "Security", "EventID": {}, "TargetUserName": "{}", "TimeCreated": "{}"}})",
                     event_id, user, time) +
         "\n";
}

TEST(HuntCli, CorrelationsAcrossInputs) {
  // Three failures and a success by one user, spread over two files and read
  // out of time order; a second user fails only twice.
  TempDir dir;
  auto rules = dir.write("rules/corr.yml", kCorrelationRules);
  dir.write("logs/a.jsonl", security_event(4624, "mallory", "2024-05-01T10:04:00Z") +
                                security_event(4625, "mallory", "2024-05-01T10:01:00Z") +
                                security_event(4625, "alice", "2024-05-01T10:00:00Z"));
  dir.write("logs/b.jsonl", security_event(4625, "mallory", "2024-05-01T10:00:00Z") +
                                security_event(4625, "mallory", "2024-05-01T10:02:00Z") +
                                security_event(4625, "alice", "2024-05-01T10:01:00Z") +
                                R"({"Channel": "Security", "EventID": 4625, "TargetUserName": "nobody"})" "\n");

  for (const char* threads : {"1", "2"}) {
    auto r = run_cli({"hunt", "-r", rules.string(), "-j", threads, (dir.path() / "logs").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto lines = parse_lines(r.out);

    // The rules and the inner correlation only feed the outer correlation
    // (generate: false), so only the outer one writes a detection.
    ASSERT_EQ(lines.size(), 1u) << r.out;
    EXPECT_EQ(lines[0]["rule_id"], "30000000-0000-4000-8000-000000000004");
    EXPECT_EQ(lines[0]["level"], "high");
    EXPECT_EQ(lines[0]["timestamp"], "2024-05-01T10:04:00.000000Z");
    EXPECT_EQ(lines[0]["correlation"]["type"], "temporal_ordered");
    EXPECT_EQ(lines[0]["correlation"]["event_count"], 4);
    EXPECT_EQ(lines[0]["correlation"]["group"]["TargetUserName"], "mallory");
    EXPECT_EQ(lines[0]["correlation"]["first_timestamp"], "2024-05-01T10:00:00.000000Z");
    EXPECT_EQ(lines[0]["correlation"]["events"][0]["input"], (dir.path() / "logs" / "b.jsonl").string());
    EXPECT_EQ(lines[0]["correlation"]["events"][0]["record"], 1);

    // Only the outer correlation writes detections, so the count of rules
    // names it out of both.
    EXPECT_NE(r.err.find("1 correlation detection by 1 of 2 correlation rules"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("3 rules only feed correlations"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("1 event with detections that feed correlations had no readable time (the first: " +
                         (dir.path() / "logs" / "b.jsonl").string() + " record 4)"),
              std::string::npos)
        << r.err;
  }

  // --min-level high keeps the base rules (they have no level or a low one)
  // as feeders and writes only the high correlation.
  auto high = run_cli({"hunt", "-r", rules.string(), "--min-level", "high", "-f", "csv", (dir.path() / "logs").string()});
  ASSERT_EQ(high.exit_code, 0) << high.err;
  std::istringstream csv(high.out);
  std::string header, row, extra;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_FALSE(std::getline(csv, extra)) << high.out;
  EXPECT_EQ(row.rfind(R"("30000000-0000-4000-8000-000000000004","Brute force then success","high",)"
                      R"("attack.credential-access;attack.t1110",,,"2024-05-01T10:04:00.000000Z","correlation:temporal_ordered",)",
                      0),
            0u)
      << row;

  // --explain works on one event, so it names the rules to explain instead.
  auto explain = run_cli({"hunt", "-r", rules.string(), "--explain", "30000000-0000-4000-8000-000000000004", "--record",
                          "1", (dir.path() / "logs" / "a.jsonl").string()});
  EXPECT_EQ(explain.exit_code, 2);
  EXPECT_NE(explain.err.find("is a correlation rule"), std::string::npos) << explain.err;
  EXPECT_NE(explain.err.find("30000000-0000-4000-8000-000000000003 (a correlation), 30000000-0000-4000-8000-000000000002"),
            std::string::npos)
      << explain.err;

  // A rule's name, as correlations use it, finds it too.
  auto by_name = run_cli({"hunt", "-r", rules.string(), "--explain", "failed_login", "--record", "2",
                          (dir.path() / "logs" / "a.jsonl").string()});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_NE(by_name.out.find("rule 30000000-0000-4000-8000-000000000001 \"Failed login\": MATCH"), std::string::npos)
      << by_name.out << by_name.err;
}

TEST(HuntCli, CorrelationHitsSpillToTemporaryFiles) {
  // Hits beyond --correlation-memory move to temporary files, and the
  // correlations read them back with the same result. With TMPDIR pointing
  // nowhere they stay in memory, with a warning, and the result is the same.
  TempDir dir;
  auto rules = dir.write("rules/corr.yml", kCorrelationRules);
  std::string events;
  for (int i = 0; i < 3000; ++i) {
    const std::string user = fmt::format("user{}", i % 37);
    const std::string time = fmt::format("2024-05-01T{:02}:{:02}:{:02}Z", 10 + i / 3600, i / 60 % 60, i % 60);
    events += security_event(i % 50 == 49 ? 4624 : 4625, user.c_str(), time.c_str());
  }
  auto log = dir.write("logs/many.jsonl", events);

  auto in_memory = run_cli({"hunt", "-r", rules.string(), log.string()});
  ASSERT_EQ(in_memory.exit_code, 0) << in_memory.err;
  EXPECT_EQ(in_memory.err.find("temporary files"), std::string::npos) << in_memory.err;
  ASSERT_GT(parse_lines(in_memory.out).size(), 0u);

  auto spilled = run_cli({"hunt", "-r", rules.string(), "--correlation-memory", "1", "-j", "2", log.string()});
  ASSERT_EQ(spilled.exit_code, 0) << spilled.err;
  EXPECT_NE(spilled.err.find("correlation hits took more than 1 MiB, so they went to temporary files"),
            std::string::npos)
      << spilled.err;
  EXPECT_EQ(spilled.out, in_memory.out);

  auto no_tmp = run_cli({"hunt", "-r", rules.string(), "--correlation-memory", "1", log.string()}, {},
                        {"TMPDIR=" + (dir.path() / "missing").string()});
  ASSERT_EQ(no_tmp.exit_code, 0) << no_tmp.err;
  EXPECT_NE(no_tmp.err.find("detections that feed correlations stayed in memory beyond --correlation-memory: cannot "
                            "create a temporary file in " + (dir.path() / "missing").string()),
            std::string::npos)
      << no_tmp.err;
  EXPECT_EQ(no_tmp.out, in_memory.out);
}

TEST(HuntCli, FailedRuleDocumentGivesStatus3) {
  // A rule file that failed to load left its rule unrun, and the hunt still
  // exited 0, so a CI job could not tell.
  TempDir dir;
  auto rules = dir.write("rules/corr.yml", kCorrelationRules);
  dir.write("rules/bad.yml", "title: broken\nlogsource: {product: windows\ndetection: x\n");
  auto log = dir.write("logs/a.jsonl", security_event(4625, "mallory", "2024-05-01T10:00:00Z"));
  auto r = run_cli({"hunt", "-r", (dir.path() / "rules").string(), log.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("error: 1 rule document could not be loaded (see the errors above), so it was not run; every "
                       "other rule ran"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("read 1 event from 1 input"), std::string::npos) << r.err;

  auto good = run_cli({"hunt", "-r", rules.string(), log.string()});
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

TEST(HuntCli, RepeatedInputIsNamed) {
  // One file named three ways was read three times, and a correlation
  // counted each of its events three times, without a word.
  TempDir dir;
  auto rules = dir.write("rules/corr.yml", kCorrelationRules);
  auto log = dir.write("logs/a.jsonl", security_event(4625, "mallory", "2024-05-01T10:00:00Z"));
  const std::string dotted = (dir.path() / "logs" / "." / "a.jsonl").string();
  auto r = run_cli({"hunt", "-r", rules.string(), log.string(), dotted, (dir.path() / "logs").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(dotted + ": warning: the same file as " + log.string() +
                       ", given earlier, is read again, so its events count more than once in correlations (2 inputs "
                       "repeat an earlier one)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("read 3 events from 3 inputs"), std::string::npos) << r.err;

  auto once = run_cli({"hunt", "-r", rules.string(), log.string()});
  ASSERT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(once.err.find("given earlier"), std::string::npos) << once.err;
}

TEST(HuntCli, CorrelationLevelAndStatusFilters) {
  // --min-level treated every rule without an id as feeding a correlation.
  // It also let a deprecated rule run when a correlation referenced it, and
  // a deprecated correlation ran too.
  TempDir dir;
  auto rules = dir.write("rules/r.yml", R"(title: Referenced, no id
name: low_rule
level: low
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: Unrelated, no id
level: high
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: Deprecated base
id: 31000000-0000-4000-8000-000000000001
status: deprecated
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: On the low rule
id: 31000000-0000-4000-8000-000000000002
level: high
correlation: {type: event_count, rules: [low_rule], timespan: 1h, condition: {gte: 2}}
---
title: On the deprecated rule
id: 31000000-0000-4000-8000-000000000003
level: high
correlation: {type: event_count, rules: [31000000-0000-4000-8000-000000000001], timespan: 1h, condition: {gte: 2}}
---
title: Deprecated correlation
id: 31000000-0000-4000-8000-000000000004
status: deprecated
level: high
correlation: {type: event_count, rules: [low_rule], timespan: 1h, condition: {gte: 2}}
)");
  auto log = dir.write("logs/a.jsonl", security_event(4625, "a", "2024-05-01T10:00:00Z") +
                                           security_event(4625, "a", "2024-05-01T10:01:00Z"));
  auto r = run_cli({"hunt", "-r", rules.string(), "--min-level", "medium", log.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> titles;
  for (const auto& line : parse_lines(r.out)) ++titles[line["title"].get<std::string>()];
  EXPECT_EQ(titles["Unrelated, no id"], 2) << r.out;
  EXPECT_EQ(titles["On the low rule"], 1) << r.out;
  EXPECT_EQ(titles.count("Referenced, no id"), 0u) << r.out;
  EXPECT_EQ(titles.count("On the deprecated rule"), 0u) << r.out;
  EXPECT_EQ(titles.count("Deprecated correlation"), 0u) << r.out;
}

TEST(HuntCli, CorrelationGroupByRenamedByPipeline) {
  // ecs-windows renames fields only for Windows logsources, and its
  // logsource conditions never selected correlation rules, so the group-by
  // field kept its Windows name and no event had it.
  TempDir dir;
  auto rules = dir.write("rules/r.yml", R"(title: Failed login
id: 32000000-0000-4000-8000-000000000001
name: failed_login
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: Many failed logins
id: 32000000-0000-4000-8000-000000000002
level: high
correlation: {type: event_count, rules: [failed_login], group-by: [TargetUserName], timespan: 5m, condition: {gte: 3}}
)");
  std::string events;
  for (int i = 1; i <= 4; ++i)
    events += fmt::format(R"({{"@timestamp": "2024-05-01T10:0{}:00Z", "winlog": {{"channel": "Security", )"
                          R"("event_id": 4625, "event_data": {{"TargetUserName": "mallory"}}}}}})",
                          i) +
              "\n";
  auto log = dir.write("logs/wlb.ndjson", events);
  auto r = run_cli({"hunt", "-r", rules.string(), "-p", "ecs-windows", log.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = parse_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out << r.err;
  EXPECT_EQ(lines[0]["correlation"]["group"]["winlog.event_data.TargetUserName"], "mallory") << r.out;
  EXPECT_EQ(lines[0]["correlation"]["event_count"], 4);
}

TEST(HuntCli, CorrelationChainsKeepNamesUnderPipeline) {
  // ecs-windows renamed a parent correlation's group-by 'user', an alias of
  // its child, to winlog.event_data.user, so the parent was not run.
  // Parents now find their children's group-by fields by the names written
  // in the rules, whether the pipeline renamed them (TargetUserName) or not
  // (an alias).
  TempDir dir;
  auto rules = dir.write("rules/r.yml", R"(title: Failed login
id: 33000000-0000-4000-8000-000000000001
name: failed_login
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: Failures per user, by alias
id: 33000000-0000-4000-8000-000000000002
name: by_alias
correlation: {type: event_count, rules: [failed_login], group-by: [user], timespan: 5m, condition: {gte: 2},
              aliases: {user: {failed_login: TargetUserName}}}
---
title: Failures per user
id: 33000000-0000-4000-8000-000000000003
name: by_field
correlation: {type: event_count, rules: [failed_login], group-by: [TargetUserName], timespan: 5m, condition: {gte: 2}}
---
title: Repeated, over the alias
id: 33000000-0000-4000-8000-000000000004
level: high
correlation: {type: event_count, rules: [by_alias], group-by: [user], timespan: 1h, condition: {gte: 2}}
---
title: Repeated, over the field
id: 33000000-0000-4000-8000-000000000005
level: high
correlation: {type: event_count, rules: [by_field], group-by: [TargetUserName], timespan: 1h, condition: {gte: 2}}
)");
  std::string events;
  for (int i : {1, 2, 20, 21})
    events += fmt::format(R"({{"@timestamp": "2024-05-01T10:{:02}:00Z", "winlog": {{"channel": "Security", )"
                          R"("event_id": 4625, "event_data": {{"TargetUserName": "mallory"}}}}}})",
                          i) +
              "\n";
  auto log = dir.write("logs/wlb.ndjson", events);
  auto r = run_cli({"hunt", "-r", rules.string(), "-p", "ecs-windows", log.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("not run:"), std::string::npos) << r.err;
  std::map<std::string, int> fired;
  for (const auto& line : parse_lines(r.out)) ++fired[line["rule_id"].get<std::string>()];
  EXPECT_EQ(fired["33000000-0000-4000-8000-000000000004"], 1) << r.out;
  EXPECT_EQ(fired["33000000-0000-4000-8000-000000000005"], 1) << r.out;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// A misspelled command is named, with the list of commands, instead of
// CLI11's "A subcommand is required".
// Counts of one read in the singular: "1 more rule ... is", not "1 more rules ... are".
TEST(HuntCli, OneRuleSummaryIsSingular) {
  TempDir dir;
  const std::string runs = R"(title: Any Whoami
id: 10000000-0000-4000-8000-000000000031
status: test
level: low
logsource:
  category: process_creation
  product: windows
detection:
  sel:
    CommandLine|contains: 'whoami'
  condition: sel
)";
  // A placeholder without a pipeline: the rule loads but cannot run.
  const std::string cannot_run = R"(title: Admin Logon
id: 10000000-0000-4000-8000-000000000032
status: test
level: low
logsource:
  category: process_creation
  product: windows
detection:
  sel:
    User|expand: '%Admins%'
  condition: sel
)";
  const std::string rules = dir.write("rules/r.yml", runs + "---\n" + cannot_run).string();
  const std::string events = dir.write("events.jsonl",
                                       R"({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, )"
                                       R"("CommandLine": "cmd /c whoami"})"
                                       "\n")
                                 .string();
  auto r = run_cli({"hunt", "-r", rules, "-f", "jsonl", "--max-warnings", "0", events});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"loaded 2 rules from 1 file in ", "1 more rule that cannot run is not listed",
                           "running 1 rule (", "; 1 rule cannot run", "read 1 event from 1 input;",
                           "1 detection by 1 rule"})
    EXPECT_NE(r.err.find(line), std::string::npos) << line << "\n" << r.err;
}

TEST(Cli, UnknownCommandIsNamed) {
  auto result = testing::run_cli({"catlog", "rules"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown command 'catlog'; the commands are catalog, explain"), std::string::npos)
      << result.err;
  auto verbose = testing::run_cli({"-v", "hnut", "x"});
  EXPECT_NE(verbose.err.find("unknown command 'hnut'"), std::string::npos) << verbose.err;
}

}  // namespace
}  // namespace sigscope
