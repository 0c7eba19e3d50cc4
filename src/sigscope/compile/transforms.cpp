// Value transformations of the Sigma modifiers windash, base64, base64offset
// and the UTF-16 encodings, expanded at compile time into alternative patterns.
#include <arpa/inet.h>

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"

namespace sigscope {

namespace {

// The characters windash treats as interchangeable flag prefixes: hyphen-minus,
// slash, en dash (U+2013), em dash (U+2014) and horizontal bar (U+2015).
constexpr std::string_view kDashes[] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};

// Upper bound on windash permutations for one value (5^4); more flag
// characters than that in one value is almost certainly a mistake.
constexpr std::size_t kMaxWindashAlternatives = 625;

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Length of the dash character at text[i], or 0 when there is none.
std::size_t dash_length(std::string_view text, std::size_t i) {
  for (auto d : kDashes)
    if (text.substr(i, d.size()) == d) return d.size();
  return 0;
}

// A dash is a flag character when it starts a word: the character before it
// is not a word character (or there is none) and the one after it is. This
// follows pySigma's \B[-/]\b rule, so "ms-settings" keeps its hyphen.
std::vector<Pattern> windash(const Pattern& pattern) {
  // Flatten the pattern into (piece index, byte offset, length) slots of flag dashes.
  struct Slot {
    std::size_t piece;
    std::size_t offset;
    std::size_t length;
  };
  std::vector<Slot> slots;
  const auto& pieces = pattern.pieces();
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    if (pieces[p].kind != PatternPiece::Kind::Literal) continue;
    const std::string& text = pieces[p].text;
    for (std::size_t i = 0; i < text.size();) {
      std::size_t len = dash_length(text, i);
      if (len == 0) {
        ++i;
        continue;
      }
      bool word_before = i > 0 ? is_word_byte(static_cast<unsigned char>(text[i - 1])) : false;
      bool word_after = i + len < text.size()
                            ? is_word_byte(static_cast<unsigned char>(text[i + len]))
                            : false;
      if (!word_before && word_after) slots.push_back({p, i, len});
      i += len;
    }
  }
  std::vector<Pattern> out;
  if (slots.empty()) {
    out.push_back(pattern);
    return out;
  }
  std::size_t total = 1;
  for (std::size_t k = 0; k < slots.size() && total <= kMaxWindashAlternatives; ++k) total *= 5;
  if (total > kMaxWindashAlternatives) return {};
  for (std::size_t combo = 0; combo < total; ++combo) {
    std::vector<PatternPiece> new_pieces = pieces;
    // Rewrite from the last slot backwards so earlier offsets stay valid.
    std::size_t c = combo;
    std::vector<std::size_t> choice(slots.size());
    for (std::size_t k = 0; k < slots.size(); ++k) {
      choice[k] = c % 5;
      c /= 5;
    }
    for (std::size_t k = slots.size(); k-- > 0;) {
      auto& text = new_pieces[slots[k].piece].text;
      text.replace(slots[k].offset, slots[k].length, kDashes[choice[k]]);
    }
    out.emplace_back(std::move(new_pieces));
  }
  return out;
}

std::string to_utf16(std::string_view utf8, bool big_endian) {
  std::string out;
  std::size_t i = 0;
  auto put = [&](char16_t unit) {
    char lo = static_cast<char>(unit & 0xFF), hi = static_cast<char>(unit >> 8);
    if (big_endian) {
      out.push_back(hi);
      out.push_back(lo);
    } else {
      out.push_back(lo);
      out.push_back(hi);
    }
  };
  while (i < utf8.size()) {
    char32_t cp = decode_utf8(utf8, i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put(static_cast<char16_t>(0xD800 + (cp >> 10)));
      put(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      put(static_cast<char16_t>(cp));
    }
  }
  return out;
}

Pattern map_literals(const Pattern& pattern, const std::function<std::string(std::string_view)>& f) {
  Pattern out;
  for (const auto& piece : pattern.pieces()) {
    if (piece.kind == PatternPiece::Kind::Literal) out.append_literal(f(piece.text));
    else out.append(piece.kind, piece.text);
  }
  return out;
}

}  // namespace

std::optional<std::string> apply_transform(std::string_view modifier,
                                           std::vector<Pattern>& alternatives) {
  std::vector<Pattern> out;
  if (modifier == "windash") {
    for (const auto& p : alternatives) {
      auto expanded = windash(p);
      if (expanded.empty())
        return fmt::format("windash would create more than {} variants of '{}'",
                           kMaxWindashAlternatives, p.to_sigma());
      for (auto& e : expanded) out.push_back(std::move(e));
    }
  } else if (modifier == "wide" || modifier == "utf16le") {
    for (const auto& p : alternatives)
      out.push_back(map_literals(p, [](std::string_view s) { return to_utf16(s, false); }));
  } else if (modifier == "utf16be") {
    for (const auto& p : alternatives)
      out.push_back(map_literals(p, [](std::string_view s) { return to_utf16(s, true); }));
  } else if (modifier == "utf16") {
    for (const auto& p : alternatives) {
      Pattern q = map_literals(p, [](std::string_view s) { return to_utf16(s, false); });
      Pattern with_bom = Pattern::literal("\xFF\xFE");
      for (const auto& piece : q.pieces()) with_bom.append(piece.kind, piece.text);
      out.push_back(std::move(with_bom));
    }
  } else if (modifier == "base64" || modifier == "base64offset") {
    for (const auto& p : alternatives) {
      if (!p.is_literal() || p.has_placeholders())
        return fmt::format("{} cannot encode a value with wildcards or placeholders ('{}')",
                           modifier, p.to_sigma());
      std::string value = p.literal_text();
      if (modifier == "base64") {
        out.push_back(Pattern::literal(base64_encode(value)));
        continue;
      }
      // The value can start at any of three byte offsets inside the encoded
      // data. For each shift, encode with that many filler bytes in front and
      // keep only the characters that do not depend on the neighbours.
      static constexpr std::size_t kStart[3] = {0, 2, 3};
      static constexpr int kEndTrim[3] = {0, 3, 2};  // indexed by (length + shift) % 3
      for (std::size_t shift = 0; shift < 3; ++shift) {
        std::string encoded = base64_encode(std::string(shift, ' ') + value);
        std::size_t trim_end = static_cast<std::size_t>(kEndTrim[(value.size() + shift) % 3]);
        std::size_t begin = kStart[shift];
        if (encoded.size() < begin + trim_end) continue;
        std::string needle = encoded.substr(begin, encoded.size() - trim_end - begin);
        if (!needle.empty()) out.push_back(Pattern::literal(needle));
      }
    }
  } else {
    return fmt::format("'{}' is not a value transformation", modifier);
  }
  alternatives = std::move(out);
  return std::nullopt;
}

std::optional<CidrNetwork> parse_cidr(std::string_view text) {
  text = trim(text);
  CidrNetwork net;
  std::string address;
  int prefix = -1;
  if (std::size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = std::string(text.substr(0, slash));
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
  } else {
    address = std::string(text);
  }
  if (inet_pton(AF_INET, address.c_str(), net.address.data()) == 1) {
    net.ipv6 = false;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return std::nullopt;
  } else if (inet_pton(AF_INET6, address.c_str(), net.address.data()) == 1) {
    net.ipv6 = true;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  net.prefix = prefix;
  // Clear host bits so comparisons only look at the network part.
  std::size_t bytes = net.ipv6 ? 16 : 4;
  for (std::size_t i = 0; i < bytes; ++i) {
    int bits_in_byte = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    net.address[i] &= static_cast<std::uint8_t>(0xFF00 >> bits_in_byte);
  }
  return net;
}

}  // namespace sigscope
