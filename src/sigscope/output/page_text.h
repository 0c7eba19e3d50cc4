// Human-readable renderings of a rule page: Markdown (sigscope explain) and
// HTML (the catalog site). Every piece of rule text is escaped.
#pragma once

#include <string>

#include "sigscope/analysis/catalog.h"

namespace sigscope {

// The page as Markdown, with the same sections as the HTML page.
std::string rule_page_markdown(const RulePage& page);

// Returns the <meta> element with the catalog's Content-Security-Policy, which
// every generated HTML page puts in its <head> right after the charset. It
// allows scripts, styles and images only from the site's own files: inline
// <script>, event handler attributes (onclick=...), style attributes and
// javascript: URLs are blocked, as are plugins, <base> and form submission.
std::string content_security_policy_meta();

// The page as a standalone HTML document. `root` is the relative path from
// the page to the site root ("../" for pages under rules/).
// `catalog`, when given, names the rules behind each indicator's corpus count.
std::string rule_page_html(const RulePage& page, const std::string& root, const Catalog* catalog = nullptr);

// YAML source as HTML with <span> classes for keys, strings, comments,
// modifiers and list markers. The text itself is HTML-escaped.
std::string highlight_yaml(std::string_view yaml);

}  // namespace sigscope
