// Parser for Sigma condition expressions: and, or, not, parentheses,
// "1 of" / "any of" / "all of" over identifier patterns and "them".
// Precedence from high to low: not, and, or.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "sigscope/condition/ast.h"

namespace sigscope {

struct ConditionParseError {
  std::string message;
  int offset = 0;  // byte offset in the condition text where the problem is
};

// An obsolete Sigma 1.x aggregation written after a pipe, such as
// "selection | count(User) by Computer > 10". It is kept so the rule can be
// shown and reported; Sigma 2 expresses this with correlation rules.
struct LegacyAggregation {
  std::string text;  // the part after the pipe, trimmed
};

struct ParsedCondition {
  ConditionAst ast;
  std::optional<LegacyAggregation> aggregation;
};

// Maximum nesting of "not" and parentheses in a condition. SigmaHQ rules use
// fewer than ten levels; the parser and the AST walks recurse per level.
inline constexpr int kMaxConditionDepth = 64;

// Parses one condition string. Returns the error position and reason when the
// text is not a valid condition.
std::variant<ParsedCondition, ConditionParseError> parse_condition(std::string_view text);

}  // namespace sigscope
