#include "sigscope/match/predicate_matcher.h"

#include <arpa/inet.h>
#include <pcre2.h>
#include <re2/re2.h>

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

MatchScratch::MatchScratch() {
  pcre_data_ = pcre2_match_data_create(1, nullptr);
  pcre_context_ = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(pcre_context_, kRegexMatchLimit);
  pcre2_set_depth_limit(pcre_context_, kRegexDepthLimit);
}

MatchScratch::~MatchScratch() {
  pcre2_match_data_free(pcre_data_);
  pcre2_match_context_free(pcre_context_);
}

struct PredicateMatcher::Value {
  CompiledValue::Kind kind = CompiledValue::Kind::Pattern;
  std::vector<GlobProgram> globs;
  std::shared_ptr<re2::RE2> re2;
  std::shared_ptr<pcre2_code> pcre;
  CidrNetwork cidr;
  double number = 0;
  bool exists = true;
  FieldId ref = kNoField;
  std::string display;
};

PredicateMatcher::~PredicateMatcher() = default;
PredicateMatcher::PredicateMatcher(PredicateMatcher&&) noexcept = default;
PredicateMatcher& PredicateMatcher::operator=(PredicateMatcher&&) noexcept = default;

PredicateMatcher::PredicateMatcher(const Predicate& predicate, FieldTable& fields) : predicate_(predicate) {
  if (!predicate.is_keyword()) field_ = fields.intern(predicate.field);
  // Keyword search scans every value, so it has no anchoring of its own.
  const MatchOp glob_op = predicate.is_keyword() ? MatchOp::Contains : predicate.op;
  for (const auto& cv : predicate.values) {
    Value v;
    v.kind = cv.kind;
    v.display = cv.written;
    switch (cv.kind) {
      case CompiledValue::Kind::Pattern:
        for (const auto& alt : cv.alternatives) {
          if (predicate.cased) {
            v.globs.emplace_back(alt, glob_op);
            continue;
          }
          Pattern folded;
          for (const auto& piece : alt.pieces())
            folded.append(piece.kind, piece.kind == PatternPiece::Kind::Literal ? fold_case(piece.text) : piece.text);
          v.globs.emplace_back(folded, glob_op);
        }
        break;
      case CompiledValue::Kind::Regex:
        if (!cv.regex.needs_backtracking) {
          RE2::Options options;
          options.set_log_errors(false);
          options.set_case_sensitive(!cv.regex.case_insensitive);
          options.set_dot_nl(cv.regex.dot_all);
          std::string source = cv.regex.multi_line ? "(?m)" + cv.regex.source : cv.regex.source;
          v.re2 = std::make_shared<re2::RE2>(source, options);
        } else {
          uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
          if (cv.regex.case_insensitive) flags |= PCRE2_CASELESS;
          if (cv.regex.multi_line) flags |= PCRE2_MULTILINE;
          if (cv.regex.dot_all) flags |= PCRE2_DOTALL;
          int error = 0;
          PCRE2_SIZE offset = 0;
          pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(cv.regex.source.data()),
                                           cv.regex.source.size(), flags, &error, &offset, nullptr);
          if (code) {
            pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
            v.pcre = std::shared_ptr<pcre2_code>(code, pcre2_code_free);
          }
        }
        break;
      case CompiledValue::Kind::Cidr: v.cidr = cv.cidr; break;
      case CompiledValue::Kind::Number: v.number = cv.number; break;
      case CompiledValue::Kind::Exists: v.exists = cv.exists; break;
      case CompiledValue::Kind::FieldRef: v.ref = fields.intern(cv.field_ref); break;
      case CompiledValue::Kind::Null: break;
    }
    values_.push_back(std::move(v));
  }
}

std::string PredicateMatcher::dedup_key(const Predicate& p) {
  std::string key = p.field;
  key += fmt::format("\x1f{}\x1f{}{}{}{}{}", static_cast<int>(p.op), p.negated, p.match_all, p.cased,
                     static_cast<int>(p.time_part), p.is_keyword());
  for (const auto& v : p.values) {
    key += fmt::format("\x1e{}", static_cast<int>(v.kind));
    switch (v.kind) {
      case CompiledValue::Kind::Pattern:
        for (const auto& alt : v.alternatives) {
          key += '\x1d';
          key += alt.to_sigma();
        }
        break;
      case CompiledValue::Kind::Regex:
        key += fmt::format("{}{}{}\x1d{}", v.regex.case_insensitive, v.regex.multi_line, v.regex.dot_all,
                           v.regex.source);
        break;
      case CompiledValue::Kind::Cidr:
        key += fmt::format("{}/{}/{}", v.cidr.ipv6, v.cidr.prefix,
                           std::string_view(reinterpret_cast<const char*>(v.cidr.address.data()), 16));
        break;
      case CompiledValue::Kind::Number: key += fmt::format("{}", v.number); break;
      case CompiledValue::Kind::Exists: key += v.exists ? "1" : "0"; break;
      case CompiledValue::Kind::FieldRef: key += v.field_ref; break;
      case CompiledValue::Kind::Null: break;
    }
  }
  return key;
}

bool parse_ip(std::string_view text, CidrNetwork& out) {
  text = trim(text);
  char buffer[64];
  if (text.empty() || text.size() >= sizeof buffer) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  // Strip an IPv6 zone id ("fe80::1%eth0").
  if (char* zone = std::strchr(buffer, '%')) *zone = '\0';
  out = CidrNetwork{};
  if (inet_pton(AF_INET, buffer, out.address.data()) == 1) {
    out.ipv6 = false;
    out.prefix = 32;
    return true;
  }
  if (inet_pton(AF_INET6, buffer, out.address.data()) == 1) {
    static const std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::memcmp(out.address.data(), kMapped, 12) == 0) {
      std::memmove(out.address.data(), out.address.data() + 12, 4);
      std::memset(out.address.data() + 4, 0, 12);
      out.ipv6 = false;
      out.prefix = 32;
      return true;
    }
    out.ipv6 = true;
    out.prefix = 128;
    return true;
  }
  return false;
}

bool cidr_contains(const CidrNetwork& network, const CidrNetwork& address) {
  if (network.ipv6 != address.ipv6) return false;
  int bits = network.prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xFF : static_cast<std::uint8_t>(0xFF00 >> bits);
    if ((network.address[i] & mask) != (address.address[i] & mask)) return false;
  }
  return true;
}

namespace {

bool parse_digits(std::string_view s, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Day of week (0 = Monday) by Sakamoto's method.
int weekday(int y, int m, int d) {
  static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  if (m < 3) y -= 1;
  int sunday_based = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
  return (sunday_based + 6) % 7;
}

int day_of_year(int y, int m, int d) {
  static const int cumulative[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return cumulative[m - 1] + d + (leap && m > 2 ? 1 : 0);
}

int iso_week(int y, int m, int d) {
  int wd = weekday(y, m, d);  // 0 = Monday
  int week = (day_of_year(y, m, d) - wd + 9) / 7;
  if (week < 1) {
    // Last week of the previous year.
    return iso_week(y - 1, 12, 28);
  }
  if (week == 53) {
    // Week 53 only exists when 31 December is on Thursday or later in the week.
    int dec31 = weekday(y, 12, 31);
    if (dec31 < 3) return 1;
  }
  return week;
}

double parse_number(std::string_view text, bool& ok) {
  text = trim(text);
  ok = false;
  if (text.empty() || text.size() > 64) return 0;
  char buffer[72];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  char* end = nullptr;
  double value;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    value = static_cast<double>(std::strtoull(buffer + 2, &end, 16));
  else
    value = std::strtod(buffer, &end);
  ok = end == buffer + text.size() && std::isfinite(value);
  return value;
}

bool compare_number(double value, MatchOp op, double operand) {
  switch (op) {
    case MatchOp::Less: return value < operand;
    case MatchOp::LessEqual: return value <= operand;
    case MatchOp::Greater: return value > operand;
    case MatchOp::GreaterEqual: return value >= operand;
    default: return value == operand;
  }
}

bool text_op(std::string_view value, std::string_view needle, MatchOp op) {
  switch (op) {
    case MatchOp::Contains: return value.find(needle) != std::string_view::npos;
    case MatchOp::StartsWith: return value.substr(0, needle.size()) == needle;
    case MatchOp::EndsWith:
      return value.size() >= needle.size() && value.substr(value.size() - needle.size()) == needle;
    default: return value == needle;
  }
}

}  // namespace

bool extract_time_part(std::string_view text, TimePart part, double& out) {
  text = trim(text);
  int year, month, day, hour = 0, minute = 0;
  if (!parse_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' ||
      !parse_digits(text, 5, 2, month) || text[7] != '-' || !parse_digits(text, 8, 2, day))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  bool has_time = text.size() >= 16 && (text[10] == 'T' || text[10] == ' ') &&
                  parse_digits(text, 11, 2, hour) && text[13] == ':' && parse_digits(text, 14, 2, minute);
  switch (part) {
    case TimePart::Year: out = year; return true;
    case TimePart::Month: out = month; return true;
    case TimePart::Day: out = day; return true;
    case TimePart::Week: out = iso_week(year, month, day); return true;
    case TimePart::Hour: out = hour; return has_time;
    case TimePart::Minute: out = minute; return has_time;
    case TimePart::None: return false;
  }
  return false;
}

bool PredicateMatcher::value_matches(const Value& v, const EventView& event, std::uint32_t index,
                                     MatchScratch& scratch) const {
  const FieldValue& fv = event.value(index);
  if (fv.type == ValueType::Null) return false;
  switch (v.kind) {
    case CompiledValue::Kind::Pattern: {
      std::string_view hay = predicate_.cased ? fv.value : event.folded(index);
      for (const auto& g : v.globs)
        if (g.matches(hay)) return true;
      return false;
    }
    case CompiledValue::Kind::Regex:
      if (v.re2) return re2::RE2::PartialMatch(fv.value, *v.re2);
      if (v.pcre) {
        int rc = pcre2_match(v.pcre.get(), reinterpret_cast<PCRE2_SPTR>(fv.value.data()), fv.value.size(), 0, 0,
                             scratch.pcre_data(), scratch.pcre_context());
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) ++scratch.regex_limit_hits;
        return rc >= 0;
      }
      return false;
    case CompiledValue::Kind::Cidr: {
      CidrNetwork address;
      return parse_ip(fv.value, address) && cidr_contains(v.cidr, address);
    }
    case CompiledValue::Kind::Number: {
      double number;
      if (predicate_.time_part != TimePart::None) {
        if (!extract_time_part(fv.value, predicate_.time_part, number)) return false;
      } else {
        bool ok;
        number = parse_number(fv.value, ok);
        if (!ok) return false;
      }
      return compare_number(number, predicate_.op, v.number);
    }
    case CompiledValue::Kind::FieldRef: {
      bool hit = false;
      std::string_view mine = predicate_.cased ? fv.value : event.folded(index);
      event.for_each_value(v.ref, [&](std::uint32_t other) {
        if (hit || event.value(other).type == ValueType::Null) return;
        std::string_view theirs = predicate_.cased ? event.value(other).value : event.folded(other);
        hit = text_op(mine, theirs, predicate_.op);
      });
      return hit;
    }
    case CompiledValue::Kind::Null:
    case CompiledValue::Kind::Exists: return false;
  }
  return false;
}

bool PredicateMatcher::value_satisfied(const Value& v, const EventView& event, MatchScratch& scratch,
                                       std::uint32_t* which) const {
  if (predicate_.is_keyword()) {
    // Keyword search: every string or number value of the event.
    for (std::uint32_t i = 0; i < event.value_count(); ++i) {
      ValueType t = event.value(i).type;
      if (t != ValueType::String && t != ValueType::Number) continue;
      if (value_matches(v, event, i, scratch)) {
        if (which) *which = i;
        return true;
      }
    }
    return false;
  }
  if (v.kind == CompiledValue::Kind::Null) {
    if (!event.has_field(field_)) return true;
    bool null_seen = false;
    event.for_each_value(field_, [&](std::uint32_t i) { null_seen |= event.value(i).type == ValueType::Null; });
    return null_seen;
  }
  bool hit = false;
  event.for_each_value(field_, [&](std::uint32_t i) {
    if (hit) return;
    if (value_matches(v, event, i, scratch)) {
      hit = true;
      if (which) *which = i;
    }
  });
  return hit;
}

bool PredicateMatcher::evaluate(const EventView& event, MatchScratch& scratch) const {
  if (!predicate_.is_keyword() && predicate_.op == MatchOp::Exists)
    return event.has_field(field_) == (values_.empty() || values_.front().exists);
  bool result;
  if (predicate_.match_all) {
    result = !values_.empty();
    for (const auto& v : values_)
      if (!value_satisfied(v, event, scratch, nullptr)) {
        result = false;
        break;
      }
  } else {
    result = false;
    for (const auto& v : values_)
      if (value_satisfied(v, event, scratch, nullptr)) {
        result = true;
        break;
      }
  }
  if (predicate_.negated) return event.has_field(field_) && !result;
  return result;
}

bool PredicateMatcher::explain(const EventView& event, MatchScratch& scratch, std::string& reason) const {
  const std::string field_name = predicate_.is_keyword() ? std::string("any value") : predicate_.field;
  bool present = predicate_.is_keyword() || event.has_field(field_);
  if (!predicate_.is_keyword() && predicate_.op == MatchOp::Exists) {
    bool result = evaluate(event, scratch);
    reason = fmt::format("{} is {}", field_name, present ? "present" : "missing");
    return result;
  }
  if (!present && !predicate_.negated) {
    bool result = evaluate(event, scratch);
    reason = fmt::format("{} is missing", field_name);
    return result;
  }
  std::vector<std::string> matched, unmatched;
  for (const auto& v : values_) {
    std::uint32_t which = 0;
    if (value_satisfied(v, event, scratch, &which)) {
      if (v.kind == CompiledValue::Kind::Null)
        matched.push_back("null");
      else
        matched.push_back(fmt::format("'{}' (by {} = '{}')", v.display, event.value(which).name,
                                      event.value(which).value.substr(0, 200)));
    } else {
      unmatched.push_back("'" + v.display + "'");
    }
  }
  bool result = evaluate(event, scratch);
  if (!matched.empty()) reason = "matched " + join(matched, ", ");
  if (!unmatched.empty()) {
    if (!reason.empty()) reason += "; ";
    reason += "no match for " + join(unmatched, ", ");
    if (!predicate_.is_keyword()) {
      std::vector<std::string> seen;
      event.for_each_value(field_, [&](std::uint32_t i) {
        if (seen.size() < 3) seen.push_back("'" + std::string(event.value(i).value.substr(0, 120)) + "'");
      });
      if (!seen.empty()) reason += fmt::format(" ({} = {})", field_name, join(seen, ", "));
    }
  }
  if (predicate_.negated) reason += result ? "; neq holds" : "; neq fails";
  return result;
}

}  // namespace sigscope
