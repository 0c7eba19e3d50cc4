// Helpers shared by the test programs: where the shared corpus is, and
// loading rules from inline YAML.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"

namespace sigscope::testing {

// The shared corpus folder (holding corpus/ and conformance/), or an empty
// path when it is absent.
std::filesystem::path shared_dir();

// Skips the current test with a message when the shared corpus is absent.
#define SIGSCOPE_REQUIRE_SHARED()                                                     \
  do {                                                                                \
    if (::sigscope::testing::shared_dir().empty())                                    \
      GTEST_SKIP() << "shared corpus not found: SIGSCOPE_SHARED_DIR (if set) or ../shared " \
                      "next to the checkout must hold a corpus/ folder";                \
  } while (0)

// Loads and compiles rules from YAML text; diagnostics go to `diagnostics`.
std::vector<CompiledRule> compile_text(const std::string& yaml, DiagnosticList& diagnostics,
                                       const std::string& path = "test.yml");

// Compiles a single-rule YAML text and fails the test when it does not compile.
CompiledRule compile_one(const std::string& yaml);

}  // namespace sigscope::testing

namespace sigscope::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the sigscope CLI built with the tests with `args` (shell-quoted here)
// and the NAME=value entries of `environment` added to its environment.
CommandResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = {},
                      const std::vector<std::string>& environment = {});

// Runs the CLI with `args`, its standard input piped from the shell command
// `producer` (e.g. a generator writing gigabytes).
CommandResult run_cli_piped(const std::string& producer, const std::vector<std::string>& args);

// The number after `prefix` in `text` (e.g. "peak memory " in a summary), or -1.
long long number_after(const std::string& text, const std::string& prefix);

// A fresh empty folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/relative, creating folders.
  std::filesystem::path write(const std::string& relative, const std::string& content) const;
  // Replaces the content of an existing file.
  static void overwrite(const std::filesystem::path& path, const std::string& content);

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);

}  // namespace sigscope::testing
