#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/output/page_text.h"

namespace sigscope {

namespace {

// Returns `content` (the text `s`, escaped or not) as inline code whose
// fence is longer than any run of backticks in `s`.
std::string code_span(std::string_view s, std::string_view content) {
  std::size_t ticks = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    ticks = std::max(ticks, run);
  }
  std::string fence(ticks + 1, '`');
  std::string pad = (!s.empty() && (s.front() == '`' || s.back() == '`')) ? " " : "";
  return fence + pad + std::string(content) + pad + fence;
}

// Returns inline code for a table cell, where '|' is escaped.
std::string code(std::string_view s) { return code_span(s, markdown_cell(s)); }

// Returns inline code outside a table, where a '|' needs no escape.
std::string code_text(std::string_view s) { return code_span(s, s); }

std::string fenced(std::string_view text, std::string_view lang) {
  std::string fence = "```";
  while (text.find(fence) != std::string_view::npos) fence += '`';
  std::string out = fence + std::string(lang) + "\n" + std::string(text);
  if (out.empty() || out.back() != '\n') out += '\n';
  return out + fence + "\n";
}

std::string event_label(const EventSource& s) {
  return s.event_id >= 0 ? fmt::format("Event ID {}", s.event_id) : std::string("all events");
}

std::string renames_text(const EventSource& s) {
  std::vector<std::string> parts;
  for (const auto& [from, to] : s.field_renames) parts.push_back(from + " → " + to);
  for (const auto& [field, value] : s.extra_conditions) parts.push_back(field + " = " + value);
  return join(parts, ", ");
}

// The rule fields the event does not carry, whether the rule can match it,
// and where the event's field list comes from.
std::string missing_fields_text(const EventSource& s) {
  if (s.fields_basis.empty()) return "no field list for this event";
  std::vector<std::string> fields;
  for (const auto& field : s.missing_fields) {
    auto rename = s.field_renames.find(field);
    fields.push_back(rename == s.field_renames.end() ? field : field + " (" + rename->second + ")");
  }
  std::string out = fields.empty() ? std::string("none") : join(fields, ", ");
  if (!s.can_match) out += "; the rule cannot match this event";
  return out + " (field list: " + s.fields_basis + ")";
}

}  // namespace

std::string rule_page_markdown(const RulePage& page) {
  const CompiledRule& compiled = *page.rule;
  const Rule& r = compiled.rule;
  std::string out;
  out += fmt::format("# {}\n\n", markdown_cell(r.title));
  if (!r.description.empty()) out += markdown_cell(r.description) + "\n\n";

  out += "| Attribute | Value |\n|---|---|\n";
  auto row = [&](std::string_view name, const std::string& value) {
    if (!value.empty()) out += fmt::format("| {} | {} |\n", name, markdown_cell(value));
  };
  row("ID", r.id);
  row("Kind", std::string(rule_kind_name(r.kind)));
  row("Status", r.status);
  row("Level", r.level);
  row("Logsource", r.logsource.label());
  if (r.kind == RuleKind::Correlation || r.kind == RuleKind::Filter)
    row(r.kind == RuleKind::Correlation ? "Correlates" : "Applies to",
        join(r.kind == RuleKind::Correlation ? r.correlation.rules : r.filter.rules, ", "));
  if (r.kind == RuleKind::Correlation) {
    const Correlation& c = r.correlation;
    row("Correlation type", std::string(correlation_type_name(c.type)));
    row("Group by", join(c.group_by, ", "));
    row("Timespan", c.timespan_text);
    row("Condition", correlation_condition_text(c.condition));
    row("Generate", c.generate ? "yes" : "no");
  }
  row("Author", r.author);
  row("Date", r.date);
  row("Modified", r.modified);
  row("File", fmt::format("{}:{}", r.path, r.line));
  if (!r.falsepositives.empty()) row("False positives", join(r.falsepositives, "; "));
  out += "\n";

  out += "## MITRE ATT&CK coverage\n\n";
  if (page.attack.tactics.empty() && page.attack.groups.empty() && page.attack.software.empty()) {
    out += "The rule has no ATT&CK tags.\n\n";
  } else {
    out += "| Tactic | Techniques |\n|---|---|\n";
    for (const auto& t : page.attack.tactics) {
      std::vector<std::string> techniques;
      for (const auto& tech : t.techniques) {
        std::string text = tech.id + (tech.name.empty() ? "" : " " + tech.name);
        if (!tech.note.empty()) text += " (" + tech.note + ")";
        techniques.push_back(text);
      }
      std::string tactic = t.tactic.name;
      if (!t.known && !t.tactic.shortname.empty())
        tactic += fmt::format(" (not named by the bundled ATT&CK {} data)", AttackData::bundled().version());
      out += fmt::format("| {} | {} |\n", markdown_cell(tactic), markdown_cell(join(techniques, "; ")));
    }
    for (const auto& g : page.attack.groups)
      out += fmt::format("| Group | {} {} |\n", g.id, markdown_cell(g.name.empty() ? "(unknown id)" : g.name));
    for (const auto& s : page.attack.software)
      out += fmt::format("| Software | {} {} |\n", s.id, markdown_cell(s.name.empty() ? "(unknown id)" : s.name));
    out += "\n";
  }
  if (!page.attack.unknown_tags.empty())
    out += "Unrecognised ATT&CK tags: " + markdown_cell(join(page.attack.unknown_tags, ", ")) + "\n\n";
  if (!page.attack.other_tags.empty())
    out += "Other tags: " + markdown_cell(join(page.attack.other_tags, ", ")) + "\n\n";

  out += "## Event coverage\n\n";
  if (page.events.sources.empty()) {
    out += markdown_cell(page.events.note.empty() ? "No event mapping is known for this logsource."
                                                  : page.events.note) +
           "\n\n";
  } else {
    out += "| Provider | Event | Title | Channel | Field renames and conditions | Rule fields the event lacks |\n"
           "|---|---|---|---|---|---|\n";
    for (const auto& s : page.events.sources) {
      std::string title = s.title.empty() ? s.note : s.title;
      out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", markdown_cell(s.log), event_label(s),
                         markdown_cell(title), markdown_cell(join(s.channels, ", ")),
                         markdown_cell(renames_text(s)), markdown_cell(missing_fields_text(s)));
    }
    out += "\n";
  }

  out += "## Rule body\n\n" + fenced(r.source_text, "yaml") + "\n";

  if (r.kind != RuleKind::Correlation) {
    out += "## Stages and predicates\n\n";
    std::string condition = join(compiled.condition_texts, "\nor\n");
    out += "### Stage 0: condition\n\n" + fenced(condition, "") + "\n";
    int index = 1;
    for (int s : compiled.referenced_stages()) {
      const Stage& stage = compiled.stages[static_cast<std::size_t>(s)];
      bool negated = page.polarity[static_cast<std::size_t>(s)] == Polarity::Negative;
      out += fmt::format("### Stage {}: {}{}\n\n", index++, negated ? "not " : "", stage.name);
      out += fenced(stage.yaml, "yaml") + "\n";
      out += "Logic: " + code_text(stage_logic(stage)) + "\n\n";
      out += "| Field | Kind | Modifiers | Values | Match |\n|---|---|---|---|---|\n";
      for (const auto& p : stage.predicates) {
        std::vector<std::string> values;
        for (const auto& v : p.values) values.push_back(code(display_value(p, v)));
        out += fmt::format("| {} | {} | {} | {} | {} |\n",
                           p.is_keyword() ? "(keyword)" : markdown_cell(p.field), p.kind(),
                           markdown_cell(join(p.extra_modifiers(), ", ")), join(values, " "),
                           p.match_all ? "all" : "any");
      }
      out += "\n";
    }
  }

  out += "## Exclusions\n\n";
  if (page.exclusions.empty()) {
    out += "The condition has no top-level NOT conjuncts.\n\n";
  } else {
    out += "Top-level NOT conjuncts of the condition: events matching these are suppressed. Rows with the same "
           "number suppress an event only when all of them match it; each number suppresses on its own.\n\n";
    out += "| # | Field | Kind | Excluded values | Stage | Corpus |\n|---|---|---|---|---|---|\n";
    for (std::size_t i = 0; i < page.exclusions.size(); ++i) {
      const Exclusion& ex = page.exclusions[i];
      std::vector<std::string> values, counts;
      for (const auto& v : ex.values) values.push_back(code(v));
      for (int c : page.exclusion_corpus[i]) counts.push_back(c >= 0 ? std::to_string(c) : std::string("–"));
      std::string kind = ex.kind + (ex.modifiers.empty() ? "" : " (" + join(ex.modifiers, ", ") + ")");
      out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", ex.group + 1,
                         ex.field.empty() ? "(keyword)" : markdown_cell(ex.field),
                         markdown_cell(kind), join(values, " "), markdown_cell(ex.stage),
                         join(counts, ", "));
    }
    out += "\n";
  }

  out += "## Indicators\n\n";
  if (page.indicators.empty()) {
    out += "The rule has no positive indicators.\n\n";
  } else {
    bool counted = !page.indicator_corpus.empty() && page.indicator_corpus.front() >= 0;
    out += counted ? "Corpus: how many other rules in the catalog match on the same field, kind and value.\n\n"
                   : "Corpus counts need a rule corpus: run explain with --corpus RULES.\n\n";
    out += "| Field | Kind | Modifiers | Value | Corpus |\n|---|---|---|---|---|\n";
    for (std::size_t i = 0; i < page.indicators.size(); ++i) {
      const Indicator& ind = page.indicators[i];
      out += fmt::format("| {} | {} | {} | {} | {} |\n",
                         ind.field.empty() ? "(keyword)" : markdown_cell(ind.field), ind.kind,
                         markdown_cell(join(ind.modifiers, ", ")), code(ind.value),
                         page.indicator_corpus[i] >= 0 ? std::to_string(page.indicator_corpus[i]) : std::string("–"));
    }
    out += "\n";
  }

  if (!page.similar.empty()) {
    out += "## Related rules\n\n";
    out += "Other rules of the corpus matching on the same indicators, most shared first.\n\n";
    out += "| Rule | Level | Shared | Shared indicators (first three) |\n|---|---|---|---|\n";
    for (const auto& rel : page.similar) {
      std::vector<std::string> examples;
      for (const auto& e : rel.examples) examples.push_back(code(e));
      out += fmt::format("| {} ({}) | {} | {} | {} |\n", markdown_cell(rel.title), code(rel.id),
                         rel.level, rel.shared, join(examples, " "));
    }
    out += "\n";
  }

  if (!page.diagnostics.empty()) {
    out += "## Diagnostics\n\n";
    for (const auto& d : page.diagnostics)
      out += fmt::format("- line {}: {}: {}{}\n", d.line,
                         d.severity == Severity::Error ? "error" : "warning", markdown_cell(d.message),
                         d.hint.empty() ? "" : " (" + markdown_cell(d.hint) + ")");
    out += "\n";
  }
  return out;
}

}  // namespace sigscope
