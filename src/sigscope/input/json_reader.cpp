#include "sigscope/input/json_reader.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <type_traits>
#include <cstring>

#include <fmt/format.h>

namespace sigscope {

namespace {

// A field of the event being built whose name or value text lives in one of
// the reader's arenas. FieldValue contains string_views, and an arena may move
// while it grows, so these views are set once the event is complete.
struct OwnedText {
  std::uint32_t index;         // into Impl::fields
  std::uint32_t name_offset;   // into the name arena, when name_owned
  std::uint32_t name_length;
  std::uint32_t value_offset;  // into the value arena, when value_owned
  std::uint32_t value_length;
  bool name_owned;
  bool value_owned;
};

// simdjson's value_unsafe() on a temporary result returns a reference into
// that temporary, which a range-for would keep past its lifetime. These
// helpers return the object or array by value.
std::size_t skip_space(std::string_view text, std::size_t pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) ++pos;
  return pos;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Returns `text` with each integer that does not fit in 64 bits written as a
// JSON string, or an empty string when it has none. simdjson rejects such
// integers with NUMBER_ERROR, which would lose the whole record.
std::string quote_big_integers(std::string_view text) {
  std::string out;
  bool quoted = false;
  std::size_t copied = 0, i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
      ++i;
      continue;
    }
    if (c != '-' && !is_digit(c)) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    if (c == '-') ++i;
    const std::size_t first_digit = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    const std::size_t digit_count = i - first_digit;
    const bool fraction_or_exponent = i < text.size() && (text[i] == '.' || text[i] == 'e' || text[i] == 'E');
    while (i < text.size() && (is_digit(text[i]) || text[i] == '.' || text[i] == 'e' || text[i] == 'E' ||
                               text[i] == '+' || text[i] == '-'))
      ++i;
    // Integers of up to 18 digits always fit. A leading zero is invalid JSON
    // and stays so.
    if (fraction_or_exponent || digit_count < 19 || text[first_digit] == '0') continue;
    const char* begin = text.data() + start;
    const char* end = text.data() + first_digit + digit_count;
    std::int64_t signed_value = 0;
    std::uint64_t unsigned_value = 0;
    const bool fits = c == '-' ? std::from_chars(begin, end, signed_value).ec == std::errc()
                               : std::from_chars(begin, end, unsigned_value).ec == std::errc();
    if (fits || end != text.data() + i) continue;
    out.append(text.substr(copied, start - copied));
    out += '"';
    out.append(text.substr(start, i - start));
    out += '"';
    copied = i;
    quoted = true;
  }
  if (!quoted) return {};
  out.append(text.substr(copied));
  return out;
}

simdjson::dom::object as_object(simdjson::dom::element e) {
  simdjson::dom::object out = e.get_object().value_unsafe();
  return out;
}
simdjson::dom::array as_array(simdjson::dom::element e) {
  simdjson::dom::array out = e.get_array().value_unsafe();
  return out;
}

}  // namespace

// Repair reason (ReadStats) of records whose integers beyond 64 bits were read as strings.
constexpr const char* kBigIntegerRepair = "integer beyond 64 bits read as a string";

struct JsonEventReader::Impl {
  simdjson::dom::parser parser;
  simdjson::ondemand::parser flat_parser;  // for read_flat
  bool flat_fast_path = true;
  std::string names;     // name arena
  std::string values;    // formatted numbers and other owned value text
  std::vector<FieldValue> fields;
  std::vector<OwnedText> owned;
  std::string path;      // current dotted prefix while flattening
  std::string timestamp;
  // The values of the event's other time keys in time_key_rank's order, for
  // RawEvent::other_timestamps. Strings point into the parsed document, so
  // only numbers are written to other_numbers.
  static constexpr int kTimeKeys = 9;
  std::string other_numbers[kTimeKeys - 1];
  std::string_view other_timestamp_views[kTimeKeys - 1];
  std::size_t other_count = 0;
  std::uint64_t skipped_records = 0;  // of the last emit_document call
  bool in_system = false;           // flattening an evtx_dump System section
  simdjson::padded_string scratch;   // for read_object
  simdjson::padded_string repaired;  // a record or input with invalid UTF-8 replaced

  void reset() {
    names.clear();
    values.clear();
    owned.clear();
    fields.clear();
    timestamp.clear();
    other_count = 0;
  }

  // Adds one field. A name or value that is not `stable` (alive until the
  // event is emitted, like the parsed document's strings) is copied to an
  // arena and its view set by finish().
  void add_field(std::string_view name, bool name_stable, std::string_view value, bool value_stable, ValueType type,
                 bool nested) {
    // Filled in place: copying a FieldValue built on the stack made GCC
    // store it in 8-byte halves and load it back in 16-byte ones, which
    // stalls on every field.
    FieldValue& f = fields.emplace_back();
    f.name = name;
    f.value = value;
    f.type = type;
    f.nested_path = nested;
    f.system = in_system;
    if (!name_stable || !value_stable) {
      OwnedText o{};
      o.index = static_cast<std::uint32_t>(fields.size() - 1);
      if (!name_stable) {
        o.name_owned = true;
        o.name_offset = static_cast<std::uint32_t>(names.size());
        o.name_length = static_cast<std::uint32_t>(name.size());
        names.append(name);
      }
      if (!value_stable) {
        o.value_owned = true;
        o.value_offset = static_cast<std::uint32_t>(values.size());
        o.value_length = static_cast<std::uint32_t>(value.size());
        values.append(value);
      }
      owned.push_back(o);
    }
  }

  // Points the fields with arena text at the arenas, which no longer grow.
  void finish() {
    for (const OwnedText& o : owned) {
      FieldValue& f = fields[o.index];
      if (o.name_owned) f.name = std::string_view(names).substr(o.name_offset, o.name_length);
      if (o.value_owned) f.value = std::string_view(values).substr(o.value_offset, o.value_length);
    }
  }

  // Adds a scalar element under `name`. Objects and arrays recurse; nested
  // names are built in `path` so flattening does not allocate per field.
  // `name_stable`: see add_field.
  void add_element(std::string_view name, bool name_stable, simdjson::dom::element e, bool nested, int depth) {
    using simdjson::dom::element_type;
    if (depth > 64) return;  // deeper nesting is not event data
    switch (e.type()) {
      case element_type::OBJECT: {
        // `name` may point into `path`; remember its length and rebuild from it.
        const std::size_t base = path.size();
        const bool name_in_path = !path.empty() && name.data() >= path.data() && name.data() < path.data() + path.size();
        if (!name_in_path) path.append(name);
        const std::size_t prefix = path.size();
        for (auto [key, value] : as_object(e)) {
          path.resize(prefix);
          path += '.';
          path += key;
          add_element(std::string_view(path), false, value, true, depth + 1);
        }
        path.resize(name_in_path ? prefix : base);
        break;
      }
      case element_type::ARRAY: {
        // Array members keep the array's name: a predicate holds when any
        // member does. A name inside `path` is looked up again per member,
        // because flattening an object member may reallocate `path`.
        const bool in_path = !path.empty() && name.data() >= path.data() && name.data() < path.data() + path.size();
        const std::size_t length = name.size();
        for (auto item : as_array(e))
          add_element(in_path ? std::string_view(path.data(), length) : name, !in_path && name_stable, item, nested,
                      depth + 1);
        break;
      }
      case element_type::STRING:
        add_field(name, name_stable, e.get_string().value_unsafe(), true, ValueType::String, nested);
        break;
      case element_type::INT64: add_number(name, name_stable, e.get_int64().value_unsafe(), nested); break;
      case element_type::UINT64: add_number(name, name_stable, e.get_uint64().value_unsafe(), nested); break;
      case element_type::DOUBLE: add_number(name, name_stable, e.get_double().value_unsafe(), nested); break;
      case element_type::BOOL:
        // String literals live for the whole program.
        add_field(name, name_stable, e.get_bool().value_unsafe() ? "true" : "false", true, ValueType::Bool, nested);
        break;
      case element_type::NULL_VALUE: add_field(name, name_stable, "", true, ValueType::Null, nested); break;
    }
  }

  static constexpr std::size_t kNumberTextSize = 40;

  // Writes a number to `buffer`: an integer with every digit, a double in
  // the shortest form that reads back as the same double.
  template <typename T>
  static std::string_view number_text(T value, char (&buffer)[kNumberTextSize]) {
    char* end;
    if constexpr (std::is_integral_v<T>) {
      // std::to_chars writes integers as fmt's "{}" does, at a fraction of the cost.
      end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    } else {
      end = fmt::format_to_n(buffer, sizeof buffer, "{}", value).out;
    }
    return std::string_view(buffer, static_cast<std::size_t>(end - buffer));
  }

  // The text of a number element, as add_element writes it to the field.
  static std::string_view number_text(simdjson::dom::element e, char (&buffer)[kNumberTextSize]) {
    using simdjson::dom::element_type;
    switch (e.type()) {
      case element_type::INT64: return number_text(e.get_int64().value_unsafe(), buffer);
      case element_type::UINT64: return number_text(e.get_uint64().value_unsafe(), buffer);
      default: return number_text(e.get_double().value_unsafe(), buffer);
    }
  }

  template <typename T>
  void add_number(std::string_view name, bool name_stable, T value, bool nested) {
    char buffer[kNumberTextSize];
    add_field(name, name_stable, number_text(value, buffer), false, ValueType::Number, nested);
  }

  // evtx_dump layout: attributes live under "#attributes", element text under "#text".
  void add_system(simdjson::dom::object system) {
    for (auto [key, value] : system) {
      if (value.is_object()) {
        simdjson::dom::object obj = as_object(value);
        simdjson::dom::element text, attrs;
        bool has_text = obj["#text"].get(text) == simdjson::SUCCESS;
        bool has_attrs = obj["#attributes"].get(attrs) == simdjson::SUCCESS && attrs.is_object();
        if (has_text) add_element(key, true, text, false, 1);
        if (has_attrs) {
          for (auto [attr, attr_value] : as_object(attrs)) {
            std::string name = system_attribute_name(key, attr);
            if (name.empty()) continue;
            add_element(name, false, attr_value, false, 1);
            if (name == "TimeCreated" && attr_value.is_string())
              timestamp.assign(attr_value.get_string().value_unsafe());
          }
        }
        continue;
      }
      add_element(key, true, value, false, 1);
      // hunt's detection output writes the time as a plain value.
      if (key == "TimeCreated" && value.is_string()) timestamp.assign(value.get_string().value_unsafe());
    }
  }

  static std::string system_attribute_name(std::string_view element, std::string_view attr) {
    if (element == "Provider") {
      if (attr == "Name") return "Provider_Name";
      if (attr == "Guid") return "Provider_Guid";
      if (attr == "EventSourceName") return "EventSourceName";
    }
    if (element == "TimeCreated" && attr == "SystemTime") return "TimeCreated";
    if (element == "Execution" && (attr == "ProcessID" || attr == "ThreadID")) return std::string(attr);
    if (element == "Security" && attr == "UserID") return "Security_UserID";
    if (element == "Correlation" && (attr == "ActivityID" || attr == "RelatedActivityID")) return std::string(attr);
    if (element == "EventID" && attr == "Qualifiers") return "EventID_Qualifiers";
    return fmt::format("{}_{}", element, attr);
  }

  // EventData / UserData: element names become field names; "Data" without
  // a name stays "Data" (repeated).
  void add_payload(simdjson::dom::element payload, int depth) {
    if (depth > 16) return;
    if (!payload.is_object()) {
      if (!payload.is_null()) add_element("Data", true, payload, false, depth);
      return;
    }
    for (auto [key, value] : as_object(payload)) {
      if (key == "#attributes") continue;
      if (key == "#text") {
        add_element("Data", true, value, false, depth);
        continue;
      }
      if (value.is_object()) {
        // Nested UserData elements: their leaves carry the data.
        simdjson::dom::element text;
        if (value.get_object().value_unsafe()["#text"].get(text) == simdjson::SUCCESS)
          add_element(key, true, text, false, depth);
        else add_payload(value, depth + 1);
        continue;
      }
      add_element(key, true, value, false, depth);
    }
  }

  void flatten(simdjson::dom::object root) {
    simdjson::dom::element event;
    if (root.size() == 1 && root["Event"].get(event) == simdjson::SUCCESS && event.is_object()) {
      simdjson::dom::object obj = as_object(event);
      simdjson::dom::element system;
      if (obj["System"].get(system) == simdjson::SUCCESS && system.is_object()) {
        for (auto [key, value] : obj) {
          if (key == "System") {
            in_system = true;
            add_system(as_object(value));
            in_system = false;
          }
          else if (key == "EventData" || key == "UserData") add_payload(value, 1);
          else if (key != "#attributes") add_element(std::string("Event.") + std::string(key), false, value, true, 1);
        }
        return;
      }
    }
    // The event's time values, from the usual keys in time_key_rank's
    // order. They are noted while the fields are added, so the object is
    // walked once. The first is the output timestamp. The others are kept
    // unparsed, because only correlations read times, and a correlation
    // takes the first value that is a valid time (see event_time()).
    simdjson::dom::element time_values[kTimeKeys];
    bool time_found[kTimeKeys] = {};
    for (auto [key, value] : root) {
      add_element(key, true, value, false, 0);
      const int rank = time_key_rank(key);
      if (rank >= 0 && !time_found[rank]) {
        time_found[rank] = true;
        time_values[rank] = value;
      }
    }
    bool first = true;
    for (int rank = 0; rank < kTimeKeys; ++rank) {
      if (!time_found[rank]) continue;
      const simdjson::dom::element t = time_values[rank];
      std::string_view text;
      char buffer[kNumberTextSize];
      if (t.is_string()) {
        text = t.get_string().value_unsafe();
      } else if (t.is_number()) {
        // Such as Zeek's ts (seconds since 1970) or a nanosecond count,
        // which must keep all 19 digits to be read as a time.
        text = number_text(t, buffer);
      } else {
        continue;
      }
      if (first) {
        timestamp.assign(text);
        first = false;
      } else if (t.is_string()) {
        other_timestamp_views[other_count++] = text;
      } else {
        other_numbers[other_count].assign(text);
        other_timestamp_views[other_count] = other_numbers[other_count];
        ++other_count;
      }
    }
  }

  // Preference of a timestamp key: 0 for @timestamp, then timestamp,
  // TimeCreated, TimeGenerated, EventTime, eventTime, UtcTime, time and ts;
  // -1 for other keys.
  // Runs for every key, so the first byte is tested before any comparison.
  static int time_key_rank(std::string_view key) {
    if (key.empty()) return -1;
    auto is = [&](std::string_view candidate) { return std::memcmp(key.data(), candidate.data(), candidate.size()) == 0; };
    switch (key.size()) {
      case 10: return key[0] == '@' && is("@timestamp") ? 0 : -1;
      case 9:
        if (key[0] == 't') return is("timestamp") ? 1 : -1;
        if (key[0] == 'E') return is("EventTime") ? 4 : -1;
        if (key[0] == 'e') return is("eventTime") ? 5 : -1;
        return -1;
      case 11: return key[0] == 'T' && is("TimeCreated") ? 2 : -1;
      case 13: return key[0] == 'T' && is("TimeGenerated") ? 3 : -1;
      case 7: return key[0] == 'U' && is("UtcTime") ? 6 : -1;
      case 4: return key[0] == 't' && is("time") ? 7 : -1;
      case 2: return key[0] == 't' && key[1] == 's' ? 8 : -1;
      default: return -1;
    }
  }

  // Replaces every byte that is not part of valid UTF-8 with U+FFFD.
  static std::string repair_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    std::size_t i = 0;
    while (i < text.size()) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++i;
        continue;
      }
      std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      if (len > 0 && i + len <= text.size() && simdjson::validate_utf8(text.data() + i, len)) {
        out.append(text.substr(i, len));
        i += len;
      } else {
        out += "\xEF\xBF\xBD";
        ++i;
      }
    }
    return out;
  }

  // Parses `record` again after `err`, for two kinds of damage that need
  // not lose it: invalid UTF-8 is read as U+FFFD and integers beyond 64 bits
  // as strings. The text parsed last is kept in `repaired`, which `doc`
  // points into. Sets the flags of the repairs that made it parse.
  simdjson::error_code reparse(std::string_view record, simdjson::error_code err, simdjson::dom::element& doc,
                               bool& utf8_repaired, bool& integers_quoted) {
    std::string text;
    if (err == simdjson::UTF8_ERROR) {
      text = repair_utf8(record);
      record = text;
      repaired = simdjson::padded_string(text);
      err = parser.parse(repaired).get(doc);
      utf8_repaired = true;
    }
    if (err == simdjson::NUMBER_ERROR) {
      std::string quoted = quote_big_integers(record);
      if (!quoted.empty()) {
        repaired = simdjson::padded_string(quoted);
        err = parser.parse(repaired).get(doc);
        integers_quoted = true;
      }
    }
    if (err) utf8_repaired = integers_quoted = false;
    return err;
  }

  // Emits one parsed JSON value as one event, or, for CloudTrail's
  // {"Records": [...]} layout, one event per record. Returns the number of
  // events emitted. `not_object` is set when the value is not a JSON object;
  // `skipped_records` counts the records that are not objects.
  std::uint64_t emit_document(simdjson::dom::element doc, std::uint64_t record, std::uint64_t offset,
                              const EventSink& sink, bool& not_object) {
    skipped_records = 0;
    not_object = !doc.is_object();
    if (not_object) return 0;
    simdjson::dom::object obj = as_object(doc);
    simdjson::dom::element records;
    if (obj.size() == 1 && obj["Records"].get(records) == simdjson::SUCCESS && records.is_array()) {
      std::uint64_t index = 0, emitted = 0;
      for (auto item : as_array(records)) {
        ++index;
        if (!item.is_object()) {
          ++skipped_records;
          continue;
        }
        reset();
        flatten(as_object(item));
        emit(index, offset, sink);
        ++emitted;
      }
      return emitted;
    }
    reset();
    flatten(obj);
    emit(record, offset, sink);
    return 1;
  }

  // Reads a record that is one object of scalar values (the shape log
  // shippers write) with the On-Demand API and emits it, with the same
  // fields, numbers and times as flatten(). The DOM parse builds a tape of
  // the whole record before flatten() walks it. Here the walk is the parse,
  // so a Sysmon event costs about 1,900 fewer instructions (of 34,000 for
  // the whole hunt).
  // Returns false without emitting for any other record: nested values,
  // arrays, errors of any kind, text after the object. The caller then reads
  // it with the DOM path, which repairs or reports it. `data` must have
  // SIMDJSON_PADDING readable bytes after `length`.
  bool read_flat(const char* data, std::size_t length, std::uint64_t record, std::uint64_t offset,
                 const EventSink& sink) {
    namespace od = simdjson::ondemand;
    od::document doc;
    if (flat_parser.iterate(simdjson::padded_string_view(data, length, length + simdjson::SIMDJSON_PADDING)).get(doc))
      return false;
    od::object object;
    if (doc.get_object().get(object)) return false;
    reset();
    // Field index of the first value of each time key, see time_key_rank.
    int time_field[kTimeKeys];
    std::fill(std::begin(time_field), std::end(time_field), -1);
    for (auto member : object) {
      std::string_view key;
      od::value value;
      od::json_type type;
      if (member.unescaped_key().get(key) || member.value().get(value) || value.type().get(type)) return false;
      switch (type) {
        case od::json_type::string: {
          std::string_view text;
          if (value.get_string().get(text)) return false;
          add_field(key, true, text, true, ValueType::String, false);
          break;
        }
        case od::json_type::number: {
          // The value's own getters, not get_number(): simdjson 3.0.1's
          // get_number() gives 0 for a double with more than 19 digits.
          od::number_type number_type;
          if (value.get_number_type().get(number_type)) return false;
          if (number_type == od::number_type::signed_integer) {
            std::int64_t n = 0;
            if (value.get_int64().get(n)) return false;
            add_number(key, true, n, false);
          } else if (number_type == od::number_type::unsigned_integer) {
            std::uint64_t n = 0;  // fails beyond 64 bits: the DOM path quotes those
            if (value.get_uint64().get(n)) return false;
            add_number(key, true, n, false);
          } else {
            double n = 0;
            if (value.get_double().get(n)) return false;
            add_number(key, true, n, false);
          }
          break;
        }
        case od::json_type::boolean: {
          bool b = false;
          if (value.get_bool().get(b)) return false;
          add_field(key, true, b ? "true" : "false", true, ValueType::Bool, false);
          break;
        }
        case od::json_type::null: {
          bool is_null = false;
          if (value.is_null().get(is_null) || !is_null) return false;
          add_field(key, true, "", true, ValueType::Null, false);
          break;
        }
        default: return false;  // an object or array: flatten() names its leaves
      }
      const int rank = time_key_rank(key);
      if (rank >= 0 && time_field[rank] < 0) time_field[rank] = static_cast<int>(fields.size() - 1);
    }
    // current_location() fails only at the end of the input: anything else
    // means text after the object.
    if (!doc.current_location().error()) return false;
    finish();
    // As flatten(): the first time value that is a string or a number is the
    // output timestamp, the others are kept for correlations. Number fields
    // already hold number_text's form.
    bool first = true;
    for (int rank = 0; rank < kTimeKeys; ++rank) {
      if (time_field[rank] < 0) continue;
      const FieldValue& t = fields[static_cast<std::size_t>(time_field[rank])];
      if (t.type != ValueType::String && t.type != ValueType::Number) continue;
      if (first) {
        timestamp.assign(t.value);
        first = false;
      } else {
        other_timestamp_views[other_count++] = t.value;
      }
    }
    send(record, offset, sink);
    return true;
  }

  void emit(std::uint64_t record, std::uint64_t offset, const EventSink& sink) {
    finish();
    send(record, offset, sink);
  }

  // Passes the finished event to `sink`.
  void send(std::uint64_t record, std::uint64_t offset, const EventSink& sink) {
    RawEvent event;
    event.fields = fields;
    event.record = record;
    event.timestamp = timestamp;
    event.other_timestamps = std::span<const std::string_view>(other_timestamp_views, other_count);
    event.source_offset = offset;
    sink(event);
  }
};

void ReadStats::add(const ReadStats& other) {
  events += other.events;
  rejected += other.rejected;
  repaired += other.repaired;
  bytes += other.bytes;
  for (const auto& [reason, n] : other.rejected_by_reason) rejected_by_reason[reason] += n;
  for (const auto& [reason, n] : other.repaired_by_reason) repaired_by_reason[reason] += n;
  lost_chunks += other.lost_chunks;
  for (const auto& [reason, n] : other.lost_chunks_by_reason) lost_chunks_by_reason[reason] += n;
}

JsonEventReader::JsonEventReader() : impl_(std::make_unique<Impl>()) {}
JsonEventReader::~JsonEventReader() = default;

bool JsonEventReader::read_object(std::string_view json, std::uint64_t record, const EventSink& sink, std::string& error) {
  Impl& m = *impl_;
  m.scratch = simdjson::padded_string(json);
  simdjson::dom::element doc;
  auto err = m.parser.parse(m.scratch).get(doc);
  if (err) {
    error = simdjson::error_message(err);
    return false;
  }
  if (!doc.is_object()) {
    error = "the JSON value is not an object";
    return false;
  }
  m.reset();
  m.flatten(doc.get_object().value_unsafe());
  m.emit(record, 0, sink);
  return true;
}

void JsonEventReader::set_flat_fast_path(bool enabled) { impl_->flat_fast_path = enabled; }

bool JsonEventReader::is_json_lines(std::string_view text) {
  std::size_t start = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  start = skip_space(text, start);
  if (start >= text.size() || text[start] != '{') return false;
  // The first line decides, unless it is broken: then any of the next lines
  // that starts with '{' in its first column and holds one whole object
  // shows JSON lines. Pretty-printed JSON indents the objects it nests.
  std::size_t pos = start;
  for (int lines = 0; lines < 16 && pos < text.size(); ++lines) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    // read_lines ends a record at a NUL byte as well.
    if (const void* nul = std::memchr(text.data() + pos, '\0', end - pos))
      end = static_cast<std::size_t>(static_cast<const char*>(nul) - text.data());
    if (pos == start || text[pos] == '{') {
      // A line too long to parse is judged by its start; read_lines rejects it.
      if (end - pos > kMaxJsonLineBytes) return true;
      simdjson::dom::element probe;
      auto err = impl_->parser.parse(text.data() + pos, end - pos, false).get(probe);
      if (err) {
        // Judge the structure, not the damage that read_lines repairs.
        bool utf8_repaired = false, integers_quoted = false;
        err = impl_->reparse(text.substr(pos, end - pos), err, probe, utf8_repaired, integers_quoted);
      }
      if (err == simdjson::SUCCESS) return pos == start || probe.is_object();
    }
    std::size_t next = text.find('\n', pos);
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return false;
}

ReadStats JsonEventReader::read_lines(std::string_view text, std::size_t begin, std::size_t end,
                                      std::uint64_t first_line, const std::string& name, const EventSink& sink,
                                      DiagnosticList& diagnostics, std::uint64_t text_offset) {
  Impl& m = *impl_;
  ReadStats stats;
  stats.bytes = end - begin;
  auto reject = [&](std::uint64_t line, const char* reason, std::string message) {
    stats.reject(reason);
    // Cap the messages per input part; the count in the summary stays exact.
    if (stats.rejected <= 20)
      diagnostics.error(name, static_cast<int>(line), 0, "", std::move(message), "fix or remove the record; the rest of the input is read");
    else if (stats.rejected == 21)
      diagnostics.warning(name, static_cast<int>(line), 0, "", "more unreadable records follow; only their number is reported", "");
  };
  // Reads one record in text[b, e), which contains no line break or NUL byte.
  auto read_record = [&](std::uint64_t line, std::size_t b, std::size_t e) {
    while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r')) ++b;
    while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) --e;
    if (b == e) return;
    if (e - b > kMaxJsonLineBytes) {
      reject(line, "line too long",
             fmt::format("the line at byte offset {} is {} bytes long, more than the maximum of {} MiB; it was not "
                         "parsed",
                         text_offset + b, e - b, kMaxJsonLineBytes >> 20));
      return;
    }
    if (m.flat_fast_path && m.read_flat(text.data() + b, e - b, line, text_offset + b, sink)) {
      ++stats.events;
      return;
    }
    simdjson::dom::element doc;
    auto err = m.parser.parse(text.data() + b, e - b, false).get(doc);
    bool utf8_repaired = false, integers_quoted = false;
    if (err) err = m.reparse(text.substr(b, e - b), err, doc, utf8_repaired, integers_quoted);
    if (utf8_repaired) {
      stats.repair("invalid UTF-8");
      if (stats.repaired <= 20)
        diagnostics.warning(name, static_cast<int>(line), 0, "",
                            fmt::format("the record at byte offset {} holds invalid UTF-8; those bytes were read "
                                        "as U+FFFD",
                                        text_offset + b),
                            "fix the encoding at the source if the exact bytes matter");
    }
    if (integers_quoted) {
      stats.repair(kBigIntegerRepair);
      if (stats.repaired <= 20)
        diagnostics.warning(name, static_cast<int>(line), 0, "",
                            fmt::format("the record at byte offset {} holds an integer beyond the 64-bit range; it "
                                        "was read as a string with all its digits",
                                        text_offset + b),
                            "rules match it as text; in detection output it appears as a JSON string");
    }
    bool not_object = false;
    if (err) {
      reject(line, "invalid JSON",
             fmt::format("invalid JSON in the record at byte offset {}: {}", text_offset + b, simdjson::error_message(err)));
    } else if (std::uint64_t n = m.emit_document(doc, line, text_offset + b, sink, not_object); not_object) {
      reject(line, "not a JSON object",
             fmt::format("the record at byte offset {} is a JSON value that is not an object", text_offset + b));
    } else {
      stats.events += n;
      for (std::uint64_t k = 0; k < m.skipped_records; ++k)
        reject(line, "not a JSON object",
               fmt::format("a Records element of the record at byte offset {} is not a JSON object", text_offset + b));
    }
  };

  std::uint64_t line = first_line;
  std::size_t pos = begin;
  while (pos < end) {
    std::size_t stop = text.find('\n', pos);
    if (stop == std::string_view::npos || stop > end) stop = end;
    const void* nul = std::memchr(text.data() + pos, '\0', stop - pos);
    if (nul == nullptr) {
      read_record(line, pos, stop);
    } else {
      // Runs of NUL bytes separate records; each run is reported and skipped.
      std::size_t b = pos;
      while (b < stop) {
        std::size_t z = b;
        while (z < stop && text[z] != '\0') ++z;
        read_record(line, b, z);
        if (z == stop) break;
        std::size_t run = z;
        while (run < stop && text[run] == '\0') ++run;
        stats.repair("runs of NUL bytes");
        if (stats.repaired <= 20)
          diagnostics.warning(name, static_cast<int>(line), 0, "",
                              fmt::format("{} NUL bytes at byte offset {} were skipped; the records around them "
                                          "were read",
                                          run - z, text_offset + z),
                              "the log was probably cut short by a crash or preallocated; check it is complete");
        b = run;
      }
    }
    ++line;
    pos = stop + 1;
  }
  return stats;
}

ReadStats JsonEventReader::read_values(std::string_view text, std::span<const JsonValueRef> values,
                                       const std::string& name, const EventSink& sink, DiagnosticList& diagnostics) {
  Impl& m = *impl_;
  ReadStats stats;
  auto reject = [&](const JsonValueRef& v, const char* reason, std::string message) {
    stats.reject(reason);
    // Cap the messages per input part; the count in the summary stays exact.
    if (stats.rejected <= 20)
      diagnostics.error(name, static_cast<int>(v.line), 0, "", std::move(message),
                        "fix or remove the value; the rest of the input is read");
    else if (stats.rejected == 21)
      diagnostics.warning(name, static_cast<int>(v.line), 0, "", "more unreadable values follow; only their number is reported", "");
  };
  for (const JsonValueRef& v : values) {
    stats.bytes += v.length;
    const char* data = text.data() + v.begin;
    if (m.flat_fast_path && m.read_flat(data, v.length, v.record, v.offset, sink)) {
      ++stats.events;
      continue;
    }
    simdjson::dom::element doc;
    auto err = m.parser.parse(data, v.length, false).get(doc);
    bool utf8_repaired = false, integers_quoted = false;
    if (err) err = m.reparse(std::string_view(data, v.length), err, doc, utf8_repaired, integers_quoted);
    if (utf8_repaired) {
      stats.repair("invalid UTF-8");
      if (stats.repaired <= 20)
        diagnostics.warning(name, static_cast<int>(v.line), 0, "",
                            fmt::format("value {} at byte offset {} contains invalid UTF-8; those bytes were read as U+FFFD",
                                        v.record, v.offset),
                            "fix the encoding at the source if the exact bytes matter");
    }
    if (integers_quoted) {
      stats.repair(kBigIntegerRepair);
      if (stats.repaired <= 20)
        diagnostics.warning(name, static_cast<int>(v.line), 0, "",
                            fmt::format("value {} at byte offset {} holds an integer beyond the 64-bit range; it was "
                                        "read as a string with all its digits",
                                        v.record, v.offset),
                            "rules match it as text; in detection output it appears as a JSON string");
    }
    bool not_object = false;
    if (err) {
      // Values are cut by following strings and brackets, so an unbalanced
      // quote or bracket can join the following values to this one. The
      // error for a value over many lines that looks like several objects
      // reports this.
      const std::string_view value(data, v.length);
      const auto lines = static_cast<std::uint64_t>(std::count(value.begin(), value.end(), '\n'));
      std::string joined;
      if (lines > 0 && value.find("},") != std::string_view::npos && value.find('{', 1) != std::string_view::npos)
        joined = fmt::format("; it spans lines {} to {}, so an unbalanced quote or bracket may have joined several "
                             "records into it, and they are counted as one",
                             v.line, v.line + lines);
      std::string reason = simdjson::error_message(err);
      if (!joined.empty() && reason.ends_with('.')) reason.pop_back();
      reject(v, "invalid JSON",
             fmt::format("invalid JSON in value {} at byte offset {}: {}{}", v.record, v.offset, reason, joined));
    } else if (std::uint64_t n = m.emit_document(doc, v.record, v.offset, sink, not_object); not_object) {
      reject(v, "not a JSON object",
             fmt::format("value {} at byte offset {} is a JSON value that is not an object", v.record, v.offset));
    } else {
      stats.events += n;
      for (std::uint64_t k = 0; k < m.skipped_records; ++k)
        reject(v, "not a JSON object",
               fmt::format("a Records element of value {} at byte offset {} is not a JSON object", v.record, v.offset));
    }
  }
  return stats;
}

void JsonEventReader::repair_whole_input(std::string_view& text, std::size_t& start, ReadStats& stats,
                                         const std::string& name, DiagnosticList& diagnostics) {
  if (simdjson::validate_utf8(text.data() + start, text.size() - start)) return;
  impl_->repaired = simdjson::padded_string(Impl::repair_utf8(text.substr(start)));
  text = std::string_view(impl_->repaired.data(), impl_->repaired.size());
  start = 0;
  stats.repair("invalid UTF-8");
  diagnostics.warning(name, 0, 0, "", "the input holds invalid UTF-8; those bytes were read as U+FFFD",
                      "fix the encoding at the source if the exact bytes matter");
}

ReadStats JsonEventReader::read(std::string_view text, const std::string& name, const EventSink& sink,
                                DiagnosticList& diagnostics) {
  Impl& m = *impl_;
  ReadStats stats;
  stats.bytes = text.size();
  std::size_t start = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") start = 3;  // UTF-8 byte order mark
  start = skip_space(text, start);
  if (start >= text.size()) return stats;

  auto reject = [&](std::uint64_t line, const char* reason, std::string message,
                    const char* hint = "fix or remove the record; the rest of the input is read") {
    stats.reject(reason);
    // Cap the messages per input; the count in the summary stays exact.
    if (stats.rejected <= 20)
      diagnostics.error(name, static_cast<int>(line), 0, "", std::move(message), hint);
    else if (stats.rejected == 21)
      diagnostics.warning(name, 0, 0, "", "more unreadable records follow; only their number is reported", "");
  };
  // A syntax error stops parse_many, so it loses the rest of the input.
  const char* rest_lost_hint =
      "fix the JSON there, or write one event per line (JSON lines) so that a bad record loses only itself";

  if (text[start] == '[') {
    // One JSON array of events. Invalid UTF-8 is repaired for the whole
    // input first; any other error leaves nothing readable.
    repair_whole_input(text, start, stats, name, diagnostics);
    simdjson::dom::element doc;
    auto err = m.parser.parse(text.data() + start, text.size() - start, false).get(doc);
    if (err || !doc.is_array()) {
      stats.reject("invalid JSON");
      diagnostics.error(name, 1, 0, "",
                        fmt::format("invalid JSON array: {}; no event of this input can be read",
                                    err ? simdjson::error_message(err) : "not an array"),
                        "fix the JSON, or write one event per line (JSON lines) so one bad record only loses itself");
      return stats;
    }
    std::uint64_t index = 0;
    for (auto item : as_array(doc)) {
      ++index;
      bool not_object = false;
      std::uint64_t n = m.emit_document(item, index, 0, sink, not_object);
      if (not_object) {
        reject(0, "not a JSON object", fmt::format("array element {} is not a JSON object", index));
        continue;
      }
      stats.events += n;
      for (std::uint64_t k = 0; k < m.skipped_records; ++k)
        reject(0, "not a JSON object", fmt::format("a Records element of array element {} is not a JSON object", index));
    }
    return stats;
  }

  if (is_json_lines(text)) {
    std::uint64_t line = 1 + static_cast<std::uint64_t>(std::count(text.begin(), text.begin() + start, '\n'));
    return read_lines(text, start, text.size(), line, name, sink, diagnostics);
  }

  // Objects one after another, possibly spread over many lines.
  repair_whole_input(text, start, stats, name, diagnostics);
  simdjson::dom::document_stream stream;
  auto err = m.parser.parse_many(text.data() + start, text.size() - start,
                                 std::max<std::size_t>(simdjson::dom::DEFAULT_BATCH_SIZE, text.size() - start + 1))
                 .get(stream);
  if (err) {
    reject(1, "invalid JSON", fmt::format("invalid JSON: {}; no event of this input can be read", simdjson::error_message(err)),
           rest_lost_hint);
    return stats;
  }
  std::uint64_t index = 0;
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    ++index;
    simdjson::dom::element doc;
    auto doc_err = (*it).get(doc);
    std::size_t offset = start + it.current_index();
    std::uint64_t line = 1 + static_cast<std::uint64_t>(std::count(text.begin(), text.begin() + std::min(offset, text.size()), '\n'));
    if (doc_err) {
      reject(line, "invalid JSON",
             fmt::format("reading stopped at object {} on invalid JSON: {}; that object and the rest of the input "
                         "were not read",
                         index, simdjson::error_message(doc_err)),
             rest_lost_hint);
      break;
    }
    bool not_object = false;
    std::uint64_t n = m.emit_document(doc, index, offset, sink, not_object);
    if (not_object) {
      reject(line, "not a JSON object", fmt::format("value {} is not a JSON object", index));
      continue;
    }
    stats.events += n;
    for (std::uint64_t k = 0; k < m.skipped_records; ++k)
      reject(line, "not a JSON object", fmt::format("a Records element of value {} is not a JSON object", index));
  }
  return stats;
}

}  // namespace sigscope
