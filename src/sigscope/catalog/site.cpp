#include "sigscope/common/parallel.h"
#include "sigscope/catalog/site.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/data/embedded.h"
#include "sigscope/output/page_json.h"
#include "sigscope/output/page_text.h"

namespace sigscope {

namespace fs = std::filesystem;

namespace {

bool write_file(const fs::path& path, std::string_view content, DiagnosticList& diagnostics) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) {
    diagnostics.error(path.string(), 0, 0, "", "cannot write catalog file",
                      "check that the output folder is writable and the disk has space");
    return false;
  }
  return true;
}

std::string esc(std::string_view s) { return html_escape(s); }

// Rules per technique id, counting sub-technique tags for their parent too.
struct TechniqueCounts {
  std::map<std::string, std::set<std::size_t>> direct;     // technique id -> rules tagged exactly
  std::map<std::string, std::set<std::size_t>> aggregate;  // parent id -> rules tagged with it or a sub-technique
};

// Deprecated and unsupported rules are kept out of coverage: they do not run
// in production rule sets.
bool counts_for_coverage(const RulePage& page) {
  const std::string& status = page.rule->rule.status;
  return page.rule->rule.kind == RuleKind::Detection && status != "deprecated" && status != "unsupported";
}

TechniqueCounts count_techniques(const Catalog& catalog) {
  TechniqueCounts counts;
  for (std::size_t i = 0; i < catalog.pages.size(); ++i) {
    if (!counts_for_coverage(catalog.pages[i])) continue;
    for (const auto& row : catalog.pages[i].attack.tactics)
      for (const auto& t : row.techniques) {
        counts.direct[t.id].insert(i);
        counts.aggregate[t.id.substr(0, t.id.find('.'))].insert(i);
      }
  }
  return counts;
}

std::string page_head(std::string_view title) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{}"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<link rel=\"stylesheet\" href=\"assets/catalog.css\">\n</head>\n",
      content_security_policy_meta(), esc(title));
}

std::string index_html(const Catalog& catalog, const nlohmann::json& summary) {
  std::string out = page_head("sigscope catalog");
  out += "<body class=\"index-page\">\n<header>\n<h1>Sigma rule catalog</h1>\n";
  out += fmt::format(
      "<p class=\"summary\">{} rules from {} files · ATT&amp;CK {} · "
      "<a href=\"attack.html\">ATT&amp;CK heatmap</a> · <a href=\"attack-navigator-layer.json\">Navigator layer</a> · "
      "<a href=\"index.json\">index.json</a></p>\n",
      catalog.rules.size(), summary.value("files", 0), esc(AttackData::bundled().version()));
  out += "</header>\n";
  if (summary.contains("failed") && !summary["failed"].empty()) {
    out += fmt::format("<details class=\"problems\"><summary>{} rule documents could not be loaded</summary><ul>\n",
                       summary["failed"].size());
    for (const auto& f : summary["failed"])
      out += fmt::format("<li><code>{}:{}</code> {}</li>\n", esc(f.value("file", "")), f.value("line", 0),
                         esc(f.value("message", "")));
    out += "</ul></details>\n";
  }
  out += R"HTML(<form class="filters" id="filters">
<input type="search" id="q" placeholder="Search title, id, tags, fields and values" autocomplete="off">
<select id="f-tactic"><option value="">All tactics</option></select>
<input type="search" id="f-technique" list="technique-list" placeholder="Technique (e.g. T1059)">
<datalist id="technique-list"></datalist>
<select id="f-level"><option value="">All levels</option></select>
<select id="f-status"><option value="">All statuses</option></select>
<select id="f-product"><option value="">All products</option></select>
<select id="f-category"><option value="">All categories</option></select>
<select id="f-service"><option value="">All services</option></select>
<button type="button" id="reset">Reset</button>
<span id="count" class="muted"></span>
</form>
<table id="rules" class="rules">
<thead><tr><th data-key="title">Title</th><th data-key="level">Level</th><th data-key="status">Status</th><th data-key="logsource">Logsource</th><th data-key="tactics">Tactics</th></tr></thead>
<tbody>
)HTML";
  // Rows rendered here keep the table usable without JavaScript.
  for (const auto& page : catalog.pages) {
    const Rule& r = page.rule->rule;
    std::vector<std::string> tactics;
    for (const auto& t : page.attack.tactics)
      if (!t.tactic.name.empty()) tactics.push_back(t.tactic.name);
    out += fmt::format(
        "<tr><td><a href=\"rules/{}.html\">{}</a></td><td><span class=\"badge level-{}\">{}</span></td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
        esc(page.slug), esc(r.title), esc(r.level), esc(r.level), esc(r.status), esc(r.logsource.label()),
        esc(join(tactics, ", ")));
  }
  out += "</tbody>\n</table>\n";
  out += "<script src=\"assets/index-data.js\"></script>\n<script src=\"assets/catalog.js\"></script>\n";
  out += "</body>\n</html>\n";
  return out;
}

std::string attack_html(const Catalog& catalog) {
  const AttackData& attack = AttackData::bundled();
  TechniqueCounts counts = count_techniques(catalog);
  std::size_t max_count = 1;
  for (const auto& [id, rules] : counts.aggregate) max_count = std::max(max_count, rules.size());

  std::string out = page_head("ATT&CK coverage · sigscope catalog");
  out += "<body class=\"attack-page\">\n<nav class=\"crumbs\"><a href=\"index.html\">Detection rules</a> › ATT&amp;CK heatmap</nav>\n";
  out += fmt::format("<h1>ATT&amp;CK coverage</h1>\n<p>Detection rules per technique (sub-technique tags count for "
                     "their parent), ATT&amp;CK Enterprise {}. Deprecated and unsupported rules are not counted. "
                     "Darker cells have more rules; click a technique to list them.</p>\n", esc(attack.version()));
  out += "<div class=\"matrix\">\n";
  for (const auto& tactic : attack.tactics()) {
    std::vector<const AttackTechnique*> techniques;
    for (const auto& [id, tech] : attack.techniques()) {
      if (tech.revoked || tech.deprecated || id.find('.') != std::string::npos) continue;
      if (std::find(tech.tactics.begin(), tech.tactics.end(), tactic.shortname) != tech.tactics.end())
        techniques.push_back(&tech);
    }
    std::stable_sort(techniques.begin(), techniques.end(), [&](const AttackTechnique* a, const AttackTechnique* b) {
      auto ca = counts.aggregate.count(a->id) ? counts.aggregate[a->id].size() : 0;
      auto cb = counts.aggregate.count(b->id) ? counts.aggregate[b->id].size() : 0;
      return ca > cb;
    });
    std::size_t covered = 0;
    for (auto* t : techniques) covered += counts.aggregate.count(t->id) ? 1 : 0;
    out += fmt::format("<div class=\"tactic\"><h3>{}</h3><p class=\"muted\">{} of {} techniques</p>\n",
                       esc(tactic.name), covered, techniques.size());
    for (auto* t : techniques) {
      std::size_t n = counts.aggregate.count(t->id) ? counts.aggregate[t->id].size() : 0;
      int heat = n == 0 ? 0 : 1 + static_cast<int>(4.0 * static_cast<double>(n) / static_cast<double>(max_count) + 0.5);
      out += fmt::format("<a class=\"cell heat-{}\" href=\"index.html#technique={}\" title=\"{} rules\">"
                         "<span class=\"tid\">{}</span> {} <b>{}</b></a>\n",
                         std::min(heat, 5), esc(t->id), n, esc(t->id), esc(t->name), n);
    }
    out += "</div>\n";
  }
  out += "</div>\n";
  // Techniques the bundled data does not know (newer ATT&CK releases).
  std::vector<std::pair<std::string, std::size_t>> unknown;
  for (const auto& [id, rules] : counts.direct)
    if (!attack.technique(id)) unknown.emplace_back(id, rules.size());
  if (!unknown.empty()) {
    out += fmt::format("<h2>Techniques not in the bundled ATT&amp;CK {} data</h2>\n<ul>\n", esc(attack.version()));
    for (const auto& [id, n] : unknown)
      out += fmt::format("<li><a href=\"index.html#technique={0}\">{0}</a>: {1} rules</li>\n", esc(id), n);
    out += "</ul>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace

nlohmann::json navigator_layer(const Catalog& catalog) {
  const AttackData& attack = AttackData::bundled();
  // One entry per (technique, tactic) pair, scored by rule count.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> rules_by_cell;
  for (const auto& page : catalog.pages) {
    if (!counts_for_coverage(page)) continue;
    for (const auto& row : page.attack.tactics)
      for (const auto& t : row.techniques) {
        const AttackTechnique* tech = attack.technique(t.id);
        if (!tech) continue;
        for (const auto& tactic : tech->tactics)
          rules_by_cell[{t.id, tactic}].push_back(page.rule->rule.title);
      }
  }
  std::size_t max_score = 1;
  nlohmann::json techniques = nlohmann::json::array();
  for (auto& [cell, titles] : rules_by_cell) {
    std::sort(titles.begin(), titles.end());
    titles.erase(std::unique(titles.begin(), titles.end()), titles.end());
    max_score = std::max(max_score, titles.size());
    // The first 20 titles; the score and comment give the full count.
    nlohmann::json metadata = nlohmann::json::array();
    for (std::size_t i = 0; i < titles.size() && i < 20; ++i) metadata.push_back({{"name", "rule"}, {"value", titles[i]}});
    if (titles.size() > 20)
      metadata.push_back({{"name", "more rules"}, {"value", std::to_string(titles.size() - 20)}});
    techniques.push_back({{"techniqueID", cell.first},
                          {"tactic", cell.second},
                          {"score", titles.size()},
                          {"comment", fmt::format("{} rules", titles.size())},
                          {"enabled", true},
                          {"metadata", std::move(metadata)},
                          {"showSubtechniques", false}});
  }
  return {{"name", "sigscope rule coverage"},
          {"versions", {{"layer", "4.5"}, {"navigator", "4.9.0"}, {"attack", attack.version().substr(0, attack.version().find('.'))}}},
          {"domain", "enterprise-attack"},
          {"description", fmt::format("Sigma detection rules per technique, deprecated and unsupported left out "
                                      "({} rules in the catalog)", catalog.rules.size())},
          {"sorting", 3},
          {"layout", {{"layout", "side"}, {"showID", true}, {"showName", true}}},
          {"hideDisabled", false},
          {"techniques", std::move(techniques)},
          {"gradient", {{"colors", {"#ffffff", "#66b1ff", "#0d3b8c"}}, {"minValue", 0}, {"maxValue", max_score}}},
          {"legendItems", nlohmann::json::array()},
          {"metadata", nlohmann::json::array()},
          {"showTacticRowBackground", false},
          {"selectTechniquesAcrossTactics", true},
          {"selectSubtechniquesWithParent", false}};
}

SiteStats write_site(const Catalog& catalog, const std::string& out_dir, const nlohmann::json& summary,
                     DiagnosticList& diagnostics, unsigned threads) {
  SiteStats stats;
  fs::path root(out_dir);
  std::error_code ec;
  // Pages of rules that are gone would stay behind in an earlier catalog, so
  // its rules/ folder is replaced. Only a folder holding a sigscope index is
  // touched this way.
  if (fs::exists(root / "index.json", ec) && fs::is_directory(root / "rules", ec)) {
    std::ifstream previous(root / "index.json");
    std::string head(256, '\0');
    previous.read(head.data(), static_cast<std::streamsize>(head.size()));
    if (head.find("sigscope-catalog-index-v1") != std::string::npos) fs::remove_all(root / "rules", ec);
  }
  fs::create_directories(root / "rules", ec);
  fs::create_directories(root / "assets", ec);
  if (ec) {
    diagnostics.error(out_dir, 0, 0, "", fmt::format("cannot create the output folder: {}", ec.message()),
                      "choose a writable --out folder");
    ++stats.write_errors;
    return stats;
  }

  std::atomic<std::size_t> files{0}, errors{0};
  parallel_for(catalog.pages.size(), threads, [&](std::size_t i) {
    const RulePage& page = catalog.pages[i];
    bool ok = write_file(root / "rules" / (page.slug + ".html"), rule_page_html(page, "../"), diagnostics);
    ok &= write_file(root / "rules" / (page.slug + ".json"), rule_page_json(page).dump(1), diagnostics);
    files += 2;
    if (!ok) ++errors;
  });
  stats.pages = catalog.pages.size();

  nlohmann::json index = catalog_index_json(catalog, summary);
  auto write = [&](const fs::path& path, std::string_view content) {
    ++files;
    if (!write_file(path, content, diagnostics)) ++errors;
  };
  write(root / "index.json", index.dump(1));
  // The index data as a script so the index page works from file://, where
  // browsers block fetch() of local JSON.
  write(root / "assets" / "index-data.js", "window.SIGSCOPE_INDEX = " + index.dump() + ";\n");
  write(root / "assets" / "catalog.css", embedded::catalog_css);
  write(root / "assets" / "catalog.js", embedded::catalog_js);
  write(root / "index.html", index_html(catalog, summary));
  write(root / "attack.html", attack_html(catalog));
  write(root / "attack-navigator-layer.json", navigator_layer(catalog).dump(1));
  stats.files = files;
  stats.write_errors = errors;
  return stats;
}

}  // namespace sigscope
