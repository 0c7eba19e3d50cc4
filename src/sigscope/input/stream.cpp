#include "sigscope/input/stream.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "sigscope/common/text.h"
#include "sigscope/input/open_file.h"

namespace sigscope {

namespace {

// Plain bytes of a file descriptor, with the first bytes kept aside so the
// compression can be detected before the decoder is chosen.
class FdStream final : public ByteStream {
 public:
  FdStream(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~FdStream() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }

  // Reads up to `size` bytes without consuming them.
  std::string_view peek(std::size_t size) {
    while (peeked_.size() - peek_pos_ < size) {
      char buffer[512];
      std::size_t want = std::min(sizeof buffer, size - (peeked_.size() - peek_pos_));
      std::size_t got = raw_read(buffer, want);
      if (got == 0) break;
      peeked_.append(buffer, got);
    }
    return std::string_view(peeked_).substr(peek_pos_);
  }

  std::size_t read(char* buffer, std::size_t size) override {
    std::size_t done = 0;
    if (peek_pos_ < peeked_.size()) {
      done = std::min(size, peeked_.size() - peek_pos_);
      std::memcpy(buffer, peeked_.data() + peek_pos_, done);
      peek_pos_ += done;
      if (done == size) return done;
    }
    return done + raw_read(buffer + done, size - done);
  }

  std::uint64_t raw_bytes() const override { return raw_bytes_ - (peeked_.size() - peek_pos_); }
  void set_error(std::string error) { error_ = std::move(error); }

 private:
  std::size_t raw_read(char* buffer, std::size_t size) {
    if (!error_.empty()) return 0;
    while (true) {
      ssize_t got = ::read(fd_, buffer, size);
      if (got >= 0) {
        raw_bytes_ += static_cast<std::uint64_t>(got);
        return static_cast<std::size_t>(got);
      }
      if (errno == EINTR) continue;
      error_ = fmt::format("read failed: {}", std::strerror(errno));
      return 0;
    }
  }

  int fd_;
  bool owned_;
  std::string peeked_;
  std::size_t peek_pos_ = 0;
  std::uint64_t raw_bytes_ = 0;
};

// gzip members one after another, as `gzip -c a b` or log rotation writes them.
// Stops a compression bomb: the output may not exceed expansion_limit() of
// the file size, or, for a pipe, of the compressed bytes read so far.
class ExpansionGuard {
 public:
  explicit ExpansionGuard(std::uint64_t file_size) : file_size_(file_size) {}
  // Counts `bytes` more output; returns an error message once over the limit.
  std::string add(std::uint64_t bytes, std::uint64_t compressed_read, const char* format) {
    produced_ += bytes;
    const std::uint64_t basis = file_size_ > 0 ? file_size_ : compressed_read;
    const std::uint64_t limit = expansion_limit(basis);
    if (produced_ <= limit) return {};
    return fmt::format("{} data expands to more than {} MiB, over {} times its compressed size (after {} compressed "
                       "bytes); this looks like a compression bomb, so the rest of the input is not read",
                       format, limit >> 20, kMaxExpansionRatio, compressed_read);
  }

 private:
  std::uint64_t file_size_;
  std::uint64_t produced_ = 0;
};

class GzipStream final : public ByteStream {
 public:
  GzipStream(std::unique_ptr<FdStream> in, std::uint64_t file_size)
      : in_(std::move(in)), buffer_(1 << 16), guard_(file_size) {
    compression_ = "gzip";
    // 16 + MAX_WBITS selects gzip framing.
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) error_ = "cannot start the gzip decoder";
  }
  ~GzipStream() override { inflateEnd(&z_); }

  std::size_t read(char* out, std::size_t size) override {
    std::size_t done = 0;
    while (done < size && error_.empty() && !finished_) {
      if (z_.avail_in == 0) {
        std::size_t got = in_->read(buffer_.data(), buffer_.size());
        if (!in_->error().empty()) {
          error_ = in_->error();
          break;
        }
        if (got == 0) {
          if (in_member_) error_ = "gzip data is truncated";
          finished_ = true;
          break;
        }
        z_.next_in = reinterpret_cast<Bytef*>(buffer_.data());
        z_.avail_in = static_cast<uInt>(got);
      }
      z_.next_out = reinterpret_cast<Bytef*>(out + done);
      z_.avail_out = static_cast<uInt>(std::min<std::size_t>(size - done, 1u << 30));
      std::size_t before = z_.avail_out;
      in_member_ = true;
      int rc = inflate(&z_, Z_NO_FLUSH);
      done += before - z_.avail_out;
      if (std::string bomb = guard_.add(before - z_.avail_out, in_->raw_bytes(), "gzip"); !bomb.empty()) {
        error_ = std::move(bomb);
        break;
      }
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        inflateReset(&z_);  // a next member may follow
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        error_ = fmt::format("gzip data is corrupt ({})", z_.msg ? z_.msg : "zlib error");
      }
    }
    return done;
  }

  std::uint64_t raw_bytes() const override { return in_->raw_bytes(); }

 private:
  std::unique_ptr<FdStream> in_;
  std::vector<char> buffer_;
  ExpansionGuard guard_;
  z_stream z_{};
  bool in_member_ = false;
  bool finished_ = false;
};

class ZstdStream final : public ByteStream {
 public:
  ZstdStream(std::unique_ptr<FdStream> in, std::uint64_t file_size)
      : in_(std::move(in)), ctx_(new_zstd_decoder()), buffer_(ZSTD_DStreamInSize()), guard_(file_size) {
    compression_ = "zstd";
  }
  ~ZstdStream() override { ZSTD_freeDCtx(ctx_); }

  std::size_t read(char* out, std::size_t size) override {
    ZSTD_outBuffer output{out, size, 0};
    while (output.pos < size && error_.empty() && !finished_) {
      if (input_.pos == input_.size) {
        std::size_t got = in_->read(buffer_.data(), buffer_.size());
        if (!in_->error().empty()) {
          error_ = in_->error();
          break;
        }
        if (got == 0) {
          if (pending_ != 0) error_ = "zstd data is truncated";
          finished_ = true;
          break;
        }
        input_ = ZSTD_inBuffer{buffer_.data(), got, 0};
      }
      const std::size_t before = output.pos;
      pending_ = ZSTD_decompressStream(ctx_, &output, &input_);
      if (ZSTD_isError(pending_)) {
        error_ = zstd_error_message(pending_);
        break;
      }
      if (std::string bomb = guard_.add(output.pos - before, in_->raw_bytes(), "zstd"); !bomb.empty()) error_ = std::move(bomb);
    }
    return output.pos;
  }

  std::uint64_t raw_bytes() const override { return in_->raw_bytes(); }

 private:
  std::unique_ptr<FdStream> in_;
  ZSTD_DCtx* ctx_;
  std::vector<char> buffer_;
  ExpansionGuard guard_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  std::size_t pending_ = 0;  // ZSTD_decompressStream's hint: 0 when a frame is complete
  bool finished_ = false;
};

// UTF-16 text with a byte order mark, converted to UTF-8 as it is read.
// Windows PowerShell 5.1 writes UTF-16 by default (Out-File, >), so exported
// logs often come this way; converted piece by piece, they stream like any
// other input, in bounded memory, and a bad record loses only itself.
class Utf16Stream final : public ByteStream {
 public:
  // `in` is positioned after the byte order mark of `bom_bytes` bytes, if any.
  Utf16Stream(std::unique_ptr<ByteStream> in, bool big_endian, std::size_t bom_bytes)
      : in_(std::move(in)), decoder_(big_endian), raw_(1 << 16), bom_bytes_(bom_bytes) {
    compression_ = in_->compression().empty() ? "utf-16" : in_->compression() + "+utf-16";
  }

  std::size_t read(char* out, std::size_t size) override {
    std::size_t done = 0;
    while (done < size) {
      if (pos_ < text_.size()) {
        const std::size_t n = std::min(size - done, text_.size() - pos_);
        std::memcpy(out + done, text_.data() + pos_, n);
        pos_ += n;
        done += n;
        continue;
      }
      if (finished_) break;
      text_.clear();
      pos_ = 0;
      const std::size_t got = in_->read(raw_.data(), raw_.size());
      if (!in_->error().empty()) error_ = in_->error();
      finished_ = got == 0;
      decoder_.decode(std::string_view(raw_.data(), got), finished_, text_);
    }
    return done;
  }

  std::uint64_t raw_bytes() const override { return in_->raw_bytes(); }
  std::uint64_t replaced_units() const override { return decoder_.replaced(); }
  std::uint64_t first_replaced_offset() const override { return decoder_.first_replaced_offset() + bom_bytes_; }

 private:
  std::unique_ptr<ByteStream> in_;
  Utf16Decoder decoder_;
  std::vector<char> raw_;
  std::string text_;  // converted, not yet handed out from pos_
  std::size_t pos_ = 0;
  bool finished_ = false;
  std::size_t bom_bytes_;
};

// A stream whose first bytes were taken to look for a byte order mark.
class PrefixStream final : public ByteStream {
 public:
  PrefixStream(std::unique_ptr<ByteStream> in, std::string prefix) : in_(std::move(in)), prefix_(std::move(prefix)) {
    compression_ = in_->compression();
    error_ = in_->error();
  }

  std::size_t read(char* out, std::size_t size) override {
    std::size_t done = std::min(size, prefix_.size() - pos_);
    std::memcpy(out, prefix_.data() + pos_, done);
    pos_ += done;
    if (done < size && error_.empty()) {
      done += in_->read(out + done, size - done);
      error_ = in_->error();
    }
    return done;
  }

  std::uint64_t raw_bytes() const override { return in_->raw_bytes(); }

 private:
  std::unique_ptr<ByteStream> in_;
  std::string prefix_;
  std::size_t pos_ = 0;
};

}  // namespace

// libzstd rejects windows over 2^27 bytes by default, but `zstd --long=28`
// to `--long=31` writes frames with windows of 256 MiB to 2 GiB, and a frame
// can only be decoded with its whole window. The decoder reserves the window
// and touches its pages as it writes output, so resident memory grows with
// the frame's decompressed bytes, up to the window size. The expansion limit keeps a small hostile file far below its window. A
// large log compressed with --long=31 can cost up to 2 GiB, beyond the 150 MB
// peak RSS goal. That is accepted: the producer chose that window, `zstd -d`
// itself needs --long=31 or --memory for such a file, and the alternative is
// not reading it at all.
ZSTD_DCtx_s* new_zstd_decoder() {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx) ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound);
  return ctx;
}

std::string zstd_error_message(std::size_t code) {
  if (ZSTD_getErrorCode(code) == ZSTD_error_frameParameter_windowTooLarge) {
    const int max_log = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound;
    return fmt::format("a zstd frame needs a window larger than 2^{} bytes ({} MiB), the maximum libzstd decodes",
                       max_log, (std::uint64_t{1} << max_log) >> 20);
  }
  return fmt::format("zstd data is corrupt ({})", ZSTD_getErrorName(code));
}

bool has_utf16_bom(std::string_view b) {
  return b.size() >= 2 && ((static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xFE) ||
                           (static_cast<unsigned char>(b[0]) == 0xFE && static_cast<unsigned char>(b[1]) == 0xFF));
}

Utf16Start detect_utf16(std::string_view b) {
  if (has_utf16_bom(b)) return {true, static_cast<unsigned char>(b[0]) == 0xFE, 2};
  if (b.size() < 4) return {};
  // A JSON object or array starts with '{', '[' or a blank, then another
  // ASCII character. In UTF-16 each of the two is an ASCII byte and a NUL
  // byte, in the encoding's order. JSON in UTF-8 has no NUL byte there.
  auto is_json_start = [](unsigned char c) { return c == '{' || c == '[' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  auto is_ascii = [](unsigned char c) { return c != 0 && c < 0x80; };
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(b[i]); };
  if (is_json_start(byte(0)) && byte(1) == 0 && is_ascii(byte(2)) && byte(3) == 0) return {true, false, 0};
  if (byte(0) == 0 && is_json_start(byte(1)) && byte(2) == 0 && is_ascii(byte(3))) return {true, true, 0};
  return {};
}

const char* looks_like_utf16(std::string_view bytes, std::size_t& nul_bytes, std::size_t& examined) {
  examined = std::min<std::size_t>(bytes.size(), 256) & ~std::size_t{1};
  std::size_t at_even = 0, at_odd = 0;
  for (std::size_t i = 0; i < examined; ++i) {
    if (bytes[i] != '\0') continue;
    if (i % 2 == 0) ++at_even;
    else ++at_odd;
  }
  // Latin text in UTF-16 has a NUL byte in almost every character. Runs of
  // NUL bytes, as in a preallocated log, fill both offsets alike.
  const std::size_t characters = examined / 2;
  const std::size_t more = std::max(at_even, at_odd), fewer = std::min(at_even, at_odd);
  nul_bytes = at_even + at_odd;
  if (characters < 2 || more * 2 < characters || fewer * 8 > more) return nullptr;
  return at_odd > at_even ? "UTF-16LE" : "UTF-16BE";
}

void Utf16Decoder::replace(std::uint64_t offset, std::string& out) {
  if (replaced_++ == 0) first_offset_ = offset;
  append_utf8(0xFFFD, out);
}

void Utf16Decoder::decode(std::string_view bytes, bool last, std::string& out) {
  auto unit_of = [&](unsigned char first, unsigned char second) -> char32_t {
    return big_endian_ ? static_cast<char32_t>(first << 8 | second) : static_cast<char32_t>(second << 8 | first);
  };
  std::size_t i = 0;
  while (true) {
    char32_t unit;
    std::uint64_t at;
    if (has_odd_byte_) {
      if (bytes.empty()) break;
      unit = unit_of(static_cast<unsigned char>(odd_byte_), static_cast<unsigned char>(bytes[0]));
      at = offset_ - 1;
      has_odd_byte_ = false;
      i = 1;
    } else if (i + 1 < bytes.size()) {
      unit = unit_of(static_cast<unsigned char>(bytes[i]), static_cast<unsigned char>(bytes[i + 1]));
      at = offset_ + i;
      i += 2;
    } else {
      break;
    }
    if (high_ != 0) {
      if (unit >= 0xDC00 && unit <= 0xDFFF) {
        append_utf8(0x10000 + ((high_ - 0xD800) << 10) + (unit - 0xDC00), out);
        high_ = 0;
        continue;
      }
      replace(high_offset_, out);
      high_ = 0;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      high_ = unit;
      high_offset_ = at;
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      replace(at, out);
    } else {
      append_utf8(unit, out);
    }
  }
  if (i < bytes.size()) {
    odd_byte_ = bytes[i];
    has_odd_byte_ = true;
  }
  offset_ += bytes.size();
  if (last) {
    if (high_ != 0) replace(high_offset_, out);
    high_ = 0;
    if (has_odd_byte_) replace(offset_ - 1, out);
    has_odd_byte_ = false;
  }
}

std::size_t ByteStream::read_full(char* buffer, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    std::size_t got = read(buffer + done, size - done);
    if (got == 0) break;
    done += got;
  }
  return done;
}

std::unique_ptr<ByteStream> ByteStream::open(const InputFile& input, std::string& error) {
  int fd = 0;
  bool owned = false;
  if (input.path != "-") {
    if (input.stream) {
      fd = ::open(input.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) error = fmt::format("cannot open input: {}", std::strerror(errno));
    } else {
      fd = open_regular_file(input.path, error);
    }
    if (fd < 0) return nullptr;
    owned = true;
#ifdef POSIX_FADV_SEQUENTIAL
    if (!input.stream) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  auto plain = std::make_unique<FdStream>(fd, owned);
  std::string_view head = plain->peek(4);
  if (!plain->error().empty()) {
    error = plain->error();
    return nullptr;
  }
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(head[i]); };
  std::unique_ptr<ByteStream> decompressed;
  if (head.size() >= 2 && byte(0) == 0x1F && byte(1) == 0x8B) {
    decompressed = std::make_unique<GzipStream>(std::move(plain), input.size);
  } else if (head.size() >= 4 && byte(0) == 0x28 && byte(1) == 0xB5 && byte(2) == 0x2F && byte(3) == 0xFD) {
    decompressed = std::make_unique<ZstdStream>(std::move(plain), input.size);
  } else if (const Utf16Start utf16 = detect_utf16(head); utf16.found) {
    char bom[2];
    plain->read(bom, utf16.bom_bytes);
    return std::make_unique<Utf16Stream>(std::move(plain), utf16.big_endian, utf16.bom_bytes);
  } else {
    return plain;
  }
  // The decompressed text may be UTF-16 too.
  char start[4];
  const std::size_t got = decompressed->read_full(start, sizeof start);
  const Utf16Start utf16 = detect_utf16(std::string_view(start, got));
  auto rest = std::make_unique<PrefixStream>(std::move(decompressed),
                                             std::string(start + utf16.bom_bytes, got - utf16.bom_bytes));
  if (!utf16.found) return rest;
  return std::make_unique<Utf16Stream>(std::move(rest), utf16.big_endian, utf16.bom_bytes);
}

}  // namespace sigscope

namespace sigscope {

namespace {
// Grows `block`'s buffer to hold `bytes` of text and simdjson's padding.
void reserve_padded(LineBlock& block, std::size_t bytes) {
  if (block.buffer.size() < bytes + simdjson::SIMDJSON_PADDING) block.buffer.resize(bytes + simdjson::SIMDJSON_PADDING);
}
}  // namespace

LineBlockReader::LineBlockReader(ByteStream& stream, std::string prefix, std::size_t block_size, std::size_t max_line)
    : stream_(stream), carry_(std::move(prefix)), block_size_(block_size), max_line_(std::max(max_line, block_size)) {
  if (std::string_view(carry_).substr(0, 3) == "\xEF\xBB\xBF") {
    // Keep offsets true to the input: the mark becomes blanks, which the
    // line reader skips.
    carry_.replace(0, 3, "   ");
  }
}

bool LineBlockReader::next(LineBlock& block) {
  block.size = 0;
  block.oversized.clear();
  block.holds_values = false;
  block.values.clear();
  block.skipped_values.clear();
  block.first_line = line_;
  block.offset = offset_;
  if (end_ && carry_.empty()) return false;

  std::size_t capacity = std::max(block_size_, carry_.size());
  auto reserve = [&](std::size_t bytes) { reserve_padded(block, bytes); };
  reserve(capacity);
  std::memcpy(block.buffer.data(), carry_.data(), carry_.size());
  std::size_t filled = carry_.size();
  carry_.clear();

  std::size_t text_end = 0;
  while (true) {
    if (!end_ && filled < capacity) {
      std::size_t got = stream_.read_full(block.buffer.data() + filled, capacity - filled);
      if (got < capacity - filled) end_ = true;
      filled += got;
    }
    const char* data = block.buffer.data();
    const void* last = filled > 0 ? ::memrchr(data, '\n', filled) : nullptr;
    if (last) {
      text_end = static_cast<std::size_t>(static_cast<const char*>(last) - data) + 1;
      break;
    }
    if (end_) {
      text_end = filled;  // the last line has no line break
      break;
    }
    if (capacity < max_line_) {
      // One line is longer than the block: grow up to the line limit.
      capacity = std::min(max_line_, capacity * 2);
      reserve(capacity);
      continue;
    }
    // The line exceeds the limit: skip it up to its line break.
    block.oversized.emplace_back(line_, offset_);
    std::uint64_t skipped = filled;
    std::size_t rest = 0;
    while (true) {
      std::size_t got = stream_.read_full(block.buffer.data(), capacity);
      const void* nl = got > 0 ? std::memchr(block.buffer.data(), '\n', got) : nullptr;
      if (nl) {
        std::size_t upto = static_cast<std::size_t>(static_cast<const char*>(nl) - block.buffer.data()) + 1;
        skipped += upto;
        rest = got - upto;
        std::memmove(block.buffer.data(), block.buffer.data() + upto, rest);
        break;
      }
      skipped += got;
      if (got < capacity) {
        end_ = true;
        break;
      }
    }
    ++line_;
    offset_ += skipped;
    // The block starts after the skipped line, or holds nothing when the
    // input ended there.
    block.first_line = line_;
    block.offset = offset_;
    filled = rest;
    if (end_ && filled == 0) {
      text_end = 0;
      break;
    }
  }
  carry_.assign(block.buffer.data() + text_end, filled - text_end);
  block.size = text_end;
  std::memset(block.buffer.data() + text_end, 0, simdjson::SIMDJSON_PADDING);
  const char* p = block.buffer.data();
  const char* stop = p + text_end;
  while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(stop - p)))) != nullptr) {
    ++line_;
    ++p;
  }
  offset_ += text_end;
  return block.size > 0 || !block.oversized.empty();
}

void LineBlockReader::read_rest(std::string& out) {
  out += carry_;
  carry_.clear();
  if (end_) return;
  char buffer[1 << 16];
  while (std::size_t got = stream_.read(buffer, sizeof buffer)) out.append(buffer, got);
  end_ = true;
}

}  // namespace sigscope

namespace sigscope {

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Blanks CloudTrail's `{"Records": [` opening at the start of text[0, n)
// (after blanks), keeping line breaks so offsets and line numbers stay true.
// Returns whether it was there.
bool blank_records_opening(char* text, std::size_t n) {
  std::size_t i = 0;
  auto skip = [&] {
    while (i < n && is_json_space(text[i])) ++i;
  };
  skip();
  const std::size_t start = i;
  if (i >= n || text[i] != '{') return false;
  ++i;
  skip();
  constexpr std::string_view kKey = "\"Records\"";
  if (std::string_view(text + i, n - i).substr(0, kKey.size()) != kKey) return false;
  i += kKey.size();
  skip();
  if (i >= n || text[i] != ':') return false;
  ++i;
  skip();
  if (i >= n || text[i] != '[') return false;
  ++i;
  for (std::size_t k = start; k < i; ++k)
    if (text[k] != '\n') text[k] = ' ';
  return true;
}

}  // namespace

JsonValueBlockReader::JsonValueBlockReader(ByteStream& stream, std::string prefix, std::size_t block_size,
                                           std::size_t max_value)
    : stream_(stream), carry_(std::move(prefix)), block_size_(block_size), max_value_(std::max(max_value, block_size)) {}

namespace {
// Returns the position of the first byte at or after `pos` that can end or
// escape a string or count a line ('"', '\\', '\n'), or `n`. Strings are most
// of a JSON value's bytes, so they are skipped eight bytes at a time.
std::size_t skip_plain_string_bytes(const char* text, std::size_t pos, std::size_t n) {
  for (; pos + 8 <= n; pos += 8) {
    const std::uint64_t w = unaligned_load64(text + pos);
    if (bytes_equal(w, '"') | bytes_equal(w, '\\') | bytes_equal(w, '\n')) break;
  }
  while (pos < n && text[pos] != '"' && text[pos] != '\\' && text[pos] != '\n') ++pos;
  return pos;
}
}  // namespace

bool JsonValueBlockReader::scan_value(const char* text, std::size_t& pos, std::size_t n, Scan& scan,
                                      std::uint64_t& lines) {
  switch (scan.kind) {
    case Scan::Kind::Scalar:
      // true, false, null, a number, or stray bytes: up to the next blank or
      // structural character, and at least one byte.
      if (!scan.started && pos < n) {
        scan.started = true;
        ++pos;
      }
      while (pos < n) {
        const char c = text[pos];
        if (is_json_space(c) || c == ',' || c == ']' || c == '}' || c == '[' || c == '{' || c == '"') return true;
        ++pos;
      }
      return false;
    case Scan::Kind::String:
      if (!scan.started && pos < n) {
        scan.started = true;
        scan.in_string = true;
        ++pos;  // the opening quote
      }
      [[fallthrough]];
    case Scan::Kind::Container:
      while (pos < n) {
        if (scan.in_string && !scan.escape) pos = skip_plain_string_bytes(text, pos, n);
        if (pos >= n) break;
        const char c = text[pos++];
        if (c == '\n') ++lines;
        if (scan.in_string) {
          if (scan.escape) {
            scan.escape = false;
          } else if (c == '\\') {
            scan.escape = true;
          } else if (c == '"') {
            scan.in_string = false;
            if (scan.kind == Scan::Kind::String) return true;
          }
          continue;
        }
        if (c == '"') {
          scan.in_string = true;
        } else if (c == '{' || c == '[') {
          ++scan.depth;
        } else if ((c == '}' || c == ']') && --scan.depth == 0) {
          return true;
        }
      }
      return false;
  }
  return false;
}

bool JsonValueBlockReader::next(LineBlock& block) {
  block.size = 0;
  block.oversized.clear();
  block.values.clear();
  block.skipped_values.clear();
  block.nul_runs.clear();
  block.holds_values = true;
  block.first_line = line_;
  block.offset = offset_;
  if (end_ && carry_.empty()) return false;

  std::size_t capacity = std::max(block_size_, carry_.size());
  auto reserve = [&](std::size_t bytes) { reserve_padded(block, bytes); };
  reserve(capacity);
  std::memcpy(block.buffer.data(), carry_.data(), carry_.size());
  std::size_t filled = carry_.size();
  carry_.clear();
  // Offsets below are into block.buffer, whose first byte is input byte offset_.
  std::size_t pos = in_value_ ? carry_scanned_ : 0;
  std::size_t value_begin = 0;  // start of the value being scanned, when in_value_
  std::size_t cut = 0;          // bytes of the buffer that this block takes
  bool full = false;
  while (true) {
    if (!end_ && filled < capacity) {
      std::size_t got = stream_.read_full(block.buffer.data() + filled, capacity - filled);
      if (got < capacity - filled) end_ = true;
      filled += got;
    }
    char* data = block.buffer.data();
    if (!started_ && (filled > 0 || end_)) {
      // The start of the input: a UTF-8 byte order mark becomes blanks, and
      // so does CloudTrail's opening, whose Records become the values.
      started_ = true;
      if (std::string_view(data, filled).substr(0, 3) == "\xEF\xBB\xBF") std::memset(data, ' ', 3);
      if (blank_records_opening(data, filled)) {
        level_ = Level::Array;
        records_wrapper_ = true;
      }
    }
    while (pos < filled && !full) {
      if (in_value_) {
        if (!scan_value(data, pos, filled, scan_, line_)) break;
        block.values.push_back({static_cast<std::uint32_t>(value_begin), static_cast<std::uint32_t>(pos - value_begin),
                                record_, value_line_, offset_ + value_begin});
        in_value_ = false;
        cut = pos;
        full = pos >= block_size_;
        continue;
      }
      const char c = data[pos];
      if (is_json_space(c)) {
        if (c == '\n') ++line_;
        cut = ++pos;
        continue;
      }
      if (c == '\0') {
        // NUL bytes between values (a log preallocated, or cut by a crash)
        // separate them like blanks, and are listed for a warning, as in
        // JSON lines. Before, they started a value that failed to parse and
        // shifted the numbers of the values after it.
        std::size_t run = pos;
        while (run < filled && data[run] == '\0') ++run;
        block.nul_runs.push_back({line_, offset_ + pos, run - pos});
        cut = pos = run;
        continue;
      }
      if (level_ == Level::Array && (c == ',' || c == ']')) {
        if (c == ']') {
          level_ = records_wrapper_ ? Level::RecordsEnd : Level::Top;
          records_wrapper_ = false;
        }
        cut = ++pos;
        continue;
      }
      if ((level_ == Level::RecordsEnd && c == '}') || (level_ == Level::Top && c == '[')) {
        level_ = c == '[' ? Level::Array : Level::Top;
        cut = ++pos;
        continue;
      }
      // A value starts here.
      in_value_ = true;
      value_begin = pos;
      value_line_ = line_;
      ++record_;
      scan_ = Scan{};
      if (c == '{' || c == '[') {
        scan_.kind = Scan::Kind::Container;
      } else if (c == '"') {
        scan_.kind = Scan::Kind::String;
      } else {
        scan_.kind = Scan::Kind::Scalar;
      }
    }
    if (full) break;
    if (end_) {
      if (in_value_) {
        // Cut short by the end of the input: the parser reports it.
        block.values.push_back({static_cast<std::uint32_t>(value_begin),
                                static_cast<std::uint32_t>(filled - value_begin), record_, value_line_,
                                offset_ + value_begin});
        in_value_ = false;
      }
      cut = filled;
      break;
    }
    // The buffer is scanned to its end and more input is needed.
    if (!in_value_) {
      if (!block.values.empty()) break;
      offset_ += filled;  // only blanks and separators: drop them
      block.offset = offset_;
      filled = pos = cut = 0;
      continue;
    }
    if (!block.values.empty()) {
      cut = value_begin;  // the unfinished value goes to the next block
      break;
    }
    if (value_begin > 0) {
      std::memmove(block.buffer.data(), block.buffer.data() + value_begin, filled - value_begin);
      filled -= value_begin;
      pos -= value_begin;
      offset_ += value_begin;
      block.offset = offset_;
      value_begin = cut = 0;
    }
    if (filled >= max_value_) {
      skip_oversized(block, filled);
      pos = cut = 0;
      continue;
    }
    if (filled >= capacity) {
      capacity = std::min(max_value_, capacity * 2);
      reserve(capacity);
    }
  }
  carry_.assign(block.buffer.data() + cut, filled - cut);
  carry_scanned_ = in_value_ ? pos - cut : 0;
  offset_ += cut;
  block.size = cut;
  return !block.values.empty() || !block.skipped_values.empty() || !block.nul_runs.empty();
}

// The value at the start of the buffer (`filled` bytes of it so far) is longer
// than max_value_: reads on to its end without keeping it, and lists it.
void JsonValueBlockReader::skip_oversized(LineBlock& block, std::size_t& filled) {
  const std::uint64_t value_offset = offset_;
  std::uint64_t bytes = filled;
  char* data = block.buffer.data();
  const std::size_t chunk = block_size_;
  filled = 0;
  while (!end_) {
    const std::size_t got = stream_.read_full(data, chunk);
    if (got < chunk) end_ = true;
    std::size_t p = 0;
    if (scan_value(data, p, got, scan_, line_)) {
      bytes += p;
      std::memmove(data, data + p, got - p);
      filled = got - p;
      break;
    }
    bytes += got;
  }
  block.skipped_values.push_back({record_, value_line_, value_offset, bytes});
  in_value_ = false;
  offset_ = value_offset + bytes;
  block.offset = offset_;
}

}  // namespace sigscope
