// The analysed corpus: every compiled rule with the facts its catalog page
// shows (ATT&CK coverage, event coverage, indicators with corpus counts,
// exclusions) and the diagnostics about it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sigscope/analysis/rule_facts.h"
#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"
#include "sigscope/taxonomy/attack.h"
#include "sigscope/taxonomy/logsources.h"

namespace sigscope {

// Another rule of the corpus that matches on some of the same indicators.
struct SimilarRule {
  std::size_t index = 0;  // position in Catalog::pages
  std::string slug, id, title, level;
  int shared = 0;                      // indicators both rules match on
  std::vector<std::string> examples;   // up to three of them, "field kind value"
};

struct RulePage {
  const CompiledRule* rule = nullptr;
  std::string slug;  // file name stem of the page: the rule id when unique and safe
  AttackCoverage attack;
  EventCoverage events;
  std::vector<Polarity> polarity;  // per stage
  std::vector<Indicator> indicators;
  std::vector<int> indicator_corpus;  // other rules with the same indicator; -1 when no corpus was given
  // Per indicator: the first kIndicatorPeers other pages (indices into
  // Catalog::pages) with the same indicator, for the count's list of rules.
  std::vector<std::vector<std::uint32_t>> indicator_peers;
  // Per entry of the rule's `related` list: the page slug of that rule, or
  // empty when the rule is not in the catalog (removed upstream, say).
  std::vector<std::string> related_slugs;
  // Per rule that a correlation or filter lists: its page slug, or empty
  // when no single rule of the catalog has that id or name.
  std::vector<std::string> referenced_slugs;
  // Correlations and filters that list this rule (indices into Catalog::pages).
  std::vector<std::uint32_t> used_by;
  std::vector<Exclusion> exclusions;
  std::vector<std::vector<int>> exclusion_corpus;  // per value: other rules excluding it too
  std::vector<Diagnostic> diagnostics;            // warnings about this rule
  // Rules sharing indicators, most shared first (at most kSimilarRules);
  // empty when no corpus was given.
  std::vector<SimilarRule> similar;
};

inline constexpr std::size_t kSimilarRules = 10;
inline constexpr std::size_t kIndicatorPeers = 25;

struct Catalog {
  std::vector<CompiledRule> rules;
  std::vector<RulePage> pages;  // parallel to rules

  // Counts of how many rules use each indicator key (see indicator_key).
  std::unordered_map<std::string, int> indicator_rules;
  std::unordered_map<std::string, int> exclusion_rules;
  // Indicator key -> pages (indexes into `pages`) carrying it, each once.
  std::unordered_map<std::string, std::vector<std::uint32_t>> indicator_pages;
};

// Returns a correlation's condition as text, e.g. "gte 10" or "field User, gt 3".
std::string correlation_condition_text(const CorrelationCondition& condition);

// Returns true when `a` and `b` are the same document of the same file,
// however the paths were spelled ("rules/x.yml", "./rules/x.yml", absolute).
bool same_rule_document(const Rule& a, const Rule& b);

// Rules of `catalog` that share indicators with `page`, ranked by how many
// they share (ties: rarer shared indicators first, then title). `self` is
// the page's own index in the catalog, skipped; SIZE_MAX when it is not in it.
std::vector<SimilarRule> similar_rules(const RulePage& page, const Catalog& catalog, std::size_t self,
                                       std::size_t limit = kSimilarRules);

// Analyses `rules` into catalog pages. `diagnostics` supplies the warnings
// shown on each rule's page (matched by file and rule id).
Catalog build_catalog(std::vector<CompiledRule> rules, const DiagnosticList& diagnostics,
                      unsigned threads = 0);

// Analyses one rule against an existing catalog for `explain`: its corpus
// counts come from `corpus` (the rule itself is not counted).
RulePage analyse_rule(const CompiledRule& rule, const Catalog* corpus,
                      const DiagnosticList& diagnostics);

}  // namespace sigscope
