// attack.html: the full ATT&CK Enterprise matrix (tactic columns in matrix
// order, techniques with their sub-techniques) coloured by rule count. The
// counts written here are those of the default view (active detection rules);
// assets/attack.js recomputes them from the index data when filters change.
#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "sigscope/catalog/layer.h"
#include "sigscope/catalog/pages.h"
#include "sigscope/common/text.h"

namespace sigscope {

namespace {

std::string esc(std::string_view s) { return html_escape(s); }

int heat(std::size_t n, std::size_t max) {
  if (n == 0) return 0;
  double ratio = static_cast<double>(n) / static_cast<double>(std::max<std::size_t>(max, 1));
  return std::min(5, 1 + static_cast<int>(4.0 * std::sqrt(ratio)));
}

// "Parent: Sub" -> "Sub".
std::string short_name(const AttackTechnique& t) {
  auto colon = t.name.find(": ");
  return colon == std::string::npos ? t.name : t.name.substr(colon + 2);
}

}  // namespace

std::string attack_page_html(const Catalog& catalog) {
  const AttackData& attack = AttackData::bundled();
  // Default view: active detection rules. Parents count rules tagged with
  // them or any of their sub-techniques, each rule once.
  std::map<std::string, std::set<std::size_t>> direct, aggregate;
  for (std::size_t i = 0; i < catalog.pages.size(); ++i) {
    if (!counts_for_coverage(catalog.pages[i])) continue;
    for (const auto& row : catalog.pages[i].attack.tactics)
      for (const auto& t : row.techniques) {
        direct[t.id].insert(i);
        aggregate[t.id.substr(0, t.id.find('.'))].insert(i);
      }
  }
  auto count = [](const std::map<std::string, std::set<std::size_t>>& m, const std::string& id) {
    auto it = m.find(id);
    return it == m.end() ? std::size_t{0} : it->second.size();
  };
  std::size_t max_count = 1;
  for (const auto& [id, rules] : aggregate) max_count = std::max(max_count, rules.size());

  // Sub-techniques by parent.
  std::map<std::string, std::vector<const AttackTechnique*>> subs;
  for (const auto& [id, tech] : attack.techniques())
    if (!tech.revoked && !tech.deprecated && id.find('.') != std::string::npos)
      subs[id.substr(0, id.find('.'))].push_back(&tech);

  std::string out = site_page_head("ATT&CK coverage · sigscope catalog", "", "attack-page");
  out += site_nav("", "attack");
  out += fmt::format(
      "<h1>ATT&amp;CK coverage</h1>\n<p class=\"lead\">Detection rules per technique of ATT&amp;CK Enterprise {}. "
      "A technique counts the rules tagged with it or with one of its sub-techniques. Darker cells have more "
      "rules; click a cell to list them.</p>\n"
      "<p class=\"note\">ATT&amp;CK v19 split Defense Evasion into Stealth and Defense Impairment, and SigmaHQ "
      "rules already use the new tactic tags. The matrix follows the bundled ATT&amp;CK {} data, so their "
      "techniques appear in the Defense Evasion column; the index's tactic filter lists the three tactics "
      "separately. Technique ids newer than that data are listed on each rule's page.</p>\n",
      esc(attack.version()), esc(attack.version()));
  out += R"HTML(<form class="filters" id="attack-filters">
<label>Level <select id="a-level"><option value="">All levels</option></select></label>
<label>Status <select id="a-status"><option value="active">Active (not deprecated or unsupported)</option><option value="">All statuses</option></select></label>
<label>Product <select id="a-product"><option value="">All products</option></select></label>
<label><input type="checkbox" id="a-subs"> Show all sub-techniques</label>
<span id="a-count" class="muted"></span>
<span class="downloads">Navigator layer of this view:
<button type="button" id="layer-count">score by rule count</button>
<button type="button" id="layer-level">score by highest level</button>
· <a href="attack-navigator-layer.json" download>all active rules (JSON)</a></span>
</form>
<div class="legend" aria-hidden="true"><span class="heat-0">0</span><span class="heat-1">few</span><span class="heat-2"></span><span class="heat-3"></span><span class="heat-4"></span><span class="heat-5">most rules</span></div>
)HTML";
  out += "<div class=\"matrix\" id=\"matrix\">\n";
  for (const auto& tactic : attack.tactics()) {
    std::vector<const AttackTechnique*> techniques;
    for (const auto& [id, tech] : attack.techniques()) {
      if (tech.revoked || tech.deprecated || id.find('.') != std::string::npos) continue;
      if (std::find(tech.tactics.begin(), tech.tactics.end(), tactic.shortname) != tech.tactics.end())
        techniques.push_back(&tech);
    }
    std::sort(techniques.begin(), techniques.end(),
              [](const AttackTechnique* a, const AttackTechnique* b) { return a->name < b->name; });
    std::size_t covered = 0;
    for (auto* t : techniques) covered += count(aggregate, t->id) ? 1 : 0;
    out += fmt::format(
        "<section class=\"tactic\" data-tactic=\"{}\"><h3 title=\"{}\">{}</h3>"
        "<p class=\"muted\"><span class=\"covered\">{}</span> of {} techniques</p>\n",
        esc(tactic.shortname), esc(tactic.id), esc(tactic.name), covered, techniques.size());
    for (auto* t : techniques) {
      std::size_t n = count(aggregate, t->id);
      std::vector<const AttackTechnique*> own_subs;
      for (auto* s : subs[t->id])
        if (std::find(s->tactics.begin(), s->tactics.end(), tactic.shortname) != s->tactics.end())
          own_subs.push_back(s);
      out += fmt::format("<div class=\"tech\"><a class=\"cell heat-{}\" data-tid=\"{}\" href=\"index.html#technique={}\">"
                         "<span class=\"tid\">{}</span> <span class=\"tname\">{}</span> <b class=\"n\">{}</b></a>",
                         heat(n, max_count), esc(t->id), esc(t->id), esc(t->id), esc(t->name), n);
      if (!own_subs.empty()) {
        out += fmt::format("<button type=\"button\" class=\"subs-toggle\" aria-expanded=\"false\" "
                           "title=\"Show the {} sub-techniques\">{} sub</button>",
                           own_subs.size(), own_subs.size());
        out += "<div class=\"subs\" hidden>";
        for (auto* s : own_subs) {
          std::size_t sn = count(direct, s->id);
          out += fmt::format("<a class=\"cell sub heat-{}\" data-tid=\"{}\" href=\"index.html#technique={}\">"
                             "<span class=\"tid\">{}</span> <span class=\"tname\">{}</span> <b class=\"n\">{}</b></a>",
                             heat(sn, max_count), esc(s->id), esc(s->id), esc(s->id.substr(s->id.find('.'))),
                             esc(short_name(*s)), sn);
        }
        out += "</div>";
      }
      out += "</div>\n";
    }
    out += "</section>\n";
  }
  out += "</div>\n";
  out += R"HTML(<aside id="cell-rules" class="cell-rules" hidden>
<div class="cell-rules-head"><h2 id="cell-title"></h2><button type="button" id="cell-close" aria-label="Close">×</button></div>
<p id="cell-summary" class="muted"></p>
<ol id="cell-list"></ol>
</aside>
)HTML";
  // Techniques the bundled data does not know (newer ATT&CK releases), and
  // malformed ids (attack.t1059.01), listed apart.
  std::vector<std::pair<std::string, std::size_t>> unknown, malformed;
  static const std::regex kTechniqueId("T[0-9]{4}(\\.[0-9]{3})?");
  for (const auto& [id, rules] : direct)
    if (!attack.technique(id))
      (std::regex_match(id, kTechniqueId) ? unknown : malformed).emplace_back(id, rules.size());
  auto list = [&](const std::string& heading, const std::vector<std::pair<std::string, std::size_t>>& ids) {
    if (ids.empty()) return;
    out += fmt::format("<h2>{}</h2>\n<ul>\n", heading);
    for (const auto& [id, n] : ids)
      out += fmt::format("<li><a href=\"index.html#technique={0}\">{0}</a>: {1} {2}</li>\n", esc(id), n,
                         n == 1 ? "rule" : "rules");
    out += "</ul>\n";
  };
  list(fmt::format("Techniques not in the bundled ATT&amp;CK {} data", esc(attack.version())), unknown);
  list("Tags that are not valid technique ids", malformed);
  out += "<script src=\"assets/index-data.js\"></script>\n<script src=\"assets/attack.js\"></script>\n";
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace sigscope
