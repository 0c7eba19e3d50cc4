// The whole SigmaHQ rule corpus over every shared EVTX and JSON log: the
// hunt finishes, and its summary accounts for every event of every input.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sigscope/input/evtx.h"
#include "test_support.h"

namespace sigscope {
namespace {

std::uint64_t summary_number(const std::string& err, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex(pattern))) return 0;
  return std::stoull(m[1]);
}

// Records the inputs hold, counted independently of the hunt: framed EVTX
// records, non-blank lines of JSON-lines files, one per pretty-printed JSON file.
struct Expected {
  std::uint64_t records = 0;
  std::uint64_t skipped_files = 0;
};

Expected count_inputs(const std::vector<std::filesystem::path>& roots) {
  Expected e;
  for (const auto& root : roots) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file()) continue;
      std::string text = testing::read_file(entry.path());
      if (text.rfind("ElfFile", 0) == 0) {
        DiagnosticList diagnostics;
        auto file = EvtxFile::open(entry.path().string(), diagnostics);
        if (file) e.records += file->framed_record_count();
        continue;
      }
      std::size_t first = text.find_first_not_of(" \t\r\n");
      if (first == std::string::npos || (text[first] != '{' && text[first] != '[')) {
        ++e.skipped_files;
        continue;
      }
      std::string first_line = text.substr(first, text.find('\n', first) - first);
      if (nlohmann::json::accept(first_line)) {
        std::istringstream lines(text);
        std::string line;
        while (std::getline(lines, line))
          if (line.find_first_not_of(" \t\r") != std::string::npos) ++e.records;
      } else {
        ++e.records;  // one pretty-printed object
      }
    }
  }
  return e;
}

TEST(HuntCorpus, EveryEventAccountedFor) {
  SIGSCOPE_REQUIRE_SHARED();
  auto corpus = testing::shared_dir() / "corpus";
  std::vector<std::filesystem::path> logs = {corpus / "evtx", corpus / "json"};
  testing::TempDir dir;
  auto out = dir.path() / "detections.jsonl";
  // rules/ only: the rest of the repository has rule documents that fail to
  // load, which gives status 3.
  auto result = testing::run_cli({"hunt", "-r", (corpus / "sigma" / "rules").string(), (corpus / "evtx").string(),
                                  (corpus / "json").string(), "-f", "jsonl", "-o", out.string(), "--max-warnings", "0"});
  ASSERT_EQ(result.exit_code, 0) << result.err.substr(result.err.size() > 4000 ? result.err.size() - 4000 : 0);

  Expected expected = count_inputs(logs);
  std::uint64_t read = summary_number(result.err, R"(read (\d+) events)");
  std::uint64_t rejected = summary_number(result.err, R"(rejected (\d+) records)");
  std::uint64_t skipped = summary_number(result.err, R"(skipped (\d+) inputs)");
  std::uint64_t detections = summary_number(result.err, R"((\d+) detections by)");
  EXPECT_EQ(read + rejected, expected.records);
  EXPECT_EQ(skipped, expected.skipped_files);
  EXPECT_GT(detections, 1000u);

  // Every detection line is valid JSON naming a rule and a record.
  std::istringstream lines(testing::read_file(out));
  std::string line;
  std::uint64_t count = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("rule_id"));
    ASSERT_GE(j["record"].get<std::uint64_t>(), 1u);
    ++count;
  }
  EXPECT_EQ(count, detections);
}

// The `event` objects of the detections on the shared EVTX files, hunted
// again as JSON lines, fire the same rules, one event per line. Event 104
// (log cleared) repeats System's Channel in UserData. Merged into one array,
// the two values move detections between SigmaHQ's two "Eventlog Cleared"
// rules.
TEST(HuntCorpus, EventOutputHuntsToSameRules) {
  SIGSCOPE_REQUIRE_SHARED();
  auto corpus = testing::shared_dir() / "corpus";
  testing::TempDir dir;
  auto first = dir.path() / "first.jsonl";
  auto result = testing::run_cli({"hunt", "-q", "-r", (corpus / "sigma" / "rules").string(), (corpus / "evtx").string(),
                                  "-f", "jsonl", "-o", first.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err.substr(0, 4000);

  // Each event once, with the rules it fired, in output order.
  std::map<std::pair<std::string, std::uint64_t>, std::size_t> line_of_event;
  std::vector<std::set<std::string>> expected;
  std::string events;
  std::istringstream lines(testing::read_file(first));
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("event")) continue;  // a correlation
    auto key = std::make_pair(j["input"].get<std::string>(), j["record"].get<std::uint64_t>());
    auto [it, added] = line_of_event.emplace(key, expected.size());
    if (added) {
      expected.emplace_back();
      events += j["event"].dump() + "\n";
    }
    expected[it->second].insert(j["rule_id"].get<std::string>());
  }
  ASSERT_GT(expected.size(), 1000u);

  auto second = dir.path() / "second.jsonl";
  result = testing::run_cli({"hunt", "-q", "-r", (corpus / "sigma" / "rules").string(), dir.write("events.jsonl", events).string(),
                             "-f", "jsonl", "-o", second.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err.substr(0, 4000);
  std::vector<std::set<std::string>> fired(expected.size());
  std::istringstream again(testing::read_file(second));
  while (std::getline(again, line)) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("event")) continue;
    const auto record = j["record"].get<std::uint64_t>();
    ASSERT_LE(record, fired.size());
    fired[record - 1].insert(j["rule_id"].get<std::string>());
  }
  std::size_t moved = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (fired[i] == expected[i]) continue;
    if (++moved <= 5)
      ADD_FAILURE() << "event on line " << i + 1 << " fired " << ::testing::PrintToString(fired[i])
                    << " when hunted again, expected " << ::testing::PrintToString(expected[i]);
  }
  EXPECT_EQ(moved, 0u);
}

// The SigmaHQ rule for CVE-2023-23397 (service smbclient-connectivity, which
// the logsource tables know only by its provider) fires on an SMB client
// connectivity event to a public address and not on one to a private address.
TEST(HuntCorpus, SmbClientConnectivityRuleReceivesEvents) {
  SIGSCOPE_REQUIRE_SHARED();
  const auto rule = testing::shared_dir() / "corpus" / "sigma" / "rules-emerging-threats" / "2023" / "Exploits" /
                    "CVE-2023-23397" / "win_smbclient_connectivity_exploit_cve_2023_23397_outlook_remote_file.yml";
  auto event = [](const std::string& address) {
    return nlohmann::json{{"Channel", "Microsoft-Windows-SmbClient/Connectivity"},
                          {"Provider_Name", "Microsoft-Windows-SMBClient"},
                          {"EventID", 30803},
                          {"ServerAddress", address}}
               .dump();
  };
  const std::string input = event("203.0.113.5") + "\n" + event("192.168.1.5") + "\n";
  auto result = testing::run_cli({"hunt", "--rules", rule.string(), "-f", "jsonl", "-"}, input);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<nlohmann::json> detections;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) detections.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(detections.size(), 1u) << result.out;
  EXPECT_EQ(detections[0]["rule_id"], "de96b824-02b0-4241-9356-7e9b47f04bac");
  EXPECT_EQ(detections[0]["record"], 1);
}

}  // namespace
}  // namespace sigscope
