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

// Reads the techniques that a team wants covered into `techniques`, upper-cased.
// The file is a Navigator layer, whose entries count unless marked
// "enabled": false. Otherwise it is text: technique ids separated by spaces,
// commas or line breaks, with `#` starting a comment. Returns false and sets
// `error`, naming the line or entry, when the file cannot be read or lists
// something that is not a technique id.
bool read_baseline(const std::string& path, std::vector<std::string>& techniques, std::string& error);

// Coverage of one baseline technique. A technique is covered when a rule
// that counts for coverage is tagged with it. A rule tagged with a
// sub-technique also covers the parent, but a parent's tag does not cover
// its sub-techniques.
struct CoverageGap {
  std::string id;
  std::string name;       // from the bundled ATT&CK data; empty when it lacks the id
  std::size_t rules = 0;  // rules covering it; 0 for a gap
};
// Returns the coverage of each baseline technique, in the baseline's order.
std::vector<CoverageGap> baseline_coverage(const Catalog& catalog, const std::vector<std::string>& baseline);

// A Navigator layer of `coverage`: gaps in red, covered techniques in green
// with their rule count.
nlohmann::json gaps_layer(const std::vector<CoverageGap>& coverage, const std::string& baseline_name);

}  // namespace sigscope
