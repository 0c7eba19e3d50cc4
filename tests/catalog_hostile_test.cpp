// A corpus of hostile rules (script tags, javascript: links, event handler
// attributes, path traversal in ids, a 1 MiB title, control characters) must
// render as inert text. No generated page may contain a script other than
// the site's own files, an event handler attribute or a javascript: link,
// and every page carries the Content-Security-Policy.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "sigscope/common/text.h"
#include "test_support.h"

namespace sigscope {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;
using testing::TempDir;

const char* kScriptRule = R"(title: <script>alert(1)</script> Title
id: 3a1c0f9e-6b2d-4e8f-9a7c-5d4e3f2a1b0c
status: test
level: high
description: <img src=x onerror=alert(2)> and </td></tr></table><script>alert(3)</script>
author: '"><svg onload=alert(4)>'
references:
  - javascript:alert(5)
  - JaVaScRiPt:alert(6)
  - ' javascript:alert(7)'
  - 'https://ok.example/"><script>alert(8)</script>'
  - data:text/html,<script>alert(9)</script>
tags:
  - attack.execution
  - attack.t1059"><script>alert(10)</script>
falsepositives:
  - </li><script>alert(11)</script>
related:
  - id: javascript:alert(12)//
    type: derived
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: '<script>alert(13)</script>'
    '<b onmouseover=alert(14)>': x
  condition: selection
)";

const char* kTraversalRule = R"(title: Path traversal id
id: ../../../../tmp/sigscope-escape
level: low
logsource:
  product: windows
detection:
  selection:
    Image: x
  condition: selection
)";

const char* kControlRule = "title: \"control \\x01\\x07\\x1b[31m characters\\0 \"\n"
                           "id: 7c2d1e0f-9a8b-4c6d-8e5f-1a2b3c4d5e6f\n"
                           "level: low\n"
                           "description: \"line\\rbreak \\x7f delete\"\n"
                           "logsource:\n  product: windows\n"
                           "detection:\n  selection:\n    Image: \"\\x02x\"\n  condition: selection\n";

std::string huge_title_rule() {
  return "title: " + std::string(1u << 20, 'A') +
         "\nid: 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\nlevel: low\nlogsource:\n  product: windows\n"
         "detection:\n  selection:\n    Image: x\n  condition: selection\n";
}

class CatalogHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("rules/script.yml", kScriptRule);
    dir_.write("rules/traversal.yml", kTraversalRule);
    dir_.write("rules/control.yml", kControlRule);
    dir_.write("rules/huge.yml", huge_title_rule());
    out_ = dir_.path() / "site";
    auto r = run_cli({"catalog", (dir_.path() / "rules").string(), "--out", out_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::vector<fs::path> html_pages() const {
    std::vector<fs::path> pages;
    for (const auto& e : fs::recursive_directory_iterator(out_))
      if (e.path().extension() == ".html") pages.push_back(e.path());
    return pages;
  }

  TempDir dir_;
  fs::path out_;
};

TEST_F(CatalogHostile, PagesHoldNoActiveContent) {
  const std::regex script_tag(R"(<script\b[^>]*>)");
  const std::regex allowed_script(R"(<script src="assets/[a-z-]+\.js">)");
  const std::regex handler_attribute(R"(<[^>]*\son[a-z]+\s*=)");
  const std::regex javascript_url(R"((href|src|action)\s*=\s*"\s*(javascript|data|vbscript):)");
  auto pages = html_pages();
  ASSERT_GE(pages.size(), 6u);  // index, heatmap, four rule pages
  for (const auto& page : pages) {
    std::string html = ascii_lower(testing::read_file(page));
    for (auto it = std::sregex_iterator(html.begin(), html.end(), script_tag); it != std::sregex_iterator(); ++it)
      EXPECT_TRUE(std::regex_match(it->str(), allowed_script)) << page << ": " << it->str();
    EXPECT_FALSE(std::regex_search(html, handler_attribute)) << page;
    EXPECT_FALSE(std::regex_search(html, javascript_url)) << page;
  }
}

TEST_F(CatalogHostile, EveryPageSetsTheContentSecurityPolicy) {
  for (const auto& page : html_pages()) {
    std::string html = testing::read_file(page);
    std::size_t head_end = html.find("</head>");
    std::size_t csp = html.find("<meta http-equiv=\"Content-Security-Policy\"");
    ASSERT_NE(csp, std::string::npos) << page;
    EXPECT_LT(csp, head_end) << page;
    std::string policy = html.substr(csp, html.find('>', csp) - csp);
    EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
    EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << policy;
    EXPECT_NE(policy.find("object-src 'none'"), std::string::npos) << policy;
    EXPECT_NE(policy.find("base-uri 'none'"), std::string::npos) << policy;
  }
}

TEST_F(CatalogHostile, HostileTextIsShownEscaped) {
  std::string page = testing::read_file(out_ / "rules" / "3a1c0f9e-6b2d-4e8f-9a7c-5d4e3f2a1b0c.html");
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt; Title"), std::string::npos);
  // javascript: references are listed as text, not as links.
  EXPECT_NE(page.find("<li>javascript:alert(5)</li>"), std::string::npos);
  EXPECT_NE(page.find("<code>javascript:alert(12)//</code>"), std::string::npos);
  EXPECT_NE(page.find("href=\"https://ok.example/&quot;&gt;&lt;script&gt;"), std::string::npos);
}

TEST_F(CatalogHostile, JsonKeepsTheExactText) {
  auto page = nlohmann::json::parse(testing::read_file(out_ / "rules" / "3a1c0f9e-6b2d-4e8f-9a7c-5d4e3f2a1b0c.json"));
  EXPECT_EQ(page["title"], "<script>alert(1)</script> Title");
  auto index = nlohmann::json::parse(testing::read_file(out_ / "index.json"));
  EXPECT_EQ(index["rules"].size(), 4u);
}

TEST_F(CatalogHostile, IdsCannotEscapeTheSite) {
  EXPECT_FALSE(fs::exists(dir_.path() / "tmp"));
  for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
    std::string relative = fs::relative(e.path(), dir_.path()).string();
    EXPECT_TRUE(relative.starts_with("rules") || relative.starts_with("site")) << relative;
  }
}

TEST_F(CatalogHostile, ControlCharactersAreReplaced) {
  std::string page = testing::read_file(out_ / "rules" / "7c2d1e0f-9a8b-4c6d-8e5f-1a2b3c4d5e6f.html");
  EXPECT_NE(page.find("control \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD[31m characters"), std::string::npos);
  for (char c : page) {
    unsigned char u = static_cast<unsigned char>(c);
    EXPECT_FALSE((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F) << static_cast<int>(u);
  }
}

TEST_F(CatalogHostile, HugeTitleRenders) {
  std::string page = testing::read_file(out_ / "rules" / "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0.html");
  EXPECT_NE(page.find(std::string(1u << 20, 'A')), std::string::npos);
}

}  // namespace
}  // namespace sigscope
