// The analysed corpus: every compiled rule with the facts its catalog page
// shows (ATT&CK coverage, event coverage, indicators with corpus counts,
// exclusions) and the diagnostics about it.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "sigscope/analysis/rule_facts.h"
#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"
#include "sigscope/taxonomy/attack.h"
#include "sigscope/taxonomy/logsources.h"

namespace sigscope {

struct RulePage {
  const CompiledRule* rule = nullptr;
  std::string slug;  // file name stem of the page: the rule id when unique and safe
  AttackCoverage attack;
  EventCoverage events;
  std::vector<Polarity> polarity;  // per stage
  std::vector<Indicator> indicators;
  std::vector<int> indicator_corpus;  // other rules with the same indicator; -1 when no corpus was given
  std::vector<Exclusion> exclusions;
  std::vector<std::vector<int>> exclusion_corpus;  // per value: other rules excluding it too
  std::vector<Diagnostic> diagnostics;            // warnings about this rule
};

struct Catalog {
  std::vector<CompiledRule> rules;
  std::vector<RulePage> pages;  // parallel to rules

  // Counts of how many rules use each indicator key (see indicator_key).
  std::unordered_map<std::string, int> indicator_rules;
  std::unordered_map<std::string, int> exclusion_rules;
};

// Analyses `rules` into catalog pages. `diagnostics` supplies the warnings
// shown on each rule's page (matched by file and rule id).
Catalog build_catalog(std::vector<CompiledRule> rules, const DiagnosticList& diagnostics,
                      unsigned threads = 0);

// Analyses one rule against an existing catalog for `explain`: its corpus
// counts come from `corpus` (the rule itself is not counted).
RulePage analyse_rule(const CompiledRule& rule, const Catalog* corpus,
                      const DiagnosticList& diagnostics);

}  // namespace sigscope
