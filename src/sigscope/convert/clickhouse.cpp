#include "sigscope/convert/clickhouse.h"

#include <fmt/format.h>

#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include "sigscope/common/text.h"
#include "sigscope/taxonomy/logsources.h"

namespace sigscope {

std::string clickhouse_string(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '\0': out += "\\0"; break;
      default: out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

std::string clickhouse_identifier(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

namespace {

// A rule part that has no ClickHouse form. Its message becomes the reason.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string join_sql(const std::vector<std::string>& parts, std::string_view op) {
  if (parts.size() == 1) return parts.front();
  std::string out = "(";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += fmt::format(" {} ", op);
    out += parts[i];
  }
  out += ")";
  return out;
}

// Escapes LIKE's own wildcards and its escape character in literal text.
void append_like_literal(std::string_view text, std::string& out) {
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
}

class RuleConverter {
 public:
  RuleConverter(const CompiledRule& rule, const ClickHouseOptions& options,
                const std::map<std::string, std::string>& renames)
      : rule_(rule), options_(options), renames_(renames) {}

  std::string condition(const ConditionExpr& expr) {
    switch (expr.op) {
      case ConditionExpr::Op::Stage: {
        const Stage& stage = rule_.stages.at(static_cast<std::size_t>(expr.stage));
        return stage_node(stage, stage.root);
      }
      case ConditionExpr::Op::Not: return fmt::format("NOT {}", condition(expr.children.at(0)));
      case ConditionExpr::Op::And:
      case ConditionExpr::Op::Or: {
        std::vector<std::string> parts;
        for (const auto& child : expr.children) parts.push_back(condition(child));
        if (parts.empty()) return expr.op == ConditionExpr::Op::And ? "1" : "0";
        return join_sql(parts, expr.op == ConditionExpr::Op::And ? "AND" : "OR");
      }
    }
    return "0";
  }

 private:
  std::string stage_node(const Stage& stage, const StageNode& node) {
    if (node.op == StageNode::Op::Predicate)
      return predicate(stage.predicates.at(static_cast<std::size_t>(node.predicate)));
    std::vector<std::string> parts;
    for (const auto& child : node.children) parts.push_back(stage_node(stage, child));
    if (parts.empty()) return node.op == StageNode::Op::And ? "1" : "0";
    return join_sql(parts, node.op == StageNode::Op::And ? "AND" : "OR");
  }

  // Returns the column of a rule field for this source, renamed where the
  // source names it differently (Security 4688's NewProcessName for Image).
  std::string column(const std::string& field) const {
    auto it = renames_.find(field);
    return clickhouse_identifier(it != renames_.end() ? it->second : field);
  }

  std::string predicate(const Predicate& p) {
    std::string col;
    if (p.is_keyword()) {
      if (options_.keyword_column.empty())
        throw Unsupported("it searches keywords, and no keyword column was given (--keyword-column)");
      col = clickhouse_identifier(options_.keyword_column);
    } else {
      col = column(p.field);
    }
    if (p.op == MatchOp::Exists) {
      const bool exists = p.values.empty() || p.values.front().exists;
      return fmt::format("{}({})", exists ? "isNotNull" : "isNull", col);
    }
    std::vector<std::string> parts;
    for (const auto& v : p.values) parts.push_back(value(p, col, v));
    if (parts.empty()) return "0";
    std::string any = join_sql(parts, p.match_all ? "AND" : "OR");
    // neq holds only on a field that is present, as in the engine.
    return p.negated ? fmt::format("(isNotNull({}) AND NOT {})", col, any) : any;
  }

  // Returns one value's test, which is never NULL, because SQL's NOT of NULL
  // is NULL and Sigma's `not` over a missing field is true.
  std::string value(const Predicate& p, const std::string& col, const CompiledValue& v) {
    switch (v.kind) {
      case CompiledValue::Kind::Null: return fmt::format("isNull({})", col);
      case CompiledValue::Kind::Exists: return fmt::format("isNotNull({})", col);
      case CompiledValue::Kind::Pattern: {
        std::vector<std::string> parts;
        for (const auto& alternative : v.alternatives) parts.push_back(pattern(p, col, alternative));
        if (parts.empty()) return "0";
        return fmt::format("ifNull({}, 0)", join_sql(parts, "OR"));
      }
      case CompiledValue::Kind::Regex: {
        if (v.regex.needs_backtracking)
          throw Unsupported(fmt::format("its regex '{}' needs a backtracking engine, and ClickHouse runs RE2",
                                        v.regex.source));
        // ClickHouse lets `.` match a line break by default; Sigma's regexes
        // follow PCRE, where only the s flag allows it.
        std::string flags = v.regex.dot_all ? "(?s)" : "(?-s)";
        if (v.regex.case_insensitive) flags += "(?i)";
        if (v.regex.multi_line) flags += "(?m)";
        // ClickHouse 18.16 checks a regex's literal text, in its written case,
        // before RE2 runs, so (?i)NewEngineState missed "newenginestate". A
        // top-level alternative that never matches ([^\s\S]) turns that off.
        return fmt::format("ifNull(match({}, {}), 0)", col,
                           clickhouse_string(flags + "(?:" + v.regex.source + ")|[^\\s\\S]"));
      }
      case CompiledValue::Kind::Cidr: return cidr(col, v.cidr);
      case CompiledValue::Kind::Number: {
        const char* op = p.op == MatchOp::Less          ? "<"
                         : p.op == MatchOp::LessEqual   ? "<="
                         : p.op == MatchOp::Greater     ? ">"
                         : p.op == MatchOp::GreaterEqual ? ">="
                                                         : "=";
        return fmt::format("ifNull({} {} {}, 0)", number_of(p, col), op, fmt::format("{}", v.number));
      }
      case CompiledValue::Kind::FieldRef: {
        const std::string other = column(v.field_ref);
        const std::string mine = p.cased ? col : fmt::format("lowerUTF8({})", col);
        const std::string theirs = p.cased ? other : fmt::format("lowerUTF8({})", other);
        return fmt::format("ifNull({}, 0)", text_test(p.op, mine, theirs));
      }
    }
    return "0";
  }

  static std::string text_test(MatchOp op, const std::string& hay, const std::string& needle) {
    switch (op) {
      case MatchOp::Contains: return fmt::format("position({}, {}) > 0", hay, needle);
      case MatchOp::StartsWith: return fmt::format("startsWith({}, {})", hay, needle);
      case MatchOp::EndsWith: return fmt::format("endsWith({}, {})", hay, needle);
      default: return fmt::format("{} = {}", hay, needle);
    }
  }

  // Returns the number a comparison reads: the value, or a part of a date
  // written as YYYY-MM-DD[T ]HH:MM..., as the engine extracts it.
  std::string number_of(const Predicate& p, const std::string& col) {
    // ClickHouse 18.16 has no trimBoth, so a regex removes the blanks that the
    // engine trims.
    const std::string text = fmt::format("replaceRegexpAll({}, '^\\\\s+|\\\\s+$', '')", col);
    auto digits = [&](int offset, int length, const char* shape) {
      return fmt::format("if(match({}, {}), toFloat64OrNull(substring({}, {}, {})), NULL)", text,
                         clickhouse_string(shape), text, offset, length);
    };
    const char* date = "^\\d{4}-\\d{2}-\\d{2}";
    const char* date_time = "^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}";
    switch (p.time_part) {
      case TimePart::None: return fmt::format("toFloat64OrNull({})", text);
      case TimePart::Year: return digits(1, 4, date);
      case TimePart::Month: return digits(6, 2, date);
      case TimePart::Day: return digits(9, 2, date);
      case TimePart::Hour: return digits(12, 2, date_time);
      case TimePart::Minute: return digits(15, 2, date_time);
      case TimePart::Week: throw Unsupported("its week time modifier has no conversion yet");
    }
    return "NULL";
  }

  std::string cidr(const std::string& col, const CidrNetwork& network) {
    const int bytes = network.ipv6 ? 16 : 4;
    std::array<std::uint8_t, 16> low = network.address, high = network.address;
    for (int bit = network.prefix; bit < bytes * 8; ++bit) {
      const int byte = bit / 8;
      const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
      low[static_cast<std::size_t>(byte)] &= static_cast<std::uint8_t>(~mask);
      high[static_cast<std::size_t>(byte)] |= mask;
    }
    if (!network.ipv6) {
      auto number = [](const std::array<std::uint8_t, 16>& a) {
        return (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) | (std::uint32_t{a[2]} << 8) | a[3];
      };
      // IPv4StringToNum gives 0 for text that is no address, so the shape
      // is tested first.
      return fmt::format("ifNull(match({}, '^\\\\d{{1,3}}(\\\\.\\\\d{{1,3}}){{3}}$') AND "
                         "IPv4StringToNum({}) BETWEEN {} AND {}, 0)",
                         col, col, number(low), number(high));
    }
    auto hex = [](const std::array<std::uint8_t, 16>& a) {
      std::string out;
      for (std::uint8_t b : a) out += fmt::format("{:02X}", b);
      return out;
    };
    return fmt::format("ifNull(position({}, ':') > 0 AND hex(IPv6StringToNum({})) BETWEEN '{}' AND '{}', 0)", col, col,
                       hex(low), hex(high));
  }

  // A Sigma pattern: plain text tests where it has no wildcards, LIKE where
  // it has. Without `cased`, both sides are compared in lower case.
  std::string pattern(const Predicate& p, const std::string& col, const Pattern& pattern) {
    const std::string hay = p.cased ? col : fmt::format("lowerUTF8({})", col);
    auto text = [&](std::string_view t) { return p.cased ? std::string(t) : fold_case(t); };
    for (const auto& piece : pattern.pieces())
      if (piece.kind == PatternPiece::Kind::Placeholder)
        throw Unsupported(fmt::format("placeholder %{}% has no value (give a pipeline that sets it)", piece.text));
    if (!pattern.has_wildcards())
      return text_test(p.op, hay, clickhouse_string(text(pattern.literal_text())));
    std::string like;
    if (p.op == MatchOp::Contains || p.op == MatchOp::EndsWith) like.push_back('%');
    for (const auto& piece : pattern.pieces()) {
      switch (piece.kind) {
        case PatternPiece::Kind::Literal: append_like_literal(text(piece.text), like); break;
        case PatternPiece::Kind::AnyRun: like.push_back('%'); break;
        case PatternPiece::Kind::AnyChar: like.push_back('_'); break;
        case PatternPiece::Kind::Placeholder: break;
      }
    }
    if (p.op == MatchOp::Contains || p.op == MatchOp::StartsWith) like.push_back('%');
    return fmt::format("{} LIKE {}", hay, clickhouse_string(like));
  }

  const CompiledRule& rule_;
  const ClickHouseOptions& options_;
  const std::map<std::string, std::string>& renames_;
};

// The events of one group of sources: (channel, event id) pairs, or
// (provider, event id) pairs for sources that name no channel, that share
// their field renames and extra conditions.
struct SourceGroup {
  std::map<std::string, std::string> renames;
  std::map<std::string, std::string> extra_conditions;
  bool by_provider = false;
  std::vector<std::pair<std::string, int>> events;
};

// Returns the sources of a Windows rule's logsource, grouped by renames and
// extra conditions. The list is empty when the logsource names neither a
// channel nor a provider (ETW sources).
std::vector<SourceGroup> source_groups(const Logsource& logsource) {
  std::vector<SourceGroup> groups;
  for (const auto& source : LogsourceData::bundled().coverage(logsource).sources) {
    const bool by_provider = source.channels.empty();
    if (by_provider && source.provider.empty()) continue;
    SourceGroup* group = nullptr;
    for (auto& g : groups)
      if (g.renames == source.field_renames && g.extra_conditions == source.extra_conditions &&
          g.by_provider == by_provider)
        group = &g;
    if (!group) {
      groups.push_back({source.field_renames, source.extra_conditions, by_provider, {}});
      group = &groups.back();
    }
    if (by_provider) group->events.emplace_back(source.provider, source.event_id);
    for (const auto& channel : source.channels) group->events.emplace_back(channel, source.event_id);
  }
  return groups;
}

// The WHERE expression with hunt's routing: rows without a Channel reach
// every rule, as events without one do. Rows with one reach a Windows rule
// when their Channel and EventID are among its sources, or for a source
// known only by its provider, their Provider_Name and EventID. A rule of
// product windows alone reaches every row. Other rules reach only rows
// without a Channel.
// The rule's condition AND the condition of each filter, with the field
// renames of one source.
std::string filtered_condition(const CompiledRule& rule, const ClickHouseOptions& options,
                               std::span<const CompiledRule* const> filters,
                               const std::map<std::string, std::string>& renames) {
  std::vector<std::string> parts = {RuleConverter(rule, options, renames).condition(rule.condition)};
  for (const CompiledRule* filter : filters) {
    try {
      parts.push_back(RuleConverter(*filter, options, renames).condition(filter->condition));
    } catch (const Unsupported& e) {
      throw Unsupported(fmt::format("its filter {} ({}) cannot be converted: {}", filter->rule.id,
                                    filter->rule.title, e.what()));
    }
  }
  return parts.size() == 1 ? parts.front() : join_sql(parts, "AND");
}

std::string routed_condition(const CompiledRule& rule, const ClickHouseOptions& options,
                             std::span<const CompiledRule* const> filters) {
  const Logsource& logsource = rule.rule.logsource;
  const std::map<std::string, std::string> none;
  const std::string plain = filtered_condition(rule, options, filters, none);
  const bool windows = logsource.product == "windows";
  if (windows && logsource.category.empty() && logsource.service.empty()) return plain;
  const std::string channel = clickhouse_identifier("Channel");
  std::vector<std::string> branches = {fmt::format("(isNull({}) AND {})", channel, plain)};
  // Category-only rules (proxy, webserver...) have no channel in hunt either.
  if (!windows) return branches.front();
  for (const auto& group : source_groups(logsource)) {
    std::vector<std::string> events;
    const std::string provider = clickhouse_identifier("Provider_Name");
    for (const auto& [name, event_id] : group.events) {
      std::string test = group.by_provider
                             ? fmt::format("(isNotNull({}) AND ifNull(lowerUTF8({}) = {}, 0))", channel, provider,
                                           clickhouse_string(fold_case(name)))
                             : fmt::format("lowerUTF8({}) = {}", channel, clickhouse_string(fold_case(name)));
      if (event_id >= 0)
        test = fmt::format("({} AND {} = {})", test, clickhouse_identifier("EventID"),
                           clickhouse_string(std::to_string(event_id)));
      events.push_back(std::move(test));
    }
    std::vector<std::string> parts = {join_sql(events, "OR")};
    for (const auto& [field, value] : group.extra_conditions)
      parts.push_back(fmt::format("ifNull(lowerUTF8({}) = {}, 0)", clickhouse_identifier(field),
                                  clickhouse_string(fold_case(value))));
    if (group.renames.empty()) parts.push_back(plain);
    else parts.push_back(filtered_condition(rule, options, filters, group.renames));
    branches.push_back(join_sql(parts, "AND"));
  }
  return join_sql(branches, "OR");
}

}  // namespace

ClickHouseQuery to_clickhouse(const CompiledRule& rule, const ClickHouseOptions& options,
                              std::span<const CompiledRule* const> filters) {
  ClickHouseQuery out;
  if (rule.rule.kind != RuleKind::Detection) {
    out.reason = fmt::format("it is a {} rule, and only detection rules are converted", rule_kind_name(rule.rule.kind));
    return out;
  }
  if (rule.aggregation) {
    out.reason = "its condition uses an obsolete aggregation (| count() ...); write it as a correlation rule";
    return out;
  }
  try {
    const std::map<std::string, std::string> none;
    out.where = options.routing ? routed_condition(rule, options, filters)
                                : filtered_condition(rule, options, filters, none);
  } catch (const Unsupported& e) {
    out.reason = e.what();
    out.where.clear();
    return out;
  }
  std::string table;
  // database.table: each part quoted on its own.
  const auto dot = options.table.find('.');
  if (dot == std::string::npos) table = clickhouse_identifier(options.table);
  else
    table = clickhouse_identifier(std::string_view(options.table).substr(0, dot)) + "." +
            clickhouse_identifier(std::string_view(options.table).substr(dot + 1));
  out.sql = fmt::format("SELECT * FROM {} WHERE {}", table, out.where);
  return out;
}

}  // namespace sigscope
