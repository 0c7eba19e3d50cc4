// Compilation of loaded rules into the shared compiled form (compiled.h):
// modifiers are checked and applied, values become patterns, encodings are
// expanded, and the condition is parsed and expanded over the stages.
#pragma once

#include <optional>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"
#include "sigscope/rules/model.h"

namespace sigscope {

// Compiles one rule. Returns nullopt when the rule is invalid; the reasons are
// added to `diagnostics` with file, line, column and rule id. Warnings (an
// unused selection, an obsolete aggregation...) do not stop compilation.
std::optional<CompiledRule> compile_rule(Rule rule, DiagnosticList& diagnostics);

struct CompileResult {
  std::vector<CompiledRule> rules;
  std::size_t failed = 0;
};

// Compiles many rules with `threads` workers (0 = hardware concurrency),
// keeping their order.
CompileResult compile_rules(std::vector<Rule> rules, DiagnosticList& diagnostics,
                            unsigned threads = 0);

// Compiles one selection written outside a rule (a processing pipeline's
// add_condition), or returns nullopt after reporting its problems against
// `path` and `rule_id`. With `placeholders`, every `%name%` in a string value
// becomes a placeholder, as if each key had the expand modifier.
std::optional<Stage> compile_detached_selection(const std::string& name, const YamlNode& selection,
                                                const std::string& path, const std::string& rule_id,
                                                bool placeholders, DiagnosticList& diagnostics);

// Expands the value transformations of one modifier chain on `pattern`, in the
// order written: windash, base64, base64offset, utf16le/wide, utf16be, utf16.
// Returns an error message when a transformation cannot apply.
std::optional<std::string> apply_transform(std::string_view modifier,
                                           std::vector<Pattern>& alternatives);

// Parses "10.0.0.0/8" or "fe80::/10". Returns nullopt when invalid.
std::optional<CidrNetwork> parse_cidr(std::string_view text);

}  // namespace sigscope
