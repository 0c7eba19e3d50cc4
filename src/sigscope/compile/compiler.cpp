#include "sigscope/common/parallel.h"
#include "sigscope/compile/compiler.h"

#include <pcre2.h>
#include <re2/re2.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

namespace {

enum class ModifierClass { Anchor, Operator, Transform, Flag, RegexFlag, TimePart };

struct ModifierInfo {
  ModifierClass cls;
  std::string_view canonical;  // name shown in the compiled form
};

const std::map<std::string_view, ModifierInfo>& modifier_table() {
  static const std::map<std::string_view, ModifierInfo> table = {
      {"contains", {ModifierClass::Anchor, "contains"}},
      {"startswith", {ModifierClass::Anchor, "startswith"}},
      {"endswith", {ModifierClass::Anchor, "endswith"}},
      {"re", {ModifierClass::Operator, "re"}},
      {"cidr", {ModifierClass::Operator, "cidr"}},
      {"exists", {ModifierClass::Operator, "exists"}},
      {"lt", {ModifierClass::Operator, "lt"}},
      {"lte", {ModifierClass::Operator, "lte"}},
      {"gt", {ModifierClass::Operator, "gt"}},
      {"gte", {ModifierClass::Operator, "gte"}},
      {"fieldref", {ModifierClass::Flag, "fieldref"}},
      {"neq", {ModifierClass::Flag, "neq"}},
      {"all", {ModifierClass::Flag, "all"}},
      {"cased", {ModifierClass::Flag, "cased"}},
      {"expand", {ModifierClass::Flag, "expand"}},
      {"windash", {ModifierClass::Transform, "windash"}},
      {"base64", {ModifierClass::Transform, "base64"}},
      {"base64offset", {ModifierClass::Transform, "base64offset"}},
      {"utf16le", {ModifierClass::Transform, "utf16le"}},
      {"wide", {ModifierClass::Transform, "wide"}},
      {"utf16be", {ModifierClass::Transform, "utf16be"}},
      {"utf16", {ModifierClass::Transform, "utf16"}},
      {"i", {ModifierClass::RegexFlag, "i"}},
      {"ignorecase", {ModifierClass::RegexFlag, "i"}},
      {"m", {ModifierClass::RegexFlag, "m"}},
      {"multiline", {ModifierClass::RegexFlag, "m"}},
      {"s", {ModifierClass::RegexFlag, "s"}},
      {"dotall", {ModifierClass::RegexFlag, "s"}},
      {"minute", {ModifierClass::TimePart, "minute"}},
      {"hour", {ModifierClass::TimePart, "hour"}},
      {"day", {ModifierClass::TimePart, "day"}},
      {"week", {ModifierClass::TimePart, "week"}},
      {"month", {ModifierClass::TimePart, "month"}},
      {"year", {ModifierClass::TimePart, "year"}},
  };
  return table;
}

constexpr std::string_view kModifierList =
    "contains, startswith, endswith, all, windash, re (with i, m, s), base64, base64offset, "
    "utf16le, utf16be, utf16, wide, cidr, exists, fieldref, lt, lte, gt, gte, neq, cased, "
    "expand, minute, hour, day, week, month, year";

struct Context {
  const Rule& rule;
  DiagnosticList& diagnostics;
  bool failed = false;
  // Parse `%name%` in every string value as a placeholder, as if each key had
  // the expand modifier (selections that processing pipelines add).
  bool placeholders_everywhere = false;

  void error(int line, int column, std::string message, std::string hint) {
    failed = true;
    diagnostics.error(rule.path, line, column, rule.id, std::move(message), std::move(hint));
  }
  // An error that lint check `check` also finds in the rule as written.
  void check_error(std::string check, int line, int column, std::string message, std::string hint) {
    failed = true;
    diagnostics.check_error(std::move(check), rule.path, line, column, rule.id, std::move(message),
                            std::move(hint));
  }
  // `check` is the lint check that reports the warning in `sigscope check`.
  void warning(std::string check, int line, int column, std::string message, std::string hint) {
    diagnostics.check_warning(std::move(check), rule.path, line, column, rule.id, std::move(message),
                              std::move(hint));
  }
};

// The parsed modifier chain of one detection key.
struct ModifierChain {
  std::vector<std::string> written;     // canonical names in order
  std::optional<MatchOp> anchor;        // contains / startswith / endswith
  std::optional<MatchOp> op;            // re / cidr / exists / lt / lte / gt / gte
  std::vector<std::string> transforms;  // in order
  bool all = false, cased = false, expand = false, fieldref = false, neq = false;
  bool re_i = false, re_m = false, re_s = false;
  TimePart time_part = TimePart::None;
};

std::optional<ModifierChain> parse_modifiers(const std::vector<std::string>& names, int line,
                                             int column, Context& ctx) {
  ModifierChain chain;
  std::set<std::string> seen;
  bool ok = true;
  auto reject = [&](std::string message, std::string hint) {
    ctx.error(line, column, std::move(message), std::move(hint));
    ok = false;
  };
  for (const auto& raw : names) {
    auto it = modifier_table().find(raw);
    if (it == modifier_table().end()) {
      // A modifier one edit away (two for long names) is most likely a typo of it.
      std::string_view closest;
      std::size_t best = raw.size() >= 8 ? 3 : 2;
      for (const auto& [name, info] : modifier_table()) {
        const std::size_t distance = osa_distance(ascii_lower(raw), name);
        if (distance < best) {
          best = distance;
          closest = name;
        }
      }
      reject(fmt::format("unknown modifier '{}'", raw),
             closest.empty() ? fmt::format("use one of the Sigma 2.1 modifiers: {}", kModifierList)
                             : fmt::format("write '{}', the closest modifier; the Sigma 2.1 modifiers are: {}",
                                           closest, kModifierList));
      continue;
    }
    const ModifierInfo& info = it->second;
    std::string name(info.canonical);
    if (!seen.insert(name).second) {
      ctx.warning("repeated-modifier", line, column, fmt::format("modifier '{}' is given twice", name),
                  "remove the repeated modifier");
      continue;
    }
    chain.written.push_back(name);
    switch (info.cls) {
      case ModifierClass::Anchor: {
        MatchOp op = name == "contains"     ? MatchOp::Contains
                     : name == "startswith" ? MatchOp::StartsWith
                                            : MatchOp::EndsWith;
        if (chain.anchor)
          reject(fmt::format("'{}' conflicts with '{}'", name,
                             chain.written[chain.written.size() - 2]),
                 "use only one of contains, startswith and endswith");
        chain.anchor = op;
        break;
      }
      case ModifierClass::Operator: {
        MatchOp op = name == "re"       ? MatchOp::Regex
                     : name == "cidr"   ? MatchOp::Cidr
                     : name == "exists" ? MatchOp::Exists
                     : name == "lt"     ? MatchOp::Less
                     : name == "lte"    ? MatchOp::LessEqual
                     : name == "gt"     ? MatchOp::Greater
                                        : MatchOp::GreaterEqual;
        if (chain.op)
          reject(fmt::format("'{}' conflicts with '{}'", name, match_op_name(*chain.op)),
                 "a value can be compared in only one way; split the checks into two selections");
        chain.op = op;
        break;
      }
      case ModifierClass::Transform: chain.transforms.push_back(name); break;
      case ModifierClass::RegexFlag:
        if (name == "i") chain.re_i = true;
        if (name == "m") chain.re_m = true;
        if (name == "s") chain.re_s = true;
        break;
      case ModifierClass::TimePart:
        if (chain.time_part != TimePart::None)
          reject(fmt::format("time modifier '{}' conflicts with '{}'", name,
                             time_part_name(chain.time_part)),
                 "use one of minute, hour, day, week, month and year");
        chain.time_part = name == "minute" ? TimePart::Minute
                          : name == "hour" ? TimePart::Hour
                          : name == "day"  ? TimePart::Day
                          : name == "week" ? TimePart::Week
                          : name == "month" ? TimePart::Month
                                            : TimePart::Year;
        break;
      case ModifierClass::Flag:
        if (name == "all") chain.all = true;
        if (name == "cased") chain.cased = true;
        if (name == "expand") chain.expand = true;
        if (name == "fieldref") chain.fieldref = true;
        if (name == "neq") chain.neq = true;
        break;
    }
  }
  if (!ok) return std::nullopt;

  // Combinations whose meaning is undefined.
  const bool numeric_op = chain.op && (*chain.op == MatchOp::Less || *chain.op == MatchOp::LessEqual ||
                                       *chain.op == MatchOp::Greater ||
                                       *chain.op == MatchOp::GreaterEqual);
  if (chain.anchor && chain.op)
    reject(fmt::format("'{}' cannot be combined with '{}'", match_op_name(*chain.anchor),
                       match_op_name(*chain.op)),
           "contains/startswith/endswith apply to plain string values only");
  if ((chain.re_i || chain.re_m || chain.re_s) && chain.op != MatchOp::Regex)
    reject("the regex flags i, m and s need the re modifier", "write e.g. field|re|i");
  if (!chain.transforms.empty() && chain.op)
    reject(fmt::format("'{}' cannot be combined with '{}'", chain.transforms.front(),
                       match_op_name(*chain.op)),
           "encoding modifiers apply to plain string values only");
  if (chain.op == MatchOp::Exists &&
      (chain.all || chain.cased || chain.neq || chain.fieldref || chain.expand ||
       chain.time_part != TimePart::None))
    reject("exists cannot be combined with other modifiers", "write field|exists: true or false");
  if (chain.fieldref && (chain.op || !chain.transforms.empty() || chain.expand ||
                         chain.time_part != TimePart::None))
    reject("fieldref combines only with contains, startswith, endswith, neq, all and cased",
           "remove the other modifiers");
  if (chain.time_part != TimePart::None &&
      (chain.anchor || !chain.transforms.empty() || (chain.op && !numeric_op)))
    reject(fmt::format("time modifier '{}' combines only with lt, lte, gt, gte and neq",
                       time_part_name(chain.time_part)),
           "remove the other modifiers");
  if (numeric_op && chain.neq)
    reject("neq cannot be combined with lt, lte, gt or gte", "use one comparison");
  if (chain.expand && chain.op)
    reject(fmt::format("expand cannot be combined with '{}'", match_op_name(*chain.op)),
           "placeholders expand to plain string values");
  if (chain.cased && (chain.op == MatchOp::Cidr || numeric_op))
    ctx.warning("ineffective-modifier", line, column, "cased has no effect on cidr or numeric comparisons",
                "remove the cased modifier");
  if (chain.cased && chain.op == MatchOp::Regex)
    ctx.warning("ineffective-modifier", line, column,
                "cased has no effect with re, which is case-sensitive unless re|i is given",
                "remove the cased modifier");
  if (!ok) return std::nullopt;
  return chain;
}

std::optional<double> parse_number(const YamlNode& node) {
  if (node.kind != YamlNode::Kind::Scalar) return std::nullopt;
  std::string_view text = trim(node.text);
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  double value;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    value = static_cast<double>(std::strtoull(s.c_str() + 2, &end, 16));
  else
    value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// Validates a regex: RE2 first (linear time), then PCRE2 for what RE2 does not
// support. Returns an error message when neither accepts it.
std::optional<std::string> check_regex(RegexSpec& spec) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(!spec.case_insensitive);
  options.set_dot_nl(spec.dot_all);
  options.set_never_nl(false);
  std::string source = spec.multi_line ? "(?m)" + spec.source : spec.source;
  RE2 re2(source, options);
  if (re2.ok()) {
    spec.needs_backtracking = false;
    return std::nullopt;
  }
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  if (spec.case_insensitive) flags |= PCRE2_CASELESS;
  if (spec.multi_line) flags |= PCRE2_MULTILINE;
  if (spec.dot_all) flags |= PCRE2_DOTALL;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(spec.source.data()),
                                   spec.source.size(), flags, &error_code, &error_offset, nullptr);
  if (code) {
    pcre2_code_free(code);
    spec.needs_backtracking = true;
    return std::nullopt;
  }
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(error_code, buffer, sizeof buffer);
  return fmt::format("invalid regular expression '{}': {} at offset {}", quote_for_message(spec.source),
                     reinterpret_cast<const char*>(buffer), error_offset);
}

std::string value_text(const YamlNode& node) {
  return node.kind == YamlNode::Kind::Scalar ? node.text : std::string("null");
}

// Builds the predicate for one `field|modifiers: values` entry (or a keyword
// list when `field` is empty).
std::optional<Predicate> compile_predicate(const std::string& key, const YamlNode& value_node,
                                           int line, int column, bool keyword, Context& ctx) {
  Predicate pred;
  pred.line = line;
  pred.column = column;

  std::vector<std::string> parts = split(key, '|');
  pred.field = keyword ? std::string() : parts[0];
  if (!keyword && pred.field.empty() && parts.size() == 1) {
    ctx.error(line, column, "a detection key is empty", "write a field name before the colon");
    return std::nullopt;
  }
  std::vector<std::string> mod_names(parts.begin() + (keyword ? 0 : 1), parts.end());
  if (keyword && !mod_names.empty() && mod_names.front().empty()) mod_names.erase(mod_names.begin());
  auto chain = parse_modifiers(mod_names, line, column, ctx);
  if (!chain) return std::nullopt;
  pred.modifiers = chain->written;
  pred.match_all = chain->all;
  pred.cased = chain->cased;
  pred.expand = chain->expand;
  pred.negated = chain->neq;
  pred.time_part = chain->time_part;
  pred.op = chain->op.value_or(chain->anchor.value_or(keyword ? MatchOp::Contains : MatchOp::Equals));
  if (chain->anchor && chain->fieldref) pred.op = *chain->anchor;

  if (pred.field.empty() && !keyword) {
    // "|all:" style keys without a field are keyword searches.
    keyword = true;
    if (!chain->anchor && !chain->op) pred.op = MatchOp::Contains;
  }
  if (keyword && (chain->op || chain->fieldref || chain->neq || chain->time_part != TimePart::None)) {
    ctx.error(line, column,
              "keyword search supports only the all, cased, windash and encoding modifiers",
              "name a field to use comparison modifiers");
    return std::nullopt;
  }

  // Collect the values.
  std::vector<const YamlNode*> items;
  if (value_node.is_sequence()) {
    for (const auto& item : value_node.items) items.push_back(&item);
    if (items.empty()) {
      ctx.warning("empty-value-list", line, column, fmt::format("'{}' has an empty value list and never matches", key),
                  "give at least one value or remove the key");
    }
  } else {
    items.push_back(&value_node);
  }
  if (pred.match_all && items.size() == 1)
    ctx.warning("all-single-value", line, column, fmt::format("'{}' uses all with a single value", key),
                "remove the all modifier; it only changes lists");

  for (const YamlNode* item : items) {
    int vline = item->line ? item->line : line;
    int vcol = item->line ? item->column : column;
    if (item->is_mapping() || item->is_sequence()) {
      ctx.error(vline, vcol,
                fmt::format("'{}' has a nested {} as value", key,
                            item->is_mapping() ? "mapping" : "list"),
                "values must be strings, numbers, booleans or null");
      return std::nullopt;
    }
    CompiledValue v;
    v.written = value_text(*item);
    const bool is_null = item->is_null();

    if (pred.op == MatchOp::Exists) {
      if (!item->is_bool()) {
        ctx.error(vline, vcol, fmt::format("exists needs true or false, found '{}'", v.written),
                  "write field|exists: true (or false)");
        return std::nullopt;
      }
      v.kind = CompiledValue::Kind::Exists;
      v.exists = item->as_bool();
      pred.values.push_back(std::move(v));
      continue;
    }
    if (is_null) {
      if (pred.op != MatchOp::Equals || !chain->transforms.empty() || chain->fieldref ||
          pred.time_part != TimePart::None) {
        ctx.error(vline, vcol, fmt::format("'{}' compares with null, which only works as plain equality", key),
                  "remove the modifiers or use field|exists: false");
        return std::nullopt;
      }
      v.kind = CompiledValue::Kind::Null;
      v.written = "null";
      pred.values.push_back(std::move(v));
      continue;
    }
    if (chain->fieldref) {
      v.kind = CompiledValue::Kind::FieldRef;
      v.field_ref = item->text;
      if (v.field_ref.empty()) {
        ctx.error(vline, vcol, "fieldref needs a field name", "write the name of the other field");
        return std::nullopt;
      }
      pred.values.push_back(std::move(v));
      continue;
    }
    if (pred.op == MatchOp::Regex) {
      v.kind = CompiledValue::Kind::Regex;
      v.regex.source = item->text;
      v.regex.case_insensitive = chain->re_i;
      v.regex.multi_line = chain->re_m;
      v.regex.dot_all = chain->re_s;
      if (auto err = check_regex(v.regex)) {
        ctx.error(vline, vcol, *err, "fix the regular expression");
        return std::nullopt;
      }
      pred.values.push_back(std::move(v));
      continue;
    }
    if (pred.op == MatchOp::Cidr) {
      auto net = parse_cidr(item->text);
      if (!net) {
        ctx.error(vline, vcol, fmt::format("invalid CIDR network '{}'", item->text),
                  "write an IPv4 or IPv6 network such as 10.0.0.0/8 or fe80::/10");
        return std::nullopt;
      }
      v.kind = CompiledValue::Kind::Cidr;
      v.cidr = *net;
      pred.values.push_back(std::move(v));
      continue;
    }
    const bool numeric_op = pred.op == MatchOp::Less || pred.op == MatchOp::LessEqual ||
                            pred.op == MatchOp::Greater || pred.op == MatchOp::GreaterEqual;
    if (numeric_op || pred.time_part != TimePart::None) {
      auto number = parse_number(*item);
      if (!number) {
        ctx.error(vline, vcol,
                  fmt::format("'{}' needs a number, found '{}'", key, v.written),
                  "write a plain number");
        return std::nullopt;
      }
      v.kind = CompiledValue::Kind::Number;
      v.number = *number;
      v.numeric = true;
      pred.values.push_back(std::move(v));
      continue;
    }

    // Strings, numbers and booleans are compared as text. Only strings can
    // hold wildcards; YAML numbers and booleans are taken literally.
    v.kind = CompiledValue::Kind::Pattern;
    const bool typed = item->style == YamlNode::Style::Plain && (item->is_number() || item->is_bool());
    const bool placeholders = chain->expand || ctx.placeholders_everywhere;
    Pattern pattern = typed ? Pattern::literal(item->text) : Pattern::parse(item->text, placeholders);
    if (ctx.placeholders_everywhere && pattern.has_placeholders()) pred.expand = true;
    if (typed && item->is_number()) {
      if (auto number = parse_number(*item)) {
        v.numeric = true;
        v.number = *number;
      }
    }
    if (chain->expand && !pattern.has_placeholders())
      ctx.warning("ineffective-modifier", vline, vcol, fmt::format("expand is set but '{}' has no %placeholder%", v.written),
                  "remove the expand modifier or add a placeholder");
    v.alternatives.push_back(std::move(pattern));
    for (const auto& transform : chain->transforms) {
      if (auto err = apply_transform(transform, v.alternatives)) {
        ctx.error(vline, vcol, *err, "remove the modifier or write the value without wildcards");
        return std::nullopt;
      }
    }
    pred.values.push_back(std::move(v));
  }
  return pred;
}

// Compiles one selection (mapping, list of mappings, keyword list or single
// keyword) into a stage tree. After an invalid key or item it goes on with the
// next, so every one is reported, and then returns nothing.
std::optional<StageNode> compile_selection(const YamlNode& node, const std::string& name,
                                           int line, int column, Stage& stage, Context& ctx) {
  auto add_predicate = [&](Predicate&& p) {
    StageNode leaf;
    leaf.op = StageNode::Op::Predicate;
    leaf.predicate = static_cast<int>(stage.predicates.size());
    stage.predicates.push_back(std::move(p));
    return leaf;
  };
  if (node.is_null()) {
    ctx.error(line, column, fmt::format("selection '{}' is empty", name),
              "give the selection field/value pairs or keywords");
    return std::nullopt;
  }
  if (node.is_mapping()) {
    if (node.entries.empty()) {
      ctx.error(line, column, fmt::format("selection '{}' is an empty mapping", name),
                "give the selection at least one field");
      return std::nullopt;
    }
    StageNode all;
    all.op = StageNode::Op::And;
    bool valid = true;
    for (const auto& e : node.entries) {
      auto p = compile_predicate(e.key, e.value, e.line, e.column, false, ctx);
      if (!p) {
        valid = false;
        continue;
      }
      all.children.push_back(add_predicate(std::move(*p)));
    }
    if (!valid) return std::nullopt;
    if (all.children.size() == 1) return std::move(all.children.front());
    return all;
  }
  if (node.is_scalar()) {
    auto p = compile_predicate("", node, line, column, true, ctx);
    if (!p) return std::nullopt;
    return add_predicate(std::move(*p));
  }
  // A list: plain values form one keyword predicate (OR of the values); each
  // mapping is one alternative (OR of ANDs).
  if (node.items.empty()) {
    ctx.error(line, column, fmt::format("selection '{}' is an empty list", name),
              "give the selection at least one item");
    return std::nullopt;
  }
  bool all_scalars = std::all_of(node.items.begin(), node.items.end(),
                                 [](const YamlNode& n) { return n.is_scalar() || n.is_null(); });
  if (all_scalars) {
    auto p = compile_predicate("", node, line, column, true, ctx);
    if (!p) return std::nullopt;
    return add_predicate(std::move(*p));
  }
  StageNode any;
  any.op = StageNode::Op::Or;
  bool valid = true;
  for (const auto& item : node.items) {
    if (item.is_sequence()) {
      ctx.error(item.line, item.column, fmt::format("selection '{}' holds a nested list", name),
                "list mappings or keywords directly under the selection");
      valid = false;
      continue;
    }
    auto child = compile_selection(item, name, item.line ? item.line : line, item.column, stage, ctx);
    if (!child) {
      valid = false;
      continue;
    }
    any.children.push_back(std::move(*child));
  }
  if (!valid) return std::nullopt;
  if (any.children.size() == 1) return std::move(any.children.front());
  return any;
}

ConditionExpr combine(ConditionExpr::Op op, std::vector<ConditionExpr> children) {
  if (children.size() == 1) return std::move(children.front());
  ConditionExpr e;
  e.op = op;
  e.children = std::move(children);
  return e;
}

// Expands the condition tree over the stage list; reports undefined names.
// Column of byte `offset` of a condition scalar, when the scalar is one line.
struct ConditionPosition {
  int line = 0;
  int column = 0;
  bool single_line = false;
  int quote = 0;  // 1 when the scalar is quoted
  int column_of(int offset) const { return single_line ? column + quote + offset : column; }
};

std::optional<ConditionExpr> expand_condition(const ConditionAst& ast,
                                              const std::vector<Stage>& stages,
                                              const ConditionPosition& pos, Context& ctx) {
  const int line = pos.line;
  const int column = pos.column_of(ast.offset);
  using Op = ConditionAst::Op;
  switch (ast.op) {
    case Op::Identifier: {
      for (std::size_t i = 0; i < stages.size(); ++i)
        if (stages[i].name == ast.name) {
          ConditionExpr e;
          e.stage = static_cast<int>(i);
          return e;
        }
      std::vector<std::string> names;
      for (const auto& s : stages) names.push_back(s.name);
      ctx.check_error("dangling-condition", line, column,
                      fmt::format("condition uses '{}', which is not defined in the detection section", ast.name),
                      names.empty() ? fmt::format("define '{}' in the detection section", ast.name)
                                    : fmt::format("define '{}' or use one of: {}", ast.name, join(names, ", ")));
      return std::nullopt;
    }
    case Op::OneOf:
    case Op::AllOf: {
      std::vector<ConditionExpr> children;
      for (std::size_t i = 0; i < stages.size(); ++i) {
        const std::string& name = stages[i].name;
        bool match = ast.name == "them" ? (name.empty() || name[0] != '_') : glob_match(ast.name, name);
        if (!match) continue;
        ConditionExpr e;
        e.stage = static_cast<int>(i);
        children.push_back(e);
      }
      if (children.empty()) {
        // lint's dangling-condition reports patterns, but not 'them'.
        if (ast.name == "them")
          ctx.error(line, column, "'of them' finds no selection (names starting with '_' are skipped)",
                    "check the identifier pattern against the selection names");
        else
          ctx.check_error("dangling-condition", line, column, fmt::format("'{}' matches no selection name", ast.name),
                          "check the identifier pattern against the selection names");
        return std::nullopt;
      }
      return combine(ast.op == Op::AllOf ? ConditionExpr::Op::And : ConditionExpr::Op::Or,
                     std::move(children));
    }
    case Op::Not: {
      auto child = expand_condition(ast.children[0], stages, pos, ctx);
      if (!child) return std::nullopt;
      ConditionExpr e;
      e.op = ConditionExpr::Op::Not;
      e.children.push_back(std::move(*child));
      return e;
    }
    case Op::And:
    case Op::Or: {
      std::vector<ConditionExpr> children;
      for (const auto& c : ast.children) {
        auto child = expand_condition(c, stages, pos, ctx);
        if (!child) return std::nullopt;
        children.push_back(std::move(*child));
      }
      return combine(ast.op == Op::And ? ConditionExpr::Op::And : ConditionExpr::Op::Or,
                     std::move(children));
    }
  }
  return std::nullopt;
}

// Extracts the source lines of detection entry `index` from the rule text:
// from its key line up to the next sibling key, dedented.
std::string selection_text(const Rule& rule, const YamlNode& detection, std::size_t index) {
  const YamlEntry& entry = detection.entries[index];
  std::vector<std::string_view> lines;
  std::string_view text = rule.source_text;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  int first = entry.line - rule.line;  // 0-based index into lines
  if (first < 0 || first >= static_cast<int>(lines.size()) || entry.column < 1) {
    return entry.key + ": " + yaml_to_flow(entry.value);
  }
  std::size_t indent = static_cast<std::size_t>(entry.column - 1);
  std::size_t last = static_cast<std::size_t>(first);
  for (std::size_t i = static_cast<std::size_t>(first) + 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    std::string_view t = trim(l);
    if (t.empty() || t.front() == '#') continue;
    std::size_t lead = l.find_first_not_of(" \t");
    if (lead <= indent) break;
    last = i;
  }
  std::string out;
  for (std::size_t i = static_cast<std::size_t>(first); i <= last; ++i) {
    std::string_view l = lines[i];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    std::size_t lead = l.find_first_not_of(' ');
    if (lead == std::string_view::npos) lead = l.size();
    out += l.substr(std::min(indent, lead));
    out += '\n';
  }
  if (!out.empty()) out.pop_back();
  return out;
}

bool compile_detection(const YamlNode& detection, CompiledRule& out, Context& ctx) {
  const Rule& rule = out.rule;
  const YamlNode* condition = nullptr;
  int condition_line = rule.line, condition_column = 0;
  bool selections_valid = true;
  for (std::size_t i = 0; i < detection.entries.size(); ++i) {
    const YamlEntry& e = detection.entries[i];
    if (e.key == "condition") {
      condition = &e.value;
      condition_line = e.value.line ? e.value.line : e.line;
      condition_column = e.value.line ? e.value.column : e.column;
      continue;
    }
    if (e.key == "timeframe") {
      ctx.warning("obsolete-timeframe", e.line, e.column,
                  "'timeframe' belongs to obsolete Sigma 1.x aggregations and is ignored",
                  "express the time window with a correlation rule");
      continue;
    }
    Stage stage;
    stage.name = e.key;
    stage.line = e.line;
    auto root = compile_selection(e.value, e.key, e.line, e.column, stage, ctx);
    if (!root) {
      // Go on with the other selections so that each of their errors is reported too.
      selections_valid = false;
      continue;
    }
    stage.root = std::move(*root);
    stage.yaml = selection_text(rule, detection, i);
    out.stages.push_back(std::move(stage));
  }

  if (!condition || condition->is_null()) {
    // A misspelled key ("condtion") reads as a selection, so the error points at it.
    if (!condition)
      for (const auto& e : detection.entries)
        if (e.key != "condition" && osa_distance(ascii_lower(e.key), "condition") <= 2) {
          ctx.error(e.line, e.column,
                    fmt::format("the detection section has no condition, and '{}' looks like a misspelling of it",
                                e.key),
                    "rename the key to 'condition'");
          return false;
        }
    ctx.error(condition ? condition_line : rule.line, condition ? condition_column : 0,
              "the detection section has no condition",
              "add e.g. 'condition: selection' under detection");
    return false;
  }
  // The condition names selections, so it is checked only when all of them compiled.
  if (!selections_valid) return false;
  std::vector<const YamlNode*> texts;
  if (condition->is_sequence()) {
    for (const auto& item : condition->items) texts.push_back(&item);
    if (texts.empty()) {
      ctx.error(condition_line, condition_column, "the condition list is empty",
                "give at least one condition");
      return false;
    }
  } else {
    texts.push_back(condition);
  }

  std::vector<ConditionAst> asts;
  std::vector<ConditionExpr> exprs;
  for (const YamlNode* t : texts) {
    if (!t->is_scalar()) {
      ctx.error(t->line ? t->line : condition_line, t->column, "a condition must be a string",
                "write the condition as text, e.g. 'selection and not filter'");
      return false;
    }
    out.condition_texts.push_back(t->text);
    int line = t->line ? t->line : condition_line;
    int column = t->line ? t->column : condition_column;
    ConditionPosition pos;
    pos.line = line;
    pos.column = column;
    pos.quote = t->style == YamlNode::Style::Plain ? 0 : 1;
    pos.single_line = t->text.find('\n') == std::string::npos && t->style != YamlNode::Style::Block;
    auto parsed = parse_condition(t->text);
    if (auto* err = std::get_if<ConditionParseError>(&parsed)) {
      ctx.error(line, pos.column_of(err->offset),
                fmt::format("invalid condition '{}': {}", quote_for_message(t->text), err->message),
                "use and, or, not, parentheses, '1 of x*', 'all of x*' and selection names");
      return false;
    }
    auto& pc = std::get<ParsedCondition>(parsed);
    if (pc.aggregation) {
      ctx.warning("obsolete-aggregation", line, column,
                  fmt::format("the aggregation '| {}' is obsolete Sigma 1.x syntax, so hunt does not run "
                              "this rule", pc.aggregation->text),
                  "rewrite it as a Sigma 2 correlation rule");
      out.aggregation = pc.aggregation;
    }
    auto expr = expand_condition(pc.ast, out.stages, pos, ctx);
    if (!expr) return false;
    asts.push_back(std::move(pc.ast));
    exprs.push_back(std::move(*expr));
  }
  if (asts.size() == 1) {
    out.condition_ast = std::move(asts.front());
  } else {
    out.condition_ast.op = ConditionAst::Op::Or;
    out.condition_ast.children = std::move(asts);
  }
  out.condition = combine(ConditionExpr::Op::Or, std::move(exprs));

  std::vector<int> used = out.referenced_stages();
  for (std::size_t i = 0; i < out.stages.size(); ++i) {
    if (std::find(used.begin(), used.end(), static_cast<int>(i)) == used.end())
      ctx.warning("dangling-detection", out.stages[i].line, 0,
                  fmt::format("selection '{}' is defined but the condition never uses it",
                              out.stages[i].name),
                  "use it in the condition or remove it");
  }
  return true;
}

}  // namespace

std::optional<Stage> compile_detached_selection(const std::string& name, const YamlNode& selection,
                                                const std::string& path, const std::string& rule_id,
                                                bool placeholders, DiagnosticList& diagnostics) {
  Rule owner;
  owner.path = path;
  owner.id = rule_id;
  Context ctx{owner, diagnostics};
  ctx.placeholders_everywhere = placeholders;
  Stage stage;
  stage.name = name;
  stage.line = selection.line;
  auto root = compile_selection(selection, name, selection.line, selection.column, stage, ctx);
  if (!root || ctx.failed) return std::nullopt;
  stage.root = std::move(*root);
  stage.yaml = name + ": " + yaml_to_flow(selection);
  return stage;
}

std::optional<CompiledRule> compile_rule(Rule rule, DiagnosticList& diagnostics) {
  CompiledRule out;
  out.rule = std::move(rule);
  Context ctx{out.rule, diagnostics};
  switch (out.rule.kind) {
    case RuleKind::Detection:
      if (!compile_detection(out.rule.detection, out, ctx)) return std::nullopt;
      break;
    case RuleKind::Filter:
      if (!compile_detection(out.rule.filter.detection, out, ctx)) return std::nullopt;
      break;
    case RuleKind::Correlation:
      break;
  }
  if (ctx.failed) return std::nullopt;
  return out;
}

CompileResult compile_rules(std::vector<Rule> rules, DiagnosticList& diagnostics, unsigned threads) {
  CompileResult result;
  std::vector<std::optional<CompiledRule>> compiled(rules.size());
  parallel_for(rules.size(), threads,
               [&](std::size_t i) { compiled[i] = compile_rule(std::move(rules[i]), diagnostics); });
  for (auto& c : compiled) {
    if (c) result.rules.push_back(std::move(*c));
    else ++result.failed;
  }
  return result;
}

}  // namespace sigscope
