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

#include "sigscope/catalog/layer.h"
#include "sigscope/catalog/overlap_page.h"
#include "sigscope/catalog/pages.h"
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

// JSON for a script file: "</" is written "<\/" so the text can never close a
// <script> element, whether the file is loaded from src= or pasted inline.
// The two characters only occur inside JSON strings, where both mean "</".
std::string script_json(const nlohmann::json& j) {
  std::string text = j.dump();
  std::string out;
  out.reserve(text.size() + 64);
  for (std::size_t i = 0; i < text.size(); ++i) {
    out.push_back(text[i]);
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') out.push_back('\\');
  }
  return out;
}

std::string index_html(const Catalog& catalog, const nlohmann::json& summary) {
  std::string out = site_page_head("sigscope catalog", "", "index-page");
  out += site_nav("", "rules");
  out += "<header>\n<h1>Sigma rule catalog</h1>\n";
  out += fmt::format(
      "<p class=\"summary\">{} from {} · ATT&amp;CK {} · "
      "<a href=\"attack-navigator-layer.json\" download>Navigator layer</a> · "
      "<a href=\"index.json\">index.json</a></p>\n",
      plural(catalog.rules.size(), "rule", "rules"), plural(summary.value("files", std::size_t{0}), "file", "files"),
      esc(AttackData::bundled().version()));
  out += "</header>\n";
  if (summary.contains("failed") && !summary["failed"].empty()) {
    out += fmt::format("<details class=\"problems\"><summary>{} could not be loaded</summary><ul>\n",
                       plural(summary["failed"].size(), "rule document", "rule documents"));
    for (const auto& f : summary["failed"])
      out += fmt::format("<li><code>{}:{}</code> {}</li>\n", esc(f.value("file", "")), f.value("line", 0),
                         esc(f.value("message", "")));
    out += "</ul></details>\n";
  }
  out += R"HTML(<form class="filters" id="filters">
<input type="search" id="q" placeholder="Search title, id, tags, fields and values (excluded ones too)" autocomplete="off">
<select id="f-tactic"><option value="">All tactics</option></select>
<input type="search" id="f-technique" list="technique-list" placeholder="Technique: T1059">
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
<colgroup><col class="c-title"><col class="c-level"><col class="c-status"><col class="c-logsource"><col class="c-tactics"></colgroup>
<thead><tr><th data-key="title">Title</th><th data-key="level">Level</th><th data-key="status">Status</th><th data-key="logsource">Logsource</th><th data-key="tactics">Tactics</th></tr></thead>
<tbody></tbody>
</table>
<p class="more"><button type="button" id="more" hidden>Show more</button></p>
<noscript><table class="rules">
<thead><tr><th>Title</th><th>Level</th><th>Status</th><th>Logsource</th><th>Tactics</th></tr></thead>
<tbody>
)HTML";
  // Without JavaScript every row is rendered here; with it, assets/catalog.js
  // renders the rows a page at a time.
  for (const auto& page : catalog.pages) {
    const Rule& r = page.rule->rule;
    std::vector<std::string> tactics;
    for (const auto& t : page.attack.tactics)
      if (!t.tactic.name.empty()) tactics.push_back(t.tactic.name);
    out += fmt::format(
        "<tr><td><a href=\"rules/{}.html\">{}</a></td><td><span class=\"badge level-{}\">{}</span></td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
        esc(page.slug), esc(list_title(r.title)), esc(r.level), esc(r.level), esc(r.status), esc(r.logsource.label()),
        esc(join(tactics, ", ")));
  }
  out += "</tbody>\n</table></noscript>\n";
  out += "<script src=\"assets/index-data.js\"></script>\n<script src=\"assets/catalog.js\"></script>\n";
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace

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
    if (head.find("sigscope-catalog-index-v1") != std::string::npos) {
      fs::remove_all(root / "rules", ec);
      fs::remove_all(root / "providers", ec);
    }
  }
  fs::create_directories(root / "rules", ec);
  fs::create_directories(root / "assets", ec);
  fs::create_directories(root / "providers", ec);
  if (ec) {
    diagnostics.error(out_dir, 0, 0, "", fmt::format("cannot create the output folder: {}", ec.message()),
                      "choose a writable --out folder");
    ++stats.write_errors;
    return stats;
  }

  std::atomic<std::size_t> files{0}, errors{0};
  parallel_for(catalog.pages.size(), threads, [&](std::size_t i) {
    const RulePage& page = catalog.pages[i];
    bool ok = write_file(root / "rules" / (page.slug + ".html"), rule_page_html(page, "../", &catalog), diagnostics);
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
  write(root / "assets" / "index-data.js", "window.SIGSCOPE_INDEX = " + script_json(index) + ";\n");
  write(root / "assets" / "catalog.css", embedded::catalog_css);
  write(root / "assets" / "catalog.js", embedded::catalog_js);
  write(root / "assets" / "attack.js", embedded::attack_js);
  write(root / "index.html", index_html(catalog, summary));
  write(root / "attack.html", attack_page_html(catalog));
  write(root / "overlap.html", overlap_page_html(catalog));
  write(root / "attack-navigator-layer.json", navigator_layer(catalog).dump(1));
  for (const auto& page : provider_pages(catalog)) write(root / page.path, page.html);
  stats.files = files;
  stats.write_errors = errors;
  return stats;
}

}  // namespace sigscope
