#include "sigscope/pipeline/conditions.h"

#include <re2/re2.h>

#include <algorithm>
#include <functional>

#include "sigscope/common/text.h"

namespace sigscope::pipeline_detail {

namespace {

using Kind = PipelineCondition::Kind;

// Evaluates a condition group with `test` deciding each condition.
template <class Test>
bool evaluate(const ConditionGroup& group, const Test& test);

template <class Test>
bool evaluate_expression(const ConditionAst& ast, const ConditionGroup& group, const Test& test) {
  switch (ast.op) {
    case ConditionAst::Op::Identifier:
      for (const auto& c : group.conditions)
        if (c.name == ast.name) return test(c);
      return false;
    case ConditionAst::Op::Not: return !evaluate_expression(ast.children[0], group, test);
    case ConditionAst::Op::And:
      for (const auto& child : ast.children)
        if (!evaluate_expression(child, group, test)) return false;
      return true;
    case ConditionAst::Op::Or:
      for (const auto& child : ast.children)
        if (evaluate_expression(child, group, test)) return true;
      return false;
    default: return false;  // the loader rejects `1 of` and `all of`
  }
}

template <class Test>
bool evaluate(const ConditionGroup& group, const Test& test) {
  // pySigma selects everything when a scope has no conditions, even when
  // `*_cond_not` is set.
  if (group.empty()) return true;
  bool result;
  if (group.expression) {
    result = evaluate_expression(*group.expression, group, test);
  } else if (group.any) {
    result = std::any_of(group.conditions.begin(), group.conditions.end(), test);
  } else {
    result = std::all_of(group.conditions.begin(), group.conditions.end(), test);
  }
  return group.negated ? !result : result;
}

bool anchored_match(const re2::RE2& regex, const std::string& text) {
  return regex.Match(text, 0, text.size(), re2::RE2::ANCHOR_START, nullptr, 0);
}

// Compares a processing state value with a condition's `val` using its `op`.
bool state_matches(const PipelineCondition& c, const RuleState& state) {
  auto it = state.rule.pipeline.state.find(c.key);
  if (it == state.rule.pipeline.state.end()) return false;
  const std::string& current = it->second;
  char* end = nullptr;
  double current_number = std::strtod(current.c_str(), &end);
  bool numeric = c.number && !current.empty() && end == current.c_str() + current.size();
  int order = 0;
  if (!numeric) {
    order = current.compare(c.value);
  } else if (current_number < *c.number) {
    order = -1;
  } else if (current_number > *c.number) {
    order = 1;
  }
  if (c.op == "eq") return order == 0;
  if (c.op == "ne") return order != 0;
  if (c.op == "gte") return order >= 0;
  if (c.op == "gt") return order > 0;
  if (c.op == "lte") return order <= 0;
  return order < 0;
}

bool value_equals(const CompiledValue& value, const PipelineCondition& c) {
  if (c.number && value.numeric) return value.number == *c.number;
  if (value.kind == CompiledValue::Kind::Pattern && value.alternatives.size() == 1)
    return value.alternatives.front() == Pattern::parse(c.value);
  return value.written == c.value;
}

bool value_matches(const PipelineCondition& c, const CompiledValue& value) {
  switch (c.kind) {
    case Kind::MatchString: {
      auto text = single_string(value);
      bool result = text && c.regex && anchored_match(*c.regex, *text);
      return c.negate ? !result : result;
    }
    case Kind::MatchValue: return value_equals(value, c);
    case Kind::ContainsWildcard:
      return value.kind == CompiledValue::Kind::Pattern && value.alternatives.size() == 1 &&
             value.alternatives.front().has_wildcards();
    case Kind::IsNull: return value.kind == CompiledValue::Kind::Null;
    default: return false;
  }
}

bool detection_item_condition(const PipelineCondition& c, const Predicate& predicate,
                              const RuleState& state) {
  switch (c.kind) {
    case Kind::DetectionItemProcessingItemApplied:
      return std::find(predicate.pipeline_items.begin(), predicate.pipeline_items.end(), c.item_id) !=
             predicate.pipeline_items.end();
    case Kind::DetectionItemProcessingState: return state_matches(c, state);
    default: {
      auto test = [&](const CompiledValue& v) { return value_matches(c, v); };
      return c.all_values ? std::all_of(predicate.values.begin(), predicate.values.end(), test)
                          : std::any_of(predicate.values.begin(), predicate.values.end(), test);
    }
  }
}

bool field_condition(const PipelineCondition& c, const std::string& field, const Predicate* predicate,
                     const RuleState& state) {
  switch (c.kind) {
    case Kind::IncludeFields:
    case Kind::ExcludeFields: {
      bool included = false;
      if (!field.empty()) {
        if (c.field_patterns.empty()) {
          included = std::find(c.fields.begin(), c.fields.end(), field) != c.fields.end();
        } else {
          included = std::any_of(c.field_patterns.begin(), c.field_patterns.end(),
                                 [&](const auto& regex) { return anchored_match(*regex, field); });
        }
      }
      return c.kind == Kind::IncludeFields ? included : !included;
    }
    case Kind::FieldNameProcessingItemApplied: {
      if (predicate)
        return std::find(predicate->pipeline_items.begin(), predicate->pipeline_items.end(),
                         c.item_id) != predicate->pipeline_items.end();
      auto it = state.field_items.find(field);
      return it != state.field_items.end() && it->second.count(c.item_id) > 0;
    }
    case Kind::FieldNameProcessingState: return state_matches(c, state);
    default: return false;
  }
}

bool any_predicate(const CompiledRule& rule, const std::function<bool(const Predicate&)>& test) {
  for (const auto& stage : rule.stages)
    for (const auto& predicate : stage.predicates)
      if (test(predicate)) return true;
  return false;
}

bool rule_condition(const PipelineCondition& c, const RuleState& state) {
  const CompiledRule& rule = state.rule;
  switch (c.kind) {
    case Kind::Logsource: {
      auto matches = [&](const Logsource& ls) {
        return (!c.category || *c.category == ls.category) && (!c.product || *c.product == ls.product) &&
               (!c.service || *c.service == ls.service);
      };
      if (rule.rule.kind == RuleKind::Correlation)
        return std::any_of(state.referenced_logsources.begin(), state.referenced_logsources.end(), matches);
      return matches(rule.rule.logsource);
    }
    case Kind::ContainsDetectionItem:
      return any_predicate(rule, [&](const Predicate& p) {
        return p.field == c.field &&
               std::any_of(p.values.begin(), p.values.end(),
                           [&](const CompiledValue& v) { return value_equals(v, c); });
      });
    case Kind::ContainsField:
      return any_predicate(rule, [&](const Predicate& p) { return p.field == c.field; });
    case Kind::RuleProcessingItemApplied: return state.applied.count(c.item_id) > 0;
    case Kind::RuleProcessingState: return state_matches(c, state);
    case Kind::Tag: {
      std::string expected = ascii_lower(c.tag);
      return std::any_of(rule.rule.tags.begin(), rule.rule.tags.end(),
                         [&](const std::string& tag) { return ascii_lower(tag) == expected; });
    }
    case Kind::IsSigmaRule: return rule.rule.kind == RuleKind::Detection;
    case Kind::IsCorrelationRule: return rule.rule.kind == RuleKind::Correlation;
    default: return false;
  }
}

}  // namespace

std::optional<std::string> single_string(const CompiledValue& value) {
  if (value.kind != CompiledValue::Kind::Pattern || value.numeric || value.alternatives.size() != 1)
    return std::nullopt;
  return value.alternatives.front().to_sigma();
}

bool rule_selected(const ConditionGroup& group, const RuleState& state) {
  return evaluate(group, [&](const PipelineCondition& c) { return rule_condition(c, state); });
}

bool predicate_selected(const Transformation& t, const Predicate& predicate, const RuleState& state) {
  bool item = evaluate(t.detection_item_conditions, [&](const PipelineCondition& c) {
    return detection_item_condition(c, predicate, state);
  });
  if (!item) return false;
  return evaluate(t.field_name_conditions, [&](const PipelineCondition& c) {
    if (field_condition(c, predicate.field, &predicate, state)) return true;
    return std::any_of(predicate.values.begin(), predicate.values.end(), [&](const CompiledValue& v) {
      return v.kind == CompiledValue::Kind::FieldRef && field_condition(c, v.field_ref, &predicate, state);
    });
  });
}

bool field_selected(const ConditionGroup& group, const std::string& field, const Predicate* predicate,
                    const RuleState& state) {
  return evaluate(group,
                  [&](const PipelineCondition& c) { return field_condition(c, field, predicate, state); });
}

}  // namespace sigscope::pipeline_detail
