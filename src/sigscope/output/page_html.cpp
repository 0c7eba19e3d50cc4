#include <algorithm>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/output/page_text.h"
#include "sigscope/output/site_html.h"

namespace sigscope {

namespace {

std::string esc(std::string_view s) { return html_escape(s); }

// Link to the catalog index with a search filled in.
std::string search_link(const std::string& root, std::string_view query, std::string_view text) {
  std::string encoded;
  for (unsigned char c : query) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded += fmt::format("%{:02X}", c);
    }
  }
  return fmt::format("<a href=\"{}index.html#q={}\">{}</a>", root, esc(encoded), esc(text));
}

std::string level_badge(const std::string& level) {
  if (level.empty()) return {};
  return fmt::format("<span class=\"badge level-{}\">{}</span>", esc(level), esc(level));
}

void open_section(std::string& out, std::string_view id, std::string_view title) {
  out += fmt::format("<section id=\"{}\"><h2>{}</h2>\n", id, esc(title));
}

}  // namespace

std::string highlight_yaml(std::string_view yaml) {
  std::string out;
  std::size_t pos = 0;
  while (pos < yaml.size()) {
    std::size_t eol = yaml.find('\n', pos);
    if (eol == std::string_view::npos) eol = yaml.size();
    std::string_view line = yaml.substr(pos, eol - pos);
    std::size_t i = 0;
    while (i < line.size() && line[i] == ' ') ++i;
    out += line.substr(0, i);
    std::string_view rest = line.substr(i);
    if (!rest.empty() && rest.front() == '#') {
      out += "<span class=\"y-comment\">" + esc(rest) + "</span>";
    } else {
      if (rest.size() >= 2 && rest[0] == '-' && rest[1] == ' ') {
        out += "<span class=\"y-dash\">-</span> ";
        rest.remove_prefix(2);
      }
      // A key is text up to ": " (or a trailing ":") outside quotes.
      std::size_t colon = std::string_view::npos;
      if (!rest.empty() && rest.front() != '\'' && rest.front() != '"') {
        for (std::size_t k = 0; k < rest.size(); ++k) {
          if (rest[k] == ':' && (k + 1 == rest.size() || rest[k + 1] == ' ')) {
            colon = k;
            break;
          }
        }
      }
      std::string_view value = rest;
      if (colon != std::string_view::npos) {
        std::string_view key = rest.substr(0, colon);
        std::size_t bar = key.find('|');
        if (bar != std::string_view::npos && bar > 0) {
          out += "<span class=\"y-key\">" + esc(key.substr(0, bar)) + "</span>";
          out += "<span class=\"y-mod\">" + esc(key.substr(bar)) + "</span>";
        } else {
          out += "<span class=\"y-key\">" + esc(key) + "</span>";
        }
        out += ':';
        value = rest.substr(colon + 1);
      }
      std::size_t lead = 0;
      while (lead < value.size() && value[lead] == ' ') ++lead;
      out += value.substr(0, lead);
      value.remove_prefix(lead);
      if (!value.empty()) {
        const char* cls = (value.front() == '\'' || value.front() == '"') ? "y-str" : "y-val";
        out += fmt::format("<span class=\"{}\">{}</span>", cls, esc(value));
      }
    }
    out += '\n';
    pos = eol + 1;
  }
  return out;
}

std::string content_security_policy_meta() {
  return "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'self'; "
         "style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; object-src 'none'\">\n";
}

std::string rule_page_html(const RulePage& page, const std::string& root, const Catalog* catalog) {
  const CompiledRule& compiled = *page.rule;
  const Rule& r = compiled.rule;
  std::string out;
  out.reserve(16384);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += content_security_policy_meta();
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += fmt::format("<title>{} · sigscope catalog</title>\n", esc(r.title));
  out += fmt::format("<link rel=\"stylesheet\" href=\"{}assets/catalog.css\">\n", root);
  out += "</head>\n<body class=\"rule-page\">\n";
  out += site_nav(root, "");
  out += fmt::format("<header><h1>{}</h1>\n", esc(r.title));
  if (!r.description.empty()) out += fmt::format("<p class=\"description\">{}</p>\n", esc(r.description));
  out += "</header>\n";

  // Metadata.
  out += "<table class=\"meta\">\n";
  auto meta = [&](std::string_view name, const std::string& value_html) {
    if (!value_html.empty()) out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", name, value_html);
  };
  meta("ID", r.id.empty() ? std::string() : "<code>" + esc(r.id) + "</code>");
  if (r.kind != RuleKind::Detection) meta("Kind", esc(rule_kind_name(r.kind)));
  meta("Level", level_badge(r.level));
  meta("Status", r.status.empty() ? std::string() : fmt::format("<span class=\"badge status-{0}\">{0}</span>", esc(r.status)));
  meta("Logsource", esc(r.logsource.label()));
  if (r.kind == RuleKind::Correlation || r.kind == RuleKind::Filter) {
    // The rules it lists, linked to their pages.
    const auto& refs = r.kind == RuleKind::Correlation ? r.correlation.rules : r.filter.rules;
    std::string list = "<ul>";
    for (std::size_t k = 0; k < refs.size(); ++k) {
      const std::string slug = k < page.referenced_slugs.size() ? page.referenced_slugs[k] : std::string();
      list += slug.empty() ? fmt::format("<li><code>{}</code> <span class=\"note\">(not in this catalog)</span></li>",
                                         esc(refs[k]))
                           : fmt::format("<li><a href=\"{}.html\"><code>{}</code></a></li>", esc(slug), esc(refs[k]));
    }
    meta(r.kind == RuleKind::Correlation ? "Correlates" : "Applies to", list + "</ul>");
  }
  if (catalog && !page.used_by.empty()) {
    // The correlations and filters that list this rule.
    std::string list = "<ul>";
    for (std::uint32_t k : page.used_by) {
      const RulePage& other = catalog->pages[k];
      list += fmt::format("<li>{} <a href=\"{}.html\">{}</a></li>", esc(rule_kind_name(other.rule->rule.kind)),
                          esc(other.slug), esc(other.rule->rule.title));
    }
    meta("Used by", list + "</ul>");
  }
  if (r.kind == RuleKind::Correlation) {
    const Correlation& c = r.correlation;
    meta("Correlation type", "<code>" + esc(correlation_type_name(c.type)) + "</code>");
    meta("Group by", esc(join(c.group_by, ", ")));
    meta("Timespan", esc(c.timespan_text));
    meta("Condition", esc(correlation_condition_text(c.condition)));
    meta("Generate", c.generate ? "yes: the listed rules also write their own detections"
                                : "no: the listed rules only feed this correlation");
  }
  meta("Author", esc(r.author));
  meta("Date", esc(r.date));
  meta("Modified", esc(r.modified));
  meta("File", fmt::format("<code>{}:{}</code>", esc(r.relative_path.empty() ? r.path : r.relative_path), r.line));
  if (!r.references.empty()) {
    std::string refs = "<ul>";
    for (const auto& ref : r.references) {
      bool url = ref.rfind("http://", 0) == 0 || ref.rfind("https://", 0) == 0;
      refs += url ? fmt::format("<li><a href=\"{0}\" rel=\"noopener noreferrer\">{0}</a></li>", esc(ref))
                  : fmt::format("<li>{}</li>", esc(ref));
    }
    meta("References", refs + "</ul>");
  }
  if (!r.falsepositives.empty()) {
    std::string fps = "<ul>";
    for (const auto& fp : r.falsepositives) fps += "<li>" + esc(fp) + "</li>";
    meta("False positives", fps + "</ul>");
  }
  if (!r.related.empty()) {
    std::string rel = "<ul>";
    for (std::size_t k = 0; k < r.related.size(); ++k) {
      const auto& x = r.related[k];
      const std::string slug = k < page.related_slugs.size() ? page.related_slugs[k] : std::string();
      if (!slug.empty())
        rel += fmt::format("<li>{} <a href=\"{}.html\"><code>{}</code></a></li>", esc(x.type), esc(slug), esc(x.id));
      else
        rel += fmt::format("<li>{} <code>{}</code> <span class=\"note\">(not in this catalog)</span></li>", esc(x.type),
                           esc(x.id));
    }
    meta("Related", rel + "</ul>");
  }
  if (!r.tags.empty()) {
    std::string tags;
    for (const auto& t : r.tags) tags += search_link(root, t, t) + " ";
    meta("Tags", tags);
  }
  out += "</table>\n";

  // ATT&CK coverage.
  open_section(out, "attack", "MITRE ATT&CK coverage");
  if (page.attack.tactics.empty() && page.attack.groups.empty() && page.attack.software.empty()) {
    out += "<p class=\"empty\">The rule has no ATT&amp;CK tags.</p>\n";
  } else {
    out += "<table><thead><tr><th>Tactic</th><th>Techniques</th></tr></thead><tbody>\n";
    for (const auto& t : page.attack.tactics) {
      std::string tactic = esc(t.tactic.name);
      if (!t.tactic.id.empty()) tactic += fmt::format(" <span class=\"muted\">{}</span>", esc(t.tactic.id));
      if (!t.known && !t.tactic.shortname.empty())
        tactic += fmt::format(" <span class=\"note\">not named by the bundled ATT&amp;CK {} data</span>",
                              esc(AttackData::bundled().version()));
      std::string techniques;
      for (const auto& tech : t.techniques) {
        techniques += "<div>";
        if (tech.known)
          techniques += fmt::format(
              "<a href=\"https://attack.mitre.org/techniques/{}/\" rel=\"noopener noreferrer\">{}</a> {}",
              esc(tech.id.find('.') == std::string::npos ? tech.id
                                                          : tech.id.substr(0, tech.id.find('.')) + "/" +
                                                                tech.id.substr(tech.id.find('.') + 1)),
              esc(tech.id), esc(tech.name));
        else
          techniques += esc(tech.id);
        if (!tech.note.empty()) techniques += fmt::format(" <span class=\"note\">{}</span>", esc(tech.note));
        techniques += "</div>";
      }
      out += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", tactic, techniques);
    }
    for (const auto& g : page.attack.groups)
      out += fmt::format("<tr><td>Group</td><td>{} {}</td></tr>\n", esc(g.id), esc(g.name.empty() ? "(unknown id)" : g.name));
    for (const auto& s : page.attack.software)
      out += fmt::format("<tr><td>Software</td><td>{} {}</td></tr>\n", esc(s.id), esc(s.name.empty() ? "(unknown id)" : s.name));
    out += "</tbody></table>\n";
  }
  if (!page.attack.unknown_tags.empty())
    out += "<p>Unrecognised ATT&amp;CK tags: " + esc(join(page.attack.unknown_tags, ", ")) + "</p>\n";
  if (!page.attack.other_tags.empty())
    out += "<p>Other tags: " + esc(join(page.attack.other_tags, ", ")) + "</p>\n";
  out += "</section>\n";

  // Event coverage.
  open_section(out, "events", "Event coverage");
  // The rule fields an event does not carry, and whether the rule can match it.
  auto missing_fields_cell = [](const EventSource& s) {
    if (s.fields_basis.empty()) return std::string("<span class=\"muted\">no field list for this event</span>");
    std::string cell;
    for (const auto& field : s.missing_fields) {
      auto rename = s.field_renames.find(field);
      cell += rename == s.field_renames.end()
                  ? fmt::format("<div><code>{}</code></div>", esc(field))
                  : fmt::format("<div><code>{}</code> (<code>{}</code>)</div>", esc(field), esc(rename->second));
    }
    if (s.missing_fields.empty()) cell = "none";
    if (!s.can_match) cell += "<div class=\"cannot-match\"><strong>The rule cannot match this event.</strong></div>";
    return cell + fmt::format("<div class=\"muted\">field list: {}</div>", esc(s.fields_basis));
  };
  if (page.events.sources.empty()) {
    out += fmt::format("<p class=\"empty\">{}</p>\n",
                       esc(page.events.note.empty() ? "No event mapping is known for this logsource." : page.events.note));
  } else {
    out += "<table><thead><tr><th>Provider</th><th>Event</th><th>Title</th><th>Channel</th>"
           "<th>Field renames and conditions</th><th>Rule fields the event lacks</th></tr></thead><tbody>\n";
    for (const auto& s : page.events.sources) {
      std::string renames;
      for (const auto& [from, to] : s.field_renames)
        renames += fmt::format("<div><code>{}</code> → <code>{}</code></div>", esc(from), esc(to));
      for (const auto& [field, value] : s.extra_conditions)
        renames += fmt::format("<div><code>{}</code> = <code>{}</code></div>", esc(field), esc(value));
      std::string title = s.title.empty() ? s.note : s.title;
      // The event's section on its channel's provider page.
      std::string event = s.event_id >= 0 ? fmt::format("Event ID {}", s.event_id) : std::string("all events");
      if (!s.channels.empty())
        event = fmt::format("<a href=\"{}providers/{}.html#{}\">{}</a>", root, provider_page_slug(s.channels.front()),
                            s.event_id >= 0 ? fmt::format("event-{}", s.event_id) : std::string("all-events"), event);
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", esc(s.log),
                         event, esc(title), esc(join(s.channels, ", ")), renames, missing_fields_cell(s));
    }
    out += "</tbody></table>\n";
  }
  out += "</section>\n";

  // Rule body.
  open_section(out, "body", "Rule body");
  out += "<pre class=\"yaml\"><code>" + highlight_yaml(r.source_text) + "</code></pre>\n</section>\n";

  // Stages.
  if (r.kind != RuleKind::Correlation) {
    open_section(out, "stages", "Stages and predicates");
    out += "<div class=\"stage\"><h3>Stage 0: condition</h3><pre><code>" +
           esc(join(compiled.condition_texts, "\nor\n")) + "</code></pre></div>\n";
    int index = 1;
    for (int s : compiled.referenced_stages()) {
      const Stage& stage = compiled.stages[static_cast<std::size_t>(s)];
      bool negated = page.polarity[static_cast<std::size_t>(s)] == Polarity::Negative;
      out += fmt::format("<div class=\"stage{}\"><h3>Stage {}: {}{}</h3>\n", negated ? " negated" : "", index++,
                         negated ? "not " : "", esc(stage.name));
      out += "<pre class=\"yaml\"><code>" + highlight_yaml(stage.yaml) + "</code></pre>\n";
      out += "<p class=\"logic\">Logic: <code>" + esc(stage_logic(stage)) + "</code></p>\n";
      out += "<table class=\"predicates\"><thead><tr><th>Field</th><th>Kind</th><th>Modifiers</th>"
             "<th>Values</th><th>Match</th></tr></thead><tbody>\n";
      for (const auto& p : stage.predicates) {
        std::string values;
        for (const auto& v : p.values) values += "<code class=\"value\">" + esc(display_value(p, v)) + "</code> ";
        out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                           p.is_keyword() ? "<em>keyword</em>" : esc(p.field), esc(p.kind()),
                           esc(join(p.extra_modifiers(), ", ")), values, p.match_all ? "all" : "any");
      }
      out += "</tbody></table></div>\n";
    }
    out += "</section>\n";
  }

  // Exclusions.
  open_section(out, "exclusions", "Exclusions");
  if (page.exclusions.empty()) {
    out += "<p class=\"empty\">The condition has no top-level NOT conjuncts.</p>\n";
  } else {
    out += "<p>Top-level NOT conjuncts of the condition: events matching these are suppressed. Rows with the "
           "same number suppress an event only when all of them match it; each number suppresses on its own. "
           "Corpus counts other rules that exclude the same value.</p>\n";
    out += "<table><thead><tr><th>#</th><th>Field</th><th>Kind</th><th>Excluded values</th><th>Stage</th>"
           "<th>Corpus</th></tr></thead><tbody>\n";
    for (std::size_t i = 0; i < page.exclusions.size(); ++i) {
      const Exclusion& ex = page.exclusions[i];
      std::string values, counts;
      for (std::size_t k = 0; k < ex.values.size(); ++k) {
        values += "<code class=\"value\">" + esc(ex.values[k]) + "</code> ";
        counts += (k ? ", " : "") + std::to_string(page.exclusion_corpus[i][k]);
      }
      std::string kind = esc(ex.kind);
      if (!ex.modifiers.empty()) kind += " <span class=\"muted\">" + esc(join(ex.modifiers, ", ")) + "</span>";
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", ex.group + 1,
                         ex.field.empty() ? "<em>keyword</em>" : esc(ex.field), kind, values, esc(ex.stage),
                         counts);
    }
    out += "</tbody></table>\n";
  }
  out += "</section>\n";

  // Indicators.
  open_section(out, "indicators", "Indicators");
  if (page.indicators.empty()) {
    out += "<p class=\"empty\">The rule has no positive indicators.</p>\n";
  } else {
    out += "<p>Each row is a field, kind and value the rule matches on. Corpus counts the other rules in "
           "the catalog that match on the same combination: high numbers point to widely used indicators, "
           "0 to one specific to this rule.</p>\n";
    out += "<table class=\"indicators\"><thead><tr><th>Field</th><th>Kind</th><th>Modifiers</th><th>Value</th>"
           "<th>Corpus</th></tr></thead><tbody>\n";
    for (std::size_t i = 0; i < page.indicators.size(); ++i) {
      const Indicator& ind = page.indicators[i];
      std::string count = "0";
      const int others = page.indicator_corpus[i];
      if (others > 0 && catalog && i < page.indicator_peers.size()) {
        // The count opens the list of the other rules with this indicator.
        count = fmt::format("<details class=\"peers\"><summary>{}</summary><ul>", others);
        for (std::uint32_t other : page.indicator_peers[i]) {
          const RulePage& peer = catalog->pages[other];
          count += fmt::format("<li><a href=\"{}rules/{}.html\">{}</a></li>", root, esc(peer.slug),
                               esc(list_title(peer.rule->rule.title)));
        }
        if (static_cast<std::size_t>(others) > page.indicator_peers[i].size())
          count += fmt::format("<li>and {} more</li>", static_cast<std::size_t>(others) - page.indicator_peers[i].size());
        count += "</ul></details>";
      } else if (others > 0) {
        count = search_link(root, ind.value, std::to_string(others));
      }
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td><code class=\"value\">{}</code></td><td>{}</td></tr>\n",
                         ind.field.empty() ? "<em>keyword</em>" : esc(ind.field), esc(ind.kind),
                         esc(join(ind.modifiers, ", ")), esc(ind.value), count);
    }
    out += "</tbody></table>\n";
  }
  out += "</section>\n";

  // Related rules.
  open_section(out, "related-rules", "Related rules");
  if (page.similar.empty()) {
    out += "<p class=\"empty\">No other rule in the catalog matches on the same indicators.</p>\n";
  } else {
    out += "<p>Other rules that match on the same field, kind and value, most shared indicators first.</p>\n";
    out += "<table class=\"related\"><thead><tr><th>Rule</th><th>Level</th><th>Shared</th>"
           "<th>Shared indicators (first three)</th></tr></thead><tbody>\n";
    for (const auto& rel : page.similar) {
      std::string examples;
      for (const auto& e : rel.examples) examples += "<code class=\"value\">" + esc(e) + "</code> ";
      out += fmt::format("<tr><td><a href=\"{}.html\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         esc(rel.slug), esc(list_title(rel.title)), level_badge(rel.level), rel.shared, examples);
    }
    out += "</tbody></table>\n";
  }
  out += "</section>\n";

  if (!page.diagnostics.empty()) {
    open_section(out, "diagnostics", "Diagnostics");
    out += "<ul>\n";
    for (const auto& d : page.diagnostics)
      out += fmt::format("<li class=\"{}\">line {}: {}{}</li>\n", d.severity == Severity::Error ? "error" : "warning",
                         d.line, esc(d.message), d.hint.empty() ? "" : " <span class=\"muted\">(" + esc(d.hint) + ")</span>");
    out += "</ul>\n</section>\n";
  }
  out += fmt::format("<footer>Generated by sigscope · <a href=\"{}.json\">page data (JSON)</a></footer>\n", esc(page.slug));
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace sigscope
