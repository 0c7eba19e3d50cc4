#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include "sigscope/common/spill_buffer.h"
#include "sigscope/common/text.h"
#include "test_support.h"

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

// The escaper against a plain byte-by-byte one, on random strings built
// from the bytes and sequences where escaping changes.
TEST(Text, JsonStringMatchesByteByByteEscaping) {
  auto reference = [](std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    std::size_t i = 0;
    while (i < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c >= 0x80) {
        const std::size_t start = i;
        const char32_t cp = decode_utf8(s, i);
        if (cp == 0xFFFD && i == start + 1) out += std::string("\\u00") + kHex[c >> 4] + kHex[c & 15];
        else out.append(s.substr(start, i - start));
        continue;
      }
      ++i;
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20 || c == 0x7F) out += std::string("\\u00") + kHex[c >> 4] + kHex[c & 15];
      else out.push_back(static_cast<char>(c));
    }
    return out + "\"";
  };
  const std::string pieces[] = {"a", "Z", "~", " ", "\"", "\\", "\n", "\r", "\t", std::string(1, '\0'), "\x1f", "\x7f",
                                "\xc3\xa4", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xe2\x82", "\x80",
                                "C:\\Windows\\System32", "abcdefghijklmnop"};
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::string out;
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    const std::size_t count = next() % 24;
    for (std::size_t k = 0; k < count; ++k) text += pieces[next() % std::size(pieces)];
    out = "prefix";
    append_json_string(out, text);
    ASSERT_EQ(out, "prefix" + reference(text)) << "round " << round;
  }
  // Short strings, which take their own word paths: every piece at every
  // position of every length up to 9 bytes around it.
  for (std::size_t length = 0; length <= 9; ++length)
    for (const std::string& piece : pieces)
      for (std::size_t at = 0; at <= length; ++at) {
        const std::string text = std::string(at, 'x') + piece + std::string(length - at, 'y');
        out.clear();
        append_json_string(out, text);
        ASSERT_EQ(out, reference(text)) << length << " " << at;
      }
}

// same_bytes loads fixed-size words, so it is checked against memcmp's
// result at every length and every differing position.
TEST(Text, SameBytesMatchesMemcmp) {
  const std::string base = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF";
  for (std::size_t n = 0; n <= 40; ++n) {
    EXPECT_TRUE(same_bytes(base.data(), std::string(base).data(), n)) << n;
    for (std::size_t at = 0; at < n; ++at) {
      std::string other = base;
      other[at] = '#';
      EXPECT_FALSE(same_bytes(base.data(), other.data(), n)) << n << " " << at;
    }
  }
}

// has_space tests words, so a space must be found at any position of any
// length. Bytes that differ from a space by one bit must not count as one.
TEST(Text, HasSpaceAtEveryPosition) {
  for (std::size_t n = 0; n <= 40; ++n) {
    const std::string plain(n, '!');
    EXPECT_FALSE(has_space(plain)) << n;
    EXPECT_FALSE(has_space(std::string(n, '0'))) << n;
    for (std::size_t at = 0; at < n; ++at) {
      std::string text = plain;
      text[at] = ' ';
      EXPECT_TRUE(has_space(text)) << n << " " << at;
    }
  }
}

TEST(Text, PluralAgreesWithCount) {
  EXPECT_EQ(plural(0, "rule", "rules"), "0 rules");
  EXPECT_EQ(plural(1, "rule", "rules"), "1 rule");
  EXPECT_EQ(plural(2, "rule", "rules"), "2 rules");
  EXPECT_EQ(plural(1, "rule document failed", "rule documents failed"), "1 rule document failed");
}

TEST(Text, ClosestNameWithinTypoDistance) {
  const std::vector<std::string> keys = {"category", "product", "service", "definition"};
  EXPECT_EQ(closest_name("categroy", keys), "category");
  EXPECT_EQ(closest_name("prodcut", keys), "product");
  EXPECT_EQ(closest_name("Sevice", keys), "service");
  EXPECT_EQ(closest_name("vendor", keys), "");
  // Short names allow one edit only.
  EXPECT_EQ(closest_name("x", {"id"}), "");
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

// Appends 200 pieces of 1 to 30 bytes and returns their offsets and texts.
std::vector<std::pair<std::uint64_t, std::string>> fill(SpillBuffer& buffer) {
  std::vector<std::pair<std::uint64_t, std::string>> pieces;
  for (int i = 0; i < 200; ++i) {
    std::string text(static_cast<std::size_t>(1 + i % 30), static_cast<char>('a' + i % 26));
    text += std::to_string(i);
    pieces.emplace_back(buffer.size(), text);
    buffer.append(text);
  }
  return pieces;
}

TEST(SpillBuffer, ReadsBackFromFileAndMemory) {
  testing::TempDir dir;
  SpillBuffer buffer(100, dir.path().string());
  auto pieces = fill(buffer);
  EXPECT_TRUE(buffer.error().empty()) << buffer.error();
  EXPECT_GT(buffer.file_bytes(), 0u);
  EXPECT_LT(buffer.file_bytes(), buffer.size());  // the last pieces are still in memory
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // the file was unlinked
  for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
    std::string out = "x";
    buffer.read(it->first, it->second.size(), out);
    EXPECT_EQ(out, "x" + it->second);
  }
}

TEST(SpillBuffer, StaysInMemoryWithoutFolder) {
  testing::TempDir dir;
  SpillBuffer buffer(100, (dir.path() / "missing").string());
  auto pieces = fill(buffer);
  EXPECT_NE(buffer.error().find("cannot create a temporary file in " + (dir.path() / "missing").string()),
            std::string::npos)
      << buffer.error();
  EXPECT_EQ(buffer.file_bytes(), 0u);
  for (const auto& [offset, text] : pieces) {
    std::string out;
    buffer.read(offset, text.size(), out);
    EXPECT_EQ(out, text);
  }
}

// Limits the size of files this process writes to `bytes` while it lives,
// so writes fail as on a full disk (with EFBIG instead of ENOSPC).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t old_handler_;
};

TEST(SpillBuffer, FailedWriteKeepsEveryPiece) {
  // A write cut short by a full disk left a piece's start in the file and
  // its rest in memory, and reading it back lost the piece.
  testing::TempDir dir;
  std::vector<std::pair<std::uint64_t, std::string>> pieces;
  {
    SpillBuffer buffer(100, dir.path().string());
    {
      FileSizeLimit limit(1000);
      pieces = fill(buffer);
    }
    EXPECT_NE(buffer.error().find("cannot write a temporary file in " + dir.path().string()), std::string::npos)
        << buffer.error();
    EXPECT_EQ(buffer.file_bytes(), 1000u);
    for (const auto& [offset, text] : pieces) {
      std::string out;
      EXPECT_TRUE(buffer.read(offset, text.size(), out));
      EXPECT_EQ(out, text);
    }
  }
}

}  // namespace
}  // namespace sigscope
