#include "sigscope/analysis/lint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "sigscope/common/parallel.h"
#include "sigscope/common/text.h"
#include "sigscope/correlate/correlation.h"
#include "sigscope/condition/parser.h"
#include "sigscope/pipeline/pipeline.h"
#include "sigscope/rules/yaml.h"
#include "sigscope/taxonomy/attack.h"
#include "sigscope/taxonomy/fields.h"
#include "sigscope/taxonomy/logsources.h"

namespace sigscope {

// ---------------------------------------------------------------------------
// The checks

namespace {
using S = LintSeverity;
const std::vector<LintCheck> kChecks = {
    {"load-error", S::Error, true, "sigscope",
     "The rule document cannot be loaded or compiled (YAML syntax, missing sections, unknown modifiers...)",
     "Fix the problem the message names; the rule is left out of every other check."},
    // Condition (pySigma: condition.py)
    {"dangling-detection", S::Warning, true, "pySigma",
     "A selection is defined but the condition never uses it",
     "Use the selection in the condition or remove it."},
    {"dangling-condition", S::Error, true, "pySigma",
     "The condition names a selection, or a pattern matching no selection, that the detection does not define",
     "Define the selection or correct the name in the condition."},
    {"them-single-detection", S::Info, true, "pySigma",
     "'1 of them' or 'all of them' with only one selection",
     "Name the selection in the condition instead of 'them'."},
    {"all-of-them", S::Info, false, "pySigma",
     "The condition uses 'all of them', which silently changes meaning when a selection is added",
     "Name the selections, e.g. 'selection_img and selection_cli' or 'all of selection_*'."},
    {"obsolete-aggregation", S::Error, true, "sigscope",
     "The condition ends in an obsolete Sigma 1.x aggregation ('| count() > 5', '| near ...'), so hunt does "
     "not run the rule",
     "Rewrite the aggregation as a Sigma 2 correlation rule over this rule."},
    {"obsolete-timeframe", S::Warning, true, "sigscope",
     "The detection has a Sigma 1.x 'timeframe', which Sigma 2 ignores",
     "Express the time window with a correlation rule's timespan, or remove the key."},
    // Logsource (pySigma: logsources.py)
    {"specific-logsource", S::Warning, true, "pySigma",
     "A Sysmon or Security logsource selects an EventID that a generic category stands for",
     "Use the generic category (e.g. category: process_creation) and drop the EventID."},
    {"logsource-keys", S::Warning, true, "pySigma",
     "The logsource has keys other than category, product, service and definition",
     "Correct a misspelled key (the message names the closest valid one), or remove the key or move it into "
     "'definition'."},
    {"unknown-logsource", S::Warning, true, "sigscope",
     "A Windows rule's category or service is not in the logsource tables that hunt routes events by, so "
     "no event with a Channel field (no EVTX event) reaches the rule",
     "Correct the name; the message suggests the closest known one when there is one."},
    // Metadata (pySigma: metadata.py)
    {"missing-id", S::Warning, true, "pySigma", "The rule has no id",
     "Add a random UUIDv4 id."},
    {"id-format", S::Warning, true, "sigscope", "The id is not a UUID",
     "Use a random UUIDv4, e.g. from uuidgen."},
    {"unknown-status", S::Warning, true, "sigscope",
     "The status is not stable, test, experimental, deprecated or unsupported",
     "Use one of those five statuses."},
    {"unknown-level", S::Warning, true, "sigscope",
     "The level is not informational, low, medium, high or critical, so --min-level cannot rank it",
     "Use one of those five levels."},
    {"missing-level", S::Warning, true, "sigscope",
     "A detection or correlation rule has no level, and no loaded correlation references it",
     "Add a level; hunt --min-level leaves rules without one out."},
    {"date-format", S::Warning, true, "sigscope",
     "The date or modified value is not a YYYY-MM-DD date that exists in the calendar",
     "Write a date that exists, as YYYY-MM-DD."},
    {"attribute-type", S::Warning, true, "sigscope",
     "A standard attribute has the wrong YAML type: a list or mapping where a string belongs, or a single "
     "value where a list belongs",
     "Write the attribute as the Sigma specification types it (a string, or a list of strings)."},
    {"related-entry", S::Warning, true, "sigscope",
     "'related' is not a list of {id, type} entries, or an entry has no id or an unknown type",
     "Give each entry an id and a type of derived, obsolete, merged, renamed or similar."},
    {"misplaced-generate", S::Warning, true, "sigscope",
     "'generate' is a top-level key of a correlation rule, where it has no effect",
     "Move it under correlation:, next to type and rules."},
    {"empty-file", S::Warning, true, "sigscope", "A rule file holds no YAML document",
     "Add a rule or remove the file."},
    {"duplicate-id", S::Error, true, "pySigma", "Two or more rules share one id",
     "Give each rule its own UUID."},
    {"duplicate-name", S::Error, true, "sigscope", "Two or more rules share one name",
     "Give each rule its own name: correlations and filters reference rules by name."},
    {"correlation-reference", S::Error, true, "sigscope",
     "A correlation rule cannot run: it references no loaded rule, itself, a loop, or a correlation that does not "
     "group by its fields, or its condition is incomplete",
     "Fix the reference or the condition as the message says."},
    {"correlation-status", S::Warning, true, "sigscope",
     "A correlation rule references a rule whose status is deprecated or unsupported, which hunt skips unless "
     "--all-statuses is given, so the correlation never fires",
     "Reference a maintained rule instead, or give the referenced rule an active status (test, experimental or "
     "stable)."},
    {"correlation-alias", S::Warning, true, "sigscope",
     "A correlation alias maps a rule that the correlation's rules list does not reference, so hunt never uses "
     "that entry",
     "Key the alias entry by the name or id of a rule in the rules list, or add that rule to the list."},
    {"duplicate-title", S::Warning, true, "pySigma", "Two or more rules share one title",
     "Make each title say what distinguishes the rule."},
    {"duplicate-reference", S::Warning, true, "pySigma", "A reference is listed twice in one rule",
     "Remove the repeated reference."},
    {"duplicate-filename", S::Warning, true, "pySigma",
     "Two rule files in different folders have the same file name",
     "Rename one of the files so file names identify rules."},
    {"filename-length", S::Info, true, "pySigma",
     "The rule file name is shorter than 10 or longer than 90 characters",
     "Name the file after what the rule detects, in 10 to 90 characters."},
    {"misspelled-attribute", S::Warning, true, "pySigma",
     "A top-level key looks like a misspelling of a Sigma attribute (e.g. 'reference', 'realted')",
     "Correct the key name; loaders keep misspelled keys as custom attributes and ignore them."},
    // Modifiers (pySigma: modifiers.py)
    {"invalid-modifier-combination", S::Error, true, "pySigma",
     "Modifiers whose combination cannot work: field-bound 'all' without 'contains', 'base64offset' "
     "without 'contains', 'windash' with 'all'",
     "Add 'contains', or split the values over several selections."},
    {"repeated-modifier", S::Info, true, "pySigma",
     "A modifier is written twice in one key; sigscope applies it once, so a repeated base64 encodes once",
     "Remove the repetition."},
    {"ineffective-modifier", S::Warning, true, "sigscope",
     "A modifier changes nothing: cased with cidr, re or a numeric comparison, or expand on a value "
     "without a %placeholder%",
     "Remove the modifier, or add the placeholder that expand is meant to fill."},
    {"unresolved-placeholder", S::Warning, true, "sigscope",
     "A value holds a %placeholder% (expand modifier) that no pipeline given with -p sets, so hunt and convert "
     "cannot run the rule",
     "Pass a pipeline with -p that sets the placeholder (vars with value_placeholders, or wildcard_placeholders), "
     "or remove the expand modifier and write the values out."},
    // Tags (pySigma: tags.py)
    {"tag-format", S::Warning, true, "pySigma",
     "A tag is not 'namespace.name' in lower case letters, digits, '-', '_' and '.'",
     "Write tags like attack.t1059.001 or attack.execution."},
    {"tag-namespace", S::Warning, true, "pySigma",
     "A tag's namespace is not one of attack, car, cve, d3fend, detection, stp, tlp",
     "Use a namespace of the Sigma tags appendix."},
    {"attack-tag", S::Warning, true, "pySigma",
     "An attack.* tag is not an ATT&CK tactic, technique, group, software or mitigation id "
     "(or names a revoked or deprecated technique)",
     "Use a tactic shortname (attack.execution) or an id the ATT&CK data knows."},
    {"car-tag", S::Warning, true, "pySigma", "A car.* tag is not of the form car.YYYY-MM-NNN",
     "Write e.g. car.2013-05-004."},
    {"cve-tag", S::Warning, true, "pySigma", "A cve.* tag is not of the form cve.YYYY-NNNN",
     "Write e.g. cve.2021-44228."},
    {"d3fend-tag", S::Warning, true, "pySigma",
     "A d3fend.* tag is neither a D3FEND tactic nor a technique id (d3f.* / d3-*)",
     "Write e.g. d3fend.d3-pa or d3fend.detect."},
    {"tlp-tag", S::Warning, true, "pySigma",
     "A tlp.* tag is not a TLP 1.0 or 2.0 label (clear, white, green, amber, amber-strict, red)",
     "Write e.g. tlp.clear."},
    {"detection-tag", S::Warning, true, "pySigma",
     "A detection.* tag is not dfir, emerging-threats or threat-hunting", "Use one of those three."},
    {"stp-tag", S::Warning, true, "pySigma",
     "An stp.* tag is not a Summiting-the-Pyramid score (1-5, optionally followed by a, u or k)",
     "Write e.g. stp.3a."},
    {"duplicate-tag", S::Info, true, "pySigma", "A tag is listed twice in one rule",
     "Remove the repeated tag."},
    // Values (pySigma: values.py)
    {"double-wildcard", S::Info, true, "pySigma", "A value holds '**', which means the same as '*'",
     "Write a single '*'."},
    {"number-as-string", S::Info, true, "pySigma",
     "A whole number is written as a quoted string", "Write the number without quotes."},
    {"control-character", S::Error, true, "pySigma",
     "A value holds a control character, usually a '\\t', '\\n' or '\\r' from a single backslash in a "
     "double-quoted YAML string",
     "Use single quotes or double the backslash (\"C:\\\\temp\")."},
    {"wildcards-instead-of-modifier", S::Info, true, "pySigma",
     "Every value is '*x*', '*x' or 'x*' where contains, endswith or startswith says the same",
     "Use the modifier and drop the wildcards."},
    {"keyword-field-test", S::Warning, true, "sigscope",
     "A keyword reads like a field test that lost its colon ('Image|endswith \\x.exe'), so it is searched "
     "as text in every value",
     "Write it as a field test in a selection map, e.g. 'Image|endswith: \\x.exe'."},
    {"escaped-wildcard", S::Info, true, "pySigma",
     "A value holds an escaped wildcard ('\\*' or '\\?'); make sure the escape is intended",
     "Keep it when the rule must match a literal '*' or '?'; otherwise remove the backslash."},
    // Semantic checks over the compiled predicates (sigscope)
    {"never-matches", S::Error, true, "sigscope",
     "The condition can never be true: every branch needs contradictory values, an empty value "
     "list, or is removed by its own filter",
     "Fix the contradiction the message names; the rule as written never fires."},
    {"filter-covers-selection", S::Error, true, "sigscope",
     "A filter used as 'not filter' matches every event its selection matches, so the pair never matches",
     "Narrow the filter or correct the selection; as written the filter removes every hit."},
    {"contradictory-equality", S::Warning, true, "sigscope",
     "One field must take two values that exclude each other in the same branch of the condition "
     "(e.g. EventID 1 and EventID 4688, or two different Image suffixes), so that branch is dead; "
     "never-matches reports the rule when every branch is",
     "Check that the branch is meant: a missing modifier (contains) is a common cause. When "
     "other branches are the ones meant to match, the rule works as written."},
    {"all-single-value", S::Warning, true, "sigscope",
     "'all' is given with a single value, where it changes nothing (the Sigma specification forbids it)",
     "Remove the all modifier, or give the field several values."},
    {"empty-value-list", S::Warning, true, "sigscope",
     "A field is given an empty list of values, so its test never matches",
     "Give at least one value or remove the key."},
    {"regex-unsupported", S::Warning, true, "sigscope",
     "A regular expression uses constructs many backends reject: look-around, back-references, "
     "atomic groups, possessive quantifiers, recursion, conditionals, comments",
     "Rewrite without the construct, e.g. as two selections or with 'not'."},
    {"regex-subset", S::Info, true, "sigscope",
     "A regular expression goes beyond the Sigma 2.1 regex subset (., ^, $, * + ? {n,m}, [a-z], "
     "[^a-z], (), |): shorthand classes (\\d \\w \\s), non-capturing or named groups, inline flags, "
     "lazy quantifiers, escapes such as \\x41",
     "Use the subset where it is easy (e.g. [0-9] for \\d, re|i instead of (?i))."},
    {"unknown-field", S::Warning, true, "sigscope",
     "A field is not among those SigmaHQ lists for the rule's logsource",
     "Check the field name (and its case) against the logsource's taxonomy."},
    {"technique-without-tactic", S::Warning, true, "sigscope",
     "An ATT&CK technique tag appears without a tag for any of the technique's tactics",
     "Add the tactic tag, e.g. attack.execution for attack.t1059."},
};

std::string lower(std::string_view s) { return ascii_lower(s); }

std::string file_name(const std::string& path) {
  auto pos = path.find_last_of("/\\");
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

}  // namespace

std::string_view lint_severity_name(LintSeverity s) {
  switch (s) {
    case LintSeverity::Info: return "info";
    case LintSeverity::Warning: return "warning";
    case LintSeverity::Error: return "error";
  }
  return "error";
}

std::optional<LintSeverity> parse_lint_severity(std::string_view name) {
  if (name == "info" || name == "note") return LintSeverity::Info;
  if (name == "warning") return LintSeverity::Warning;
  if (name == "error") return LintSeverity::Error;
  return std::nullopt;
}

const std::vector<LintCheck>& lint_checks() { return kChecks; }

const LintCheck* find_lint_check(std::string_view id) {
  for (const auto& c : kChecks)
    if (c.id == id) return &c;
  return nullptr;
}

// ---------------------------------------------------------------------------
// Configuration

bool LintConfig::enabled(std::string_view check) const {
  const LintCheck* c = find_lint_check(check);
  if (!c) return false;
  if (c->id == "load-error") return true;
  std::string id(check);
  if (disable.count(id)) return false;
  return c->enabled_by_default || enable.count(id);
}

LintSeverity LintConfig::severity_of(const LintCheck& check) const {
  auto it = severity.find(std::string(check.id));
  return it == severity.end() ? check.severity : it->second;
}

bool exclude_entry_matches(const std::string& entry, const Rule& rule) {
  if (!rule.id.empty() && entry == rule.id) return true;
  if (!rule.title.empty() && entry == rule.title) return true;
  if (entry == file_name(rule.path) || entry == rule.path || entry == rule.relative_path) return true;
  return entry.find('*') != std::string::npos &&
         (glob_match(entry, rule.path) || glob_match(entry, rule.relative_path) ||
          glob_match(entry, file_name(rule.path)));
}

bool LintConfig::excluded(std::string_view check, const Rule& rule) const {
  for (const std::string& key : {std::string(check), std::string("*")}) {
    auto it = exclude.find(key);
    if (it == exclude.end()) continue;
    for (const auto& entry : it->second)
      if (exclude_entry_matches(entry, rule)) return true;
  }
  return false;
}

std::vector<UnusedExclusion> unused_exclusions(const LintConfig& config, const std::vector<const Rule*>& rules) {
  std::vector<UnusedExclusion> out;
  for (const auto& [check, entries] : config.exclude)
    for (const auto& entry : entries) {
      const bool used = std::any_of(rules.begin(), rules.end(),
                                    [&](const Rule* rule) { return exclude_entry_matches(entry, *rule); });
      if (used) continue;
      auto line = config.exclude_lines.find({check, entry});
      out.push_back({check, entry, line == config.exclude_lines.end() ? 0 : line->second});
    }
  std::stable_sort(out.begin(), out.end(),
                   [](const UnusedExclusion& a, const UnusedExclusion& b) { return a.line < b.line; });
  return out;
}

namespace {
std::string config_error(const std::string& path, int line, const std::string& message) {
  return line > 0 ? fmt::format("{}:{}: {}", path, line, message) : fmt::format("{}: {}", path, message);
}

std::optional<std::string> read_check_list(const YamlNode& node, const std::string& key, const std::string& path,
                                           std::set<std::string>& out) {
  std::vector<const YamlNode*> items;
  if (node.is_sequence()) {
    for (const auto& i : node.items) items.push_back(&i);
  } else if (node.is_scalar()) {
    items.push_back(&node);
  } else if (!node.is_null()) {
    return config_error(path, node.line, fmt::format("'{}' must be a list of check ids", key));
  }
  for (const YamlNode* i : items) {
    if (!i->is_scalar())
      return config_error(path, i->line, fmt::format("'{}' must be a list of check ids", key));
    if (!find_lint_check(i->text))
      return config_error(path, i->line,
                          fmt::format("unknown check '{}' in '{}' (sigscope check --list-checks shows them)",
                                      i->text, key));
    out.insert(i->text);
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> parse_lint_config(std::string_view text, const std::string& path, LintConfig& config) {
  DiagnosticList diagnostics;
  auto docs = parse_yaml_stream(text, path, diagnostics);
  for (const auto& d : diagnostics.items())
    if (d.severity == Severity::Error) return config_error(path, d.line, d.message);
  if (docs.empty() || docs.front().root.is_null()) return std::nullopt;  // an empty file changes nothing
  if (docs.size() > 1) return config_error(path, docs[1].start_line, "the configuration must be one YAML document");
  const YamlNode& root = docs.front().root;
  if (!root.is_mapping())
    return config_error(path, root.line, "the configuration must be a mapping with enable, disable, exclude or severity");
  for (const auto& e : root.entries) {
    if (e.key == "enable") {
      if (auto err = read_check_list(e.value, e.key, path, config.enable)) return err;
    } else if (e.key == "disable") {
      if (auto err = read_check_list(e.value, e.key, path, config.disable)) return err;
    } else if (e.key == "exclude") {
      if (e.value.is_null()) continue;
      if (!e.value.is_mapping())
        return config_error(path, e.line, "'exclude' must map check ids to lists of rule ids or file names");
      for (const auto& x : e.value.entries) {
        if (x.key != "*" && !find_lint_check(x.key))
          return config_error(path, x.line, fmt::format("unknown check '{}' in 'exclude'", x.key));
        std::vector<const YamlNode*> items;
        if (x.value.is_sequence()) {
          for (const auto& i : x.value.items) items.push_back(&i);
        } else if (x.value.is_scalar()) {
          items.push_back(&x.value);
        } else {
          return config_error(path, x.line,
                              fmt::format("'exclude: {}' must be a list of rule ids or file names", x.key));
        }
        for (const YamlNode* i : items) {
          if (!i->is_scalar() || i->text.empty())
            return config_error(path, i->line ? i->line : x.line,
                                fmt::format("'exclude: {}' must be a list of rule ids or file names", x.key));
          config.exclude[x.key].insert(i->text);
          config.exclude_lines.emplace(std::make_pair(x.key, i->text), i->line ? i->line : x.line);
        }
      }
    } else if (e.key == "severity") {
      if (e.value.is_null()) continue;
      if (!e.value.is_mapping())
        return config_error(path, e.line, "'severity' must map check ids to error, warning or info");
      for (const auto& x : e.value.entries) {
        if (!find_lint_check(x.key))
          return config_error(path, x.line, fmt::format("unknown check '{}' in 'severity'", x.key));
        auto sev = x.value.is_scalar() ? parse_lint_severity(x.value.text) : std::nullopt;
        if (!sev)
          return config_error(path, x.line,
                              fmt::format("severity of '{}' must be error, warning or info", x.key));
        config.severity[x.key] = *sev;
      }
    } else {
      return config_error(path, e.line,
                          fmt::format("unknown key '{}'; use enable, disable, exclude or severity", e.key));
    }
  }
  for (const auto& id : config.enable)
    if (config.disable.count(id))
      return config_error(path, 0, fmt::format("check '{}' is both enabled and disabled", id));
  config.path = path;
  return std::nullopt;
}

std::optional<std::string> load_lint_config(const std::string& path, LintConfig& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("{}: cannot open the configuration file", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_lint_config(ss.str(), path, config);
}

// ---------------------------------------------------------------------------
// Per-rule context

namespace {

struct Position {
  int line = 0;
  int column = 0;
};

class RuleLinter {
 public:
  RuleLinter(const Rule& rule, const LintConfig& config, std::vector<LintFinding>& out)
      : rule_(rule), config_(config), out_(out) {}

  bool on(std::string_view check) const { return config_.enabled(check) && !config_.excluded(check, rule_); }

  void report(std::string_view check, Position pos, std::string message, std::string hint = {}) {
    if (!on(check)) return;
    const LintCheck* c = find_lint_check(check);
    LintFinding f;
    f.check = std::string(check);
    f.severity = config_.severity_of(*c);
    f.file = rule_.path;
    f.line = pos.line > 0 ? pos.line : rule_.line;
    f.column = pos.line > 0 ? pos.column : 0;
    f.rule_id = rule_.id;
    f.title = rule_.title;
    f.message = std::move(message);
    f.hint = hint.empty() ? std::string(c->help) : std::move(hint);
    out_.push_back(std::move(f));
  }

  // Position of the first occurrence of `needle` in the document text, after
  // `after` when given (e.g. the "tags:" key), or the document's first line.
  Position locate(std::string_view needle, std::string_view after = {}) const {
    const std::string& text = rule_.source_text;
    std::size_t start = 0;
    if (!after.empty()) {
      std::size_t a = find_key(after);
      if (a == std::string::npos) return {rule_.line, 0};
      start = a;
    }
    std::size_t at = needle.empty() ? start : text.find(needle, start);
    if (at == std::string::npos) return {rule_.line, 0};
    int line = rule_.line;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < at; ++i)
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    return {line, static_cast<int>(at - line_start) + 1};
  }

  // Offset of a top-level key ("tags") at the start of a line.
  std::size_t find_key(std::string_view key) const {
    const std::string& text = rule_.source_text;
    std::string probe = std::string(key) + ":";
    std::size_t pos = 0;
    while ((pos = text.find(probe, pos)) != std::string::npos) {
      if (pos == 0 || text[pos - 1] == '\n') return pos;
      ++pos;
    }
    return std::string::npos;
  }

  Position key_position(std::string_view key) const {
    std::size_t at = find_key(key);
    if (at == std::string::npos) return {rule_.line, 0};
    return locate({}, key);
  }

  const Rule& rule() const { return rule_; }

 private:
  const Rule& rule_;
  const LintConfig& config_;
  std::vector<LintFinding>& out_;
};

// ---------------------------------------------------------------------------
// Metadata, logsource and tags

const std::set<std::string> kStandardKeys = {
    "title", "id",          "name",   "related",        "status",   "description", "license",
    "author", "references", "date",   "modified",       "logsource", "detection",  "fields",
    "falsepositives", "level", "tags", "scope", "taxonomy", "correlation", "filter",  "action"};

// Describes the first character of `text` that a terminal or a browser
// would act on instead of showing: C0 and C1 controls (tab, and line
// breaks when `multi_line`, excepted) and the bidirectional overrides that
// reverse how text reads (U+202A to U+202E, U+2066 to U+2069). Returns an
// empty string when there is none.
std::string hidden_character(std::string_view text, bool multi_line) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      if (c == '\t' || (multi_line && (c == '\n' || c == '\r'))) continue;
      return fmt::format("control character U+{:04X}", c);
    }
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(text[i + 1]) <= 0x9F)
      return fmt::format("control character U+{:04X}", static_cast<unsigned char>(text[i + 1]));
    if (c == 0xE2 && i + 2 < text.size()) {
      const auto b1 = static_cast<unsigned char>(text[i + 1]), b2 = static_cast<unsigned char>(text[i + 2]);
      const unsigned cp = 0x2000u + ((b1 & 0x3Fu) << 6) + (b2 & 0x3Fu);
      if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
        return fmt::format("bidirectional control U+{:04X}, which reverses how the text reads", cp);
    }
  }
  return {};
}

void check_metadata(RuleLinter& l) {
  const Rule& r = l.rule();
  // Text a reader sees in a terminal or the catalog.
  auto hidden = [&](std::string_view key, const std::string& text, bool multi_line) {
    std::string what = hidden_character(text, multi_line);
    if (!what.empty())
      l.report("control-character", l.locate("", key), fmt::format("{} holds a {}", key, what),
               "remove it; such characters change how terminals and browsers show the rule");
    return !what.empty();
  };
  hidden("id", r.id, false);
  hidden("title", r.title, false);
  hidden("description", r.description, true);
  hidden("author", r.author, false);
  for (const auto& t : r.tags)
    if (hidden("tags", t, false)) break;
  for (const auto& ref : r.references)
    if (hidden("references", ref, false)) break;
  for (const auto& fp : r.falsepositives)
    if (hidden("falsepositives", fp, false)) break;
  if (r.id.empty())
    l.report("missing-id", {r.line, 0}, "the rule has no id", "add a random UUIDv4 id, e.g. from uuidgen");

  std::set<std::string> seen_refs;
  for (const auto& ref : r.references)
    if (!seen_refs.insert(ref).second)
      l.report("duplicate-reference", l.locate(ref, "references"),
               fmt::format("reference '{}' is listed more than once", ref));

  std::string name = file_name(r.path);
  if (!name.empty() && (name.size() < 10 || name.size() > 90))
    l.report("filename-length", {r.line, 0},
             fmt::format("file name '{}' has {} characters; SigmaHQ expects 10 to 90", name, name.size()));

  for (const auto& e : r.custom) {
    std::string key = lower(e.key);
    if (kStandardKeys.count(key)) continue;  // a standard key in other case is the loader's business
    std::string best;
    std::size_t best_d = 3;
    for (const auto& std_key : kStandardKeys) {
      std::size_t d = osa_distance(key, std_key);
      // Short keys need a closer match; "id" is one edit away from too much.
      std::size_t limit = std_key.size() <= 4 ? 1 : 2;
      if (std_key.size() <= 2) continue;
      if (d <= limit && d < best_d) {
        best = std_key;
        best_d = d;
      }
    }
    if (!best.empty())
      l.report("misspelled-attribute", {e.line, e.column},
               fmt::format("'{}' looks like a misspelling of '{}'", e.key, best),
               fmt::format("rename the key to '{}'; as written it is a custom attribute that tools ignore", best));
  }
}

// Reports a Windows category or service that the router's tables do not
// know. Categories the tables list without an event log channel (file_access
// and file_rename come from ETW) are known names and not reported.
void check_windows_logsource(RuleLinter& l) {
  const Rule& r = l.rule();
  if (r.logsource.product != "windows" || !l.on("unknown-logsource")) return;
  const LogsourceData& tables = LogsourceData::bundled();
  static const std::vector<std::string> categories = tables.category_names();
  static const std::vector<std::string> services = tables.service_names();
  auto check = [&](std::string_view key, std::string_view plural, const std::string& value,
                   const std::vector<std::string>& known) {
    if (value.empty() || std::binary_search(known.begin(), known.end(), value)) return;
    const std::string suggestion = closest_name(value, known);
    std::string hint = suggestion.empty()
                           ? fmt::format("check the name against the Sigma taxonomy; if it is right, sigscope's "
                                         "tables lack it, and hunt --no-routing sends every event to the rule")
                           : fmt::format("write '{}: {}', the closest known name", key, suggestion);
    l.report("unknown-logsource", l.locate(value, "logsource"),
             fmt::format("{} '{}' is not one of the {} Windows {} that hunt maps to event log channels, so hunt "
                         "sends the rule no event that has a Channel field",
                         key, value, known.size(), plural),
             std::move(hint));
  };
  check("category", "categories", r.logsource.category, categories);
  check("service", "services", r.logsource.service, services);
}

void check_logsource(RuleLinter& l) {
  const Rule& r = l.rule();
  static const std::vector<std::string> kLogsourceKeys = {"category", "product", "service", "definition"};
  for (const auto& e : r.logsource.custom) {
    const std::string suggestion = closest_name(e.key, kLogsourceKeys);
    if (suggestion.empty())
      l.report("logsource-keys", {e.line, e.column},
               fmt::format("logsource key '{}' is not category, product, service or definition", e.key));
    else
      l.report("logsource-keys", {e.line, e.column},
               fmt::format("logsource key '{}' is not category, product, service or definition; it looks like "
                           "a misspelling of '{}'",
                           e.key, suggestion),
               fmt::format("rename '{}' to '{}'; as written, tools ignore the key and the rule's logsource "
                           "has no {}",
                           e.key, suggestion, suggestion));
  }
  check_windows_logsource(l);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "\d{4}-\d{2}-\d{3}"
bool is_car_id(std::string_view s) {
  return s.size() == 11 && all_digits(s.substr(0, 4)) && s[4] == '-' && all_digits(s.substr(5, 2)) &&
         s[7] == '-' && all_digits(s.substr(8, 3));
}

bool is_cve_id(std::string_view s) {
  auto dash = s.find('-');
  return dash != std::string_view::npos && all_digits(s.substr(0, dash)) && all_digits(s.substr(dash + 1));
}

bool is_attack_id(std::string_view s, char prefix) {
  // t1059, t1059.001, g0016, s0005, m1042
  if (s.size() < 5 || s[0] != prefix || !all_digits(s.substr(1, 4))) return false;
  if (s.size() == 5) return true;
  return prefix == 't' && s.size() == 9 && s[5] == '.' && all_digits(s.substr(6, 3));
}

const std::set<std::string> kNamespaces = {"attack", "car", "cve", "d3fend", "detection", "stp", "tlp"};
const std::set<std::string> kTlp = {"clear", "white", "green", "amber", "amber-strict", "red"};
const std::set<std::string> kD3fendTactics = {"model", "harden", "detect", "isolate", "deceive", "evict", "restore"};

void check_tags(RuleLinter& l) {
  const Rule& r = l.rule();
  const AttackData& attack = AttackData::bundled();
  std::set<std::string> seen;
  for (const auto& tag : r.tags) {
    Position pos = l.locate(tag, "tags");
    if (!seen.insert(tag).second)
      l.report("duplicate-tag", pos, fmt::format("tag '{}' is listed more than once", tag));
    // ^[a-z0-9_-]+\.[a-z0-9._-]+$
    auto dot = tag.find('.');
    auto allowed = [](char c, bool dots) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || (dots && c == '.');
    };
    bool format_ok = dot != std::string::npos && dot > 0 && dot + 1 < tag.size() &&
                     std::all_of(tag.begin(), tag.begin() + dot, [&](char c) { return allowed(c, false); }) &&
                     std::all_of(tag.begin() + dot + 1, tag.end(), [&](char c) { return allowed(c, true); });
    if (!format_ok) {
      l.report("tag-format", pos,
               fmt::format("tag '{}' is not namespace.name in lower case letters, digits, '-', '_' and '.'", tag),
               lower(tag) != tag ? fmt::format("write it in lower case: '{}'", lower(tag)) : std::string());
    }
    if (dot == std::string::npos) continue;
    std::string ns = lower(tag.substr(0, dot));
    std::string name = lower(tag.substr(dot + 1));
    if (!kNamespaces.count(ns)) {
      l.report("tag-namespace", pos,
               fmt::format("tag '{}' uses namespace '{}', which the Sigma tags appendix does not define", tag, ns));
      continue;
    }
    if (ns == "attack") {
      bool ok = false;
      std::string note;
      if (is_attack_id(name, 't')) {
        std::string id = "T" + name.substr(1);
        for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (const AttackTechnique* t = attack.technique(id)) {
          ok = !t->revoked && !t->deprecated;
          if (t->revoked)
            note = t->revoked_by.empty() ? "is revoked" : fmt::format("is revoked in favour of {}", t->revoked_by);
          else if (t->deprecated)
            note = "is deprecated";
        } else {
          // Ids past the newest technique of the bundled release come from a
          // later ATT&CK release (v19 added T1685 onwards): not an error.
          static const int newest = [&] {
            int n = 0;
            for (const auto& [tid, _] : attack.techniques()) n = std::max(n, std::atoi(tid.c_str() + 1));
            return n;
          }();
          ok = std::atoi(id.c_str() + 1) > newest;
          note = fmt::format("is not in ATT&CK {}", attack.version());
        }
      } else if (is_attack_id(name, 'g')) {
        ok = !attack.group_name("G" + name.substr(1)).empty();
        if (!ok) note = fmt::format("is not a group in ATT&CK {}", attack.version());
      } else if (is_attack_id(name, 's')) {
        ok = !attack.software_name("S" + name.substr(1)).empty();
        if (!ok) note = fmt::format("is not software in ATT&CK {}", attack.version());
      } else if (is_attack_id(name, 'm')) {
        ok = true;  // mitigations: the bundled data does not list them; the form is enough
      } else {
        std::string shortname = AttackData::normalise_tactic(name);
        ok = attack.tactic(shortname) || shortname == "stealth" || shortname == "defense-impairment";
        if (ok && name.find('_') != std::string::npos) {
          ok = false;
          note = fmt::format("writes the tactic with '_'; ATT&CK shortnames use '-' ({})", shortname);
        } else if (!ok) {
          note = "is neither a tactic shortname nor a technique, group, software or mitigation id";
        }
      }
      if (!ok) l.report("attack-tag", pos, fmt::format("ATT&CK tag '{}' {}", tag, note));
    } else if (ns == "car") {
      if (!is_car_id(name)) l.report("car-tag", pos, fmt::format("CAR tag '{}' is not car.YYYY-MM-NNN", tag));
    } else if (ns == "cve") {
      if (!is_cve_id(name)) l.report("cve-tag", pos, fmt::format("CVE tag '{}' is not cve.YYYY-NNNN", tag));
    } else if (ns == "tlp") {
      if (!kTlp.count(name)) l.report("tlp-tag", pos, fmt::format("TLP tag '{}' is not a TLP label", tag));
    } else if (ns == "d3fend") {
      bool ok = kD3fendTactics.count(name) ||
                ((name.rfind("d3-", 0) == 0 || name.rfind("d3f-", 0) == 0) && name.size() > 3);
      if (!ok)
        l.report("d3fend-tag", pos, fmt::format("D3FEND tag '{}' is neither a D3FEND tactic nor a d3-* technique id", tag));
    } else if (ns == "detection") {
      if (name != "dfir" && name != "emerging-threats" && name != "threat-hunting")
        l.report("detection-tag", pos, fmt::format("detection tag '{}' is not dfir, emerging-threats or threat-hunting", tag));
    } else if (ns == "stp") {
      bool ok = (name.size() == 1 || name.size() == 2) && name[0] >= '1' && name[0] <= '5' &&
                (name.size() == 1 || name[1] == 'a' || name[1] == 'u' || name[1] == 'k');
      if (!ok) l.report("stp-tag", pos, fmt::format("STP tag '{}' is not a score 1-5 with optional a, u or k", tag));
    }
  }

  // Technique tags without any of their tactics.
  if (l.on("technique-without-tactic")) {
    AttackCoverage cov = attack.coverage(r.tags);
    for (const auto& row : cov.tactics) {
      if (row.tagged) continue;
      for (const auto& tech : row.techniques) {
        // A technique listed under several implied tactics is reported once.
        const AttackTechnique* t = attack.technique(tech.id);
        if (!t || t->tactics.empty() || t->tactics.front() != row.tactic.shortname) continue;
        std::vector<std::string> tags;
        for (const auto& tt : t->tactics) tags.push_back("attack." + tt);
        l.report("technique-without-tactic", l.locate(lower("attack." + tech.id), "tags"),
                 fmt::format("technique {} ({}) is tagged without its tactic{} {}", tech.id, tech.name,
                             tags.size() > 1 ? "s" : "", join(tags, " / ")),
                 fmt::format("add {}", tags.size() > 1 ? "one of " + join(tags, ", ") : tags.front()));
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Condition (raw and compiled)

void collect_leaves(const ConditionAst& ast, std::vector<const ConditionAst*>& out) {
  if (ast.is_leaf()) out.push_back(&ast);
  for (const auto& c : ast.children) collect_leaves(c, out);
}

const YamlNode* detection_of(const Rule& r) {
  if (r.kind == RuleKind::Detection) return &r.detection;
  if (r.kind == RuleKind::Filter) return &r.filter.detection;
  return nullptr;
}

Position condition_position(const Rule& r) {
  const YamlNode* det = detection_of(r);
  if (!det) return {r.line, 0};
  for (const auto& e : det->entries)
    if (e.key == "condition") return e.value.line ? Position{e.value.line, e.value.column} : Position{e.line, e.column};
  return {r.line, 0};
}

// Dangling names, for rules that did not compile (compiled rules resolved every name).
void check_dangling_condition(RuleLinter& l) {
  const Rule& r = l.rule();
  const YamlNode* det = detection_of(r);
  if (!det || !det->is_mapping()) return;
  std::vector<std::string> names;
  const YamlNode* condition = nullptr;
  for (const auto& e : det->entries) {
    if (e.key == "condition") condition = &e.value;
    else if (e.key != "timeframe") names.push_back(e.key);
  }
  if (!condition) return;
  std::vector<const YamlNode*> texts;
  if (condition->is_sequence())
    for (const auto& i : condition->items) texts.push_back(&i);
  else
    texts.push_back(condition);
  for (const YamlNode* t : texts) {
    if (!t->is_scalar()) continue;
    auto parsed = parse_condition(t->text);
    auto* pc = std::get_if<ParsedCondition>(&parsed);
    if (!pc) continue;
    std::vector<const ConditionAst*> leaves;
    collect_leaves(pc->ast, leaves);
    for (const ConditionAst* leaf : leaves) {
      Position pos{t->line ? t->line : r.line, t->column};
      if (t->line && t->text.find('\n') == std::string::npos && t->style != YamlNode::Style::Block)
        pos.column = t->column + (t->style == YamlNode::Style::Plain ? 0 : 1) + leaf->offset;
      if (leaf->op == ConditionAst::Op::Identifier) {
        if (std::find(names.begin(), names.end(), leaf->name) == names.end())
          l.report("dangling-condition", pos,
                   fmt::format("the condition names '{}', which the detection does not define", leaf->name));
      } else if (leaf->name != "them") {
        bool any = std::any_of(names.begin(), names.end(), [&](const std::string& n) { return glob_match(leaf->name, n); });
        if (!any)
          l.report("dangling-condition", pos,
                   fmt::format("the pattern '{}' in the condition matches no selection", leaf->name));
      }
    }
  }
}

void check_condition(RuleLinter& l, const CompiledRule& cr) {
  // Dangling detections.
  std::vector<int> used = cr.referenced_stages();
  for (std::size_t i = 0; i < cr.stages.size(); ++i) {
    if (cr.stages[i].name.rfind('_', 0) == 0 && cr.stages[i].line == 0) continue;  // pipeline stage
    if (std::find(used.begin(), used.end(), static_cast<int>(i)) == used.end())
      l.report("dangling-detection", {cr.stages[i].line, 0},
               fmt::format("selection '{}' is defined but the condition never uses it", cr.stages[i].name));
  }
  std::vector<const ConditionAst*> leaves;
  collect_leaves(cr.condition_ast, leaves);
  Position pos = condition_position(cr.rule);
  std::size_t selections = cr.stages.size();
  for (const ConditionAst* leaf : leaves) {
    if (leaf->name != "them" || leaf->op == ConditionAst::Op::Identifier) continue;
    const char* quant = leaf->op == ConditionAst::Op::AllOf ? "all of them" : "1 of them";
    if (selections == 1)
      l.report("them-single-detection", pos,
               fmt::format("'{}' covers only one selection, '{}'", quant, cr.stages.front().name),
               fmt::format("write '{}' instead", cr.stages.front().name));
    if (leaf->op == ConditionAst::Op::AllOf)
      l.report("all-of-them", pos, "the condition uses 'all of them'");
  }
}

// ---------------------------------------------------------------------------
// Values and modifiers

// Raw keys of the detection section by position, to see modifiers as written.
void collect_keys(const YamlNode& node, std::map<std::pair<int, int>, std::string>& out) {
  for (const auto& e : node.entries) {
    out[{e.line, e.column}] = e.key;
    collect_keys(e.value, out);
  }
  for (const auto& i : node.items) collect_keys(i, out);
}

bool has_modifier(const Predicate& p, std::string_view m) {
  return std::find(p.modifiers.begin(), p.modifiers.end(), m) != p.modifiers.end();
}

bool has_transform(const Predicate& p) {
  for (const auto& m : p.modifiers)
    if (m == "windash" || m == "base64" || m == "base64offset" || m == "utf16le" || m == "utf16be" ||
        m == "utf16" || m == "wide")
      return true;
  return false;
}

std::string show(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out.push_back(static_cast<char>(c));
  }
  if (out.size() > max) out = out.substr(0, max) + "...";
  return out;
}

// Scans a regex for constructs outside the Sigma subset. `unsupported` gets
// what many engines reject, `beyond` what goes past the subset only.
void scan_regex(std::string_view re, std::vector<std::string>& unsupported, std::vector<std::string>& beyond) {
  auto add = [](std::vector<std::string>& v, std::string what) {
    if (std::find(v.begin(), v.end(), what) == v.end()) v.push_back(std::move(what));
  };
  bool in_class = false;
  for (std::size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      char n = re[++i];
      if (n == '\0') continue;
      if (std::isdigit(static_cast<unsigned char>(n)) && n != '0' && !in_class) {
        add(unsupported, fmt::format("back-reference \\{}", n));
      } else if (n == 'k' || n == 'g') {
        add(unsupported, fmt::format("back-reference \\{}", n));
      } else if (n == 'K' || n == 'G') {
        add(unsupported, fmt::format("\\{}", n));
      } else if (std::strchr("dDwWsSbB", n)) {
        add(beyond, fmt::format("shorthand \\{}", n));
      } else if (std::strchr("AzZ", n)) {
        add(beyond, fmt::format("anchor \\{}", n));
      } else if (n == 'p' || n == 'P') {
        add(beyond, "Unicode class \\p");
      } else if (n == 'Q' || n == 'E') {
        add(beyond, "quoting \\Q...\\E");
      } else if (std::isalnum(static_cast<unsigned char>(n))) {
        add(beyond, fmt::format("escape \\{}", n));
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      else if (c == '[' && i + 1 < re.size() && re[i + 1] == ':') add(beyond, "POSIX class [:...:]");
      continue;
    }
    if (c == '[') {
      in_class = true;
      if (i + 1 < re.size() && re[i + 1] == '^') ++i;
      if (i + 1 < re.size() && re[i + 1] == ']') ++i;  // a leading ']' is literal
      continue;
    }
    if (c == '(' && i + 1 < re.size() && re[i + 1] == '?') {
      std::string_view rest = re.substr(i + 2);
      if (rest.rfind("=", 0) == 0 || rest.rfind("!", 0) == 0) add(unsupported, "look-ahead (?= / (?!");
      else if (rest.rfind("<=", 0) == 0 || rest.rfind("<!", 0) == 0) add(unsupported, "look-behind (?<= / (?<!");
      else if (rest.rfind(">", 0) == 0) add(unsupported, "atomic group (?>");
      else if (rest.rfind("#", 0) == 0) add(unsupported, "comment (?#");
      else if (rest.rfind("(", 0) == 0) add(unsupported, "conditional (?(");
      else if (rest.rfind("R", 0) == 0 || (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest[0]))))
        add(unsupported, "recursion (?R");
      else if (rest.rfind(":", 0) == 0) add(beyond, "non-capturing group (?:");
      else if (rest.rfind("P<", 0) == 0 || rest.rfind("<", 0) == 0 || rest.rfind("'", 0) == 0)
        add(beyond, "named group (?<name>");
      else add(beyond, "inline flags (?...)");
      ++i;  // the '?' is part of the group syntax, not a quantifier
      continue;
    }
    if (c == '*' || c == '+' || c == '?' || c == '}') {
      if (i + 1 < re.size() && re[i + 1] == '+') {
        add(unsupported, "possessive quantifier");
        ++i;
      } else if (i + 1 < re.size() && re[i + 1] == '?') {
        add(beyond, "lazy quantifier");
        ++i;
      }
    }
  }
}

// Returns true for text such as "Image|endswith '\\x.exe'": a field name,
// '|', a modifier, then a space, a colon or a quote. Such a keyword is most
// likely a field test whose colon was left out.
bool looks_like_field_test(std::string_view text) {
  static const std::set<std::string, std::less<>> kModifiers = {
      "contains", "startswith", "endswith", "re",    "all",   "cidr",    "base64", "base64offset",
      "windash",  "cased",      "exists",   "fieldref", "neq", "utf16le", "utf16be", "utf16",
      "wide",     "expand",     "lt",       "lte",   "gt",    "gte"};
  std::size_t i = 0;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; };
  while (i < text.size() && word(text[i])) ++i;
  if (i == 0 || i >= text.size() || text[i] != '|') return false;
  ++i;
  const std::size_t start = i;
  while (i < text.size() && std::isalnum(static_cast<unsigned char>(text[i]))) ++i;
  if (!kModifiers.count(ascii_lower(text.substr(start, i - start)))) return false;
  while (i < text.size() && text[i] == '|') {  // further modifiers
    ++i;
    while (i < text.size() && std::isalnum(static_cast<unsigned char>(text[i]))) ++i;
  }
  return i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '\'' || text[i] == '"');
}

// Reports the placeholders that keep the rule from running: those of the
// expand modifier that `pipelines` (check -p) leave without a value.
void check_placeholders(RuleLinter& l, const CompiledRule& cr, const std::vector<Pipeline>& pipelines) {
  if (!l.on("unresolved-placeholder")) return;
  const std::vector<std::string> left = placeholders_left_by(pipelines, cr);
  if (left.empty()) return;

  // Point at the first value that contains one of them.
  auto contains_left = [&](const Predicate& p) {
    for (const auto& v : p.values)
      for (const auto& alternative : v.alternatives)
        for (const auto& piece : alternative.pieces())
          if (piece.kind == PatternPiece::Kind::Placeholder && std::binary_search(left.begin(), left.end(), piece.text))
            return true;
    return false;
  };
  Position pos{cr.rule.line, 0};
  for (const auto& stage : cr.stages) {
    auto it = std::find_if(stage.predicates.begin(), stage.predicates.end(), contains_left);
    if (it != stage.predicates.end()) {
      pos = {it->line, it->column};
      break;
    }
  }

  std::vector<std::string> quoted;
  for (const auto& name : left) quoted.push_back("%" + name + "%");
  const std::string names = join(quoted, ", ");
  const char* where = pipelines.empty() ? "without a pipeline (-p)" : "in the pipelines given with -p";
  l.report("unresolved-placeholder", pos,
           fmt::format("{} {} {} no value {}, so hunt and convert cannot run the rule",
                       left.size() == 1 ? "placeholder" : "placeholders", names, left.size() == 1 ? "has" : "have",
                       where),
           fmt::format("pass a pipeline with -p that sets {} (vars with value_placeholders, or "
                       "wildcard_placeholders), or remove the expand modifier and write the values out",
                       names));
}

void check_values(RuleLinter& l, const CompiledRule& cr) {
  const YamlNode* det = detection_of(cr.rule);
  std::map<std::pair<int, int>, std::string> keys;
  if (det) collect_keys(*det, keys);
  const bool sysmon_or_security = lower(cr.rule.logsource.product) == "windows" &&
                                  (lower(cr.rule.logsource.service) == "sysmon" ||
                                   lower(cr.rule.logsource.service) == "security") &&
                                  cr.rule.logsource.category.empty();
  for (const auto& stage : cr.stages) {
    for (const auto& p : stage.predicates) {
      Position pos{p.line, p.column};
      std::string key = p.key();
      if (auto it = keys.find({p.line, p.column}); it != keys.end() && !p.is_keyword()) key = it->second;

      // Modifiers as written.
      std::vector<std::string> mods = split(key, '|');
      if (!mods.empty()) mods.erase(mods.begin());
      std::set<std::string> seen;
      for (const auto& m : mods)
        if (!m.empty() && m != "base64" && !seen.insert(lower(m)).second) {
          l.report("repeated-modifier", pos, fmt::format("'{}' repeats the modifier '{}'", key, m));
          break;
        }

      if (p.is_keyword())
        for (const auto& v : p.values)
          if (looks_like_field_test(v.written)) {
            l.report("keyword-field-test", pos,
                     fmt::format("keyword '{}' reads like a field test without its colon", show(v.written)),
                     "write it as a field test in a selection map, with ': ' after the modifiers");
            break;
          }

      const bool anchored = p.op == MatchOp::Contains;
      std::size_t distinct = 0;
      {
        std::set<std::string> vals;
        for (const auto& v : p.values) vals.insert(p.cased ? v.written : lower(v.written));
        distinct = vals.size();
      }
      if (p.match_all && !p.is_keyword() && !anchored && p.op != MatchOp::Regex && p.op != MatchOp::Cidr &&
          !has_modifier(p, "fieldref") && p.values.size() > 1 && distinct > 1 &&
          (p.op == MatchOp::Equals || p.op == MatchOp::StartsWith || p.op == MatchOp::EndsWith))
        l.report("invalid-modifier-combination", pos,
                 fmt::format("'{}' requires the field to {} every one of {} different values at once", key,
                             p.op == MatchOp::Equals ? "equal" : p.op == MatchOp::StartsWith ? "start with" : "end with",
                             distinct),
                 "use field|contains|all, or list the values without all (any of them)");
      if (has_modifier(p, "base64offset") && p.op != MatchOp::Contains)
        l.report("invalid-modifier-combination", pos,
                 fmt::format("'{}' uses base64offset without contains; the encoded value sits inside a longer "
                             "base64 string, so it never equals the whole field", key),
                 "write field|base64offset|contains");
      if (has_modifier(p, "windash") && p.match_all)
        l.report("invalid-modifier-combination", pos,
                 fmt::format("'{}' combines windash with all; every dash variant would have to be present at once", key),
                 "drop all, or split the values over several selections");
      if (p.match_all && p.values.size() == 1)
        l.report("all-single-value", pos, fmt::format("'{}' uses all with a single value", key));

      // Values.
      bool reported_double = false, reported_escape = false, reported_control = false, reported_number = false;
      for (const auto& v : p.values) {
        if (v.kind == CompiledValue::Kind::Pattern || v.kind == CompiledValue::Kind::Regex) {
          if (!reported_control &&
              std::any_of(v.written.begin(), v.written.end(),
                          [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
            l.report("control-character", pos,
                     fmt::format("value '{}' of '{}' holds a control character", show(v.written), key));
            reported_control = true;
          }
        }
        if (v.kind != CompiledValue::Kind::Pattern || p.expand) continue;
        Pattern written = Pattern::parse(v.written);
        if (!reported_double) {
          const auto& pc = written.pieces();
          for (std::size_t i = 1; i < pc.size(); ++i)
            if (pc[i].kind == PatternPiece::Kind::AnyRun && pc[i - 1].kind == PatternPiece::Kind::AnyRun) {
              l.report("double-wildcard", pos, fmt::format("value '{}' of '{}' holds '**'", show(v.written), key));
              reported_double = true;
              break;
            }
          // Pattern::parse may merge runs of '*'; look at the text too.
          if (!reported_double) {
            for (std::size_t i = 0; i + 1 < v.written.size(); ++i) {
              if (v.written[i] == '\\') {
                ++i;
                continue;
              }
              if (v.written[i] == '*' && v.written[i + 1] == '*') {
                l.report("double-wildcard", pos, fmt::format("value '{}' of '{}' holds '**'", show(v.written), key));
                reported_double = true;
                break;
              }
            }
          }
        }
        if (!reported_escape && !v.numeric) {
          for (const auto& piece : written.pieces())
            if (piece.kind == PatternPiece::Kind::Literal &&
                piece.text.find_first_of("*?") != std::string::npos) {
              l.report("escaped-wildcard", pos,
                       fmt::format("value '{}' of '{}' holds an escaped wildcard", show(v.written), key));
              reported_escape = true;
              break;
            }
        }
        if (!reported_number && !v.numeric && !p.is_keyword() && p.op == MatchOp::Equals && !has_transform(p) &&
            !has_modifier(p, "fieldref")) {
          std::string_view s = v.written;
          std::string_view digits = !s.empty() && (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
          if (all_digits(digits)) {
            l.report("number-as-string", pos,
                     fmt::format("'{}' compares with the string '{}', a number in quotes", key, v.written),
                     fmt::format("if {} holds a number, write {}: {}; if it holds text (a user agent, a "
                                 "registry string), keep the quotes",
                                 key, key, v.written));
            reported_number = true;
          }
        }
      }

      // Wildcards where a modifier says the same.
      if (!p.is_keyword() && p.op == MatchOp::Equals && !has_transform(p) && !p.expand && !p.values.empty() &&
          !has_modifier(p, "fieldref")) {
        int shape = -1;  // 0 contains, 1 endswith, 2 startswith
        bool uniform = true;
        for (const auto& v : p.values) {
          if (v.kind != CompiledValue::Kind::Pattern || v.numeric || v.written.size() < 2) {
            uniform = false;
            break;
          }
          const Pattern parsed = Pattern::parse(v.written);
          const auto& pc = parsed.pieces();
          if (pc.empty()) {
            uniform = false;
            break;
          }
          bool lead = pc.front().kind == PatternPiece::Kind::AnyRun;
          bool trail = pc.back().kind == PatternPiece::Kind::AnyRun && pc.size() > 1;
          std::size_t b = lead ? 1 : 0, e = pc.size() - (trail ? 1 : 0);
          bool plain = b < e;
          for (std::size_t i = b; i < e; ++i)
            if (pc[i].kind != PatternPiece::Kind::Literal) plain = false;
          int s = !plain ? -1 : (lead && trail) ? 0 : lead ? 1 : trail ? 2 : -1;
          if (s < 0 || (shape >= 0 && s != shape)) {
            uniform = false;
            break;
          }
          shape = s;
        }
        if (uniform && shape >= 0) {
          const char* mod = shape == 0 ? "contains" : shape == 1 ? "endswith" : "startswith";
          const char* form = shape == 0 ? "'*x*'" : shape == 1 ? "'*x'" : "'x*'";
          l.report("wildcards-instead-of-modifier", pos,
                   fmt::format("every value of '{}' is written {}; the {} modifier says the same", key, form, mod),
                   fmt::format("write {}|{} and drop the wildcards", key, mod));
        }
      }

      // Regular expressions.
      if (p.op == MatchOp::Regex) {
        std::vector<std::string> unsupported, beyond;
        for (const auto& v : p.values)
          if (v.kind == CompiledValue::Kind::Regex) scan_regex(v.regex.source, unsupported, beyond);
        if (!unsupported.empty())
          l.report("regex-unsupported", pos,
                   fmt::format("the regular expression of '{}' uses {}", key, join(unsupported, ", ")));
        if (!beyond.empty())
          l.report("regex-subset", pos,
                   fmt::format("the regular expression of '{}' goes beyond the Sigma subset: {}", key, join(beyond, ", ")));
      }

      // Specific instead of generic logsource.
      if (sysmon_or_security && p.field == "EventID" && p.op == MatchOp::Equals && !p.negated) {
        static const std::map<int, const char*> kSysmon = {
            {1, "process_creation"},      {2, "file_change"},        {3, "network_connection"},
            {4, "sysmon_status"},         {5, "process_termination"}, {6, "driver_load"},
            {7, "image_load"},            {8, "create_remote_thread"}, {9, "raw_access_thread"},
            {10, "process_access"},       {11, "file_event"},         {12, "registry_event"},
            {13, "registry_event"},       {14, "registry_event"},     {15, "create_stream_hash"},
            {16, "sysmon_status"},        {17, "pipe_created"},       {18, "pipe_created"},
            {19, "wmi_event"},            {20, "wmi_event"},          {21, "wmi_event"},
            {22, "dns_query"},            {23, "file_delete"},        {24, "clipboard_change"},
            {25, "process_tampering"},    {26, "file_delete_detected"}, {27, "file_block_executable"},
            {28, "file_block_shredding"}, {29, "file_executable_detected"}, {255, "sysmon_error"}};
        static const std::map<int, const char*> kSecurity = {{4688, "process_creation"}};
        const auto& table = lower(cr.rule.logsource.service) == "sysmon" ? kSysmon : kSecurity;
        for (const auto& v : p.values) {
          if (!v.numeric) continue;
          auto it = table.find(static_cast<int>(v.number));
          if (it == table.end() || v.number != std::floor(v.number)) continue;
          l.report("specific-logsource", pos,
                   fmt::format("service {} with EventID {} is what 'category: {}' stands for",
                               lower(cr.rule.logsource.service), it->first, it->second),
                   fmt::format("use 'category: {}' with 'product: windows' and drop the EventID", it->second));
        }
      }
    }
  }
}

void check_unknown_fields(RuleLinter& l, const CompiledRule& cr) {
  if (!l.on("unknown-field") || cr.rule.kind != RuleKind::Detection) return;
  KnownFields known = LogsourceFields::bundled().fields(cr.rule.logsource);
  if (!known.known) return;
  std::set<std::string> reported;
  for (const auto& stage : cr.stages)
    for (const auto& p : stage.predicates) {
      if (p.is_keyword() || known.contains(p.field) || !reported.insert(p.field).second) continue;
      std::string hint;
      for (const auto* set : {&known.log_fields, &known.addon_fields})
        for (const auto& f : *set)
          if (hint.empty() && lower(f) == lower(p.field)) hint = fmt::format("the known field is spelled '{}'", f);
      l.report("unknown-field", {p.line, p.column},
               fmt::format("field '{}' is not among the {} fields SigmaHQ lists for logsource {}", p.field,
                           known.log_fields.size() + known.addon_fields.size(), cr.rule.logsource.label()),
               hint);
    }
}

// ---------------------------------------------------------------------------
// Semantic analysis over the compiled predicates.
//
// Each predicate becomes an atom: a field plus clauses that must all hold,
// each clause an OR of value shapes (one clause normally, one per value with
// the all modifier). Literals are atoms with a polarity (neq and exists: false
// are negative). The condition is turned into disjunctive normal form over
// stages, each stage into DNF over literals, and each conjunction is checked
// for literals that exclude each other. Every test errs on the side of
// "satisfiable": a finding means the contradiction is certain.

struct Shape {
  enum class K { Eq, Contains, Starts, Ends, Null, Range, Other };
  K k = K::Other;
  std::string text;   // literal text as written
  std::string folded; // ASCII lower case of text
  bool ascii = true;
  bool cased = false;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  bool lo_incl = false, hi_incl = false;
  std::string key;  // identity for Other
};

bool parse_double(std::string_view s, double& out) {
  if (s.empty() || s.size() > 40) return false;
  std::string t(s);
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end && *end == '\0' && std::isfinite(out);
}

Shape text_shape(MatchOp op, const Pattern& pattern, bool cased) {
  Shape s;
  s.cased = cased;
  const auto& pc = pattern.pieces();
  std::size_t b = 0, e = pc.size();
  bool lead = false, trail = false;
  while (b < e && pc[b].kind == PatternPiece::Kind::AnyRun) {
    lead = true;
    ++b;
  }
  while (e > b && pc[e - 1].kind == PatternPiece::Kind::AnyRun) {
    trail = true;
    --e;
  }
  std::string lit;
  for (std::size_t i = b; i < e; ++i) {
    if (pc[i].kind != PatternPiece::Kind::Literal) {
      s.k = Shape::K::Other;
      s.key = fmt::format("{}:{}:{}", match_op_name(op), pattern.to_sigma(), cased ? "c" : "i");
      return s;
    }
    lit += pc[i].text;
  }
  if (op == MatchOp::Contains) lead = trail = true;
  if (op == MatchOp::StartsWith) trail = true;
  if (op == MatchOp::EndsWith) lead = true;
  s.k = lead && trail ? Shape::K::Contains : lead ? Shape::K::Ends : trail ? Shape::K::Starts : Shape::K::Eq;
  s.text = lit;
  s.folded = ascii_lower(lit);
  s.ascii = is_ascii(lit);
  return s;
}

bool contains(std::string_view a, std::string_view b) { return a.find(b) != std::string_view::npos; }
bool starts(std::string_view a, std::string_view b) { return a.substr(0, b.size()) == b; }
bool ends(std::string_view a, std::string_view b) { return a.size() >= b.size() && a.substr(a.size() - b.size()) == b; }

bool is_text(const Shape& s) {
  return s.k == Shape::K::Eq || s.k == Shape::K::Contains || s.k == Shape::K::Starts || s.k == Shape::K::Ends;
}

bool in_range(double v, const Shape& r) {
  if (v < r.lo || (v == r.lo && !r.lo_incl)) return false;
  if (v > r.hi || (v == r.hi && !r.hi_incl)) return false;
  return true;
}

// Every value matching a also matches b.
bool shape_implies(const Shape& a, const Shape& b) {
  if (b.k == Shape::K::Other || a.k == Shape::K::Other)
    return a.k == Shape::K::Other && b.k == Shape::K::Other && a.key == b.key;
  if (a.k == Shape::K::Null || b.k == Shape::K::Null) return a.k == b.k;
  if (b.k == Shape::K::Range) {
    if (a.k == Shape::K::Range)
      return (a.lo > b.lo || (a.lo == b.lo && (b.lo_incl || !a.lo_incl))) &&
             (a.hi < b.hi || (a.hi == b.hi && (b.hi_incl || !a.hi_incl)));
    double v;
    return a.k == Shape::K::Eq && parse_double(a.text, v) && in_range(v, b);
  }
  if (a.k == Shape::K::Range) return false;
  if (b.cased && !a.cased) {
    // A case-insensitive match does not imply a case-sensitive one unless
    // the text has no letters.
    if (std::any_of(a.text.begin(), a.text.end(), [](unsigned char c) { return std::isalpha(c) || c >= 0x80; }))
      return false;
  }
  const bool exact = a.cased && b.cased;
  if (!exact && (!a.ascii || !b.ascii)) return a.k == b.k && a.text == b.text;
  const std::string& x = exact ? a.text : a.folded;
  const std::string& y = exact ? b.text : b.folded;
  switch (b.k) {
    case Shape::K::Eq: {
      if (a.k != Shape::K::Eq) return false;
      double u, v;
      if (parse_double(x, u) && parse_double(y, v)) return u == v;
      return x == y;
    }
    case Shape::K::Contains: return contains(x, y);
    case Shape::K::Starts: return (a.k == Shape::K::Eq || a.k == Shape::K::Starts) && starts(x, y);
    case Shape::K::Ends: return (a.k == Shape::K::Eq || a.k == Shape::K::Ends) && ends(x, y);
    default: return false;
  }
}

// No value matches both a and b.
bool shapes_exclude(const Shape& a, const Shape& b) {
  if (a.k == Shape::K::Other || b.k == Shape::K::Other) return false;
  if (a.k == Shape::K::Null || b.k == Shape::K::Null) {
    if (a.k == Shape::K::Null && b.k == Shape::K::Null) return false;
    const Shape& t = a.k == Shape::K::Null ? b : a;
    return is_text(t) && !t.text.empty();
  }
  if (a.k == Shape::K::Range || b.k == Shape::K::Range) {
    if (a.k == Shape::K::Range && b.k == Shape::K::Range) {
      double lo = std::max(a.lo, b.lo), hi = std::min(a.hi, b.hi);
      if (lo > hi) return true;
      if (lo == hi) {
        bool lo_in = (a.lo < lo || a.lo_incl) && (b.lo < lo || b.lo_incl);
        bool hi_in = (a.hi > hi || a.hi_incl) && (b.hi > hi || b.hi_incl);
        return !(lo_in && hi_in);
      }
      return false;
    }
    const Shape& r = a.k == Shape::K::Range ? a : b;
    const Shape& t = a.k == Shape::K::Range ? b : a;
    double v;
    return t.k == Shape::K::Eq && parse_double(t.text, v) && !in_range(v, r);
  }
  const bool exact = a.cased && b.cased;
  if (!exact && (!a.ascii || !b.ascii)) return false;  // case folding beyond ASCII: not sure
  const std::string& x = exact ? a.text : a.folded;
  const std::string& y = exact ? b.text : b.folded;
  using K = Shape::K;
  auto eq_vs = [&](const std::string& e, K k, const std::string& t) {
    switch (k) {
      case K::Eq: {
        double u, v;
        if (parse_double(e, u) && parse_double(t, v)) return u != v;
        return e != t;
      }
      case K::Contains: return !contains(e, t);
      case K::Starts: return !starts(e, t);
      case K::Ends: return !ends(e, t);
      default: return false;
    }
  };
  if (a.k == K::Eq) return eq_vs(x, b.k, y);
  if (b.k == K::Eq) return eq_vs(y, a.k, x);
  if (a.k == K::Starts && b.k == K::Starts) return !starts(x, y) && !starts(y, x);
  if (a.k == K::Ends && b.k == K::Ends) return !ends(x, y) && !ends(y, x);
  return false;
}

struct Atom {
  std::string field;  // empty for keywords
  bool exists = false;  // an exists test (positive literal: the field is present)
  std::vector<std::vector<Shape>> clauses;
  int stage = -1, predicate = -1;
  Position pos;
  std::string key;
};

struct Lit {
  int atom = -1;
  bool pos = true;
};

using Term = std::vector<Lit>;

constexpr std::size_t kStageCap = 256;
constexpr std::size_t kConditionCap = 256;
constexpr std::size_t kProductCap = 4096;

Atom make_atom(const Predicate& p, int stage, int index, const std::string& key, bool& positive) {
  Atom a;
  a.field = p.field;
  a.stage = stage;
  a.predicate = index;
  a.pos = {p.line, p.column};
  a.key = key;
  positive = !p.negated;
  if (p.op == MatchOp::Exists) {
    a.exists = true;
    positive = p.values.empty() || p.values.front().exists;
    return a;
  }
  auto shapes_of = [&](const CompiledValue& v) {
    std::vector<Shape> out;
    switch (v.kind) {
      case CompiledValue::Kind::Pattern:
        if (p.expand) {
          Shape s;
          s.key = "expand:" + v.written;
          out.push_back(s);
          break;
        }
        for (const auto& alt : v.alternatives) out.push_back(text_shape(p.op, alt, p.cased));
        break;
      case CompiledValue::Kind::Null: {
        Shape s;
        s.k = Shape::K::Null;
        out.push_back(s);
        break;
      }
      case CompiledValue::Kind::Number: {
        Shape s;
        if (p.time_part != TimePart::None) {
          s.key = fmt::format("time:{}:{}:{}", time_part_name(p.time_part), match_op_name(p.op), v.number);
        } else {
          s.k = Shape::K::Range;
          if (p.op == MatchOp::Less || p.op == MatchOp::LessEqual) {
            s.hi = v.number;
            s.hi_incl = p.op == MatchOp::LessEqual;
          } else if (p.op == MatchOp::Greater || p.op == MatchOp::GreaterEqual) {
            s.lo = v.number;
            s.lo_incl = p.op == MatchOp::GreaterEqual;
          } else {
            s.lo = s.hi = v.number;
            s.lo_incl = s.hi_incl = true;
          }
        }
        out.push_back(s);
        break;
      }
      case CompiledValue::Kind::Regex: {
        Shape s;
        s.key = fmt::format("re:{}:{}{}{}", v.regex.source, v.regex.case_insensitive, v.regex.multi_line, v.regex.dot_all);
        out.push_back(s);
        break;
      }
      default: {
        Shape s;
        s.key = fmt::format("{}:{}:{}", match_op_name(p.op), static_cast<int>(v.kind), v.written);
        out.push_back(s);
      }
    }
    return out;
  };
  if (p.match_all) {
    for (const auto& v : p.values) a.clauses.push_back(shapes_of(v));
    if (a.clauses.empty()) a.clauses.emplace_back();
  } else {
    a.clauses.emplace_back();
    for (const auto& v : p.values)
      for (auto& s : shapes_of(v)) a.clauses.back().push_back(std::move(s));
  }
  return a;
}

bool atom_implies(const Atom& a, const Atom& b) {
  if (a.field != b.field) return false;
  if (b.exists) {
    if (a.exists) return true;
    if (a.field.empty()) return false;
    for (const auto& c : a.clauses)
      if (!c.empty() && std::all_of(c.begin(), c.end(), [](const Shape& s) { return s.k != Shape::K::Null; }))
        return true;
    return false;
  }
  if (a.exists) return false;
  for (const auto& cb : b.clauses) {
    bool covered = false;
    for (const auto& ca : a.clauses) {
      if (ca.empty()) continue;
      if (std::all_of(ca.begin(), ca.end(), [&](const Shape& sa) {
            return std::any_of(cb.begin(), cb.end(), [&](const Shape& sb) { return shape_implies(sa, sb); });
          })) {
        covered = true;
        break;
      }
    }
    if (!covered) return false;
  }
  return true;
}

bool clauses_exclude(const std::vector<Shape>& x, const std::vector<Shape>& y) {
  if (x.empty() || y.empty()) return false;
  for (const auto& a : x)
    for (const auto& b : y)
      if (!shapes_exclude(a, b)) return false;
  return true;
}

bool atoms_exclude(const Atom& a, const Atom& b) {
  if (a.field != b.field || a.field.empty() || a.exists || b.exists) return false;
  for (const auto& ca : a.clauses)
    for (const auto& cb : b.clauses)
      if (clauses_exclude(ca, cb)) return true;
  return false;
}

bool atom_self_excludes(const Atom& a) {
  if (a.exists || a.field.empty()) return false;
  for (std::size_t i = 0; i < a.clauses.size(); ++i)
    for (std::size_t j = i + 1; j < a.clauses.size(); ++j)
      if (clauses_exclude(a.clauses[i], a.clauses[j])) return true;
  return false;
}

bool atom_empty(const Atom& a) {
  return !a.exists && std::any_of(a.clauses.begin(), a.clauses.end(), [](const auto& c) { return c.empty(); });
}

struct Conflict {
  enum class Kind { Empty, SelfExclusive, Exclusive, Negated } kind;
  int a = -1, b = -1;  // atom indices
};

std::optional<Conflict> find_conflict(const Term& t, const std::vector<Atom>& atoms) {
  for (const Lit& x : t) {
    if (!x.pos) continue;
    const Atom& a = atoms[x.atom];
    if (atom_empty(a)) return Conflict{Conflict::Kind::Empty, x.atom, x.atom};
    if (atom_self_excludes(a)) return Conflict{Conflict::Kind::SelfExclusive, x.atom, x.atom};
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!t[i].pos) continue;
    for (std::size_t j = 0; j < t.size(); ++j) {
      if (i == j) continue;
      if (t[j].pos) {
        if (j > i && t[i].atom != t[j].atom && atoms_exclude(atoms[t[i].atom], atoms[t[j].atom]))
          return Conflict{Conflict::Kind::Exclusive, t[i].atom, t[j].atom};
      } else if (atom_implies(atoms[t[i].atom], atoms[t[j].atom])) {
        return Conflict{Conflict::Kind::Negated, t[i].atom, t[j].atom};
      }
    }
  }
  return std::nullopt;
}

// DNF of a stage tree; nullopt when it grows past the cap.
std::optional<std::vector<Term>> stage_dnf(const StageNode& n, const std::vector<Lit>& lits) {
  switch (n.op) {
    case StageNode::Op::Predicate: return std::vector<Term>{Term{lits[n.predicate]}};
    case StageNode::Op::Or: {
      std::vector<Term> out;
      for (const auto& c : n.children) {
        auto d = stage_dnf(c, lits);
        if (!d) return std::nullopt;
        out.insert(out.end(), d->begin(), d->end());
        if (out.size() > kStageCap) return std::nullopt;
      }
      return out;
    }
    case StageNode::Op::And: {
      std::vector<Term> out{Term{}};
      for (const auto& c : n.children) {
        auto d = stage_dnf(c, lits);
        if (!d) return std::nullopt;
        if (out.size() * d->size() > kStageCap) return std::nullopt;
        std::vector<Term> next;
        for (const auto& x : out)
          for (const auto& y : *d) {
            Term t = x;
            t.insert(t.end(), y.begin(), y.end());
            next.push_back(std::move(t));
          }
        out = std::move(next);
      }
      return out;
    }
  }
  return std::nullopt;
}

struct StageLit {
  int stage;
  bool pos;
  // False for a negated stage that came out of De Morgan on 'not (a and b)':
  // it is one alternative, not a filter the condition applies as a whole.
  bool direct = true;
};
using StageTerm = std::vector<StageLit>;

std::optional<std::vector<StageTerm>> condition_dnf(const ConditionExpr& e, bool negate, bool direct = true) {
  using Op = ConditionExpr::Op;
  switch (e.op) {
    case Op::Stage: return std::vector<StageTerm>{StageTerm{{e.stage, !negate, direct}}};
    case Op::Not:
      if (e.children.empty()) return std::nullopt;
      return condition_dnf(e.children.front(), !negate, direct);
    case Op::And:
    case Op::Or: {
      bool conj = (e.op == Op::And) != negate;
      if (!conj) {
        std::vector<StageTerm> out;
        for (const auto& c : e.children) {
          auto d = condition_dnf(c, negate, direct && !negate);
          if (!d) return std::nullopt;
          out.insert(out.end(), d->begin(), d->end());
          if (out.size() > kConditionCap) return std::nullopt;
        }
        return out;
      }
      std::vector<StageTerm> out{StageTerm{}};
      for (const auto& c : e.children) {
        auto d = condition_dnf(c, negate, direct);
        if (!d) return std::nullopt;
        if (out.size() * d->size() > kConditionCap) return std::nullopt;
        std::vector<StageTerm> next;
        for (const auto& x : out)
          for (const auto& y : *d) {
            StageTerm t = x;
            t.insert(t.end(), y.begin(), y.end());
            next.push_back(std::move(t));
          }
        out = std::move(next);
      }
      return out;
    }
  }
  return std::nullopt;
}

// The conjunction `t` implies the stage tree `n`.
bool term_implies_node(const Term& t, const StageNode& n, const std::vector<Lit>& lits,
                       const std::vector<Atom>& atoms) {
  switch (n.op) {
    case StageNode::Op::And:
      return std::all_of(n.children.begin(), n.children.end(),
                         [&](const StageNode& c) { return term_implies_node(t, c, lits, atoms); });
    case StageNode::Op::Or:
      return std::any_of(n.children.begin(), n.children.end(),
                         [&](const StageNode& c) { return term_implies_node(t, c, lits, atoms); });
    case StageNode::Op::Predicate: {
      const Lit& q = lits[n.predicate];
      const Atom& qa = atoms[q.atom];
      for (const Lit& x : t) {
        const Atom& xa = atoms[x.atom];
        if (q.pos && x.pos && atom_implies(xa, qa)) return true;
        if (!q.pos && !x.pos && atom_implies(qa, xa)) return true;
        if (!q.pos && x.pos && atoms_exclude(xa, qa)) return true;
      }
      return false;
    }
  }
  return false;
}

void check_semantics(RuleLinter& l, const CompiledRule& cr) {
  if (cr.rule.kind != RuleKind::Detection || cr.stages.empty()) return;
  if (!l.on("never-matches") && !l.on("filter-covers-selection") && !l.on("contradictory-equality")) return;

  const YamlNode* det = detection_of(cr.rule);
  std::map<std::pair<int, int>, std::string> keys;
  if (det) collect_keys(*det, keys);

  std::vector<Atom> atoms;
  std::vector<std::vector<Lit>> stage_lits(cr.stages.size());
  for (std::size_t s = 0; s < cr.stages.size(); ++s) {
    const Stage& st = cr.stages[s];
    for (std::size_t i = 0; i < st.predicates.size(); ++i) {
      const Predicate& p = st.predicates[i];
      std::string key = p.is_keyword() ? std::string("keywords") : p.key();
      if (auto it = keys.find({p.line, p.column}); it != keys.end() && !p.is_keyword()) key = it->second;
      bool positive = true;
      atoms.push_back(make_atom(p, static_cast<int>(s), static_cast<int>(i), key, positive));
      stage_lits[s].push_back({static_cast<int>(atoms.size() - 1), positive});
    }
  }
  std::vector<std::optional<std::vector<Term>>> dnfs(cr.stages.size());
  for (std::size_t s = 0; s < cr.stages.size(); ++s) dnfs[s] = stage_dnf(cr.stages[s].root, stage_lits[s]);

  std::set<std::pair<int, int>> reported_pairs;
  auto value_list = [](const Atom& a) {
    std::vector<std::string> v;
    for (const auto& c : a.clauses)
      for (const auto& s : c) {
        if (v.size() >= 3) return join(v, ", ") + ", ...";
        v.push_back(is_text(s) ? "'" + show(s.text, 40) + "'" : s.k == Shape::K::Range ? "a number range" : "...");
      }
    return join(v, ", ");
  };
  auto stage_name = [&](const Atom& a) { return cr.stages[a.stage].name; };
  auto report_conflict = [&](const Conflict& c) {
    if (c.kind != Conflict::Kind::Exclusive && c.kind != Conflict::Kind::SelfExclusive) return;
    if (!reported_pairs.insert({std::min(c.a, c.b), std::max(c.a, c.b)}).second) return;
    const Atom& a = atoms[c.a];
    const Atom& b = atoms[c.b];
    if (c.kind == Conflict::Kind::SelfExclusive) {
      l.report("contradictory-equality", a.pos,
               fmt::format("'{}' in '{}' requires {} to match each of {} at once, which no value can",
                           a.key, stage_name(a), a.field, value_list(a)));
      return;
    }
    std::string where = a.stage == b.stage
                            ? fmt::format("selection '{}'", stage_name(a))
                            : fmt::format("selections '{}' and '{}', which the condition joins with 'and',",
                                          stage_name(a), stage_name(b));
    l.report("contradictory-equality", b.pos,
             fmt::format("{} requires field {} to match '{}' ({}) and '{}' ({}) together, which no value can",
                         where, a.field, a.key, value_list(a), b.key, value_list(b)));
  };

  // Per stage: contradictions inside a selection (also in filters, which then never filter).
  for (std::size_t s = 0; s < cr.stages.size(); ++s) {
    if (!dnfs[s]) continue;
    for (const auto& t : *dnfs[s])
      if (auto c = find_conflict(t, atoms)) report_conflict(*c);
  }

  auto cond = condition_dnf(cr.condition, false);
  if (!cond || cond->empty()) return;
  bool complete = true;   // every term was analysed
  bool all_dead = true;
  std::string first_reason;
  std::set<std::pair<std::string, int>> reported_filters;
  for (const auto& term : *cond) {
    std::vector<int> pos_stages, neg_stages;
    std::set<int> direct_neg;
    for (const auto& sl : term) {
      auto& v = sl.pos ? pos_stages : neg_stages;
      if (std::find(v.begin(), v.end(), sl.stage) == v.end()) v.push_back(sl.stage);
      if (!sl.pos && sl.direct) direct_neg.insert(sl.stage);
    }
    // Product of the positive stages' DNFs.
    std::vector<Term> product{Term{}};
    bool ok = true;
    for (int s : pos_stages) {
      if (!dnfs[s] || product.size() * dnfs[s]->size() > kProductCap) {
        ok = false;
        break;
      }
      std::vector<Term> next;
      for (const auto& x : product)
        for (const auto& y : *dnfs[s]) {
          Term t = x;
          t.insert(t.end(), y.begin(), y.end());
          next.push_back(std::move(t));
        }
      product = std::move(next);
    }
    if (!ok) {
      complete = false;
      all_dead = false;
      continue;
    }
    bool term_alive = false;
    std::vector<Term> satisfiable;
    std::string reason;
    for (const auto& t : product) {
      if (auto c = find_conflict(t, atoms)) {
        report_conflict(*c);
        if (reason.empty()) {
          const Atom& a = atoms[c->a];
          const Atom& b = atoms[c->b];
          switch (c->kind) {
            case Conflict::Kind::Empty: reason = fmt::format("'{}' in '{}' has no values", a.key, stage_name(a)); break;
            case Conflict::Kind::SelfExclusive:
              reason = fmt::format("'{}' in '{}' needs values that exclude each other", a.key, stage_name(a));
              break;
            case Conflict::Kind::Exclusive:
              reason = fmt::format("field {} must match '{}' ({}) and '{}' ({}) at once", a.field, a.key,
                                   value_list(a), b.key, value_list(b));
              break;
            case Conflict::Kind::Negated:
              reason = fmt::format("'{}' in '{}' contradicts the negated '{}' in '{}'", a.key, stage_name(a), b.key,
                                   stage_name(b));
              break;
          }
        }
        continue;
      }
      satisfiable.push_back(t);
    }
    // Filters that cover every satisfiable branch of the positive part.
    std::vector<int> covering;
    for (int b : neg_stages) {
      bool covers = !satisfiable.empty() && !pos_stages.empty() &&
                    std::all_of(satisfiable.begin(), satisfiable.end(), [&](const Term& t) {
                      return term_implies_node(t, cr.stages[b].root, stage_lits[b], atoms);
                    });
      if (covers) covering.push_back(b);
    }
    for (int b : covering) {
      if (!direct_neg.count(b)) continue;  // one branch of 'not (x and y)', not a filter of its own
      std::vector<std::string> sel;
      for (int s : pos_stages) sel.push_back("'" + cr.stages[s].name + "'");
      std::string selection = join(sel, " and ");
      std::string plain;
      for (int s : pos_stages) plain += (plain.empty() ? "" : " and ") + cr.stages[s].name;
      if (!reported_filters.insert({selection, b}).second) continue;
      bool self = std::find(pos_stages.begin(), pos_stages.end(), b) != pos_stages.end();
      Position pos = condition_position(cr.rule);
      if (self)
        l.report("filter-covers-selection", pos,
                 fmt::format("the condition requires '{}' and 'not {}' together", cr.stages[b].name, cr.stages[b].name));
      else
        l.report("filter-covers-selection", {cr.stages[b].line, 0},
                 fmt::format("filter '{}' matches every event that {} match{}, so '{} and not {}' never matches",
                             cr.stages[b].name, selection, pos_stages.size() > 1 ? "" : "es", plain, cr.stages[b].name));
      if (reason.empty())
        reason = self ? fmt::format("it requires '{}' and 'not {}' together", cr.stages[b].name, cr.stages[b].name)
                      : fmt::format("filter '{}' removes everything {} match{}", cr.stages[b].name, selection,
                                    pos_stages.size() > 1 ? "" : "es");
    }
    term_alive = !satisfiable.empty() && covering.empty();
    if (term_alive) all_dead = false;
    if (!term_alive && first_reason.empty()) first_reason = reason;
  }
  if (complete && all_dead)
    l.report("never-matches", condition_position(cr.rule),
             fmt::format("the condition can never be true{}", first_reason.empty() ? "" : ": " + first_reason));
}

// Reports each correlation that hunt runs by default but that references a
// rule hunt skips for its status. A deprecated correlation is skipped along
// with its rules, so it is not reported.
void report_inactive_references(const std::vector<const Rule*>& all, const LintConfig& config,
                                std::vector<LintFinding>& out) {
  if (!config.enabled("correlation-status")) return;
  for (const Rule* correlation : all) {
    if (correlation->kind != RuleKind::Correlation || has_inactive_status(*correlation)) continue;
    RuleLinter l(*correlation, config, out);
    for (const std::string& reference : correlation->correlation.rules) {
      for (const Rule* target : all) {
        if (!is_referenced_by(*target, reference) || !has_inactive_status(*target)) continue;
        l.report("correlation-status", l.locate(reference, "correlation"),
                 fmt::format("correlation '{}' references rule '{}' ({}:{}), whose status is {}; hunt skips that rule "
                             "unless --all-statuses is given, so the correlation never fires",
                             correlation->title, reference, target->path, target->line, target->status),
                 fmt::format("reference a maintained rule instead of '{}', or give that rule an active status "
                             "(test, experimental or stable) if it still works",
                             reference));
      }
    }
  }
}

// Reports each alias entry keyed by a rule that the correlation's rules
// list does not reference. Such an entry is never read: hunt looks up an
// alias only for the rules of the list. A key is reported only when that is
// certain, so not when the key and a listed reference both name no loaded
// rule, because they could be the id and the name of one rule.
void report_unlisted_alias_rules(const std::vector<const Rule*>& all, const LintConfig& config,
                                 std::vector<LintFinding>& out) {
  if (!config.enabled("correlation-alias")) return;
  auto loaded_rules = [&](const std::string& reference) {
    std::vector<const Rule*> found;
    for (const Rule* r : all)
      if (is_referenced_by(*r, reference)) found.push_back(r);
    return found;
  };
  for (const Rule* correlation : all) {
    if (correlation->kind != RuleKind::Correlation) continue;
    const Correlation& spec = correlation->correlation;
    std::set<const Rule*> listed;
    bool some_listed_not_loaded = false;
    for (const std::string& reference : spec.rules) {
      const auto found = loaded_rules(reference);
      if (found.empty()) some_listed_not_loaded = true;
      listed.insert(found.begin(), found.end());
    }
    RuleLinter l(*correlation, config, out);
    for (const auto& [alias, fields] : spec.aliases) {
      for (const auto& [rule_key, field] : fields) {
        if (std::find(spec.rules.begin(), spec.rules.end(), rule_key) != spec.rules.end()) continue;
        const auto found = loaded_rules(rule_key);
        if (found.empty() && some_listed_not_loaded) continue;
        if (std::any_of(found.begin(), found.end(), [&](const Rule* r) { return listed.count(r) > 0; })) continue;
        l.report("correlation-alias", l.locate(rule_key + ":", "correlation"),
                 fmt::format("alias '{}' maps rule '{}' to field '{}', but the correlation's rules do not reference "
                             "'{}', so hunt never uses this entry",
                             alias, rule_key, field, rule_key),
                 fmt::format("key the entry by the name or id of a rule in correlation.rules ({}), or add '{}' to "
                             "that list",
                             join(spec.rules, ", "), rule_key));
      }
    }
  }
}

void lint_one(const CompiledRule* cr, const Rule& rule, const LintConfig& config, std::vector<LintFinding>& out) {
  RuleLinter l(rule, config, out);
  check_metadata(l);
  if (rule.kind != RuleKind::Correlation) check_logsource(l);
  check_tags(l);
  if (!cr) {
    check_dangling_condition(l);
    return;
  }
  if (rule.kind == RuleKind::Correlation) return;
  check_condition(l, *cr);
  check_values(l, *cr);
  check_placeholders(l, *cr, config.pipelines);
  check_unknown_fields(l, *cr);
  check_semantics(l, *cr);
}

}  // namespace

std::vector<LintFinding> lint_rules(const std::vector<CompiledRule>& rules, const std::vector<Rule>& uncompiled,
                                    const LintConfig& config, unsigned threads) {
  const std::size_t n = rules.size() + uncompiled.size();
  std::vector<std::vector<LintFinding>> per_rule(n);
  // Touch the bundled tables before the threads start.
  (void)AttackData::bundled();
  (void)LogsourceFields::bundled();
  (void)LogsourceData::bundled();
  parallel_for(n, threads, [&](std::size_t i) {
    if (i < rules.size()) lint_one(&rules[i], rules[i].rule, config, per_rule[i]);
    else lint_one(nullptr, uncompiled[i - rules.size()], config, per_rule[i]);
  });
  std::vector<LintFinding> out;
  for (auto& v : per_rule)
    for (auto& f : v) out.push_back(std::move(f));

  // Corpus-wide checks.
  std::vector<const Rule*> all;
  for (const auto& r : rules) all.push_back(&r.rule);
  for (const auto& r : uncompiled) all.push_back(&r);
  std::sort(all.begin(), all.end(), [](const Rule* a, const Rule* b) {
    return std::tie(a->path, a->document_index) < std::tie(b->path, b->document_index);
  });
  auto report_groups = [&](std::string_view check, auto key_of, auto describe) {
    if (!config.enabled(check)) return;
    std::map<std::string, std::vector<const Rule*>> groups;
    for (const Rule* r : all) {
      std::string k = key_of(*r);
      if (!k.empty()) groups[k].push_back(r);
    }
    for (const auto& [k, members] : groups) {
      if (members.size() < 2) continue;
      for (std::size_t i = 0; i < members.size(); ++i) {
        const Rule& r = *members[i];
        if (config.excluded(check, r)) continue;
        std::vector<std::string> others;
        for (std::size_t j = 0; j < members.size(); ++j)
          if (j != i) others.push_back(fmt::format("{}:{}", members[j]->path, members[j]->line));
        if (others.size() > 3) {
          std::size_t more = others.size() - 3;
          others.resize(3);
          others.push_back(fmt::format("{} more", more));
        }
        const LintCheck* c = find_lint_check(check);
        std::vector<LintFinding> one;
        RuleLinter l(r, config, one);
        auto [message, hint, needle] = describe(k, join(others, ", "));
        l.report(check, needle.empty() ? Position{r.line, 0} : l.key_position(needle), message, hint);
        (void)c;
        for (auto& f : one) out.push_back(std::move(f));
      }
    }
  };
  report_groups(
      "duplicate-id", [](const Rule& r) { return r.id; },
      [](const std::string& k, const std::string& others) {
        return std::tuple<std::string, std::string, std::string>(
            fmt::format("id {} is also used by {}", k, others), "give each rule its own UUID", "id");
      });
  report_groups(
      "duplicate-name", [](const Rule& r) { return r.name; },
      [](const std::string& k, const std::string& others) {
        return std::tuple<std::string, std::string, std::string>(
            fmt::format("name '{}' is also used by {}", k, others),
            "give each rule its own name, since correlations and filters reference rules by it", "name");
      });
  if (config.enabled("correlation-reference")) {
    // The hunt's own planner, over every compiled detection rule.
    for (const auto& u : find_unrunnable_correlations(rules)) {
      if (config.excluded("correlation-reference", u.rule->rule)) continue;
      RuleLinter l(u.rule->rule, config, out);
      l.report("correlation-reference", l.key_position("correlation"), fmt::format("the correlation cannot run: {}", u.reason),
               "");
    }
  }
  report_inactive_references(all, config, out);
  report_unlisted_alias_rules(all, config, out);
  report_groups(
      "duplicate-title", [](const Rule& r) { return r.kind == RuleKind::Filter ? std::string() : r.title; },
      [](const std::string& k, const std::string& others) {
        return std::tuple<std::string, std::string, std::string>(
            fmt::format("title '{}' is also used by {}", k, others), "", "title");
      });
  {
    // Same file name in different folders (several documents of one file are fine).
    std::map<std::string, std::set<std::string>> paths;
    for (const Rule* r : all) paths[file_name(r->path)].insert(r->path);
    report_groups(
        "duplicate-filename",
        [&](const Rule& r) {
          std::string name = file_name(r.path);
          return paths[name].size() > 1 && r.document_index == 0 ? name : std::string();
        },
        [](const std::string& k, const std::string& others) {
          return std::tuple<std::string, std::string, std::string>(
              fmt::format("file name '{}' is also used by {}", k, others), "", "");
        });
  }

  std::sort(out.begin(), out.end(), [](const LintFinding& a, const LintFinding& b) {
    return std::tie(a.file, a.line, a.column, a.check, a.message) < std::tie(b.file, b.line, b.column, b.check, b.message);
  });
  return out;
}

std::vector<LintFinding> lint_load_warnings(const DiagnosticList& diagnostics, const std::vector<CompiledRule>& rules,
                                            const std::vector<Rule>& uncompiled,
                                            const std::vector<LintFinding>& reported, const LintConfig& config) {
  // The rule a warning is about: same file and id, and its line inside the document.
  std::map<std::string, std::vector<const Rule*>> by_file;
  for (const auto& r : rules) by_file[r.rule.path].push_back(&r.rule);
  for (const auto& r : uncompiled) by_file[r.path].push_back(&r);
  auto rule_of = [&](const Diagnostic& d) -> const Rule* {
    auto it = by_file.find(d.file);
    if (it == by_file.end()) return nullptr;
    for (const Rule* r : it->second) {
      if (r->id != d.rule_id) continue;
      const int last = r->line + static_cast<int>(std::count(r->source_text.begin(), r->source_text.end(), '\n'));
      if (d.line == 0 || (d.line >= r->line && d.line <= last)) return r;
    }
    return nullptr;
  };
  // lint_rules reports duplicate-id at the id key, the loader at the document's
  // first line, so that check is matched by rule alone.
  std::set<std::tuple<std::string, std::string, std::string, int>> reported_at;
  for (const auto& f : reported) {
    reported_at.emplace(f.check, f.file, f.rule_id, f.line);
    if (f.check == "duplicate-id") reported_at.emplace(f.check, f.file, f.rule_id, 0);
  }
  auto already_reported = [&](const Diagnostic& d) {
    const int line = d.check == "duplicate-id" ? 0 : d.line;
    return reported_at.count({d.check, d.file, d.rule_id, line}) > 0;
  };

  std::vector<LintFinding> out;
  for (const auto& d : diagnostics.items()) {
    if (d.severity != Severity::Warning || d.check.empty() || !config.enabled(d.check)) continue;
    const LintCheck* check = find_lint_check(d.check);
    if (!check || already_reported(d)) continue;
    Rule stand_in;  // for warnings about a file, or a document that did not load
    stand_in.path = d.file;
    stand_in.id = d.rule_id;
    const Rule* rule = rule_of(d);
    if (config.excluded(d.check, rule ? *rule : stand_in)) continue;
    LintFinding f;
    f.check = d.check;
    f.severity = config.severity_of(*check);
    f.file = d.file;
    f.line = d.line;
    f.column = d.column;
    f.rule_id = d.rule_id;
    if (rule) f.title = rule->title;
    f.message = d.message;
    f.hint = d.hint.empty() ? std::string(check->help) : d.hint;
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<LintFinding> lint_load_errors(const DiagnosticList& diagnostics, const std::vector<LintFinding>& reported) {
  std::set<std::tuple<std::string, std::string, std::string, int>> reported_at;
  for (const auto& f : reported) reported_at.emplace(f.check, f.file, f.rule_id, f.line);
  std::vector<LintFinding> out;
  for (const auto& d : diagnostics.items()) {
    if (d.severity != Severity::Error) continue;
    if (!d.check.empty() && reported_at.count({d.check, d.file, d.rule_id, d.line})) continue;
    LintFinding f;
    f.check = "load-error";
    f.severity = LintSeverity::Error;
    f.file = d.file;
    f.line = d.line;
    f.column = d.column;
    f.rule_id = d.rule_id;
    f.message = d.message;
    f.hint = d.hint;
    out.push_back(std::move(f));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reports

std::map<std::string, std::size_t> lint_counts(const std::vector<LintFinding>& findings, const LintConfig& config) {
  std::map<std::string, std::size_t> counts;
  for (const auto& c : kChecks)
    if (config.enabled(c.id)) counts[std::string(c.id)] = 0;
  for (const auto& f : findings) ++counts[f.check];
  return counts;
}

std::string lint_report_text(const std::vector<LintFinding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    // The report goes to terminals: rule text in it may not carry escape sequences.
    std::string line = f.file;
    if (f.line > 0) line += fmt::format(":{}", f.line);
    if (f.line > 0 && f.column > 0) line += fmt::format(":{}", f.column);
    line += fmt::format(": {}[{}]: {}", lint_severity_name(f.severity), f.check, f.message);
    if (!f.rule_id.empty()) line += fmt::format(" [rule {}]", f.rule_id);
    out += escape_control_characters(line) + "\n";
    if (!f.hint.empty()) out += "  fix: " + escape_control_characters(f.hint) + "\n";
  }
  return out;
}

namespace {
nlohmann::json finding_json(const LintFinding& f) {
  return {{"check", f.check},  {"severity", lint_severity_name(f.severity)},
          {"file", f.file},    {"line", f.line},
          {"column", f.column}, {"rule_id", f.rule_id},
          {"title", f.title},  {"message", f.message},
          {"hint", f.hint}};
}

std::string sarif_uri(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '\\') out.push_back('/');
    else if (c == ' ') out += "%20";
    else if (c == '%') out += "%25";
    else if (c == '#') out += "%23";
    else out.push_back(c);
  }
  return out;
}

std::string_view sarif_level(LintSeverity s) {
  switch (s) {
    case LintSeverity::Error: return "error";
    case LintSeverity::Warning: return "warning";
    case LintSeverity::Info: return "note";
  }
  return "warning";
}
}  // namespace

nlohmann::json lint_report_json(const std::vector<LintFinding>& findings, const nlohmann::json& summary) {
  nlohmann::json by_check = nlohmann::json::object();
  nlohmann::json by_severity = {{"error", 0}, {"warning", 0}, {"info", 0}};
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    by_check[f.check] = by_check.value(f.check, 0) + 1;
    by_severity[std::string(lint_severity_name(f.severity))] =
        by_severity[std::string(lint_severity_name(f.severity))].get<int>() + 1;
    list.push_back(finding_json(f));
  }
  nlohmann::json s = summary.is_object() ? summary : nlohmann::json::object();
  s["findings"] = findings.size();
  s["by_severity"] = by_severity;
  s["by_check"] = by_check;
  return {{"summary", s}, {"findings", list}};
}

nlohmann::json lint_report_sarif(const std::vector<LintFinding>& findings, const std::string& tool_version) {
  nlohmann::json rules = nlohmann::json::array();
  std::map<std::string, int> index;
  for (const auto& c : kChecks) {
    index[std::string(c.id)] = static_cast<int>(rules.size());
    rules.push_back({{"id", c.id},
                     {"name", c.id},
                     {"shortDescription", {{"text", c.summary}}},
                     {"fullDescription", {{"text", fmt::format("{} (origin: {})", c.summary, c.origin)}}},
                     {"help", {{"text", c.help}}},
                     {"defaultConfiguration", {{"level", sarif_level(c.severity)}, {"enabled", c.enabled_by_default}}},
                     {"properties", {{"origin", c.origin}}}});
  }
  nlohmann::json results = nlohmann::json::array();
  for (const auto& f : findings) {
    nlohmann::json region = {{"startLine", std::max(1, f.line)}};
    if (f.column > 0) region["startColumn"] = f.column;
    std::string text = f.message;
    if (!f.hint.empty()) text += " Fix: " + f.hint;
    nlohmann::json result = {
        {"ruleId", f.check},
        {"level", sarif_level(f.severity)},
        {"message", {{"text", text}}},
        {"locations",
         nlohmann::json::array({{{"physicalLocation",
                                  {{"artifactLocation", {{"uri", sarif_uri(f.file)}}}, {"region", region}}}}})}};
    if (auto it = index.find(f.check); it != index.end()) result["ruleIndex"] = it->second;
    if (!f.rule_id.empty()) result["properties"] = {{"sigmaRuleId", f.rule_id}, {"sigmaRuleTitle", f.title}};
    results.push_back(std::move(result));
  }
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs", nlohmann::json::array({{{"tool",
                                            {{"driver",
                                              {{"name", "sigscope"},
                                               {"version", tool_version},
                                               {"informationUri", "https://github.com/SigmaHQ/sigma-specification"},
                                               {"rules", rules}}}}},
                                           {"columnKind", "unicodeCodePoints"},
                                           {"results", results}}})}};
}

}  // namespace sigscope
