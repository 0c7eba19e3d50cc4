#include "sigscope/app/rule_corpus.h"

#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/correlate/correlation.h"
#include "sigscope/rules/loader.h"

namespace sigscope {

nlohmann::json CorpusLoad::summary() const {
  std::size_t detection = 0, correlation = 0, filter = 0;
  for (const auto& r : rules) {
    switch (r.rule.kind) {
      case RuleKind::Detection: ++detection; break;
      case RuleKind::Correlation: ++correlation; break;
      case RuleKind::Filter: ++filter; break;
    }
  }
  return {{"files", files},
          {"rules_loaded", rules.size()},
          {"detection_rules", detection},
          {"correlation_rules", correlation},
          {"filter_rules", filter},
          {"rules_failed", documents_failed},
          {"errors", diagnostics.error_count()},
          {"warnings", diagnostics.warning_count()}};
}

void load_corpus(const std::vector<std::string>& paths, unsigned threads, CorpusLoad& out,
                 std::vector<Rule>* uncompiled) {
  auto start = std::chrono::steady_clock::now();
  LoadResult loaded = load_rules(paths, out.diagnostics, threads);
  std::vector<Rule> originals;
  if (uncompiled) originals = loaded.rules;
  CompileResult compiled = compile_rules(std::move(loaded.rules), out.diagnostics, threads);
  if (uncompiled && compiled.failed > 0) {
    // compile_rules keeps order, so the rules missing from its output failed.
    std::size_t next = 0;
    for (auto& r : originals) {
      if (next < compiled.rules.size() && compiled.rules[next].rule.path == r.path &&
          compiled.rules[next].rule.document_index == r.document_index) {
        ++next;
        continue;
      }
      uncompiled->push_back(std::move(r));
    }
  }
  out.files = loaded.files;
  out.rules = std::move(compiled.rules);
  out.documents_failed = loaded.documents_failed + compiled.failed;
  // Detections and filters name rules by id, so two rules with one id are ambiguous.
  std::map<std::string, const Rule*> first_with_id;
  for (const auto& r : out.rules) {
    if (r.rule.id.empty()) continue;
    auto [it, added] = first_with_id.emplace(r.rule.id, &r.rule);
    if (!added)
      out.diagnostics.check_warning("duplicate-id", r.rule.path, r.rule.line, 0, r.rule.id,
                              fmt::format("rule id {} is also used by {}:{}", r.rule.id, it->second->path, it->second->line),
                              "give each rule its own UUID");
  }
  out.diagnostics.sort();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void warn_unrunnable_correlations(CorpusLoad& load) {
  for (const auto& u : find_unrunnable_correlations(load.rules))
    load.diagnostics.check_warning("correlation-reference", u.rule->rule.path, u.rule->rule.line, 0, u.rule->rule.id,
                                   fmt::format("hunt cannot run this correlation: {}", u.reason),
                                   "fix the reference or the condition as the message says");
  load.diagnostics.sort();
}

void report_corpus(const CorpusLoad& load, std::size_t max_warnings, bool skip_reported) {
  auto diag_logger = spdlog::get("diagnostics");
  std::size_t warnings_shown = 0, warnings_hidden = 0;
  for (const auto& d : load.diagnostics.items()) {
    if (skip_reported && (d.severity == Severity::Error || !d.check.empty())) continue;
    if (d.severity == Severity::Warning) {
      if (warnings_shown >= max_warnings) {
        ++warnings_hidden;
        continue;
      }
      ++warnings_shown;
    }
    if (diag_logger) diag_logger->log(d.severity == Severity::Error ? spdlog::level::err : spdlog::level::warn, d.format());
    else fmt::print(stderr, "{}\n", d.format());
  }
  if (warnings_hidden > 0)
    spdlog::info("{} {} not shown (raise --max-warnings, or see each rule's catalog page)",
                 plural(warnings_hidden, warnings_shown > 0 ? "more warning" : "warning",
                        warnings_shown > 0 ? "more warnings" : "warnings"),
                 warnings_hidden == 1 ? "is" : "are");
  spdlog::info("loaded {} from {} in {:.2f} s: {} failed, {}, {}", plural(load.rules.size(), "rule", "rules"),
               plural(load.files, "file", "files"), load.seconds,
               plural(load.documents_failed, "rule document", "rule documents"),
               plural(load.diagnostics.error_count(), "error", "errors"),
               plural(load.diagnostics.warning_count(), "warning", "warnings"));
}

bool write_report(const std::string& path, const std::string& body) {
  if (path.empty()) {
    std::cout << body;
    std::cout.flush();
    return true;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << body;
  if (!out) {
    spdlog::error("cannot write {}; check that the folder exists and is writable", path);
    return false;
  }
  return true;
}

}  // namespace sigscope
