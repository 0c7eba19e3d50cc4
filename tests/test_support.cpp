#include "test_support.h"

#include <cctype>

#include <gtest/gtest.h>

#include <cstdlib>

#include "sigscope/compile/compiler.h"
#include "sigscope/rules/loader.h"

namespace sigscope::testing {

std::filesystem::path shared_dir() {
  // A path given in the environment is used or nothing is: falling back to
  // the configured one would hide a typo.
  if (const char* env = std::getenv("SIGSCOPE_SHARED_DIR"); env && *env) {
    if (std::filesystem::exists(std::filesystem::path(env) / "corpus")) return env;
    return {};
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

#include <fstream>
#include <random>
#include <sstream>
#include <sys/wait.h>

namespace sigscope::testing {

namespace {
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out.push_back(c);
  }
  return out + "'";
}
}  // namespace

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

CommandResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text,
                      const std::vector<std::string>& environment) {
  TempDir io;
  // Keep the CLI's prefilter cache inside the build tree, out of the user's home.
  std::string command = "XDG_CACHE_HOME=" + shell_quote(std::string(SIGSCOPE_BINARY_DIR) + "/test-cache") + " ";
  for (const auto& variable : environment) {
    const std::size_t equals = variable.find('=');
    command += variable.substr(0, equals + 1) + shell_quote(variable.substr(equals + 1)) + " ";
  }
  command += shell_quote(SIGSCOPE_CLI);
  for (const auto& a : args) command += " " + shell_quote(a);
  auto in_path = io.write("stdin", stdin_text);
  command += " < " + shell_quote(in_path.string());
  command += " > " + shell_quote((io.path() / "stdout").string());
  command += " 2> " + shell_quote((io.path() / "stderr").string());
  int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(io.path() / "stdout");
  result.err = read_file(io.path() / "stderr");
  return result;
}

CommandResult run_cli_piped(const std::string& producer, const std::vector<std::string>& args) {
  TempDir io;
  std::string command = "(" + producer + ") | XDG_CACHE_HOME=" +
                        shell_quote(std::string(SIGSCOPE_BINARY_DIR) + "/test-cache") + " " + shell_quote(SIGSCOPE_CLI);
  for (const auto& a : args) command += " " + shell_quote(a);
  command += " > " + shell_quote((io.path() / "stdout").string());
  command += " 2> " + shell_quote((io.path() / "stderr").string());
  int status = std::system(("bash -c " + shell_quote(command)).c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(io.path() / "stdout");
  result.err = read_file(io.path() / "stderr");
  return result;
}

long long number_after(const std::string& text, const std::string& prefix) {
  auto pos = text.find(prefix);
  if (pos == std::string::npos) return -1;
  pos += prefix.size();
  std::size_t end = pos;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == pos) return -1;
  return std::stoll(text.substr(pos, end - pos));
}

TempDir::TempDir() {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  for (;;) {
    path_ = std::filesystem::temp_directory_path() / ("sigscope-test-" + std::to_string(rng()));
    if (std::filesystem::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::overwrite(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::filesystem::path TempDir::write(const std::string& relative, const std::string& content) const {
  std::filesystem::path p = path_ / relative;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
  return p;
}

}  // namespace sigscope::testing

namespace {
// Test programs cache prefilter databases inside the build tree, not in the
// user's home; engines built in-process read XDG_CACHE_HOME too.
const bool kCacheInBuildTree = [] {
  setenv("XDG_CACHE_HOME", (std::string(SIGSCOPE_BINARY_DIR) + "/test-cache").c_str(), 1);
  return true;
}();
}  // namespace
