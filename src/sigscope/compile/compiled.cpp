#include "sigscope/compile/compiled.h"

#include <algorithm>

namespace sigscope {

std::string_view match_op_name(MatchOp op) {
  switch (op) {
    case MatchOp::Equals: return "eq";
    case MatchOp::Contains: return "contains";
    case MatchOp::StartsWith: return "starts_with";
    case MatchOp::EndsWith: return "ends_with";
    case MatchOp::Regex: return "regex";
    case MatchOp::Cidr: return "cidr";
    case MatchOp::Exists: return "exists";
    case MatchOp::Less: return "lt";
    case MatchOp::LessEqual: return "lte";
    case MatchOp::Greater: return "gt";
    case MatchOp::GreaterEqual: return "gte";
  }
  return "eq";
}

std::string_view time_part_name(TimePart part) {
  switch (part) {
    case TimePart::None: return "";
    case TimePart::Minute: return "minute";
    case TimePart::Hour: return "hour";
    case TimePart::Day: return "day";
    case TimePart::Week: return "week";
    case TimePart::Month: return "month";
    case TimePart::Year: return "year";
  }
  return "";
}

std::string Predicate::kind() const {
  if (is_keyword()) return "keyword";
  if (negated) return "neq";
  if (!values.empty() && values.front().kind == CompiledValue::Kind::FieldRef) return "fieldref";
  return std::string(match_op_name(op));
}

std::vector<std::string> Predicate::extra_modifiers() const {
  // Modifiers that decide the kind are not repeated beside it.
  const std::string k = kind();
  std::vector<std::string> out;
  for (const auto& m : modifiers) {
    if (m == k) continue;
    if (k == "contains" && m == "contains") continue;
    if (k == "starts_with" && m == "startswith") continue;
    if (k == "ends_with" && m == "endswith") continue;
    if (k == "regex" && m == "re") continue;
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

std::string Predicate::key() const {
  std::string out = field;
  for (const auto& m : modifiers) {
    out += '|';
    out += m;
  }
  return out;
}

namespace {
void collect_stages(const ConditionExpr& e, std::vector<int>& out) {
  if (e.op == ConditionExpr::Op::Stage) {
    // Correlation rules have no stages; their condition stays at stage -1.
    if (e.stage >= 0 && std::find(out.begin(), out.end(), e.stage) == out.end()) out.push_back(e.stage);
    return;
  }
  for (const auto& c : e.children) collect_stages(c, out);
}
}  // namespace

std::vector<int> CompiledRule::referenced_stages() const {
  std::vector<int> out;
  collect_stages(condition, out);
  return out;
}

}  // namespace sigscope
