#include "sigscope/common/parallel.h"
#include "sigscope/rules/loader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {
namespace fs = std::filesystem;

std::vector<RuleFile> find_rule_files_unsorted(const std::vector<std::string>& paths, DiagnosticList& diagnostics);

namespace {

const std::set<std::string_view> kStandardKeys = {
    "title",    "id",          "name",      "related",  "status", "description",
    "license",  "author",      "references", "date",    "modified", "logsource",
    "detection", "fields",     "falsepositives", "level", "tags",  "scope",
    "taxonomy", "correlation", "filter"};

const std::set<std::string_view> kStatuses = {"stable", "test", "experimental", "deprecated",
                                              "unsupported"};
const std::set<std::string_view> kLevels = {"informational", "low", "medium", "high", "critical"};
const std::set<std::string_view> kRelatedTypes = {"derived", "obsolete", "merged", "renamed",
                                                  "similar"};

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// Returns what is wrong with the date `s`, or an empty string. A valid date is
// YYYY-MM-DD (Sigma 2.x) or YYYY/MM/DD (Sigma 1.x) and names a day that exists.
std::string date_problem(std::string_view s) {
  const std::string not_iso = "is not YYYY-MM-DD";
  if (s.size() != 10 || (s[4] != '-' && s[4] != '/') || s[7] != s[4]) return not_iso;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (s[i] < '0' || s[i] > '9') return not_iso;
  auto number = [&](std::size_t at, std::size_t length) {
    int n = 0;
    for (std::size_t i = at; i < at + length; ++i) n = n * 10 + (s[i] - '0');
    return n;
  };
  const int year = number(0, 4), month = number(5, 2), day = number(8, 2);
  if (month < 1 || month > 12) return fmt::format("is not a calendar date, because there is no month {:02}", month);
  if (day < 1) return "is not a calendar date, because there is no day 00";
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) {
    const auto last = std::chrono::year_month_day_last(date.year(), std::chrono::month_day_last(date.month()));
    return fmt::format("is not a calendar date, because {:04}-{:02} has {} days", year, month,
                       static_cast<unsigned>(last.day()));
  }
  return {};
}

// Per-document context for diagnostics.
struct DocContext {
  const std::string& path;
  DiagnosticList& diagnostics;
  std::string rule_id;
  bool failed = false;

  void error(const YamlNode* node, int fallback_line, std::string message, std::string hint) {
    failed = true;
    diagnostics.error(path, node && node->line ? node->line : fallback_line,
                      node && node->line ? node->column : 0, rule_id, std::move(message),
                      std::move(hint));
  }
  // `check` is the lint check that reports the warning in `sigscope check`.
  void warning(std::string check, const YamlNode* node, int fallback_line, std::string message, std::string hint) {
    diagnostics.check_warning(std::move(check), path, node && node->line ? node->line : fallback_line,
                              node && node->line ? node->column : 0, rule_id, std::move(message),
                              std::move(hint));
  }
};

std::string scalar_text(const YamlNode& node) {
  if (node.kind == YamlNode::Kind::Scalar) return node.text;
  return yaml_to_flow(node);
}

// Reads an optional string attribute; non-scalars are reported.
std::string read_string(const YamlNode& root, std::string_view key, DocContext& ctx, int line) {
  const YamlNode* node = root.find(key);
  if (!node || node->is_null()) return {};
  if (!node->is_scalar()) {
    ctx.warning("attribute-type", node, line, fmt::format("'{}' should be a string, found {}", key, yaml_to_flow(*node)),
                "write it as a single string");
    return yaml_to_flow(*node);
  }
  return node->text;
}

// Reads an optional list of strings; a single string is accepted as a list of one.
std::vector<std::string> read_string_list(const YamlNode& root, std::string_view key,
                                          DocContext& ctx, int line) {
  std::vector<std::string> out;
  const YamlNode* node = root.find(key);
  if (!node || node->is_null()) return out;
  if (node->is_scalar()) {
    ctx.warning("attribute-type", node, line, fmt::format("'{}' should be a list, found a single value", key),
                fmt::format("write '{}' as a YAML list", key));
    out.push_back(node->text);
    return out;
  }
  if (!node->is_sequence()) {
    ctx.warning("attribute-type", node, line, fmt::format("'{}' should be a list of strings", key),
                fmt::format("write '{}' as a YAML list", key));
    out.push_back(yaml_to_flow(*node));
    return out;
  }
  for (const auto& item : node->items) {
    if (item.is_null()) continue;
    out.push_back(scalar_text(item));
  }
  return out;
}

void read_logsource(const YamlNode& root, Rule& rule, DocContext& ctx, bool required) {
  const YamlNode* node = root.find("logsource");
  if (!node || node->is_null()) {
    if (required)
      ctx.error(nullptr, rule.line, "missing 'logsource'",
                "add a logsource with at least one of category, product or service");
    return;
  }
  if (!node->is_mapping()) {
    ctx.error(node, rule.line, "'logsource' must be a mapping",
              "write logsource as category/product/service keys");
    return;
  }
  for (const auto& e : node->entries) {
    std::string value = e.value.is_null() ? std::string() : scalar_text(e.value);
    if (e.key == "category") rule.logsource.category = value;
    else if (e.key == "product") rule.logsource.product = value;
    else if (e.key == "service") rule.logsource.service = value;
    else if (e.key == "definition") rule.logsource.definition = value;
    else rule.logsource.custom.push_back(e);
  }
  if (rule.logsource.empty() && required) {
    // A misspelled key (categroy, prodcut) is the likely cause: name the first one.
    static const std::vector<std::string> kKeys = {"category", "product", "service"};
    for (const auto& e : rule.logsource.custom) {
      const std::string suggestion = closest_name(e.key, kKeys);
      if (suggestion.empty()) continue;
      ctx.failed = true;
      ctx.diagnostics.error(ctx.path, e.line, e.column, ctx.rule_id,
                            fmt::format("'logsource' has none of category, product or service; its key '{}' looks "
                                        "like a misspelling of '{}'",
                                        e.key, suggestion),
                            fmt::format("rename '{}' to '{}'", e.key, suggestion));
      return;
    }
    ctx.error(node, rule.line, "'logsource' has none of category, product or service",
              "set at least one of category, product or service");
  }
}

void read_related(const YamlNode& root, Rule& rule, DocContext& ctx) {
  const YamlNode* node = root.find("related");
  if (!node || node->is_null()) return;
  if (!node->is_sequence()) {
    ctx.warning("related-entry", node, rule.line, "'related' should be a list of {id, type} entries",
                "write related as a YAML list");
    return;
  }
  for (const auto& item : node->items) {
    RelatedRule related;
    if (const YamlNode* id = item.find("id")) related.id = scalar_text(*id);
    if (const YamlNode* type = item.find("type")) related.type = scalar_text(*type);
    if (related.id.empty())
      ctx.warning("related-entry", &item, rule.line, "a 'related' entry has no id", "add the related rule's id");
    if (!related.type.empty() && !kRelatedTypes.count(related.type))
      ctx.warning("related-entry", &item, rule.line,
                  fmt::format("unknown related type '{}'", related.type),
                  "use one of derived, obsolete, merged, renamed, similar");
    rule.related.push_back(std::move(related));
  }
}

// Parses a Sigma timespan such as "30s", "5m", "1h", "7d", "1w" into seconds.
std::optional<std::uint64_t> parse_timespan(std::string_view text) {
  text = trim(text);
  if (text.size() < 2) return std::nullopt;
  char unit = text.back();
  std::string_view digits = text.substr(0, text.size() - 1);
  // Spans over 1000 years are rejected: they are typing errors, and longer
  // ones would overflow the engine's microsecond times.
  constexpr std::uint64_t kMaxSeconds = 1000ULL * 365 * 86400;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > kMaxSeconds) return std::nullopt;
  }
  std::uint64_t unit_seconds = 0;
  switch (unit) {
    case 's': unit_seconds = 1; break;
    case 'm': unit_seconds = 60; break;
    case 'h': unit_seconds = 3600; break;
    case 'd': unit_seconds = 86400; break;
    case 'w': unit_seconds = 7 * 86400; break;
    case 'M': unit_seconds = 30 * 86400; break;
    case 'y': unit_seconds = 365 * 86400; break;
    default: return std::nullopt;
  }
  if (n > kMaxSeconds / unit_seconds) return std::nullopt;
  return n * unit_seconds;
}

void read_correlation(const YamlNode& node, Rule& rule, DocContext& ctx) {
  if (!node.is_mapping()) {
    ctx.error(&node, rule.line, "'correlation' must be a mapping",
              "give type, rules, timespan and condition under correlation");
    return;
  }
  Correlation& c = rule.correlation;
  static const std::map<std::string_view, CorrelationType> kTypes = {
      {"event_count", CorrelationType::EventCount},
      {"value_count", CorrelationType::ValueCount},
      {"temporal", CorrelationType::Temporal},
      {"temporal_ordered", CorrelationType::TemporalOrdered},
      {"value_sum", CorrelationType::ValueSum},
      {"value_avg", CorrelationType::ValueAvg},
      {"value_percentile", CorrelationType::ValuePercentile},
      {"value_median", CorrelationType::ValueMedian},
      {"value_min", CorrelationType::ValueMin},
      {"value_max", CorrelationType::ValueMax}};

  const YamlNode* type = node.find("type");
  if (!type || !type->is_scalar()) {
    ctx.error(&node, rule.line, "correlation has no 'type'",
              "set type to event_count, value_count, temporal, temporal_ordered, value_sum, "
              "value_avg, value_percentile, value_median, value_min or value_max");
  } else if (auto it = kTypes.find(type->text); it == kTypes.end()) {
    ctx.error(type, rule.line, fmt::format("unknown correlation type '{}'", type->text),
              "use event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, "
              "value_percentile, value_median, value_min or value_max");
  } else {
    c.type = it->second;
  }

  c.rules = read_string_list(node, "rules", ctx, rule.line);
  if (c.rules.empty())
    ctx.error(&node, rule.line, "correlation has no 'rules'",
              "list the ids or names of the rules this correlation combines");
  c.group_by = read_string_list(node, "group-by", ctx, rule.line);
  c.written_group_by = c.group_by;

  const YamlNode* timespan = node.find("timespan");
  if (!timespan || !timespan->is_scalar()) {
    ctx.error(&node, rule.line, "correlation has no 'timespan'",
              "set a timespan such as 5m, 1h or 1d");
  } else if (auto seconds = parse_timespan(timespan->text); !seconds) {
    ctx.error(timespan, rule.line, fmt::format("invalid timespan '{}'", timespan->text),
              "write a number followed by s, m, h, d, w, M or y, e.g. 15m, of at most 1000 years");
  } else {
    c.timespan_seconds = *seconds;
    c.timespan_text = timespan->text;
  }

  const bool temporal =
      c.type == CorrelationType::Temporal || c.type == CorrelationType::TemporalOrdered;
  const YamlNode* condition = node.find("condition");
  if (!condition || condition->is_null()) {
    if (!temporal)
      ctx.error(&node, rule.line, "correlation has no 'condition'",
                "add a condition such as {gte: 10}");
  } else if (!condition->is_mapping()) {
    ctx.error(condition, rule.line, "correlation 'condition' must be a mapping",
              "write it as e.g. {gte: 10} or {field: User, gt: 3}");
  } else {
    for (const auto& e : condition->entries) {
      if (e.key == "field") {
        c.condition.field = scalar_text(e.value);
        continue;
      }
      if (e.key == "percentile") {
        if (!e.value.is_number()) {
          ctx.error(&e.value, rule.line,
                    fmt::format("correlation percentile needs a number, found '{}'", scalar_text(e.value)),
                    "write a number from 0 to 100");
          continue;
        }
        c.condition.percentile = std::strtod(e.value.text.c_str(), nullptr);
        continue;
      }
      std::optional<double>* slot = nullptr;
      if (e.key == "gt") slot = &c.condition.gt;
      else if (e.key == "gte") slot = &c.condition.gte;
      else if (e.key == "lt") slot = &c.condition.lt;
      else if (e.key == "lte") slot = &c.condition.lte;
      else if (e.key == "eq") slot = &c.condition.eq;
      else if (e.key == "neq") slot = &c.condition.neq;
      if (!slot) {
        ctx.error(&e.value, rule.line, fmt::format("unknown correlation condition key '{}'", e.key),
                  "use gt, gte, lt, lte, eq, neq, field or percentile");
        continue;
      }
      if (!e.value.is_number()) {
        ctx.error(&e.value, rule.line,
                  fmt::format("correlation condition '{}' needs a number, found '{}'", e.key,
                              scalar_text(e.value)),
                  "write a number");
        continue;
      }
      *slot = std::strtod(e.value.text.c_str(), nullptr);
    }
    const bool needs_field = c.type == CorrelationType::ValueCount ||
                             c.type == CorrelationType::ValueSum ||
                             c.type == CorrelationType::ValueAvg ||
                             c.type == CorrelationType::ValuePercentile ||
                             c.type == CorrelationType::ValueMedian ||
                             c.type == CorrelationType::ValueMin || c.type == CorrelationType::ValueMax;
    if (needs_field && c.condition.field.empty())
      ctx.error(condition, rule.line,
                fmt::format("{} correlation needs 'field' in its condition",
                            correlation_type_name(c.type)),
                "name the field whose values are aggregated");
  }

  if (const YamlNode* aliases = node.find("aliases"); aliases && aliases->is_mapping()) {
    for (const auto& alias : aliases->entries) {
      if (!alias.value.is_mapping()) {
        ctx.error(&alias.value, rule.line,
                  fmt::format("alias '{}' must map rule names to field names", alias.key),
                  "write each alias as {rule_name: field_name}");
        continue;
      }
      for (const auto& m : alias.value.entries) c.aliases[alias.key][m.key] = scalar_text(m.value);
    }
  }
  if (const YamlNode* generate = node.find("generate")) {
    if (!generate->is_bool())
      ctx.error(generate, rule.line, fmt::format("correlation 'generate' must be true or false, found '{}'",
                                                 scalar_text(*generate)),
                "write generate: true or generate: false");
    c.generate = generate->is_bool() && generate->as_bool();
  }
}

void read_filter(const YamlNode& node, Rule& rule, DocContext& ctx) {
  if (!node.is_mapping()) {
    ctx.error(&node, rule.line, "'filter' must be a mapping",
              "give rules, the filter selections and a condition under filter");
    return;
  }
  rule.filter.rules = read_string_list(node, "rules", ctx, rule.line);
  if (rule.filter.rules.empty())
    ctx.error(&node, rule.line, "filter has no 'rules'",
              "list the ids or names of the rules this filter applies to");
  YamlNode detection;
  detection.kind = YamlNode::Kind::Mapping;
  detection.line = node.line;
  detection.column = node.column;
  for (const auto& e : node.entries)
    if (e.key != "rules") detection.entries.push_back(e);
  if (!detection.find("condition"))
    ctx.error(&node, rule.line, "filter has no 'condition'",
              "add a condition such as 'not selection'");
  rule.filter.detection = std::move(detection);
}

// Builds a Rule from one (collection-merged) document. Returns false when the
// document is invalid; the reasons are in the diagnostics.
bool build_rule(const YamlDocument& doc, YamlNode root, const std::string& path,
                int index, DiagnosticList& diagnostics, Rule& rule) {
  rule.path = path;
  rule.document_index = index;
  rule.line = doc.start_line;
  rule.source_text = doc.text;

  DocContext ctx{path, diagnostics, {}, false};
  if (const YamlNode* id = root.find("id"); id && id->is_scalar()) ctx.rule_id = id->text;
  for (const auto& d : doc.duplicate_keys) {
    YamlNode at;
    at.line = d.line;
    at.column = d.column;
    ctx.error(&at, doc.start_line, fmt::format("duplicate key '{}' in a YAML mapping", d.key),
              "remove or rename one of the keys; YAML loaders disagree on which one wins");
  }
  if (!root.is_mapping()) {
    ctx.error(&root, doc.start_line, "a rule document must be a YAML mapping",
              "start the document with keys such as title, logsource and detection");
    return false;
  }
  if (const YamlNode* id = root.find("id"); id && id->is_scalar()) ctx.rule_id = id->text;

  if (const YamlNode* c = root.find("correlation")) {
    rule.kind = RuleKind::Correlation;
    read_correlation(*c, rule, ctx);
    if (const YamlNode* generate = root.find("generate"))
      ctx.warning("misplaced-generate", generate, rule.line, "'generate' outside the correlation section has no effect",
                  "move it under correlation:, next to type and rules");
  } else if (const YamlNode* f = root.find("filter")) {
    rule.kind = RuleKind::Filter;
    read_filter(*f, rule, ctx);
  } else {
    rule.kind = RuleKind::Detection;
  }

  rule.title = read_string(root, "title", ctx, rule.line);
  if (const YamlNode* title = root.find("title"); rule.title.empty() && title && title->is_null())
    // `title: Null` or `title: ~` is a YAML null, not the word.
    ctx.error(title, rule.line, "'title' is empty or a YAML null (Null, ~ or nothing after the colon)",
              "write the title, in quotes if it is a word that YAML reads as null");
  else if (rule.title.empty())
    ctx.error(nullptr, rule.line, "missing 'title'", "add a short title that says what the rule finds");
  rule.id = read_string(root, "id", ctx, rule.line);
  if (rule.id.empty()) {
    ctx.warning("missing-id", nullptr, rule.line, "missing 'id'",
                "add a UUIDv4 id so other rules, filters and tools can refer to this rule");
  } else if (!is_uuid(rule.id)) {
    ctx.warning("id-format", root.find("id"), rule.line, fmt::format("id '{}' is not a UUID", rule.id),
                "use a random UUIDv4");
  }
  rule.name = read_string(root, "name", ctx, rule.line);
  read_related(root, rule, ctx);
  rule.status = read_string(root, "status", ctx, rule.line);
  if (!rule.status.empty() && !kStatuses.count(rule.status))
    ctx.warning("unknown-status", root.find("status"), rule.line, fmt::format("unknown status '{}'", rule.status),
                "use stable, test, experimental, deprecated or unsupported");
  rule.description = read_string(root, "description", ctx, rule.line);
  rule.license = read_string(root, "license", ctx, rule.line);
  rule.author = read_string(root, "author", ctx, rule.line);
  rule.references = read_string_list(root, "references", ctx, rule.line);
  auto check_date = [&](std::string_view key, const std::string& value) {
    const std::string problem = value.empty() ? std::string() : date_problem(value);
    if (!problem.empty())
      ctx.warning("date-format", root.find(key), rule.line, fmt::format("{} '{}' {}", key, value, problem),
                  "write a date that exists, as YYYY-MM-DD");
  };
  rule.date = read_string(root, "date", ctx, rule.line);
  check_date("date", rule.date);
  rule.modified = read_string(root, "modified", ctx, rule.line);
  check_date("modified", rule.modified);
  rule.fields = read_string_list(root, "fields", ctx, rule.line);
  rule.falsepositives = read_string_list(root, "falsepositives", ctx, rule.line);
  // warn_missing_levels() reports a missing level once the correlations of the corpus are loaded.
  rule.level = read_string(root, "level", ctx, rule.line);
  if (!rule.level.empty() && !kLevels.count(rule.level))
    ctx.warning("unknown-level", root.find("level"), rule.line, fmt::format("unknown level '{}'", rule.level),
                "use informational, low, medium, high or critical");
  rule.tags = read_string_list(root, "tags", ctx, rule.line);
  rule.scope = read_string_list(root, "scope", ctx, rule.line);
  rule.taxonomy = read_string(root, "taxonomy", ctx, rule.line);

  read_logsource(root, rule, ctx, rule.kind == RuleKind::Detection);

  if (rule.kind == RuleKind::Detection) {
    YamlNode* detection = root.find("detection");
    if (!detection || detection->is_null()) {
      ctx.error(nullptr, rule.line, "missing 'detection'",
                "add a detection section with selections and a condition");
    } else if (!detection->is_mapping()) {
      ctx.error(detection, rule.line, "'detection' must be a mapping",
                "write detection as named selections plus a condition");
    } else {
      rule.detection = std::move(*detection);
    }
  }

  for (auto& e : root.entries)
    if (!kStandardKeys.count(e.key)) rule.custom.push_back(std::move(e));

  return !ctx.failed;
}

// Warns about each detection or correlation rule without a level, except
// those a correlation in `rules` references. Such rules often have none on
// purpose, because with generate: false they write no detections of their own.
void warn_missing_levels(const std::vector<Rule>& rules, DiagnosticList& diagnostics) {
  std::set<std::string_view> referenced;
  for (const Rule& rule : rules)
    if (rule.kind == RuleKind::Correlation) referenced.insert(rule.correlation.rules.begin(), rule.correlation.rules.end());
  for (const Rule& rule : rules) {
    if (!rule.level.empty() || rule.kind == RuleKind::Filter) continue;
    const bool by_id = !rule.id.empty() && referenced.count(rule.id);
    const bool by_name = !rule.name.empty() && referenced.count(rule.name);
    if (by_id || by_name) continue;
    diagnostics.check_warning("missing-level", rule.path, rule.line, 0, rule.id, "missing 'level'",
                        "add a level (informational, low, medium, high or critical); --min-level leaves rules without "
                        "one out, except those a correlation uses");
  }
}

// load_rules_from_text() without the level check, which needs every rule of the corpus.
std::vector<Rule> load_documents(std::string_view text, const std::string& path, DiagnosticList& diagnostics,
                                 std::size_t* rejected) {
  std::vector<Rule> rules;
  if (std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
    diagnostics.error(path, line, 0, "", "the file holds NUL bytes, so it is not YAML text",
                      "check that this is a rule file; it may be binary or saved as UTF-16");
    if (rejected) *rejected += 1;
    return rules;
  }
  std::size_t errors_before = diagnostics.error_count();
  std::vector<YamlDocument> docs = parse_yaml_stream(text, path, diagnostics);
  std::size_t failed = diagnostics.error_count() > errors_before ? 1 : 0;
  if (docs.empty() && failed == 0)
    diagnostics.check_warning("empty-file", path, 0, 0, "", "the file holds no YAML document", "add a rule or remove the file");

  // Rule collections: `action: global` sets defaults merged into every later
  // document, `reset` clears them, `repeat` reuses the previous document with
  // the new keys merged over it.
  std::optional<YamlNode> global;
  std::optional<YamlNode> previous;
  // Only a repeat document needs the previous one, so only then is it copied.
  const bool has_repeat = std::any_of(docs.begin(), docs.end(), [](const YamlDocument& d) {
    const YamlNode* action = d.root.find("action");
    return action && action->is_scalar() && action->text == "repeat";
  });
  for (std::size_t i = 0; i < docs.size(); ++i) {
    YamlDocument& doc = docs[i];
    const YamlNode* action = doc.root.find("action");
    if (action && action->is_scalar()) {
      YamlNode body = doc.root;
      body.entries.erase(std::remove_if(body.entries.begin(), body.entries.end(),
                                        [](const YamlEntry& e) { return e.key == "action"; }),
                         body.entries.end());
      if (action->text == "global") {
        if (global) merge_yaml(*global, body);
        else global = std::move(body);
        continue;
      }
      if (action->text == "reset") {
        global.reset();
        continue;
      }
      if (action->text == "repeat") {
        if (!previous) {
          diagnostics.error(path, action->line, action->column, "",
                            "'action: repeat' has no previous rule document to repeat",
                            "put a complete rule document before the repeat document");
          ++failed;
          continue;
        }
        merge_yaml(*previous, body);
        Rule rule;
        if (build_rule(doc, *previous, path, static_cast<int>(i), diagnostics, rule))
          rules.push_back(std::move(rule));
        else
          ++failed;
        continue;
      }
      diagnostics.error(path, action->line, action->column, "",
                        fmt::format("unknown collection action '{}'", action->text),
                        "use global, reset or repeat");
      ++failed;
      continue;
    }
    YamlNode merged;
    if (global) {
      merged = *global;
      merge_yaml(merged, doc.root);
    } else {
      merged = std::move(doc.root);
    }
    if (has_repeat) previous = merged;
    Rule rule;
    if (build_rule(doc, std::move(merged), path, static_cast<int>(i), diagnostics, rule))
      rules.push_back(std::move(rule));
    else
      ++failed;
  }
  if (rejected) *rejected += failed;
  return rules;
}

}  // namespace

std::vector<Rule> load_rules_from_text(std::string_view text, const std::string& path,
                                       DiagnosticList& diagnostics, std::size_t* rejected) {
  std::vector<Rule> rules = load_documents(text, path, diagnostics, rejected);
  warn_missing_levels(rules, diagnostics);
  return rules;
}

std::vector<RuleFile> find_rule_files(const std::vector<std::string>& paths, DiagnosticList& diagnostics) {
  std::vector<RuleFile> found_all = find_rule_files_unsorted(paths, diagnostics);
  // The same file reached twice (a folder and its parent, or -r given twice) is loaded once.
  std::vector<RuleFile> files;
  std::set<std::string> seen;
  for (auto& f : found_all) {
    std::error_code ec;
    std::string key = fs::weakly_canonical(f.path, ec).string();
    if (ec) key = f.path;
    if (seen.insert(key).second) files.push_back(std::move(f));
  }
  return files;
}

std::vector<RuleFile> find_rule_files_unsorted(const std::vector<std::string>& paths, DiagnosticList& diagnostics) {
  std::vector<RuleFile> files;
  for (const auto& p : paths) {
    std::error_code ec;
    fs::file_status status = fs::status(p, ec);
    if (ec || !fs::exists(status)) {
      diagnostics.error(p, 0, 0, "", "rule path not found", "check the path");
      continue;
    }
    if (fs::is_regular_file(status)) {
      files.push_back({p, fs::path(p).filename().string()});
      continue;
    }
    std::vector<RuleFile> found;
    // Canonical paths of the folders walked: a folder that symbolic links
    // reach several times (`a -> .`) is searched once.
    std::set<fs::path> visited;
    // Walked by hand so that a folder that cannot be listed is reported and
    // its siblings are still searched.
    std::function<void(const fs::path&, int)> walk = [&](const fs::path& folder, int depth) {
      std::error_code canonical_ec;
      fs::path real = fs::canonical(folder, canonical_ec);
      if (!canonical_ec && !visited.insert(real).second) return;
      std::error_code list_ec;
      fs::directory_iterator it(folder, list_ec);
      for (; !list_ec && it != fs::directory_iterator(); it.increment(list_ec)) {
        std::error_code status_ec;
        auto entry_status = it->status(status_ec);
        if (status_ec) continue;  // a dangling link
        if (fs::is_directory(entry_status)) {
          if (depth < 64) walk(it->path(), depth + 1);
          continue;
        }
        if (!fs::is_regular_file(entry_status)) continue;
        auto ext = it->path().extension().string();
        if (ext == ".yml" || ext == ".yaml")
          found.push_back({it->path().string(), it->path().lexically_relative(p).string()});
      }
      if (list_ec)
        diagnostics.error(folder.string(), 0, 0, "", fmt::format("cannot list folder: {}", list_ec.message()),
                          "check the folder's permissions; the other folders are still searched");
    };
    walk(p, 0);
    std::sort(found.begin(), found.end(), [](const RuleFile& a, const RuleFile& b) { return a.path < b.path; });
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

LoadResult load_rules(const std::vector<std::string>& paths, DiagnosticList& diagnostics,
                      unsigned threads) {
  LoadResult result;
  std::vector<RuleFile> files = find_rule_files(paths, diagnostics);
  result.files = files.size();

  std::vector<std::vector<Rule>> per_file(files.size());
  std::vector<DiagnosticList> per_file_diagnostics(files.size());
  std::vector<std::size_t> per_file_rejected(files.size(), 0);
  parallel_for(files.size(), threads, [&](std::size_t i) {
    std::ifstream in(files[i].path, std::ios::binary);
    if (!in) {
      per_file_diagnostics[i].error(files[i].path, 0, 0, "", "cannot open rule file",
                                    "check that the file exists and is readable");
      per_file_rejected[i] = 1;
      return;
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    per_file[i] = load_documents(buffer.str(), files[i].path, per_file_diagnostics[i], &per_file_rejected[i]);
    for (auto& rule : per_file[i]) rule.relative_path = files[i].relative;
  });

  for (std::size_t i = 0; i < files.size(); ++i) {
    if (per_file_diagnostics[i].error_count() > 0) ++result.files_failed;
    result.documents_failed += per_file_rejected[i];
    diagnostics.append(per_file_diagnostics[i]);
    for (auto& r : per_file[i]) result.rules.push_back(std::move(r));
  }
  warn_missing_levels(result.rules, diagnostics);
  return result;
}

}  // namespace sigscope
