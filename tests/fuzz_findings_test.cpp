// Replays every saved fuzz finding (tests/fuzz-findings/<target>/*) through
// the same entry point the libFuzzer program uses (fuzz/targets.h), in the
// normal build, so each fixed crash, hang or broken invariant stays fixed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "targets.h"
#include "test_support.h"

namespace sigscope::fuzz {

// Names the test parameter in test lists instead of dumping its bytes.
void PrintTo(const Target& target, std::ostream* out) { *out << target.name; }

}  // namespace sigscope::fuzz

namespace sigscope {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> violations;

void record_violation(const char* what) { violations.push_back(what); }

// Runs `input` through `target`; returns the invariant violations and the time taken.
std::vector<std::string> replay(const fuzz::Target& target, const std::string& input, double& seconds) {
  violations.clear();
  fuzz::set_violation_handler(record_violation);
  auto start = std::chrono::steady_clock::now();
  target.run(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fuzz::set_violation_handler(nullptr);
  return violations;
}

class FuzzFindings : public ::testing::TestWithParam<fuzz::Target> {};

TEST_P(FuzzFindings, ReplayWithoutViolation) {
  fs::path folder = fs::path(SIGSCOPE_SOURCE_DIR) / "tests" / "fuzz-findings" / std::string(GetParam().name);
  if (!fs::exists(folder)) GTEST_SKIP() << "no findings saved for " << GetParam().name;
  std::size_t replayed = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_regular_file() || entry.path().filename().string().starts_with(".")) continue;
    double seconds = 0;
    auto found = replay(GetParam(), testing::read_file(entry.path()), seconds);
    EXPECT_TRUE(found.empty()) << entry.path() << ": " << (found.empty() ? "" : found.front());
    // libFuzzer stops an input at the target's timeout (scripts/fuzz), so a
    // fixed hang must stay far below it, also on a loaded machine.
    EXPECT_LT(seconds, GetParam().timeout_seconds / 2.0) << entry.path();
    ++replayed;
  }
  RecordProperty("replayed", static_cast<int>(replayed));
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzFindings, ::testing::ValuesIn(fuzz::kTargets),
                         [](const auto& info) { return std::string(info.param.name); });

// The entry points accept ordinary inputs without a violation, so a replay
// that passes means the finding is handled, not that the target is broken.
TEST(FuzzTargets, AcceptOrdinaryInputs) {
  const std::string rule = R"(title: Whoami
id: 5f0c6c5e-1b1a-4f0e-9a57-3c0d7b9e2f10
status: test
level: low
references:
  - https://example.org/whoami
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\whoami.exe'
  filter_admin:
    CommandLine|re: '^whoami /(groups|priv)$'
  condition: selection and not 1 of filter_*
)";
  const std::string event = R"({"Image": "C:\\Windows\\System32\\whoami.exe", "CommandLine": "whoami /all"})";
  double seconds = 0;
  EXPECT_TRUE(replay(fuzz::kTargets[0], rule, seconds).empty());
  EXPECT_TRUE(replay(fuzz::kTargets[1], "selection and not 1 of filter_*", seconds).empty());
  EXPECT_TRUE(replay(fuzz::kTargets[2], event + "\n" + event + "\n", seconds).empty());
  EXPECT_TRUE(replay(fuzz::kTargets[3], std::string(100, '\0'), seconds).empty());
  EXPECT_TRUE(replay(fuzz::kTargets[4], rule + std::string(1, '\0') + event, seconds).empty());
  EXPECT_LT(seconds, 5.0);
}

}  // namespace
}  // namespace sigscope
