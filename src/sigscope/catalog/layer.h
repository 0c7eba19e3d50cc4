// ATT&CK Navigator layers (format 4.5) of a catalog. Each technique or
// sub-technique a rule is tagged with gets one entry, scored by rule count or
// by the highest rule level. The entry lists its rules' ids and titles in the
// metadata and links to their catalog pages.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "sigscope/analysis/catalog.h"

namespace sigscope {

struct LayerOptions {
  std::string score = "count";  // "count": rules per technique; "level": highest rule level (1-5)
  // Prefix of the links to rule pages ("https://example.org/catalog/");
  // empty: links relative to the catalog root ("rules/<slug>.html").
  std::string base_url;
  std::string name = "sigscope rule coverage";
};

// Deprecated and unsupported rules and filter rules are left out of coverage:
// they do not alert in production rule sets. Correlation rules count, since
// they alert with their own tags.
bool counts_for_coverage(const RulePage& page);

// Level as a score: informational 1, low 2, medium 3, high 4, critical 5, else 0.
int level_score(const std::string& level);

nlohmann::json navigator_layer(const Catalog& catalog, const LayerOptions& options = {});

}  // namespace sigscope
