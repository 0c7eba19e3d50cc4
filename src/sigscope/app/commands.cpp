#include "sigscope/app/commands.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sigscope/analysis/catalog.h"
#include "sigscope/app/rule_corpus.h"
#include "sigscope/catalog/layer.h"
#include "sigscope/catalog/site.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/output/page_json.h"
#include "sigscope/output/page_text.h"
#include "sigscope/rules/loader.h"

namespace sigscope {

namespace {
// Loads the rules under `paths` and prints the diagnostics and summary.
// Returns false, after an error message, when no rule file was found.
bool load_and_report(const std::vector<std::string>& paths, unsigned threads, std::size_t max_warnings,
                     CorpusLoad& load) {
  load_corpus(paths, threads, load);
  report_corpus(load, max_warnings);
  if (load.files > 0) return true;
  spdlog::error("no .yml or .yaml rule files found under {}; give a rule file or a folder that contains some",
                fmt::join(paths, ", "));
  return false;
}
}  // namespace

int run_catalog(const CatalogOptions& options) {
  CorpusLoad load;
  if (!load_and_report(options.paths, options.threads, options.max_warnings, load)) return 2;

  auto start = std::chrono::steady_clock::now();
  nlohmann::json summary = load.summary();
  // The index page lists what failed to load, so a catalog never hides it.
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& d : load.diagnostics.items())
    if (d.severity == Severity::Error)
      failed.push_back({{"file", d.file}, {"line", d.line}, {"rule_id", d.rule_id}, {"message", d.message}});
  summary["failed"] = std::move(failed);
  Catalog catalog = build_catalog(std::move(load.rules), load.diagnostics, options.threads);
  DiagnosticList write_diagnostics;
  SiteStats stats = write_site(catalog, options.out_dir, summary, write_diagnostics, options.threads);
  for (const auto& d : write_diagnostics.items()) spdlog::get("diagnostics")->error(d.format());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::filesystem::path index = std::filesystem::absolute(std::filesystem::path(options.out_dir) / "index.html");
  if (stats.write_errors > 0) {
    spdlog::error("the catalog in {} is incomplete: {} files could not be written (see above)", options.out_dir,
                  stats.write_errors);
    return 2;
  }
  spdlog::info("wrote {} rule pages ({} files) in {:.2f} s", stats.pages, stats.files, seconds);
  std::cout << "Catalog written to " << index.lexically_normal().string() << "\n";
  if (options.strict && load.documents_failed > 0) return 1;
  return 0;
}

int run_explain(const ExplainOptions& options) {
  DiagnosticList diagnostics;
  std::size_t rejected = 0;
  LoadResult loaded = load_rules({options.rule_file}, diagnostics, 1);
  CompileResult compiled = compile_rules(std::move(loaded.rules), diagnostics, 1);
  rejected = loaded.documents_failed + compiled.failed;
  diagnostics.sort();
  for (const auto& d : diagnostics.items())
    spdlog::get("diagnostics")->log(d.severity == Severity::Error ? spdlog::level::err : spdlog::level::warn, d.format());
  if (compiled.rules.empty()) {
    spdlog::error("{}: no valid rule to explain ({} rule documents failed)", options.rule_file, rejected);
    return 1;
  }

  // The corpus supplies the counts of other rules sharing each indicator.
  std::optional<Catalog> corpus;
  if (!options.corpus.empty()) {
    CorpusLoad load;
    load_corpus(options.corpus, 0, load);
    for (const auto& d : load.diagnostics.items())
      if (d.severity == Severity::Error) spdlog::get("diagnostics")->error(d.format());
    spdlog::info("corpus: {} rules from {} files ({} failed)", load.rules.size(), load.files,
                 load.documents_failed);
    if (load.files == 0) {
      spdlog::error("no rule files found under --corpus {}; give a folder of rules to count indicators in",
                    fmt::join(options.corpus, ", "));
      return 2;
    }
    corpus = build_catalog(std::move(load.rules), load.diagnostics);
  } else {
    spdlog::info("corpus counts are not shown; pass --corpus RULES to count other rules sharing each indicator");
  }
  // One JSON value on stdout: an object for one rule, an array for several.
  nlohmann::json pages = nlohmann::json::array();
  bool first = true;
  for (const auto& rule : compiled.rules) {
    RulePage page = analyse_rule(rule, corpus ? &*corpus : nullptr, diagnostics);
    if (options.format == "json") {
      pages.push_back(rule_page_json(page));
    } else {
      if (!first) std::cout << "\n---\n\n";
      std::cout << rule_page_markdown(page);
    }
    first = false;
  }
  if (options.format == "json") std::cout << (pages.size() == 1 ? pages[0] : pages).dump(2) << "\n";
  return rejected > 0 ? 1 : 0;
}

int run_check(const CheckOptions& options) {
  CorpusLoad load;
  if (!load_and_report(options.paths, options.threads, options.max_warnings, load)) return 2;
  return load.documents_failed > 0 ? 1 : 0;
}

int run_layer(const LayerCommandOptions& options) {
  CorpusLoad load;
  if (!load_and_report(options.paths, options.threads, options.max_warnings, load)) return 2;
  Catalog catalog = build_catalog(std::move(load.rules), load.diagnostics, options.threads);
  LayerOptions layer_options;
  layer_options.score = options.score;
  layer_options.base_url = options.base_url;
  std::string text = navigator_layer(catalog, layer_options).dump(1) + "\n";
  if (options.output.empty() || options.output == "-") {
    std::cout << text;
    std::cout.flush();
    if (!std::cout) {
      spdlog::error("cannot write the layer to stdout");
      return 2;
    }
    return 0;
  }
  std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
  if (out) out << text;
  if (!out) {
    spdlog::error("cannot write the layer to {}: check that the folder exists and is writable", options.output);
    return 2;
  }
  spdlog::info("wrote the ATT&CK Navigator layer to {}", options.output);
  return 0;
}

}  // namespace sigscope
