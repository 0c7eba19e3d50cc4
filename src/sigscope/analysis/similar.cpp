// Similar rules ("related rules" on the pages): rules that match on the same indicators (field, kind and
// value), found through the corpus's indicator -> pages index. Each rule
// walks only the posting lists of its own indicators, so the cost follows
// the number of shared pairs, not the square of the corpus size.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "sigscope/analysis/catalog.h"
#include "sigscope/common/text.h"

namespace sigscope {

namespace {
std::string describe(const Indicator& ind) {
  std::string field = ind.field.empty() ? "keyword" : ind.field;
  return field + " " + ind.kind + " " + ind.value;
}
}  // namespace

std::vector<SimilarRule> similar_rules(const RulePage& page, const Catalog& catalog, std::size_t self,
                                       std::size_t limit) {
  struct Score {
    int shared = 0;
    double rarity = 0;  // sum of 1/(rules carrying the indicator)
    std::vector<std::size_t> via;  // indexes into page.indicators (first three)
  };
  std::unordered_map<std::size_t, Score> scores;
  std::vector<std::string> seen;
  for (std::size_t k = 0; k < page.indicators.size(); ++k) {
    const std::string& key = page.indicators[k].key;
    // Indicators repeat with different modifiers; count each key once.
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    auto it = catalog.indicator_pages.find(key);
    if (it == catalog.indicator_pages.end()) continue;
    double weight = 1.0 / static_cast<double>(it->second.size());
    for (std::uint32_t other : it->second) {
      if (other == self) continue;
      // A copy of the rule itself (same file and document) is not related.
      const Rule& o = catalog.pages[other].rule->rule;
      if (self == SIZE_MAX && same_rule_document(o, page.rule->rule)) continue;
      Score& s = scores[other];
      ++s.shared;
      s.rarity += weight;
      if (s.via.size() < 3) s.via.push_back(k);
    }
  }
  std::vector<std::pair<std::size_t, Score*>> ranked;
  ranked.reserve(scores.size());
  for (auto& [index, score] : scores) ranked.emplace_back(index, &score);
  auto better = [&](const auto& a, const auto& b) {
    if (a.second->shared != b.second->shared) return a.second->shared > b.second->shared;
    if (a.second->rarity != b.second->rarity) return a.second->rarity > b.second->rarity;
    const std::string& ta = catalog.pages[a.first].rule->rule.title;
    const std::string& tb = catalog.pages[b.first].rule->rule.title;
    if (ta != tb) return ta < tb;
    return a.first < b.first;
  };
  std::size_t n = std::min(limit, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n), ranked.end(), better);
  std::vector<SimilarRule> out;
  for (std::size_t i = 0; i < n; ++i) {
    const RulePage& other = catalog.pages[ranked[i].first];
    SimilarRule r;
    r.index = ranked[i].first;
    r.slug = other.slug;
    r.id = other.rule->rule.id;
    r.title = other.rule->rule.title;
    r.level = other.rule->rule.level;
    r.shared = ranked[i].second->shared;
    for (std::size_t k : ranked[i].second->via) r.examples.push_back(describe(page.indicators[k]));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sigscope
