// Streamed input: ByteStream decompression and LineBlockReader's blocks of
// whole lines with their line numbers and offsets.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>
#include <random>

#include <cstdlib>
#include <string>
#include <vector>

#include "sigscope/input/evtx.h"
#include "sigscope/input/sources.h"
#include "sigscope/input/stream.h"
#include "test_support.h"

namespace sigscope {
namespace {

using testing::TempDir;

struct Line {
  std::uint64_t number;
  std::uint64_t offset;
  std::string text;
};

// Reads `content` from a file (optionally compressed with `compressor`) in
// blocks of `block_size` and returns every line with its number and offset.
std::vector<Line> read_lines(const std::string& content, std::size_t block_size, std::size_t max_line,
                             std::vector<std::pair<std::uint64_t, std::uint64_t>>* oversized = nullptr,
                             const std::string& compressor = "", std::string* error = nullptr) {
  TempDir dir;
  auto path = dir.write("input", content);
  if (!compressor.empty()) {
    std::string command = compressor + " -c '" + path.string() + "' > '" + path.string() + ".c'";
    EXPECT_EQ(std::system(command.c_str()), 0);
    path += ".c";
  }
  std::string open_error;
  auto stream = ByteStream::open(InputFile{path.string(), 0, false}, open_error);
  EXPECT_TRUE(stream) << open_error;
  std::vector<Line> lines;
  LineBlockReader reader(*stream, "", block_size, max_line);
  LineBlock block;
  while (reader.next(block)) {
    if (oversized) oversized->insert(oversized->end(), block.oversized.begin(), block.oversized.end());
    std::string_view text = block.text();
    std::uint64_t number = block.first_line, offset = block.offset;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      std::size_t end = nl == std::string_view::npos ? text.size() : nl;
      lines.push_back({number++, offset + pos, std::string(text.substr(pos, end - pos))});
      pos = end + 1;
    }
    // The padding after the text is zeroed for simdjson.
    EXPECT_EQ(block.buffer[block.size], '\0');
  }
  if (error) *error = stream->error();
  return lines;
}

std::string numbered_lines(int count) {
  std::string out;
  for (int i = 1; i <= count; ++i) out += "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 37, 'x') + "\"}\n";
  return out;
}

TEST(LineBlockReader, SmallBlocksKeepNumbersAndOffsets) {
  std::string content = numbered_lines(500);
  auto lines = read_lines(content, 64, 1 << 20);
  ASSERT_EQ(lines.size(), 500u);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].number, i + 1);
    EXPECT_EQ(lines[i].offset, offset);
    EXPECT_EQ(content.substr(offset, lines[i].text.size()), lines[i].text);
    offset += lines[i].text.size() + 1;
  }
}

TEST(LineBlockReader, LastLineWithoutBreak) {
  auto lines = read_lines("{\"a\":1}\n{\"a\":2}", 4, 1 << 20);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "{\"a\":2}");
  EXPECT_EQ(lines[1].number, 2u);
  EXPECT_EQ(lines[1].offset, 8u);
}

TEST(LineBlockReader, LongLineGrowsTheBlock) {
  std::string longline = "{\"a\":\"" + std::string(1000, 'y') + "\"}";
  auto lines = read_lines("{}\n" + longline + "\n{}\n", 16, 4096);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].text, longline);
  EXPECT_EQ(lines[2].number, 3u);
}

TEST(LineBlockReader, OversizedLineSkippedAndReported) {
  std::string huge(5000, 'z');
  std::vector<std::pair<std::uint64_t, std::uint64_t>> oversized;
  auto lines = read_lines("{\"a\":1}\n" + huge + "\n{\"a\":3}\n", 64, 1024, &oversized);
  ASSERT_EQ(oversized.size(), 1u);
  EXPECT_EQ(oversized[0].first, 2u);   // line number
  EXPECT_EQ(oversized[0].second, 8u);  // byte offset
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "{\"a\":3}");
  EXPECT_EQ(lines[1].number, 3u);
  EXPECT_EQ(lines[1].offset, 8u + huge.size() + 1);
}

TEST(LineBlockReader, OversizedLastLineWithoutBreak) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> oversized;
  auto lines = read_lines("{\"a\":1}\n" + std::string(5000, 'z'), 64, 1024, &oversized);
  EXPECT_EQ(oversized.size(), 1u);
  EXPECT_EQ(lines.size(), 1u);
}

TEST(LineBlockReader, ByteOrderMarkBecomesBlanks) {
  TempDir dir;
  auto path = dir.write("bom", "\xEF\xBB\xBF{\"a\":1}\n");
  std::string error;
  auto stream = ByteStream::open(InputFile{path.string(), 0, false}, error);
  ASSERT_TRUE(stream);
  std::string head(3, '\0');
  head.resize(stream->read_full(head.data(), head.size()));
  LineBlockReader reader(*stream, head, 1024, 4096);
  LineBlock block;
  ASSERT_TRUE(reader.next(block));
  EXPECT_EQ(block.text(), "   {\"a\":1}\n");
}

TEST(ByteStream, GzipAndZstdDecompressAsTheyStream) {
  std::string content = numbered_lines(3000);
  for (const std::string compressor : {"gzip", "zstd -q"}) {
    std::string error;
    auto lines = read_lines(content, 1000, 1 << 20, nullptr, compressor, &error);
    EXPECT_EQ(error, "") << compressor;
    ASSERT_EQ(lines.size(), 3000u) << compressor;
    EXPECT_EQ(lines.back().text, "{\"n\":3000,\"pad\":\"" + std::string(3000 % 37, 'x') + "\"}");
  }
}

TEST(ByteStream, TruncatedGzipReportsAnError) {
  TempDir dir;
  std::string content = numbered_lines(3000);
  auto path = dir.write("input", content);
  ASSERT_EQ(std::system(("gzip -c '" + path.string() + "' > '" + path.string() + ".gz'").c_str()), 0);
  std::string gz = testing::read_file(path.string() + ".gz");
  auto cut = dir.write("cut.gz", gz.substr(0, gz.size() / 2));
  std::string error;
  auto stream = ByteStream::open(InputFile{cut.string(), 0, false}, error);
  ASSERT_TRUE(stream);
  std::string all(content.size(), '\0');
  std::size_t got = stream->read_full(all.data(), all.size());
  EXPECT_LT(got, content.size());
  EXPECT_NE(stream->error(), "");
}

// A file listed as regular but replaced by a named pipe before it is read
// made open() wait for a writer, so the hunt hung. Every opener now refuses it
// at once.
TEST(ByteStream, FileReplacedByPipeIsRefused) {
  testing::TempDir dir;
  const std::string fifo = (dir.path() / "swapped.json").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string error;
  EXPECT_EQ(ByteStream::open(InputFile{fifo, 100, false}, error), nullptr);
  EXPECT_NE(error.find("not a regular file any more"), std::string::npos) << error;
  EXPECT_FALSE(looks_like_evtx(fifo));
  DiagnosticList diagnostics;
  EXPECT_FALSE(EvtxFile::open(fifo, diagnostics));
  std::string skip_reason;
  EXPECT_FALSE(load_input(InputFile{fifo, 100, false}, diagnostics, skip_reason));
  EXPECT_GE(diagnostics.error_count(), 2u);
}

TEST(ByteStream, MissingFileFailsToOpen) {
  std::string error;
  EXPECT_FALSE(ByteStream::open(InputFile{"/nonexistent/sigscope-input", 0, false}, error));
  EXPECT_NE(error.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

struct Value {
  std::uint64_t record, line, offset;
  std::string text;
};

// Reads `content` with JsonValueBlockReader in blocks of `block_size` and
// returns every value with its number, line and offset.
std::vector<Value> read_values(const std::string& content, std::size_t block_size, std::size_t max_value,
                               std::vector<SkippedValue>* skipped = nullptr) {
  testing::TempDir dir;
  auto path = dir.write("input", content);
  std::string error;
  auto stream = ByteStream::open(InputFile{path.string(), 0, false}, error);
  EXPECT_TRUE(stream) << error;
  std::vector<Value> out;
  JsonValueBlockReader reader(*stream, "", block_size, max_value);
  LineBlock block;
  while (reader.next(block)) {
    EXPECT_TRUE(block.holds_values);
    if (skipped) skipped->insert(skipped->end(), block.skipped_values.begin(), block.skipped_values.end());
    for (const auto& v : block.values) {
      EXPECT_LE(v.begin + v.length, block.size);
      out.push_back({v.record, v.line, v.offset, std::string(block.buffer.data() + v.begin, v.length)});
    }
  }
  return out;
}

// Every value must be the exact bytes at its offset in the input.
void expect_true_offsets(const std::string& content, const std::vector<Value>& values) {
  for (const auto& v : values) EXPECT_EQ(content.substr(v.offset, v.text.size()), v.text) << v.record;
}

TEST(JsonValueBlockReader, ArrayElementsAcrossSmallBlocks) {
  std::string content = "[\n";
  for (int i = 1; i <= 200; ++i)
    content += "  {\"n\": " + std::to_string(i) + ", \"s\": \"a,]}\\\"[{\"}" + (i < 200 ? ",\n" : "\n");
  content += "]\n";
  auto values = read_values(content, 64, 4096);
  ASSERT_EQ(values.size(), 200u);
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(values[i].record, i + 1);
    EXPECT_EQ(values[i].line, i + 2);
    EXPECT_EQ(values[i].text, "{\"n\": " + std::to_string(i + 1) + ", \"s\": \"a,]}\\\"[{\"}");
  }
  expect_true_offsets(content, values);
}

TEST(JsonValueBlockReader, LongStringsWithEscapesAtAnyByte) {
  // Strings are skipped a word at a time: quotes, backslashes and brackets
  // land at every position of a word, and strings span block boundaries.
  std::mt19937 random(7);
  const std::string alphabet = "ab{}[],:\"\\ \n";
  std::vector<std::string> expected;
  std::string content = "[";
  std::size_t line = 1;
  std::vector<std::size_t> lines;
  for (int i = 0; i < 300; ++i) {
    std::string raw;
    const std::size_t length = random() % 40;
    for (std::size_t k = 0; k < length; ++k) raw += alphabet[random() % alphabet.size()];
    const std::string value = nlohmann::json{{"s", raw}, {"n", i}}.dump();
    // One value in five is spread over two lines, so line counting is checked.
    const std::string separator = i == 0 ? "" : (i % 5 == 0 ? ",\n" : ", ");
    content += separator;
    if (separator == ",\n") ++line;
    lines.push_back(line);
    content += value;
    expected.push_back(value);
  }
  content += "]\n";
  for (std::size_t block : {16u, 64u, 1024u}) {
    auto values = read_values(content, block, 4096);
    ASSERT_EQ(values.size(), expected.size()) << block;
    for (std::size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(values[i].text, expected[i]) << block << " " << i;
      EXPECT_EQ(values[i].line, lines[i]) << block << " " << i;
    }
    expect_true_offsets(content, values);
  }
}

TEST(JsonValueBlockReader, PrettyPrintedObjectsOneAfterAnother) {
  const std::string content = "{\n  \"a\": 1\n}\n{\n  \"b\": {\"c\": [1, 2]}\n}{\"d\": \"}\"}";
  auto values = read_values(content, 8, 1024);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0].line, 1u);
  EXPECT_EQ(values[1].line, 4u);
  EXPECT_EQ(values[2].line, 6u);
  EXPECT_EQ(values[2].text, "{\"d\": \"}\"}");
  expect_true_offsets(content, values);
}

TEST(JsonValueBlockReader, CloudTrailRecordsAreElements) {
  const std::string content = "{\"Records\": [{\"eventName\": \"A\"}, {\"eventName\": \"B\"}]}\n";
  auto values = read_values(content, 16, 1024);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0].text, "{\"eventName\": \"A\"}");
  EXPECT_EQ(values[1].record, 2u);
  expect_true_offsets(content, values);
}

TEST(JsonValueBlockReader, OversizedValueIsSkippedAndTheRestRead) {
  const std::string big = "{\"x\": \"" + std::string(5000, 'a') + "\", \"y\": [[[[]]]]}";
  const std::string content = "[{\"a\": 1}, " + big + ", {\"b\": 2}]";
  std::vector<SkippedValue> skipped;
  auto values = read_values(content, 64, 1024, &skipped);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0].text, "{\"a\": 1}");
  EXPECT_EQ(values[1].text, "{\"b\": 2}");
  EXPECT_EQ(values[1].record, 3u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].record, 2u);
  EXPECT_EQ(skipped[0].offset, content.find(big));
  EXPECT_EQ(skipped[0].bytes, big.size());
  expect_true_offsets(content, values);
}

TEST(JsonValueBlockReader, DeepNestingStaysBounded) {
  // 100,000 open brackets never close: the value is skipped at the limit
  // and the input ends; nothing grows past the limit.
  const std::string content = "[{\"a\": 1}, " + std::string(100000, '[');
  std::vector<SkippedValue> skipped;
  auto values = read_values(content, 64, 4096, &skipped);
  ASSERT_EQ(values.size(), 1u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].bytes, 100000u);
}

TEST(JsonValueBlockReader, UnclosedAndStrayValuesListed) {
  auto values = read_values("[{\"a\": 1}, nul, {\"b\": \"never closed", 16, 1024);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[1].text, "nul");
  EXPECT_EQ(values[2].text, "{\"b\": \"never closed");
  EXPECT_TRUE(read_values("[]", 16, 1024).empty());
  EXPECT_TRUE(read_values("\xEF\xBB\xBF  [ ]  ", 16, 1024).empty());
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// `text` as UTF-16 code units, little- or big-endian, without a byte order mark.
std::string utf16_bytes(const std::u16string& text, bool big_endian) {
  std::string out;
  for (char16_t c : text) {
    const char high = static_cast<char>(c >> 8), low = static_cast<char>(c & 0xFF);
    out.push_back(big_endian ? high : low);
    out.push_back(big_endian ? low : high);
  }
  return out;
}

TEST(Utf16Decoder, EverySplitGivesTheWholeResult) {
  // A BMP letter, a surrogate pair (U+1F600), a lone low surrogate, and a
  // lone high surrogate at the end; then an odd last byte.
  const std::u16string text = u"a\u00e9\U0001F600b\xDC00" u"c\xD800";
  for (bool big_endian : {false, true}) {
    const std::string bytes = utf16_bytes(text, big_endian) + "x";
    const std::string expected = "a\xC3\xA9\xF0\x9F\x98\x80" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD";
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
      for (std::size_t cut2 = cut; cut2 <= bytes.size(); ++cut2) {
        Utf16Decoder decoder(big_endian);
        std::string out;
        decoder.decode(std::string_view(bytes).substr(0, cut), false, out);
        decoder.decode(std::string_view(bytes).substr(cut, cut2 - cut), false, out);
        decoder.decode(std::string_view(bytes).substr(cut2), true, out);
        ASSERT_EQ(out, expected) << "cuts at " << cut << " and " << cut2 << (big_endian ? " (big-endian)" : "");
        EXPECT_EQ(decoder.replaced(), 3u);
        EXPECT_EQ(decoder.first_replaced_offset(), 10u);  // the lone low surrogate: the 6th unit
      }
    }
  }
}

// Reads the whole of `path` through ByteStream::open.
std::string read_stream(const std::string& path, std::string* compression = nullptr,
                        std::uint64_t* replaced = nullptr) {
  std::string error;
  auto stream = ByteStream::open(InputFile{path, 0, false}, error);
  EXPECT_TRUE(stream) << error;
  if (!stream) return {};
  std::string out;
  char buffer[7];  // small reads cross every boundary
  while (std::size_t got = stream->read(buffer, sizeof buffer)) out.append(buffer, got);
  EXPECT_EQ(stream->error(), "");
  if (compression) *compression = stream->compression();
  if (replaced) *replaced = stream->replaced_units();
  return out;
}

TEST(ByteStream, Utf16IsReadAsUtf8) {
  // Windows PowerShell 5.1 writes UTF-16LE with a byte order mark. The text
  // is converted as it is read, also inside gzip. It is long enough to take
  // several reads of the decoder's 64 KiB buffer.
  std::u16string line = u"{\"CommandLine\": \"caf\u00e9 \U0001F600\"}\n";
  std::u16string text;
  while (text.size() < 200000) text += line;
  std::string utf8;
  for (std::size_t i = 0; i < text.size() / line.size(); ++i) utf8 += "{\"CommandLine\": \"caf\xC3\xA9 \xF0\x9F\x98\x80\"}\n";
  TempDir dir;
  auto little = dir.write("le.json", "\xFF\xFE" + utf16_bytes(text, false));
  auto big = dir.write("be.json", "\xFE\xFF" + utf16_bytes(text, true));
  ASSERT_EQ(std::system(("gzip -c '" + little.string() + "' > '" + little.string() + ".gz'").c_str()), 0);
  std::string compression;
  std::uint64_t replaced = 1;
  EXPECT_EQ(read_stream(little.string(), &compression, &replaced), utf8);
  EXPECT_EQ(compression, "utf-16");
  EXPECT_EQ(replaced, 0u);
  EXPECT_EQ(read_stream(big.string()), utf8);
  EXPECT_EQ(read_stream(little.string() + ".gz", &compression), utf8);
  EXPECT_EQ(compression, "gzip+utf-16");
  // Other compressed text keeps the bytes taken to look for the mark.
  auto plain = dir.write("plain.json", utf8);
  ASSERT_EQ(std::system(("gzip -c '" + plain.string() + "' > '" + plain.string() + ".gz'").c_str()), 0);
  EXPECT_EQ(read_stream(plain.string() + ".gz", &compression), utf8);
  EXPECT_EQ(compression, "gzip");
}

// JSON in UTF-16 without a byte order mark is recognized by the NUL bytes
// of its first two characters. Other starts with NUL bytes are not UTF-16.
TEST(DetectUtf16, WithoutByteOrderMark) {
  using namespace std::string_literals;
  const Utf16Start little = detect_utf16("{\0\"\0"s);
  EXPECT_TRUE(little.found);
  EXPECT_FALSE(little.big_endian);
  EXPECT_EQ(little.bom_bytes, 0u);
  const Utf16Start big = detect_utf16("\0[\0{"s);
  EXPECT_TRUE(big.found);
  EXPECT_TRUE(big.big_endian);
  EXPECT_EQ(big.bom_bytes, 0u);
  EXPECT_TRUE(detect_utf16(" \0\n\0"s).found);
  const Utf16Start marked = detect_utf16("\xFE\xFF\0{"s);
  EXPECT_TRUE(marked.found);
  EXPECT_TRUE(marked.big_endian);
  EXPECT_EQ(marked.bom_bytes, 2u);

  EXPECT_FALSE(detect_utf16("{\"a\":"s).found);
  EXPECT_FALSE(detect_utf16("\0\0\0\0{\"a\": 1}"s).found);  // a preallocated log
  EXPECT_FALSE(detect_utf16("{\0\0\0"s).found);
  EXPECT_FALSE(detect_utf16("T\0i\0"s).found);  // UTF-16, but not JSON
  EXPECT_FALSE(detect_utf16("{\0"s).found);     // too short to tell
}

TEST(ByteStream, Utf16WithoutMarkIsConverted) {
  std::u16string text = u"{\"CommandLine\": \"caf\u00e9\"}\n";
  const std::string utf8 = "{\"CommandLine\": \"caf\xC3\xA9\"}\n";
  TempDir dir;
  auto little = dir.write("le.json", utf16_bytes(text, false));
  auto big = dir.write("be.json", utf16_bytes(text, true));
  ASSERT_EQ(std::system(("gzip -c '" + big.string() + "' > '" + big.string() + ".gz'").c_str()), 0);
  std::string compression;
  EXPECT_EQ(read_stream(little.string(), &compression), utf8);
  EXPECT_EQ(compression, "utf-16");
  EXPECT_EQ(read_stream(big.string()), utf8);
  EXPECT_EQ(read_stream(big.string() + ".gz", &compression), utf8);
  EXPECT_EQ(compression, "gzip+utf-16");
}

}  // namespace
}  // namespace sigscope
