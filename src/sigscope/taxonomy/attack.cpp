#include "sigscope/taxonomy/attack.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sigscope/common/text.h"
#include "sigscope/data/embedded.h"

namespace sigscope {

namespace {

// ATT&CK v19 split Defense Evasion into Stealth and Defense Impairment. The
// bundled v18.1 data still files those techniques under defense-evasion, so a
// technique tagged with either new tactic is placed there.
bool tactic_matches(const std::string& tagged, const std::string& technique_tactic) {
  if (tagged == technique_tactic) return true;
  return technique_tactic == "defense-evasion" &&
         (tagged == "stealth" || tagged == "defense-impairment");
}

std::string title_case(std::string_view shortname) {
  std::string out;
  bool upper = true;
  for (char c : shortname) {
    if (c == '-' || c == '_') {
      out.push_back(' ');
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

bool is_id(std::string_view s, char prefix) {
  if (s.size() < 2 || (s[0] | 0x20) != prefix) return false;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') return false;
  return true;
}

}  // namespace

std::string AttackData::normalise_tactic(std::string shortname) {
  std::replace(shortname.begin(), shortname.end(), '_', '-');
  return shortname;
}

const AttackData& AttackData::bundled() {
  static const AttackData data = [] {
    AttackData d;
    auto j = nlohmann::json::parse(embedded::attack_enterprise_json);
    d.version_ = j.at("attack_version").get<std::string>();
    for (const auto& t : j.at("tactics")) {
      AttackTactic tactic{t.at("id"), t.at("shortname"), t.at("name"), t.at("order").get<int>()};
      d.tactic_by_shortname_[tactic.shortname] = tactic;
      d.tactics_.push_back(tactic);
    }
    for (const auto& s : j.at("known_newer_tactics")) d.newer_tactics_.push_back(s);
    std::map<std::string, std::string> names;
    for (const auto& t : j.at("techniques")) names[t.at("id")] = t.at("name");
    for (const auto& t : j.at("techniques")) {
      AttackTechnique tech;
      tech.id = t.at("id");
      tech.name = t.at("name");
      if (auto dot = tech.id.find('.'); dot != std::string::npos) {
        auto parent = names.find(tech.id.substr(0, dot));
        if (parent != names.end()) tech.name = parent->second + ": " + tech.name;
      }
      for (const auto& s : t.at("tactics")) tech.tactics.push_back(s);
      tech.deprecated = t.value("deprecated", false);
      tech.revoked = t.value("revoked", false);
      tech.revoked_by = t.value("revoked_by", "");
      d.techniques_[tech.id] = std::move(tech);
    }
    for (const auto& g : j.at("groups")) d.groups_[g.at("id")] = g.at("name");
    for (const auto& s : j.at("software")) d.software_[s.at("id")] = s.at("name");
    return d;
  }();
  return data;
}

const AttackTechnique* AttackData::technique(const std::string& id) const {
  auto it = techniques_.find(id);
  return it == techniques_.end() ? nullptr : &it->second;
}

const AttackTactic* AttackData::tactic(const std::string& shortname) const {
  auto it = tactic_by_shortname_.find(shortname);
  return it == tactic_by_shortname_.end() ? nullptr : &it->second;
}

std::string AttackData::group_name(const std::string& id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? std::string() : it->second;
}

std::string AttackData::software_name(const std::string& id) const {
  auto it = software_.find(id);
  return it == software_.end() ? std::string() : it->second;
}

AttackCoverage AttackData::coverage(const std::vector<std::string>& tags) const {
  AttackCoverage out;
  std::vector<std::string> tactic_tags;
  std::vector<std::string> technique_ids;
  for (const auto& raw : tags) {
    std::string tag = ascii_lower(trim(raw));
    if (tag.rfind("attack.", 0) != 0) {
      out.other_tags.push_back(raw);
      continue;
    }
    std::string rest = tag.substr(7);
    if (is_id(rest, 't')) {
      std::string id = "T" + rest.substr(1);
      if (std::find(technique_ids.begin(), technique_ids.end(), id) == technique_ids.end())
        technique_ids.push_back(id);
    } else if (is_id(rest, 'g')) {
      std::string id = "G" + rest.substr(1);
      out.groups.push_back({id, group_name(id)});
    } else if (is_id(rest, 's')) {
      std::string id = "S" + rest.substr(1);
      out.software.push_back({id, software_name(id)});
    } else {
      std::string shortname = normalise_tactic(rest);
      bool known = tactic(shortname) != nullptr ||
                   std::find(newer_tactics_.begin(), newer_tactics_.end(), shortname) !=
                       newer_tactics_.end();
      if (known) {
        if (std::find(tactic_tags.begin(), tactic_tags.end(), shortname) == tactic_tags.end())
          tactic_tags.push_back(shortname);
      } else {
        out.unknown_tags.push_back(raw);
      }
    }
  }

  auto row_for = [&](const std::string& shortname, bool tagged) -> TacticCoverage& {
    for (auto& row : out.tactics)
      if (row.tactic.shortname == shortname) return row;
    TacticCoverage row;
    row.tagged = tagged;
    if (const AttackTactic* t = tactic(shortname)) {
      row.tactic = *t;
    } else {
      row.known = false;
      row.tactic.shortname = shortname;
      row.tactic.name = title_case(shortname);
      // Place the newer tactics where Defense Evasion sits in the matrix.
      const AttackTactic* de = tactic("defense-evasion");
      row.tactic.order = de ? de->order : 99;
    }
    out.tactics.push_back(std::move(row));
    return out.tactics.back();
  };
  for (const auto& t : tactic_tags) row_for(t, true);

  std::vector<TacticCoverage::Technique> unplaced;
  for (const auto& id : technique_ids) {
    TacticCoverage::Technique entry;
    entry.id = id;
    const AttackTechnique* tech = technique(id);
    if (!tech) {
      entry.known = false;
      // A well-formed id (T1234 or T1234.567) that the bundled data lacks is
      // likely newer. Anything else is a malformed tag.
      const bool well_formed =
          (id.size() == 5 || (id.size() == 9 && id[5] == '.')) && id[0] == 'T' &&
          std::all_of(id.begin() + 1, id.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
      entry.note = well_formed ? fmt::format("not in the bundled ATT&CK {} data", version_)
                               : "not a valid technique id, which reads T1234 or T1234.567";
      unplaced.push_back(std::move(entry));
      continue;
    }
    entry.name = tech->name;
    if (tech->revoked)
      entry.note = tech->revoked_by.empty() ? "revoked" : "revoked, replaced by " + tech->revoked_by;
    else if (tech->deprecated)
      entry.note = "deprecated";
    bool placed = false;
    for (auto& row : out.tactics) {
      if (!row.tagged) continue;
      for (const auto& tt : tech->tactics) {
        if (tactic_matches(row.tactic.shortname, tt)) {
          row.techniques.push_back(entry);
          placed = true;
          break;
        }
      }
    }
    if (!placed) {
      if (tech->tactics.empty()) {
        unplaced.push_back(entry);
      } else {
        for (const auto& tt : tech->tactics) row_for(tt, false).techniques.push_back(entry);
      }
    }
  }
  // Techniques the data does not know go under the rule's only tactic when it
  // has exactly one; otherwise they get a row of their own.
  if (!unplaced.empty()) {
    std::vector<TacticCoverage*> tagged_rows;
    for (auto& row : out.tactics)
      if (row.tagged) tagged_rows.push_back(&row);
    if (tagged_rows.size() == 1) {
      for (auto& e : unplaced) tagged_rows.front()->techniques.push_back(e);
    } else {
      TacticCoverage row;
      row.known = false;
      row.tagged = false;
      row.tactic.name = "(tactic not determined)";
      row.tactic.order = 100;
      row.techniques = unplaced;
      out.tactics.push_back(std::move(row));
    }
  }
  std::stable_sort(out.tactics.begin(), out.tactics.end(),
                   [](const TacticCoverage& a, const TacticCoverage& b) {
                     return a.tactic.order < b.tactic.order;
                   });
  return out;
}

}  // namespace sigscope
