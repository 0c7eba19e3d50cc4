// overlap.html of the catalog site: equivalent and subsumed rule pairs (see
// analysis/overlap.h) with links to the rule pages and the reason, literal by
// literal. Static HTML without scripts.
#pragma once

#include <string>

#include "sigscope/analysis/catalog.h"
#include "sigscope/analysis/overlap.h"

namespace sigscope {

// Renders the page for an analysis of catalog.rules.
std::string overlap_page_html(const Catalog& catalog, const OverlapReport& report);

// Analyses catalog.rules and renders the page.
std::string overlap_page_html(const Catalog& catalog);

}  // namespace sigscope
