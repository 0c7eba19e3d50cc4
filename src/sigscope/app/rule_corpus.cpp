#include "sigscope/app/rule_corpus.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sigscope/compile/compiler.h"
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

void load_corpus(const std::vector<std::string>& paths, unsigned threads, CorpusLoad& out) {
  auto start = std::chrono::steady_clock::now();
  LoadResult loaded = load_rules(paths, out.diagnostics, threads);
  CompileResult compiled = compile_rules(std::move(loaded.rules), out.diagnostics, threads);
  out.files = loaded.files;
  out.rules = std::move(compiled.rules);
  out.documents_failed = loaded.documents_failed + compiled.failed;
  out.diagnostics.sort();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report_corpus(const CorpusLoad& load, std::size_t max_warnings) {
  auto diag_logger = spdlog::get("diagnostics");
  std::size_t warnings_shown = 0, warnings_hidden = 0;
  for (const auto& d : load.diagnostics.items()) {
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
    spdlog::info("{} more warnings not shown (raise --max-warnings, or see each rule's catalog page)",
                 warnings_hidden);
  spdlog::info("loaded {} rules from {} files in {:.2f} s: {} rule documents failed, {} errors, {} warnings",
               load.rules.size(), load.files, load.seconds, load.documents_failed,
               load.diagnostics.error_count(), load.diagnostics.warning_count());
}

}  // namespace sigscope
