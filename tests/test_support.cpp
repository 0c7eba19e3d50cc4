#include "test_support.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "sigscope/compile/compiler.h"
#include "sigscope/rules/loader.h"

namespace sigscope::testing {

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("SIGSCOPE_SHARED_DIR"); env && *env) {
    if (std::filesystem::exists(std::filesystem::path(env) / "corpus")) return env;
  }
  std::filesystem::path configured = SIGSCOPE_SHARED_DIR;
  if (std::filesystem::exists(configured / "corpus")) return configured;
  return {};
}

std::vector<CompiledRule> compile_text(const std::string& yaml, DiagnosticList& diagnostics,
                                       const std::string& path) {
  auto rules = load_rules_from_text(yaml, path, diagnostics);
  return compile_rules(std::move(rules), diagnostics, 1).rules;
}

CompiledRule compile_one(const std::string& yaml) {
  DiagnosticList diagnostics;
  auto rules = compile_text(yaml, diagnostics);
  std::string messages;
  for (const auto& d : diagnostics.items()) messages += d.format() + "\n";
  EXPECT_EQ(rules.size(), 1u) << messages;
  if (rules.empty()) return {};
  return std::move(rules.front());
}

}  // namespace sigscope::testing
