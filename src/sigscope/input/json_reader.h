// Reading events from JSON: JSON lines, a JSON array of objects, objects
// written one after another, AWS CloudTrail's {"Records": [...]} files, and
// evtx_dump-style {"Event": {"System": ..., "EventData": ...}} documents,
// which are flattened to the field names the EVTX reader gives (EventID,
// Channel, Provider_Name, the EventData names). Invalid UTF-8 inside a
// record is replaced with U+FFFD and the record is still read, with a
// warning, so one bad byte cannot hide an event from the rules.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/input/event.h"

namespace sigscope {

struct ReadStats {
  std::uint64_t events = 0;
  std::uint64_t rejected = 0;  // records that could not be read (reported one by one)
  std::uint64_t bytes = 0;
  std::uint64_t repaired = 0;  // records or inputs read around damage (see repaired_by_reason)
  std::map<std::string, std::uint64_t> rejected_by_reason;  // e.g. "invalid JSON" -> 2
  // Damage that was read around, e.g. "invalid UTF-8" -> 3: the records are
  // still read, with U+FFFD in place of bad text or despite a bad checksum.
  std::map<std::string, std::uint64_t> repaired_by_reason;
  // Whole EVTX chunks whose records could not be read or counted (a chunk
  // holds up to 64 KiB of records), e.g. "corrupt EVTX chunk" -> 1.
  std::uint64_t lost_chunks = 0;
  std::map<std::string, std::uint64_t> lost_chunks_by_reason;

  void reject(const std::string& reason) {
    ++rejected;
    ++rejected_by_reason[reason];
  }
  void repair(const std::string& reason, std::uint64_t count = 1) {
    repaired += count;
    repaired_by_reason[reason] += count;
  }
  void lose_chunks(const std::string& reason, std::uint64_t count) {
    lost_chunks += count;
    lost_chunks_by_reason[reason] += count;
  }
  void add(const ReadStats& other);
};

using EventSink = std::function<void(const RawEvent&)>;

// One JSON value found by JsonValueBlockReader (input/stream.h): its place in the block and
// in the input.
struct JsonValueRef {
  std::uint32_t begin = 0;   // offset in LineBlock::buffer
  std::uint32_t length = 0;
  std::uint64_t record = 0;  // 1-based number of the array element or value
  std::uint64_t line = 0;    // line of the value's first byte
  std::uint64_t offset = 0;  // byte offset in the decompressed input
};


// Reusable JSON reader; one per thread.
// Maximum length of one JSON line. Longer lines are rejected unparsed, because
// parsing takes about 14 bytes of memory per input byte. Event lines are at
// most a few hundred KB; the largest Windows event record is 64 KiB.
inline constexpr std::size_t kMaxJsonLineBytes = 16u << 20;

class JsonEventReader {
 public:
  JsonEventReader();
  ~JsonEventReader();
  JsonEventReader(const JsonEventReader&) = delete;
  JsonEventReader& operator=(const JsonEventReader&) = delete;

  // Reads every event of `text`, the whole content of input `name`. `text`
  // must have simdjson::SIMDJSON_PADDING readable bytes after its end (see
  // load_input). Records that fail to parse are reported with their line or
  // index and skipped.
  ReadStats read(std::string_view text, const std::string& name, const EventSink& sink,
                 DiagnosticList& diagnostics);

  // True when `text` (padded like read()) is JSON lines: its first non-blank
  // line is one complete JSON value or, when that line is broken, one of the
  // next 15 lines is a whole object starting in the first column.
  bool is_json_lines(std::string_view text);

  // Reads the JSON lines in text[begin, end), where `begin` starts a line
  // and that line is number `first_line` of the input. read() uses this for
  // JSON-lines inputs; callers use it to split one input across threads.
  // Lines longer than kMaxJsonLineBytes are rejected. NUL bytes end a record
  // like a line break does: they are skipped with a warning, so a run of
  // NULs left by a crash loses no record around it.
  // `text` starts at byte `text_offset` of the input (see RawEvent::source_offset).
  ReadStats read_lines(std::string_view text, std::size_t begin, std::size_t end, std::uint64_t first_line,
                       const std::string& name, const EventSink& sink, DiagnosticList& diagnostics,
                       std::uint64_t text_offset = 0);

  // Reads the JSON values `values` of `text`, each on its own: a value that
  // fails to parse is reported with its number, line and offset and skipped.
  // Each value must be followed by simdjson::SIMDJSON_PADDING readable bytes
  // within or after `text`.
  ReadStats read_values(std::string_view text, std::span<const JsonValueRef> values, const std::string& name,
                        const EventSink& sink, DiagnosticList& diagnostics);

  // Parses one JSON object (no padding required) into an event with record
  // number `record`. Returns false and sets `error` when it is not an object.
  bool read_object(std::string_view json, std::uint64_t record, const EventSink& sink, std::string& error);

  // read_lines() and read_values() read a record whose values are all
  // strings, numbers, booleans or null with simdjson's On-Demand API, which
  // skips building a DOM. Every other record, and any record that fails there,
  // goes through the DOM path. Both give the same events; false sends every
  // record through the DOM path (for tests that compare the two).
  void set_flat_fast_path(bool enabled);

 private:
  // For inputs parsed as a whole (arrays, concatenated objects): replaces
  // invalid UTF-8 in text[start...] and points `text` at the repaired copy.
  void repair_whole_input(std::string_view& text, std::size_t& start, ReadStats& stats, const std::string& name,
                          DiagnosticList& diagnostics);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sigscope
