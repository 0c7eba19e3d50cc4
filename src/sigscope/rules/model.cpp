#include "sigscope/rules/model.h"

#include "sigscope/common/text.h"

namespace sigscope {

std::string Logsource::label() const {
  std::string out;
  for (const std::string* part : {&product, &category, &service}) {
    if (part->empty()) continue;
    if (!out.empty()) out += '/';
    out += *part;
  }
  return out;
}

std::string_view rule_kind_name(RuleKind kind) {
  switch (kind) {
    case RuleKind::Detection: return "detection";
    case RuleKind::Correlation: return "correlation";
    case RuleKind::Filter: return "filter";
  }
  return "detection";
}

std::string_view correlation_type_name(CorrelationType type) {
  switch (type) {
    case CorrelationType::EventCount: return "event_count";
    case CorrelationType::ValueCount: return "value_count";
    case CorrelationType::Temporal: return "temporal";
    case CorrelationType::TemporalOrdered: return "temporal_ordered";
    case CorrelationType::ValueSum: return "value_sum";
    case CorrelationType::ValueAvg: return "value_avg";
    case CorrelationType::ValuePercentile: return "value_percentile";
    case CorrelationType::ValueMedian: return "value_median";
    case CorrelationType::ValueMin: return "value_min";
    case CorrelationType::ValueMax: return "value_max";
  }
  return "event_count";
}

bool is_referenced_by(const Rule& rule, std::string_view ref) {
  return (!rule.id.empty() && rule.id == ref) || (!rule.name.empty() && rule.name == ref);
}

bool filter_names(const Rule& filter, const Rule& rule) {
  for (const auto& ref : filter.filter.rules)
    if (is_referenced_by(rule, ref)) return true;
  return false;
}

bool filter_covers(const Logsource& filter, const Logsource& rule) {
  auto same = [](const std::string& f, const std::string& r) { return f.empty() || fold_case(f) == fold_case(r); };
  return same(filter.category, rule.category) && same(filter.product, rule.product) &&
         same(filter.service, rule.service);
}

bool has_inactive_status(const Rule& rule) { return rule.status == "deprecated" || rule.status == "unsupported"; }

}  // namespace sigscope
