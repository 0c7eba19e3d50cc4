#include "sigscope/catalog/layer.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

bool counts_for_coverage(const RulePage& page) {
  const std::string& status = page.rule->rule.status;
  return page.rule->rule.kind != RuleKind::Filter && status != "deprecated" && status != "unsupported";
}

int level_score(const std::string& level) {
  static const std::map<std::string, int> kScores = {
      {"informational", 1}, {"low", 2}, {"medium", 3}, {"high", 4}, {"critical", 5}};
  auto it = kScores.find(level);
  return it == kScores.end() ? 0 : it->second;
}

nlohmann::json navigator_layer(const Catalog& catalog, const LayerOptions& options) {
  const AttackData& attack = AttackData::bundled();
  const bool by_level = options.score == "level";
  // Technique id -> pages tagged with it (each page once, in catalog order).
  std::map<std::string, std::vector<std::size_t>> pages_by_technique;
  std::size_t counted = 0;
  for (std::size_t i = 0; i < catalog.pages.size(); ++i) {
    const RulePage& page = catalog.pages[i];
    if (!counts_for_coverage(page)) continue;
    ++counted;
    std::set<std::string> ids;
    for (const auto& row : page.attack.tactics)
      for (const auto& t : row.techniques)
        ids.insert(t.id);
    for (const auto& id : ids) pages_by_technique[id].push_back(i);
  }
  // Ids newer than the bundled ATT&CK data (v19's T1685, say) stay in the
  // layer as tagged. The description lists them, because a Navigator loaded
  // with older ATT&CK data does not show them.
  std::vector<std::string> newer;
  for (const auto& [id, pages] : pages_by_technique)
    if (!attack.technique(id)) newer.push_back(id);
  // Parents whose sub-techniques are scored are shown expanded.
  std::set<std::string> parents_with_subs;
  for (const auto& [id, pages] : pages_by_technique)
    if (id.find('.') != std::string::npos) parents_with_subs.insert(id.substr(0, id.find('.')));

  std::size_t max_score = 1;
  nlohmann::json techniques = nlohmann::json::array();
  for (auto& [id, pages] : pages_by_technique) {
    // Rules by level (highest first), then title.
    std::sort(pages.begin(), pages.end(), [&](std::size_t a, std::size_t b) {
      const Rule& ra = catalog.pages[a].rule->rule;
      const Rule& rb = catalog.pages[b].rule->rule;
      int la = level_score(ra.level), lb = level_score(rb.level);
      if (la != lb) return la > lb;
      return ra.title < rb.title;
    });
    int top_level = pages.empty() ? 0 : level_score(catalog.pages[pages.front()].rule->rule.level);
    std::size_t score = by_level ? static_cast<std::size_t>(top_level) : pages.size();
    max_score = std::max(max_score, score);
    nlohmann::json metadata = nlohmann::json::array();
    nlohmann::json links = nlohmann::json::array();
    for (std::size_t i : pages) {
      const RulePage& page = catalog.pages[i];
      const Rule& r = page.rule->rule;
      metadata.push_back({{"name", r.id.empty() ? page.slug : r.id}, {"value", r.title}});
      links.push_back({{"label", r.title}, {"url", options.base_url + "rules/" + page.slug + ".html"}});
    }
    std::map<std::string, int> per_level;
    for (std::size_t i : pages) ++per_level[catalog.pages[i].rule->rule.level];
    std::vector<std::string> parts;
    for (const char* level : {"critical", "high", "medium", "low", "informational"})
      if (per_level.count(level)) parts.push_back(fmt::format("{} {}", per_level[level], level));
    nlohmann::json entry = {{"techniqueID", id},
                            {"score", score},
                            {"comment", fmt::format("{} rule{} ({})", pages.size(), pages.size() == 1 ? "" : "s",
                                                    fmt::join(parts, ", "))},
                            {"enabled", true},
                            {"metadata", std::move(metadata)},
                            {"links", std::move(links)},
                            {"showSubtechniques", parents_with_subs.count(id) > 0}};
    techniques.push_back(std::move(entry));
  }
  // Parents with scored sub-techniques but no rule of their own still need
  // an entry for the Navigator to show them expanded.
  for (const auto& parent : parents_with_subs)
    if (!pages_by_technique.count(parent) && attack.technique(parent))
      techniques.push_back({{"techniqueID", parent}, {"enabled", true}, {"showSubtechniques", true}});

  nlohmann::json gradient, legend = nlohmann::json::array();
  if (by_level) {
    gradient = {{"colors", {"#ffffff", "#9ecae1", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"}},
                {"minValue", 0},
                {"maxValue", 5}};
    for (const auto& [label, color] : std::vector<std::pair<const char*, const char*>>{
             {"informational", "#9ecae1"}, {"low", "#fdd49e"}, {"medium", "#fc8d59"}, {"high", "#d7301f"},
             {"critical", "#7f0000"}})
      legend.push_back({{"label", fmt::format("highest rule level: {}", label)}, {"color", color}});
  } else {
    gradient = {{"colors", {"#ffffff", "#66b1ff", "#0d3b8c"}}, {"minValue", 0}, {"maxValue", max_score}};
  }
  const std::string& version = attack.version();
  return {{"name", options.name},
          {"versions", {{"layer", "4.5"}, {"navigator", "5.1.0"}, {"attack", version.substr(0, version.find('.'))}}},
          {"domain", "enterprise-attack"},
          {"description",
           fmt::format("Sigma detection rules per technique, scored by {} ({} counted; deprecated, "
                       "unsupported and filter rules left out)",
                       by_level ? "the highest rule level (informational 1 to critical 5)" : "rule count",
                       plural(counted, "rule", "rules")) +
               (newer.empty() ? std::string()
                              : fmt::format(". {} technique ids are not in ATT&CK {} and are kept as tagged: {}",
                                            newer.size(), version, fmt::join(newer, ", ")))},
          {"sorting", 3},
          {"layout", {{"layout", "side"}, {"aggregateFunction", "average"}, {"showID", true}, {"showName", true},
                      {"showAggregateScores", false}, {"countUnscored", false}, {"expandedSubtechniques", "annotated"}}},
          {"hideDisabled", false},
          {"techniques", std::move(techniques)},
          {"gradient", std::move(gradient)},
          {"legendItems", std::move(legend)},
          {"metadata", nlohmann::json::array({{{"name", "generator"}, {"value", "sigscope"}},
                                              {{"name", "score"}, {"value", by_level ? "level" : "count"}}})},
          {"links", nlohmann::json::array()},
          {"showTacticRowBackground", false},
          {"tacticRowBackground", "#dddddd"},
          {"selectTechniquesAcrossTactics", true},
          {"selectSubtechniquesWithParent", false},
          {"selectVisibleTechniques", false}};
}

namespace {

// True for T1234 and T1234.567.
bool is_technique_id(const std::string& id) {
  auto digits = [&](std::size_t from, std::size_t n) {
    for (std::size_t i = from; i < from + n; ++i)
      if (i >= id.size() || !std::isdigit(static_cast<unsigned char>(id[i]))) return false;
    return true;
  };
  if (id.size() != 5 && id.size() != 9) return false;
  if (id[0] != 'T' || !digits(1, 4)) return false;
  return id.size() == 5 || (id[5] == '.' && digits(6, 3));
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

bool read_baseline(const std::string& path, std::vector<std::string>& techniques, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("{}: cannot read the baseline file", path);
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  const std::size_t first = text.find_first_not_of(" \t\r\n");
  std::set<std::string> seen;
  auto add = [&](const std::string& id) {
    if (seen.insert(id).second) techniques.push_back(id);
  };
  if (first != std::string::npos && text[first] == '{') {
    nlohmann::json layer = nlohmann::json::parse(text, nullptr, false);
    if (layer.is_discarded()) {
      error = fmt::format("{}: the file starts with '{{' but is not valid JSON; a baseline is a Navigator layer or a "
                          "list of technique ids",
                          path);
      return false;
    }
    if (!layer.contains("techniques") || !layer["techniques"].is_array()) {
      error = fmt::format("{}: the layer has no \"techniques\" list", path);
      return false;
    }
    std::size_t index = 0;
    for (const auto& entry : layer["techniques"]) {
      ++index;
      if (!entry.is_object() || !entry.contains("techniqueID") || !entry["techniqueID"].is_string()) {
        error = fmt::format("{}: technique entry {} has no \"techniqueID\" string", path, index);
        return false;
      }
      if (entry.contains("enabled") && entry["enabled"] == false) continue;
      const std::string id = upper(entry["techniqueID"].get<std::string>());
      if (!is_technique_id(id)) {
        error = fmt::format("{}: technique entry {} has the id '{}', which is not a technique id such as T1059 or "
                            "T1059.001",
                            path, index, entry["techniqueID"].get<std::string>());
        return false;
      }
      add(id);
    }
    return true;
  }

  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (char& c : line)
      if (c == ',' || c == '\t' || c == '\r') c = ' ';
    std::istringstream words(line);
    for (std::string word; words >> word;) {
      const std::string id = upper(word);
      if (!is_technique_id(id)) {
        error = fmt::format("{}:{}: '{}' is not a technique id such as T1059 or T1059.001", path, number, word);
        return false;
      }
      add(id);
    }
  }
  return true;
}

std::vector<CoverageGap> baseline_coverage(const Catalog& catalog, const std::vector<std::string>& baseline) {
  // Rules per technique tag, each rule once per id and once per parent.
  std::map<std::string, std::set<std::size_t>> rules_of;
  for (std::size_t i = 0; i < catalog.pages.size(); ++i) {
    const RulePage& page = catalog.pages[i];
    if (!counts_for_coverage(page)) continue;
    for (const auto& row : page.attack.tactics)
      for (const auto& t : row.techniques) {
        rules_of[t.id].insert(i);
        if (const std::size_t dot = t.id.find('.'); dot != std::string::npos) rules_of[t.id.substr(0, dot)].insert(i);
      }
  }
  const AttackData& attack = AttackData::bundled();
  std::vector<CoverageGap> out;
  for (const std::string& id : baseline) {
    CoverageGap gap;
    gap.id = id;
    if (const AttackTechnique* t = attack.technique(id)) gap.name = t->name;
    if (auto it = rules_of.find(id); it != rules_of.end()) gap.rules = it->second.size();
    out.push_back(std::move(gap));
  }
  return out;
}

nlohmann::json gaps_layer(const std::vector<CoverageGap>& coverage, const std::string& baseline_name) {
  const AttackData& attack = AttackData::bundled();
  std::size_t gaps = 0;
  nlohmann::json techniques = nlohmann::json::array();
  std::set<std::string> parents;
  for (const CoverageGap& c : coverage) {
    if (c.rules == 0) ++gaps;
    techniques.push_back({{"techniqueID", c.id},
                          {"color", c.rules == 0 ? "#d7301f" : "#74c476"},
                          {"comment", c.rules == 0 ? std::string("no rule") : fmt::format("{} rule{}", c.rules, c.rules == 1 ? "" : "s")},
                          {"enabled", true}});
    if (const std::size_t dot = c.id.find('.'); dot != std::string::npos) parents.insert(c.id.substr(0, dot));
  }
  // Parents of listed sub-techniques are shown expanded, as in navigator_layer.
  for (auto& entry : techniques)
    entry["showSubtechniques"] = parents.count(entry["techniqueID"].get<std::string>()) > 0;
  for (const std::string& parent : parents) {
    const bool listed = std::any_of(coverage.begin(), coverage.end(), [&](const CoverageGap& c) { return c.id == parent; });
    if (!listed && attack.technique(parent))
      techniques.push_back({{"techniqueID", parent}, {"enabled", true}, {"showSubtechniques", true}});
  }
  const std::string& version = attack.version();
  return {{"name", "sigscope coverage gaps"},
          {"versions", {{"layer", "4.5"}, {"navigator", "5.1.0"}, {"attack", version.substr(0, version.find('.'))}}},
          {"domain", "enterprise-attack"},
          {"description", fmt::format("{} of the {} techniques of the baseline {} have no rule (red); the others are "
                                      "green, with their rule count",
                                      gaps, coverage.size(), baseline_name)},
          {"sorting", 0},
          {"layout", {{"layout", "side"}, {"showID", true}, {"showName", true}, {"expandedSubtechniques", "annotated"}}},
          {"hideDisabled", false},
          {"techniques", std::move(techniques)},
          {"legendItems", {{{"label", "no rule"}, {"color", "#d7301f"}}, {{"label", "at least one rule"}, {"color", "#74c476"}}}}};
}

}  // namespace sigscope
