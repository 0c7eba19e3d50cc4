#include <gtest/gtest.h>

#include "sigscope/condition/parser.h"

namespace sigscope {
namespace {

ConditionAst parse_ok(const std::string& text) {
  auto result = parse_condition(text);
  if (auto* err = std::get_if<ConditionParseError>(&result)) {
    ADD_FAILURE() << "parse failed for '" << text << "': " << err->message;
    return {};
  }
  return std::get<ParsedCondition>(result).ast;
}

ConditionParseError parse_error(const std::string& text) {
  auto result = parse_condition(text);
  if (auto* err = std::get_if<ConditionParseError>(&result)) return *err;
  ADD_FAILURE() << "expected a parse error for '" << text << "'";
  return {};
}

TEST(ConditionParser, SingleIdentifier) {
  ConditionAst ast = parse_ok("selection");
  EXPECT_EQ(ast.op, ConditionAst::Op::Identifier);
  EXPECT_EQ(ast.name, "selection");
}

TEST(ConditionParser, NotBindsTighterThanAnd) {
  EXPECT_EQ(to_string(parse_ok("a and not b")), "a and not b");
  ConditionAst ast = parse_ok("not a and b");
  ASSERT_EQ(ast.op, ConditionAst::Op::And);
  EXPECT_EQ(ast.children[0].op, ConditionAst::Op::Not);
}

TEST(ConditionParser, AndBindsTighterThanOr) {
  ConditionAst ast = parse_ok("a or b and c");
  ASSERT_EQ(ast.op, ConditionAst::Op::Or);
  EXPECT_EQ(ast.children[1].op, ConditionAst::Op::And);
}

TEST(ConditionParser, ParenthesesOverridePrecedence) {
  ConditionAst ast = parse_ok("(a or b) and c");
  ASSERT_EQ(ast.op, ConditionAst::Op::And);
  EXPECT_EQ(ast.children[0].op, ConditionAst::Op::Or);
  EXPECT_EQ(to_string(ast), "(a or b) and c");
}

TEST(ConditionParser, Quantifiers) {
  EXPECT_EQ(parse_ok("1 of selection_*").op, ConditionAst::Op::OneOf);
  EXPECT_EQ(parse_ok("any of selection_*").op, ConditionAst::Op::OneOf);
  ConditionAst all = parse_ok("all of them");
  EXPECT_EQ(all.op, ConditionAst::Op::AllOf);
  EXPECT_EQ(all.name, "them");
}

TEST(ConditionParser, MiddleWildcardPattern) {
  ConditionAst ast = parse_ok("all of selection_*curl_*");
  EXPECT_EQ(ast.name, "selection_*curl_*");
}

TEST(ConditionParser, KeywordPrefixesAreIdentifiers) {
  ConditionAst ast = parse_ok("orgs and android or notes");
  ASSERT_EQ(ast.op, ConditionAst::Op::Or);
  EXPECT_EQ(ast.children[0].children[0].name, "orgs");
  EXPECT_EQ(ast.children[0].children[1].name, "android");
  EXPECT_EQ(ast.children[1].name, "notes");
}

TEST(ConditionParser, MultiLineCondition) {
  ConditionAst ast = parse_ok("selection_parent and\n(\n  1 of selection_generic_*\n)");
  EXPECT_EQ(ast.op, ConditionAst::Op::And);
}

TEST(ConditionParser, NestedNot) {
  EXPECT_EQ(to_string(parse_ok("not not a")), "not not a");
}

TEST(ConditionParser, LegacyAggregationIsKept) {
  auto result = parse_condition("selection | count(User) by Computer > 10");
  ASSERT_TRUE(std::holds_alternative<ParsedCondition>(result));
  const auto& parsed = std::get<ParsedCondition>(result);
  ASSERT_TRUE(parsed.aggregation.has_value());
  EXPECT_EQ(parsed.aggregation->text, "count(User) by Computer > 10");
  EXPECT_EQ(parsed.ast.name, "selection");
}

TEST(ConditionParser, RejectsUnbalancedParentheses) {
  EXPECT_NE(parse_error("(a and b").message.find("')'"), std::string::npos);
  EXPECT_NE(parse_error("a and b)").message.find("')'"), std::string::npos);
}

TEST(ConditionParser, RejectsDanglingOperator) {
  ConditionParseError err = parse_error("a and");
  EXPECT_EQ(err.offset, 5);
}

TEST(ConditionParser, RejectsEmpty) { parse_error("   "); }

TEST(ConditionParser, RejectsUnsupportedCount) {
  EXPECT_NE(parse_error("2 of sel*").message.find("2 of"), std::string::npos);
}

TEST(ConditionParser, RejectsOfWithoutPattern) { parse_error("1 of"); }

TEST(ConditionParser, RejectsBadCharacter) {
  ConditionParseError err = parse_error("a > b");
  EXPECT_EQ(err.offset, 2);
}

TEST(ConditionParser, ReportsOffsetOfUnexpectedKeyword) {
  EXPECT_EQ(parse_error("a or or b").offset, 5);
}

}  // namespace
}  // namespace sigscope
