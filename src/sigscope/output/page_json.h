// JSON form of catalog pages (rules/<slug>.json and index.json). The schema is
// documented in docs/catalog-json.md.
#pragma once

#include <nlohmann/json.hpp>

#include "sigscope/analysis/catalog.h"

namespace sigscope {

// Full page data of one rule.
nlohmann::json rule_page_json(const RulePage& page);

// One row of the catalog index: the fields the index page filters and sorts on.
nlohmann::json index_entry_json(const RulePage& page);

// The whole catalog index with summary counts.
nlohmann::json catalog_index_json(const Catalog& catalog, const nlohmann::json& summary);

// A YAML node as JSON: mappings become objects, sequences arrays, scalars strings.
nlohmann::json yaml_to_json(const YamlNode& node);

}  // namespace sigscope
