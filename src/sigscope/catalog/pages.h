// Pages of the catalog site besides the index and the rule pages: the ATT&CK
// heatmap and the provider pages. Each page loads its behaviour from
// assets/*.js files (no inline scripts or handlers, so a strict
// Content-Security-Policy of script-src 'self' holds).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sigscope/analysis/catalog.h"

namespace sigscope {

// <!DOCTYPE html> up to and including <body class="...">. `root` is the
// relative path from the page to the site root ("" or "../").
std::string site_page_head(std::string_view title, std::string_view root, std::string_view body_class);

// The navigation bar shared by the site's pages; `current` names the page
// ("rules", "attack", "providers") shown as current.
std::string site_nav(std::string_view root, std::string_view current);

// attack.html: the ATT&CK Enterprise matrix as a heatmap of rule counts by
// technique and sub-technique (assets/attack.js filters it and lists the
// rules of a clicked cell).
std::string attack_page_html(const Catalog& catalog);

struct SitePage {
  std::string path;  // relative to the site root
  std::string html;
};

// File name stem of a channel's provider page: "Microsoft-Windows-Sysmon/
// Operational" -> "microsoft-windows-sysmon-operational".
std::string provider_page_slug(const std::string& channel);

// providers.html and providers/<slug>.html: per log provider and channel,
// the event ids with their titles, the fields each carries with the rules
// using each field, and the rules each event feeds.
std::vector<SitePage> provider_pages(const Catalog& catalog);

}  // namespace sigscope
