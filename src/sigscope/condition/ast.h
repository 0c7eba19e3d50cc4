// Syntax tree of a Sigma condition expression, as written (before `x of`
// patterns are expanded).
#pragma once

#include <string>
#include <vector>

namespace sigscope {

struct ConditionAst {
  enum class Op {
    And,
    Or,
    Not,
    Identifier,  // a named selection
    OneOf,       // "1 of pattern" / "any of pattern"; pattern "them" means every identifier
    AllOf,       // "all of pattern"
  };
  Op op = Op::Identifier;
  std::string name;                    // identifier or pattern for the leaf kinds
  std::vector<ConditionAst> children;  // operands of And/Or/Not
  int offset = 0;                      // byte offset of the node in the condition text

  bool is_leaf() const { return op == Op::Identifier || op == Op::OneOf || op == Op::AllOf; }
};

// Renders the tree back to condition syntax with minimal parentheses.
std::string to_string(const ConditionAst& ast);

}  // namespace sigscope
