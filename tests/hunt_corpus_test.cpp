// The whole SigmaHQ rule corpus over every shared EVTX and JSON log: the
// hunt finishes, and its summary accounts for every event of every input.
#include <gtest/gtest.h>

#include <regex>
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
  auto result = testing::run_cli({"hunt", "-r", (corpus / "sigma").string(), (corpus / "evtx").string(),
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

}  // namespace
}  // namespace sigscope
