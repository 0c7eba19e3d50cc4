#include "sigscope/match/engine.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/taxonomy/logsources.h"

namespace sigscope {

struct Engine::Node {
  enum class Op : std::uint8_t { And, Or, Not, Predicate, Constant };
  Op op = Op::And;
  std::uint32_t first = 0;  // And/Or/Not: offset of the first child in children_
  std::uint32_t count = 0;  // number of children
  std::uint32_t arg = 0;    // Predicate: predicate id; Constant: 0 or 1
};

struct Engine::Program {
  std::uint32_t condition = 0;
  std::vector<std::uint32_t> stage_roots;
  std::vector<std::string> stage_names;
};

struct Engine::Route {
  std::vector<std::uint32_t> rules;
  // Per rule entry: index of an extra field condition of the source, or -1.
  std::vector<std::int32_t> extra;
  std::vector<EventView::Alias> aliases;
  // Filled by choose_witnesses(). `member` holds, per runnable rule,
  // kNotMember, -1 (a member without extra condition) or the extra condition
  // index. `always` lists the members that run on every event.
  std::vector<std::int32_t> member;
  std::vector<std::uint32_t> always;
  int keyword_set = -1;  // the prefilter keyword database of the members' keyword predicates
  // The prefilter's per-field databases of the members' predicates. Each
  // route scans only its own rules' patterns, so an image-load event does
  // not search the thousands of process-creation patterns for Image.
  int field_set = -1;
};

namespace {
constexpr std::int32_t kNotMember = -2;
constexpr std::uint32_t kNoRoute = UINT32_MAX;
}

struct Engine::Router {
  struct Extra {
    FieldId field;
    std::string folded_value;
  };
  struct ChannelEntry {
    std::unordered_map<long, std::uint32_t> by_event_id;
    std::uint32_t any = 0;
  };
  std::vector<Route> routes;
  std::vector<Extra> extras;
  std::unordered_map<std::string, ChannelEntry> channels;  // keyed by folded channel name
  // Routes of the rules whose source names a provider but no channel, keyed
  // by folded provider name. They hold only those rules: an event of such a
  // provider runs its channel's route and then this one.
  std::unordered_map<std::string, ChannelEntry> providers;
  std::uint32_t other_channels = 0;  // events whose channel no rule names
  std::uint32_t no_channel = 0;      // events without a Channel field
  std::vector<std::string> channel_fields;  // EngineOptions::channel_fields
  std::vector<std::string> event_id_fields;  // EngineOptions::event_id_fields
  std::vector<std::string> provider_fields;  // EngineOptions::provider_fields
};

namespace {

// Whether a rule applies to events of the assumed logsource. Only the parts
// the assumed logsource gives constrain. A rule without a category or service
// is broader and still applies, but a product must be the same. So
// product:windows keeps every Windows rule and drops Linux, cloud and network
// rules, category-only ones such as proxy or webserver included.
bool logsource_matches(const Logsource& rule, const Logsource& assumed) {
  auto broad = [](const std::string& r, const std::string& a) { return a.empty() || r.empty() || r == a; };
  bool product_ok = assumed.product.empty() || rule.product == assumed.product;
  return product_ok && broad(rule.category, assumed.category) && broad(rule.service, assumed.service);
}

std::string unresolved_placeholder(const CompiledRule& rule) {
  for (const auto& stage : rule.stages)
    for (const auto& p : stage.predicates)
      for (const auto& v : p.values)
        for (const auto& alt : v.alternatives)
          for (const auto& piece : alt.pieces())
            if (piece.kind == PatternPiece::Kind::Placeholder) return piece.text;
  return {};
}

bool names_rule(const std::vector<std::string>& refs, const Rule& rule) {
  for (const auto& r : refs)
    if (is_referenced_by(rule, r)) return true;
  return false;
}

// One place a rule's events come from: a channel (or "*" for every channel)
// or, for a source that names no channel, a provider, with an event id (-1
// for any), plus what that source needs.
struct Target {
  std::string channel;
  std::string provider;  // set only when `channel` is empty
  long event_id = -1;
  std::map<std::string, std::string> renames;
  std::map<std::string, std::string> extra_conditions;
};

std::vector<Target> targets_of(const Logsource& ls) {
  std::vector<Target> out;
  const bool windows = ls.product == "windows";
  if (windows && ls.category.empty() && ls.service.empty()) {
    out.push_back({"*", "", -1, {}, {}});
    return out;
  }
  if (!windows && !ls.product.empty()) return out;
  if (!windows && ls.category.empty()) return out;
  EventCoverage coverage = LogsourceData::bundled().coverage(ls);
  for (const auto& source : coverage.sources) {
    for (const auto& channel : source.channels)
      out.push_back({channel, "", source.event_id, source.field_renames, source.extra_conditions});
    // A service the tables know only by its provider (smbclient-connectivity),
    // routed by the event's Provider_Name as the shipped pipelines select it.
    if (source.channels.empty() && !source.provider.empty())
      out.push_back({"", source.provider, source.event_id, source.field_renames, source.extra_conditions});
  }
  return out;
}

}  // namespace

Engine::~Engine() = default;

std::uint32_t Engine::add_predicate(const Predicate& predicate) {
  // Rules share identical predicates, so each is evaluated once per event.
  std::string key = PredicateMatcher::dedup_key(predicate);
  auto it = predicate_ids_.find(key);
  if (it != predicate_ids_.end()) return it->second;
  std::uint32_t id = static_cast<std::uint32_t>(predicates_.size());
  predicates_.emplace_back(predicate, fields_);
  predicate_ids_.emplace(std::move(key), id);
  return id;
}

std::uint32_t Engine::build_stage(const Stage& stage, const StageNode& node) {
  Node out;
  if (node.op == StageNode::Op::Predicate) {
    out.op = Node::Op::Predicate;
    out.arg = add_predicate(stage.predicates[static_cast<std::size_t>(node.predicate)]);
    nodes_.push_back(out);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }
  std::vector<std::uint32_t> kids;
  for (const auto& child : node.children) kids.push_back(build_stage(stage, child));
  out.op = node.op == StageNode::Op::And ? Node::Op::And : Node::Op::Or;
  out.first = static_cast<std::uint32_t>(children_.size());
  out.count = static_cast<std::uint32_t>(kids.size());
  children_.insert(children_.end(), kids.begin(), kids.end());
  nodes_.push_back(out);
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

std::uint32_t Engine::build_condition(const ConditionExpr& expr, const std::vector<std::uint32_t>& stage_roots) {
  if (expr.op == ConditionExpr::Op::Stage) return stage_roots.at(static_cast<std::size_t>(expr.stage));
  std::vector<std::uint32_t> kids;
  for (const auto& child : expr.children) kids.push_back(build_condition(child, stage_roots));
  Node out;
  out.op = expr.op == ConditionExpr::Op::And  ? Node::Op::And
           : expr.op == ConditionExpr::Op::Or ? Node::Op::Or
                                              : Node::Op::Not;
  out.first = static_cast<std::uint32_t>(children_.size());
  out.count = static_cast<std::uint32_t>(kids.size());
  children_.insert(children_.end(), kids.begin(), kids.end());
  nodes_.push_back(out);
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

namespace {

// Frees what `x` holds. (Assigning `{}` to a vector keeps its capacity.)
template <typename T>
void release(T& x) {
  T().swap(x);
}

// See EngineOptions::keep_rule_sources.
void drop_rule_sources(CompiledRule& r) {
  Rule& rule = r.rule;
  release(rule.source_text);
  release(rule.description);
  release(rule.references);
  release(rule.falsepositives);
  release(rule.custom);
  rule.detection = YamlNode();
  r.condition_ast = ConditionAst();
  r.condition = ConditionExpr();
  for (Stage& stage : r.stages) {
    release(stage.yaml);
    stage.root = StageNode();
    for (Predicate& p : stage.predicates) {
      release(p.values);
      release(p.pipeline_items);
    }
  }
}

}  // namespace

Engine::Engine(std::vector<CompiledRule> rules, const EngineOptions& options, DiagnosticList& diagnostics)
    : rules_(std::move(rules)), router_(std::make_unique<Router>()) {
  // runnable_ points into rules_, so its spare capacity goes now or never.
  rules_.shrink_to_fit();
  std::vector<CompiledRule*> filters;
  for (auto& r : rules_)
    if (r.rule.kind == RuleKind::Filter) filters.push_back(&r);

  for (auto& r : rules_) {
    // A rule's sources go as soon as its program is built, so they are not
    // held beside the engine's copies (filters are read by every rule).
    struct DropAfter {
      CompiledRule* rule;
      ~DropAfter() {
        if (rule) drop_rule_sources(*rule);
      }
    } drop_after{!options.keep_rule_sources && r.rule.kind != RuleKind::Filter ? &r : nullptr};
    auto report = [&](std::string category, std::string reason) {
      unsupported_.push_back({r.rule.id, r.rule.name, r.rule.title, r.rule.path, std::move(category), std::move(reason)});
    };
    switch (r.rule.kind) {
      case RuleKind::Filter: continue;  // applied to the rules it names below
      case RuleKind::Correlation: continue;  // planned below, once every rule has its program
      case RuleKind::Detection: break;
    }
    if (r.aggregation) {
      report("obsolete aggregation", fmt::format("the obsolete Sigma 1.x aggregation '| {}' cannot be evaluated event by event; "
                         "rewrite it as a correlation rule", r.aggregation->text));
      continue;
    }
    if (std::string ph = unresolved_placeholder(r); !ph.empty()) {
      report("placeholder without value", fmt::format("placeholder %{}% has no value; give it in a pipeline's vars", ph));
      continue;
    }

    Program program;
    for (const auto& stage : r.stages) {
      program.stage_roots.push_back(build_stage(stage, stage.root));
      program.stage_names.push_back(stage.name);
    }
    std::uint32_t condition = build_condition(r.condition, program.stage_roots);
    // Filters add their condition with AND: "not selection" suppresses.
    for (const CompiledRule* f : filters) {
      if (!filter_names(f->rule, r.rule)) continue;
      if (!filter_covers(f->rule.logsource, r.rule.logsource)) {
        diagnostics.warning(f->rule.path, f->rule.line, 0, f->rule.id,
                            fmt::format("filter names rule {} ('{}'), but its logsource ({}) does not cover that "
                                        "rule's ({}), so it is not applied to it",
                                        r.rule.id, r.rule.title, f->rule.logsource.label(), r.rule.logsource.label()),
                            "give the filter the rule's logsource, or a broader one (such as only its product)");
        continue;
      }
      std::vector<std::uint32_t> filter_roots;
      for (const auto& stage : f->stages) {
        filter_roots.push_back(build_stage(stage, stage.root));
        program.stage_roots.push_back(filter_roots.back());
        program.stage_names.push_back("filter:" + stage.name);
      }
      std::uint32_t filter_condition = build_condition(f->condition, filter_roots);
      Node both;
      both.op = Node::Op::And;
      both.first = static_cast<std::uint32_t>(children_.size());
      both.count = 2;
      children_.push_back(condition);
      children_.push_back(filter_condition);
      nodes_.push_back(both);
      condition = static_cast<std::uint32_t>(nodes_.size() - 1);
    }
    program.condition = condition;
    programs_.push_back(std::move(program));
    runnable_.push_back(&r);
  }
  for (const CompiledRule* f : filters) {
    bool used = std::any_of(runnable_.begin(), runnable_.end(),
                            [&](const CompiledRule* r) { return names_rule(f->rule.filter.rules, r->rule); });
    if (!used)
      diagnostics.warning(f->rule.path, f->rule.line, 0, f->rule.id,
                          fmt::format("filter names no loaded rule ({})", join(f->rule.filter.rules, ", ")),
                          "check the ids or names under filter.rules");
  }
  if (!options.keep_rule_sources)
    for (CompiledRule* f : filters) drop_rule_sources(*f);
  // Before the routes are built: they map renamed event fields onto the
  // fields interned here.
  std::vector<UnrunnableCorrelation> unrunnable;
  correlations_ = plan_correlations(rules_, runnable_, fields_, unrunnable);
  for (std::uint32_t r = 0; r < runnable_.size(); ++r)
    if ((!runnable_[r]->rule.id.empty() && options.feed_only.count(runnable_[r]->rule.id)) ||
        (!runnable_[r]->rule.name.empty() && options.feed_only.count(runnable_[r]->rule.name)))
      correlations_.reported[r] = false;
  for (const auto& u : unrunnable)
    unsupported_.push_back({u.rule->rule.id, u.rule->rule.name, u.rule->rule.title, u.rule->rule.path, "correlation rule", u.reason});
  build_routes(options);

  // Each route searches only its own rules' keywords.
  std::vector<std::vector<std::uint32_t>> rule_keywords(runnable_.size());
  std::function<void(std::uint32_t, std::vector<std::uint32_t>&)> collect = [&](std::uint32_t id, std::vector<std::uint32_t>& out) {
    const Node& node = nodes_[id];
    if (node.op == Node::Op::Predicate) {
      if (predicates_[node.arg].predicate().is_keyword()) out.push_back(node.arg);
      return;
    }
    for (std::uint32_t k = 0; k < node.count; ++k) collect(children_[node.first + k], out);
  };
  for (std::uint32_t r = 0; r < runnable_.size(); ++r) collect(programs_[r].condition, rule_keywords[r]);
  std::vector<std::vector<std::uint32_t>> rule_predicates(runnable_.size());
  std::function<void(std::uint32_t, std::vector<std::uint32_t>&)> collect_fields = [&](std::uint32_t id, std::vector<std::uint32_t>& out) {
    const Node& node = nodes_[id];
    if (node.op == Node::Op::Predicate) {
      if (!predicates_[node.arg].predicate().is_keyword()) out.push_back(node.arg);
      return;
    }
    for (std::uint32_t k = 0; k < node.count; ++k) collect_fields(children_[node.first + k], out);
  };
  for (std::uint32_t r = 0; r < runnable_.size(); ++r) collect_fields(programs_[r].condition, rule_predicates[r]);
  std::map<std::vector<std::uint32_t>, int> field_set_index;
  std::vector<std::vector<std::uint32_t>> field_sets;
  for (Route& route : router_->routes) {
    std::vector<std::uint32_t> set;
    for (std::uint32_t r : route.rules) set.insert(set.end(), rule_predicates[r].begin(), rule_predicates[r].end());
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    if (set.empty()) continue;
    auto [it, added] = field_set_index.emplace(set, static_cast<int>(field_sets.size()));
    if (added) field_sets.push_back(std::move(set));
    route.field_set = it->second;
  }
  std::map<std::vector<std::uint32_t>, int> set_index;
  std::vector<std::vector<std::uint32_t>> keyword_sets;
  for (Route& route : router_->routes) {
    std::vector<std::uint32_t> set;
    for (std::uint32_t r : route.rules) set.insert(set.end(), rule_keywords[r].begin(), rule_keywords[r].end());
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    if (set.empty()) continue;
    auto [it, added] = set_index.emplace(set, static_cast<int>(keyword_sets.size()));
    if (added) keyword_sets.push_back(set);
    route.keyword_set = it->second;
  }
  if (options.prefilter)
    prefilter_ = std::make_unique<Prefilter>(predicates_, fields_, field_sets, keyword_sets, options.cache_dir, diagnostics);
  choose_witnesses();
}

std::size_t Engine::witnessed_rules() const {
  return static_cast<std::size_t>(std::count(has_witness_.begin(), has_witness_.end(), true));
}

bool Engine::necessary_predicates(std::uint32_t node_id, std::vector<std::uint32_t>& out) const {
  const Node& node = nodes_[node_id];
  switch (node.op) {
    case Node::Op::Predicate:
      if (!prefilter_ || !prefilter_->handles(node.arg)) return false;
      out.push_back(node.arg);
      return true;
    case Node::Op::Constant:
    case Node::Op::Not: return false;
    case Node::Op::Or:
      // Any alternative can make the node true, so every one needs a witness.
      for (std::uint32_t k = 0; k < node.count; ++k)
        if (!necessary_predicates(children_[node.first + k], out)) return false;
      return true;
    case Node::Op::And: {
      // One conjunct suffices; take the one with the fewest witness predicates.
      bool found = false;
      std::vector<std::uint32_t> best, candidate;
      for (std::uint32_t k = 0; k < node.count; ++k) {
        candidate.clear();
        if (!necessary_predicates(children_[node.first + k], candidate)) continue;
        if (!found || candidate.size() < best.size()) {
          best = candidate;
          found = true;
        }
      }
      if (found) out.insert(out.end(), best.begin(), best.end());
      return found;
    }
  }
  return false;
}

void Engine::choose_witnesses() {
  const std::size_t n = runnable_.size();
  witness_rules_.assign(predicates_.size(), {});
  has_witness_.assign(n, false);
  for (std::uint32_t r = 0; r < n; ++r) {
    std::vector<std::uint32_t> witnesses;
    if (!necessary_predicates(programs_[r].condition, witnesses)) continue;
    std::sort(witnesses.begin(), witnesses.end());
    witnesses.erase(std::unique(witnesses.begin(), witnesses.end()), witnesses.end());
    has_witness_[r] = true;
    for (std::uint32_t p : witnesses) witness_rules_[p].push_back(r);
  }
  for (Route& route : router_->routes) {
    route.member.assign(n, kNotMember);
    route.always.clear();
    for (std::size_t k = 0; k < route.rules.size(); ++k) {
      std::uint32_t r = route.rules[k];
      route.member[r] = route.extra[k];
      if (!has_witness_[r]) route.always.push_back(r);
    }
  }
}

void Engine::build_routes(const EngineOptions& options) {
  Router& router = *router_;
  const std::uint32_t n = static_cast<std::uint32_t>(runnable_.size());
  router.channel_fields = options.channel_fields;
  router.event_id_fields = options.event_id_fields;
  router.provider_fields = options.provider_fields;

  // Events without a channel: every rule, or the rules of the assumed logsource.
  Route no_channel;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (options.logsource_routing && options.assumed_logsource &&
        !logsource_matches(runnable_[i]->rule.logsource, *options.assumed_logsource))
      continue;
    no_channel.rules.push_back(i);
    no_channel.extra.push_back(-1);
  }

  if (!options.logsource_routing) {
    router.routes.push_back(std::move(no_channel));
    router.no_channel = router.other_channels = 0;
    return;
  }

  // Collect each rule's targets.
  struct Entry {
    std::uint32_t rule;
    Target target;
  };
  std::vector<Entry> any_channel;                      // rules for every Windows channel
  std::map<std::string, std::vector<Entry>> by_channel;  // folded channel -> entries
  std::map<std::string, std::vector<Entry>> by_provider;  // folded provider -> entries
  for (std::uint32_t i = 0; i < n; ++i) {
    for (auto& t : targets_of(runnable_[i]->rule.logsource)) {
      if (t.channel == "*") any_channel.push_back({i, t});
      else if (t.channel.empty()) by_provider[fold_case(t.provider)].push_back({i, t});
      else by_channel[fold_case(t.channel)].push_back({i, t});
    }
  }

  auto make_route = [&](const std::vector<const Entry*>& entries) {
    Route route;
    std::set<std::uint32_t> seen;
    std::map<std::string, std::string> renames;
    for (const Entry* e : entries) {
      if (!seen.insert(e->rule).second) continue;
      route.rules.push_back(e->rule);
      std::int32_t extra = -1;
      if (!e->target.extra_conditions.empty()) {
        // Sources that need one extra field value (Security 4657 for registry_set) carry it here.
        const auto& [field, value] = *e->target.extra_conditions.begin();
        router.extras.push_back({fields_.intern(field), fold_case(value)});
        extra = static_cast<std::int32_t>(router.extras.size() - 1);
      }
      route.extra.push_back(extra);
      for (const auto& r : e->target.renames) renames.insert(r);
    }
    // Keep rule order stable (input order), with extras following their rule.
    std::vector<std::size_t> order(route.rules.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return route.rules[a] < route.rules[b]; });
    Route sorted;
    for (std::size_t k : order) {
      sorted.rules.push_back(route.rules[k]);
      sorted.extra.push_back(route.extra[k]);
    }
    for (const auto& [sigma_field, event_field] : renames)
      sorted.aliases.push_back({fields_.intern(event_field), fields_.intern(sigma_field)});
    router.routes.push_back(std::move(sorted));
    return static_cast<std::uint32_t>(router.routes.size() - 1);
  };

  std::vector<const Entry*> star;
  for (const auto& e : any_channel) star.push_back(&e);
  router.other_channels = make_route(star);
  router.routes.push_back(std::move(no_channel));
  router.no_channel = static_cast<std::uint32_t>(router.routes.size() - 1);

  // The routes of one channel or provider: `base` plus its entries for any
  // event id, and one route per event id that adds that id's entries.
  auto channel_entry = [&](const auto& entries, std::vector<const Entry*> base) {
    Router::ChannelEntry entry;
    std::set<long> ids;
    for (const auto& e : entries) {
      if (e.target.event_id < 0) base.push_back(&e);
      else ids.insert(e.target.event_id);
    }
    entry.any = make_route(base);
    for (long id : ids) {
      std::vector<const Entry*> list = base;
      for (const auto& e : entries)
        if (e.target.event_id == id) list.push_back(&e);
      entry.by_event_id[id] = make_route(list);
    }
    return entry;
  };
  for (const auto& [channel, entries] : by_channel) router.channels.emplace(channel, channel_entry(entries, star));
  // Provider routes list only their own rules, since the channel route has
  // already run the rest.
  for (const auto& [provider, entries] : by_provider) router.providers.emplace(provider, channel_entry(entries, {}));
}

bool Engine::reaches_channel_less() const { return !router_->routes[router_->no_channel].rules.empty(); }

const std::vector<std::string>& Engine::stage_names(std::uint32_t rule) const { return programs_[rule].stage_names; }

std::unique_ptr<Matcher> Engine::matcher(std::size_t memo_budget) const {
  return std::make_unique<Matcher>(*this, memo_budget);
}

Matcher::Matcher(const Engine& engine, std::size_t memo_budget) : engine_(engine) {
  generation_.assign(engine.predicates_.size(), 0);
  cached_.assign(engine.predicates_.size(), 0);
  candidate_mark_.assign(engine.runnable_.size(), 0);
  if (engine.prefilter_) prefilter_scratch_ = std::make_unique<Prefilter::Scratch>(*engine.prefilter_, memo_budget);
  use_prefilter_ = prefilter_scratch_ != nullptr;
}

Matcher::~Matcher() = default;

bool Matcher::predicate(std::uint32_t id) {
  if (use_prefilter_ && engine_.prefilter_->handles(id)) return engine_.prefilter_->result(id, *prefilter_scratch_);
  if (generation_[id] == current_) return cached_[id] != 0;
  bool result = engine_.predicates_[id].evaluate(view_, scratch_);
  generation_[id] = current_;
  cached_[id] = result ? 1 : 0;
  return result;
}

bool Matcher::eval(std::uint32_t node_id) {
  const Engine::Node& node = engine_.nodes_[node_id];
  switch (node.op) {
    case Engine::Node::Op::Predicate: return predicate(node.arg);
    case Engine::Node::Op::Constant: return node.arg != 0;
    case Engine::Node::Op::Not: return !eval(engine_.children_[node.first]);
    case Engine::Node::Op::And:
      for (std::uint32_t k = 0; k < node.count; ++k)
        if (!eval(engine_.children_[node.first + k])) return false;
      return true;
    case Engine::Node::Op::Or:
      for (std::uint32_t k = 0; k < node.count; ++k)
        if (eval(engine_.children_[node.first + k])) return true;
      return false;
  }
  return false;
}

namespace {
// Finds the value of a top-level field by name, preferring the System
// section's (UserData may repeat a name such as Channel).
const FieldValue* find_field(const RawEvent& event, std::string_view name) {
  const FieldValue* found = nullptr;
  for (const auto& f : event.fields) {
    if (f.name != name || f.nested_path) continue;
    if (f.system) return &f;
    if (!found) found = &f;
  }
  return found;
}

// Returns the first field named one of `others` that is not null.
const FieldValue* find_other(const RawEvent& event, const std::vector<std::string>& others) {
  for (const auto& other : others)
    for (const auto& f : event.fields)
      if (f.name == other && f.type != ValueType::Null) return &f;
  return nullptr;
}

// Finds `name`, or else the first of `others` (a pipeline's names for it,
// as a literal key or a nested path such as {"winlog": {"channel": ...}}).
const FieldValue* find_field(const RawEvent& event, std::string_view name, const std::vector<std::string>& others) {
  if (const FieldValue* f = find_field(event, name); f || others.empty()) return f;
  return find_other(event, others);
}

std::string_view find_value(const RawEvent& event, std::string_view name, const std::vector<std::string>& others) {
  const FieldValue* f = find_field(event, name, others);
  return f ? f->value : std::string_view();
}

// The routing fields of an event, found as find_field() finds them.
struct RoutingFields {
  const FieldValue* channel = nullptr;
  const FieldValue* event_id = nullptr;
  const FieldValue* provider = nullptr;  // looked for only on request
};

// Finds Channel and EventID in one pass, preferring System fields as
// find_field() does. Both names have seven bytes, so a name is compared as
// two overlapping 4-byte words. Two find_field() calls had cost about 800
// instructions per Sysmon event (callgrind), mostly in memcmp.
RoutingFields find_routing_fields(const RawEvent& event, bool want_provider) {
  RoutingFields found;
  bool channel_system = false, event_id_system = false, provider_system = false;
  constexpr std::string_view kProvider = "Provider_Name";
  auto load4 = [](const char* p) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
  };
  static const std::uint32_t kChannelHead = load4("Channel"), kChannelTail = load4(&"Channel"[3]);
  static const std::uint32_t kEventIdHead = load4("EventID"), kEventIdTail = load4(&"EventID"[3]);
  for (const FieldValue& f : event.fields) {
    if (want_provider && f.name == kProvider && !f.nested_path) {
      if (!provider_system && (f.system || !found.provider)) {
        found.provider = &f;
        provider_system = f.system;
      }
      continue;
    }
    if (f.name.size() != 7 || f.nested_path) continue;
    const std::uint32_t head = load4(f.name.data()), tail = load4(f.name.data() + 3);
    if (head == kChannelHead && tail == kChannelTail) {
      if (!channel_system && (f.system || !found.channel)) {
        found.channel = &f;
        channel_system = f.system;
      }
    } else if (head == kEventIdHead && tail == kEventIdTail) {
      if (!event_id_system && (f.system || !found.event_id)) {
        found.event_id = &f;
        event_id_system = f.system;
      }
    }
  }
  return found;
}

long parse_event_id(std::string_view text) {
  long id = 0;
  if (text.empty() || text.size() > 9) return -1;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    id = id * 10 + (c - '0');
  }
  return id;
}
}  // namespace

std::uint32_t Matcher::route_of(const RawEvent& event, std::uint32_t* provider_route) const {
  const Engine::Router& router = *engine_.router_;
  std::uint32_t route_id = router.no_channel;
  if (provider_route) *provider_route = kNoRoute;
  if (router.channels.empty() && router.other_channels == router.no_channel && router.providers.empty())
    return route_id;
  // A Channel field marks a Windows event, even when it is empty.
  const bool want_provider = provider_route && !router.providers.empty();
  const RoutingFields routing = find_routing_fields(event, want_provider);
  const FieldValue* channel_field = routing.channel;
  if (!channel_field && !router.channel_fields.empty()) channel_field = find_other(event, router.channel_fields);
  if (!channel_field || channel_field->type == ValueType::Null) return route_id;
  route_id = router.other_channels;
  const FieldValue* event_id = routing.event_id;
  if (!event_id && !router.event_id_fields.empty()) event_id = find_other(event, router.event_id_fields);
  const long id = parse_event_id(event_id ? event_id->value : std::string_view());
  if (want_provider) {
    const FieldValue* provider = routing.provider;
    if (!provider && !router.provider_fields.empty()) provider = find_other(event, router.provider_fields);
    if (provider && provider->type != ValueType::Null) {
      if (!last_provider_set_ || provider->value != last_provider_) {
        auto it = router.providers.find(fold_case(provider->value));
        last_provider_.assign(provider->value);
        last_provider_entry_ = it != router.providers.end() ? &it->second : nullptr;
        last_provider_set_ = true;
      }
      if (const auto* entry = static_cast<const Engine::Router::ChannelEntry*>(last_provider_entry_)) {
        auto eid = entry->by_event_id.find(id);
        *provider_route = eid != entry->by_event_id.end() ? eid->second : entry->any;
      }
    }
  }
  using ChannelEntry = Engine::Router::ChannelEntry;
  if (!last_channel_set_ || channel_field->value != last_channel_) {
    // Channel names are ASCII in practice; fold to be safe about case.
    thread_local std::string folded;
    folded.clear();
    fold_case_append(channel_field->value, folded);
    auto it = router.channels.find(folded);
    last_channel_.assign(channel_field->value);
    last_channel_entry_ = it != router.channels.end() ? &it->second : nullptr;
    last_channel_set_ = true;
  }
  if (const auto* entry = static_cast<const ChannelEntry*>(last_channel_entry_)) {
    route_id = entry->any;
    auto eid = entry->by_event_id.find(id);
    if (eid != entry->by_event_id.end()) route_id = eid->second;
  }
  return route_id;
}

void Matcher::match(const RawEvent& event, std::vector<Detection>& out) {
  out.clear();
  stage_buffer_.clear();
  const Engine::Router& router = *engine_.router_;

  std::uint32_t provider_route = kNoRoute;
  std::uint32_t route_id = route_of(event, &provider_route);
  if (route_id == router.no_channel) ++channel_less_events_;
  const Engine::Route& route = router.routes[route_id];
  if (route.rules.empty() && provider_route == kNoRoute) {
    ++unrouted_events_;
    return;
  }
  if (!route.rules.empty()) match_route(event, route, out);
  if (provider_route != kNoRoute) {
    // Keep detections in rule order, as one route would give them.
    const std::size_t first = out.size();
    match_route(event, router.routes[provider_route], out);
    auto by_rule = [](const Detection& a, const Detection& b) { return a.rule < b.rule; };
    std::inplace_merge(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), by_rule);
  }
}

void Matcher::match_route(const RawEvent& event, const Engine::Route& route, std::vector<Detection>& out) {
  const Engine::Router& router = *engine_.router_;
  if (++current_ == 0) {  // generation counter wrapped: forget every cached result
    std::fill(generation_.begin(), generation_.end(), 0);
    current_ = 1;
  }
  view_.build(event, engine_.fields_, route.aliases);

  // Candidate rules: those without a witness, plus those whose witness
  // predicate matched in the prefilter scan. The rest cannot fire.
  candidates_.clear();
  if (prefilter_scratch_) {
    engine_.prefilter_->scan(view_, route.keyword_set, route.field_set, *prefilter_scratch_);
    candidates_.insert(candidates_.end(), route.always.begin(), route.always.end());
    for (std::uint32_t p : engine_.prefilter_->hit_predicates(*prefilter_scratch_)) {
      for (std::uint32_t r : engine_.witness_rules_[p]) {
        if (route.member[r] == kNotMember || candidate_mark_[r] == current_) continue;
        candidate_mark_[r] = current_;
        candidates_.push_back(r);
      }
    }
    std::sort(candidates_.begin(), candidates_.end());
  } else {
    candidates_.insert(candidates_.end(), route.rules.begin(), route.rules.end());
  }

  for (std::uint32_t rule : candidates_) {
    std::int32_t extra_index = route.member[rule];
    if (extra_index >= 0) {
      const auto& extra = router.extras[static_cast<std::size_t>(extra_index)];
      bool ok = false;
      view_.for_each_value(extra.field, [&](std::uint32_t i) { ok |= view_.folded(i) == extra.folded_value; });
      if (!ok) continue;
    }
    const Engine::Program& program = engine_.programs_[rule];
    if (!eval(program.condition)) continue;
    Detection d;
    d.rule = rule;
    d.stages_begin = static_cast<std::uint32_t>(stage_buffer_.size());
    for (std::size_t s = 0; s < program.stage_roots.size(); ++s)
      if (eval(program.stage_roots[s])) stage_buffer_.push_back(static_cast<std::uint16_t>(s));
    d.stages_count = static_cast<std::uint32_t>(stage_buffer_.size()) - d.stages_begin;
    out.push_back(d);
  }
}

std::vector<std::uint32_t> Matcher::values_of(std::string_view name) const {
  std::vector<std::uint32_t> out;
  const FieldId field = engine_.fields_.find(name);
  if (field != kNoField) view_.for_each_value(field, [&](std::uint32_t i) { out.push_back(i); });
  return out;
}

void Matcher::correlation_hits(const RawEvent& event, std::span<const Detection> detections, std::uint32_t input,
                               std::vector<CorrelationHit>& out, CorrelationStats& stats) const {
  const CorrelationSet& set = engine_.correlations_;
  std::optional<std::optional<std::int64_t>> time;  // parsed once, when a detection feeds a correlation
  for (const Detection& d : detections) {
    stats.detections += !set.feeds[d.rule].empty();
    for (const CorrelationFeed& feed : set.feeds[d.rule]) {
      if (!time) {
        time = event_time(event);
        if (!*time && stats.without_time++ == 0) {  // once per event, whatever the number of detections it has
          stats.untimed_input = input;
          stats.untimed_record = event.record;
        }
      }
      if (!*time) continue;
      CorrelationHit hit;
      hit.time_us = **time;
      hit.correlation = feed.correlation;
      hit.ref = feed.ref;
      hit.rule = d.rule;
      hit.input = input;
      hit.record = event.record;
      bool complete = true;
      for (FieldId field : feed.group) {
        // The first value of the field, which is an array's first element.
        bool found = false;
        view_.for_each_value(field, [&](std::uint32_t i) {
          if (found) return;
          const FieldValue& v = view_.value(i);
          if (v.type == ValueType::Null) return;
          found = true;
          append_group_value(hit.text, v.value);
        });
        if (!found) {
          complete = false;
          break;
        }
      }
      if (!complete) {
        ++stats.without_group;
        continue;
      }
      hit.key_size = static_cast<std::uint32_t>(hit.text.size());
      if (feed.value != kNoField)
        view_.for_each_value(feed.value, [&](std::uint32_t i) {
          const FieldValue& v = view_.value(i);
          if (hit.has_value || v.type == ValueType::Null) return;
          hit.has_value = true;
          hit.text += v.value;
        });
      out.push_back(std::move(hit));
    }
  }
}

std::span<const std::uint16_t> Matcher::stages(const Detection& detection) const {
  return std::span<const std::uint16_t>(stage_buffer_).subspan(detection.stages_begin, detection.stages_count);
}

std::string Matcher::explain(std::uint32_t rule, const RawEvent& event) {
  if (++current_ == 0) {
    std::fill(generation_.begin(), generation_.end(), 0);
    current_ = 1;
  }
  const auto& routes = engine_.router_->routes;
  std::uint32_t provider_route = kNoRoute;
  const Engine::Route* route_pointer = &routes[route_of(event, &provider_route)];
  const bool by_provider = provider_route != kNoRoute && routes[provider_route].member[rule] != kNotMember;
  if (by_provider) route_pointer = &routes[provider_route];
  const Engine::Route& route = *route_pointer;
  view_.build(event, engine_.fields_, route.aliases);
  // Explanations evaluate every predicate directly.
  struct Restore {
    bool& flag;
    bool saved;
    ~Restore() { flag = saved; }
  } restore{use_prefilter_, use_prefilter_};
  use_prefilter_ = false;
  const Engine::Program& program = engine_.programs_[rule];
  const CompiledRule& compiled = *engine_.runnable_[rule];
  std::string out;
  bool result = eval(program.condition);
  const bool routed = route.member[rule] != kNotMember;
  const std::string channel(find_value(event, "Channel", engine_.router_->channel_fields));
  const std::string event_id(find_value(event, "EventID", engine_.router_->event_id_fields));
  const bool reported = result && routed;
  out += fmt::format("rule {} \"{}\": {}\n", compiled.rule.id, compiled.rule.title,
                     reported ? "MATCH" : (result ? "condition true, but not reported (see routing)" : "no match"));
  if (by_provider) {
    const std::string provider(find_value(event, "Provider_Name", engine_.router_->provider_fields));
    out += fmt::format("  routing: the event (Channel '{}', Provider_Name '{}', EventID '{}') reaches this rule by its "
                       "provider ({})\n",
                       channel, provider, event_id, compiled.rule.logsource.label());
  } else if (routed) {
    out += fmt::format("  routing: the event (Channel '{}', EventID '{}') reaches this rule ({})\n", channel, event_id,
                       compiled.rule.logsource.label());
  } else {
    out += fmt::format("  routing: the event (Channel '{}', EventID '{}') is not from this rule's logsource ({}), so "
                       "hunt does not evaluate the rule on it (with --no-routing it would)\n",
                       channel, event_id, compiled.rule.logsource.label());
  }
  for (const auto& alias : route.aliases)
    out += fmt::format("  field rename of this source: {} reads {}\n", engine_.fields_.name(alias.sigma_field),
                       engine_.fields_.name(alias.event_field));
  out += fmt::format("  condition: {} -> {}\n", join(compiled.condition_texts, " | "), result ? "true" : "false");

  // Walks a stage tree printing each node.
  std::function<void(std::uint32_t, int)> walk = [&](std::uint32_t node_id, int depth) {
    const Engine::Node& node = engine_.nodes_[node_id];
    std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
    if (node.op == Engine::Node::Op::Predicate) {
      const PredicateMatcher& p = engine_.predicates_[node.arg];
      std::string reason;
      bool value = p.explain(view_, scratch_, reason);
      const Predicate& pred = p.predicate();
      std::string mods = join(pred.extra_modifiers(), "|");
      out += fmt::format("{}{} {} {}{}: {} ({})\n", indent, value ? "[x]" : "[ ]",
                         pred.is_keyword() ? "keyword" : pred.field, pred.kind(), mods.empty() ? "" : "|" + mods,
                         value ? "true" : "false", reason);
      return;
    }
    bool value = eval(node_id);
    const char* name = "not";
    if (node.op == Engine::Node::Op::And) name = "all of";
    if (node.op == Engine::Node::Op::Or) name = "any of";
    out += fmt::format("{}{} {}: {}\n", indent, value ? "[x]" : "[ ]", name, value ? "true" : "false");
    for (std::uint32_t k = 0; k < node.count; ++k) walk(engine_.children_[node.first + k], depth + 1);
  };
  for (std::size_t s = 0; s < program.stage_roots.size(); ++s) {
    bool value = eval(program.stage_roots[s]);
    out += fmt::format("  stage {}: {}\n", program.stage_names[s], value ? "true" : "false");
    walk(program.stage_roots[s], 2);
  }
  return out;
}

}  // namespace sigscope
