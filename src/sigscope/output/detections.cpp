#include "sigscope/output/detections.h"

#include <algorithm>
#include <functional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

namespace {

bool is_json_number(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = s[0] == '-' ? 1 : 0;
  if (i >= s.size()) return false;
  bool digits = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') digits |= c >= '0' && c <= '9';
    else return false;
  }
  return digits && !(s.size() > 1 && s[0] == '0' && s[1] != '.');
}

void append_value(const FieldValue& v, std::string& out) {
  switch (v.type) {
    case ValueType::Null: out += "null"; return;
    case ValueType::Bool: out += v.value == "true" ? "true" : "false"; return;
    case ValueType::Number:
      if (is_json_number(v.value)) {
        out += v.value;
        return;
      }
      break;
    case ValueType::String: break;
  }
  append_json_string(out, v.value);
}

void csv_field(std::string_view s, std::string& out) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out.push_back(c);
  }
  out.push_back('"');
}

// Text for one table cell: line breaks become spaces, and other control
// characters (C0, DEL and the C1 range) are shown as \xHH so event data
// cannot send escape sequences to the terminal.
std::string one_line(std::string_view s, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out.push_back(' ');
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(s[i + 1]));
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// "Field=value" for the fields the rule's matched stages test, for the table.
std::string details(const DetectionContext& c) {
  const CompiledRule& rule = *c.engine.rules()[c.detection.rule];
  std::vector<std::string> seen;
  std::string out;
  for (std::uint16_t s : c.matcher.stages(c.detection)) {
    if (s >= rule.stages.size()) continue;
    for (const auto& p : rule.stages[s].predicates) {
      if (p.field.empty() || std::find(seen.begin(), seen.end(), p.field) != seen.end()) continue;
      seen.push_back(p.field);
      for (const auto& f : c.event.fields) {
        if (f.name != p.field) continue;
        if (!out.empty()) out += "  ";
        out += fmt::format("{}={}", one_line(f.name, 40), one_line(f.value, 80));
        break;
      }
      if (seen.size() >= 3) return out;
    }
  }
  return out;
}

}  // namespace

void append_event_json(const RawEvent& event, std::string& out) {
  // Names that repeat become one key with an array of their values, at the
  // first occurrence. Sorting the name hashes finds repeats in n log n; the
  // pairwise comparison it replaces cost more than the rest of the output.
  struct Scratch {
    std::vector<std::pair<std::size_t, std::uint32_t>> by_hash;  // (hash of name, index)
    std::vector<std::int32_t> next;                              // next index with the same name, or -1
    std::vector<std::uint8_t> repeat;                            // 1 when an earlier field has the name
  };
  thread_local Scratch scratch;
  const auto& fields = event.fields;
  const std::size_t n = fields.size();
  scratch.by_hash.clear();
  scratch.next.assign(n, -1);
  scratch.repeat.assign(n, 0);
  for (std::uint32_t i = 0; i < n; ++i)
    scratch.by_hash.emplace_back(std::hash<std::string_view>{}(fields[i].name), i);
  std::sort(scratch.by_hash.begin(), scratch.by_hash.end());
  for (std::size_t a = 0; a < n;) {
    std::size_t b = a + 1;
    while (b < n && scratch.by_hash[b].first == scratch.by_hash[a].first) ++b;
    // Within a run of equal hashes (indices ascending), link each field to
    // the next one of the same name.
    for (std::size_t x = a; x < b; ++x) {
      const std::uint32_t i = scratch.by_hash[x].second;
      if (scratch.repeat[i]) continue;
      std::uint32_t last = i;
      for (std::size_t y = x + 1; y < b; ++y) {
        const std::uint32_t j = scratch.by_hash[y].second;
        if (scratch.repeat[j] || fields[j].name != fields[i].name) continue;
        scratch.repeat[j] = 1;
        scratch.next[last] = static_cast<std::int32_t>(j);
        last = j;
      }
    }
    a = b;
  }

  out.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < n; ++i) {
    if (scratch.repeat[i]) continue;
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, fields[i].name);
    out.push_back(':');
    if (scratch.next[i] < 0) {
      append_value(fields[i], out);
      continue;
    }
    out.push_back('[');
    for (std::int32_t k = static_cast<std::int32_t>(i); k >= 0; k = scratch.next[static_cast<std::size_t>(k)]) {
      if (k != static_cast<std::int32_t>(i)) out.push_back(',');
      append_value(fields[static_cast<std::size_t>(k)], out);
    }
    out.push_back(']');
  }
  out.push_back('}');
}

std::string csv_header() { return "rule_id,title,level,input,record,timestamp,stages,event\n"; }

std::string table_header() {
  return fmt::format("{:<28} {:<13} {:<60} {}\n", "TIMESTAMP", "LEVEL", "RULE", "INPUT:RECORD  DETAILS");
}

void format_detection(DetectionFormat format, const DetectionContext& c, std::string& out) {
  const CompiledRule& rule = *c.engine.rules()[c.detection.rule];
  const auto& names = c.engine.stage_names(c.detection.rule);
  std::vector<std::string> stages;
  for (std::uint16_t s : c.matcher.stages(c.detection)) stages.push_back(names[s]);

  switch (format) {
    case DetectionFormat::Jsonl: {
      out += "{\"rule_id\":";
      append_json_string(out, rule.rule.id);
      out += ",\"title\":";
      append_json_string(out, rule.rule.title);
      out += ",\"level\":";
      append_json_string(out, rule.rule.level);
      out += ",\"tags\":[";
      for (std::size_t i = 0; i < rule.rule.tags.size(); ++i) {
        if (i) out.push_back(',');
        append_json_string(out, rule.rule.tags[i]);
      }
      out += "],\"input\":";
      append_json_string(out, c.input);
      out += fmt::format(",\"record\":{}", c.event.record);
      if (!c.event.timestamp.empty()) {
        out += ",\"timestamp\":";
        append_json_string(out, c.event.timestamp);
      }
      out += ",\"stages\":[";
      for (std::size_t i = 0; i < stages.size(); ++i) {
        if (i) out.push_back(',');
        append_json_string(out, stages[i]);
      }
      out += "],\"event\":";
      append_event_json(c.event, out);
      out += "}\n";
      return;
    }
    case DetectionFormat::Csv: {
      csv_field(rule.rule.id, out);
      out.push_back(',');
      csv_field(rule.rule.title, out);
      out.push_back(',');
      csv_field(rule.rule.level, out);
      out.push_back(',');
      csv_field(c.input, out);
      out += fmt::format(",{},", c.event.record);
      csv_field(c.event.timestamp, out);
      out.push_back(',');
      csv_field(join(stages, ";"), out);
      out.push_back(',');
      std::string event;
      append_event_json(c.event, event);
      csv_field(event, out);
      out.push_back('\n');
      return;
    }
    case DetectionFormat::Table:
      out += fmt::format("{:<28} {:<13} {:<60} {}:{}  {}\n", one_line(c.event.timestamp, 28), one_line(rule.rule.level, 13),
                         one_line(rule.rule.title, 57), one_line(c.input, 200), c.event.record, details(c));
      return;
  }
}

}  // namespace sigscope
