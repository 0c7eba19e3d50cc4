// HTML pieces shared by the catalog site's pages: the document head, the
// navigation bar and the file names of provider pages, which rule pages
// link to.
#pragma once

#include <string>
#include <string_view>

namespace sigscope {

// Writes <!DOCTYPE html> up to and including <body class="...">. `root` is
// the relative path from the page to the site root ("" or "../").
std::string site_page_head(std::string_view title, std::string_view root, std::string_view body_class);

// Writes the navigation bar of the site's pages. `current` names the page
// shown as current ("rules", "attack", "providers"), or is empty.
std::string site_nav(std::string_view root, std::string_view current);

// Returns the file name stem of a channel's provider page, e.g.
// "Microsoft-Windows-Sysmon/Operational" -> "microsoft-windows-sysmon-operational".
// NOTE: names that differ only in letter case or punctuation share a page;
// the bundled tables have no such pair.
std::string provider_page_slug(const std::string& channel);

}  // namespace sigscope
