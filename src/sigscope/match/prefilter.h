// Multi-pattern matching of the pattern and regex predicates with Hyperscan.
// One database per field (and one for keyword search) contains every value of
// every such predicate, so one scan of a field value evaluates all of them. What Hyperscan cannot express (look-around and backreferences in
// regexes, numbers, cidr, null, exists, fieldref, neq, empty patterns) stays
// on the direct path. Hyperscan runs Sigma regexes with PCRE semantics, so
// `$` also matches before a final line break; `.` matches one byte.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
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
  // Compiles the databases: for each entry of `field_sets` (lists of field
  // predicate ids; each route scans only the predicates of its own rules),
  // one database set per field, and one keyword database per entry of
  // `keyword_sets`. Predicates whose patterns Hyperscan rejects fall back to
  // the direct path, with a warning. Compiled databases are cached in
  // `cache_dir` (none when empty) under a hash of their patterns, so a second
  // run with the same rules loads them.
  Prefilter(const std::vector<PredicateMatcher>& predicates, const FieldTable& fields,
            const std::vector<std::vector<std::uint32_t>>& field_sets,
            const std::vector<std::vector<std::uint32_t>>& keyword_sets, const std::string& cache_dir,
            DiagnosticList& diagnostics);
  ~Prefilter();
  Prefilter(const Prefilter&) = delete;
  Prefilter& operator=(const Prefilter&) = delete;

  // True when scan() computes predicate `id`, so it is not evaluated directly.
  bool handles(std::uint32_t id) const { return id < handled_.size() && handled_[id]; }
  std::size_t handled_count() const;
  std::size_t pattern_count() const { return patterns_.size(); }

  // Scan memo budget of a Scratch unless the caller gives one: 2 MiB.
  static constexpr std::size_t kDefaultMemoBudget = 2u << 20;

  // Per-thread state: Hyperscan scratch space and the marks of one event.
  class Scratch {
   public:
    // `memo_budget`: heap bytes the scan memo may keep for values and their
    // slots. The memo's entries come on top: 72 bytes each, one per 128 bytes
    // of budget, 1,024 to 16,384.
    explicit Scratch(const Prefilter& prefilter, std::size_t memo_budget = kDefaultMemoBudget);
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

   private:
    friend class Prefilter;
    hs_scratch* hs = nullptr;
    std::vector<std::uint32_t> slot_hit;       // per value slot: event number of the last hit
    std::vector<std::uint32_t> predicate_hit;  // per predicate: event number when any of its values hit
    std::vector<std::uint32_t> hit_predicates; // predicates hit in the current event
    // Keyword scan input: values joined by NUL bytes. `joined` only grows, and
    // its first bytes hold the current event's values.
    std::string joined, joined_folded;
    std::uint32_t event = 0;
    const Prefilter* owner = nullptr;

    // Results of earlier scans, so a value that comes again (the same Image
    // or ImageLoaded path in thousands of events) is not scanned again.
    // Direct-mapped by a hash of the databases and the value. An entry contains
    // the value and the slots its scan hit. Bounded: values up to
    // kMemoMaxValue bytes with up to kMemoMaxSlots slots, and memo_max_bytes
    // of heap for all of them.
    struct MemoEntry {
      std::uint64_t key = 0;
      const void* databases = nullptr;  // nullptr: empty
      std::string value;
      std::vector<std::uint32_t> slots;
    };
    std::vector<MemoEntry> memo;
    std::vector<std::uint32_t>* recording = nullptr;  // where on_match records slots, if anywhere
    std::uint64_t memo_hits = 0, memo_misses = 0;
    std::size_t memo_bytes = 0;  // heap bytes of the entries' values and slots
    std::size_t memo_max_bytes = 0;
  };

  // Field values looked up in the memo of this scratch, and how many of them were found there.
  static std::uint64_t memo_hits(const Scratch& scratch) { return scratch.memo_hits; }
  static std::uint64_t memo_misses(const Scratch& scratch) { return scratch.memo_misses; }
  // Heap bytes the memo of this scratch keeps (values and slots), at most its budget.
  static std::size_t memo_bytes(const Scratch& scratch) { return scratch.memo_bytes; }

  // Scans every value of the event's fields with the databases of field set
  // `field_set`, and all string and number values with keyword set
  // `keyword_set` (-1 for none). Afterwards result() and hit_predicates()
  // describe this event for the predicates of those sets.
  void scan(const EventView& event, int keyword_set, int field_set, Scratch& scratch) const;

  // Result of a handled predicate for the last scanned event.
  bool result(std::uint32_t id, const Scratch& scratch) const;
  // Predicates with at least one value hit in the last scanned event.
  const std::vector<std::uint32_t>& hit_predicates(const Scratch& scratch) const { return scratch.hit_predicates; }

 public:
  // Meaning of a Hyperscan match of one pattern.
  struct PatternInfo {
    std::uint32_t first_slot = 0;  // index of the pattern's first value slot in pattern_slots_
    std::uint32_t slot_count = 0;
    MatchOp op = MatchOp::Contains;  // literal patterns check their anchoring on the match offset
    std::uint32_t length = 0;  // literal length in bytes; 0 for regex patterns (anchored in the expression)
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
  void scan_set_uncached(const DatabaseSet& set, const EventView& event, std::uint32_t index,
                         Scratch& scratch) const;
  void mark_slot(std::uint32_t slot, Scratch& scratch) const;
  void scan_value(const hs_database* db, std::string_view value, Scratch& scratch) const;

  std::vector<bool> handled_;
  std::vector<PredicateSlots> predicate_slots_;  // per predicate
  std::vector<std::uint32_t> predicate_of_slot_;
  std::vector<PatternInfo> patterns_;             // Hyperscan pattern id -> meaning
  std::vector<std::uint32_t> pattern_slots_;      // value slots of each pattern, see PatternInfo
  std::size_t field_count_ = 0;
  std::vector<DatabaseSet> route_fields_;         // [field set * field_count_ + field id]
  std::vector<std::uint8_t> aliased_;             // per entry: shares another entry's databases
  std::vector<DatabaseSet> keyword_sets_;
  std::vector<std::uint8_t> keyword_ascii_only_;  // per keyword set: case-insensitive patterns are ASCII literals
  // Scratch space sized for every database, cloned by each Scratch.
  mutable std::once_flag prototype_once_;
  mutable hs_scratch* prototype_ = nullptr;
};

}  // namespace sigscope
