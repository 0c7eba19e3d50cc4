// One predicate of the compiled form made ready to run: patterns folded and
// compiled, regexes built, field names interned. Evaluation is read-only and
// thread-safe; per-thread buffers live in MatchScratch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sigscope/compile/compiled.h"
#include "sigscope/match/event_view.h"
#include "sigscope/match/glob.h"

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;
namespace re2 {
class RE2;
}

namespace sigscope {

// Per-thread state for regex evaluation and counters.
class MatchScratch {
 public:
  MatchScratch();
  ~MatchScratch();
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  pcre2_real_match_data_8* pcre_data() const { return pcre_data_; }
  pcre2_real_match_context_8* pcre_context() const { return pcre_context_; }
  std::uint64_t regex_limit_hits = 0;  // backtracking regexes stopped by the match limit

 private:
  pcre2_real_match_data_8* pcre_data_ = nullptr;
  pcre2_real_match_context_8* pcre_context_ = nullptr;
};

// Match limit of backtracking regexes (PCRE2 match and depth limits): a
// regex that needs more steps on one value counts as not matching and is
// counted in MatchScratch::regex_limit_hits.
constexpr std::uint32_t kRegexMatchLimit = 1'000'000;
constexpr std::uint32_t kRegexDepthLimit = 10'000;

class PredicateMatcher {
 public:
  // Prepares `predicate`; field names it reads are interned into `fields`.
  PredicateMatcher(const Predicate& predicate, FieldTable& fields);
  ~PredicateMatcher();
  PredicateMatcher(PredicateMatcher&&) noexcept;
  PredicateMatcher& operator=(PredicateMatcher&&) noexcept;

  // True when the event satisfies the predicate.
  bool evaluate(const EventView& event, MatchScratch& scratch) const;

  // Like evaluate(), and describes why in `reason` (which value matched, or
  // that the field is missing).
  bool explain(const EventView& event, MatchScratch& scratch, std::string& reason) const;

  FieldId field() const { return field_; }
  const Predicate& predicate() const { return predicate_; }

  // Identity of the predicate's semantics: equal keys give equal results on
  // every event, so rules can share one evaluation.
  static std::string dedup_key(const Predicate& predicate);

 private:
  struct Value;
  bool value_matches(const Value& v, const EventView& event, std::uint32_t index, MatchScratch& scratch) const;
  bool value_satisfied(const Value& v, const EventView& event, MatchScratch& scratch, std::uint32_t* which) const;

  Predicate predicate_;
  FieldId field_ = kNoField;
  std::vector<Value> values_;
};

// Parses an IPv4 or IPv6 address. IPv4-mapped IPv6 addresses become IPv4.
bool parse_ip(std::string_view text, CidrNetwork& out);
// True when `address` (prefix ignored) lies in `network`.
bool cidr_contains(const CidrNetwork& network, const CidrNetwork& address);
// Extracts a time part from an ISO 8601 date such as 2025-12-27T06:00:34.8Z or
// "2025-12-27 06:00:34.828". Weeks are ISO 8601 week numbers (1 to 53).
bool extract_time_part(std::string_view text, TimePart part, double& out);

}  // namespace sigscope
