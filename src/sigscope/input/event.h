// The flat event form every input reader produces: each leaf value with its
// Sigma field name. Readers reuse their buffers between events, so a
// RawEvent and its string_views are valid only inside the callback that
// receives it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace sigscope {

enum class ValueType : std::uint8_t { String, Number, Bool, Null };

struct FieldValue {
  std::string_view name;   // Sigma field name, e.g. "Image", "EventID", "Provider_Name"
  std::string_view value;  // text of the value; numbers as written, booleans as true/false
  ValueType type = ValueType::String;
  // True when `name` was made by joining nested object keys with dots
  // ({"a": {"b": 1}} gives "a.b"). A literal key with the same dotted name
  // takes precedence over such a path.
  bool nested_path = false;
  // True for the System section of a Windows event (EventID, Channel,
  // Provider_Name...). An EventData or UserData field of the same name
  // shadows it: event 104 names the cleared log in UserData's Channel.
  bool system = false;
};

// One event as read from an input. The same name may appear several times
// (an array, or the unnamed <Data> elements of classic EVTX events); a
// predicate on such a field holds when any of the values satisfies it.
struct RawEvent {
  std::span<const FieldValue> fields;
  std::uint64_t record = 0;         // 1-based record number within the input
  std::string_view timestamp;       // ISO 8601 UTC when the event has one, else empty
  // The values of the event's other time keys, in order of preference. JSON
  // events may have several (@timestamp and timestamp), and correlations use
  // the first valid one when `timestamp` is not a valid time.
  std::span<const std::string_view> other_timestamps;
  std::uint64_t source_offset = 0;  // byte offset of the record in the input file
};

}  // namespace sigscope
