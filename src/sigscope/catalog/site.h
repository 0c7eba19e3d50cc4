// The static catalog site: index.html with search, filters and sorting,
// one HTML and one JSON page per rule, an ATT&CK heatmap, an ATT&CK
// Navigator layer and index.json. Works opened from file:// and served.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "sigscope/analysis/catalog.h"
#include "sigscope/common/diagnostics.h"

namespace sigscope {

struct SiteStats {
  std::size_t pages = 0;        // rule pages written (HTML and JSON count as one)
  std::size_t files = 0;        // all files written
  std::size_t write_errors = 0;
};

// Writes the site into `out_dir` (created when missing; existing rule pages
// are overwritten). `summary` is stored in index.json and shown on the index.
// Write failures are added to `diagnostics`.
SiteStats write_site(const Catalog& catalog, const std::string& out_dir, const nlohmann::json& summary,
                     DiagnosticList& diagnostics, unsigned threads = 0);

}  // namespace sigscope
