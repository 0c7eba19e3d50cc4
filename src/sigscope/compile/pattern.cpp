#include "sigscope/compile/pattern.h"

namespace sigscope {

void Pattern::append_literal(std::string_view text) {
  if (text.empty()) return;
  if (!pieces_.empty() && pieces_.back().kind == PatternPiece::Kind::Literal) {
    pieces_.back().text += text;
  } else {
    pieces_.push_back({PatternPiece::Kind::Literal, std::string(text)});
  }
}

void Pattern::append(PatternPiece::Kind kind, std::string_view text) {
  if (kind == PatternPiece::Kind::Literal) {
    append_literal(text);
    return;
  }
  // Consecutive `*` collapse into one.
  if (kind == PatternPiece::Kind::AnyRun && !pieces_.empty() &&
      pieces_.back().kind == PatternPiece::Kind::AnyRun)
    return;
  pieces_.push_back({kind, std::string(text)});
}

Pattern Pattern::parse(std::string_view value, bool placeholders) {
  Pattern p;
  std::string literal;
  auto flush = [&] {
    p.append_literal(literal);
    literal.clear();
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\') {
      if (i + 1 < value.size() && (value[i + 1] == '*' || value[i + 1] == '?' || value[i + 1] == '\\')) {
        literal.push_back(value[i + 1]);
        ++i;
      } else {
        literal.push_back('\\');
      }
    } else if (c == '*') {
      flush();
      p.append(PatternPiece::Kind::AnyRun);
    } else if (c == '?') {
      flush();
      p.append(PatternPiece::Kind::AnyChar);
    } else if (c == '%' && placeholders) {
      std::size_t end = value.find('%', i + 1);
      if (end != std::string_view::npos && end > i + 1) {
        flush();
        p.append(PatternPiece::Kind::Placeholder, value.substr(i + 1, end - i - 1));
        i = end;
      } else {
        literal.push_back(c);
      }
    } else {
      literal.push_back(c);
    }
  }
  flush();
  return p;
}

Pattern Pattern::literal(std::string_view text) {
  Pattern p;
  p.append_literal(text);
  return p;
}

bool Pattern::has_wildcards() const {
  for (const auto& piece : pieces_)
    if (piece.kind == PatternPiece::Kind::AnyRun || piece.kind == PatternPiece::Kind::AnyChar)
      return true;
  return false;
}

bool Pattern::has_placeholders() const {
  for (const auto& piece : pieces_)
    if (piece.kind == PatternPiece::Kind::Placeholder) return true;
  return false;
}

bool Pattern::is_literal() const {
  return pieces_.empty() || (pieces_.size() == 1 && pieces_[0].kind == PatternPiece::Kind::Literal);
}

std::string Pattern::literal_text() const {
  std::string out;
  for (const auto& piece : pieces_)
    if (piece.kind == PatternPiece::Kind::Literal) out += piece.text;
  return out;
}

std::string Pattern::to_sigma() const {
  std::string out;
  for (const auto& piece : pieces_) {
    switch (piece.kind) {
      case PatternPiece::Kind::Literal:
        for (std::size_t i = 0; i < piece.text.size(); ++i) {
          char c = piece.text[i];
          if (c == '*' || c == '?') {
            out.push_back('\\');
          } else if (c == '\\') {
            // A backslash needs escaping only where it would otherwise escape
            // the next character: before *, ?, \ or at the end of a piece
            // followed by a wildcard.
            bool next_special = i + 1 < piece.text.size()
                                    ? (piece.text[i + 1] == '*' || piece.text[i + 1] == '?' ||
                                       piece.text[i + 1] == '\\')
                                    : (&piece != &pieces_.back());
            if (next_special) out.push_back('\\');
          }
          out.push_back(c);
        }
        break;
      case PatternPiece::Kind::AnyRun: out.push_back('*'); break;
      case PatternPiece::Kind::AnyChar: out.push_back('?'); break;
      case PatternPiece::Kind::Placeholder:
        out.push_back('%');
        out += piece.text;
        out.push_back('%');
        break;
    }
  }
  return out;
}

}  // namespace sigscope
