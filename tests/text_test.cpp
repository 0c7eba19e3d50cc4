#include <gtest/gtest.h>

#include "sigscope/common/text.h"

namespace sigscope {
namespace {

TEST(Text, FoldCaseUnicode) {
  EXPECT_EQ(fold_case("CMD.EXE"), "cmd.exe");
  EXPECT_EQ(fold_case("ÄBC"), "äbc");
  EXPECT_EQ(fold_case("ΣΊΣΥΦΟΣ"), "σίσυφοσ");
  EXPECT_EQ(fold_case("\xff\xfe"), "\xff\xfe");  // invalid UTF-8 kept
}

TEST(Text, IsAsciiWordAndTail) {
  EXPECT_TRUE(is_ascii("0123456789abcdefghij"));
  EXPECT_FALSE(is_ascii("0123456789abcdefä"));
  EXPECT_FALSE(is_ascii("ä"));
  EXPECT_FALSE(is_ascii("01234567\x80"));
  EXPECT_TRUE(is_ascii(""));
}

TEST(Text, JsonStringEscapes) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01\x7f") + "\xc3\xa4" + "\xff" + "z");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\xc3\xa4\\u00ffz\"");
}

TEST(Text, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
}

TEST(Text, HtmlEscape) { EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"); }

}  // namespace
}  // namespace sigscope
