#include "sigscope/input/evtx_format.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <charconv>

namespace sigscope::evtx {

void TextBuffer::grow(std::size_t n) {
  std::size_t capacity = std::max<std::size_t>(capacity_ * 2, 256);
  while (capacity - size_ < n) capacity *= 2;
  auto bigger = std::make_unique<char[]>(capacity);
  if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = capacity;
}

namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

std::size_t encode_utf8(char* out, std::uint32_t cp) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xc0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xe0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out[2] = static_cast<char>(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = static_cast<char>(0xf0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
  out[3] = static_cast<char>(0x80 | (cp & 0x3f));
  return 4;
}

template <typename T>
void append_decimal(TextBuffer& out, T value) {
  char* p = out.reserve_tail(24);
  auto result = std::to_chars(p, p + 24, value);
  out.commit(static_cast<std::size_t>(result.ptr - p));
}

void append_hex_int(TextBuffer& out, std::uint64_t value) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = kHexLower[value & 0xf];
    value >>= 4;
  } while (value != 0);
  char* p = out.reserve_tail(2 + 16);
  p[0] = '0';
  p[1] = 'x';
  for (int i = 0; i < n; ++i) p[2 + i] = digits[n - 1 - i];
  out.commit(2 + static_cast<std::size_t>(n));
}

void append_hex_bytes(TextBuffer& out, const std::uint8_t* p, std::size_t size) {
  char* q = out.reserve_tail(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    q[2 * i] = kHexUpper[p[i] >> 4];
    q[2 * i + 1] = kHexUpper[p[i] & 0xf];
  }
  out.commit(size * 2);
}

// Writes `value` as exactly `width` decimal digits, zero-padded.
void put_digits(char* p, std::uint32_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Appends "YYYY-MM-DDTHH:MM:SS.fffffffZ". A year past 9999 gets more digits.
void append_iso8601(TextBuffer& out, std::int64_t year, unsigned month, unsigned day,
                    unsigned hour, unsigned minute, unsigned second, std::uint32_t fraction7) {
  char* p = out.reserve_tail(40);
  std::size_t n = 0;
  if (year >= 0 && year <= 9999) {
    put_digits(p, static_cast<std::uint32_t>(year), 4);
    n = 4;
  } else {
    auto result = std::to_chars(p, p + 20, year);
    n = static_cast<std::size_t>(result.ptr - p);
  }
  p[n] = '-';
  put_digits(p + n + 1, month, 2);
  p[n + 3] = '-';
  put_digits(p + n + 4, day, 2);
  p[n + 6] = 'T';
  put_digits(p + n + 7, hour, 2);
  p[n + 9] = ':';
  put_digits(p + n + 10, minute, 2);
  p[n + 12] = ':';
  put_digits(p + n + 13, second, 2);
  p[n + 15] = '.';
  put_digits(p + n + 16, fraction7, 7);
  p[n + 23] = 'Z';
  out.commit(n + 24);
}

// Windows-1252 code points for bytes 0x80..0x9f. The five bytes that
// Windows-1252 leaves undefined map to the C1 control of the same value.
constexpr std::uint16_t kWindows1252High[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178};

void append_windows1252(TextBuffer& out, const std::uint8_t* p, std::size_t size) {
  char* q = out.reserve_tail(size * 3);
  std::size_t n = 0;
  for (std::size_t i = 0; i < size; ++i) {
    std::uint8_t byte = p[i];
    if (byte < 0x80) {
      q[n++] = static_cast<char>(byte);
    } else if (byte < 0xa0) {
      n += encode_utf8(q + n, kWindows1252High[byte - 0x80]);
    } else {
      n += encode_utf8(q + n, byte);
    }
  }
  out.commit(n);
}

void append_guid(TextBuffer& out, const std::uint8_t* p) {
  char* q = out.reserve_tail(38);
  std::size_t n = 0;
  q[n++] = '{';
  auto put_byte = [&](std::uint8_t b) {
    q[n++] = kHexUpper[b >> 4];
    q[n++] = kHexUpper[b & 0xf];
  };
  // Data1, Data2 and Data3 are little-endian, but Data4 is a byte string.
  for (int i = 3; i >= 0; --i) put_byte(p[i]);
  q[n++] = '-';
  put_byte(p[5]);
  put_byte(p[4]);
  q[n++] = '-';
  put_byte(p[7]);
  put_byte(p[6]);
  q[n++] = '-';
  put_byte(p[8]);
  put_byte(p[9]);
  q[n++] = '-';
  for (int i = 10; i < 16; ++i) put_byte(p[i]);
  q[n++] = '}';
  out.commit(n);
}

void append_sid(TextBuffer& out, const std::uint8_t* p) {
  unsigned count = p[1];
  std::uint64_t authority = 0;
  for (int i = 2; i < 8; ++i) authority = (authority << 8) | p[i];
  out.append("S-");
  append_decimal(out, static_cast<unsigned>(p[0]));
  out.push_back('-');
  // Like ConvertSidToStringSid, an authority of 2^32 or more is shown in hex.
  if (authority >= (std::uint64_t{1} << 32)) {
    append_hex_int(out, authority);
  } else {
    append_decimal(out, authority);
  }
  for (unsigned i = 0; i < count; ++i) {
    out.push_back('-');
    append_decimal(out, load_u32(p + 8 + 4 * i));
  }
}

void append_systemtime(TextBuffer& out, const std::uint8_t* p) {
  // SYSTEMTIME: year, month, day of week, day, hour, minute, second, ms.
  // Out-of-range fields are not rejected, and put_digits keeps their low digits.
  append_iso8601(out, load_u16(p), load_u16(p + 2), load_u16(p + 6), load_u16(p + 8),
                 load_u16(p + 10), load_u16(p + 12), (load_u16(p + 14) % 1000) * 10000u);
}

}  // namespace

void append_code_point(TextBuffer& out, std::uint32_t cp) {
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  char* q = out.reserve_tail(4);
  out.commit(encode_utf8(q, cp));
}

void append_utf16(TextBuffer& out, const std::uint8_t* p, std::size_t units) {
  char* q = out.reserve_tail(units * 3);
  std::size_t n = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  // Fast path: sixteen ASCII units at a time, packed to bytes with SSE2
  // (part of every x86-64 CPU), which covers most event text.
  while (i + 16 <= units) {
    const __m128i low = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i + 16));
    const __m128i mask = _mm_set1_epi16(static_cast<short>(0xff80));
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(_mm_or_si128(low, high), mask), _mm_setzero_si128())) != 0xffff)
      break;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + n), _mm_packus_epi16(low, high));
    n += 16;
    i += 16;
  }
#endif
  // Four ASCII units at a time.
  while (i + 4 <= units) {
    std::uint64_t four = load_u64(p + 2 * i);
    if ((four & 0xff80ff80ff80ff80ULL) != 0) break;
    q[n] = static_cast<char>(four);
    q[n + 1] = static_cast<char>(four >> 16);
    q[n + 2] = static_cast<char>(four >> 32);
    q[n + 3] = static_cast<char>(four >> 48);
    n += 4;
    i += 4;
  }
  for (; i < units; ++i) {
    std::uint32_t unit = load_u16(p + 2 * i);
    if (unit < 0x80) {
      q[n++] = static_cast<char>(unit);
      continue;
    }
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < units) {
      std::uint32_t low = load_u16(p + 2 * i + 2);
      if (low >= 0xdc00 && low <= 0xdfff) {
        // A surrogate pair takes 4 UTF-8 bytes for 2 units, within the 3-per-unit room.
        n += encode_utf8(q + n, 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
        ++i;
        continue;
      }
    }
    if (unit >= 0xd800 && unit <= 0xdfff) {
      unit = 0xfffd;
      out.count_replaced_unit();
    }
    n += encode_utf8(q + n, unit);
  }
  out.commit(n);
}

void append_filetime(TextBuffer& out, std::uint64_t ticks) {
  std::uint64_t seconds = ticks / 10000000;
  auto fraction = static_cast<std::uint32_t>(ticks % 10000000);
  // Converts days since 1970-01-01 to a civil date with H. Hinnant's
  // civil_from_days algorithm (proleptic Gregorian calendar).
  std::int64_t days = static_cast<std::int64_t>(seconds / 86400) - 134774;  // to 1970-01-01
  auto second_of_day = static_cast<unsigned>(seconds % 86400);
  days += 719468;
  std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  auto day_of_era = static_cast<unsigned>(days - era * 146097);
  unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400;
  unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  unsigned mp = (5 * day_of_year + 2) / 153;
  unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
  unsigned month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) ++year;
  append_iso8601(out, year, month, day, second_of_day / 3600, second_of_day / 60 % 60,
                 second_of_day % 60, fraction);
}

std::size_t fixed_item_size(std::uint8_t type) {
  switch (type) {
    case kTypeInt8:
    case kTypeUInt8:
      return 1;
    case kTypeInt16:
    case kTypeUInt16:
      return 2;
    case kTypeInt32:
    case kTypeUInt32:
    case kTypeReal32:
    case kTypeBool:
    case kTypeHexInt32:
      return 4;
    case kTypeInt64:
    case kTypeUInt64:
    case kTypeReal64:
    case kTypeFileTime:
    case kTypeHexInt64:
      return 8;
    case kTypeGuid:
    case kTypeSysTime:
      return 16;
    default:
      return 0;
  }
}

std::size_t sid_length(const std::uint8_t* p, std::size_t size) {
  if (size < 8) return 0;
  std::size_t length = 8 + 4 * static_cast<std::size_t>(p[1]);
  return length <= size ? length : 0;
}

bool render_scalar(TextBuffer& out, std::uint8_t type, const std::uint8_t* p, std::size_t size,
                   ValueType& value_type) {
  value_type = ValueType::String;
  std::size_t fixed = fixed_item_size(type);
  if (fixed != 0 && size != fixed) return false;
  switch (type) {
    case kTypeNull:
      return true;
    case kTypeString: {
      std::size_t units = size / 2;
      while (units > 0 && load_u16(p + 2 * (units - 1)) == 0) --units;
      append_utf16(out, p, units);
      return true;
    }
    case kTypeAnsiString: {
      while (size > 0 && p[size - 1] == 0) --size;
      append_windows1252(out, p, size);
      return true;
    }
    case kTypeInt8:
      value_type = ValueType::Number;
      append_decimal(out, static_cast<int>(static_cast<std::int8_t>(p[0])));
      return true;
    case kTypeUInt8:
      value_type = ValueType::Number;
      append_decimal(out, static_cast<unsigned>(p[0]));
      return true;
    case kTypeInt16:
      value_type = ValueType::Number;
      append_decimal(out, static_cast<int>(static_cast<std::int16_t>(load_u16(p))));
      return true;
    case kTypeUInt16:
      value_type = ValueType::Number;
      append_decimal(out, static_cast<unsigned>(load_u16(p)));
      return true;
    case kTypeInt32:
      value_type = ValueType::Number;
      append_decimal(out, static_cast<std::int32_t>(load_u32(p)));
      return true;
    case kTypeUInt32:
      value_type = ValueType::Number;
      append_decimal(out, load_u32(p));
      return true;
    case kTypeInt64:
      value_type = ValueType::Number;
      append_decimal(out, static_cast<std::int64_t>(load_u64(p)));
      return true;
    case kTypeUInt64:
      value_type = ValueType::Number;
      append_decimal(out, load_u64(p));
      return true;
    case kTypeReal32: {
      float value;
      std::memcpy(&value, p, 4);
      value_type = ValueType::Number;
      char* q = out.reserve_tail(64);
      out.commit(static_cast<std::size_t>(std::to_chars(q, q + 64, value).ptr - q));
      return true;
    }
    case kTypeReal64: {
      double value;
      std::memcpy(&value, p, 8);
      value_type = ValueType::Number;
      char* q = out.reserve_tail(64);
      out.commit(static_cast<std::size_t>(std::to_chars(q, q + 64, value).ptr - q));
      return true;
    }
    case kTypeBool:
      value_type = ValueType::Bool;
      out.append(load_u32(p) != 0 ? "true" : "false");
      return true;
    case kTypeGuid:
      append_guid(out, p);
      return true;
    case kTypeSizeT:
      if (size == 4) {
        append_hex_int(out, load_u32(p));
      } else if (size == 8) {
        append_hex_int(out, load_u64(p));
      } else {
        return false;
      }
      return true;
    case kTypeFileTime:
      append_filetime(out, load_u64(p));
      return true;
    case kTypeSysTime:
      append_systemtime(out, p);
      return true;
    case kTypeSid:
      if (sid_length(p, size) != size) return false;
      append_sid(out, p);
      return true;
    case kTypeHexInt32:
      append_hex_int(out, load_u32(p));
      return true;
    case kTypeHexInt64:
      append_hex_int(out, load_u64(p));
      return true;
    case kTypeEvtXml: {
      // NOTE: no sample of this type was available, so reading it as UTF-16 text is a guess.
      std::size_t units = size / 2;
      while (units > 0 && load_u16(p + 2 * (units - 1)) == 0) --units;
      append_utf16(out, p, units);
      return true;
    }
    case kTypeBinary:
    case kTypeEvtHandle:
    default:
      // Unknown types are shown as hex so their bytes are not lost.
      append_hex_bytes(out, p, size);
      return true;
  }
}

}  // namespace sigscope::evtx
