#include "targets.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "sigscope/analysis/catalog.h"
#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/condition/parser.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/stream.h"
#include "sigscope/match/engine.h"
#include "sigscope/output/page_json.h"
#include "sigscope/output/page_text.h"
#include "sigscope/rules/loader.h"

namespace sigscope::fuzz {

namespace {

void abort_on_violation(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

ViolationHandler violation_handler = abort_on_violation;

void check(bool holds, const char* what) {
  if (!holds) violation_handler(what);
}

std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// True when `html` links to a javascript: URL or contains a script element.
bool has_active_content(const std::string& html) {
  std::string lower = ascii_lower(html);
  return lower.find("<script") != std::string::npos || lower.find("href=\"javascript:") != std::string::npos;
}

}  // namespace

void set_violation_handler(ViolationHandler handler) {
  violation_handler = handler ? handler : abort_on_violation;
}

int rule_loader(const std::uint8_t* data, std::size_t size) {
  DiagnosticList diagnostics;
  std::size_t rejected = 0;
  std::vector<Rule> rules = load_rules_from_text(as_text(data, size), "fuzz.yml", diagnostics, &rejected);
  CompileResult compiled = compile_rules(std::move(rules), diagnostics, 1);
  check(rejected + compiled.failed == 0 || diagnostics.error_count() > 0, "a rule was rejected without an error");
  for (const CompiledRule& rule : compiled.rules) {
    RulePage page = analyse_rule(rule, nullptr, diagnostics);
    std::string html = rule_page_html(page, "../");
    check(!has_active_content(html), "a rule page holds a script or a javascript: link");
    // nlohmann::json throws on invalid UTF-8, which the loader must have rejected.
    std::string json = rule_page_json(page).dump();
    check(!json.empty(), "a rule page has no JSON");
    rule_page_markdown(page);
  }
  return 0;
}

int condition(const std::uint8_t* data, std::size_t size) {
  std::string_view text = as_text(data, size);
  auto result = parse_condition(text);
  if (auto* error = std::get_if<ConditionParseError>(&result)) {
    check(!error->message.empty(), "a condition error has no message");
    check(error->offset >= 0 && static_cast<std::size_t>(error->offset) <= text.size(),
          "a condition error offset is outside the text");
  }
  return 0;
}

// A ByteStream over bytes in memory.
class MemoryStream : public ByteStream {
 public:
  explicit MemoryStream(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(char* buffer, std::size_t size) override {
    const std::size_t n = std::min(size, bytes_.size() - pos_);
    std::memcpy(buffer, bytes_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  std::uint64_t raw_bytes() const override { return pos_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

int json(const std::uint8_t* data, std::size_t size) {
  static JsonEventReader reader;
  simdjson::padded_string text(reinterpret_cast<const char*>(data), size);
  DiagnosticList diagnostics;
  std::uint64_t events = 0;
  ReadStats stats = reader.read(std::string_view(text.data(), text.size()), "fuzz.json",
                                [&](const RawEvent& event) {
                                  ++events;
                                  for (const FieldValue& field : event.fields) check(field.name.size() < (1u << 30), "a field name is garbage");
                                },
                                diagnostics);
  check(stats.rejected == 0 || diagnostics.error_count() > 0, "a JSON record was rejected without an error");
  check(stats.events == events, "the event count differs from the events passed on");

  // The same bytes as a stream of JSON values in small blocks, as hunt reads
  // arrays and objects spread over lines: every value is the input's own
  // bytes at its offset, and each is parsed on its own.
  MemoryStream stream(std::string_view(reinterpret_cast<const char*>(data), size));
  JsonValueBlockReader values(stream, "", 64, 4096);
  LineBlock block;
  std::uint64_t last_record = 0;
  while (values.next(block)) {
    for (const JsonValueRef& v : block.values) {
      check(v.begin + v.length <= block.size, "a value lies outside its block");
      check(v.offset + v.length <= size, "a value lies outside the input");
      check(v.record > last_record, "value numbers do not increase");
      last_record = v.record;
      const auto* at = data + v.offset;
      check(std::memcmp(at, block.buffer.data() + v.begin, v.length) == 0,
            "a value's offset does not point at its bytes");
    }
    DiagnosticList value_diagnostics;
    ReadStats value_stats = reader.read_values(block.text(), block.values, "fuzz.json", [](const RawEvent&) {},
                                               value_diagnostics);
    check(value_stats.rejected == 0 || value_diagnostics.error_count() > 0, "a JSON value was rejected without an error");
  }

  // The same bytes as UTF-16 text, as hunt converts inputs with a byte order
  // mark: decoded in two pieces, they give the whole decode, in valid UTF-8.
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  for (bool big_endian : {false, true}) {
    Utf16Decoder whole(big_endian), pieces(big_endian);
    std::string whole_text, pieces_text;
    whole.decode(bytes, true, whole_text);
    pieces.decode(bytes.substr(0, cut), false, pieces_text);
    pieces.decode(bytes.substr(cut), true, pieces_text);
    check(whole_text == pieces_text, "UTF-16 decoded in two pieces differs from the whole decode");
    check(whole.replaced() == pieces.replaced(), "UTF-16 pieces replaced another number of units");
    check(simdjson::validate_utf8(whole_text.data(), whole_text.size()), "decoded UTF-16 is not valid UTF-8");
  }
  return 0;
}

int evtx(const std::uint8_t* data, std::size_t size) {
  if (size > kEvtxChunkSize) return -1;
  auto bytes = std::make_shared<std::string>(kEvtxFileHeaderSize, '\0');
  std::memcpy(bytes->data(), "ElfFile", 8);
  (*bytes)[38] = 3;  // major version
  bytes->append(reinterpret_cast<const char*>(data), size);
  DiagnosticList diagnostics;
  std::optional<EvtxFile> file = EvtxFile::from_memory("fuzz.evtx", bytes, diagnostics);
  check(file.has_value(), "a file with a valid header was not opened");
  EvtxChunkParser parser;
  ChunkStats stats;
  std::uint64_t records = 0;
  for (std::size_t c = 0; c < file->chunk_count(); ++c) {
    stats += parser.parse_chunk(*file, c, [&](const RawEvent& event) {
      ++records;
      check(event.record >= 1 && event.record <= file->framed_record_count(), "a record number is out of range");
      for (const FieldValue& field : event.fields)
        check(simdjson::validate_utf8(field.name.data(), field.name.size()), "a field name is not UTF-8");
    }, diagnostics);
  }
  check(stats.records == records, "the record count differs from the records passed on");
  check(stats.skipped_records + stats.bad_chunks == 0 || diagnostics.error_count() > 0,
        "an EVTX record was skipped without an error");
  return 0;
}

int match(const std::uint8_t* data, std::size_t size) {
  std::string_view input = as_text(data, size);
  std::size_t split = input.find('\0');
  if (split == std::string_view::npos) return -1;
  std::string_view rule_text = input.substr(0, split), event_text = input.substr(split + 1);

  DiagnosticList diagnostics;
  std::vector<Rule> rules = load_rules_from_text(rule_text, "fuzz.yml", diagnostics);
  if (rules.empty()) return 0;
  CompileResult compiled = compile_rules(std::move(rules), diagnostics, 1);
  if (compiled.rules.empty()) return 0;

  EngineOptions options;
  options.logsource_routing = false;  // every event reaches every rule
  options.cache_dir.clear();
  Engine with_prefilter(compiled.rules, options, diagnostics);
  options.prefilter = false;
  Engine direct(std::move(compiled.rules), options, diagnostics);
  if (with_prefilter.rules().empty()) return 0;

  static JsonEventReader reader;
  std::vector<std::uint32_t> fired[2];
  std::size_t correlation_fires[2] = {0, 0};
  int which = 0;
  for (const Engine* engine : {&with_prefilter, &direct}) {
    auto matcher = engine->matcher();
    std::vector<Detection> detections;
    std::vector<CorrelationHit> found;
    CorrelationHits hits;
    CorrelationStats stats;
    std::string error;
    reader.read_object(event_text, 1, [&](const RawEvent& event) {
      matcher->match(event, detections);
      for (const Detection& d : detections) fired[which].push_back(d.rule);
      matcher->correlation_hits(event, detections, 0, found, stats);
      // A time that parses is written back as ISO 8601 and parses to itself
      // (years 1970 to 9999, which the written form covers).
      if (auto time = parse_event_time(event.timestamp); time && *time < 253402300800LL * 1000000)
        check(parse_event_time(format_event_time(*time)) == time, "an event time changed when written and read again");
    }, error);
    for (const CorrelationHit& hit : found) hits.add(hit);
    correlation_fires[which] = evaluate_correlations(engine->correlations(), hits, stats).size();
    ++which;
  }
  std::sort(fired[0].begin(), fired[0].end());
  std::sort(fired[1].begin(), fired[1].end());
  check(fired[0] == fired[1], "the prefilter changed which rules fired");
  check(correlation_fires[0] == correlation_fires[1], "the prefilter changed which correlations fired");
  return 0;
}

}  // namespace sigscope::fuzz
