#include "sigscope/analysis/rule_facts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

namespace {

void walk_polarity(const ConditionExpr& e, bool negative, std::vector<Polarity>& out) {
  switch (e.op) {
    case ConditionExpr::Op::Stage: {
      Polarity p = negative ? Polarity::Negative : Polarity::Positive;
      Polarity& slot = out[static_cast<std::size_t>(e.stage)];
      if (slot == Polarity::Unused) slot = p;
      else if (slot != p) slot = Polarity::Both;
      return;
    }
    case ConditionExpr::Op::Not:
      walk_polarity(e.children[0], !negative, out);
      return;
    default:
      for (const auto& c : e.children) walk_polarity(c, negative, out);
  }
}

std::string cidr_text(const CidrNetwork& net) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(net.ipv6 ? AF_INET6 : AF_INET, net.address.data(), buffer, sizeof buffer);
  return fmt::format("{}/{}", buffer, net.prefix);
}

std::string format_number(double n) {
  if (n == static_cast<double>(static_cast<long long>(n))) return std::to_string(static_cast<long long>(n));
  return fmt::format("{}", n);
}

void collect_predicates(const StageNode& node, std::vector<int>& out) {
  if (node.op == StageNode::Op::Predicate) {
    out.push_back(node.predicate);
    return;
  }
  for (const auto& c : node.children) collect_predicates(c, out);
}

void render_logic(const Stage& stage, const StageNode& node, std::string& out, int parent) {
  if (node.op == StageNode::Op::Predicate) {
    const Predicate& p = stage.predicates[static_cast<std::size_t>(node.predicate)];
    std::vector<std::string> values;
    for (const auto& v : p.values) values.push_back("'" + display_value(p, v) + "'");
    std::string field = p.is_keyword() ? "keyword" : p.field;
    std::string kind = p.kind();
    auto mods = p.extra_modifiers();
    if (!mods.empty()) kind += "|" + join(mods, "|");
    if (p.is_keyword()) kind = mods.empty() ? std::string() : join(mods, "|");
    out += field;
    if (!kind.empty()) out += " " + kind;
    out += " ";
    if (values.size() == 1) out += values.front();
    else out += (p.match_all ? "all of [" : "any of [") + join(values, ", ") + "]";
    return;
  }
  int prec = node.op == StageNode::Op::And ? 2 : 1;
  if (prec < parent) out += '(';
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    if (i) out += node.op == StageNode::Op::And ? " and " : " or ";
    render_logic(stage, node.children[i], out, prec);
  }
  if (prec < parent) out += ')';
}

// Flattens the top-level And of the condition.
void top_conjuncts(const ConditionExpr& e, std::vector<const ConditionExpr*>& out) {
  if (e.op == ConditionExpr::Op::And) {
    for (const auto& c : e.children) top_conjuncts(c, out);
    return;
  }
  out.push_back(&e);
}

void stages_under(const ConditionExpr& e, std::vector<int>& out) {
  if (e.op == ConditionExpr::Op::Stage) {
    out.push_back(e.stage);
    return;
  }
  for (const auto& c : e.children) stages_under(c, out);
}

}  // namespace

std::vector<Polarity> stage_polarities(const CompiledRule& rule) {
  std::vector<Polarity> out(rule.stages.size(), Polarity::Unused);
  if (!rule.stages.empty()) walk_polarity(rule.condition, false, out);
  return out;
}

namespace {

// Three-valued (Kleene) truth: Open for a test whose field the event may
// carry with any value.
enum class Truth { False, True, Open };

Truth truth_and(Truth a, Truth b) {
  if (a == Truth::False || b == Truth::False) return Truth::False;
  return a == Truth::True && b == Truth::True ? Truth::True : Truth::Open;
}

Truth truth_or(Truth a, Truth b) {
  if (a == Truth::True || b == Truth::True) return Truth::True;
  return a == Truth::False && b == Truth::False ? Truth::False : Truth::Open;
}

Truth truth_not(Truth a) {
  if (a == Truth::Open) return Truth::Open;
  return a == Truth::True ? Truth::False : Truth::True;
}

// Truth of a predicate on an event without its field: only `null` and
// `exists: false` hold there, and neq needs the field present.
Truth absent_truth(const Predicate& p) {
  if (p.negated || p.values.empty()) return Truth::False;
  auto holds = [](const CompiledValue& v) {
    return v.kind == CompiledValue::Kind::Null || (v.kind == CompiledValue::Kind::Exists && !v.exists);
  };
  const bool result = p.match_all ? std::all_of(p.values.begin(), p.values.end(), holds)
                                  : std::any_of(p.values.begin(), p.values.end(), holds);
  return result ? Truth::True : Truth::False;
}

Truth stage_truth(const Stage& stage, const StageNode& node, const std::set<std::string>& absent) {
  if (node.op == StageNode::Op::Predicate) {
    const Predicate& p = stage.predicates.at(static_cast<std::size_t>(node.predicate));
    if (p.is_keyword() || !absent.count(p.field)) return Truth::Open;
    return absent_truth(p);
  }
  const bool is_and = node.op == StageNode::Op::And;
  Truth out = is_and ? Truth::True : Truth::False;
  for (const auto& child : node.children) {
    Truth t = stage_truth(stage, child, absent);
    out = is_and ? truth_and(out, t) : truth_or(out, t);
  }
  return out;
}

Truth condition_truth(const CompiledRule& rule, const ConditionExpr& e, const std::set<std::string>& absent) {
  switch (e.op) {
    case ConditionExpr::Op::Stage: {
      const Stage& stage = rule.stages.at(static_cast<std::size_t>(e.stage));
      return stage_truth(stage, stage.root, absent);
    }
    case ConditionExpr::Op::Not: return truth_not(condition_truth(rule, e.children.at(0), absent));
    case ConditionExpr::Op::And:
    case ConditionExpr::Op::Or: {
      const bool is_and = e.op == ConditionExpr::Op::And;
      Truth out = is_and ? Truth::True : Truth::False;
      for (const auto& child : e.children) {
        Truth t = condition_truth(rule, child, absent);
        out = is_and ? truth_and(out, t) : truth_or(out, t);
      }
      return out;
    }
  }
  return Truth::Open;
}

}  // namespace

bool can_match_without(const CompiledRule& rule, const std::set<std::string>& absent_fields) {
  if (rule.stages.empty()) return true;
  return condition_truth(rule, rule.condition, absent_fields) != Truth::False;
}

std::string display_value(const Predicate& predicate, const CompiledValue& value) {
  switch (value.kind) {
    case CompiledValue::Kind::Pattern:
      if (value.numeric || value.alternatives.empty()) return value.written;
      // The pattern before encoding modifiers, in Sigma notation.
      return Pattern::parse(value.written, predicate.expand).to_sigma();
    case CompiledValue::Kind::Null: return "null";
    case CompiledValue::Kind::Regex: return value.regex.source;
    case CompiledValue::Kind::Cidr: return value.written.empty() ? cidr_text(value.cidr) : value.written;
    case CompiledValue::Kind::Exists: return value.exists ? "true" : "false";
    case CompiledValue::Kind::Number: return format_number(value.number);
    case CompiledValue::Kind::FieldRef: return value.field_ref;
  }
  return value.written;
}

bool has_encoding(const Predicate& predicate) {
  for (const auto& m : predicate.modifiers)
    if (m == "base64" || m == "base64offset" || m == "utf16le" || m == "utf16be" || m == "utf16" || m == "wide")
      return true;
  return false;
}

std::string indicator_key(const Predicate& predicate, const std::string& kind,
                          const std::string& display) {
  // Encodings turn letter case into different bytes ('Set-' and 'set-' give
  // different base64), so encoded values are compared as written.
  bool case_sensitive = predicate.cased || predicate.op == MatchOp::Regex || has_encoding(predicate);
  std::string value = case_sensitive ? display : fold_case(display);
  std::string key;
  key.reserve(predicate.field.size() + kind.size() + value.size() + 2);
  key += predicate.field;
  key += '\x1f';
  key += kind;
  key += '\x1f';
  key += value;
  return key;
}

std::vector<Indicator> rule_indicators(const CompiledRule& rule) {
  std::vector<Indicator> out;
  auto polarity = stage_polarities(rule);
  std::set<std::string> seen;
  for (int s : rule.referenced_stages()) {
    if (polarity[static_cast<std::size_t>(s)] == Polarity::Negative) continue;
    const Stage& stage = rule.stages[static_cast<std::size_t>(s)];
    std::vector<int> order;
    collect_predicates(stage.root, order);
    for (int index : order) {
      const Predicate& p = stage.predicates[static_cast<std::size_t>(index)];
      const std::string kind = p.kind();
      for (const auto& v : p.values) {
        Indicator ind;
        ind.field = p.field;
        ind.kind = kind;
        ind.value = display_value(p, v);
        ind.modifiers = p.extra_modifiers();
        ind.case_sensitive = p.cased || (p.op == MatchOp::Regex && !v.regex.case_insensitive) || has_encoding(p);
        ind.stage = stage.name;
        ind.key = indicator_key(p, kind, ind.value);
        if (!seen.insert(ind.key + '\x1f' + join(ind.modifiers, "|")).second) continue;
        out.push_back(std::move(ind));
      }
    }
  }
  return out;
}

std::vector<Exclusion> rule_exclusions(const CompiledRule& rule) {
  std::vector<Exclusion> out;
  if (rule.stages.empty()) return out;
  std::vector<const ConditionExpr*> conjuncts;
  top_conjuncts(rule.condition, conjuncts);
  int group = 0;
  for (const ConditionExpr* c : conjuncts) {
    if (c->op != ConditionExpr::Op::Not) continue;
    const ConditionExpr& inner = c->children[0];
    // not (a or b) == not a and not b: each alternative is its own exclusion.
    std::vector<const ConditionExpr*> parts;
    if (inner.op == ConditionExpr::Op::Or) {
      for (const auto& alt : inner.children) parts.push_back(&alt);
    } else {
      parts.push_back(&inner);
    }
    auto add = [&](const Stage& stage, const StageNode& node) {
      std::vector<int> order;
      collect_predicates(node, order);
      for (int index : order) {
        const Predicate& p = stage.predicates[static_cast<std::size_t>(index)];
        Exclusion ex;
        ex.group = group;
        ex.stage = stage.name;
        ex.field = p.field;
        ex.kind = p.kind();
        ex.modifiers = p.extra_modifiers();
        for (const auto& v : p.values) {
          ex.values.push_back(display_value(p, v));
          ex.keys.push_back(indicator_key(p, ex.kind, ex.values.back()));
        }
        out.push_back(std::move(ex));
      }
    };
    for (const ConditionExpr* part : parts) {
      // A selection written as a list of maps is an OR of the maps, so
      // `not filter` is one exclusion per map, as for `not (a or b)`.
      if (part->op == ConditionExpr::Op::Stage) {
        const Stage& stage = rule.stages[static_cast<std::size_t>(part->stage)];
        if (stage.root.op == StageNode::Op::Or) {
          for (const auto& alternative : stage.root.children) {
            add(stage, alternative);
            ++group;
          }
          continue;
        }
      }
      std::vector<int> stages;
      stages_under(*part, stages);
      for (int s : stages) {
        const Stage& stage = rule.stages[static_cast<std::size_t>(s)];
        add(stage, stage.root);
      }
      ++group;
    }
  }
  return out;
}

std::string stage_logic(const Stage& stage) {
  std::string out;
  render_logic(stage, stage.root, out, 0);
  return out;
}

std::vector<int> required_event_ids(const CompiledRule& rule) {
  std::vector<int> ids;
  auto polarity = stage_polarities(rule);
  for (int s : rule.referenced_stages()) {
    if (polarity[static_cast<std::size_t>(s)] == Polarity::Negative) continue;
    for (const auto& p : rule.stages[static_cast<std::size_t>(s)].predicates) {
      if (p.field != "EventID" || p.op != MatchOp::Equals || p.negated) continue;
      for (const auto& v : p.values) {
        if (v.kind != CompiledValue::Kind::Pattern || v.alternatives.size() != 1 ||
            !v.alternatives.front().is_literal())
          continue;
        const std::string text = v.alternatives.front().literal_text();
        if (text.empty() || text.size() > 6 ||
            !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
          continue;
        int id = std::stoi(text);
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      }
    }
  }
  return ids;
}

}  // namespace sigscope
