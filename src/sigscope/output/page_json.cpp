#include "sigscope/output/page_json.h"

#include "sigscope/analysis/rule_facts.h"

namespace sigscope {

using nlohmann::json;

json yaml_to_json(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::Null: return nullptr;
    case YamlNode::Kind::Scalar: return node.text;
    case YamlNode::Kind::Sequence: {
      json out = json::array();
      for (const auto& item : node.items) out.push_back(yaml_to_json(item));
      return out;
    }
    case YamlNode::Kind::Mapping: {
      json out = json::object();
      for (const auto& e : node.entries) out[e.key] = yaml_to_json(e.value);
      return out;
    }
  }
  return nullptr;
}

namespace {

json attack_json(const AttackCoverage& attack) {
  json tactics = json::array();
  for (const auto& row : attack.tactics) {
    json techniques = json::array();
    for (const auto& t : row.techniques) {
      json tj = {{"id", t.id}, {"name", t.name}, {"known", t.known}};
      if (!t.note.empty()) tj["note"] = t.note;
      techniques.push_back(std::move(tj));
    }
    json tj = {{"id", row.tactic.id},
               {"shortname", row.tactic.shortname},
               {"name", row.tactic.name},
               {"known", row.known},
               {"tagged", row.tagged},
               {"techniques", std::move(techniques)}};
    if (!row.known)
      tj["note"] = "the bundled ATT&CK " + AttackData::bundled().version() + " data does not name it";
    tactics.push_back(std::move(tj));
  }
  auto named = [](const std::vector<AttackCoverage::Named>& list) {
    json out = json::array();
    for (const auto& n : list) out.push_back({{"id", n.id}, {"name", n.name}, {"known", !n.name.empty()}});
    return out;
  };
  return {{"version", AttackData::bundled().version()},
          {"tactics", std::move(tactics)},
          {"groups", named(attack.groups)},
          {"software", named(attack.software)},
          {"unknown_tags", attack.unknown_tags},
          {"other_tags", attack.other_tags}};
}

json events_json(const EventCoverage& events) {
  json sources = json::array();
  for (const auto& s : events.sources) {
    json sj = {{"log", s.log},
               {"channels", s.channels},
               {"provider", s.provider},
               {"event_id", s.event_id >= 0 ? json(s.event_id) : json(nullptr)},
               {"title", s.title},
               {"field_renames", s.field_renames},
               {"extra_conditions", s.extra_conditions}};
    if (!s.note.empty()) sj["note"] = s.note;
    if (!s.fields_basis.empty()) {
      sj["missing_fields"] = s.missing_fields;
      sj["can_match"] = s.can_match;
      sj["field_list"] = s.fields_basis;
    }
    sources.push_back(std::move(sj));
  }
  json out = {{"mapped", events.mapped}, {"sources", std::move(sources)}};
  if (!events.note.empty()) out["note"] = events.note;
  return out;
}

json predicate_json(const Predicate& p) {
  json values = json::array();
  for (const auto& v : p.values) values.push_back(display_value(p, v));
  json out = {{"field", p.field},
              {"kind", p.kind()},
              {"modifiers", p.extra_modifiers()},
              {"values", std::move(values)},
              {"match", p.match_all ? "all" : "any"},
              {"case_sensitive", p.cased || p.op == MatchOp::Regex},
              {"line", p.line}};
  // Expanded encodings are listed so users can see what is searched for.
  std::size_t expansions = 0;
  for (const auto& v : p.values) expansions += v.alternatives.size() > 1 ? v.alternatives.size() : 0;
  if (expansions > 0) {
    json expanded = json::array();
    for (const auto& v : p.values) {
      json alts = json::array();
      for (const auto& a : v.alternatives) alts.push_back(a.to_sigma());
      expanded.push_back(std::move(alts));
    }
    out["expanded"] = std::move(expanded);
  }
  return out;
}

json stages_json(const RulePage& page) {
  const CompiledRule& rule = *page.rule;
  json stages = json::array();
  std::string condition_text;
  for (std::size_t i = 0; i < rule.condition_texts.size(); ++i) {
    if (i) condition_text += "\nor\n";
    condition_text += rule.condition_texts[i];
  }
  stages.push_back({{"index", 0}, {"name", "condition"}, {"text", condition_text},
                    {"expanded", to_string(rule.condition_ast)}});
  int index = 1;
  for (int s : rule.referenced_stages()) {
    const Stage& stage = rule.stages[static_cast<std::size_t>(s)];
    Polarity polarity = page.polarity[static_cast<std::size_t>(s)];
    json predicates = json::array();
    for (const auto& p : stage.predicates) predicates.push_back(predicate_json(p));
    std::string label = polarity == Polarity::Negative ? "not " + stage.name : stage.name;
    stages.push_back({{"index", index++},
                      {"name", stage.name},
                      {"label", label},
                      {"negated", polarity == Polarity::Negative},
                      {"polarity", polarity == Polarity::Positive   ? "positive"
                                   : polarity == Polarity::Negative ? "negative"
                                                                    : "both"},
                      {"yaml", stage.yaml},
                      {"logic", stage_logic(stage)},
                      {"predicates", std::move(predicates)},
                      {"line", stage.line}});
  }
  return stages;
}

json correlation_json(const Correlation& c) {
  json condition = json::object();
  if (c.condition.gt) condition["gt"] = *c.condition.gt;
  if (c.condition.gte) condition["gte"] = *c.condition.gte;
  if (c.condition.lt) condition["lt"] = *c.condition.lt;
  if (c.condition.lte) condition["lte"] = *c.condition.lte;
  if (c.condition.eq) condition["eq"] = *c.condition.eq;
  if (c.condition.neq) condition["neq"] = *c.condition.neq;
  if (!c.condition.field.empty()) condition["field"] = c.condition.field;
  if (c.condition.percentile) condition["percentile"] = *c.condition.percentile;
  return {{"type", correlation_type_name(c.type)},
          {"rules", c.rules},
          {"group_by", c.group_by},
          {"timespan", c.timespan_text},
          {"timespan_seconds", c.timespan_seconds},
          {"condition", std::move(condition)},
          {"aliases", c.aliases},
          {"generate", c.generate}};
}

}  // namespace

namespace {
json exclusion_counts(const std::vector<int>& counts) {
  json out = json::array();
  for (int c : counts) out.push_back(c >= 0 ? json(c) : json(nullptr));
  return out;
}
}  // namespace

json rule_page_json(const RulePage& page) {
  const Rule& r = page.rule->rule;
  json related = json::array();
  for (const auto& rel : r.related) related.push_back({{"id", rel.id}, {"type", rel.type}});
  json custom = json::object();
  for (const auto& e : r.custom) custom[e.key] = yaml_to_json(e.value);
  json logsource = {{"category", r.logsource.category},
                    {"product", r.logsource.product},
                    {"service", r.logsource.service},
                    {"definition", r.logsource.definition}};
  for (const auto& e : r.logsource.custom) logsource[e.key] = yaml_to_json(e.value);

  json indicators = json::array();
  for (std::size_t i = 0; i < page.indicators.size(); ++i) {
    const Indicator& ind = page.indicators[i];
    indicators.push_back({{"field", ind.field},
                          {"kind", ind.kind},
                          {"value", ind.value},
                          {"modifiers", ind.modifiers},
                          {"corpus", page.indicator_corpus.at(i) >= 0 ? json(page.indicator_corpus.at(i)) : json(nullptr)},
                          {"stage", ind.stage},
                          {"case_sensitive", ind.case_sensitive}});
  }
  json exclusions = json::array();
  for (std::size_t i = 0; i < page.exclusions.size(); ++i) {
    const Exclusion& ex = page.exclusions[i];
    exclusions.push_back({{"group", ex.group},
                          {"stage", ex.stage},
                          {"field", ex.field},
                          {"kind", ex.kind},
                          {"values", ex.values},
                          {"modifiers", ex.modifiers},
                          {"corpus", exclusion_counts(page.exclusion_corpus.at(i))}});
  }
  json diagnostics = json::array();
  for (const auto& d : page.diagnostics)
    diagnostics.push_back({{"severity", d.severity == Severity::Error ? "error" : "warning"},
                           {"line", d.line},
                           {"column", d.column},
                           {"message", d.message},
                           {"hint", d.hint}});

  json related_rules = json::array();
  for (const auto& rel : page.similar)
    related_rules.push_back({{"id", rel.id},
                             {"slug", rel.slug},
                             {"title", rel.title},
                             {"level", rel.level},
                             {"shared", rel.shared},
                             {"examples", rel.examples}});

  json out = {
      {"id", r.id},
      {"title", r.title},
      {"slug", page.slug},
      {"kind", rule_kind_name(r.kind)},
      {"name", r.name},
      {"status", r.status},
      {"level", r.level},
      {"description", r.description},
      {"author", r.author},
      {"date", r.date},
      {"modified", r.modified},
      {"license", r.license},
      {"references", r.references},
      {"falsepositives", r.falsepositives},
      {"fields", r.fields},
      {"tags", r.tags},
      {"scope", r.scope},
      {"taxonomy", r.taxonomy},
      {"related", std::move(related)},
      {"logsource", std::move(logsource)},
      {"path", r.relative_path.empty() ? r.path : r.relative_path},
      {"document", r.document_index},
      {"line", r.line},
      {"attack", attack_json(page.attack)},
      {"events", events_json(page.events)},
      {"stages", r.kind == RuleKind::Correlation ? json::array() : stages_json(page)},
      {"exclusions", std::move(exclusions)},
      {"indicators", std::move(indicators)},
      {"custom", std::move(custom)},
      {"source", r.source_text},
      {"diagnostics", std::move(diagnostics)},
      {"related_rules", std::move(related_rules)},
  };
  if (page.rule->aggregation) out["legacy_aggregation"] = page.rule->aggregation->text;
  if (r.kind == RuleKind::Correlation) {
    out["correlation"] = correlation_json(r.correlation);
    out["correlation"]["rule_slugs"] = page.referenced_slugs;
  }
  if (r.kind == RuleKind::Filter) out["filter"] = {{"rules", r.filter.rules}, {"rule_slugs", page.referenced_slugs}};
  return out;
}

json index_entry_json(const RulePage& page) {
  const Rule& r = page.rule->rule;
  json tactics = json::array();
  json techniques = json::array();
  for (const auto& row : page.attack.tactics) {
    if (!row.tactic.shortname.empty()) tactics.push_back(row.tactic.shortname);
    for (const auto& t : row.techniques)
      if (std::find(techniques.begin(), techniques.end(), t.id) == techniques.end())
        techniques.push_back(t.id);
  }
  // Free text the index page searches: fields and values of the indicators
  // and of the exclusions, so a search for a filtered path finds its rules.
  std::string search;
  for (const auto& ind : page.indicators) {
    search += ind.field;
    search += ' ';
    search += ind.value;
    search += '\n';
  }
  for (const auto& ex : page.exclusions) {
    search += ex.field;
    for (const auto& v : ex.values) {
      search += ' ';
      search += v;
    }
    search += '\n';
  }
  return {{"id", r.id},
          {"slug", page.slug},
          {"title", r.title},
          {"kind", rule_kind_name(r.kind)},
          {"level", r.level},
          {"status", r.status},
          {"product", r.logsource.product},
          {"category", r.logsource.category},
          {"service", r.logsource.service},
          {"tactics", std::move(tactics)},
          {"techniques", std::move(techniques)},
          {"tags", r.tags},
          {"author", r.author},
          {"date", r.date},
          {"modified", r.modified},
          {"path", r.relative_path.empty() ? r.path : r.relative_path},
          {"description", r.description},
          {"indicators", search},
          {"warnings", page.diagnostics.size()}};
}

json catalog_index_json(const Catalog& catalog, const json& summary) {
  json rules = json::array();
  for (const auto& page : catalog.pages) rules.push_back(index_entry_json(page));
  json tactic_names = json::object();
  for (const auto& page : catalog.pages)
    for (const auto& row : page.attack.tactics)
      if (!row.tactic.shortname.empty()) tactic_names[row.tactic.shortname] = row.tactic.name;
  return {{"format", "sigscope-catalog-index-v1"},
          {"attack_version", AttackData::bundled().version()},
          {"tactic_names", std::move(tactic_names)},
          {"summary", summary},
          {"rules", std::move(rules)}};
}

}  // namespace sigscope
