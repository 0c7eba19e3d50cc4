#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <chrono>
#include <iostream>
#include "sigscope/rules/loader.h"
#include "sigscope/compile/compiler.h"
using namespace sigscope;
int main(int argc, char** argv) {
  CLI::App app{"sigscope"};
  std::vector<std::string> paths;
  auto* check = app.add_subcommand("check", "load and compile rules");
  check->add_option("paths", paths)->required();
  CLI11_PARSE(app, argc, argv);
  auto t0 = std::chrono::steady_clock::now();
  DiagnosticList diags;
  auto loaded = load_rules(paths, diags);
  auto compiled = compile_rules(std::move(loaded.rules), diags);
  auto t1 = std::chrono::steady_clock::now();
  diags.sort();
  for (auto& d : diags.items()) std::cerr << d.format() << "\n";
  std::cerr << "files " << loaded.files << " rules " << compiled.rules.size() << " failed " << compiled.failed
            << " errors " << diags.error_count() << " warnings " << diags.warning_count() << " time "
            << std::chrono::duration<double>(t1 - t0).count() << "\n";
}
