// Sequential reading of one input's bytes: a file, a named pipe or standard
// input, with gzip and zstd decompressed on the fly. The hunt command reads
// JSON-lines inputs through it block by block, so memory stays constant
// whatever the input size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"

struct ZSTD_DCtx_s;

namespace sigscope {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Opens `input` and detects gzip or zstd compression from its first bytes.
  // Returns null and sets `error` when the input cannot be opened.
  static std::unique_ptr<ByteStream> open(const InputFile& input, std::string& error);

  // Reads up to `size` decompressed bytes into `buffer` and returns how many
  // were read; fewer than `size` only at the end of the input or on an error.
  // After an error, error() is non-empty and read() returns 0.
  virtual std::size_t read(char* buffer, std::size_t size) = 0;

  const std::string& error() const { return error_; }
  // "", "gzip" or "zstd".
  const std::string& compression() const { return compression_; }
  // Bytes taken from the file so far (compressed bytes for compressed inputs).
  virtual std::uint64_t raw_bytes() const = 0;

  // Reads until `size` bytes are in `buffer` or the input ends; returns the count.
  std::size_t read_full(char* buffer, std::size_t size);

  // For UTF-16 input: unpaired surrogates (and a last odd byte) read so far
  // as U+FFFD, and the byte offset of the first in the UTF-16 data.
  virtual std::uint64_t replaced_units() const { return 0; }
  virtual std::uint64_t first_replaced_offset() const { return 0; }

 protected:
  std::string error_;
  std::string compression_;
};

// Creates a zstd decoder that accepts windows up to libzstd's maximum (see
// stream.cpp for the memory this costs). The caller frees it with ZSTD_freeDCtx.
ZSTD_DCtx_s* new_zstd_decoder();

// Returns the message for the error code `code` of ZSTD_decompressStream.
std::string zstd_error_message(std::size_t code);

// Returns true when `bytes` starts with a UTF-16 byte order mark (FF FE or FE FF).
bool has_utf16_bom(std::string_view bytes);

// The UTF-16 encoding found at the start of an input.
struct Utf16Start {
  bool found = false;
  bool big_endian = false;
  std::size_t bom_bytes = 0;  // 2 after a byte order mark, 0 without one
};

// Detects UTF-16 text by its byte order mark, or JSON in UTF-16 without
// one by the NUL bytes of its first two characters. Needs the first 4 bytes
// of the input.
Utf16Start detect_utf16(std::string_view bytes);

// Guesses the encoding of an input that is neither EVTX nor JSON. Returns
// "UTF-16LE" when NUL bytes fill at least half the odd offsets of its first
// 256 bytes and at most an eighth as many even ones, "UTF-16BE" for the
// reverse, else nullptr. Sets `nul_bytes` (all NUL bytes seen) and
// `examined` (bytes looked at) for the message.
const char* looks_like_utf16(std::string_view bytes, std::size_t& nul_bytes, std::size_t& examined);

// Converts UTF-16 text to UTF-8 piece by piece: a surrogate pair or a code
// unit split between two pieces is completed by the next. Unpaired
// surrogates, and an odd last byte, become U+FFFD and are counted.
class Utf16Decoder {
 public:
  explicit Utf16Decoder(bool big_endian) : big_endian_(big_endian) {}

  // Appends the UTF-8 form of `bytes` to `out`. `last` ends the text: a
  // pending byte or high surrogate is then written as U+FFFD.
  void decode(std::string_view bytes, bool last, std::string& out);

  std::uint64_t replaced() const { return replaced_; }
  // Byte offset of the first replaced unit, counted from the first byte
  // given to decode() (the caller adds what came before, like a BOM).
  std::uint64_t first_replaced_offset() const { return first_offset_; }

 private:
  void replace(std::uint64_t offset, std::string& out);

  bool big_endian_;
  std::uint64_t offset_ = 0;  // bytes decoded before the current piece
  std::uint64_t replaced_ = 0, first_offset_ = 0;
  char odd_byte_ = 0;
  bool has_odd_byte_ = false;
  char32_t high_ = 0;  // a high surrogate waiting for its low half, else 0
  std::uint64_t high_offset_ = 0;
};

}  // namespace sigscope

namespace sigscope {

// A JSON value longer than the reader's limit, skipped unparsed.
struct SkippedValue {
  std::uint64_t record = 0, line = 0, offset = 0, bytes = 0;
};

// A run of whole lines of a JSON-lines input, followed by simdjson's padding.
// JsonValueBlockReader fills it with whole JSON values instead, and lists them.
struct LineBlock {
  std::vector<char> buffer;
  std::size_t size = 0;          // bytes of text at the start of buffer
  std::uint64_t first_line = 1;  // line number of the block's first line
  std::uint64_t offset = 0;      // offset of the block in the decompressed input
  // Lines longer than the reader's limit, skipped: (line number, offset).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> oversized;
  // Set by JsonValueBlockReader: the values in the block, and those skipped.
  bool holds_values = false;
  std::vector<JsonValueRef> values;
  std::vector<SkippedValue> skipped_values;
  // Runs of NUL bytes between values, skipped like blanks: (line, offset, length).
  struct NulRun {
    std::uint64_t line = 0, offset = 0, length = 0;
  };
  std::vector<NulRun> nul_runs;

  std::string_view text() const { return std::string_view(buffer.data(), size); }
};

// Cuts a byte stream into blocks of whole lines, counting lines so that each
// block records its first line number. Memory use is one block at a time plus
// the longest line, up to `max_line` bytes; longer lines are skipped and
// listed in LineBlock::oversized.
class LineBlockReader {
 public:
  // `prefix` contains bytes already taken from `stream` (a format sniff); they
  // come first. A UTF-8 byte order mark at the very start is dropped.
  LineBlockReader(ByteStream& stream, std::string prefix, std::size_t block_size, std::size_t max_line);

  // Fills `block` with the next lines. Returns false when the input is
  // exhausted and nothing was added.
  bool next(LineBlock& block);

  // Appends every byte not yet returned in a block (the rest of the input).
  void read_rest(std::string& out);
  // Returns the bytes read from the stream but not yet returned in a block.
  std::string take_carry() { return std::move(carry_); }

  std::uint64_t max_line() const { return max_line_; }

 private:
  ByteStream& stream_;
  std::string carry_;  // bytes after the last line break of the previous block
  std::size_t block_size_;
  std::size_t max_line_;
  std::uint64_t line_ = 1;
  std::uint64_t offset_ = 0;
  bool end_ = false;
};

// Cuts a byte stream into blocks of whole JSON values, for inputs that are not
// JSON lines: one JSON array of events, CloudTrail's {"Records": [...]}
// object, or values one after another (pretty-printed objects). Such inputs
// are then read with constant memory like JSON lines. Values are found by
// following strings and bracket depth only. Each is parsed on its own later,
// so a malformed value loses only itself as long as its brackets balance.
// Values longer than `max_value` bytes are skipped and listed.
class JsonValueBlockReader {
 public:
  // `prefix` contains bytes already taken from `stream`, which come first. A
  // UTF-8 byte order mark at the very start is read as blanks.
  JsonValueBlockReader(ByteStream& stream, std::string prefix, std::size_t block_size, std::size_t max_value);

  // Fills `block` with the next values. Returns false when the input is
  // exhausted and nothing was added.
  bool next(LineBlock& block);

  // Progress of the value being scanned; exposed for tests.
  struct Scan {
    enum class Kind { Container, String, Scalar } kind = Kind::Container;
    std::int64_t depth = 0;
    bool in_string = false;
    bool escape = false;
    bool started = false;
  };
  // Scans text[pos, n) as part of the value described by `scan`, advancing
  // `pos`. Returns true when the value ends, with `pos` one past its last
  // byte; false when it goes on past n. Line breaks seen are added to `lines`.
  static bool scan_value(const char* text, std::size_t& pos, std::size_t n, Scan& scan, std::uint64_t& lines);

 private:
  enum class Level { Top, Array, RecordsEnd };
  void skip_oversized(LineBlock& block, std::size_t& filled);

  ByteStream& stream_;
  std::string carry_;            // bytes after the last cut
  std::size_t carry_scanned_ = 0;  // bytes of carry_ already scanned as part of the current value
  std::size_t block_size_;
  std::size_t max_value_;
  Level level_ = Level::Top;
  bool records_wrapper_ = false;  // the array is CloudTrail's Records
  bool started_ = false;          // the start of the input was examined
  bool in_value_ = false;
  Scan scan_;
  std::uint64_t value_line_ = 0;
  std::uint64_t record_ = 0;
  std::uint64_t line_ = 1;    // line at the scan position
  std::uint64_t offset_ = 0;  // input offset of the first byte of carry_
  bool end_ = false;
};

}  // namespace sigscope
