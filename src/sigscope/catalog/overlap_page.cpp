#include "sigscope/catalog/overlap_page.h"

#include "sigscope/output/site_html.h"

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

namespace {

std::string esc(std::string_view s) { return html_escape(s); }

std::string rule_link(const Catalog& catalog, std::size_t i) {
  const Rule& r = catalog.rules[i].rule;
  std::string slug = i < catalog.pages.size() ? catalog.pages[i].slug : std::string();
  std::string title = list_title(r.title.empty() ? r.id : r.title);
  std::string out = slug.empty() ? fmt::format("<b>{}</b>", esc(title))
                                 : fmt::format("<a href=\"rules/{}.html\">{}</a>", esc(slug), esc(title));
  if (!r.level.empty()) out += fmt::format(" <span class=\"badge level-{0}\">{0}</span>", esc(r.level));
  if (!r.status.empty()) out += fmt::format(" <span class=\"muted\">{}</span>", esc(r.status));
  return out;
}

void reasons_html(std::string& out, const std::vector<ConjunctReason>& reasons, std::string_view specific,
                  std::string_view general) {
  for (const auto& cr : reasons) {
    out += "<div class=\"logic\">\n";
    out += fmt::format("<p>{} branch <code>{}</code><br>implies {} branch <code>{}</code></p>\n<ul>\n", esc(specific),
                       esc(cr.specific), esc(general), esc(cr.general));
    for (const auto& lr : cr.literals) {
      if (lr.identical) {
        out += fmt::format("<li><code>{}</code>: the same test in both rules</li>\n", esc(lr.general));
        continue;
      }
      out += fmt::format("<li><code>{}</code> is implied by <code>{}</code>", esc(lr.general), esc(lr.specific));
      if (lr.contrapositive) out += ": everything the general rule excludes the specific rule excludes too";
      std::size_t same = 0;
      std::string steps;
      for (const auto& s : lr.steps) {
        if (s.why == "identical") {
          ++same;
          continue;
        }
        steps += fmt::format("<li>{0} {1} implies {0} {2} <span class=\"muted\">({3})</span></li>\n", esc(lr.field),
                             esc(s.from), esc(s.to), esc(s.why));
      }
      if (same > 0)
        steps += fmt::format("<li class=\"muted\">{} {} in both</li>\n", same, same == 1 ? "value is" : "values are");
      if (!steps.empty()) out += "\n<ul>\n" + steps + "</ul>";
      out += "</li>\n";
    }
    out += "</ul>\n</div>\n";
  }
}

}  // namespace

std::string overlap_page_html(const Catalog& catalog) { return overlap_page_html(catalog, find_overlaps(catalog.rules)); }

std::string overlap_page_html(const Catalog& catalog, const OverlapReport& report) {
  std::string out = site_page_head("Overlapping rules · sigscope catalog", "", "overlap-page");
  out += site_nav("", "overlap");
  out += "<h1>Overlapping rules</h1>\n";
  const std::size_t equivalent = report.count(OverlapKind::Equivalent);
  const std::size_t subsumed = report.count(OverlapKind::Subsumed);
  out += fmt::format(
      "<p>Pairs of rules on the same logsource (product, category and service) whose detection logic is equal after "
      "normalisation (<b>{}</b> {}), and pairs where every event one rule matches is provably matched "
      "by the other (<b>{}</b> {}). {} of {} {} analysed.",
      equivalent, equivalent == 1 ? "equivalent pair" : "equivalent pairs", subsumed,
      subsumed == 1 ? "subsumed pair" : "subsumed pairs", report.rules_analysed,
      plural(report.rules_total, "rule", "rules"), report.rules_analysed == 1 ? "was" : "were");
  if (!report.skipped.empty()) {
    std::vector<std::string> parts;
    for (const auto& [reason, n] : report.skipped) parts.push_back(fmt::format("{} {}", n, esc(reason)));
    out += " Skipped: " + join(parts, ", ") + ".";
  }
  out += "</p>\n<p class=\"note\">Values are shown case-folded unless a test is cased. Only containment that "
         "follows from the rules' text is reported: overlaps that depend on regular expressions, on the values "
         "events really carry, or on logsources that share events are not claimed.</p>\n";

  out += "<h2 id=\"equivalent\">Equivalent rules</h2>\n";
  if (equivalent == 0) out += "<p class=\"empty\">No equivalent pairs.</p>\n";
  for (const auto& p : report.pairs) {
    if (p.kind != OverlapKind::Equivalent) continue;
    out += "<section class=\"overlap-pair\">\n";
    out += fmt::format("<h3>{} <span class=\"muted\">and</span> {}</h3>\n", rule_link(catalog, p.specific),
                       rule_link(catalog, p.general));
    out += fmt::format("<p class=\"muted\">{} · {}</p>\n", esc(p.logsource), esc(p.basis));
    out += fmt::format("<p>{}: <code>{}</code></p>\n", p.basis == "identical formula" ? "Formula" : "Normal form",
                       esc(p.normal_form));
    if (!p.reason.empty()) {
      reasons_html(out, p.reason, "First rule's", "second rule's");
      reasons_html(out, p.converse, "Second rule's", "first rule's");
    }
    out += "</section>\n";
  }

  out += "<h2 id=\"subsumed\">Subsumed rules</h2>\n";
  if (subsumed == 0) out += "<p class=\"empty\">No subsumed pairs.</p>\n";
  for (const auto& p : report.pairs) {
    if (p.kind != OverlapKind::Subsumed) continue;
    out += "<section class=\"overlap-pair\">\n";
    out += fmt::format("<h3>{} <span class=\"muted\">is covered by</span> {}</h3>\n", rule_link(catalog, p.specific),
                       rule_link(catalog, p.general));
    out += fmt::format("<p class=\"muted\">{} · every match of the first rule is a match of the second</p>\n",
                       esc(p.logsource));
    reasons_html(out, p.reason, "The specific rule's", "the general rule's");
    out += "</section>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace sigscope
