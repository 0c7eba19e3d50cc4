// Hostile inputs. Rule files and logs crafted to exhaust time, memory or the
// stack (deep nesting, alias expansion, huge lines, compression bombs) are
// rejected with an error in bounded time. Damaged logs (NUL bytes, unpaired
// UTF-16 surrogates, broken lines) lose only the damaged records.
// docs/reliability.md lists each class with the test that covers it.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <variant>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "sigscope/condition/parser.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"
#include "sigscope/rules/loader.h"
#include "sigscope/rules/yaml.h"
#include "test_support.h"

namespace sigscope {
namespace {

using testing::run_cli;
using testing::TempDir;

// Measures the wall time of `body` in seconds.
template <typename Body>
double timed(Body body) {
  auto start = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool any_message_contains(const DiagnosticList& diagnostics, const std::string& text) {
  for (const auto& d : diagnostics.items())
    if (d.message.find(text) != std::string::npos) return true;
  return false;
}

std::string repeat(const std::string& text, std::size_t times) {
  std::string out;
  out.reserve(text.size() * times);
  for (std::size_t i = 0; i < times; ++i) out += text;
  return out;
}

const char* kRuleHead = "title: Hostile\nid: 6d1e8f4a-3c2b-4a5d-9e7f-0a1b2c3d4e5f\nlogsource:\n  product: windows\n";

// ---------------------------------------------------------------------------
// Rules

TEST(HostileYaml, BillionLaughsIsRejected) {
  std::string text = kRuleHead;
  text += "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 10; ++i) {
    text += fmt::format("a{0}: &a{0} [", i);
    for (int k = 0; k < 9; ++k) text += fmt::format("{}*a{}", k ? ", " : "", i - 1);
    text += "]\n";
  }
  text += "detection:\n  sel:\n    Image: *a9\n  condition: sel\n";
  DiagnosticList diagnostics;
  std::size_t rejected = 0;
  double seconds = timed([&] { load_rules_from_text(text, "laughs.yml", diagnostics, &rejected); });
  EXPECT_EQ(rejected, 1u);
  EXPECT_TRUE(any_message_contains(diagnostics, "expands to more than")) << diagnostics.items().front().format();
  EXPECT_LT(seconds, 2.0);
}

TEST(HostileYaml, DeepFlowNestingIsRejected) {
  const std::size_t depth = 100000;
  std::string text = std::string(kRuleHead) + "detection:\n  sel:\n    Image: " + std::string(depth, '[') +
                     std::string(depth, ']') + "\n  condition: sel\n";
  DiagnosticList diagnostics;
  std::size_t rejected = 0;
  double seconds = timed([&] { load_rules_from_text(text, "deep.yml", diagnostics, &rejected); });
  EXPECT_EQ(rejected, 1u);
  EXPECT_GT(diagnostics.error_count(), 0u);
  EXPECT_TRUE(any_message_contains(diagnostics, "depth")) << diagnostics.items().front().format();
  EXPECT_LT(seconds, 2.0);
}

TEST(HostileYaml, DeepBlockNestingIsRejected) {
  // "- - - ... x" nests block sequences on one line.
  std::string text = std::string(kRuleHead) + "detection:\n  sel:\n    Image:\n      " + repeat("- ", 100000) +
                     "x\n  condition: sel\n";
  DiagnosticList diagnostics;
  std::size_t rejected = 0;
  double seconds = timed([&] { load_rules_from_text(text, "deep.yml", diagnostics, &rejected); });
  EXPECT_EQ(rejected, 1u);
  EXPECT_GT(diagnostics.error_count(), 0u);
  EXPECT_LT(seconds, 2.0);
}

TEST(HostileYaml, DeepAliasChainIsRejected) {
  // Each alias adds a level the text does not show: a1 contains a0, a2 contains a1, up to a199.
  std::string text;
  text += "a0: &a0 [x]\n";
  for (int i = 1; i < 200; ++i) text += fmt::format("a{0}: &a{0} [*a{1}]\n", i, i - 1);
  DiagnosticList diagnostics;
  auto docs = parse_yaml_stream(text, "chain.yml", diagnostics);
  EXPECT_TRUE(docs.empty());
  EXPECT_TRUE(any_message_contains(diagnostics, "nests deeper than")) << diagnostics.items().front().format();
}

TEST(HostileYaml, DocumentsBeforeTheBombAreKept) {
  std::string good = std::string(kRuleHead) + "detection:\n  sel:\n    Image: x\n  condition: sel\n";
  std::string bomb = "a0: &a0 [" + repeat("lol, ", 50) + "lol]\na1: &a1 [" + repeat("*a0, ", 50) + "*a0]\na2: &a2 [" +
                     repeat("*a1, ", 50) + "*a1]\na3: [" + repeat("*a2, ", 50) + "*a2]\n";
  DiagnosticList diagnostics;
  auto docs = parse_yaml_stream(good + "---\n" + bomb, "two.yml", diagnostics);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].root.find("title")->text, "Hostile");
  EXPECT_EQ(diagnostics.error_count(), 1u);
}

TEST(HostileCondition, DeepNotIsRejected) {
  std::string text = repeat("not ", 100000) + "sel";
  ConditionParseError error;
  double seconds = timed([&] {
    auto result = parse_condition(text);
    ASSERT_TRUE(std::holds_alternative<ConditionParseError>(result));
    error = std::get<ConditionParseError>(result);
  });
  EXPECT_NE(error.message.find("deeper than 64 levels"), std::string::npos) << error.message;
  EXPECT_EQ(error.offset, 4 * 64);  // the 65th "not"
  EXPECT_LT(seconds, 2.0);
}

TEST(HostileCondition, DeepParenthesesAreRejected) {
  std::string text = std::string(100000, '(') + "sel" + std::string(100000, ')');
  auto result = parse_condition(text);
  ASSERT_TRUE(std::holds_alternative<ConditionParseError>(result));
  EXPECT_NE(std::get<ConditionParseError>(result).message.find("deeper than 64 levels"), std::string::npos);
}

TEST(HostileCondition, NestingAtTheLimitIsAccepted) {
  std::string text = std::string(32, '(') + repeat("not ", 32) + "sel" + std::string(32, ')');
  EXPECT_TRUE(std::holds_alternative<ParsedCondition>(parse_condition(text)));
}

TEST(HostileCondition, HugeConditionIsQuotedShortInMessages) {
  TempDir dir;
  auto rule = dir.write("r.yml", std::string(kRuleHead) + "detection:\n  sel:\n    Image: x\n  condition: " +
                                     repeat("not ", 100000) + "sel\n");
  // check reports the load error on stdout with its other findings.
  auto r = run_cli({"check", rule.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("deeper than 64 levels"), std::string::npos);
  EXPECT_NE(r.out.find("... (400003 bytes)"), std::string::npos) << r.out.substr(0, 2000);
  EXPECT_LT(r.out.size(), 4000u);
  EXPECT_LT(r.err.size(), 4000u);
}

TEST(HostileTerminal, EscapeSequencesInRulesAreNotPrinted) {
  // A rule whose title sets the terminal title and whose condition clears the screen.
  TempDir dir;
  auto rules = dir.write("r.yml", "title: \"pwned \\e]0;owned\\a\"\nid: 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a\n"
                                  "level: low\nlogsource:\n  product: windows\ndetection:\n  sel:\n"
                                  "    CommandLine: whoami\n  condition: \"sel and \\e[2J\"\n");
  auto r = run_cli({"check", rules.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\\x1b[2J"), std::string::npos) << r.out;
}

// ---------------------------------------------------------------------------
// JSON

struct JsonRead {
  ReadStats stats;
  DiagnosticList diagnostics;
  std::vector<std::uint64_t> records;
  double seconds = 0;
};

void read_json(const std::string& text, JsonRead& out) {
  JsonEventReader reader;
  simdjson::padded_string padded(text);
  out.seconds = timed([&] {
    out.stats = reader.read(std::string_view(padded.data(), padded.size()), "hostile.jsonl",
                            [&](const RawEvent& e) { out.records.push_back(e.record); }, out.diagnostics);
  });
}

TEST(HostileJson, DeepNestingIsRejectedAndOtherLinesRead) {
  std::string text = "{\"a\": 1}\n{\"deep\": " + std::string(100000, '[') + std::string(100000, ']') + "}\n{\"b\": 2}\n";
  JsonRead r;
  read_json(text, r);
  EXPECT_EQ(r.records, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(r.stats.rejected_by_reason["invalid JSON"], 1u);
  ASSERT_EQ(r.diagnostics.error_count(), 1u);
  EXPECT_EQ(r.diagnostics.items()[0].line, 2);
  EXPECT_NE(r.diagnostics.items()[0].message.find("byte offset 9"), std::string::npos) << r.diagnostics.items()[0].message;
  EXPECT_LT(r.seconds, 2.0);
}

TEST(HostileJson, HundredMegabyteLineIsRejected) {
  std::string text = "{\"a\": 1}\n{\"big\": \"";
  text.append(100u << 20, 'x');
  text += "\"}\n{\"b\": 2}\n";
  JsonRead r;
  read_json(text, r);
  EXPECT_EQ(r.records, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(r.stats.rejected_by_reason["line too long"], 1u);
  ASSERT_EQ(r.diagnostics.error_count(), 1u);
  EXPECT_EQ(r.diagnostics.items()[0].line, 2);
  EXPECT_NE(r.diagnostics.items()[0].message.find("more than the maximum of 16 MiB"), std::string::npos);
  EXPECT_LT(r.seconds, 5.0);
}

TEST(HostileJson, LongFirstLineIsStillJsonLines) {
  std::string text = "{\"big\": \"" + std::string(kMaxJsonLineBytes, 'x') + "\"}\n{\"b\": 2}\n";
  JsonRead r;
  read_json(text, r);
  EXPECT_EQ(r.records, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(r.stats.rejected_by_reason["line too long"], 1u);
}

TEST(HostileJson, NulBytesSplitRecords) {
  std::string text = "{\"a\": 1}\n{\"b\": 2}" + std::string(300, '\0') + "{\"c\": 3}\n" + std::string(50, '\0') + "\n{\"d\": 4}\n";
  JsonRead r;
  read_json(text, r);
  EXPECT_EQ(r.records, (std::vector<std::uint64_t>{1, 2, 2, 4}));
  EXPECT_EQ(r.stats.rejected, 0u);
  EXPECT_EQ(r.stats.repaired_by_reason["runs of NUL bytes"], 2u);
  ASSERT_EQ(r.diagnostics.warning_count(), 2u);
  EXPECT_NE(r.diagnostics.items()[0].message.find("300 NUL bytes at byte offset 17"), std::string::npos)
      << r.diagnostics.items()[0].message;
}

TEST(HostileJson, NulByteInsideStringIsReported) {
  std::string text = std::string("{\"a\": \"x") + '\0' + "y\"}\n{\"b\": 2}\n";
  JsonRead r;
  read_json(text, r);
  EXPECT_EQ(r.records, (std::vector<std::uint64_t>{2}));
  // Both halves of the broken record are reported, with the line.
  EXPECT_EQ(r.stats.rejected_by_reason["invalid JSON"], 2u);
  for (const auto& d : r.diagnostics.items()) {
    if (d.severity == Severity::Error) {
      EXPECT_EQ(d.line, 1);
    }
  }
}

TEST(HostileJson, BrokenLinesAreCountedAndReported) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += i % 2 ? "{\"ok\": 1}\n" : "{\"broken\": \n";
  JsonRead r;
  read_json(text, r);
  EXPECT_EQ(r.records.size(), 50u);
  EXPECT_EQ(r.stats.rejected, 50u);
  // Messages stop after 20 per input; the count stays exact.
  EXPECT_EQ(r.diagnostics.error_count(), 20u);
}

// ---------------------------------------------------------------------------
// Compressed and UTF-16 inputs

std::string gzip_member(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Compresses `blocks` copies of `block` into one zstd frame without holding the whole input.
std::string zstd_stream(const std::string& block, std::size_t blocks) {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  std::string out, buffer(ZSTD_CStreamOutSize(), '\0');
  for (std::size_t i = 0; i < blocks; ++i) {
    ZSTD_inBuffer in{block.data(), block.size(), 0};
    ZSTD_EndDirective mode = i + 1 == blocks ? ZSTD_e_end : ZSTD_e_continue;
    bool done = false;
    while (!done) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      std::size_t left = ZSTD_compressStream2(ctx, &o, &in, mode);
      out.append(buffer.data(), o.pos);
      done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
    }
  }
  ZSTD_freeCCtx(ctx);
  return out;
}

struct Loaded {
  std::optional<LoadedInput> input;
  DiagnosticList diagnostics;
  std::string skip_reason;
  double seconds = 0;
};

void load(const std::filesystem::path& path, Loaded& out) {
  InputFile file{path.string(), std::filesystem::file_size(path), false};
  out.seconds = timed([&] { out.input = load_input(file, out.diagnostics, out.skip_reason); });
}

TEST(HostileCompression, GzipBombStopsAtTheLimit) {
  // 256 gzip members of 1 MiB of spaces each: about 256 KB that expand to
  // 256 MiB. A single gzip layer cannot expand more than about 1032 times.
  std::string member = gzip_member(std::string(1u << 20, ' '));
  TempDir dir;
  auto path = dir.write("bomb.json.gz", repeat(member, 256));
  Loaded r;
  load(path, r);
  EXPECT_FALSE(r.input.has_value());
  EXPECT_EQ(r.skip_reason, "unreadable");
  EXPECT_TRUE(any_message_contains(r.diagnostics, "looks like a compression bomb")) << r.diagnostics.items().front().format();
  EXPECT_LT(r.seconds, 10.0);
}

TEST(HostileCompression, ZstdBombStopsAtTheLimit) {
  // One frame of 1 GiB of zeros compresses to about 32 KB.
  std::string bomb = zstd_stream(std::string(1u << 20, '\0'), 1024);
  ASSERT_LT(bomb.size(), 100u << 10);
  TempDir dir;
  auto path = dir.write("bomb.jsonl.zst", bomb);
  Loaded r;
  load(path, r);
  EXPECT_FALSE(r.input.has_value());
  EXPECT_TRUE(any_message_contains(r.diagnostics, "zstd data expands to more than"));
  EXPECT_LT(r.seconds, 10.0);
}

TEST(HostileCompression, ZstdFrameLargerThanOneBufferIsRead) {
  // The expansion check must not cut a genuine frame that is many times
  // larger than the decoder's output buffer.
  std::string line = "{\"CommandLine\": \"whoami\"}\n";
  std::string data = zstd_stream(repeat(line, 40000), 1);
  TempDir dir;
  auto path = dir.write("many.jsonl.zst", data);
  Loaded r;
  load(path, r);
  ASSERT_TRUE(r.input.has_value()) << r.diagnostics.items().front().format();
  EXPECT_EQ(r.input->json.size(), line.size() * 40000);
}

TEST(HostileCompression, HuntReportsBombAndReadsTheRest) {
  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    CommandLine: whoami\n  condition: sel\n");
  dir.write("logs/bomb.jsonl.zst", zstd_stream(std::string(1u << 20, ' '), 1024));
  dir.write("logs/good.jsonl", "{\"CommandLine\": \"whoami\"}\n");
  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", (dir.path() / "logs").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("\"rule_id\""), std::string::npos);
  EXPECT_NE(r.err.find("compression bomb"), std::string::npos) << r.err;
}

// Compresses `text` as `zstd --long=28` does on a pipe: long-distance
// matching and a window of 2^28 bytes, fed in pieces with no pledged size, so
// the frame header keeps the whole window instead of one fitted to the input.
std::string zstd_long_window(const std::string& text) {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  EXPECT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(ctx, ZSTD_c_enableLongDistanceMatching, 1)));
  EXPECT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(ctx, ZSTD_c_windowLog, 28)));
  std::string out, buffer(ZSTD_CStreamOutSize(), '\0');
  constexpr std::size_t kPiece = 4096;
  for (std::size_t at = 0; at <= text.size(); at += kPiece) {
    const bool last = at + kPiece > text.size();
    const std::string_view piece = std::string_view(text).substr(at, kPiece);
    ZSTD_inBuffer in{piece.data(), piece.size(), 0};
    const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
    bool done = false;
    while (!done) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      const std::size_t left = ZSTD_compressStream2(ctx, &o, &in, mode);
      EXPECT_FALSE(ZSTD_isError(left)) << ZSTD_getErrorName(left);
      out.append(buffer.data(), o.pos);
      done = ZSTD_isError(left) || (last ? left == 0 : in.pos == in.size);
    }
  }
  ZSTD_freeCCtx(ctx);
  return out;
}

// Returns the error code of decompressing `frame` with libzstd's default
// window limit of 2^27 bytes, or 0 when that succeeds.
ZSTD_ErrorCode default_decoder_error(const std::string& frame) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  std::string buffer(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  ZSTD_ErrorCode code = ZSTD_error_no_error;
  while (in.pos < in.size && code == ZSTD_error_no_error) {
    ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
    code = ZSTD_getErrorCode(ZSTD_decompressStream(ctx, &o, &in));
  }
  ZSTD_freeDCtx(ctx);
  return code;
}

std::string whoami_lines(std::size_t count) {
  std::string text;
  for (std::size_t i = 0; i < count; ++i) text += fmt::format("{{\"CommandLine\": \"whoami\", \"n\": {}}}\n", i);
  return text;
}

TEST(ZstdLongWindow, TestFrameNeedsMoreThanDefaultWindow) {
  // The frames below are only a test of the window limit if libzstd's
  // default decoder rejects them.
  EXPECT_EQ(default_decoder_error(zstd_long_window(whoami_lines(3000))), ZSTD_error_frameParameter_windowTooLarge);
}

TEST(ZstdLongWindow, LoadInputDecompressesFrame) {
  // zstd data read whole (EVTX, standard input, JSON that is not streamed)
  // goes through load_input.
  const std::string text = whoami_lines(3000);
  TempDir dir;
  auto path = dir.write("long.json.zst", zstd_long_window(text));
  Loaded r;
  load(path, r);
  ASSERT_TRUE(r.input.has_value()) << r.diagnostics.items().front().format();
  EXPECT_EQ(r.input->compression, "zstd");
  EXPECT_EQ(std::string_view(r.input->json.data(), r.input->json.size()), text);
}

TEST(ZstdLongWindow, HuntStreamsFrame) {
  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    CommandLine: whoami\n  condition: sel\n");
  auto log = dir.write("long.jsonl.zst", zstd_long_window(whoami_lines(3000)));
  auto r = run_cli({"hunt", "-r", rules.string(), log.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("zstd"), std::string::npos) << r.err;
  std::size_t detections = 0;
  for (std::size_t at = r.out.find("\"rule_id\""); at != std::string::npos; at = r.out.find("\"rule_id\"", at + 1))
    ++detections;
  EXPECT_EQ(detections, 3000u);
}

TEST(ZstdLongWindow, WindowOverMaximumIsExplained) {
  // A frame header whose window descriptor sets 2^32 bytes (exponent
  // 22, so 2^(10 + 22)), then one raw last block of 2 bytes.
  const std::string frame("\x28\xB5\x2F\xFD\x00\xB0\x11\x00\x00{}", 11);
  TempDir dir;
  auto path = dir.write("huge-window.json.zst", frame);
  Loaded r;
  load(path, r);
  EXPECT_FALSE(r.input.has_value());
  EXPECT_TRUE(any_message_contains(r.diagnostics, "zstd frame needs a window larger than 2^31 bytes (2048 MiB)"))
      << r.diagnostics.items().front().format();
}

TEST(HostileJson, UnbalancedQuoteSaysRecordsMayBeJoined) {
  // Array values are cut by following strings and brackets. A quote missing
  // in one element joins the next elements to it, and the error reports it,
  // since the summary can count them only as one record.
  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    CommandLine|startswith: who\n  condition: sel\n");
  auto log = dir.write("array.json", "[\n  {\n    \"CommandLine\": \"whoami /all\"\n  },\n"
                                     "  {\n    \"CommandLine\": \"whoami /priv\n  },\n"
                                     "  {\n    \"CommandLine\": \"whoami /groups\"\n  },\n"
                                     "  {\n    \"CommandLine\": \"whoami /user\"\n  }\n]\n");
  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", log.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("whoami /all"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("invalid JSON in value 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("may have joined several records into it"), std::string::npos) << r.err;
}

TEST(HostileJson, MessagesAreCappedPerInput) {
  // The reader caps its messages per 1 MiB block, so a large input printed
  // 20 errors per block. The closing output now prints 20 per input.
  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    CommandLine|startswith: who\n  condition: sel\n");
  std::string lines;
  for (int i = 0; lines.size() < (5u << 20); ++i)
    lines += i % 50 == 7 ? "{\"CommandLine\": broken}\n" : "{\"CommandLine\": \"whoami " + std::string(100, 'x') + "\"}\n";
  auto log = dir.write("big.jsonl", lines);
  auto r = run_cli({"hunt", "-r", rules.string(), "-o", (dir.path() / "out.jsonl").string(), log.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  std::size_t errors = 0;
  for (std::size_t at = r.err.find(": error: invalid JSON"); at != std::string::npos;
       at = r.err.find(": error: invalid JSON", at + 1))
    ++errors;
  EXPECT_EQ(errors, 20u) << r.err;
  EXPECT_NE(r.err.find("more messages about this input not shown"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("more unreadable records follow"), std::string::npos) << r.err;
}

TEST(HostileUtf16, UnpairedSurrogatesAreReportedAndCounted) {
  // UTF-16LE with a byte order mark; the first value contains a lone high
  // surrogate, 20 characters after the 2-byte mark.
  std::u16string text = u"{\"CommandLine\": \"who\xD800mi\"}\n{\"CommandLine\": \"whoami\"}\n";
  std::string bytes = "\xFF\xFE";
  for (char16_t c : text) {
    bytes.push_back(static_cast<char>(c & 0xFF));
    bytes.push_back(static_cast<char>(c >> 8));
  }
  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    CommandLine|startswith: who\n  condition: sel\n");
  auto log = dir.write("utf16.json", bytes);
  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", log.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("holds 1 invalid code unit (an unpaired surrogate or an odd last byte), read as U+FFFD, at byte "
                       "offset 42"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("unpaired UTF-16 surrogates: 1"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("who\xEF\xBF\xBDmi"), std::string::npos) << r.out;  // both events are read
  EXPECT_NE(r.out.find("\"whoami\""), std::string::npos) << r.out;
}

TEST(HostileUtf16, BadArrayElementLosesOnlyItself) {
  // UTF-16 inputs were converted and parsed whole, so one bad element of a
  // JSON array lost every event of the input. They now stream like UTF-8:
  // the bad element is reported and the others are read. The second file is
  // over 2 MiB, so it is cut into several blocks by the reader thread.
  auto utf16 = [](const std::string& ascii) {
    std::string bytes = "\xFF\xFE";
    for (char c : ascii) {
      bytes.push_back(c);
      bytes.push_back('\0');
    }
    return bytes;
  };
  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    CommandLine|startswith: who\n  condition: sel\n");
  auto array = dir.write("array.json", utf16("[{\"CommandLine\": \"whoami /all\"},\n{\"CommandLine\": bad},\n"
                                             "{\"CommandLine\": \"whoami /priv\"}]\n"));
  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", array.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("invalid JSON in value 2"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("whoami /all"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("whoami /priv"), std::string::npos) << r.out;

  std::string lines;
  for (int i = 0; lines.size() < (3u << 20) / 2; ++i) lines += "{\"CommandLine\": \"whoami " + std::to_string(i) + "\"}\n";
  auto big = dir.write("big.jsonl", utf16(lines));
  r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", big.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(static_cast<std::size_t>(std::count(r.out.begin(), r.out.end(), '\n')),
            static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n')));
}

// UTF-16 JSON without a byte order mark was parsed as UTF-8 and lost whole
// as one invalid object. JSON starts with two ASCII characters, so their NUL
// bytes give the byte order, and such input is now read like UTF-16 with a
// mark: small and large files, big-endian, compressed and on stdin.
TEST(HostileUtf16, WithoutByteOrderMarkIsRead) {
  const std::string little =
      testing::read_file(std::filesystem::path(SIGSCOPE_SOURCE_DIR) / "tests" / "data" / "utf16le-no-bom.jsonl");
  ASSERT_EQ(little.size(), 3922u);
  std::string big = little;
  for (std::size_t i = 0; i + 1 < big.size(); i += 2) std::swap(big[i], big[i + 1]);
  std::string large;
  for (int i = 0; i < 600; ++i) large += little;  // over 2 MiB, so the reader thread streams it

  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    CommandLine|startswith: who\n  condition: sel\n");
  struct Case {
    const char* name;
    std::string content;
    std::size_t events;
  };
  const Case cases[] = {{"le.jsonl", little, 10},
                        {"be.jsonl", big, 10},
                        {"le.jsonl.gz", gzip_member(little), 10},
                        {"be.jsonl.zst", zstd_stream(big, 1), 10},
                        {"large.jsonl", large, 6000}};
  for (const Case& c : cases) {
    auto log = dir.write(c.name, c.content);
    auto r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", log.string()});
    EXPECT_EQ(r.exit_code, 0) << c.name << "\n" << r.err;
    EXPECT_EQ(static_cast<std::size_t>(std::count(r.out.begin(), r.out.end(), '\n')), c.events) << c.name;
    EXPECT_NE(r.out.find("whoami /all \xC3\xA9t\xC3\xA9 10"), std::string::npos) << c.name;
    EXPECT_EQ(r.err.find(": error:"), std::string::npos) << c.name << "\n" << r.err;
  }

  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", "-"}, little);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 10) << r.err;
}

// UTF-16 text without a byte order mark that does not start like JSON is
// not read, and the message names the encoding and the conversion.
TEST(HostileUtf16, WithoutByteOrderMarkNotJsonIsExplained) {
  std::string bytes;
  for (char c : std::string("TimeCreated,EventID\r\n2024-05-01 10:00:00,4624\r\n")) {
    bytes.push_back(c);
    bytes.push_back('\0');
  }
  TempDir dir;
  auto rules = dir.write("rules/r.yml", std::string(kRuleHead) + "level: low\ndetection:\n  sel:\n    EventID: 4624\n  condition: sel\n");
  auto log = dir.write("export.jsonl", bytes);
  auto r = run_cli({"hunt", "-r", rules.string(), log.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("content looks like UTF-16LE text without a byte order mark"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("iconv -f UTF-16LE -t UTF-8"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------------------
// Exit status and output

const char* kWhoamiRule = R"(title: Whoami
id: 11111111-2222-4333-8444-555555555555
level: low
logsource:
  product: windows
detection:
  sel:
    CommandLine|contains: whoami
  condition: sel
)";

TEST(HostileFolders, SymbolicLinkLoopsAreWalkedOnce) {
  // Two links back to their own folder would give 2^40 paths before the
  // kernel's symbolic link limit stops the walk.
  TempDir dir;
  auto rule = dir.write("rules/r.yml", kWhoamiRule);
  dir.write("logs/e.jsonl", "{\"CommandLine\": \"whoami\"}\n");
  for (const char* folder : {"rules", "logs"}) {
    std::filesystem::create_directory_symlink(".", dir.path() / folder / "a");
    std::filesystem::create_directory_symlink(".", dir.path() / folder / "b");
  }
  testing::CommandResult r;
  double seconds = timed([&] {
    r = run_cli({"hunt", "-r", (dir.path() / "rules").string(), "-f", "jsonl", (dir.path() / "logs").string()});
  });
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("loaded 1 rule from 1 file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("read 1 event from 1 input;"), std::string::npos) << r.err;
  EXPECT_LT(seconds, 10.0);
}

TEST(HuntExitStatus, FailOnDetections) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto hit = dir.write("hit.jsonl", "{\"CommandLine\": \"whoami\"}\n");
  auto miss = dir.write("miss.jsonl", "{\"CommandLine\": \"dir\"}\n");
  EXPECT_EQ(run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", hit.string()}).exit_code, 0);
  EXPECT_EQ(run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", "--fail-on-detections", hit.string()}).exit_code, 1);
  EXPECT_EQ(run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", "--fail-on-detections", miss.string()}).exit_code, 0);
}

TEST(HuntExitStatus, UnreadableRecordsWinOverDetections) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto log = dir.write("mixed.jsonl", "{\"CommandLine\": \"whoami\"}\n{broken\n");
  auto r = run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", "--fail-on-detections", log.string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("1 record could not be read"), std::string::npos) << r.err;
}

TEST(HuntExitStatus, UsageErrorsGiveTwo) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto log = dir.write("a.jsonl", "{}\n");
  EXPECT_EQ(run_cli({"hunt", "-r", rules.string(), "--no-such-option", log.string()}).exit_code, 2);
  EXPECT_EQ(run_cli({"hunt", "-r", rules.string(), "--min-level", "severe", log.string()}).exit_code, 2);
  EXPECT_EQ(run_cli({"hunt", "-r", rules.string(), (dir.path() / "absent.jsonl").string()}).exit_code, 2);
}

TEST(HuntExitStatus, ClosedStandardOutputEndsCleanly) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  // Enough detections to fill a pipe buffer many times over, in several inputs.
  std::string lines = repeat("{\"CommandLine\": \"whoami /all\"}\n", 20000);
  for (int i = 0; i < 4; ++i) dir.write("logs/" + std::to_string(i) + ".jsonl", lines);
  auto err = dir.path() / "err.txt";
  std::string command = "set -o pipefail; '" SIGSCOPE_CLI "' hunt -r '" + rules.string() + "' -f jsonl -j 1 '" +
                        (dir.path() / "logs").string() + "' 2>'" + err.string() + "' | head -n 1 >/dev/null";
  int status = std::system(("bash -c \"" + command + "\"").c_str());
  std::string messages = testing::read_file(err);
  EXPECT_EQ(WEXITSTATUS(status), 0) << messages;
  EXPECT_EQ(messages.find("error:"), std::string::npos) << messages;
  EXPECT_NE(messages.find("standard output was closed by its reader"), std::string::npos) << messages;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// JSON that is not JSON lines (an array of events, objects spread over
// lines) is read value by value as a stream: memory stays flat, and a bad
// value loses only itself.
TEST(HostileJsonValues, BadElementLosesOnlyItself) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  const std::string array =
      "[\n  {\"CommandLine\": \"whoami\"},\n  {\"CommandLine\": whoami},\n  {\"CommandLine\": \"whoami\"}\n]\n";
  auto file = dir.write("events.json", array);
  for (bool piped : {false, true}) {
    auto r = piped ? run_cli({"hunt", "-r", rules.string(), "-"}, array) : run_cli({"hunt", "-r", rules.string(), file.string()});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
    EXPECT_NE(r.err.find(":3: error: invalid JSON in value 2 at byte offset 33"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("read 2 events"), std::string::npos) << r.err;
  }
}

// NUL bytes between the elements of an array started a value that failed to
// parse, and every later element got the next number. They are now skipped
// with a warning, as between JSON lines, in arrays and in objects spread over
// lines, from a file and from a pipe.
TEST(HostileJsonValues, NulBytesBetweenValuesAreSkipped) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  const std::string array = std::string("[{\"CommandLine\": \"whoami\"},\n\0\0\0{\"CommandLine\": \"x\"},\n", 53) +
                            "{\"CommandLine\": \"whoami /all\"}]\n";
  const std::string objects = std::string("{\n \"CommandLine\": \"x\"\n}\n\0\0{\n \"CommandLine\": \"whoami\"\n}\n", 55);
  // Each input with the record number of its last detection.
  const std::vector<std::pair<std::string, std::string>> cases = {{array, "\"record\":3"}, {objects, "\"record\":2"}};
  for (const auto& [text, last_record] : cases) {
    auto file = dir.write("nul.json", text);
    for (bool piped : {false, true}) {
      SCOPED_TRACE(piped);
      auto r = piped ? run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", "-"}, text)
                     : run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", file.string()});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_NE(r.err.find("NUL bytes at byte offset"), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("invalid JSON"), std::string::npos) << r.err;
      EXPECT_NE(r.out.find(last_record), std::string::npos) << r.out;
      EXPECT_EQ(r.out.find("\"record\":4"), std::string::npos) << r.out;
    }
  }
}

TEST(HostileJsonValues, OversizedElementIsSkippedAndTheRestRead) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  std::string array = "[{\"CommandLine\": \"whoami\"}, {\"big\": \"";
  array.append(kMaxJsonLineBytes + 10, 'x');
  array += "\"}, {\"CommandLine\": \"whoami\"}]";
  auto file = dir.write("big.json", array);
  auto r = run_cli({"hunt", "-r", rules.string(), file.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  EXPECT_NE(r.err.find("value 2 at byte offset 28 is 16777237 bytes long, more than the maximum of 16 MiB"),
            std::string::npos)
      << r.err;
}

TEST(HostileJsonValues, LargeArrayKeepsMemoryFlat) {
  // 64 MB in one JSON array: parsed whole it would take about 900 MiB.
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  const std::string element = "{\"CommandLine\": \"dir " + std::string(200, 'x') + "\", \"Image\": \"C:\\\\x.exe\"}";
  std::string array = "[";
  while (array.size() < (64u << 20)) array += element + ",\n";
  array += "{\"CommandLine\": \"whoami\"}]";
  auto file = dir.write("large.json", array);
  auto r = run_cli({"hunt", "-r", rules.string(), "-j", "2", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out.substr(0, 200);
  auto at = r.err.find("peak memory ");
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_LT(std::stoi(r.err.substr(at + 12)), 100) << r.err;
}

TEST(HostileJsonValues, TextStartingWithABracketIsReportedOnce) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto file = dir.write("app.json", "[2024-05-01 12:00:00] started\n[2024-05-01 12:00:01] whoami\n");
  auto r = run_cli({"hunt", "-r", rules.string(), file.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n') < 12, true) << r.err;
  EXPECT_NE(r.err.find("invalid JSON array"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// The same events as JSON lines, as one pretty-printed array, as objects one
// after another over several lines, and as CloudTrail's Records give the
// same detections with the same record numbers.
TEST(HostileJsonValues, AllLayoutsGiveTheSameDetections) {
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  std::vector<std::string> events;
  for (int i = 0; i < 60; ++i) {
    std::string command = i % 3 == 0 ? "whoami /all" : "dir \\\"C:\\\\x [" + std::to_string(i) + "]\\\" {";
    events.push_back("{\"CommandLine\": \"" + command + "\", \"n\": " + std::to_string(i) +
                     ", \"nested\": {\"list\": [1, \"]\", {\"k\": \"}\"}]}, \"text\": \"\\u00e9t\\u00e9\"}");
  }

  std::string lines, array = "[\n", spread, records = "{\"Records\": [";
  for (std::size_t i = 0; i < events.size(); ++i) {
    lines += events[i] + "\n";
    array += "  " + events[i] + (i + 1 < events.size() ? ",\n" : "\n");
    std::string pretty = events[i];
    for (std::size_t at = pretty.find(", \""); at != std::string::npos; at = pretty.find(", \"", at + 3))
      pretty.replace(at, 2, ",\n  ");
    spread += pretty + "\n";
    records += events[i] + (i + 1 < events.size() ? ", " : "");
  }
  array += "]\n";
  records += "]}";

  auto detections = [&](const std::string& name, const std::string& content) {
    auto r = run_cli({"hunt", "-r", rules.string(), dir.write(name, content).string()});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      auto doc = nlohmann::json::parse(line);
      doc.erase("input");
      out.push_back(doc.dump());
    }
    return out;
  };

  auto expected = detections("lines.jsonl", lines);
  EXPECT_EQ(expected.size(), 20u);
  EXPECT_EQ(detections("array.json", array), expected);
  EXPECT_EQ(detections("spread.json", spread), expected);
  EXPECT_EQ(detections("records.json", records), expected);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

namespace fs = std::filesystem;

// Returns one EVTX file header, then whole chunks of the corpus's sample
// files, until the file is at least `bytes` long. Returns an empty string
// when the shared corpus is absent.
std::string big_evtx(std::size_t bytes) {
  const fs::path corpus = testing::shared_dir() / "corpus" / "evtx";
  if (!fs::exists(corpus)) return {};
  std::vector<fs::path> sources;
  for (const auto& entry : fs::recursive_directory_iterator(corpus))
    if (entry.is_regular_file() && entry.path().extension() == ".evtx") sources.push_back(entry.path());
  std::sort(sources.begin(), sources.end());
  std::string big;
  while (big.size() < bytes) {
    for (const auto& path : sources) {
      std::ifstream in(path, std::ios::binary);
      const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (data.size() < kEvtxFileHeaderSize + kEvtxChunkSize) continue;
      if (big.empty()) big = data.substr(0, kEvtxFileHeaderSize);
      for (std::size_t at = kEvtxFileHeaderSize; at + kEvtxChunkSize <= data.size(); at += kEvtxChunkSize)
        if (data.compare(at, 8, std::string("ElfChnk\0", 8)) == 0) big.append(data, at, kEvtxChunkSize);
      if (big.size() >= bytes) break;
    }
  }
  return big;
}

// A large EVTX file was mapped, and every page read stayed resident until
// the file was closed: a 393 MB file peaked at 486 MiB. Large files are now
// read chunk by chunk.
TEST(HostileEvtx, LargeFileKeepsMemoryFlat) {
  std::string big = big_evtx(96u << 20);
  if (big.empty()) GTEST_SKIP() << "the shared corpus is needed for EVTX chunks";
  const std::size_t chunks = (big.size() - kEvtxFileHeaderSize) / kEvtxChunkSize;

  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto file = dir.write("big.evtx", big);
  big.clear();
  big.shrink_to_fit();

  auto r = run_cli({"hunt", "-r", rules.string(), "-j", "2", "-o", (dir.path() / "out.jsonl").string(), file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("read "), std::string::npos) << r.err;
  auto at = r.err.find("peak memory ");
  ASSERT_NE(at, std::string::npos) << r.err;
  // The rule set is one rule; held whole, the file alone would be 96 MiB.
  EXPECT_LT(std::stoi(r.err.substr(at + 12)), 60) << chunks << " chunks\n" << r.err;
}

// A mapped file cut while it was read stopped the hunt with SIGBUS. Chunks
// past the new end are now reported as lost, and the others are read.
TEST(HostileEvtx, LargeFileCutWhileReadIsReported) {
  std::string big = big_evtx(20u << 20);
  if (big.empty()) GTEST_SKIP() << "the shared corpus is needed for EVTX chunks";
  ASSERT_GE(big.size(), EvtxFile::kReadWholeMaxBytes);
  TempDir dir;
  auto path = dir.write("big.evtx", big);
  DiagnosticList diagnostics;
  auto file = EvtxFile::open(path.string(), diagnostics);
  ASSERT_TRUE(file) << (diagnostics.items().empty() ? "" : diagnostics.items().front().format());
  const std::size_t kept_chunks = file->chunk_count() / 2;
  fs::resize_file(path, kEvtxFileHeaderSize + kept_chunks * kEvtxChunkSize + 1000);

  EvtxChunkParser parser;
  ChunkStats stats;
  for (std::size_t c = 0; c < file->chunk_count(); ++c)
    stats += parser.parse_chunk(*file, c, [](const RawEvent&) {}, diagnostics);
  EXPECT_GT(stats.records, 0u);
  EXPECT_EQ(stats.lost_chunks, file->chunk_count() - kept_chunks);
  // One message for the file, not one per lost chunk.
  std::size_t messages = 0;
  for (const auto& d : diagnostics.items()) messages += d.message.find("could be read: the file shrank") != std::string::npos;
  EXPECT_EQ(messages, 1u);
}

// A file cut at a record boundary inside its last chunk lost that chunk's
// later records without a count and exited 0. The chunk header's first and
// last record numbers now give the number lost.
TEST(HostileEvtx, ChunkCutAtRecordBoundaryCountsLostRecords) {
  const fs::path source = testing::shared_dir() / "corpus" / "evtx" / "DeepBlueCLI" / "evtx" / "metasploit-sysmon.evtx";
  if (!fs::exists(source)) GTEST_SKIP() << source << " not found";
  std::ifstream in(source, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(data.size(), kEvtxFileHeaderSize + kEvtxChunkSize);
  // The end of the second record of chunk 0: records follow the 512-byte
  // chunk header, each with its size at byte 4.
  auto u32 = [&](std::size_t at) {
    std::uint32_t v;
    std::memcpy(&v, data.data() + at, 4);
    return v;
  };
  auto u64 = [&](std::size_t at) {
    std::uint64_t v;
    std::memcpy(&v, data.data() + at, 8);
    return v;
  };
  std::size_t cut = kEvtxFileHeaderSize + 512;
  cut += u32(cut + 4);
  cut += u32(cut + 4);
  const std::uint64_t listed = u64(kEvtxFileHeaderSize + 16) - u64(kEvtxFileHeaderSize + 8) + 1;
  ASSERT_GT(listed, 2u);

  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto path = dir.write("cut.evtx", data.substr(0, cut));
  auto r = run_cli({"hunt", "-r", rules.string(), "-o", (dir.path() / "out.jsonl").string(), path.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("read 2 events"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(fmt::format("the chunk header lists {} records", listed)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(fmt::format("truncated EVTX record: {}", listed - 2)), std::string::npos) << r.err;
}

// A file cut through a record counted that record as a corrupt EVTX record.
// It is one of the records the truncation lost.
TEST(HostileEvtx, RecordCutByTruncationIsTruncated) {
  const fs::path source = testing::shared_dir() / "corpus" / "evtx" / "EVTX-ATTACK-SAMPLES" / "Lateral Movement" /
                          "LM_5145_Remote_FileCopy.evtx";
  if (!fs::exists(source)) GTEST_SKIP() << source << " not found";
  std::ifstream in(source, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(data.size(), 230704u);

  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto path = dir.write("cut.evtx", data.substr(0, 230704));  // 30,000 bytes into chunk 3
  auto r = run_cli({"hunt", "-r", rules.string(), "-o", (dir.path() / "out.jsonl").string(), path.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("read 322 events"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the record at offset 0x38298 is truncated: the file ends 664 bytes into its 792 bytes"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the chunk header lists 82 records (numbers 288 to 369) but the truncated chunk holds 35 "
                       "whole records; the other 47 are lost"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("rejected 47 records (truncated EVTX record: 47)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("corrupt EVTX record"), std::string::npos) << r.err;
}

// A file cut exactly at a chunk boundary looked whole: its missing chunks
// are now found from the file header's chunk count.
TEST(HostileEvtx, FileCutAtChunkBoundaryIsReported) {
  const fs::path source = testing::shared_dir() / "corpus" / "evtx" / "DeepBlueCLI" / "evtx" / "metasploit-sysmon.evtx";
  if (!fs::exists(source)) GTEST_SKIP() << source << " not found";
  std::ifstream in(source, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(data.size(), kEvtxFileHeaderSize + 2 * kEvtxChunkSize);
  TempDir dir;
  auto rules = dir.write("r.yml", kWhoamiRule);
  auto cut = dir.write("cut.evtx", data.substr(0, kEvtxFileHeaderSize + kEvtxChunkSize));

  DiagnosticList diagnostics;
  auto file = EvtxFile::open(cut.string(), diagnostics);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->chunk_count(), 1u);
  EXPECT_EQ(file->missing_chunks(), 1u);
  EXPECT_TRUE(any_message_contains(diagnostics, "the file header lists 2 chunks but the file holds 1"));

  auto r = run_cli({"hunt", "-r", rules.string(), "-o", (dir.path() / "out.jsonl").string(), cut.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  // Chunks are counted as chunks, not as records.
  EXPECT_NE(r.err.find("lost the records of 1 EVTX chunk (missing EVTX chunk: 1)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("rejected 1 record"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 EVTX chunk could not be read"), std::string::npos) << r.err;
  // The whole file is read without that error.
  auto whole = run_cli({"hunt", "-r", rules.string(), "-o", (dir.path() / "out.jsonl").string(), source.string()});
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
}

}  // namespace
}  // namespace sigscope
