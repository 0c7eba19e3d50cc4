// Provider pages: providers.html lists the Windows event log channels the
// logsource tables know, and providers/<slug>.html shows one channel's event
// ids with their titles, the fields each event carries with the rules using
// each field, and the rules each event feeds. An event's fields come from
// the event field table when it lists the event, plus the fields rules use,
// renamed for the source, marked when the event lacks them. Otherwise they
// come from the SigmaHQ field table of the event's categories. Which rules an
// event feeds comes from the rules' own event coverage, so the provider pages
// and the rule pages agree.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "sigscope/catalog/layer.h"
#include "sigscope/catalog/pages.h"
#include "sigscope/common/text.h"
#include "sigscope/taxonomy/fields.h"
#include "sigscope/taxonomy/logsources.h"

namespace sigscope {

namespace {

std::string esc(std::string_view s) { return html_escape(s); }

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

struct FieldUse {
  std::set<std::string> sigma_names;  // the rules' names when the source renames them
  bool known = false;                 // in the SigmaHQ field table for the event's logsource
  std::set<std::size_t> rules;
};



struct EventInfo {
  int id = -1;
  std::string title;
  std::set<std::string> categories;   // Sigma categories mapped to this event
  std::map<std::string, std::string> renames;  // Sigma field -> event field (from the tables)
  std::set<std::size_t> rules;        // rules the event feeds
  std::map<std::string, FieldUse> fields;  // event field name -> use
  EventFields table;                  // the event's own fields, when the table lists it
};

struct ChannelInfo {
  std::string channel;
  std::string slug;
  std::set<std::string> providers;
  std::set<std::string> services;     // Sigma services naming this channel
  std::map<int, EventInfo> events;
  std::set<std::size_t> all_events_rules;  // rules on every event of the channel
  std::set<std::size_t> rules;             // every rule the channel feeds
  // The name with a misspelled word corrected, when the tables misspell it
  // (see LogsourceData::corrected_name).
  LogsourceData::NameCorrection corrected;
};

// Fields a rule's selections test (positively or as exclusions).
std::set<std::string> rule_fields(const CompiledRule& rule) {
  std::set<std::string> out;
  for (int s : rule.referenced_stages())
    for (const auto& p : rule.stages[static_cast<std::size_t>(s)].predicates)
      if (!p.is_keyword() && !p.field.empty()) out.insert(p.field);
  return out;
}

void rule_list(std::string& out, const Catalog& catalog, const std::set<std::size_t>& rules) {
  std::vector<std::size_t> sorted(rules.begin(), rules.end());
  std::sort(sorted.begin(), sorted.end(), [&](std::size_t a, std::size_t b) {
    const Rule& ra = catalog.pages[a].rule->rule;
    const Rule& rb = catalog.pages[b].rule->rule;
    int la = level_score(ra.level), lb = level_score(rb.level);
    if (la != lb) return la > lb;
    return ra.title < rb.title;
  });
  out += "<ul class=\"rule-list\">";
  for (std::size_t i : sorted) {
    const RulePage& page = catalog.pages[i];
    const Rule& r = page.rule->rule;
    out += fmt::format("<li><span class=\"badge level-{0}\">{0}</span> <a href=\"../rules/{1}.html\">{2}</a>{3}</li>",
                       esc(r.level), esc(page.slug), esc(list_title(r.title)),
                       counts_for_coverage(page) ? "" : fmt::format(" <span class=\"muted\">({})</span>", esc(r.status)));
  }
  out += "</ul>";
}

std::string count_label(std::size_t n) { return fmt::format("{} rule{}", n, n == 1 ? "" : "s"); }

// Explains that a channel name of the tables looks misspelled and names the
// corrected one.
std::string misspelled_name_note(const std::string& name, const LogsourceData::NameCorrection& corrected) {
  return fmt::format(
      "<p class=\"misspelled\"><strong>Probably misspelled.</strong> The logsource tables name this channel "
      "<code>{0}</code>, but no other channel or provider name in them has the word <code>{1}</code>, while {3} of "
      "them have <code>{2}</code>, one edit away. The channel meant is probably <code>{4}</code>, and a rule or a "
      "search should use the name that the events carry in their <code>Channel</code> field. This page keeps the "
      "tables' spelling, so that a search for it finds the page.</p>\n",
      esc(name), esc(corrected.word), esc(corrected.replacement), corrected.names, esc(corrected.name));
}

// Returns a note on where an event's field list comes from, naming the fields
// that rules use and the event does not carry.
std::string event_fields_note(const EventInfo& e) {
  if (!e.table.known)
    return "<p class=\"muted\">No field list is known for this event: the fields below are those of the SigmaHQ "
           "field table for its categories and those the rules use.</p>\n";
  std::string out = fmt::format("<p>The event's fields come from {}.", esc(e.table.basis()));
  std::vector<std::string> missing;
  for (const auto& [name, f] : e.fields)
    if (!e.table.has(name) && !f.rules.empty())
      missing.push_back(fmt::format("<code>{}</code> ({})", esc(name), count_label(f.rules.size())));
  if (!missing.empty())
    out += " Rules test fields that this event does not have: " + join(missing, ", ") +
           ". A value test on one of them is false on this event, so a selection that needs it cannot match "
           "and a filter built on it excludes nothing.";
  return out + "</p>\n";
}

}  // namespace

std::vector<SitePage> provider_pages(const Catalog& catalog) {
  const LogsourceData& tables = LogsourceData::bundled();
  const LogsourceFields& field_tables = LogsourceFields::bundled();
  std::map<std::string, ChannelInfo> channels;
  auto channel = [&](const std::string& name) -> ChannelInfo& {
    ChannelInfo& c = channels[name];
    c.channel = name;
    return c;
  };

  // What the tables know: titled events, category events with renames and
  // known fields, service channels.
  for (const auto& [key, title] : tables.event_titles()) {
    EventInfo& e = channel(key.first).events[key.second];
    e.id = key.second;
    if (e.title.empty()) e.title = title;
  }
  for (const auto& ce : tables.category_events()) {
    Logsource ls;
    ls.product = "windows";
    ls.category = ce.category;
    KnownFields known = field_tables.fields(ls);
    for (const auto& name : ce.channels) {
      ChannelInfo& c = channel(name);
      if (!ce.provider.empty()) c.providers.insert(ce.provider);
      EventInfo& e = c.events[ce.event_id];
      e.id = ce.event_id;
      if (!ce.title.empty()) e.title = ce.title;
      e.categories.insert(ce.category);
      for (const auto& [from, to] : ce.field_renames) e.renames[from] = to;
      if (known.known)
        for (const auto* set : {&known.log_fields, &known.addon_fields})
          for (const auto& f : *set) {
            auto r = ce.field_renames.find(f);
            FieldUse& use = e.fields[r == ce.field_renames.end() ? f : r->second];
            use.known = true;
            if (r != ce.field_renames.end()) use.sigma_names.insert(f);
          }
    }
  }
  for (const auto& [service, table] : tables.service_table())
    for (const auto& name : table.first) {
      ChannelInfo& c = channel(name);
      c.services.insert(service);
      for (const auto& p : table.second) c.providers.insert(p);
    }

  // What the rules use: each rule's event sources.
  for (std::size_t i = 0; i < catalog.pages.size(); ++i) {
    const RulePage& page = catalog.pages[i];
    std::set<std::string> fields = rule_fields(*page.rule);
    for (const auto& source : page.events.sources) {
      for (const auto& name : source.channels) {
        ChannelInfo& c = channel(name);
        c.rules.insert(i);
        if (source.event_id < 0) {
          c.all_events_rules.insert(i);
          continue;
        }
        EventInfo& e = c.events[source.event_id];
        e.id = source.event_id;
        if (e.title.empty()) e.title = source.title;
        e.rules.insert(i);
        for (const auto& f : fields) {
          auto r = source.field_renames.find(f);
          FieldUse& use = e.fields[r == source.field_renames.end() ? f : r->second];
          if (r != source.field_renames.end()) use.sigma_names.insert(f);
          use.rules.insert(i);
        }
      }
    }
  }
  for (auto& [name, c] : channels) {
    c.slug = provider_page_slug(name);
    c.corrected = tables.corrected_name(name);
  }

  // Where the event field table lists an event, its own fields replace the
  // SigmaHQ table's fields of the category (Sysmon's, for Security 4688).
  // Fields rules use stay, so the page can name those the event lacks.
  for (auto& [name, c] : channels)
    for (auto& [id, event] : c.events) {
      // A named reference: clang 14 rejects lambdas that capture a structured binding.
      auto& e = event;
      e.table = EventFieldTable::bundled().fields(name, "", id);
      if (!e.table.known) continue;
      std::erase_if(e.fields, [&](const auto& field) { return field.second.rules.empty() && !e.table.has(field.first); });
      for (const auto& field : e.table.fields) e.fields[field];
    }

  std::vector<const ChannelInfo*> order;
  for (const auto& [name, c] : channels) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(),
                   [](const ChannelInfo* a, const ChannelInfo* b) { return a->rules.size() > b->rules.size(); });

  std::vector<SitePage> pages;
  // providers.html
  {
    std::string out = site_page_head("Providers and events · sigscope catalog", "", "providers-page");
    out += site_nav("", "providers");
    out += "<h1>Providers and events</h1>\n<p class=\"lead\">Windows event log channels named by the logsource "
           "tables, with the event ids the rules of this catalog are fed. A rule reaches an event through its "
           "logsource: <code>category: process_creation</code> is fed by Sysmon event 1 and Security event 4688; "
           "<code>service: security</code> by the Security channel, narrowed to the EventID values the rule "
           "tests.</p>\n";
    out += "<table class=\"providers\"><thead><tr><th>Log</th><th>Channel</th><th>Provider</th>"
           "<th>Sigma services</th><th>Events with rules</th><th>Rules</th></tr></thead><tbody>\n";
    for (const ChannelInfo* c : order) {
      std::size_t with_rules = 0;
      for (const auto& [id, e] : c->events) with_rules += e.rules.empty() ? 0 : 1;
      out += fmt::format(
          "<tr><td>{}</td><td><a href=\"providers/{}.html\">{}</a>{}</td><td>{}</td><td>{}</td>"
          "<td>{} of {}</td><td>{}</td></tr>\n",
          esc(log_display_name(c->channel)), esc(c->slug), esc(c->channel),
          c->corrected.name.empty()
              ? std::string()
              : fmt::format(" <span class=\"muted\">(probably misspelled: {})</span>", esc(c->corrected.name)),
          esc(join(std::vector<std::string>(c->providers.begin(), c->providers.end()), ", ")),
          esc(join(std::vector<std::string>(c->services.begin(), c->services.end()), ", ")), with_rules,
          c->events.size(), c->rules.size());
    }
    out += "</tbody></table>\n";
    // Logsources without a Windows channel.
    std::map<std::string, std::pair<Logsource, std::size_t>> other;
    for (const auto& page : catalog.pages) {
      bool channelled = false;
      for (const auto& s : page.events.sources) channelled |= !s.channels.empty();
      if (channelled) continue;
      const Logsource& ls = page.rule->rule.logsource;
      auto& entry = other[ls.label()];
      entry.first = ls;
      ++entry.second;
    }
    if (!other.empty()) {
      out += "<h2>Logsources without a Windows event channel</h2>\n<p>Rules for other products, and Windows "
             "rules whose logsource names no classic event log channel (ETW, product-only rules).</p>\n"
             "<table><thead><tr><th>Logsource</th><th>Rules</th></tr></thead><tbody>\n";
      std::vector<std::pair<std::string, std::pair<Logsource, std::size_t>>> rows(other.begin(), other.end());
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
      for (const auto& [label, entry] : rows) {
        std::vector<std::string> params;
        if (!entry.first.product.empty()) params.push_back("product=" + url_encode(entry.first.product));
        if (!entry.first.category.empty()) params.push_back("category=" + url_encode(entry.first.category));
        if (!entry.first.service.empty()) params.push_back("service=" + url_encode(entry.first.service));
        out += fmt::format("<tr><td><a href=\"index.html#{}\">{}</a></td><td>{}</td></tr>\n", esc(join(params, "&")),
                           esc(label.empty() ? "(none)" : label), entry.second);
      }
      out += "</tbody></table>\n";
    }
    out += "</body>\n</html>\n";
    pages.push_back({"providers.html", std::move(out)});
  }

  for (const ChannelInfo* c : order) {
    std::string out = site_page_head(c->channel + " · sigscope catalog", "../", "provider-page");
    out += site_nav("../", "providers");
    out += fmt::format("<nav class=\"crumbs\"><a href=\"../providers.html\">Providers</a> › {}</nav>\n",
                       esc(log_display_name(c->channel)));
    out += fmt::format("<h1>{}</h1>\n<table class=\"meta\">\n<tr><th>Channel</th><td><code>{}</code></td></tr>\n",
                       esc(c->channel), esc(c->channel));
    if (!c->providers.empty())
      out += fmt::format("<tr><th>Provider</th><td>{}</td></tr>\n",
                         esc(join(std::vector<std::string>(c->providers.begin(), c->providers.end()), ", ")));
    if (!c->services.empty())
      out += fmt::format("<tr><th>Sigma services</th><td>{}</td></tr>\n",
                         esc(join(std::vector<std::string>(c->services.begin(), c->services.end()), ", ")));
    out += fmt::format("<tr><th>Rules</th><td>{}</td></tr>\n</table>\n", count_label(c->rules.size()));
    if (!c->corrected.name.empty()) out += misspelled_name_note(c->channel, c->corrected);

    out += "<h2>Events</h2>\n<table class=\"events\"><thead><tr><th>Event ID</th><th>Title</th>"
           "<th>Sigma categories</th><th>Rules fed</th><th>Fields used by rules</th></tr></thead><tbody>\n";
    for (const auto& [id, e] : c->events) {
      std::size_t used = 0;
      for (const auto& [name, f] : e.fields) used += f.rules.empty() ? 0 : 1;
      bool section = !e.rules.empty() || !e.fields.empty();
      out += fmt::format("<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         e.rules.empty() ? " class=\"no-rules\"" : "",
                         section ? fmt::format("<a href=\"#event-{0}\">{0}</a>", id) : std::to_string(id),
                         esc(e.title),
                         esc(join(std::vector<std::string>(e.categories.begin(), e.categories.end()), ", ")),
                         e.rules.size(), used);
    }
    out += "</tbody></table>\n";
    if (!c->all_events_rules.empty()) {
      out += fmt::format("<section id=\"all-events\"><h2>Rules on every event of the channel</h2>\n"
                         "<p>These rules name the channel's service and test no EventID, so every event of "
                         "the channel reaches them ({}).</p>\n",
                         count_label(c->all_events_rules.size()));
      rule_list(out, catalog, c->all_events_rules);
      out += "</section>\n";
    }
    for (const auto& [id, e] : c->events) {
      if (e.rules.empty() && e.fields.empty()) continue;
      out += fmt::format("<section class=\"event\" id=\"event-{}\"><h2>Event ID {}{}{}</h2>\n", id, id,
                         e.title.empty() ? "" : ": ", esc(e.title));
      if (!e.categories.empty()) {
        out += "<p>Sigma categories: ";
        bool first = true;
        for (const auto& cat : e.categories) {
          out += fmt::format("{}<a href=\"../index.html#category={}\"><code>{}</code></a>", first ? "" : ", ",
                             esc(url_encode(cat)), esc(cat));
          first = false;
        }
        out += ".";
        if (!e.renames.empty()) {
          out += " Field renames:";
          for (const auto& [from, to] : e.renames)
            out += fmt::format(" <code>{}</code> → <code>{}</code>", esc(from), esc(to));
        }
        out += "</p>\n";
      }
      // Fields: used ones first (most rules first), then the rest of the table.
      std::vector<std::pair<std::string, const FieldUse*>> fields;
      for (const auto& [name, f] : e.fields) fields.emplace_back(name, &f);
      std::stable_sort(fields.begin(), fields.end(),
                       [](const auto& a, const auto& b) { return a.second->rules.size() > b.second->rules.size(); });
      out += fmt::format("<h3>Fields ({})</h3>\n", fields.size());
      out += event_fields_note(e);
      out += "<table class=\"fields\"><thead><tr><th>Field</th><th>Sigma name</th><th>In the event</th>"
             "<th>In the SigmaHQ field table</th><th>Rules using it</th></tr></thead><tbody>\n";
      for (const auto& [name, f] : fields) {
        std::string rules_cell = "0";
        if (!f->rules.empty()) {
          rules_cell = fmt::format("<details><summary>{}</summary>", f->rules.size());
          rule_list(rules_cell, catalog, f->rules);
          rules_cell += "</details>";
        }
        std::string in_event = !e.table.known          ? "<span class=\"muted\">unknown</span>"
                               : e.table.has(name) ? "yes"
                                                   : "<strong class=\"missing\">no</strong>";
        out += fmt::format("<tr{}><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                           e.table.known && !e.table.has(name) ? " class=\"missing\"" : "", esc(name),
                           esc(join(std::vector<std::string>(f->sigma_names.begin(), f->sigma_names.end()), ", ")),
                           in_event, f->known ? "yes" : "<span class=\"muted\">no</span>", rules_cell);
      }
      out += "</tbody></table>\n";
      out += fmt::format("<h3>Rules this event feeds ({})</h3>\n", e.rules.size());
      if (e.rules.empty()) {
        out += "<p class=\"empty\">No rule of the catalog is fed by this event.</p>\n";
      } else {
        out += "<details class=\"feeds\"" + std::string(e.rules.size() <= 50 ? " open" : "") +
               fmt::format("><summary>{}</summary>", count_label(e.rules.size()));
        rule_list(out, catalog, e.rules);
        out += "</details>\n";
      }
      out += "</section>\n";
    }
    out += "</body>\n</html>\n";
    pages.push_back({"providers/" + c->slug + ".html", std::move(out)});
  }
  return pages;
}

}  // namespace sigscope
