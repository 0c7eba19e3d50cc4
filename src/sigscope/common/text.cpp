#include "sigscope/common/text.h"

#include <algorithm>
#include <array>

#include <unicode/uchar.h>

#include <cstring>

#include <fmt/format.h>

namespace sigscope {

bool is_ascii(std::string_view s) {
  // Eight bytes at a time: any byte with its high bit set is non-ASCII.
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t any = 0;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    any |= word;
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    any |= static_cast<unsigned char>(*p++);
    --n;
  }
  return (any & 0x8080808080808080ull) == 0;
}

char32_t decode_utf8(std::string_view s, std::size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  unsigned char c = p[i];
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = 0;
  char32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + len > n) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    unsigned char cc = p[i + k];
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += len;
  return cp;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void fold_case_append(std::string_view s, std::string& out) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    // Runs of ASCII bytes (nearly every value) are lowered in bulk.
    std::size_t run = i;
    while (run < n && static_cast<unsigned char>(s[run]) < 0x80) ++run;
    if (run > i) {
      std::size_t at = out.size();
      out.resize(at + (run - i));
      char* dst = out.data() + at;
      for (std::size_t k = i; k < run; ++k) {
        char c = s[k];
        *dst++ = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      }
      i = run;
      if (i == n) break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t start = i;
    char32_t cp = decode_utf8(s, i);
    if (cp == 0xFFFD && i == start + 1) {
      out.push_back(static_cast<char>(c));  // keep invalid bytes as they are
      continue;
    }
    append_utf8(static_cast<char32_t>(u_foldCase(static_cast<UChar32>(cp), U_FOLD_CASE_DEFAULT)), out);
  }
}

std::string fold_case(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  fold_case_append(s, out);
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab and line breaks are HTML parse
        // errors; they are shown as U+FFFD.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
          out += "\xEF\xBF\xBD";
        else
          out.push_back(c);
    }
  }
  return out;
}

std::string markdown_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += "<br>";
    else if (c == '\r') continue;
    else out.push_back(c);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a + 32);
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b + 32);
    if (a != b) return false;
  }
  return true;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string escape_control_characters(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(s[i + 1]));
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string quote_for_message(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  std::size_t cut = max_bytes;
  // Step back over UTF-8 continuation bytes so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return fmt::format("{}... ({} bytes)", s.substr(0, cut), s.size());
}

char* write_json_string(char* p, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr auto kPlain = [] {
    std::array<bool, 256> plain{};
    for (int c = 0x20; c < 0x7F; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return plain;
  }();
  const char* in = s.data();
  const std::size_t n = s.size();
  *p++ = '"';
  std::size_t i = 0;
  while (i < n) {
    // Copy the run of bytes that need no escaping. Eight bytes at a time, a
    // 64-bit word test flags the bytes that need escaping (below 0x20, 0x7F
    // and above, a quote, a backslash). A flag can be wrong only above a true
    // one, so the lowest flag is the first such byte. The whole word is
    // stored and only its clean part kept: there is room, since every byte
    // still to come may take six.
    auto escape_flags = [](std::uint64_t w) {
      return ((w - kEachByte * 0x20) | w | bytes_equal(w, 0x7F) | bytes_equal(w, '"') | bytes_equal(w, '\\')) &
             (kEachByte * 0x80);
    };
    bool found = false;
    while (i + 8 <= n) {
      const std::uint64_t w = unaligned_load64(in + i);
      const std::uint64_t flags = escape_flags(w);
      std::memcpy(p, in + i, 8);
      if (flags) {
        const std::size_t clean = static_cast<std::size_t>(__builtin_ctzll(flags)) >> 3;
        p += clean;
        i += clean;
        found = true;
        break;
      }
      p += 8;
      i += 8;
    }
    const std::size_t rest = n - i;
    if (!found && rest >= 2 && (n >= 8 || rest >= 4)) {
      // The last 2 to 7 bytes are tested as one word too, ignoring its empty
      // top bytes. The word is the string's last eight bytes, shifted so they
      // come first, or for a string under 8 bytes two overlapping 4-byte
      // loads. All eight bytes are stored: two bytes still to write have room
      // for twelve.
      std::uint64_t w;
      if (n >= 8) {
        w = unaligned_load64(in + n - 8) >> (8 * (8 - rest));
      } else {
        w = unaligned_load32(in + i) | static_cast<std::uint64_t>(unaligned_load32(in + n - 4)) << (8 * (rest - 4));
      }
      const std::uint64_t flags = escape_flags(w) & ((1ull << (8 * rest)) - 1);
      std::memcpy(p, &w, 8);
      const std::size_t clean = flags ? static_cast<std::size_t>(__builtin_ctzll(flags)) >> 3 : rest;
      p += clean;
      i += clean;
    } else if (!found) {
      while (i < n && kPlain[static_cast<unsigned char>(in[i])]) *p++ = in[i++];
    }
    if (i >= n) break;
    const unsigned char c = static_cast<unsigned char>(in[i]);
    auto write_u00 = [&](unsigned char byte) {
      std::memcpy(p, "\\u00", 4);
      p[4] = kHex[byte >> 4];
      p[5] = kHex[byte & 15];
      p += 6;
    };
    if (c < 0x80) {
      char escape = 0;
      switch (c) {
        case '"': escape = '"'; break;
        case '\\': escape = '\\'; break;
        case '\n': escape = 'n'; break;
        case '\r': escape = 'r'; break;
        case '\t': escape = 't'; break;
        default: break;
      }
      if (escape) {
        p[0] = '\\';
        p[1] = escape;
        p += 2;
      } else {
        write_u00(c);
      }
      ++i;
      continue;
    }
    const std::size_t start = i;
    const char32_t cp = decode_utf8(s, i);
    if (cp == 0xFFFD && i == start + 1) {
      // Not valid UTF-8: keep the byte's value visible without breaking JSON.
      write_u00(c);
      continue;
    }
    std::memcpy(p, in + start, i - start);
    p += i - start;
  }
  *p++ = '"';
  return p;
}

void append_json_string(std::string& out, std::string_view s) {
  // Short strings are written on the stack and appended; longer ones in
  // place, after growing `out` to the bound.
  constexpr std::size_t kShort = 64;
  if (s.size() <= kShort) {
    char buffer[json_string_bound(kShort)];
    out.append(buffer, static_cast<std::size_t>(write_json_string(buffer, s) - buffer));
    return;
  }
  const std::size_t old = out.size();
  out.resize(old + json_string_bound(s.size()));
  char* end = write_json_string(out.data() + old, s);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = p[i] << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative `*` matching with backtracking to the last star.
  std::size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::size_t osa_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::string closest_name(std::string_view name, const std::vector<std::string>& known) {
  const std::string folded = ascii_lower(name);
  const std::size_t limit = std::clamp<std::size_t>(folded.size() / 4, 1, 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : known) {
    const std::size_t distance = osa_distance(folded, ascii_lower(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace sigscope
