// Rule linting for `sigscope check`: the checks of pySigma's core validators
// (re-implemented over sigscope's rule model) plus semantic checks that reason
// over the compiled predicates: conditions that can never match, filters that
// remove everything their selection matches, contradictory values on one
// field, regex constructs beyond the Sigma subset, fields unknown for the
// logsource and technique tags without their tactic.
//
// Each check has a stable id (e.g. `dangling-detection`), a default severity
// and a default state (on or off). A configuration file can enable, disable
// and re-grade checks and exclude rules from single checks.
#pragma once

#include <map>
#include <utility>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"
#include "sigscope/pipeline/pipeline.h"
#include "sigscope/rules/model.h"

namespace sigscope {

enum class LintSeverity { Info = 0, Warning = 1, Error = 2 };

std::string_view lint_severity_name(LintSeverity s);  // info, warning, error
std::optional<LintSeverity> parse_lint_severity(std::string_view name);

struct LintCheck {
  std::string_view id;
  LintSeverity severity;
  bool enabled_by_default;
  std::string_view origin;   // "pySigma" (a core validator's counterpart) or "sigscope"
  std::string_view summary;  // one line: what the check catches
  std::string_view help;     // how to fix what it reports
};

// Every check, in documentation order. `load-error` stands for the load and
// compile errors that `check` has always reported; it cannot be disabled.
const std::vector<LintCheck>& lint_checks();
const LintCheck* find_lint_check(std::string_view id);

struct LintFinding {
  std::string check;
  LintSeverity severity = LintSeverity::Warning;
  std::string file;
  int line = 0;
  int column = 0;
  std::string rule_id;
  std::string title;
  std::string message;  // what is wrong
  std::string hint;     // how to fix it
};

struct LintConfig {
  std::set<std::string> enable;   // off-by-default checks turned on
  std::set<std::string> disable;  // checks turned off
  // check id -> rule ids, rule titles, file names or paths the check skips.
  std::map<std::string, std::set<std::string>> exclude;
  // (check id, exclude entry) -> the line of the configuration file it is on.
  std::map<std::pair<std::string, std::string>, int> exclude_lines;
  std::string path;  // the configuration file, for messages; empty without one
  std::map<std::string, LintSeverity> severity;  // severity overrides
  // Pipelines (check -p) whose placeholder values unresolved-placeholder takes
  // as set. The other checks look at the rules as written, without them.
  std::vector<Pipeline> pipelines;

  bool enabled(std::string_view check) const;
  LintSeverity severity_of(const LintCheck& check) const;
  bool excluded(std::string_view check, const Rule& rule) const;
};

// Returns true when the exclude entry `entry` names `rule`: its id, title,
// file name, path or relative path, or a glob with `*` over the last three.
bool exclude_entry_matches(const std::string& entry, const Rule& rule);

struct UnusedExclusion {
  std::string check;  // check id, or "*"
  std::string entry;
  int line = 0;       // in LintConfig::path; 0 when unknown
};

// Returns the exclude entries of `config` that match none of `rules`, in the
// order of the configuration file. Such an entry is usually a typo, so the
// check it was meant to silence still reports the rule.
std::vector<UnusedExclusion> unused_exclusions(const LintConfig& config, const std::vector<const Rule*>& rules);

// Reads a YAML configuration:
//   disable: [check-id, ...]
//   enable: [check-id, ...]
//   exclude: {check-id: [rule-id | file name | path, ...]}
//   severity: {check-id: error|warning|info}
// Returns an error message (naming file, line and the problem) when invalid.
std::optional<std::string> parse_lint_config(std::string_view text, const std::string& path,
                                             LintConfig& config);
std::optional<std::string> load_lint_config(const std::string& path, LintConfig& config);

// Lints compiled rules and the rules that loaded but failed to compile (only
// the checks that need no compiled form run on those). Corpus-wide checks
// (duplicate ids, titles and file names) look at both. Findings are sorted by
// file, line, column and check.
std::vector<LintFinding> lint_rules(const std::vector<CompiledRule>& rules,
                                    const std::vector<Rule>& uncompiled, const LintConfig& config,
                                    unsigned threads = 0);

// Turns the warnings of loading and compiling `rules` and `uncompiled` that
// name a check (Diagnostic::check) into findings, with the state, severity
// and exclusions of `config`. A warning is left out when `reported` (the
// findings of lint_rules) already has that check for the same rule and line,
// or for the same rule at all with duplicate-id.
std::vector<LintFinding> lint_load_warnings(const DiagnosticList& diagnostics, const std::vector<CompiledRule>& rules,
                                            const std::vector<Rule>& uncompiled,
                                            const std::vector<LintFinding>& reported, const LintConfig& config);

// Turns the errors of loading and compiling into load-error findings. An
// error that names a check (Diagnostic::check) is left out when `reported`
// has a finding of that check for the same rule and line, so that one problem
// in a rule is one finding.
std::vector<LintFinding> lint_load_errors(const DiagnosticList& diagnostics, const std::vector<LintFinding>& reported);

// Report renderings. `summary` (files, rules, failures...) goes into the JSON
// report as is.
std::string lint_report_text(const std::vector<LintFinding>& findings);
nlohmann::json lint_report_json(const std::vector<LintFinding>& findings, const nlohmann::json& summary);
nlohmann::json lint_report_sarif(const std::vector<LintFinding>& findings, const std::string& tool_version);

// Number of findings per check id (every enabled check listed, zeros included).
std::map<std::string, std::size_t> lint_counts(const std::vector<LintFinding>& findings,
                                               const LintConfig& config);

}  // namespace sigscope
