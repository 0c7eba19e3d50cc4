// Overlapping rules: pairs of detection rules on the same logsource whose
// compiled logic is equal after normalisation ("equivalent"), and pairs where
// every event one rule matches is provably matched by the other ("subsumed").
//
// Each rule's condition and stages are inlined into one formula over canonical
// atoms (a field with a set of value tests), brought into disjunctive normal
// form and compared. Implication between atoms is decided by sound,
// conservative rules (see docs/overlap.md): a pair is only reported when the
// containment is proven, never guessed.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigscope/compile/compiled.h"

namespace sigscope {

struct OverlapOptions {
  // Rules whose normal form has more conjuncts than this are skipped.
  std::size_t max_conjuncts = 256;
};

// One step of an implication between two value tests of the same field,
// e.g. from "endswith '\certutil.exe'" to "contains 'certutil'".
struct ImplicationStep {
  std::string from;  // the test that holds (specific side)
  std::string to;    // the test it implies (general side)
  std::string why;   // "identical", "'certutil' occurs in '\certutil.exe'", ...
};

// Why one literal of the general rule's conjunct holds whenever a literal of
// the specific rule's conjunct does.
struct LiteralReason {
  std::string field;     // field name, or "keyword"
  std::string general;   // the literal of the more general rule
  std::string specific;  // the literal of the specific rule that implies it
  bool identical = false;
  // For negated literals the steps run from the general literal's tests to
  // the specific one's (not P implies not Q when Q implies P).
  bool contrapositive = false;
  std::vector<ImplicationStep> steps;

  // "Image contains 'certutil' is implied by Image endswith '\certutil.exe'
  // ('certutil' occurs in '\certutil.exe')".
  std::string text() const;
};

// One conjunct (AND branch of the normal form) of the specific rule and the
// conjunct of the general rule it implies.
struct ConjunctReason {
  std::string specific;  // the conjunct as text
  std::string general;
  std::vector<LiteralReason> literals;  // one per literal of the general conjunct
};

enum class OverlapKind { Equivalent, Subsumed };
std::string_view overlap_kind_name(OverlapKind kind);

struct OverlapPair {
  OverlapKind kind = OverlapKind::Equivalent;
  // Indices into the analysed rule list. For Subsumed, every match of
  // `specific` is a match of `general`; for Equivalent the order is the
  // rules' order in the list.
  std::size_t specific = 0;
  std::size_t general = 0;
  // "identical normal form", "identical formula" (rules too large for a
  // normal form), "mutual implication" or "implication".
  std::string basis;
  std::string logsource;     // "product/category/service"
  // The specific rule's normal form as text; for "identical formula", its
  // simplified formula.
  std::string normal_form;
  std::vector<ConjunctReason> reason;    // specific implies general
  std::vector<ConjunctReason> converse;  // general implies specific (mutual implication only)
};

struct OverlapReport {
  std::size_t rules_total = 0;
  std::size_t rules_analysed = 0;
  std::map<std::string, std::size_t> skipped;  // reason -> rules skipped for it
  std::vector<std::pair<std::size_t, std::string>> skipped_rules;  // rule index, reason
  std::vector<OverlapPair> pairs;  // equivalent pairs first, then subsumed
  std::size_t logsource_groups = 0;
  std::size_t candidate_pairs = 0;  // ordered pairs that passed the field-set filter
  std::size_t checked_pairs = 0;    // ordered pairs of rules on the same logsource
  double seconds = 0;

  std::size_t count(OverlapKind kind) const;
};

OverlapReport find_overlaps(const std::vector<CompiledRule>& rules, const OverlapOptions& options = {});

// The normal form of one rule as text ("A and B or C and not D"), or the
// reason it has none ("skipped: ...").
std::string overlap_normal_form(const CompiledRule& rule, const OverlapOptions& options = {});

// Plain-text report: one block per pair.
std::string overlap_text(const OverlapReport& report, const std::vector<CompiledRule>& rules);

// JSON report: {"summary": {...}, "pairs": [...], "skipped": [...]}.
nlohmann::json overlap_json(const OverlapReport& report, const std::vector<CompiledRule>& rules);

// The reason lists as JSON (shared with the site page).
nlohmann::json conjunct_reasons_json(const std::vector<ConjunctReason>& reasons);

}  // namespace sigscope
