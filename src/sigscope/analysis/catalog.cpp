#include "sigscope/common/parallel.h"
#include "sigscope/analysis/catalog.h"
#include "sigscope/common/text.h"
#include "sigscope/taxonomy/fields.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

namespace sigscope {

namespace {

bool is_safe_slug(const std::string& id) {
  if (id.empty() || id.size() > 100) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string path_hash(const std::string& path, int document) {
  // FNV-1a over the path and document index: a stable short suffix.
  std::uint64_t h = 1469598103934665603ull;
  for (char c : path) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  h ^= static_cast<std::uint64_t>(document);
  h *= 1099511628211ull;
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buffer, 8);
}

// Names the rule fields that the event of `source` does not carry, by the
// bundled event field table, and whether the rule can still match it.
void check_event_fields(const CompiledRule& rule, EventSource& source) {
  if (source.event_id < 0 || source.channels.empty()) return;
  EventFields event;
  for (const auto& channel : source.channels) {
    EventFields one = EventFieldTable::bundled().fields(channel, source.provider, source.event_id);
    if (!one.known) continue;
    if (!event.known) {
      event = std::move(one);
      continue;
    }
    // A field is missing only when no channel's event has it.
    event.fields.insert(one.fields.begin(), one.fields.end());
    event.versions.insert(one.versions.begin(), one.versions.end());
    event.samples += one.samples;
  }
  if (!event.known) return;
  source.fields_basis = event.basis();
  std::set<std::string> missing;
  for (int s : rule.referenced_stages())
    for (const auto& p : rule.stages[static_cast<std::size_t>(s)].predicates) {
      if (p.is_keyword()) continue;
      auto rename = source.field_renames.find(p.field);
      if (!event.has(rename == source.field_renames.end() ? p.field : rename->second)) missing.insert(p.field);
    }
  source.missing_fields.assign(missing.begin(), missing.end());
  source.can_match = can_match_without(rule, missing);
}

void fill_facts(RulePage& page) {
  const CompiledRule& rule = *page.rule;
  page.attack = AttackData::bundled().coverage(rule.rule.tags);
  page.events = LogsourceData::bundled().coverage(rule.rule.logsource, required_event_ids(rule));
  // A correlation has no logsource of its own. A filter's logsource only
  // narrows the rules it applies to.
  if (rule.rule.kind == RuleKind::Correlation)
    page.events = {false, "A correlation rule reads the detections of the rules it lists; see their pages for the "
                          "events.", {}};
  else if (rule.rule.kind == RuleKind::Filter && page.events.sources.empty())
    page.events.note = "A filter rule applies to the rules it lists; see their pages for the events.";
  // Keep only the renames of fields this rule uses: those are what a source
  // such as Security 4688 needs for the rule to work on it.
  std::set<std::string> used;
  for (const auto& stage : rule.stages)
    for (const auto& p : stage.predicates) used.insert(p.field);
  for (auto& source : page.events.sources)
    std::erase_if(source.field_renames, [&](const auto& rename) { return !used.count(rename.first); });
  if (rule.rule.kind == RuleKind::Detection)
    for (auto& source : page.events.sources) check_event_fields(rule, source);
  page.polarity = stage_polarities(rule);
  page.indicators = rule_indicators(rule);
  page.exclusions = rule_exclusions(rule);
}

// A diagnostic belongs on a page when it names the page's file and rule and,
// for files with several documents, lies within the page's document.
bool belongs_to(const Diagnostic& d, const Rule& rule) {
  if (d.file != rule.path || d.rule_id != rule.id) return false;
  if (d.line == 0) return true;
  int last = rule.line + static_cast<int>(std::count(rule.source_text.begin(), rule.source_text.end(), '\n'));
  return d.line >= rule.line && d.line <= last;
}

void attach_diagnostics(std::vector<RulePage>& pages, const DiagnosticList& diagnostics) {
  std::map<std::string, std::vector<std::size_t>> by_file;
  for (std::size_t i = 0; i < pages.size(); ++i) by_file[pages[i].rule->rule.path].push_back(i);
  for (const auto& d : diagnostics.items()) {
    auto it = by_file.find(d.file);
    if (it == by_file.end()) continue;
    for (std::size_t i : it->second)
      if (belongs_to(d, pages[i].rule->rule)) pages[i].diagnostics.push_back(d);
  }
}

}  // namespace

Catalog build_catalog(std::vector<CompiledRule> rules, const DiagnosticList& diagnostics,
                      unsigned threads) {
  Catalog catalog;
  catalog.rules = std::move(rules);
  catalog.pages.resize(catalog.rules.size());

  // Page file names: the id when it is unique and file-name safe, else the
  // id (or title) plus a hash of the rule's path.
  std::map<std::string, int> id_count;
  for (const auto& r : catalog.rules) ++id_count[r.rule.id];
  for (std::size_t i = 0; i < catalog.rules.size(); ++i) {
    const Rule& r = catalog.rules[i].rule;
    RulePage& page = catalog.pages[i];
    page.rule = &catalog.rules[i];
    if (is_safe_slug(r.id) && id_count[r.id] == 1) {
      page.slug = r.id;
    } else {
      std::string base = is_safe_slug(r.id) ? r.id : std::string("rule");
      page.slug = base + "-" + path_hash(r.path, r.document_index);
    }
  }

  parallel_for(catalog.pages.size(), threads, [&](std::size_t i) { fill_facts(catalog.pages[i]); });

  // Corpus counts: how many rules carry each indicator (each rule once).
  for (std::size_t i = 0; i < catalog.pages.size(); ++i) {
    const RulePage& page = catalog.pages[i];
    std::set<std::string> keys;
    for (const auto& ind : page.indicators) keys.insert(ind.key);
    for (const auto& k : keys) {
      ++catalog.indicator_rules[k];
      catalog.indicator_pages[k].push_back(static_cast<std::uint32_t>(i));
    }
    std::set<std::string> ex_keys;
    for (const auto& ex : page.exclusions) ex_keys.insert(ex.keys.begin(), ex.keys.end());
    for (const auto& k : ex_keys) ++catalog.exclusion_rules[k];
  }
  std::map<std::string, std::string> slug_of_id;  // ids that name exactly one page
  for (const auto& page : catalog.pages)
    if (id_count[page.rule->rule.id] == 1) slug_of_id[page.rule->rule.id] = page.slug;
  std::map<std::string, std::vector<std::uint32_t>> used_by_slug;  // slug -> correlations and filters
  std::map<std::string, int> name_count;
  for (const auto& page : catalog.pages)
    if (!page.rule->rule.name.empty()) ++name_count[page.rule->rule.name];
  std::map<std::string, std::string> slug_of_name;  // names of exactly one page
  for (const auto& page : catalog.pages)
    if (!page.rule->rule.name.empty() && name_count[page.rule->rule.name] == 1)
      slug_of_name[page.rule->rule.name] = page.slug;
  for (std::size_t i = 0; i < catalog.pages.size(); ++i) {
    RulePage& page = catalog.pages[i];
    const Rule& rule = page.rule->rule;
    const std::vector<std::string>* referenced = rule.kind == RuleKind::Correlation ? &rule.correlation.rules
                                                 : rule.kind == RuleKind::Filter    ? &rule.filter.rules
                                                                                     : nullptr;
    if (referenced)
      for (const auto& ref : *referenced) {
        auto by_id = slug_of_id.find(ref);
        auto by_name = slug_of_name.find(ref);
        page.referenced_slugs.push_back(by_id != slug_of_id.end()       ? by_id->second
                                        : by_name != slug_of_name.end() ? by_name->second
                                                                        : std::string());
        if (!page.referenced_slugs.back().empty())
          used_by_slug[page.referenced_slugs.back()].push_back(static_cast<std::uint32_t>(i));
      }
    for (const auto& related : page.rule->rule.related) {
      auto it = slug_of_id.find(related.id);
      page.related_slugs.push_back(it == slug_of_id.end() ? std::string() : it->second);
    }
    for (const auto& ind : page.indicators) {
      std::vector<std::uint32_t> peers;
      for (std::uint32_t other : catalog.indicator_pages[ind.key]) {
        if (other == i) continue;
        if (peers.size() == kIndicatorPeers) break;
        peers.push_back(other);
      }
      page.indicator_peers.push_back(std::move(peers));
    }
  }
  for (auto& page : catalog.pages) {
    if (auto it = used_by_slug.find(page.slug); it != used_by_slug.end()) {
      page.used_by = it->second;
      // A rule listed twice by one correlation is named once.
      page.used_by.erase(std::unique(page.used_by.begin(), page.used_by.end()), page.used_by.end());
    }
    for (const auto& ind : page.indicators)
      page.indicator_corpus.push_back(catalog.indicator_rules[ind.key] - 1);
    for (const auto& ex : page.exclusions) {
      std::vector<int> counts;
      for (const auto& k : ex.keys) counts.push_back(catalog.exclusion_rules[k] - 1);
      page.exclusion_corpus.push_back(std::move(counts));
    }
  }
  parallel_for(catalog.pages.size(), threads, [&](std::size_t i) {
    catalog.pages[i].similar = similar_rules(catalog.pages[i], catalog, i);
  });
  attach_diagnostics(catalog.pages, diagnostics);
  return catalog;
}

std::string correlation_condition_text(const CorrelationCondition& condition) {
  std::vector<std::string> parts;
  if (!condition.field.empty()) parts.push_back("field " + condition.field);
  if (condition.percentile) parts.push_back(fmt::format("percentile {}", *condition.percentile));
  const std::pair<const char*, const std::optional<double>*> bounds[] = {
      {"gt", &condition.gt}, {"gte", &condition.gte}, {"lt", &condition.lt},
      {"lte", &condition.lte}, {"eq", &condition.eq}, {"neq", &condition.neq}};
  for (const auto& [name, value] : bounds)
    if (*value) parts.push_back(fmt::format("{} {}", name, **value));
  return join(parts, ", ");
}

bool same_rule_document(const Rule& a, const Rule& b) {
  if (a.document_index != b.document_index) return false;
  if (a.path == b.path) return true;
  // Only files of the same name need a file system check.
  if (std::filesystem::path(a.path).filename() != std::filesystem::path(b.path).filename()) return false;
  std::error_code ec;
  return std::filesystem::equivalent(a.path, b.path, ec);
}

RulePage analyse_rule(const CompiledRule& rule, const Catalog* corpus,
                      const DiagnosticList& diagnostics) {
  RulePage page;
  page.rule = &rule;
  page.slug = rule.rule.id;
  fill_facts(page);
  // The corpus may or may not contain this very rule: count it out by identity
  // of path and id.
  static const std::unordered_map<std::string, int> kEmpty;
  const auto& indicator_index = corpus ? corpus->indicator_rules : kEmpty;
  const auto& exclusion_index = corpus ? corpus->exclusion_rules : kEmpty;
  auto count_others = [&](const std::unordered_map<std::string, int>& index,
                          const std::string& key, bool own) {
    if (!corpus) return -1;  // unknown without a corpus
    auto it = index.find(key);
    int n = it == index.end() ? 0 : it->second;
    return own ? std::max(0, n - 1) : n;
  };
  bool in_corpus = false;
  if (corpus)
    for (const auto& r : corpus->rules)
      if (r.rule.id == rule.rule.id && same_rule_document(r.rule, rule.rule)) in_corpus = true;
  for (const auto& ind : page.indicators)
    page.indicator_corpus.push_back(count_others(indicator_index, ind.key, in_corpus));
  for (const auto& ex : page.exclusions) {
    std::vector<int> counts;
    for (const auto& k : ex.keys)
      counts.push_back(count_others(exclusion_index, k, in_corpus));
    page.exclusion_corpus.push_back(std::move(counts));
  }
  for (const auto& d : diagnostics.items())
    if (belongs_to(d, rule.rule)) page.diagnostics.push_back(d);
  if (corpus) page.similar = similar_rules(page, *corpus, SIZE_MAX);
  return page;
}

}  // namespace sigscope
