#include "sigscope/analysis/overlap.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/match/predicate_matcher.h"

namespace sigscope {

namespace {

// ---------------------------------------------------------------------------
// Units: one value test on a field ("endswith '\x.exe'", "> 5", "exists").
// A predicate without `all` holds when any of its units holds.

struct GlobToken {
  enum class Kind : std::uint8_t { Char, One, Star };
  Kind kind = Kind::Char;
  std::string text;  // one code point (or one invalid byte) for Char
};

struct Unit {
  enum class Kind : std::uint8_t { Glob, Regex, Cidr, Number, FieldRef, Null, Exists };
  Kind kind = Kind::Glob;
  bool cased = false;
  // Glob: the test as a whole-value glob (Contains 'x' is "*x*"), literals
  // folded unless cased; folded_glob is folded in any case.
  Pattern glob;
  Pattern folded_glob;
  bool placeholders = false;  // unexpanded %placeholders%: compared only for identity
  MatchOp op = MatchOp::Equals;  // Number: the comparison; FieldRef: the anchor
  TimePart time_part = TimePart::None;
  double number = 0;
  CidrNetwork cidr;
  bool exists = true;
  std::string text;  // regex source or fieldref target
  RegexSpec regex;

  std::string key;      // canonical identity
  std::string verb;     // "endswith", "contains", "equals", "matches", "<", "in"...
  std::string operand;  // "'\x.exe'"

  // Simple globs: [*] literal [*], the common case, compared with string ops.
  bool simple = false;
  bool lead_star = false, trail_star = false;
  std::string lit;         // literal of a simple glob (as in `glob`)
  std::string folded_lit;  // literal of folded_glob

  std::string display() const { return operand.empty() ? verb : verb + " " + operand; }
};

struct Atom {
  std::string field;  // empty for keywords
  bool keyword = false;
  bool neq = false;
  // Plain atoms: one group, any unit holds. neq atoms: the predicate's value
  // groups (one per value under `all`, else one), the atom holding when the
  // field is present and not every group holds.
  std::vector<std::vector<int>> groups;
  std::string key;
  std::string display;
  std::string slot;  // field identity for candidate filtering
};

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string number_text(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

// True when folding cannot change the text: ASCII without letters.
bool case_irrelevant(const Pattern& p) {
  for (const auto& piece : p.pieces()) {
    if (piece.kind != PatternPiece::Kind::Literal) continue;
    for (unsigned char c : piece.text)
      if (c >= 0x80 || std::isalpha(c)) return false;
  }
  return true;
}

Pattern fold_pattern(const Pattern& p) {
  Pattern out;
  for (const auto& piece : p.pieces())
    out.append(piece.kind, piece.kind == PatternPiece::Kind::Literal ? fold_case(piece.text) : piece.text);
  return out;
}

Pattern whole_value_glob(const Pattern& p, MatchOp op) {
  Pattern g;
  if (op == MatchOp::Contains || op == MatchOp::EndsWith) g.append(PatternPiece::Kind::AnyRun);
  for (const auto& piece : p.pieces()) g.append(piece.kind, piece.text);
  if (op == MatchOp::Contains || op == MatchOp::StartsWith) g.append(PatternPiece::Kind::AnyRun);
  return g;
}

// Fills verb, operand and the simple-glob fields of a glob unit.
void describe_glob(Unit& u) {
  const auto& pieces = u.glob.pieces();
  std::size_t first = 0, last = pieces.size();
  u.lead_star = !pieces.empty() && pieces.front().kind == PatternPiece::Kind::AnyRun;
  if (u.lead_star) ++first;
  u.trail_star = last > first && pieces.back().kind == PatternPiece::Kind::AnyRun;
  if (u.trail_star) --last;
  u.simple = last - first <= 1 && (last == first || pieces[first].kind == PatternPiece::Kind::Literal);
  if (u.simple) {
    u.lit = last > first ? pieces[first].text : std::string();
    u.folded_lit = u.cased ? fold_case(u.lit) : u.lit;
    u.verb = u.lead_star && u.trail_star ? "contains" : u.lead_star ? "endswith" : u.trail_star ? "startswith" : "equals";
    u.operand = quote(u.lit);
    if (u.lead_star && !u.trail_star && u.lit.empty()) u.verb = "contains";  // "*" alone
  } else {
    u.verb = "matches";
    u.operand = quote(u.glob.to_sigma());
  }
  if (u.cased) u.verb += " (cased)";
}

// ---------------------------------------------------------------------------
// The table of units and atoms, interned by canonical key.

struct Tables {
  std::vector<Unit> units;
  std::unordered_map<std::string, int> unit_ids;
  std::vector<Atom> atoms;
  std::unordered_map<std::string, int> atom_ids;

  int intern_unit(Unit u) {
    auto it = unit_ids.find(u.key);
    if (it != unit_ids.end()) return it->second;
    int id = static_cast<int>(units.size());
    unit_ids.emplace(u.key, id);
    units.push_back(std::move(u));
    return id;
  }

  void sort_group(std::vector<int>& group) const {
    std::sort(group.begin(), group.end(), [&](int a, int b) { return units[a].key < units[b].key; });
    group.erase(std::unique(group.begin(), group.end()), group.end());
  }

  // "endswith one of 'a', 'b' or contains 'c'": units grouped by verb.
  std::string group_display(const std::vector<int>& group) const {
    if (group.empty()) return "matches nothing";
    std::vector<std::string> verbs;
    std::map<std::string, std::vector<std::string>> operands;
    for (int u : group) {
      if (!operands.count(units[u].verb)) verbs.push_back(units[u].verb);
      operands[units[u].verb].push_back(units[u].operand);
    }
    std::vector<std::string> parts;
    for (const auto& verb : verbs) {
      const auto& ops = operands[verb];
      if (ops.size() == 1)
        parts.push_back(ops[0].empty() ? verb : verb + " " + ops[0]);
      else
        parts.push_back(verb + " one of " + join(ops, ", "));
    }
    return join(parts, " or ");
  }

  int intern_atom(std::string field, bool keyword, bool neq, std::vector<std::vector<int>> groups) {
    for (auto& g : groups) sort_group(g);
    if (neq) {
      std::sort(groups.begin(), groups.end());
      groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    }
    std::string key = fmt::format("{}\x1f{}{}", field, keyword ? 'k' : 'f', neq ? 'n' : 'p');
    for (const auto& g : groups) {
      key += '\x1e';
      for (int u : g) {
        key += units[u].key;
        key += '\x1d';
      }
    }
    auto it = atom_ids.find(key);
    if (it != atom_ids.end()) return it->second;
    Atom a;
    a.field = std::move(field);
    a.keyword = keyword;
    a.neq = neq;
    a.groups = std::move(groups);
    a.key = key;
    a.slot = fmt::format("{}\x1f{}", a.field, a.keyword ? 'k' : 'f');
    std::string name = a.keyword ? std::string("keyword") : a.field;
    if (!a.neq) {
      a.display = name + " " + group_display(a.groups[0]);
    } else {
      std::vector<std::string> parts;
      for (const auto& g : a.groups) parts.push_back(group_display(g));
      a.display = name + " is present and not " +
                  (parts.size() == 1 ? parts[0] : "(" + join(parts, " and ") + ")");
    }
    int id = static_cast<int>(atoms.size());
    atom_ids.emplace(key, id);
    atoms.push_back(std::move(a));
    return id;
  }

  // The atom holding when either plain atom on the same field holds.
  int merge_atoms(int a, int b) {
    std::vector<int> group = atoms[a].groups[0];
    group.insert(group.end(), atoms[b].groups[0].begin(), atoms[b].groups[0].end());
    return intern_atom(atoms[a].field, atoms[a].keyword, false, {std::move(group)});
  }

  bool mergeable(int atom) const { return !atoms[atom].neq; }
};

struct SkipRule {
  std::string reason;
};

// Units of one compiled value.
std::vector<int> value_units(Tables& t, const Predicate& p, const CompiledValue& v) {
  std::vector<int> out;
  auto base = [&] {
    Unit u;
    u.cased = p.cased;
    u.time_part = p.time_part;
    return u;
  };
  switch (v.kind) {
    case CompiledValue::Kind::Pattern: {
      const MatchOp op = p.is_keyword() ? MatchOp::Contains : p.op;
      if (op != MatchOp::Equals && op != MatchOp::Contains && op != MatchOp::StartsWith && op != MatchOp::EndsWith)
        throw SkipRule{"unsupported value test"};
      for (const auto& alt : v.alternatives) {
        Unit u = base();
        u.kind = Unit::Kind::Glob;
        Pattern g = whole_value_glob(alt, op);
        if (u.cased && case_irrelevant(g)) u.cased = false;
        u.folded_glob = fold_pattern(g);
        u.glob = u.cased ? std::move(g) : u.folded_glob;
        u.placeholders = u.glob.has_placeholders();
        u.time_part = TimePart::None;
        u.key = fmt::format("g{}{}:{}", u.cased ? 'c' : 'i', u.placeholders ? 'p' : '-', u.glob.to_sigma());
        describe_glob(u);
        out.push_back(t.intern_unit(std::move(u)));
      }
      break;
    }
    case CompiledValue::Kind::Regex: {
      Unit u = base();
      u.kind = Unit::Kind::Regex;
      u.cased = false;
      u.regex = v.regex;
      u.text = v.regex.source;
      std::string flags = std::string(v.regex.case_insensitive ? "i" : "") + (v.regex.multi_line ? "m" : "") +
                          (v.regex.dot_all ? "s" : "");
      u.key = fmt::format("r{}:{}", flags, v.regex.source);
      u.verb = flags.empty() ? "matches regex" : fmt::format("matches regex ({})", flags);
      u.operand = quote(v.regex.source);
      out.push_back(t.intern_unit(std::move(u)));
      break;
    }
    case CompiledValue::Kind::Cidr: {
      Unit u = base();
      u.kind = Unit::Kind::Cidr;
      u.cased = false;
      u.cidr = v.cidr;
      // Canonical: address bits beyond the prefix cleared.
      int bits = u.cidr.prefix;
      for (std::size_t i = 0; i < u.cidr.address.size(); ++i, bits -= 8) {
        if (bits >= 8) continue;
        u.cidr.address[i] = bits <= 0 ? 0 : static_cast<std::uint8_t>(u.cidr.address[i] & (0xFF00 >> bits));
      }
      std::string hex;
      for (auto b : u.cidr.address) hex += fmt::format("{:02x}", b);
      u.key = fmt::format("n{}:{}/{}", u.cidr.ipv6 ? 6 : 4, hex, u.cidr.prefix);
      u.verb = "in";
      u.operand = v.written;
      out.push_back(t.intern_unit(std::move(u)));
      break;
    }
    case CompiledValue::Kind::Number: {
      Unit u = base();
      u.kind = Unit::Kind::Number;
      u.cased = false;
      u.op = p.op;
      u.number = v.number;
      std::string_view sym = p.op == MatchOp::Less           ? "<"
                             : p.op == MatchOp::LessEqual    ? "<="
                             : p.op == MatchOp::Greater      ? ">"
                             : p.op == MatchOp::GreaterEqual ? ">="
                                                             : "==";
      std::string part(time_part_name(p.time_part));
      u.key = fmt::format("#{}:{}:{}", part, sym, v.number);
      u.verb = part.empty() ? std::string(sym) : part + " " + std::string(sym);
      u.operand = number_text(v.number);
      out.push_back(t.intern_unit(std::move(u)));
      break;
    }
    case CompiledValue::Kind::FieldRef: {
      Unit u = base();
      u.kind = Unit::Kind::FieldRef;
      u.op = p.op;
      u.text = v.field_ref;
      u.key = fmt::format("f{}:{}:{}", u.cased ? 'c' : 'i', match_op_name(p.op), v.field_ref);
      u.verb = fmt::format("{} the value of field{}", match_op_name(p.op), u.cased ? " (cased)" : "");
      u.operand = v.field_ref;
      out.push_back(t.intern_unit(std::move(u)));
      break;
    }
    case CompiledValue::Kind::Null: {
      Unit u = base();
      u.kind = Unit::Kind::Null;
      u.cased = false;
      u.key = "null";
      u.verb = "is null or missing";
      out.push_back(t.intern_unit(std::move(u)));
      break;
    }
    case CompiledValue::Kind::Exists: {
      Unit u = base();
      u.kind = Unit::Kind::Exists;
      u.cased = false;
      u.exists = v.exists;
      u.key = v.exists ? "exists" : "missing";
      u.verb = v.exists ? "is present" : "is missing";
      out.push_back(t.intern_unit(std::move(u)));
      break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Formulas in negation normal form over literals (atom * 2 + negated).

struct Node {
  enum class Op : std::uint8_t { And, Or, Lit, True, False };
  Op op = Op::And;
  int lit = -1;
  std::vector<Node> kids;
};

Node lit_node(int atom, bool negated) {
  Node n;
  n.op = Node::Op::Lit;
  n.lit = atom * 2 + (negated ? 1 : 0);
  return n;
}
Node const_node(bool value) {
  Node n;
  n.op = value ? Node::Op::True : Node::Op::False;
  return n;
}
Node junction(bool is_and, std::vector<Node> kids) {
  Node n;
  n.op = is_and ? Node::Op::And : Node::Op::Or;
  n.kids = std::move(kids);
  return n;
}

Node predicate_node(Tables& t, const Predicate& p, bool negated) {
  const bool keyword = p.is_keyword();
  if (!keyword && p.op == MatchOp::Exists) {
    auto units = value_units(t, p, p.values.at(0));
    return lit_node(t.intern_atom(p.field, false, false, {units}), negated);
  }
  if (p.negated) {
    if (p.values.empty()) throw SkipRule{"neq with an empty value list"};
    std::vector<std::vector<int>> groups;
    if (p.match_all) {
      for (const auto& v : p.values) groups.push_back(value_units(t, p, v));
    } else {
      groups.emplace_back();
      for (const auto& v : p.values)
        for (int u : value_units(t, p, v)) groups[0].push_back(u);
    }
    return lit_node(t.intern_atom(p.field, keyword, true, std::move(groups)), negated);
  }
  if (p.values.empty()) return const_node(negated);  // an empty list never matches
  if (p.match_all && p.values.size() > 1) {
    // Every value must be matched, each by some value of the field: one atom per value.
    std::vector<Node> kids;
    for (const auto& v : p.values)
      kids.push_back(lit_node(t.intern_atom(p.field, keyword, false, {value_units(t, p, v)}), negated));
    return junction(!negated, std::move(kids));
  }
  std::vector<int> group;
  for (const auto& v : p.values)
    for (int u : value_units(t, p, v)) group.push_back(u);
  return lit_node(t.intern_atom(p.field, keyword, false, {std::move(group)}), negated);
}

Node stage_node(Tables& t, const Stage& stage, const StageNode& node, bool negated) {
  if (node.op == StageNode::Op::Predicate)
    return predicate_node(t, stage.predicates.at(static_cast<std::size_t>(node.predicate)), negated);
  std::vector<Node> kids;
  for (const auto& c : node.children) kids.push_back(stage_node(t, stage, c, negated));
  // De Morgan: a negated And becomes an Or of negated children.
  return junction((node.op == StageNode::Op::And) != negated, std::move(kids));
}

Node condition_node(Tables& t, const CompiledRule& rule, const ConditionExpr& e, bool negated) {
  switch (e.op) {
    case ConditionExpr::Op::Stage: {
      const Stage& s = rule.stages.at(static_cast<std::size_t>(e.stage));
      return stage_node(t, s, s.root, negated);
    }
    case ConditionExpr::Op::Not: return condition_node(t, rule, e.children.at(0), !negated);
    case ConditionExpr::Op::And:
    case ConditionExpr::Op::Or: {
      std::vector<Node> kids;
      for (const auto& c : e.children) kids.push_back(condition_node(t, rule, c, negated));
      return junction((e.op == ConditionExpr::Op::And) != negated, std::move(kids));
    }
  }
  throw SkipRule{"unknown condition"};
}

// Flattens nested junctions, folds constants and merges, inside an Or,
// positive plain literals on one field into one literal (any unit holds),
// and inside an And negative ones (not A and not B is not (A or B)).
Node simplify(Tables& t, Node n) {
  if (n.op != Node::Op::And && n.op != Node::Op::Or) return n;
  const bool is_and = n.op == Node::Op::And;
  std::vector<Node> kids;
  for (auto& k : n.kids) {
    Node s = simplify(t, std::move(k));
    if (s.op == n.op) {
      for (auto& g : s.kids) kids.push_back(std::move(g));
    } else if (s.op == Node::Op::True || s.op == Node::Op::False) {
      const bool value = s.op == Node::Op::True;
      if (value != is_and) return const_node(value);  // absorbing element
    } else {
      kids.push_back(std::move(s));
    }
  }
  // Merge the literals whose polarity the junction lets us combine.
  const int mergeable_polarity = is_and ? 1 : 0;
  std::map<std::string, std::size_t> first_by_slot;
  std::vector<Node> merged;
  for (auto& k : kids) {
    if (k.op == Node::Op::Lit && (k.lit & 1) == mergeable_polarity && t.mergeable(k.lit / 2)) {
      auto [it, added] = first_by_slot.emplace(t.atoms[k.lit / 2].slot, merged.size());
      if (!added) {
        Node& into = merged[it->second];
        into.lit = t.merge_atoms(into.lit / 2, k.lit / 2) * 2 + mergeable_polarity;
        continue;
      }
    }
    merged.push_back(std::move(k));
  }
  if (merged.empty()) return const_node(is_and);
  if (merged.size() == 1) return std::move(merged.front());
  n.kids = std::move(merged);
  return n;
}

using Conjunct = std::vector<int>;  // sorted literals

struct TooLarge {};

// Sorts, removes duplicate literals and merges negative plain literals on one
// field. Returns false for a contradiction (a literal and its negation).
bool normalise_conjunct(Tables& t, Conjunct& c) {
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  std::map<std::string, std::size_t> negative_by_slot;
  Conjunct out;
  bool changed = false;
  for (int lit : c) {
    if ((lit & 1) && t.mergeable(lit / 2)) {
      auto [it, added] = negative_by_slot.emplace(t.atoms[lit / 2].slot, out.size());
      if (!added) {
        out[it->second] = t.merge_atoms(out[it->second] / 2, lit / 2) * 2 + 1;
        changed = true;
        continue;
      }
    }
    out.push_back(lit);
  }
  if (changed) {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  for (std::size_t i = 0; i + 1 < out.size(); ++i)
    if ((out[i] ^ 1) == out[i + 1]) return false;
  c = std::move(out);
  return true;
}

void dedupe(std::vector<Conjunct>& cs) {
  std::sort(cs.begin(), cs.end());
  cs.erase(std::unique(cs.begin(), cs.end()), cs.end());
}

std::vector<Conjunct> to_dnf(Tables& t, const Node& n, std::size_t cap) {
  switch (n.op) {
    case Node::Op::True: return {Conjunct{}};
    case Node::Op::False: return {};
    case Node::Op::Lit: return {Conjunct{n.lit}};
    case Node::Op::Or: {
      std::vector<Conjunct> out;
      for (const auto& k : n.kids) {
        auto part = to_dnf(t, k, cap);
        out.insert(out.end(), part.begin(), part.end());
        if (out.size() > cap) {
          dedupe(out);
          if (out.size() > cap) throw TooLarge{};
        }
      }
      return out;
    }
    case Node::Op::And: {
      std::vector<Conjunct> out{Conjunct{}};
      for (const auto& k : n.kids) {
        auto part = to_dnf(t, k, cap);
        if (out.size() * part.size() > cap * 4) throw TooLarge{};
        std::vector<Conjunct> next;
        for (const auto& a : out)
          for (const auto& b : part) {
            Conjunct c = a;
            c.insert(c.end(), b.begin(), b.end());
            if (normalise_conjunct(t, c)) next.push_back(std::move(c));
          }
        dedupe(next);
        if (next.size() > cap) throw TooLarge{};
        out = std::move(next);
      }
      return out;
    }
  }
  return {};
}

// Removes conjuncts that contain all literals of another one (they are
// absorbed: A or (A and B) is A).
void absorb(std::vector<Conjunct>& cs) {
  dedupe(cs);
  std::sort(cs.begin(), cs.end(), [](const Conjunct& a, const Conjunct& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  std::vector<Conjunct> kept;
  for (auto& c : cs) {
    bool absorbed = false;
    for (const auto& k : kept)
      if (std::includes(c.begin(), c.end(), k.begin(), k.end())) {
        absorbed = true;
        break;
      }
    if (!absorbed) kept.push_back(std::move(c));
  }
  cs = std::move(kept);
}

// Merges conjuncts that differ only in one positive plain literal on the same
// field: (R and A) or (R and B) is R and (A or B).
bool merge_conjuncts(Tables& t, std::vector<Conjunct>& cs) {
  std::unordered_map<std::string, std::vector<std::pair<std::size_t, std::size_t>>> groups;
  for (std::size_t i = 0; i < cs.size(); ++i)
    for (std::size_t p = 0; p < cs[i].size(); ++p) {
      int lit = cs[i][p];
      if ((lit & 1) || !t.mergeable(lit / 2)) continue;
      std::string key = t.atoms[lit / 2].slot;
      for (std::size_t q = 0; q < cs[i].size(); ++q)
        if (q != p) key += fmt::format(",{}", cs[i][q]);
      groups[key].emplace_back(i, p);
    }
  std::vector<bool> used(cs.size(), false);
  std::vector<Conjunct> out;
  bool changed = false;
  std::vector<std::string> keys;
  for (const auto& [key, members] : groups) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const auto& key : keys) {
    const auto& members = groups[key];
    std::vector<std::pair<std::size_t, std::size_t>> free;
    for (const auto& m : members)
      if (!used[m.first]) free.push_back(m);
    if (free.size() < 2) continue;
    Conjunct merged = cs[free[0].first];
    int atom = merged[free[0].second] / 2;
    for (std::size_t k = 1; k < free.size(); ++k) atom = t.merge_atoms(atom, cs[free[k].first][free[k].second] / 2);
    merged[free[0].second] = atom * 2;
    for (const auto& m : free) used[m.first] = true;
    if (normalise_conjunct(t, merged)) out.push_back(std::move(merged));
    changed = true;
  }
  for (std::size_t i = 0; i < cs.size(); ++i)
    if (!used[i]) out.push_back(std::move(cs[i]));
  cs = std::move(out);
  return changed;
}

struct Normal {
  bool ok = false;
  std::string skip_reason;
  std::vector<Conjunct> conjuncts;
  std::string key;  // logsource + conjuncts, equal for equal normal forms
  std::string logsource;
  // Set when the normal form grew past the size limit: the simplified
  // formula's canonical key (with the logsource) and its text. Two rules
  // with the same key are equivalent even though neither has a normal form.
  std::string formula_key;
  std::string formula_text;
};

std::string literal_text(const Tables& t, int lit) {
  const std::string& d = t.atoms[lit / 2].display;
  return (lit & 1) ? "not (" + d + ")" : d;
}

// Canonical key of a simplified formula: junction children are sorted and
// de-duplicated, so formulas that differ only in the order of their parts
// get the same key.
std::string formula_key(const Node& n) {
  switch (n.op) {
    case Node::Op::True: return "T";
    case Node::Op::False: return "F";
    case Node::Op::Lit: return fmt::format("{}", n.lit);
    case Node::Op::And:
    case Node::Op::Or: {
      std::vector<std::string> kids;
      for (const auto& k : n.kids) kids.push_back(formula_key(k));
      std::sort(kids.begin(), kids.end());
      kids.erase(std::unique(kids.begin(), kids.end()), kids.end());
      return (n.op == Node::Op::And ? "&(" : "|(") + join(kids, ",") + ")";
    }
  }
  return {};
}

std::string formula_text(const Tables& t, const Node& n) {
  switch (n.op) {
    case Node::Op::True: return "true";
    case Node::Op::False: return "false";
    case Node::Op::Lit: return literal_text(t, n.lit);
    case Node::Op::And:
    case Node::Op::Or: {
      std::vector<std::string> parts;
      for (const auto& k : n.kids) {
        const bool nested = k.op == Node::Op::And || k.op == Node::Op::Or;
        parts.push_back(nested ? "(" + formula_text(t, k) + ")" : formula_text(t, k));
      }
      return join(parts, n.op == Node::Op::And ? " and " : " or ");
    }
  }
  return {};
}

std::string logsource_key(const Logsource& ls) {
  return ascii_lower(ls.product) + "/" + ascii_lower(ls.category) + "/" + ascii_lower(ls.service);
}

Normal normalise(Tables& t, const CompiledRule& rule, const OverlapOptions& options) {
  Normal n;
  n.logsource = logsource_key(rule.rule.logsource);
  if (rule.rule.kind == RuleKind::Correlation) {
    n.skip_reason = "correlation rule";
    return n;
  }
  if (rule.rule.kind == RuleKind::Filter) {
    n.skip_reason = "filter document";
    return n;
  }
  if (rule.aggregation) {
    n.skip_reason = "Sigma 1.x aggregation in the condition";
    return n;
  }
  Node root;
  try {
    root = simplify(t, condition_node(t, rule, rule.condition, false));
    n.conjuncts = to_dnf(t, root, options.max_conjuncts);
    for (int round = 0; round < 8; ++round) {
      std::vector<Conjunct> kept;
      for (auto& c : n.conjuncts)
        if (normalise_conjunct(t, c)) kept.push_back(std::move(c));
      n.conjuncts = std::move(kept);
      absorb(n.conjuncts);
      if (!merge_conjuncts(t, n.conjuncts)) break;
    }
    absorb(n.conjuncts);
    std::sort(n.conjuncts.begin(), n.conjuncts.end());
  } catch (const TooLarge&) {
    n.skip_reason = fmt::format("normal form larger than {} conjuncts", options.max_conjuncts);
    n.formula_key = n.logsource + '|' + formula_key(root);
    n.formula_text = formula_text(t, root);
    return n;
  } catch (const SkipRule& s) {
    n.skip_reason = s.reason;
    return n;
  }
  if (n.conjuncts.empty()) {
    n.skip_reason = "condition can never match";
    return n;
  }
  n.ok = true;
  n.key = n.logsource;
  for (const auto& c : n.conjuncts) {
    n.key += '|';
    for (int lit : c) n.key += fmt::format("{},", lit);
  }
  return n;
}

std::string conjunct_text(const Tables& t, const Conjunct& c) {
  if (c.empty()) return "true";
  std::vector<std::string> parts;
  for (int lit : c) parts.push_back(literal_text(t, lit));
  return join(parts, " and ");
}

std::string normal_text(const Tables& t, const std::vector<Conjunct>& cs) {
  if (cs.size() == 1) return conjunct_text(t, cs[0]);
  std::vector<std::string> parts;
  for (const auto& c : cs) parts.push_back(c.size() > 1 ? "(" + conjunct_text(t, c) + ")" : conjunct_text(t, c));
  return join(parts, " or ");
}

// ---------------------------------------------------------------------------
// Implication.

std::vector<GlobToken> tokens(const Pattern& p) {
  std::vector<GlobToken> out;
  for (const auto& piece : p.pieces()) {
    switch (piece.kind) {
      case PatternPiece::Kind::AnyRun: out.push_back({GlobToken::Kind::Star, {}}); break;
      case PatternPiece::Kind::AnyChar: out.push_back({GlobToken::Kind::One, {}}); break;
      case PatternPiece::Kind::Literal:
      case PatternPiece::Kind::Placeholder: {
        std::size_t i = 0;
        while (i < piece.text.size()) {
          std::size_t start = i;
          decode_utf8(piece.text, i);
          out.push_back({GlobToken::Kind::Char, piece.text.substr(start, i - start)});
        }
        break;
      }
    }
  }
  return out;
}

// Sound test that every string matching glob `a` matches glob `b`: b must
// match a's token sequence with b's `*` covering any run of a's tokens, b's
// `?` one character or `?` of a, and b's characters a's equal characters.
bool glob_covers(const Pattern& a, const Pattern& b) {
  auto ta = tokens(a), tb = tokens(b);
  const std::size_t n = ta.size();
  std::vector<char> prev(n + 1, 0), cur(n + 1, 0);
  prev[0] = 1;
  for (const auto& tok : tb) {
    cur.assign(n + 1, 0);
    if (tok.kind == GlobToken::Kind::Star) cur[0] = prev[0];
    for (std::size_t i = 1; i <= n; ++i) {
      switch (tok.kind) {
        case GlobToken::Kind::Star: cur[i] = prev[i] || cur[i - 1]; break;
        case GlobToken::Kind::One: cur[i] = prev[i - 1] && ta[i - 1].kind != GlobToken::Kind::Star; break;
        case GlobToken::Kind::Char:
          cur[i] = prev[i - 1] && ta[i - 1].kind == GlobToken::Kind::Char && ta[i - 1].text == tok.text;
          break;
      }
    }
    std::swap(prev, cur);
  }
  return prev[n];
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Does unit `a` (specific) imply unit `b` (general) on the same field?
bool unit_implies(const Unit& a, const Unit& b, std::string* why) {
  if (a.key == b.key) {
    if (why) *why = "identical";
    return true;
  }
  if (b.kind == Unit::Kind::Exists && b.exists) {
    // Any value test that holds has seen a value of the field.
    if (a.kind == Unit::Kind::Null || a.kind == Unit::Kind::Exists) return false;
    if (why) *why = "a matching value means the field is present";
    return true;
  }
  if (a.kind != b.kind) return false;
  switch (b.kind) {
    case Unit::Kind::Glob: {
      if (a.placeholders || b.placeholders) return false;
      if (b.cased && !a.cased) return false;  // a also matches other letter cases
      const bool fold = !b.cased;
      const std::string case_note = a.cased && fold ? " (ignoring case)" : "";
      if (a.simple && b.simple) {
        const std::string& la = fold ? a.folded_lit : a.lit;
        const std::string& lb = b.lit;
        bool ok = false;
        std::string reason;
        if (b.lead_star && b.trail_star) {
          ok = la.find(lb) != std::string::npos;
          reason = lb.empty() ? "every value contains ''" : fmt::format("'{}' occurs in '{}'", lb, la);
        } else if (b.trail_star) {
          ok = !a.lead_star && la.compare(0, lb.size(), lb) == 0 && la.size() >= lb.size();
          reason = fmt::format("'{}' starts with '{}'", la, lb);
        } else if (b.lead_star) {
          ok = !a.trail_star && ends_with(la, lb);
          reason = fmt::format("'{}' ends with '{}'", la, lb);
        } else {
          ok = !a.lead_star && !a.trail_star && la == lb;
          reason = "the same value";
        }
        if (ok && why) *why = reason + case_note;
        return ok;
      }
      bool ok = glob_covers(fold ? a.folded_glob : a.glob, b.glob);
      if (ok && why)
        *why = fmt::format("every value matching '{}' also matches '{}'{}", (fold ? a.folded_glob : a.glob).to_sigma(),
                           b.glob.to_sigma(), case_note);
      return ok;
    }
    case Unit::Kind::Number: {
      if (a.time_part != b.time_part) return false;
      const double x = a.number, y = b.number;
      bool ok = false;
      switch (b.op) {
        case MatchOp::Greater:
          ok = (a.op == MatchOp::Greater && x >= y) || ((a.op == MatchOp::GreaterEqual || a.op == MatchOp::Equals) && x > y);
          break;
        case MatchOp::GreaterEqual:
          ok = (a.op == MatchOp::Greater || a.op == MatchOp::GreaterEqual || a.op == MatchOp::Equals) && x >= y;
          break;
        case MatchOp::Less:
          ok = (a.op == MatchOp::Less && x <= y) || ((a.op == MatchOp::LessEqual || a.op == MatchOp::Equals) && x < y);
          break;
        case MatchOp::LessEqual:
          ok = (a.op == MatchOp::Less || a.op == MatchOp::LessEqual || a.op == MatchOp::Equals) && x <= y;
          break;
        default: ok = a.op == MatchOp::Equals && x == y; break;
      }
      if (ok && why) *why = fmt::format("{} {} implies {} {}", a.verb, number_text(x), b.verb, number_text(y));
      return ok;
    }
    case Unit::Kind::Cidr: {
      if (a.cidr.ipv6 != b.cidr.ipv6 || a.cidr.prefix < b.cidr.prefix) return false;
      if (!cidr_contains(b.cidr, a.cidr)) return false;
      if (why) *why = fmt::format("network {} lies inside {}", a.operand, b.operand);
      return true;
    }
    default: return false;  // regex, fieldref, null, exists: identity only
  }
}

// Records, per unit of `from`, the unit of `to` it implies.
bool group_implies(const Tables& t, const std::vector<int>& from, const std::vector<int>& to,
                   std::vector<ImplicationStep>* steps) {
  for (int ua : from) {
    bool found = false;
    for (int ub : to) {
      std::string why;
      if (unit_implies(t.units[ua], t.units[ub], steps ? &why : nullptr)) {
        if (steps) steps->push_back({t.units[ua].display(), t.units[ub].display(), why});
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

// Does plain or neq atom `a` imply atom `b`?
bool atom_implies(const Tables& t, int ia, int ib, std::vector<ImplicationStep>* steps) {
  if (ia == ib) return true;
  const Atom& a = t.atoms[ia];
  const Atom& b = t.atoms[ib];
  if (a.field != b.field || a.keyword != b.keyword) return false;
  if (!a.neq && !b.neq) return group_implies(t, a.groups[0], b.groups[0], steps);
  if (a.neq && b.neq) {
    // present and not A' implies present and not B' when B' implies A':
    // every group (an and-ed value) of A' follows from some group of B'.
    for (const auto& ga : a.groups) {
      bool found = false;
      for (const auto& gb : b.groups) {
        std::vector<ImplicationStep> local;
        if (group_implies(t, gb, ga, steps ? &local : nullptr)) {
          if (steps) steps->insert(steps->end(), local.begin(), local.end());
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }
  if (a.neq && !b.neq && !a.keyword) {
    for (int ub : b.groups[0])
      if (t.units[ub].kind == Unit::Kind::Exists && t.units[ub].exists) {
        if (steps) steps->push_back({"neq", t.units[ub].display(), "neq holds only when the field is present"});
        return true;
      }
  }
  return false;
}

struct Implier {
  const Tables& t;
  std::unordered_map<std::uint64_t, bool> cache;

  bool atom(int a, int b) {
    if (a == b) return true;
    std::uint64_t key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    bool r = atom_implies(t, a, b, nullptr);
    cache.emplace(key, r);
    return r;
  }
  // Literal la (specific) implies literal lb (general)?
  bool literal(int la, int lb) {
    if (la == lb) return true;
    if ((la & 1) != (lb & 1)) return false;
    return (la & 1) ? atom(lb / 2, la / 2) : atom(la / 2, lb / 2);
  }
  bool conjunct(const Conjunct& ca, const Conjunct& cb) {
    for (int lb : cb) {
      bool found = false;
      for (int la : ca)
        if (literal(la, lb)) {
          found = true;
          break;
        }
      if (!found) return false;
    }
    return true;
  }
};

LiteralReason explain_literal(const Tables& t, int la, int lb) {
  LiteralReason r;
  r.general = literal_text(t, lb);
  r.specific = literal_text(t, la);
  r.identical = la == lb;
  const Atom& atom = t.atoms[lb / 2];
  r.field = atom.keyword ? std::string("keyword") : atom.field;
  if (r.identical) return r;
  r.contrapositive = la & 1;
  if (r.contrapositive)
    atom_implies(t, lb / 2, la / 2, &r.steps);
  else
    atom_implies(t, la / 2, lb / 2, &r.steps);
  return r;
}

std::vector<ConjunctReason> explain(const Tables& t, Implier& imp, const Normal& a, const Normal& b) {
  std::vector<ConjunctReason> out;
  for (const auto& ca : a.conjuncts) {
    for (const auto& cb : b.conjuncts) {
      if (!imp.conjunct(ca, cb)) continue;
      ConjunctReason cr;
      cr.specific = conjunct_text(t, ca);
      cr.general = conjunct_text(t, cb);
      for (int lb : cb)
        for (int la : ca)
          if (imp.literal(la, lb)) {
            cr.literals.push_back(explain_literal(t, la, lb));
            break;
          }
      out.push_back(std::move(cr));
      break;
    }
  }
  return out;
}

// Field slots of a conjunct as a bitset, for the candidate filter.
using Bits = std::vector<std::uint64_t>;

bool subset(const Bits& a, const Bits& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] & ~b[i]) return false;
  return true;
}

}  // namespace

std::string_view overlap_kind_name(OverlapKind kind) {
  return kind == OverlapKind::Equivalent ? "equivalent" : "subsumed";
}

std::size_t OverlapReport::count(OverlapKind kind) const {
  return static_cast<std::size_t>(
      std::count_if(pairs.begin(), pairs.end(), [&](const OverlapPair& p) { return p.kind == kind; }));
}

std::string LiteralReason::text() const {
  if (identical) return general + ": the same test in both rules";
  std::vector<std::string> parts;
  std::size_t same = 0;
  for (const auto& s : steps) {
    if (s.why == "identical") {
      ++same;
      continue;
    }
    parts.push_back(fmt::format("{0} {1} implies {0} {2} ({3})", field, s.from, s.to, s.why));
  }
  if (same > 0) parts.push_back(same == 1 ? std::string("1 value is in both") : fmt::format("{} values are in both", same));
  std::string out = fmt::format("{} is implied by {}", general, specific);
  if (contrapositive) out += ", because everything the general rule excludes the specific rule excludes too";
  if (!parts.empty()) out += ": " + join(parts, "; ");
  return out;
}

std::string overlap_normal_form(const CompiledRule& rule, const OverlapOptions& options) {
  Tables t;
  Normal n = normalise(t, rule, options);
  if (!n.ok) return "skipped: " + n.skip_reason;
  return normal_text(t, n.conjuncts);
}

OverlapReport find_overlaps(const std::vector<CompiledRule>& rules, const OverlapOptions& options) {
  auto start = std::chrono::steady_clock::now();
  OverlapReport report;
  report.rules_total = rules.size();
  Tables t;
  std::vector<Normal> normals;
  normals.reserve(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    normals.push_back(normalise(t, rules[i], options));
    if (!normals.back().ok) {
      ++report.skipped[normals.back().skip_reason];
      report.skipped_rules.emplace_back(i, normals.back().skip_reason);
    } else {
      ++report.rules_analysed;
    }
  }

  std::map<std::string, std::vector<std::size_t>> by_logsource;
  for (std::size_t i = 0; i < rules.size(); ++i)
    if (normals[i].ok) by_logsource[normals[i].logsource].push_back(i);

  std::vector<OverlapPair> equivalent, subsumed;
  // Rules whose normal form is too large (many multi-field filters) are not
  // compared by implication, but copies of one rule still have the same
  // simplified formula.
  std::map<std::string, std::vector<std::size_t>> by_formula;
  for (std::size_t i = 0; i < rules.size(); ++i)
    if (!normals[i].formula_key.empty()) by_formula[normals[i].formula_key].push_back(i);
  for (const auto& [key, same] : by_formula)
    for (std::size_t x = 0; x < same.size(); ++x)
      for (std::size_t y = x + 1; y < same.size(); ++y) {
        OverlapPair p;
        p.kind = OverlapKind::Equivalent;
        p.specific = same[x];
        p.general = same[y];
        p.basis = "identical formula";
        p.logsource = rules[same[x]].rule.logsource.label();
        p.normal_form = normals[same[x]].formula_text;
        equivalent.push_back(std::move(p));
      }

  Implier imp{t, {}};
  imp.cache.reserve(1 << 20);
  for (const auto& [logsource, members] : by_logsource) {
    if (members.size() < 2) continue;
    ++report.logsource_groups;
    std::string label;
    {
      const Logsource& ls = rules[members[0]].rule.logsource;
      label = ls.label();
    }
    // Identical normal forms.
    std::map<std::string, std::vector<std::size_t>> by_key;
    for (std::size_t i : members) by_key[normals[i].key].push_back(i);
    for (const auto& [key, same] : by_key) {
      for (std::size_t x = 0; x < same.size(); ++x)
        for (std::size_t y = x + 1; y < same.size(); ++y) {
          OverlapPair p;
          p.kind = OverlapKind::Equivalent;
          p.specific = same[x];
          p.general = same[y];
          p.basis = "identical normal form";
          p.logsource = label;
          p.normal_form = normal_text(t, normals[same[x]].conjuncts);
          equivalent.push_back(std::move(p));
        }
    }

    // Field slots per conjunct.
    std::unordered_map<std::string, std::size_t> slot_ids;
    for (std::size_t i : members)
      for (const auto& c : normals[i].conjuncts)
        for (int lit : c) slot_ids.emplace(t.atoms[lit / 2].slot + ((lit & 1) ? "-" : "+"), slot_ids.size());
    const std::size_t words = (slot_ids.size() + 63) / 64;
    // Indexed by position in `members`.
    std::vector<std::vector<Bits>> bits(members.size());
    std::vector<Bits> common(members.size());  // slots every conjunct of the rule has
    std::unordered_map<std::size_t, std::size_t> position;
    for (std::size_t k = 0; k < members.size(); ++k) {
      const std::size_t i = members[k];
      position[i] = k;
      Bits all(words, ~std::uint64_t{0});
      for (const auto& c : normals[i].conjuncts) {
        Bits b(words, 0);
        for (int lit : c) {
          std::size_t s = slot_ids[t.atoms[lit / 2].slot + ((lit & 1) ? "-" : "+")];
          b[s / 64] |= std::uint64_t{1} << (s % 64);
        }
        for (std::size_t w = 0; w < words; ++w) all[w] &= b[w];
        bits[k].push_back(std::move(b));
      }
      common[k] = std::move(all);
    }

    // A's matches are inside B's when every conjunct of A implies a conjunct of B.
    auto implies = [&](std::size_t a, std::size_t b) {
      const std::size_t ka = position[a], kb = position[b];
      // Each conjunct of B that a conjunct of A implies has B's common slots,
      // so A's conjuncts must all have them too.
      if (!subset(common[kb], common[ka])) return false;
      const auto& ba = bits[ka];
      const auto& bb = bits[kb];
      for (std::size_t x = 0; x < ba.size(); ++x) {
        bool any = false;
        for (std::size_t y = 0; y < bb.size(); ++y)
          if (subset(bb[y], ba[x])) {
            any = true;
            break;
          }
        if (!any) return false;
      }
      ++report.candidate_pairs;
      for (const auto& ca : normals[a].conjuncts) {
        bool any = false;
        for (const auto& cb : normals[b].conjuncts)
          if (imp.conjunct(ca, cb)) {
            any = true;
            break;
          }
        if (!any) return false;
      }
      return true;
    };

    // Compare one representative per class of identical normal forms, then
    // report the pair for every member.
    std::vector<std::size_t> reps;
    for (const auto& [key, same] : by_key) reps.push_back(same[0]);
    std::sort(reps.begin(), reps.end());
    for (std::size_t x = 0; x < reps.size(); ++x)
      for (std::size_t y = x + 1; y < reps.size(); ++y) {
        std::size_t a = reps[x], b = reps[y];
        report.checked_pairs += 2;
        bool ab = implies(a, b);
        bool ba = implies(b, a);
        if (!ab && !ba) continue;
        const auto& ca = by_key[normals[a].key];
        const auto& cb = by_key[normals[b].key];
        for (std::size_t ma : ca)
          for (std::size_t mb : cb) {
            OverlapPair p;
            p.logsource = label;
            if (ab && ba) {
              p.kind = OverlapKind::Equivalent;
              p.specific = std::min(ma, mb);
              p.general = std::max(ma, mb);
              p.basis = "mutual implication";
            } else {
              p.kind = OverlapKind::Subsumed;
              p.specific = ab ? ma : mb;
              p.general = ab ? mb : ma;
              p.basis = "implication";
            }
            p.normal_form = normal_text(t, normals[p.specific].conjuncts);
            p.reason = explain(t, imp, normals[p.specific], normals[p.general]);
            if (ab && ba) p.converse = explain(t, imp, normals[p.general], normals[p.specific]);
            (ab && ba ? equivalent : subsumed).push_back(std::move(p));
          }
      }
  }
  auto order = [](const OverlapPair& x, const OverlapPair& y) {
    return std::tie(x.specific, x.general) < std::tie(y.specific, y.general);
  };
  std::sort(equivalent.begin(), equivalent.end(), order);
  std::sort(subsumed.begin(), subsumed.end(), order);
  report.pairs = std::move(equivalent);
  report.pairs.insert(report.pairs.end(), std::make_move_iterator(subsumed.begin()),
                      std::make_move_iterator(subsumed.end()));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

// ---------------------------------------------------------------------------
// Output.

namespace {

nlohmann::json rule_ref(const CompiledRule& r) {
  return {{"id", r.rule.id},
          {"title", r.rule.title},
          {"path", r.rule.path},
          {"status", r.rule.status},
          {"level", r.rule.level}};
}

std::string rule_line(const CompiledRule& r) {
  return fmt::format("{} [{}] {}{}", r.rule.title, r.rule.id.empty() ? "no id" : r.rule.id, r.rule.path,
                     r.rule.status.empty() ? "" : " (" + r.rule.status + ")");
}

void append_reasons(std::string& out, const std::vector<ConjunctReason>& reasons, std::string_view specific_name,
                    std::string_view general_name) {
  for (const auto& cr : reasons) {
    out += fmt::format("    {} branch: {}\n", specific_name, cr.specific);
    out += fmt::format("    implies {} branch: {}\n", general_name, cr.general);
    for (const auto& lr : cr.literals) out += fmt::format("      - {}\n", lr.text());
  }
}

}  // namespace

nlohmann::json conjunct_reasons_json(const std::vector<ConjunctReason>& reasons) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& cr : reasons) {
    nlohmann::json literals = nlohmann::json::array();
    for (const auto& lr : cr.literals) {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& s : lr.steps) steps.push_back({{"from", s.from}, {"to", s.to}, {"why", s.why}});
      literals.push_back({{"general", lr.general},
                          {"specific", lr.specific},
                          {"relation", lr.identical ? "identical" : lr.contrapositive ? "contrapositive" : "implies"},
                          {"steps", std::move(steps)},
                          {"text", lr.text()}});
    }
    out.push_back({{"specific", cr.specific}, {"general", cr.general}, {"literals", std::move(literals)}});
  }
  return out;
}

std::string overlap_text(const OverlapReport& report, const std::vector<CompiledRule>& rules) {
  std::string out;
  for (const auto& p : report.pairs) {
    const CompiledRule& a = rules[p.specific];
    const CompiledRule& b = rules[p.general];
    if (p.kind == OverlapKind::Equivalent) {
      out += fmt::format("equivalent ({}) on {}\n", p.basis, p.logsource);
      out += fmt::format("  rule A: {}\n  rule B: {}\n", rule_line(a), rule_line(b));
      out += fmt::format("  {}: {}\n", p.basis == "identical formula" ? "formula" : "normal form", p.normal_form);
      if (!p.reason.empty()) {
        out += "  A implies B:\n";
        append_reasons(out, p.reason, "A", "B");
        out += "  B implies A:\n";
        append_reasons(out, p.converse, "B", "A");
      }
    } else {
      out += fmt::format("subsumed on {}: every match of the specific rule is a match of the general rule\n", p.logsource);
      out += fmt::format("  specific: {}\n  general:  {}\n", rule_line(a), rule_line(b));
      append_reasons(out, p.reason, "specific", "general");
    }
    out += "\n";
  }
  return out;
}

nlohmann::json overlap_json(const OverlapReport& report, const std::vector<CompiledRule>& rules) {
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& p : report.pairs) {
    nlohmann::json j = {{"kind", overlap_kind_name(p.kind)},
                        {"basis", p.basis},
                        {"logsource", p.logsource},
                        {"normal_form", p.normal_form}};
    if (p.kind == OverlapKind::Equivalent) {
      j["rules"] = {rule_ref(rules[p.specific]), rule_ref(rules[p.general])};
      if (!p.reason.empty()) {
        j["reason"] = conjunct_reasons_json(p.reason);
        j["converse"] = conjunct_reasons_json(p.converse);
      }
    } else {
      j["specific"] = rule_ref(rules[p.specific]);
      j["general"] = rule_ref(rules[p.general]);
      j["reason"] = conjunct_reasons_json(p.reason);
    }
    pairs.push_back(std::move(j));
  }
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& [i, why] : report.skipped_rules) {
    nlohmann::json s = rule_ref(rules[i]);
    s["reason"] = why;
    skipped.push_back(std::move(s));
  }
  return {{"summary",
           {{"rules", report.rules_total},
            {"analysed", report.rules_analysed},
            {"skipped", report.skipped},
            {"equivalent_pairs", report.count(OverlapKind::Equivalent)},
            {"subsumed_pairs", report.count(OverlapKind::Subsumed)},
            {"logsource_groups", report.logsource_groups},
            {"checked_pairs", report.checked_pairs},
            {"candidate_pairs", report.candidate_pairs},
            {"seconds", report.seconds}}},
          {"pairs", std::move(pairs)},
          {"skipped", std::move(skipped)}};
}

}  // namespace sigscope
