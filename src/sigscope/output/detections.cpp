#include "sigscope/output/detections.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
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

// Writes the JSON form of a value at `p`, which has room for
// json_string_bound(v.value.size()) bytes and at least five: numbers as
// written when they are valid JSON numbers, other text as a string.
char* write_value(char* p, const FieldValue& v) {
  auto put = [&](std::string_view text) {
    std::memcpy(p, text.data(), text.size());
    return p + text.size();
  };
  switch (v.type) {
    case ValueType::Null: return put("null");
    case ValueType::Bool: return put(v.value == "true" ? "true" : "false");
    case ValueType::Number:
      if (is_json_number(v.value)) return put(v.value);
      break;
    case ValueType::String: break;
  }
  return write_json_string(p, v.value);
}

// A CSV cell, quoted. Spreadsheets run a cell that starts with =, +, -, @,
// a tab or a carriage return as a formula, and rule titles, input names and
// event times come from files an attacker may write, so such a cell gets a
// leading ' (the usual guard, which spreadsheets show as text).
void csv_field(std::string_view s, std::string& out) {
  out.push_back('"');
  if (!s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos) out.push_back('\'');
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
  auto byte = [&](std::size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; };
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    // Cut before a character, never inside its UTF-8 bytes.
    if (out.size() >= max && (c & 0xC0) != 0x80) {
      out += "...";
      break;
    }
    if (c == 0xE2 && ((byte(i + 1) == 0x80 && byte(i + 2) >= 0xAA && byte(i + 2) <= 0xAE) ||
                      (byte(i + 1) == 0x81 && byte(i + 2) >= 0xA6 && byte(i + 2) <= 0xA9))) {
      // Bidirectional embeddings, overrides and isolates (U+202A to U+202E,
      // U+2066 to U+2069) would reorder the rest of the terminal line.
      out += fmt::format("\\u{:04x}", ((c & 0x0F) << 12) | ((byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F));
      i += 2;
    } else if (c == '\n' || c == '\r' || c == '\t') {
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
      // The event's own field, which a source's renames may name otherwise
      // (ParentProcessName for ParentImage on Security 4688).
      const std::vector<std::uint32_t> values = c.matcher.values_of(p.field);
      if (!values.empty()) {
        const FieldValue& f = c.event.fields[values.front()];
        if (!out.empty()) out += "  ";
        out += fmt::format("{}={}", one_line(f.name, 40), one_line(f.value, 80));
      }
      if (seen.size() >= 3) return out;
    }
  }
  return out;
}

void append_sectioned_json(std::span<const FieldValue> fields, std::string& out);

// Writes `fields` as one JSON object. Names that repeat become one key with
// an array of their values, at the first occurrence, unless a data field
// repeats a System field's name (see append_sectioned_json).
void append_fields_json(std::span<const FieldValue> fields, std::string& out) {
  // A small hash table of first occurrences finds the repeats in one pass.
  struct Scratch {
    std::vector<std::uint32_t> table;  // index of a name's first field, or kEmpty
    std::vector<std::int32_t> next;    // next index with the same name, or -1
    std::vector<std::uint32_t> last;   // per first field: the last field with its name
    std::vector<std::uint8_t> repeat;  // 1 when an earlier field has the name
  };
  constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
  thread_local Scratch scratch;
  const std::size_t n = fields.size();
  bool system_repeated_by_data = false;
  std::size_t table_size = 16;
  while (table_size < 2 * n) table_size <<= 1;
  scratch.table.assign(table_size, kEmpty);
  scratch.next.assign(n, -1);
  scratch.last.resize(n);
  scratch.repeat.assign(n, 0);
  // Room for the whole object: every name and value at its longest, with
  // quotes, colon, comma and array brackets.
  std::size_t bound = 2;
  for (std::uint32_t i = 0; i < n; ++i) {
    bound += json_string_bound(fields[i].name.size()) + json_string_bound(fields[i].value.size()) + 8;
    const std::string_view name = fields[i].name;
    for (std::size_t slot = short_hash(name) & (table_size - 1);; slot = (slot + 1) & (table_size - 1)) {
      const std::uint32_t first = scratch.table[slot];
      if (first == kEmpty) {
        scratch.table[slot] = i;
        scratch.last[i] = i;
        break;
      }
      if (fields[first].name == name) {
        system_repeated_by_data |= fields[first].system != fields[i].system;
        scratch.repeat[i] = 1;
        scratch.next[scratch.last[first]] = static_cast<std::int32_t>(i);
        scratch.last[first] = i;
        break;
      }
    }
  }
  if (system_repeated_by_data) {
    append_sectioned_json(fields, out);
    return;
  }

  // Written to a buffer kept between events, then appended: growing `out`
  // to the bound would zero six times the event's size.
  thread_local std::unique_ptr<char[]> buffer;
  thread_local std::size_t capacity = 0;
  if (capacity < bound) {
    capacity = std::max(bound, 2 * capacity);
    buffer = std::make_unique<char[]>(capacity);
  }
  char* p = buffer.get();
  *p++ = '{';
  bool first = true;
  for (std::size_t i = 0; i < n; ++i) {
    if (scratch.repeat[i]) continue;
    if (!first) *p++ = ',';
    first = false;
    p = write_json_string(p, fields[i].name);
    *p++ = ':';
    if (scratch.next[i] < 0) {
      p = write_value(p, fields[i]);
      continue;
    }
    *p++ = '[';
    for (std::int32_t k = static_cast<std::int32_t>(i); k >= 0; k = scratch.next[static_cast<std::size_t>(k)]) {
      if (k != static_cast<std::int32_t>(i)) *p++ = ',';
      p = write_value(p, fields[static_cast<std::size_t>(k)]);
    }
    *p++ = ']';
  }
  *p++ = '}';
  out.append(buffer.get(), static_cast<std::size_t>(p - buffer.get()));
}

// Writes an event whose data repeats a System field's name (event 104's
// UserData names the cleared log in Channel) in evtx_dump's layout:
// {"Event": {"System": {...}, "EventData": {...}}}. The JSON reader reads
// that layout as it reads EVTX, so hunting the object again routes by
// System's Channel and matches the data's, where one flat array of both
// values would match either.
void append_sectioned_json(std::span<const FieldValue> fields, std::string& out) {
  std::vector<FieldValue> system, data;
  for (const FieldValue& f : fields) (f.system ? system : data).push_back(f);
  // Neither part mixes System and data fields, so neither comes back here.
  out += "{\"Event\":{\"System\":";
  append_fields_json(system, out);
  out += ",\"EventData\":";
  append_fields_json(data, out);
  out += "}}";
}

}  // namespace

void append_event_json(const RawEvent& event, std::string& out) { append_fields_json(event.fields, out); }

std::string csv_header() { return "rule_id,title,level,tags,input,record,timestamp,stages,event\n"; }

std::string table_header() {
  return fmt::format("{:<28} {:<13} {:<60} {}\n", "TIMESTAMP", "LEVEL", "RULE", "INPUT:RECORD  DETAILS");
}

void format_detection(DetectionFormat format, const DetectionContext& c, std::string& out) {
  const CompiledRule& rule = *c.engine.rules()[c.detection.rule];
  const auto& names = c.engine.stage_names(c.detection.rule);
  const auto matched = c.matcher.stages(c.detection);

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
      out += ",\"record\":";
      char number[24];
      out.append(number, static_cast<std::size_t>(std::to_chars(number, number + sizeof number, c.event.record).ptr - number));
      if (!c.event.timestamp.empty()) {
        out += ",\"timestamp\":";
        append_json_string(out, c.event.timestamp);
      }
      out += ",\"stages\":[";
      for (std::size_t i = 0; i < matched.size(); ++i) {
        if (i) out.push_back(',');
        append_json_string(out, names[matched[i]]);
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
      csv_field(join(rule.rule.tags, ";"), out);
      out.push_back(',');
      csv_field(c.input, out);
      out += fmt::format(",{},", c.event.record);
      csv_field(c.event.timestamp, out);
      out.push_back(',');
      std::string stage_list;
      for (std::size_t i = 0; i < matched.size(); ++i) {
        if (i) stage_list.push_back(';');
        stage_list += names[matched[i]];
      }
      csv_field(stage_list, out);
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

namespace {

// The correlation part of a correlation detection, as a JSON object.
std::string correlation_json(const Engine& engine, const CorrelationFire& fire,
                             const std::vector<std::string>& input_names) {
  const CorrelationPlan& plan = engine.correlations().plans[fire.correlation];
  const Correlation& spec = plan.rule->rule.correlation;
  std::string out = "{\"type\":";
  append_json_string(out, correlation_type_name(spec.type));
  out += ",\"group\":{";
  for (std::size_t i = 0; i < spec.group_by.size() && i < fire.group.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, spec.group_by[i]);
    out.push_back(':');
    append_json_string(out, fire.group[i]);
  }
  out += "},\"timespan\":";
  append_json_string(out, spec.timespan_text);
  // JSON has no infinity: a sum that overflows a double is written as null.
  if (std::isfinite(fire.value)) out += fmt::format(",\"value\":{}", fire.value);
  else out += ",\"value\":null";
  out += ",\"first_timestamp\":";
  append_json_string(out, format_event_time(fire.first_us));
  out += ",\"last_timestamp\":";
  append_json_string(out, format_event_time(fire.last_us));
  out += fmt::format(",\"event_count\":{},\"events\":[", fire.event_count);
  for (std::size_t i = 0; i < fire.events.size(); ++i) {
    const FireEvent& hit = fire.events[i];
    if (i) out.push_back(',');
    out += "{\"rule_id\":";
    append_json_string(out, engine.rules()[hit.rule]->rule.id);
    out += ",\"input\":";
    append_json_string(out, hit.input < input_names.size() ? input_names[hit.input] : std::string());
    out += fmt::format(",\"record\":{},\"timestamp\":", hit.record);
    append_json_string(out, format_event_time(hit.time_us));
    out.push_back('}');
  }
  out += "]}";
  return out;
}

}  // namespace

void format_correlation(DetectionFormat format, const Engine& engine, const CorrelationFire& fire,
                        const std::vector<std::string>& input_names,
                        std::string& out) {
  const Rule& rule = engine.correlations().plans[fire.correlation].rule->rule;
  const std::string last = format_event_time(fire.last_us);
  switch (format) {
    case DetectionFormat::Jsonl: {
      out += "{\"rule_id\":";
      append_json_string(out, rule.id);
      out += ",\"title\":";
      append_json_string(out, rule.title);
      out += ",\"level\":";
      append_json_string(out, rule.level);
      out += ",\"tags\":[";
      for (std::size_t i = 0; i < rule.tags.size(); ++i) {
        if (i) out.push_back(',');
        append_json_string(out, rule.tags[i]);
      }
      out += "],\"timestamp\":";
      append_json_string(out, last);
      out += ",\"correlation\":";
      out += correlation_json(engine, fire, input_names);
      out += "}\n";
      return;
    }
    case DetectionFormat::Csv: {
      // input and record are empty because a correlation spans events. The
      // last column contains the correlation object.
      csv_field(rule.id, out);
      out.push_back(',');
      csv_field(rule.title, out);
      out.push_back(',');
      csv_field(rule.level, out);
      out.push_back(',');
      csv_field(join(rule.tags, ";"), out);
      out += ",,,";
      csv_field(last, out);
      out.push_back(',');
      csv_field(fmt::format("correlation:{}", correlation_type_name(rule.correlation.type)), out);
      out.push_back(',');
      csv_field(correlation_json(engine, fire, input_names), out);
      out.push_back('\n');
      return;
    }
    case DetectionFormat::Table: {
      const CorrelationPlan& plan = engine.correlations().plans[fire.correlation];
      std::vector<std::string> group;
      for (std::size_t i = 0; i < plan.rule->rule.correlation.group_by.size() && i < fire.group.size(); ++i)
        group.push_back(fmt::format("{}={}", plan.rule->rule.correlation.group_by[i], fire.group[i]));
      std::string where = fmt::format("{}={} over {} from {}", correlation_type_name(rule.correlation.type),
                                      fire.value, fire.event_count == 1 ? std::string("1 event")
                                                                        : fmt::format("{} events", fire.event_count),
                                      format_event_time(fire.first_us));
      if (!group.empty()) where += " " + join(group, " ");
      out += fmt::format("{:<28} {:<13} {:<60} {}\n", one_line(last, 28), one_line(rule.level, 13),
                         one_line(rule.title, 57), one_line("correlation " + where, 200));
      return;
    }
  }
}

}  // namespace sigscope
