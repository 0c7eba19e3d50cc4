// Soak run for streamed input: about 10 GB of real Windows events, generated
// on the fly into a pipe, hunted with the whole SigmaHQ corpus. Memory must
// stay flat: the reader holds a few 1 MiB blocks, never the input.
// Long label; SIGSCOPE_SOAK_GB changes the size.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_support.h"

namespace sigscope {
namespace {

namespace fs = std::filesystem;
using testing::number_after;

TEST(StreamSoak, TenGigabytesThroughAPipeInFlatMemory) {
  const fs::path events = testing::shared_dir() / "corpus" / "json" / "security-datasets" / "atomic" / "windows";
  const fs::path rules = testing::shared_dir() / "corpus" / "sigma" / "rules";
  if (!fs::exists(events) || !fs::exists(rules)) GTEST_SKIP() << "shared corpus not found at " << testing::shared_dir();

  // One sample file of every JSON-lines event under the folder.
  testing::TempDir dir;
  const fs::path sample = dir.path() / "sample.jsonl";
  {
    std::ofstream out(sample, std::ios::binary);
    for (const auto& entry : fs::recursive_directory_iterator(events)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::string line;
      while (std::getline(in, line))
        if (!line.empty() && line[0] == '{') out << line << '\n';
    }
  }
  const auto sample_bytes = static_cast<double>(fs::file_size(sample));
  ASSERT_GT(sample_bytes, 1e6);

  auto once = testing::run_cli({"hunt", "-r", rules.string(), "-o", "/dev/null", sample.string()});
  ASSERT_EQ(once.exit_code, 0) << once.err;
  const long long sample_events = number_after(once.err, "info: read ");
  ASSERT_GT(sample_events, 0) << once.err;

  double gigabytes = 10;
  if (const char* gb = std::getenv("SIGSCOPE_SOAK_GB")) gigabytes = std::atof(gb);
  const long long copies = std::max(1LL, static_cast<long long>(gigabytes * 1e9 / sample_bytes));
  const std::string producer =
      "for i in $(seq " + std::to_string(copies) + "); do cat '" + sample.string() + "'; done";
  auto r = testing::run_cli_piped(producer, {"hunt", "-r", rules.string(), "-o", "/dev/null", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(number_after(r.err, "info: read "), sample_events * copies) << r.err;
  const long long peak = number_after(r.err, "peak memory ");
  ASSERT_GT(peak, 0) << r.err;
  EXPECT_LE(peak, 150) << "peak memory in MiB for " << copies * sample_bytes / 1e9 << " GB of input";
  std::printf("streamed %.1f GB (%lld events) with peak memory %lld MiB\n", copies * sample_bytes / 1e9,
              sample_events * copies, peak);
}

}  // namespace
}  // namespace sigscope
