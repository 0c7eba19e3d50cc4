#include "sigscope/app/overlap_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sigscope/analysis/overlap.h"
#include "sigscope/app/rule_corpus.h"
#include "sigscope/common/text.h"

namespace sigscope {

int run_overlap(const OverlapCommandOptions& options) {
  CorpusLoad load;
  load_corpus(options.paths, options.threads, load);
  report_corpus(load, options.max_warnings);
  if (load.files == 0) {
    spdlog::error("no .yml or .yaml rule files found under {}; give a rule file or a folder that contains some",
                  fmt::join(options.paths, ", "));
    return 2;
  }

  OverlapOptions overlap_options;
  overlap_options.max_conjuncts = options.max_conjuncts;
  OverlapReport report = find_overlaps(load.rules, overlap_options);

  std::string body = options.format == "json" ? overlap_json(report, load.rules).dump(2) + "\n"
                                              : overlap_text(report, load.rules);
  if (!write_report(options.output, body)) return 2;

  std::vector<std::string> skipped;
  for (const auto& [reason, n] : report.skipped) skipped.push_back(fmt::format("{} {}", n, reason));
  spdlog::info("overlap: {} analysed, {} skipped{}", plural(report.rules_analysed, "rule", "rules"),
               report.rules_total - report.rules_analysed,
               skipped.empty() ? std::string() : fmt::format(" ({})", fmt::join(skipped, ", ")));
  spdlog::info("overlap: {}, {} ({}, {}, {} past the field filter) in {:.2f} s",
               plural(report.count(OverlapKind::Equivalent), "equivalent pair", "equivalent pairs"),
               plural(report.count(OverlapKind::Subsumed), "subsumed pair", "subsumed pairs"),
               plural(report.logsource_groups, "logsource group", "logsource groups"),
               plural(report.checked_pairs, "ordered pair", "ordered pairs"), report.candidate_pairs, report.seconds);
  return 0;
}

}  // namespace sigscope
