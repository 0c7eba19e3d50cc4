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

// The escaper skips eight clean bytes at a time; every byte that needs
// escaping must be found wherever it falls in a word.
TEST(Text, JsonStringEscapesAtEveryWordPosition) {
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f", "\x7f", "\xc3\xa4", "\xff"};
  const std::string escaped[] = {"\\\"", "\\\\", "\\n", "\\u0000", "\\u001f", "\\u007f", "\xc3\xa4", "\\u00ff"};
  for (std::size_t k = 0; k < std::size(specials); ++k) {
    for (std::size_t at = 0; at < 20; ++at) {
      const std::string text = std::string(at, 'a') + specials[k] + std::string(19 - at, 'b');
      std::string out;
      append_json_string(out, text);
      EXPECT_EQ(out, "\"" + std::string(at, 'a') + escaped[k] + std::string(19 - at, 'b') + "\"")
          << "special " << k << " at " << at;
    }
  }
  // Bytes next to the class limits stay plain.
  std::string out;
  append_json_string(out, " !#[]~ !#[]~ !#[]~");
  EXPECT_EQ(out, "\" !#[]~ !#[]~ !#[]~\"");
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

#include "sigscope/rules/yaml.h"

namespace sigscope {
namespace {

// libfyaml 0.7.12 misreads single-quoted scalars with runs of '' escapes:
// SigmaHQ's proc_creation_win_hktl_crackmapexec_powershell_obfuscation.yml
// writes '( $env:ComSpec[4,*,25]-Join'''')' and got "-Join'''" instead of
// "-Join'')". Fuzzing found the same bug returning bytes past the scalar.
TEST(YamlSingleQuoted, RunsOfEscapedQuotes) {
  DiagnosticList diagnostics;
  auto docs = parse_yaml_stream(
      "a: '( $env:ComSpec[4,*,25]-Join'''')'\n"
      "b: 'Rem''''''''ove-cimInstance -Option ReadOnly'\n"
      "c: 'it''s'\n"
      "d: 'two\n  lines'\n",
      "t.yml", diagnostics);
  ASSERT_EQ(docs.size(), 1u);
  const YamlNode& root = docs[0].root;
  EXPECT_EQ(root.find("a")->text, "( $env:ComSpec[4,*,25]-Join'')");
  EXPECT_EQ(root.find("b")->text, "Rem''''ove-cimInstance -Option ReadOnly");
  EXPECT_EQ(root.find("c")->text, "it's");
  EXPECT_EQ(root.find("d")->text, "two lines");  // folded by libfyaml
}

}  // namespace
}  // namespace sigscope
