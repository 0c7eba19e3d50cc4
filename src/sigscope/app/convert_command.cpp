#include "sigscope/app/convert_command.h"

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "sigscope/app/rule_corpus.h"
#include "sigscope/common/text.h"
#include "sigscope/convert/clickhouse.h"
#include "sigscope/pipeline/pipeline.h"

namespace sigscope {

namespace {

// An SQL comment line: line breaks in titles would end it early.
std::string comment_text(std::string_view text) {
  std::string out;
  for (char c : text) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return out;
}

}  // namespace

int run_convert(const ConvertOptions& options) {
  CorpusLoad load;
  load_corpus(options.paths, options.threads, load);
  report_corpus(load, options.max_warnings);
  if (load.files == 0) {
    spdlog::error("no .yml or .yaml rule files found under {}; give a rule file or a folder that contains some",
                  fmt::join(options.paths, ", "));
    return 2;
  }
  std::size_t excluded_status = 0;
  std::erase_if(load.rules, [&](const CompiledRule& r) {
    if (options.all_statuses || !has_inactive_status(r.rule)) return false;
    ++excluded_status;
    return true;
  });
  if (excluded_status > 0)
    spdlog::info("{} not converted because their status is deprecated or unsupported (--all-statuses converts them)",
                 plural(excluded_status, "rule is", "rules are"));
  if (!options.pipelines.empty()) {
    DiagnosticList diagnostics;
    auto pipelines = load_pipelines(options.pipelines, diagnostics);
    if (pipelines) apply_pipelines(*pipelines, load.rules, diagnostics);
    diagnostics.sort();
    for (const auto& d : diagnostics.items())
      spdlog::log(d.severity == Severity::Error ? spdlog::level::err : spdlog::level::warn, d.format());
    if (!pipelines) {
      spdlog::error("cannot load the processing pipelines {} (see above); give a shipped pipeline name or the path "
                    "of a pipeline YAML file",
                    fmt::join(options.pipelines, ", "));
      return 2;
    }
  }

  ClickHouseOptions clickhouse;
  clickhouse.table = options.table;
  clickhouse.keyword_column = options.keyword_column;
  clickhouse.routing = !options.no_routing;
  std::string body;
  std::size_t converted = 0;
  std::map<std::string, std::size_t> reasons;  // reason kind -> rules
  std::size_t skipped_shown = 0;
  // Filter rules are not queries of their own: each is ANDed into the rules
  // it names, as hunt applies it.
  std::vector<const CompiledRule*> filters;
  for (const CompiledRule& r : load.rules)
    if (r.rule.kind == RuleKind::Filter) filters.push_back(&r);
  std::vector<std::size_t> filter_uses(filters.size(), 0);
  std::size_t filtered_rules = 0;
  std::vector<const CompiledRule*> applied;
  for (const CompiledRule& r : load.rules) {
    if (r.rule.kind == RuleKind::Filter) continue;
    applied.clear();
    for (std::size_t f = 0; f < filters.size(); ++f) {
      if (!filter_names(filters[f]->rule, r.rule)) continue;
      if (!filter_covers(filters[f]->rule.logsource, r.rule.logsource)) {
        spdlog::warn("{}: filter {} names rule {} ({}), but its logsource ({}) does not cover that rule's ({}), so "
                     "it is not applied to it, as in hunt",
                     filters[f]->rule.path, filters[f]->rule.id, r.rule.id, r.rule.title,
                     filters[f]->rule.logsource.label(), r.rule.logsource.label());
        continue;
      }
      applied.push_back(filters[f]);
      ++filter_uses[f];
    }
    filtered_rules += applied.empty() ? 0 : 1;
    ClickHouseQuery query = to_clickhouse(r, clickhouse, applied);
    if (!query.reason.empty()) {
      if (skipped_shown++ < options.max_warnings)
        spdlog::warn("{}: rule {} ({}) not converted: {}", r.rule.path, r.rule.id, r.rule.title, query.reason);
      ++reasons[query.reason.substr(0, query.reason.find_first_of("'%"))];
      continue;
    }
    ++converted;
    body += fmt::format("-- {} ({})\n-- {}\n{};\n\n", comment_text(r.rule.title), comment_text(r.rule.id),
                        comment_text(r.rule.path), query.sql);
  }
  if (!write_report(options.output, body)) return 2;
  for (std::size_t f = 0; f < filters.size(); ++f)
    if (filter_uses[f] == 0)
      spdlog::warn("{}: filter {} ({}) names no loaded rule ({}), so no query applies it", filters[f]->rule.path,
                   filters[f]->rule.id, filters[f]->rule.title, fmt::join(filters[f]->rule.filter.rules, ", "));
  const std::size_t skipped = load.rules.size() - filters.size() - converted;
  if (skipped_shown > options.max_warnings)
    spdlog::info("{} not converted {} not named (raise --max-warnings to see them)",
                 plural(skipped_shown - options.max_warnings, "more rule", "more rules"),
                 skipped_shown - options.max_warnings == 1 ? "is" : "are");
  spdlog::info("converted {} to ClickHouse SQL; {} not converted", plural(converted, "rule", "rules"),
               plural(skipped, "rule", "rules"));
  if (!filters.empty())
    spdlog::info("applied {} to {} (each query of such a rule includes its filters' conditions)",
                 plural(filters.size(), "filter rule", "filter rules"), plural(filtered_rules, "rule", "rules"));
  for (const auto& [reason, count] : reasons)
    spdlog::info("  {}: {}", plural(count, "rule", "rules"), reason);
  if (converted == 0) {
    spdlog::error("no rule was converted (see the reasons above)");
    return 2;
  }
  return load.documents_failed > 0 || skipped > 0 ? 3 : 0;
}

}  // namespace sigscope
