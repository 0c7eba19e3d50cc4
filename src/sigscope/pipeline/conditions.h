// Evaluation of pipeline conditions against a rule, a predicate or a field
// name. Internal to pipeline/.
#pragma once

#include <map>
#include <set>
#include <vector>
#include <string>

#include "sigscope/compile/compiled.h"
#include "sigscope/pipeline/pipeline.h"

namespace sigscope::pipeline_detail {

// Per-rule state of a pipeline run while it transforms the rule.
struct RuleState {
  CompiledRule& rule;
  // Labels of the transformations whose rule conditions matched so far.
  std::set<std::string> applied;
  // Transformations that renamed each name of the rule's `fields` list.
  std::map<std::string, std::set<std::string>> field_items;
  // For a correlation rule: the logsources of the detection rules it
  // references, through other correlations too. A logsource condition
  // selects the correlation when it selects one of them, as in pySigma.
  std::vector<Logsource> referenced_logsources;
};

// Returns true when the rule conditions of a transformation select the rule.
// An empty group selects every rule.
bool rule_selected(const ConditionGroup& group, const RuleState& state);

// Returns true when the detection item and field name conditions both select
// the predicate. The field name conditions look at the predicate's field and
// at the fields its fieldref values name, as pySigma does.
bool predicate_selected(const Transformation& t, const Predicate& predicate, const RuleState& state);

// Returns true when the field name conditions select `field`. `predicate` is
// the predicate it belongs to, or nullptr for names of the rule's `fields` list.
bool field_selected(const ConditionGroup& group, const std::string& field, const Predicate* predicate,
                    const RuleState& state);

// Returns the value of a Pattern value as one Sigma string (wildcards as * and
// ?), or nullopt when it is not a single string: numbers, values with several
// encoded alternatives, regexes and the other kinds.
std::optional<std::string> single_string(const CompiledValue& value);

}  // namespace sigscope::pipeline_detail
