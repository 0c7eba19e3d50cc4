#include "sigscope/condition/parser.h"

#include <fmt/format.h>

#include <variant>
#include <vector>

namespace sigscope {

namespace {

enum class TokenKind { Word, LParen, RParen, End };

struct Token {
  TokenKind kind;
  std::string_view text;
  int offset;
};

bool is_word_char(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_' || c == '*' || c == '-' || c == '.' ||
         c == '?' || c == '$' || c == '@';
}

// Splits the condition into words and parentheses. Keywords are whole words:
// "orgs" or "android" are identifiers, not operators.
std::variant<std::vector<Token>, ConditionParseError> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '(') {
      tokens.push_back({TokenKind::LParen, text.substr(i, 1), static_cast<int>(i)});
      ++i;
      continue;
    }
    if (c == ')') {
      tokens.push_back({TokenKind::RParen, text.substr(i, 1), static_cast<int>(i)});
      ++i;
      continue;
    }
    if (is_word_char(c)) {
      std::size_t start = i;
      while (i < text.size() && is_word_char(text[i])) ++i;
      tokens.push_back({TokenKind::Word, text.substr(start, i - start), static_cast<int>(start)});
      continue;
    }
    return ConditionParseError{fmt::format("unexpected character '{}' in condition", c),
                               static_cast<int>(i)};
  }
  tokens.push_back({TokenKind::End, {}, static_cast<int>(text.size())});
  return tokens;
}

bool is_keyword(std::string_view w) {
  return w == "and" || w == "or" || w == "not" || w == "of" || w == "all" || w == "any" ||
         w == "them";
}

bool is_count(std::string_view w) {
  if (w == "any") return true;
  if (w.empty()) return false;
  for (char c : w)
    if (c < '0' || c > '9') return false;
  return true;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::variant<ConditionAst, ConditionParseError> parse() {
    ConditionAst ast = parse_or();
    if (error_) return *error_;
    if (peek().kind != TokenKind::End) {
      const Token& t = peek();
      if (t.kind == TokenKind::RParen)
        return ConditionParseError{"unbalanced ')' in condition", t.offset};
      return ConditionParseError{
          fmt::format("expected 'and', 'or' or the end of the condition, found '{}'", t.text),
          t.offset};
    }
    return ast;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool peek_word(std::string_view w) const {
    return peek().kind == TokenKind::Word && peek().text == w;
  }
  void fail(std::string message, int offset) {
    if (!error_) error_ = ConditionParseError{std::move(message), offset};
  }

  ConditionAst parse_or() {
    ConditionAst left = parse_and();
    if (!peek_word("or")) return left;
    ConditionAst node;
    node.op = ConditionAst::Op::Or;
    node.offset = left.offset;
    node.children.push_back(std::move(left));
    while (!error_ && peek_word("or")) {
      next();
      node.children.push_back(parse_and());
    }
    return node;
  }

  ConditionAst parse_and() {
    ConditionAst left = parse_not();
    if (!peek_word("and")) return left;
    ConditionAst node;
    node.op = ConditionAst::Op::And;
    node.offset = left.offset;
    node.children.push_back(std::move(left));
    while (!error_ && peek_word("and")) {
      next();
      node.children.push_back(parse_not());
    }
    return node;
  }

  // Counts one level of "not" or parentheses; false, with an error, past
  // kMaxConditionDepth, so hostile conditions cannot exhaust the stack.
  bool enter(int offset) {
    if (++depth_ <= kMaxConditionDepth) return true;
    fail(fmt::format("the condition nests 'not' and parentheses deeper than {} levels", kMaxConditionDepth),
         offset);
    return false;
  }

  ConditionAst parse_not() {
    if (peek_word("not")) {
      int offset = next().offset;
      ConditionAst node;
      node.op = ConditionAst::Op::Not;
      node.offset = offset;
      if (!enter(offset)) return node;
      node.children.push_back(parse_not());
      --depth_;
      return node;
    }
    return parse_primary();
  }

  ConditionAst parse_primary() {
    const Token& t = peek();
    ConditionAst node;
    node.offset = t.offset;
    if (t.kind == TokenKind::LParen) {
      next();
      if (!enter(node.offset)) return node;
      node = parse_or();
      --depth_;
      if (error_) return node;
      if (peek().kind != TokenKind::RParen) {
        fail(peek().kind == TokenKind::End
                 ? "missing ')' at the end of the condition"
                 : fmt::format("expected ')', found '{}'", peek().text),
             peek().offset);
        return node;
      }
      next();
      return node;
    }
    if (t.kind == TokenKind::End) {
      fail("the condition ends where an identifier or '(' is expected", t.offset);
      return node;
    }
    if (t.kind == TokenKind::RParen) {
      fail("unexpected ')' where an identifier or '(' is expected", t.offset);
      return node;
    }
    // Quantifier: "1 of x", "any of x", "all of x".
    if ((t.text == "all" || is_count(t.text)) && pos_ + 1 < tokens_.size() &&
        tokens_[pos_ + 1].kind == TokenKind::Word && tokens_[pos_ + 1].text == "of") {
      std::string_view quantifier = next().text;
      next();  // of
      const Token& target = peek();
      if (target.kind != TokenKind::Word || (is_keyword(target.text) && target.text != "them")) {
        fail(fmt::format("'{} of' must be followed by an identifier pattern or 'them'", quantifier),
             target.offset);
        return node;
      }
      next();
      if (quantifier != "all" && quantifier != "any" && quantifier != "1") {
        fail(fmt::format("'{} of' is not supported; Sigma allows '1 of', 'any of' and 'all of'",
                         quantifier),
             t.offset);
        return node;
      }
      node.op = quantifier == "all" ? ConditionAst::Op::AllOf : ConditionAst::Op::OneOf;
      node.name = std::string(target.text);
      return node;
    }
    if (is_keyword(t.text)) {
      fail(fmt::format("unexpected keyword '{}' where an identifier is expected", t.text),
           t.offset);
      return node;
    }
    next();
    node.op = ConditionAst::Op::Identifier;
    node.name = std::string(t.text);
    return node;
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;  // open "not" and parenthesis levels
  std::optional<ConditionParseError> error_;
};

void render(const ConditionAst& ast, std::string& out, int parent_prec) {
  using Op = ConditionAst::Op;
  switch (ast.op) {
    case Op::Identifier: out += ast.name; return;
    case Op::OneOf: out += "1 of " + ast.name; return;
    case Op::AllOf: out += "all of " + ast.name; return;
    case Op::Not:
      out += "not ";
      render(ast.children[0], out, 3);
      return;
    case Op::And:
    case Op::Or: {
      int prec = ast.op == Op::And ? 2 : 1;
      if (prec < parent_prec) out += '(';
      for (std::size_t i = 0; i < ast.children.size(); ++i) {
        if (i) out += ast.op == Op::And ? " and " : " or ";
        render(ast.children[i], out, prec);
      }
      if (prec < parent_prec) out += ')';
      return;
    }
  }
}

}  // namespace

std::string to_string(const ConditionAst& ast) {
  std::string out;
  render(ast, out, 0);
  return out;
}

std::variant<ParsedCondition, ConditionParseError> parse_condition(std::string_view text) {
  ParsedCondition result;
  // A pipe starts an obsolete Sigma 1.x aggregation ("... | count() > 5").
  std::string_view search = text;
  if (std::size_t pipe = text.find('|'); pipe != std::string_view::npos) {
    search = text.substr(0, pipe);
    std::string_view rest = text.substr(pipe + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\n' || rest.back() == '\r'))
      rest.remove_suffix(1);
    result.aggregation = LegacyAggregation{std::string(rest)};
  }
  auto tokens = tokenize(search);
  if (auto* err = std::get_if<ConditionParseError>(&tokens)) return *err;
  auto& list = std::get<std::vector<Token>>(tokens);
  if (list.size() == 1) return ConditionParseError{"the condition is empty", 0};
  Parser parser(std::move(list));
  auto parsed = parser.parse();
  if (auto* err = std::get_if<ConditionParseError>(&parsed)) return *err;
  result.ast = std::move(std::get<ConditionAst>(parsed));
  return result;
}

}  // namespace sigscope
