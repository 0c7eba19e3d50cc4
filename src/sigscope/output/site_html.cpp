#include "sigscope/output/site_html.h"

#include "sigscope/output/page_text.h"

#include <cctype>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

std::string site_page_head(std::string_view title, std::string_view root, std::string_view body_class) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{}"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<link rel=\"stylesheet\" href=\"{}assets/catalog.css\">\n</head>\n<body class=\"{}\">\n",
      content_security_policy_meta(), html_escape(title), root, body_class);
}

std::string site_nav(std::string_view root, std::string_view current) {
  static const std::vector<std::tuple<std::string, std::string, std::string>> kPages = {
      {"rules", "index.html", "Detection rules"},
      {"attack", "attack.html", "ATT&amp;CK heatmap"},
      {"providers", "providers.html", "Providers and events"},
      {"overlap", "overlap.html", "Overlapping rules"}};
  std::string out = "<nav class=\"site-nav\">";
  for (const auto& [key, href, label] : kPages) {
    const char* marker = key == current ? " aria-current=\"page\"" : "";
    out += fmt::format("<a href=\"{}{}\"{}>{}</a>", root, href, marker, label);
  }
  out += "</nav>\n";
  return out;
}

std::string provider_page_slug(const std::string& channel) {
  std::string out;
  for (unsigned char c : channel) {
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "channel" : out;
}

std::string list_title(std::string_view title, std::size_t limit) {
  std::size_t code_points = 0;
  for (std::size_t i = 0; i < title.size(); ++i) {
    // Count lead bytes only, so the cut never splits a UTF-8 sequence.
    if ((static_cast<unsigned char>(title[i]) & 0xC0) == 0x80) continue;
    if (code_points++ == limit) return std::string(title.substr(0, i)) + "\u2026";
  }
  return std::string(title);
}

}  // namespace sigscope
