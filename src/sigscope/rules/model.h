// The Sigma rule model: one struct per document kind of the Sigma 2.1
// specification (detection rule, correlation rule, filter), with the metadata
// as written. Detection logic stays as YAML here; compile/ turns it into
// predicates.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sigscope/rules/yaml.h"

namespace sigscope {

enum class RuleKind { Detection, Correlation, Filter };

struct Logsource {
  std::string category;
  std::string product;
  std::string service;
  std::string definition;
  std::vector<YamlEntry> custom;  // keys beyond the four standard ones

  bool empty() const { return category.empty() && product.empty() && service.empty(); }
  // "product/category/service" with empty parts left out, e.g. "windows/process_creation".
  std::string label() const;
};

struct RelatedRule {
  std::string id;
  std::string type;  // derived, obsolete, merged, renamed, similar
};

// Correlation rules (Sigma correlation specification 2.1).
enum class CorrelationType {
  EventCount,
  ValueCount,
  Temporal,
  TemporalOrdered,
  ValueSum,
  ValueAvg,
  ValuePercentile,
  ValueMedian,
  ValueMin,
  ValueMax,
};

struct CorrelationCondition {
  // Comparison operators that apply to the aggregated value; unset ones are absent.
  std::optional<double> gt, gte, lt, lte, eq, neq;
  std::string field;          // value_count / value_sum / ... aggregate this field
  std::optional<double> percentile;  // value_percentile only
};

struct Correlation {
  CorrelationType type = CorrelationType::EventCount;
  std::vector<std::string> rules;              // referenced rule ids or names
  std::vector<std::string> group_by;
  // group_by as written in the rule, before a pipeline renamed it: a parent
  // correlation names its child's group-by fields this way.
  std::vector<std::string> written_group_by;
  std::uint64_t timespan_seconds = 0;
  std::string timespan_text;                   // as written, e.g. "5m"
  CorrelationCondition condition;
  std::map<std::string, std::map<std::string, std::string>> aliases;  // alias -> rule -> field
  bool generate = false;
};

// Filter documents (Sigma filters specification): a selection applied to the
// named rules.
struct Filter {
  std::vector<std::string> rules;  // rule ids or names the filter applies to
  YamlNode detection;              // selections plus condition
};

struct Rule {
  RuleKind kind = RuleKind::Detection;

  // Source location.
  std::string path;
  std::string relative_path;  // path relative to the rule folder it was loaded from
  int document_index = 0;   // 0-based index of the document in its file
  int line = 1;             // first line of the document
  std::string source_text;  // the document as written

  // Metadata (Sigma rules specification 2.1).
  std::string title;
  std::string id;
  std::string name;
  std::vector<RelatedRule> related;
  std::string status;
  std::string description;
  std::string license;
  std::string author;
  std::vector<std::string> references;
  std::string date;
  std::string modified;
  Logsource logsource;
  std::vector<std::string> fields;
  std::vector<std::string> falsepositives;
  std::string level;
  std::vector<std::string> tags;
  std::vector<std::string> scope;
  std::string taxonomy;
  std::vector<YamlEntry> custom;  // unknown top-level keys, kept as written

  // Detection rules only: the `detection` mapping as written.
  YamlNode detection;
  // Correlation or filter rules only.
  Correlation correlation;
  Filter filter;
};

std::string_view rule_kind_name(RuleKind kind);
std::string_view correlation_type_name(CorrelationType type);

// True when `ref` is the rule's id or its name, the two ways correlation and
// filter documents reference a rule.
bool is_referenced_by(const Rule& rule, std::string_view ref);

// True when filter rule `filter` names `rule` (by id or name) under filter.rules.
bool filter_names(const Rule& filter, const Rule& rule);
// True when every logsource field that the filter sets has the same value in
// the rule's logsource, compared without case. pySigma's SigmaFilter applies
// a filter by the same test, and a filter without a logsource covers every rule.
bool filter_covers(const Logsource& filter, const Logsource& rule);

// True when the rule's status is deprecated or unsupported. `sigscope hunt`
// does not run such rules unless --all-statuses is given.
bool has_inactive_status(const Rule& rule);

}  // namespace sigscope
