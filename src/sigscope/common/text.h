// Text helpers shared by every stage: UTF-8 case folding, escaping and small
// string utilities.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace sigscope {

// Reads 8 or 4 bytes at `p`, which need not be aligned. Fixed-size memcpy
// compiles to one load, where a variable-length one is a library call.
inline std::uint64_t unaligned_load64(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline std::uint32_t unaligned_load32(const char* p) {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// A fast 64-bit hash for short strings such as field names and values, for
// in-memory tables only (not stable across versions, not collision-resistant).
// It reads eight bytes per step with fixed-size loads only, since a
// variable-length memcpy becomes a library call.
inline std::uint64_t short_hash(std::string_view s) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  const char* p = s.data();
  const std::size_t n = s.size();
  auto load32 = [](const char* q) { return static_cast<std::uint64_t>(unaligned_load32(q)); };
  auto mix = [&](std::uint64_t h, std::uint64_t word) {
    h = (h ^ word) * kMul;
    return h ^ (h >> 29);
  };
  std::uint64_t h = (n + 1) * kMul;
  if (n >= 8) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) h = mix(h, unaligned_load64(p + i));
    if (i < n) h = mix(h, unaligned_load64(p + n - 8));  // the last eight bytes, overlapping
  } else if (n >= 4) {
    h = mix(h, load32(p) << 32 | load32(p + n - 4));
  } else if (n > 0) {
    h = mix(h, static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16 |
                   static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
                   static_cast<unsigned char>(p[n - 1]));
  }
  return h ^ (h >> 32);
}

// Returns true when the `n` bytes at `a` and `b` are equal. Up to 16 bytes
// are compared with two fixed-size loads from each side, because memcmp is a
// library call. Longer runs use memcmp.
inline bool same_bytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8 && n <= 16)
    return unaligned_load64(a) == unaligned_load64(b) && unaligned_load64(a + n - 8) == unaligned_load64(b + n - 8);
  if (n >= 4 && n < 8)
    return unaligned_load32(a) == unaligned_load32(b) && unaligned_load32(a + n - 4) == unaligned_load32(b + n - 4);
  if (n < 4) {
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  return std::memcmp(a, b, n) == 0;
}

// A 64-bit word with every byte 0x01, for testing eight bytes at a time.
inline constexpr std::uint64_t kEachByte = 0x0101010101010101ull;

// Returns a mask with the high bit set in each byte of `w` that equals `c`.
// The lowest flagged byte is exact, but bytes above a match may be flagged
// too, so test the mask against zero or take its lowest set bit.
inline std::uint64_t bytes_equal(std::uint64_t w, unsigned char c) {
  const std::uint64_t x = w ^ (kEachByte * c);
  return (x - kEachByte) & ~x & (kEachByte * 0x80);
}

// Returns true when `s` contains a space. Short strings such as field names
// are tested a word at a time with fixed-size loads, as in same_bytes.
inline bool has_space(std::string_view s) {
  const char* p = s.data();
  const std::size_t n = s.size();
  if (n >= 8) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
      if (bytes_equal(unaligned_load64(p + i), ' ')) return true;
    // The last eight bytes, overlapping the ones tested.
    return i < n && bytes_equal(unaligned_load64(p + n - 8), ' ');
  }
  if (n >= 4) {
    const std::uint64_t w = static_cast<std::uint64_t>(unaligned_load32(p)) << 32 | unaligned_load32(p + n - 4);
    return bytes_equal(w, ' ') != 0;
  }
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] == ' ') return true;
  return false;
}

// Returns true when every byte of `s` is below 0x80.
bool is_ascii(std::string_view s);

// Folds `s` for case-insensitive comparison with Unicode simple case folding
// (ICU u_foldCase), so "Ä" and "ä" compare equal. ASCII input takes a fast
// path. Invalid UTF-8 bytes are copied unchanged.
std::string fold_case(std::string_view s);

// Appends fold_case(s) to `out` without allocating when `out` has capacity.
void fold_case_append(std::string_view s, std::string& out);

// ASCII-only lower-casing.
std::string ascii_lower(std::string_view s);

// Decodes one UTF-8 code point at s[i], advancing i. Returns U+FFFD on
// invalid input and advances by one byte.
char32_t decode_utf8(std::string_view s, std::size_t& i);
void append_utf8(char32_t cp, std::string& out);

// Escapes &, <, >, " and ' for HTML text and attribute values, and replaces
// control characters other than tab, CR and LF with U+FFFD.
std::string html_escape(std::string_view s);

// Escapes a string for Markdown table cells (| and newlines).
std::string markdown_cell(std::string_view s);

std::string_view trim(std::string_view s);
bool starts_with_ci(std::string_view s, std::string_view prefix);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Returns `s` with control characters (C0 other than tab, DEL and the C1
// range) written as \xHH or \u00HH, so text from rules and logs cannot send
// escape sequences to a terminal.
std::string escape_control_characters(std::string_view s);

// Returns true when `name` matches `pattern`, where `*` stands for any run of
// characters and every other character for itself (case-sensitive).
bool glob_match(std::string_view pattern, std::string_view name);

// Returns `s` for quoting in a message: text longer than `max_bytes` is cut
// at a UTF-8 boundary and ends with "... (N bytes)", so hostile input cannot
// flood the terminal.
std::string quote_for_message(std::string_view s, std::size_t max_bytes = 200);

// Appends `s` as a JSON string literal (quotes included). Bytes that are not
// valid UTF-8 are written as \u00XX escapes so the output stays valid JSON.
void append_json_string(std::string& out, std::string_view s);

// The maximum number of bytes write_json_string writes for a string of `size` bytes.
constexpr std::size_t json_string_bound(std::size_t size) { return 6 * size + 2; }
// Writes `s` as append_json_string does at `p`, which must have room for
// json_string_bound(s.size()) bytes, and returns the end of what it wrote.
char* write_json_string(char* p, std::string_view s);

// Standard Base64 (RFC 4648) with padding.
std::string base64_encode(std::string_view bytes);

// Returns the optimal string alignment distance of `a` and `b`: the
// Levenshtein distance, with a swap of two adjacent characters as one edit.
std::size_t osa_distance(std::string_view a, std::string_view b);

// Returns the name in `known` closest to `name` by osa_distance, compared in
// ASCII lower case, when it is near enough to be a typo of it. Near enough is
// one edit for every four characters of `name`, at least one and at most
// three. Returns an empty string when no name is that near.
std::string closest_name(std::string_view name, const std::vector<std::string>& known);

// Returns `n` followed by `one` when n is 1 and by `many` otherwise, such as
// "1 rule" or "3 rules".
std::string plural(std::size_t n, std::string_view one, std::string_view many);

}  // namespace sigscope
