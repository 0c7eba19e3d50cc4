// Multi-pattern matching of the pattern and regex predicates with Hyperscan.
// One database per field (and one for keyword search) contains every value of
// every such predicate, so one scan of a field value evaluates all of them. What Hyperscan cannot express (look-around and backreferences in
// regexes, numbers, cidr, null, exists, fieldref, neq, empty patterns) stays
// on the direct path. Hyperscan runs Sigma regexes with PCRE semantics, so
// `$` also matches before a final line break; `.` matches one byte.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/match/event_view.h"
#include "sigscope/match/predicate_matcher.h"

struct hs_database;
struct hs_scratch;

namespace sigscope {

// $XDG_CACHE_HOME/sigscope, else ~/.cache/sigscope; empty when
// SIGSCOPE_NO_CACHE is set or neither variable is.
std::string default_prefilter_cache_dir();

class Prefilter {
 public:
  // Compiles the databases for `predicates` over `fields`, plus one keyword
  // database per entry of `keyword_sets` (lists of keyword predicate ids;
  // each route searches only the keywords of its own rules). Predicates whose
  // patterns Hyperscan rejects fall back to the direct path, with a warning.
  // Compiled databases are cached in `cache_dir` (none when empty) under a
  // hash of their patterns, so a second run with the same rules loads them.
  Prefilter(const std::vector<PredicateMatcher>& predicates, const FieldTable& fields,
            const std::vector<std::vector<std::uint32_t>>& keyword_sets, const std::string& cache_dir,
            DiagnosticList& diagnostics);
  ~Prefilter();
  Prefilter(const Prefilter&) = delete;
  Prefilter& operator=(const Prefilter&) = delete;

  // True when scan() computes predicate `id`, so it is not evaluated directly.
  bool handles(std::uint32_t id) const { return id < handled_.size() && handled_[id]; }
  std::size_t handled_count() const;
  std::size_t pattern_count() const { return patterns_.size(); }

  // Per-thread state: Hyperscan scratch space and the marks of one event.
  class Scratch {
   public:
    explicit Scratch(const Prefilter& prefilter);
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

   private:
    friend class Prefilter;
    hs_scratch* hs = nullptr;
    std::vector<std::uint32_t> slot_hit;       // per value slot: event number of the last hit
    std::vector<std::uint32_t> predicate_hit;  // per predicate: event number when any of its values hit
    std::vector<std::uint32_t> hit_predicates; // predicates hit in the current event
    std::string joined, joined_folded;         // keyword scan input: values joined by NUL bytes
    std::uint32_t event = 0;
    const Prefilter* owner = nullptr;
  };

  // Scans every value of the event's prefiltered fields whose entry in
  // `fields` (per field id) is non-zero, and all string and number values with
  // keyword set `keyword_set` (-1 for none). Afterwards result() and
  // hit_predicates() describe this event for the predicates of those fields.
  void scan(const EventView& event, int keyword_set, const std::vector<std::uint8_t>& fields, Scratch& scratch) const;

  // Result of a handled predicate for the last scanned event.
  bool result(std::uint32_t id, const Scratch& scratch) const;
  // Predicates with at least one value hit in the last scanned event.
  const std::vector<std::uint32_t>& hit_predicates(const Scratch& scratch) const { return scratch.hit_predicates; }

 public:
  // Meaning of a Hyperscan match of one pattern.
  struct PatternInfo {
    std::uint32_t slot;
    MatchOp op;            // literal patterns check their anchoring on the match offset
    std::uint32_t length;  // literal length in bytes; 0 for regex patterns (anchored in the expression)
  };

 private:
  struct PredicateSlots {
    std::uint32_t first = 0;  // first value slot
    std::uint32_t count = 0;  // number of values
    bool match_all = false;
  };

  // Databases of one field (or of keyword search). Literal patterns use
  // Hyperscan's literal compiler because it builds much faster; patterns with
  // wildcards use the regex compiler.
  struct DatabaseSet {
    hs_database* caseless_literal = nullptr;
    hs_database* caseless_regex = nullptr;
    hs_database* cased_literal = nullptr;
    hs_database* cased_regex = nullptr;
    bool empty() const { return !caseless_literal && !caseless_regex && !cased_literal && !cased_regex; }
  };

  void scan_set(const DatabaseSet& set, const EventView& event, std::uint32_t index, Scratch& scratch) const;
  void scan_value(const hs_database* db, std::string_view value, Scratch& scratch) const;

  std::vector<bool> handled_;
  std::vector<PredicateSlots> predicate_slots_;  // per predicate
  std::vector<std::uint32_t> predicate_of_slot_;
  std::vector<PatternInfo> patterns_;             // Hyperscan pattern id -> meaning
  std::vector<DatabaseSet> fields_;               // per field id
  std::vector<DatabaseSet> keyword_sets_;
};

}  // namespace sigscope
