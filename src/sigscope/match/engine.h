// The rule engine: detection rules compiled once into shared predicates, a
// logsource router and flat condition programs; Matchers run them on events,
// one Matcher per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"
#include "sigscope/correlate/correlation.h"
#include "sigscope/input/event.h"
#include "sigscope/match/event_view.h"
#include "sigscope/match/predicate_matcher.h"
#include "sigscope/match/prefilter.h"

namespace sigscope {

struct EngineOptions {
  // Logsource of events that carry no Channel field (plain JSON). When unset,
  // such events reach every rule. When set, they reach the rules whose
  // logsource agrees on every part given here. A rule without a category or
  // service agrees with any, but its product must be equal.
  std::optional<Logsource> assumed_logsource;
  // False sends every event to every rule, ignoring Channel and EventID.
  bool logsource_routing = true;
  // Event fields other than Channel and EventID that hold a Windows event's
  // channel and event id, such as winlog.channel and winlog.event_id after
  // the ecs-windows pipeline (see pipeline_renamed_fields()). Events are
  // routed by them when they have no Channel field.
  std::vector<std::string> channel_fields;
  std::vector<std::string> event_id_fields;
  // Event fields other than Provider_Name that hold a Windows event's
  // provider, such as winlog.provider_name. A rule whose service the tables
  // know only by its provider (smbclient-connectivity) is routed by it.
  std::vector<std::string> provider_fields;
  // False evaluates every predicate directly instead of scanning fields with
  // Hyperscan first; results are the same, only slower (used by tests).
  bool prefilter = true;
  // Where compiled prefilter databases are cached; empty disables the cache.
  std::string cache_dir = default_prefilter_cache_dir();
  // False frees the parts of each rule that matching and detection output
  // never read, as soon as the rule's program is built. These are its source
  // text, detection YAML, description, references, false positives, custom
  // keys, parsed conditions and the values of its stage predicates, since
  // the engine keeps its own copies. all_rules() then keeps metadata,
  // logsource, tags, stage names and the fields of stage predicates. With
  // the SigmaHQ corpus this frees about 30 MB.
  bool keep_rule_sources = true;
  // Ids or names of rules that run only to feed the correlations that
  // reference them: their own detections are not reported (see
  // Engine::reports). Empty strings match no rule.
  std::set<std::string> feed_only;
};

// A rule the engine cannot run, with the reason.
struct UnsupportedRule {
  std::string id;
  std::string name;  // the rule's `name`, by which correlations refer to it, or empty
  std::string title;
  std::string path;
  std::string category;  // short class of the reason, for summaries
  std::string reason;
};

// One rule that fired on one event.
struct Detection {
  std::uint32_t rule = 0;          // index into Engine::rules()
  std::uint32_t stages_begin = 0;  // matched stage indices, see Matcher::stages()
  std::uint32_t stages_count = 0;
};

class Matcher;

class Engine {
 public:
  // Prepares `rules` for matching: detection rules run, filter rules are
  // applied to the rules they name, correlation rules are planned over the
  // rules they reference, and the rest is listed in unsupported().
  Engine(std::vector<CompiledRule> rules, const EngineOptions& options, DiagnosticList& diagnostics);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Rules that run, in input order.
  const std::vector<const CompiledRule*>& rules() const { return runnable_; }
  const std::vector<UnsupportedRule>& unsupported() const { return unsupported_; }
  const std::vector<CompiledRule>& all_rules() const { return rules_; }
  // The correlation rules that run, and which detections feed them.
  const CorrelationSet& correlations() const { return correlations_; }
  // False for a rule used only by correlations with generate: false: its
  // detections feed them but are not reported on their own.
  bool reports(std::uint32_t rule) const { return correlations_.reported[rule]; }
  std::size_t predicate_count() const { return predicates_.size(); }
  // Predicates computed by the Hyperscan prefilter, and rules that run only
  // when one of their witness predicates matched.
  std::size_t prefiltered_predicates() const { return prefilter_ ? prefilter_->handled_count() : 0; }
  std::size_t witnessed_rules() const;

  // True when events without a Channel field reach at least one rule.
  bool reaches_channel_less() const;

  // A new matcher for one thread.
  std::unique_ptr<Matcher> matcher(std::size_t memo_budget = Prefilter::kDefaultMemoBudget) const;

  // Stage names of rule `rule` in the order Matcher::stages() indexes them:
  // the rule's own stages, then those of applied filters as "filter:<name>".
  const std::vector<std::string>& stage_names(std::uint32_t rule) const;

 private:
  friend class Matcher;
  struct Node;
  struct Program;
  struct Route;
  struct Router;

  std::uint32_t add_predicate(const Predicate& predicate);
  std::uint32_t build_stage(const Stage& stage, const StageNode& node);
  std::uint32_t build_condition(const ConditionExpr& expr, const std::vector<std::uint32_t>& stage_roots);
  void build_routes(const EngineOptions& options);
  void choose_witnesses();
  // Predicates one of which must hold when node `node` holds; false when no
  // such set of prefiltered predicates exists.
  bool necessary_predicates(std::uint32_t node, std::vector<std::uint32_t>& out) const;

  std::vector<CompiledRule> rules_;
  std::vector<const CompiledRule*> runnable_;
  std::vector<UnsupportedRule> unsupported_;
  FieldTable fields_;
  std::vector<PredicateMatcher> predicates_;
  std::unordered_map<std::string, std::uint32_t> predicate_ids_;  // dedup key -> predicate id
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> children_;  // child node ids of And/Or/Not nodes
  std::vector<Program> programs_;        // parallel to runnable_
  std::unique_ptr<Router> router_;
  std::unique_ptr<Prefilter> prefilter_;
  std::vector<std::vector<std::uint32_t>> witness_rules_;  // per predicate: rules it witnesses
  std::vector<bool> has_witness_;                          // per rule
  CorrelationSet correlations_;
};

// Per-thread matching state. Reuses its buffers, so steady-state matching
// does not allocate.
class Matcher {
 public:
  // `memo_budget`: see Prefilter::Scratch.
  explicit Matcher(const Engine& engine, std::size_t memo_budget = Prefilter::kDefaultMemoBudget);
  ~Matcher();

  // Runs every rule the event's logsource reaches. `out` is cleared first.
  void match(const RawEvent& event, std::vector<Detection>& out);

  // Appends a hit to `out` for each correlation fed by one of `detections`,
  // which match() just returned for `event`. Hits get the event's time and
  // group-by values, and one that lacks either is counted in `stats`
  // instead. `input` is copied to the hits.
  void correlation_hits(const RawEvent& event, std::span<const Detection> detections, std::uint32_t input,
                        std::vector<CorrelationHit>& out, CorrelationStats& stats) const;

  // Indices into the last matched event's fields of the values of Sigma
  // field `name`, after the renames of the event's source (ParentImage gives
  // the ParentProcessName value of a Security 4688 event).
  std::vector<std::uint32_t> values_of(std::string_view name) const;

  // Stage indices (see Engine::stage_names) that matched for `detection`.
  std::span<const std::uint16_t> stages(const Detection& detection) const;

  // Explains rule `rule` on `event`: whether the event's logsource reaches
  // the rule, the field renames of its source, and every stage and predicate
  // with its truth value and reason, as indented text.
  std::string explain(std::uint32_t rule, const RawEvent& event);

  // Events whose logsource reached no rule.
  std::uint64_t unrouted_events() const { return unrouted_events_; }
  // Events without a Channel field or one of EngineOptions::channel_fields,
  // which reach every rule unless the engine was given an assumed logsource.
  std::uint64_t channel_less_events() const { return channel_less_events_; }
  std::uint64_t regex_limit_hits() const { return scratch_.regex_limit_hits; }
  // Field values looked up in the scan memo, and how many of them were found
  // there and so not scanned again (see Prefilter::Scratch).
  std::uint64_t scanned_values() const {
    return prefilter_scratch_ ? Prefilter::memo_hits(*prefilter_scratch_) + Prefilter::memo_misses(*prefilter_scratch_) : 0;
  }
  std::uint64_t memo_hits() const { return prefilter_scratch_ ? Prefilter::memo_hits(*prefilter_scratch_) : 0; }
  // Heap bytes kept by the scan memo.
  std::size_t memo_bytes() const { return prefilter_scratch_ ? Prefilter::memo_bytes(*prefilter_scratch_) : 0; }

 private:
  bool eval(std::uint32_t node);
  // Returns the route of the event's channel and event id. When
  // `provider_route` is given, it is set to the route of the event's
  // provider, or to UINT32_MAX when no rule is routed by that provider.
  std::uint32_t route_of(const RawEvent& event, std::uint32_t* provider_route = nullptr) const;
  // Runs the rules of `route` on the event and appends their detections.
  void match_route(const RawEvent& event, const Engine::Route& route, std::vector<Detection>& out);
  bool predicate(std::uint32_t id);

  const Engine& engine_;
  EventView view_;
  MatchScratch scratch_;
  std::unique_ptr<Prefilter::Scratch> prefilter_scratch_;
  bool use_prefilter_ = false;
  std::vector<std::uint32_t> candidates_;
  std::vector<std::uint32_t> candidate_mark_;  // per rule: event number when it became a candidate
  std::vector<std::uint32_t> generation_;  // per predicate: event number of the cached result
  std::vector<std::uint8_t> cached_;
  std::uint32_t current_ = 0;
  std::vector<std::uint16_t> stage_buffer_;
  std::uint64_t unrouted_events_ = 0;
  std::uint64_t channel_less_events_ = 0;
  // The last Channel value routed and its router entry (nullptr: no rule
  // names it). Events come in runs of one channel, so most events skip the
  // case folding and hash lookup of the channel name.
  mutable std::string last_channel_;
  mutable const void* last_channel_entry_ = nullptr;
  mutable bool last_channel_set_ = false;
  // The same for the last Provider_Name, when some rule is routed by provider.
  mutable std::string last_provider_;
  mutable const void* last_provider_entry_ = nullptr;
  mutable bool last_provider_set_ = false;
};

}  // namespace sigscope
