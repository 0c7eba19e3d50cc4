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
      GTEST_SKIP() << "shared corpus not found (set SIGSCOPE_SHARED_DIR or place it " \
                      "at ../shared next to the checkout)";                           \
  } while (0)

// Loads and compiles rules from YAML text; diagnostics go to `diagnostics`.
std::vector<CompiledRule> compile_text(const std::string& yaml, DiagnosticList& diagnostics,
                                       const std::string& path = "test.yml");

// Compiles a single-rule YAML text and fails the test when it does not compile.
CompiledRule compile_one(const std::string& yaml);

}  // namespace sigscope::testing
