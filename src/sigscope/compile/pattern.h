// Sigma string values as parsed patterns: runs of literal text, `*` (any run
// of characters, newlines included) and `?` (exactly one character).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sigscope {

struct PatternPiece {
  enum class Kind { Literal, AnyRun, AnyChar, Placeholder };
  Kind kind = Kind::Literal;
  std::string text;  // Literal: the characters (UTF-8 or raw bytes); Placeholder: its name

  bool operator==(const PatternPiece&) const = default;
};

class Pattern {
 public:
  Pattern() = default;
  explicit Pattern(std::vector<PatternPiece> pieces) : pieces_(std::move(pieces)) {}

  // Parses a Sigma value: `*` and `?` are wildcards, and a backslash escapes
  // only `*`, `?` and another backslash. Any other backslash is literal, so
  // '\\\\' is two backslashes and 'C:\p' keeps its backslash. With
  // `placeholders`, `%name%` becomes a placeholder piece (the expand modifier).
  static Pattern parse(std::string_view value, bool placeholders = false);
  // A pattern that matches exactly `text`, with no wildcards.
  static Pattern literal(std::string_view text);

  const std::vector<PatternPiece>& pieces() const { return pieces_; }
  bool empty() const { return pieces_.empty(); }
  bool has_wildcards() const;
  bool has_placeholders() const;
  // True when the pattern is one literal run (or empty).
  bool is_literal() const;
  // The concatenated literal text; wildcards are left out.
  std::string literal_text() const;
  // Renders back to Sigma syntax with escapes, e.g. "C:\\*.exe".
  std::string to_sigma() const;

  void append_literal(std::string_view text);
  void append(PatternPiece::Kind kind, std::string_view text = {});

  bool operator==(const Pattern&) const = default;

 private:
  std::vector<PatternPiece> pieces_;
};

}  // namespace sigscope
