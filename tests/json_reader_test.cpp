// The JSON reader's input layouts, record numbering and error reporting.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>

#include "sigscope/correlate/correlation.h"
#include "sigscope/input/json_reader.h"
#include "test_support.h"

namespace sigscope {
namespace {

struct Collected {
  std::vector<std::uint64_t> records;
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;
};

Collected read_all(const std::string& text, ReadStats* stats = nullptr, DiagnosticList* diagnostics = nullptr) {
  JsonEventReader reader;
  Collected out;
  DiagnosticList local;
  simdjson::padded_string padded(text);
  ReadStats s = reader.read(std::string_view(padded.data(), padded.size()), "input.json", [&](const RawEvent& e) {
    out.records.push_back(e.record);
    std::vector<std::pair<std::string, std::string>> f;
    for (const auto& v : e.fields) f.emplace_back(std::string(v.name), std::string(v.value));
    out.fields.push_back(f);
  }, diagnostics ? *diagnostics : local);
  if (stats) *stats = s;
  return out;
}

std::string value_of(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& name) {
  for (const auto& [n, v] : fields)
    if (n == name) return v;
  return "<missing>";
}

TEST(JsonReader, JsonLinesNumberRecordsByLine) {
  auto c = read_all("{\"a\": 1}\n\n{\"a\": 2}\n");
  EXPECT_EQ(c.records, (std::vector<std::uint64_t>{1, 3}));
}

TEST(JsonReader, ArrayNumbersRecordsByIndex) {
  auto c = read_all("[{\"a\": 1}, {\"a\": 2}]");
  EXPECT_EQ(c.records, (std::vector<std::uint64_t>{1, 2}));
}

TEST(JsonReader, ConcatenatedPrettyObjects) {
  auto c = read_all("{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n");
  EXPECT_EQ(c.records, (std::vector<std::uint64_t>{1, 2}));
}

TEST(JsonReader, BadLineReportedAndSkipped) {
  ReadStats stats;
  DiagnosticList diagnostics;
  auto c = read_all("{\"a\": 1}\n{\"a\": \n{\"a\": 3}\n[1]\n", &stats, &diagnostics);
  EXPECT_EQ(c.records, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(stats.rejected, 2u);
  EXPECT_EQ(stats.rejected_by_reason["invalid JSON"], 1u);
  EXPECT_EQ(stats.rejected_by_reason["not a JSON object"], 1u);
  ASSERT_GE(diagnostics.items().size(), 1u);
  EXPECT_EQ(diagnostics.items()[0].file, "input.json");
  EXPECT_EQ(diagnostics.items()[0].line, 2);
}

// A syntax error in objects spread over lines stops the parser. The error
// message stated that the rest of the input was lost, and its hint that the
// rest was read.
TEST(JsonReader, BrokenConcatenatedObjectSaysRestIsLost) {
  ReadStats stats;
  DiagnosticList diagnostics;
  auto c = read_all("{\n  \"a\": 1\n}\n{\n  \"a\": x\n}\n{\n  \"a\": 3\n}\n", &stats, &diagnostics);
  EXPECT_EQ(c.records, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(stats.rejected, 1u);
  ASSERT_EQ(diagnostics.items().size(), 1u);
  const Diagnostic& d = diagnostics.items()[0];
  EXPECT_EQ(d.line, 4);
  EXPECT_NE(d.message.find("reading stopped at object 2 on invalid JSON"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("that object and the rest of the input were not read"), std::string::npos) << d.message;
  EXPECT_EQ(d.hint.find("the rest of the input is read"), std::string::npos) << d.hint;
  EXPECT_NE(d.hint.find("JSON lines"), std::string::npos) << d.hint;

  // A control character in a string is found while the parser scans ahead,
  // so reading stops before the first object.
  DiagnosticList scanned;
  c = read_all("{\n  \"a\": 1\n}\n{\n  \"a\": \"x\x01\"\n}\n", nullptr, &scanned);
  EXPECT_TRUE(c.records.empty());
  ASSERT_EQ(scanned.items().size(), 1u);
  EXPECT_NE(scanned.items()[0].message.find("reading stopped at object 1"), std::string::npos)
      << scanned.items()[0].message;
  EXPECT_EQ(scanned.items()[0].hint.find("the rest of the input is read"), std::string::npos);
}

// simdjson rejects integers beyond 64 bits, which lost the whole record. They
// are now read as strings with every digit, and the record is counted as
// repaired. Numbers that are invalid JSON are still rejected.
TEST(JsonReader, IntegersBeyond64BitsAreKept) {
  ReadStats stats;
  DiagnosticList diagnostics;
  auto c = read_all(R"({"Huge": 123456789012345678901, "Max": 18446744073709551615, "F": 1.5e300})"
                    "\n"
                    R"({"Low": -9223372036854775809, "Min": -9223372036854775808, "s": "123456789012345678901234"})"
                    "\n"
                    R"({"Zero": 01234567890123456789012})"
                    "\n",
                    &stats, &diagnostics);
  ASSERT_EQ(c.records, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(value_of(c.fields[0], "Huge"), "123456789012345678901");
  EXPECT_EQ(value_of(c.fields[0], "Max"), "18446744073709551615");
  EXPECT_EQ(value_of(c.fields[0], "F"), "1.5e+300");
  EXPECT_EQ(value_of(c.fields[1], "Low"), "-9223372036854775809");
  EXPECT_EQ(value_of(c.fields[1], "Min"), "-9223372036854775808");
  EXPECT_EQ(value_of(c.fields[1], "s"), "123456789012345678901234");

  EXPECT_EQ(stats.repaired_by_reason["integer beyond 64 bits read as a string"], 2u);
  EXPECT_EQ(stats.rejected_by_reason["invalid JSON"], 1u);
  ASSERT_EQ(diagnostics.items().size(), 3u);
  EXPECT_NE(diagnostics.items()[0].message.find("holds an integer beyond the 64-bit range"), std::string::npos)
      << diagnostics.items()[0].message;

  // A file whose every line has such an integer is still read as JSON lines.
  JsonEventReader reader;
  simdjson::padded_string lines(std::string("{\"a\": 123456789012345678901}\n{\"a\": 123456789012345678902}\n"));
  EXPECT_TRUE(reader.is_json_lines(std::string_view(lines.data(), lines.size())));
}

TEST(JsonReader, EvtxDumpLayoutIsFlattened) {
  auto c = read_all(R"({"Event": {"#attributes": {"xmlns": "x"},
    "System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "G"}},
               "EventID": 1, "TimeCreated": {"#attributes": {"SystemTime": "2025-12-27T06:00:34Z"}},
               "Channel": "Microsoft-Windows-Sysmon/Operational", "Security": {"#attributes": {"UserID": "S-1-5-18"}}},
    "EventData": {"Image": "C:\\x.exe", "CommandLine": "x"}}})");
  ASSERT_EQ(c.fields.size(), 1u);
  const auto& f = c.fields[0];
  EXPECT_EQ(value_of(f, "Provider_Name"), "Microsoft-Windows-Sysmon");
  EXPECT_EQ(value_of(f, "EventID"), "1");
  EXPECT_EQ(value_of(f, "Channel"), "Microsoft-Windows-Sysmon/Operational");
  EXPECT_EQ(value_of(f, "TimeCreated"), "2025-12-27T06:00:34Z");
  EXPECT_EQ(value_of(f, "Security_UserID"), "S-1-5-18");
  EXPECT_EQ(value_of(f, "Image"), "C:\\x.exe");
}

TEST(JsonReader, EvtxDumpEventIdWithQualifiers) {
  auto c = read_all(R"({"Event": {"System": {"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
    "Channel": "System"}, "EventData": {"ServiceName": "x"}}})");
  EXPECT_EQ(value_of(c.fields[0], "EventID"), "7045");
}

TEST(JsonReader, NestedObjectsBecomeDottedNames) {
  auto c = read_all(R"({"a": {"b": {"c": "x"}}, "n": 1.5, "t": true, "z": null})");
  const auto& f = c.fields[0];
  EXPECT_EQ(value_of(f, "a.b.c"), "x");
  EXPECT_EQ(value_of(f, "n"), "1.5");
  EXPECT_EQ(value_of(f, "t"), "true");
  EXPECT_EQ(value_of(f, "z"), "");
}

TEST(JsonReader, ByteOrderMarkSkipped) {
  auto c = read_all("\xEF\xBB\xBF{\"a\": 1}\n");
  EXPECT_EQ(c.records.size(), 1u);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(JsonReader, ArraysOfObjectsInsideObjects) {
  // Long keys force the name buffer to grow while an array is flattened.
  std::string long_key(300, 'k');
  auto c = read_all("{\"x\": {\"a\": [{\"" + long_key + "\": 1}, {\"b\": 2}, {\"c\": [{\"d\": 3}]}]}}");
  const auto& f = c.fields[0];
  EXPECT_EQ(value_of(f, "x.a." + long_key), "1");
  EXPECT_EQ(value_of(f, "x.a.b"), "2");
  EXPECT_EQ(value_of(f, "x.a.c.d"), "3");
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

TEST(JsonReader, InvalidUtf8IsRepairedNotDropped) {
  ReadStats stats;
  DiagnosticList diagnostics;
  auto c = read_all("{\"a\": \"x\"}\n{\"a\": \"bad \xff byte\"}\n", &stats, &diagnostics);
  ASSERT_EQ(c.records, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(value_of(c.fields[1], "a"), "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(stats.repaired, 1u);
  EXPECT_EQ(stats.rejected, 0u);
  EXPECT_EQ(diagnostics.warning_count(), 1u);
}

TEST(JsonReader, CloudTrailRecordsAreEvents) {
  auto c = read_all(R"({"Records": [{"eventName": "A"}, {"eventName": "B"}]})");
  ASSERT_EQ(c.records, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(value_of(c.fields[1], "eventName"), "B");
}

TEST(JsonReader, BrokenArraySaysNothingIsRead) {
  ReadStats stats;
  DiagnosticList diagnostics;
  auto c = read_all(R"([{"a": 1}, {"a": }, {"a": 3}])", &stats, &diagnostics);
  EXPECT_TRUE(c.records.empty());
  EXPECT_EQ(stats.rejected, 1u);
  ASSERT_EQ(diagnostics.error_count(), 1u);
  EXPECT_NE(diagnostics.items()[0].message.find("no event of this input can be read"), std::string::npos);
}

}  // namespace
}  // namespace sigscope

#include "sigscope/output/detections.h"

namespace sigscope {
namespace {

TEST(EventJson, RepeatedNamesBecomeArraysAtTheFirstOccurrence) {
  std::vector<FieldValue> fields = {
      {"Data", "a", ValueType::String},     {"Image", "C:\\x.exe", ValueType::String},
      {"Data", "b", ValueType::String},     {"EventID", "1", ValueType::Number},
      {"Data", "c\"d", ValueType::String},  {"Flag", "true", ValueType::Bool},
      {"Gone", "", ValueType::Null},
  };
  RawEvent event;
  event.fields = fields;
  std::string out;
  append_event_json(event, out);
  EXPECT_EQ(out, R"({"Data":["a","b","c\"d"],"Image":"C:\\x.exe","EventID":1,"Flag":true,"Gone":null})");
}

// Many names, repeated in turn, so the table of first occurrences probes
// past collisions; each name's values keep their order.
TEST(EventJson, ManyRepeatedNamesKeepTheirOrder) {
  std::vector<std::string> names, values;
  for (int i = 0; i < 300; ++i) {
    names.push_back(std::string("F").append(std::to_string(i % 70)));
    values.push_back(std::to_string(i));
  }
  std::vector<FieldValue> fields;
  for (int i = 0; i < 300; ++i) fields.push_back({names[i], values[i], ValueType::String});
  RawEvent event;
  event.fields = fields;
  std::string out;
  append_event_json(event, out);
  std::string expected = "{";
  for (int first = 0; first < 70; ++first) {
    if (first) expected += ",";
    expected += "\"F" + std::to_string(first) + "\":[";
    for (int i = first; i < 300; i += 70) expected += (i == first ? "\"" : ",\"") + std::to_string(i) + "\"";
    expected += "]";
  }
  EXPECT_EQ(out, expected + "}");
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// The output timestamp comes from the most preferred timestamp key whose
// value is a string or a number, wherever the keys are in the object.
TEST(JsonReaderTimestamp, PreferredKeyWins) {
  auto timestamp_of = [](const std::string& line) {
    JsonEventReader reader;
    DiagnosticList diagnostics;
    simdjson::padded_string padded(line);
    std::string got = "<none>";
    reader.read(std::string_view(padded.data(), padded.size()), "t.jsonl",
                [&](const RawEvent& e) { got = std::string(e.timestamp); }, diagnostics);
    return got;
  };
  EXPECT_EQ(timestamp_of(R"({"time": "A", "UtcTime": "B", "@timestamp": "C"})"), "C");
  EXPECT_EQ(timestamp_of(R"({"ts": 1.5, "EventTime": "E", "eventTime": "e"})"), "E");
  EXPECT_EQ(timestamp_of(R"({"time": {"nested": 1}, "ts": 1.5})"), "1.5");
  EXPECT_EQ(timestamp_of(R"({"UtcTime": "first", "UtcTime": "second"})"), "first");
  EXPECT_EQ(timestamp_of(R"({"Image": "x"})"), "");
}

// A nanosecond count written as a JSON number was formatted as a double
// ("1.714557661234568e+18"), which no correlation could read as a time.
TEST(JsonReaderTimestamp, IntegerTimeKeepsEveryDigit) {
  JsonEventReader reader;
  DiagnosticList diagnostics;
  simdjson::padded_string padded(std::string(
      R"({"Channel":"Security","EventID":4624,"LogonType":3,"TargetUserName":"ns","@timestamp":1714557661234567891,)"
      R"("BigId":18446744073709551615,"Neg":-9223372036854775808, "F":0.1})"
      "\n"
      R"({"Channel": "Security", "EventID": 4624, "LogonType": 3, "TargetUserName": "ns", "@timestamp": 1714557660000000000})"
      "\n"
      R"({"ts": 1714557660.5, "time": 1714557660000000000.0})"
      "\n"));
  std::vector<std::string> timestamps;
  std::vector<std::vector<std::string>> others;
  std::vector<std::optional<std::int64_t>> times;
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;
  reader.read(std::string_view(padded.data(), padded.size()), "t.jsonl",
              [&](const RawEvent& e) {
                timestamps.emplace_back(e.timestamp);
                others.emplace_back(e.other_timestamps.begin(), e.other_timestamps.end());
                times.push_back(event_time(e));
                std::vector<std::pair<std::string, std::string>> f;
                for (const auto& v : e.fields) f.emplace_back(std::string(v.name), std::string(v.value));
                fields.push_back(f);
              },
              diagnostics);
  ASSERT_EQ(timestamps.size(), 3u);

  EXPECT_EQ(timestamps[0], "1714557661234567891");
  EXPECT_EQ(times[0], 1714557661234568LL);
  EXPECT_EQ(value_of(fields[0], "@timestamp"), "1714557661234567891");
  EXPECT_EQ(value_of(fields[0], "BigId"), "18446744073709551615");
  EXPECT_EQ(value_of(fields[0], "Neg"), "-9223372036854775808");
  EXPECT_EQ(value_of(fields[0], "F"), "0.1");

  EXPECT_EQ(timestamps[1], "1714557660000000000");
  EXPECT_EQ(times[1], 1714557660LL * 1000000);

  // A double keeps its shortest form, which a correlation reads as well.
  EXPECT_EQ(timestamps[2], "1.71455766e+18");
  EXPECT_EQ(others[2], (std::vector<std::string>{"1714557660.5"}));
  EXPECT_EQ(times[2], 1714557660LL * 1000000);
}

// The values of the other time keys are kept in the same order, so a
// correlation can fall back on them when the first is not a valid time.
TEST(JsonReaderTimestamp, OtherKeysKeptInOrder) {
  JsonEventReader reader;
  DiagnosticList diagnostics;
  simdjson::padded_string padded(std::string(
      R"({"time": "A", "ts": 2, "@timestamp": "C", "UtcTime": {"nested": 1}, "timestamp": "B"})"
      "\n"
      R"({"@timestamp": "D"})"
      "\n"));
  std::vector<std::string> first, others;
  std::vector<std::vector<std::string>> other_lists;
  reader.read(std::string_view(padded.data(), padded.size()), "t.jsonl",
              [&](const RawEvent& e) {
                first.emplace_back(e.timestamp);
                other_lists.emplace_back(e.other_timestamps.begin(), e.other_timestamps.end());
              },
              diagnostics);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], "C");
  EXPECT_EQ(other_lists[0], (std::vector<std::string>{"B", "A", "2"}));
  EXPECT_EQ(first[1], "D");
  EXPECT_TRUE(other_lists[1].empty()) << "the second event kept the first event's values";
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// A CloudTrail Records element that is not an object is rejected with an
// error, and only the events passed on are counted (found by fuzzing: the
// count included such elements).
TEST(JsonReaderRecords, NonObjectElementIsRejected) {
  ReadStats stats;
  DiagnosticList diagnostics;
  auto c = read_all("{\"Records\": [2, {\"eventName\": \"A\"}, \"x\"]}\n", &stats, &diagnostics);
  EXPECT_EQ(c.records, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(stats.events, 1u);
  EXPECT_EQ(stats.rejected_by_reason["not a JSON object"], 2u);
  ASSERT_EQ(diagnostics.error_count(), 2u);
  EXPECT_NE(diagnostics.items()[0].message.find("a Records element"), std::string::npos);
}

// Everything a reader pass gives: each event in full, the statistics and
// the diagnostics, as text, for comparing the flat fast path with the DOM path.
std::string read_everything(std::string_view text, bool fast_path) {
  JsonEventReader reader;
  reader.set_flat_fast_path(fast_path);
  DiagnosticList diagnostics;
  std::string out;
  simdjson::padded_string padded(text);
  ReadStats stats = reader.read(std::string_view(padded.data(), padded.size()), "input.jsonl",
                                [&](const RawEvent& e) {
                                  out += fmt::format("record {} offset {} time '{}'", e.record, e.source_offset,
                                                     e.timestamp);
                                  for (std::string_view t : e.other_timestamps) out += fmt::format(" other '{}'", t);
                                  out += '\n';
                                  for (const FieldValue& v : e.fields)
                                    out += fmt::format("  {}={} type {} nested {} system {}\n", v.name, v.value,
                                                       static_cast<int>(v.type), v.nested_path, v.system);
                                },
                                diagnostics);
  out += fmt::format("events {} rejected {} repaired {}\n", stats.events, stats.rejected, stats.repaired);
  for (const Diagnostic& d : diagnostics.items()) out += fmt::format("{}:{} {}\n", d.line, d.message, d.hint);
  return out;
}

TEST(JsonFlatFastPath, EveryKindOfRecord) {
  // The fast path must give the DOM path's events for each line. The lines
  // cover every value type, escapes, time keys and the numbers that simdjson
  // 3.0.1's get_number() misreads. They also cover the records that the fast
  // path must leave to the DOM path.
  const std::string lines[] = {
      R"({"Image":"C:\\Windows\\cmd.exe","EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"})",
      R"({"a":"tab\there \u00e9 \ud83d\ude00 \"q\"","b":true,"c":false,"d":null,"e":-0.0,"f":1E5,"g":0.1})",
      R"({"k\u0065y":"escaped key","":"empty key","a":"x","a":"duplicate key"})",
      R"({"i":-9223372036854775808,"u":18446744073709551615,"d":1714557660000000000.0,"e":12345678901234567890.5})",
      R"({"big":18446744073709551616,"bigger":123456789012345678901234567890})",
      R"({"time":1714557660000000000.0,"ts":1714557660.5,"@timestamp":"2024-05-01T10:00:00Z","EventTime":true})",
      R"({"UtcTime":"2024-05-01 10:00:00.123","timestamp":1714557661234567891,"time":"later"})",
      R"({"nested":{"a":1,"b":[1,2,{"c":"d"}]},"flat":"after"})",
      R"({"list":["x","y"],"n":1})",
      R"({"Records":[{"eventName":"GetObject"},{"eventName":"PutObject"},3]})",
      R"({"Event":{"System":{"EventID":4688,"Channel":"Security"},"EventData":{"NewProcessName":"x.exe"}}})",
      R"({"Records":"not an array"})",
      R"({})",
      R"({"a":1} trailing)",
      R"({"a":1}{"b":2})",
      R"({"a":1,})",
      R"({"a" 1})",
      R"({"a":1 "b":2})",
      R"({"a":nul})",
      R"({"a":tru})",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":"bad \x escape"})",
      R"({"a":"unterminated)",
      R"({"a":1e400})",
      "{\"a\":\"invalid \xff\xfe utf-8\",\"b\":2}",
      "{\"a\":\"control \x01 char\"}",
      R"([1,2,3])",
      R"("just a string")",
      R"(42)",
      R"({"a":[}])",
  };
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    // The first line decides that the input is JSON lines.
    const std::string text = std::string(R"({"first":"line"})") + "\n" + line + "\n";
    EXPECT_EQ(read_everything(text, true), read_everything(text, false));
  }
}

TEST(JsonFlatFastPath, CorpusLogs) {
  SIGSCOPE_REQUIRE_SHARED();
  // Security Datasets' JSON lines, and the evtx_dump documents of the
  // regression cases, which the DOM path reads.
  std::size_t files = 0, bytes = 0;
  for (const char* folder : {"json", "sigma-regression"}) {
    const auto root = testing::shared_dir() / "corpus" / folder;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(entry.path().string());
      const std::string fast = read_everything(text, true);
      EXPECT_TRUE(fast == read_everything(text, false)) << "the two paths differ";
      ++files;
      bytes += text.size();
    }
  }
  EXPECT_GT(files, 150u) << "expected the Security Datasets and regression logs under " << testing::shared_dir();
  EXPECT_GT(bytes, 10u << 20);
}

}  // namespace
}  // namespace sigscope
