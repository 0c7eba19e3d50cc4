// Text rendering of EVTX Binary XML values into a reusable byte buffer.
// Internal to the EVTX reader. evtx.h documents the formats chosen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "sigscope/input/event.h"

namespace sigscope::evtx {

// Value type codes of Binary XML (MS-EVEN6). Bit 0x80 marks an array.
enum : std::uint8_t {
  kTypeNull = 0x00,
  kTypeString = 0x01,
  kTypeAnsiString = 0x02,
  kTypeInt8 = 0x03,
  kTypeUInt8 = 0x04,
  kTypeInt16 = 0x05,
  kTypeUInt16 = 0x06,
  kTypeInt32 = 0x07,
  kTypeUInt32 = 0x08,
  kTypeInt64 = 0x09,
  kTypeUInt64 = 0x0a,
  kTypeReal32 = 0x0b,
  kTypeReal64 = 0x0c,
  kTypeBool = 0x0d,
  kTypeBinary = 0x0e,
  kTypeGuid = 0x0f,
  kTypeSizeT = 0x10,
  kTypeFileTime = 0x11,
  kTypeSysTime = 0x12,
  kTypeSid = 0x13,
  kTypeHexInt32 = 0x14,
  kTypeHexInt64 = 0x15,
  kTypeEvtHandle = 0x20,
  kTypeBinXml = 0x21,
  kTypeEvtXml = 0x23,
  kTypeArrayFlag = 0x80,
};

// Growable byte buffer that, unlike std::string, does not zero-fill when
// reserving room, and keeps its capacity on clear().
class TextBuffer {
 public:
  // Returns a pointer to room for at least `n` more bytes. The caller then
  // commit()s the number of bytes actually written.
  char* reserve_tail(std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    return data_.get() + size_;
  }
  void commit(std::size_t n) { size_ += n; }

  void append(std::string_view text) {
    // An empty view may have a null data(), which memcpy must not get.
    if (text.empty()) return;
    std::memcpy(reserve_tail(text.size()), text.data(), text.size());
    size_ += text.size();
  }
  void push_back(char c) {
    *reserve_tail(1) = c;
    ++size_;
  }

  // Shrinks the content to its first `n` bytes (n <= size()).
  void truncate(std::size_t n) { size_ = n; }
  // Empties the buffer and resets replaced_units().
  void clear() {
    size_ = 0;
    replaced_units_ = 0;
  }
  // Unpaired UTF-16 surrogates that append_utf16 wrote as U+FFFD since the
  // last clear().
  std::size_t replaced_units() const { return replaced_units_; }
  void count_replaced_unit() { ++replaced_units_; }
  std::size_t size() const { return size_; }
  const char* data() const { return data_.get(); }
  std::string_view view(std::size_t offset, std::size_t length) const {
    return {data_.get() + offset, length};
  }

 private:
  void grow(std::size_t n);

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t replaced_units_ = 0;
};

inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // EVTX is little-endian, as are the supported hosts
}
inline std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Appends `units` UTF-16LE code units from `p` as UTF-8. Unpaired
// surrogates become U+FFFD and are counted in out.replaced_units().
void append_utf16(TextBuffer& out, const std::uint8_t* p, std::size_t units);

// Appends a Unicode code point as UTF-8 (invalid ones as U+FFFD).
void append_code_point(TextBuffer& out, std::uint32_t cp);

// Appends a FILETIME (100 ns ticks since 1601-01-01 UTC) as
// "YYYY-MM-DDTHH:MM:SS.fffffffZ".
void append_filetime(TextBuffer& out, std::uint64_t ticks);

// Renders one scalar value of Binary XML type `type` (array flag cleared)
// from `size` bytes at `p` and sets `value_type` to its event-model type.
// Returns false, appending nothing, when `size` does not fit the type.
// Strings lose their trailing NUL characters. BinXml values (0x21) are
// decoded by the caller, not here.
bool render_scalar(TextBuffer& out, std::uint8_t type, const std::uint8_t* p, std::size_t size,
                   ValueType& value_type);

// Returns the fixed item size of an array element type, or 0 for
// variable-sized types (strings, SIDs, binary).
std::size_t fixed_item_size(std::uint8_t type);

// Returns the byte length of the SID at `p`, or 0 when `size` bytes cannot
// hold a SID.
std::size_t sid_length(const std::uint8_t* p, std::size_t size);

}  // namespace sigscope::evtx
