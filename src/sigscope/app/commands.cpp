#include "sigscope/app/commands.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sigscope/analysis/catalog.h"
#include "sigscope/analysis/lint.h"
#include "sigscope/app/rule_corpus.h"
#include "sigscope/catalog/layer.h"
#include "sigscope/catalog/site.h"
#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/output/page_json.h"
#include "sigscope/output/page_text.h"
#include "sigscope/pipeline/pipeline.h"
#include "sigscope/rules/loader.h"

namespace sigscope {

namespace {
// Loads the rules under `paths` and prints the diagnostics and summary, with
// a warning for each correlation that cannot run when `check_correlations`.
// Returns false, after an error message, when no rule file was found.
bool load_and_report(const std::vector<std::string>& paths, unsigned threads, std::size_t max_warnings,
                     CorpusLoad& load, bool check_correlations = false) {
  load_corpus(paths, threads, load);
  if (check_correlations) warn_unrunnable_correlations(load);
  report_corpus(load, max_warnings);
  if (load.files > 0) return true;
  spdlog::error("no .yml or .yaml rule files found under {}; give a rule file or a folder that contains some",
                fmt::join(paths, ", "));
  return false;
}
}  // namespace

int run_catalog(const CatalogOptions& options) {
  CorpusLoad load;
  // Pages show a correlation that cannot run, as check's correlation-reference reports it.
  if (!load_and_report(options.paths, options.threads, options.max_warnings, load, /*check_correlations=*/true))
    return 2;

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
    spdlog::error("the catalog in {} is incomplete: {} could not be written (see above)", options.out_dir,
                  plural(stats.write_errors, "file", "files"));
    return 2;
  }
  spdlog::info("wrote {} ({}) in {:.2f} s", plural(stats.pages, "rule page", "rule pages"),
               plural(stats.files, "file", "files"), seconds);
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
    spdlog::error("{}: no valid rule to explain ({} failed)", options.rule_file,
                  plural(rejected, "rule document", "rule documents"));
    return 1;
  }

  // The corpus supplies the counts of other rules sharing each indicator.
  std::optional<Catalog> corpus;
  if (!options.corpus.empty()) {
    CorpusLoad load;
    load_corpus(options.corpus, 0, load);
    for (const auto& d : load.diagnostics.items())
      if (d.severity == Severity::Error) spdlog::get("diagnostics")->error(d.format());
    spdlog::info("corpus: {} from {} ({} failed)", plural(load.rules.size(), "rule", "rules"),
                 plural(load.files, "file", "files"), plural(load.documents_failed, "rule document", "rule documents"));
    if (load.files == 0) {
      spdlog::error("no rule files found under --corpus {}; give a folder of rules to count indicators in",
                    fmt::join(options.corpus, ", "));
      return 2;
    }
    corpus = build_catalog(std::move(load.rules), load.diagnostics);
  } else {
    spdlog::info("corpus counts are not shown; pass --corpus RULES to count other rules sharing each indicator");
  }
  // One JSON array on stdout, with one object per rule even for a single rule,
  // so scripts read every output the same way.
  nlohmann::json pages = nlohmann::json::array();
  bool first = true;
  for (const auto& rule : compiled.rules) {
    RulePage page = analyse_rule(rule, corpus ? &*corpus : nullptr, diagnostics);
    if (options.format == "json") {
      pages.push_back(rule_page_json(page));
    } else {
      if (!first) std::cout << "\n---\n\n";
      // Line by line, so line breaks stay while escape sequences from the
      // rule cannot reach the terminal.
      std::vector<std::string> lines = split(rule_page_markdown(page), '\n');
      if (!lines.empty() && lines.back().empty()) lines.pop_back();
      for (const auto& line : lines) std::cout << escape_control_characters(line) << '\n';
    }
    first = false;
  }
  if (options.format == "json") std::cout << pages.dump(2) << "\n";
  return rejected > 0 ? 1 : 0;
}

int run_check(const CheckOptions& options) {
  if (options.list_checks) {
    for (const auto& c : lint_checks())
      std::cout << fmt::format("{:<30} {:<8} {:<4} {}\n", c.id, lint_severity_name(c.severity),
                               c.enabled_by_default ? "on" : "off", c.summary);
    return 0;
  }
  if (options.paths.empty()) {
    spdlog::error("check needs rule files or folders; give at least one path");
    return 2;
  }
  LintConfig config;
  if (!options.config.empty()) {
    if (auto err = load_lint_config(options.config, config)) {
      spdlog::error("invalid --config: {}", *err);
      return 2;
    }
  }
  if (!options.pipelines.empty()) {
    DiagnosticList pipeline_diagnostics;
    auto pipelines = load_pipelines(options.pipelines, pipeline_diagnostics);
    for (const auto& d : pipeline_diagnostics.items())
      spdlog::get("diagnostics")->log(d.severity == Severity::Error ? spdlog::level::err : spdlog::level::warn,
                                      d.format());
    if (!pipelines) {
      std::vector<std::string_view> shipped;
      for (const auto& p : shipped_pipelines()) shipped.push_back(p.name);
      spdlog::error("cannot load the processing pipelines {} (see above); give a shipped pipeline name ({}) or the "
                    "path of a pipeline YAML file",
                    fmt::join(options.pipelines, ", "), fmt::join(shipped, ", "));
      return 2;
    }
    config.pipelines = std::move(*pipelines);
  }
  std::optional<LintSeverity> fail_level;
  if (options.fail_level != "none") {
    fail_level = parse_lint_severity(options.fail_level);
    if (!fail_level) {
      spdlog::error("--fail-level must be error, warning, info or none");
      return 2;
    }
  }

  CorpusLoad load;
  std::vector<Rule> uncompiled;
  load_corpus(options.paths, options.threads, load, &uncompiled);
  report_corpus(load, options.max_warnings, /*skip_reported=*/true);
  if (load.files == 0) {
    spdlog::error("no .yml or .yaml rule files found under {}; give a rule file or a folder that contains some",
                  fmt::join(options.paths, ", "));
    return 2;
  }
  // An exclusion that names no rule is usually a typo, and the rule it was
  // meant for is still reported.
  std::vector<const Rule*> loaded;
  for (const auto& r : load.rules) loaded.push_back(&r.rule);
  for (const auto& r : uncompiled) loaded.push_back(&r);
  for (const auto& unused : unused_exclusions(config, loaded)) {
    Diagnostic d;
    d.severity = Severity::Warning;
    d.file = config.path;
    d.line = unused.line;
    d.message = fmt::format("exclude entry '{}' of '{}' matches no loaded rule, so it excludes nothing", unused.entry,
                            unused.check);
    d.hint = "write the rule's id, title, file name or path (a '*' glob is allowed), or remove the entry";
    spdlog::get("diagnostics")->warn(d.format());
  }

  auto start = std::chrono::steady_clock::now();
  std::vector<LintFinding> findings = lint_rules(load.rules, uncompiled, config, options.threads);
  // Warnings of loading and compiling join the findings under the checks they name.
  std::vector<LintFinding> load_warnings = lint_load_warnings(load.diagnostics, load.rules, uncompiled, findings, config);
  findings.insert(findings.end(), std::make_move_iterator(load_warnings.begin()),
                  std::make_move_iterator(load_warnings.end()));
  std::stable_sort(findings.begin(), findings.end(), [](const LintFinding& a, const LintFinding& b) {
    return std::tie(a.file, a.line, a.column, a.check) < std::tie(b.file, b.line, b.column, b.check);
  });
  // Load and compile errors are findings too, so every format lists and
  // counts the same findings.
  std::vector<LintFinding> load_errors = lint_load_errors(load.diagnostics, findings);
  findings.insert(findings.end(), std::make_move_iterator(load_errors.begin()),
                  std::make_move_iterator(load_errors.end()));
  std::stable_sort(findings.begin(), findings.end(), [](const LintFinding& a, const LintFinding& b) {
    return std::tie(a.file, a.line, a.column, a.check) < std::tie(b.file, b.line, b.column, b.check);
  });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::map<std::string, std::size_t> counts = lint_counts(findings, config);
  std::string text;
  if (options.format == "json") {
    nlohmann::json summary = load.summary();
    summary["lint_seconds"] = seconds;
    text = lint_report_json(findings, summary).dump(2) + "\n";
  } else if (options.format == "sarif") {
    text = lint_report_sarif(findings, options.tool_version).dump(2) + "\n";
  } else {
    text = lint_report_text(findings);
    std::size_t by_sev[3] = {0, 0, 0};
    for (const auto& f : findings) ++by_sev[static_cast<int>(f.severity)];
    text += fmt::format("{} ({}, {}, {} info) in {}", plural(findings.size(), "finding", "findings"),
                        plural(by_sev[2], "error", "errors"), plural(by_sev[1], "warning", "warnings"), by_sev[0],
                        plural(load.rules.size() + uncompiled.size(), "rule", "rules"));
    if (load.documents_failed > 0)
      text += fmt::format("; {} to load",
                          plural(load.documents_failed, "rule document failed", "rule documents failed"));
    text += "\n";
    for (const auto& [id, n] : counts)
      if (n > 0) text += fmt::format("  {:<30} {}\n", id, n);
  }
  if (options.output.empty()) {
    std::cout << text;
    std::cout.flush();
  } else {
    std::ofstream out(options.output, std::ios::binary);
    out << text;
    out.close();
    if (!out) {
      spdlog::error("cannot write the report to {}", options.output);
      return 2;
    }
  }
  const std::size_t checked = load.rules.size() + uncompiled.size();
  spdlog::info("checked {} in {:.2f} s: {}", plural(checked, "rule", "rules"), seconds,
               plural(findings.size(), "finding", "findings"));

  if (load.documents_failed > 0) return 1;
  if (fail_level)
    for (const auto& f : findings)
      if (f.severity >= *fail_level) return 1;
  return 0;
}

namespace {

// Writes `text` to `path`, or to stdout for an empty path or "-"; false
// (with an error logged) when it cannot.
bool write_layer(const std::string& text, const std::string& path, std::string_view what) {
  if (path.empty() || path == "-") {
    std::cout << text;
    std::cout.flush();
    if (!std::cout) spdlog::error("cannot write the {} to stdout", what);
    return static_cast<bool>(std::cout);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out << text;
  if (!out) {
    spdlog::error("cannot write the {} to {}: check that the folder exists and is writable", what, path);
    return false;
  }
  spdlog::info("wrote the {} to {}", what, path);
  return true;
}

}  // namespace

int run_layer(const LayerCommandOptions& options) {
  if (options.baseline.empty() && (options.fail_on_gaps || !options.gaps_output.empty())) {
    spdlog::error("--fail-on-gaps and --gaps-output need --baseline FILE, the techniques to check");
    return 2;
  }
  std::vector<std::string> baseline;
  if (!options.baseline.empty()) {
    std::string error;
    if (!read_baseline(options.baseline, baseline, error)) {
      spdlog::error("{}", error);
      return 2;
    }
  }
  CorpusLoad load;
  if (!load_and_report(options.paths, options.threads, options.max_warnings, load)) return 2;
  Catalog catalog = build_catalog(std::move(load.rules), load.diagnostics, options.threads);
  LayerOptions layer_options;
  layer_options.score = options.score;
  layer_options.base_url = options.base_url;
  if (!write_layer(navigator_layer(catalog, layer_options).dump(1) + "\n", options.output, "ATT&CK Navigator layer"))
    return 2;
  if (options.baseline.empty()) return 0;

  const std::vector<CoverageGap> coverage = baseline_coverage(catalog, baseline);
  const auto gaps = static_cast<std::size_t>(
      std::count_if(coverage.begin(), coverage.end(), [](const CoverageGap& c) { return c.rules == 0; }));
  spdlog::info("baseline {}: {} covered by at least one rule, {} without a rule", options.baseline,
               plural(coverage.size() - gaps, "technique", "techniques"), gaps);
  for (const CoverageGap& c : coverage)
    if (c.rules == 0)
      spdlog::info("  no rule: {} {}", c.id, c.name.empty() ? "(not in the bundled ATT&CK data)" : c.name);
  if (!options.gaps_output.empty() &&
      !write_layer(gaps_layer(coverage, options.baseline).dump(1) + "\n", options.gaps_output, "coverage gap layer"))
    return 2;
  return options.fail_on_gaps && gaps > 0 ? 1 : 0;
}

}  // namespace sigscope
