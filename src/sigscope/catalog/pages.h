// Pages of the catalog site besides the index and the rule pages: the ATT&CK
// heatmap and the provider pages. Each page loads its behaviour from
// assets/*.js files (no inline scripts or handlers, so a strict
// Content-Security-Policy of script-src 'self' holds).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sigscope/analysis/catalog.h"
#include "sigscope/output/site_html.h"

namespace sigscope {

// attack.html: the ATT&CK Enterprise matrix as a heatmap of rule counts by
// technique and sub-technique (assets/attack.js filters it and lists the
// rules of a clicked cell).
std::string attack_page_html(const Catalog& catalog);

struct SitePage {
  std::string path;  // relative to the site root
  std::string html;
};

// providers.html and providers/<slug>.html: per log provider and channel,
// the event ids with their titles, the fields each carries with the rules
// using each field, and the rules each event feeds.
std::vector<SitePage> provider_pages(const Catalog& catalog);

}  // namespace sigscope
