#include <gtest/gtest.h>

#include "sigscope/compile/pattern.h"

namespace sigscope {
namespace {

using Kind = PatternPiece::Kind;

TEST(PatternParse, PlainLiteral) {
  Pattern p = Pattern::parse("cmd.exe");
  ASSERT_EQ(p.pieces().size(), 1u);
  EXPECT_EQ(p.pieces()[0].kind, Kind::Literal);
  EXPECT_EQ(p.pieces()[0].text, "cmd.exe");
  EXPECT_TRUE(p.is_literal());
}

TEST(PatternParse, StarAndQuestionMark) {
  Pattern p = Pattern::parse("a*b?c");
  ASSERT_EQ(p.pieces().size(), 5u);
  EXPECT_EQ(p.pieces()[1].kind, Kind::AnyRun);
  EXPECT_EQ(p.pieces()[3].kind, Kind::AnyChar);
  EXPECT_TRUE(p.has_wildcards());
}

TEST(PatternParse, EscapedWildcardsAreLiteral) {
  Pattern p = Pattern::parse(R"(a\*b\?c)");
  ASSERT_TRUE(p.is_literal());
  EXPECT_EQ(p.literal_text(), "a*b?c");
}

TEST(PatternParse, FourBackslashesAreTwo) {
  Pattern p = Pattern::parse(R"(\\\\.\pipe\)");
  ASSERT_TRUE(p.is_literal());
  EXPECT_EQ(p.literal_text(), R"(\\.\pipe\)");
}

TEST(PatternParse, BackslashBeforeOtherCharStays) {
  EXPECT_EQ(Pattern::parse(R"(C:\Windows\p)").literal_text(), R"(C:\Windows\p)");
}

TEST(PatternParse, TrailingBackslashIsLiteral) {
  Pattern p = Pattern::parse(R"(\pipe\)");
  ASSERT_TRUE(p.is_literal());
  EXPECT_EQ(p.literal_text(), R"(\pipe\)");
}

TEST(PatternParse, EscapedBackslashBeforeStar) {
  // \\* is a literal backslash followed by a wildcard.
  Pattern p = Pattern::parse(R"(dir\\*)");
  ASSERT_EQ(p.pieces().size(), 2u);
  EXPECT_EQ(p.pieces()[0].text, R"(dir\)");
  EXPECT_EQ(p.pieces()[1].kind, Kind::AnyRun);
}

TEST(PatternParse, ConsecutiveStarsCollapse) {
  Pattern p = Pattern::parse("a**b");
  EXPECT_EQ(p.pieces().size(), 3u);
}

TEST(PatternParse, PlaceholdersOnlyWhenAsked) {
  EXPECT_TRUE(Pattern::parse("%Admins%").is_literal());
  Pattern p = Pattern::parse("x%Admins%y", true);
  ASSERT_EQ(p.pieces().size(), 3u);
  EXPECT_EQ(p.pieces()[1].kind, Kind::Placeholder);
  EXPECT_EQ(p.pieces()[1].text, "Admins");
}

TEST(PatternRender, RoundTripsThroughSigmaNotation) {
  for (const char* text : {R"(C:\Windows\*.exe)", R"(a\*b)", R"(\\\\.\pipe\)", "x?y", R"(dir\\*)"}) {
    Pattern p = Pattern::parse(text);
    EXPECT_EQ(Pattern::parse(p.to_sigma()), p) << text << " rendered as " << p.to_sigma();
  }
}

TEST(PatternRender, PlainPathUnchanged) {
  EXPECT_EQ(Pattern::parse(R"(C:\Windows\System32\inetsrv\iissetup.exe)").to_sigma(),
            R"(C:\Windows\System32\inetsrv\iissetup.exe)");
}

}  // namespace
}  // namespace sigscope
