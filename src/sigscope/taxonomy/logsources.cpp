#include "sigscope/taxonomy/logsources.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sigscope/common/text.h"
#include "sigscope/data/embedded.h"

namespace sigscope {

std::string log_display_name(const std::string& channel) {
  static const std::map<std::string, std::string> kNames = {
      {"Microsoft-Windows-Sysmon/Operational", "Sysmon"},
      {"Security", "Security"},
      {"System", "System"},
      {"Application", "Application"},
      {"Microsoft-Windows-PowerShell/Operational", "PowerShell"},
      {"PowerShellCore/Operational", "PowerShell Core"},
      {"Windows PowerShell", "Windows PowerShell"},
      {"Microsoft-Windows-Windows Defender/Operational", "Windows Defender"},
  };
  auto it = kNames.find(channel);
  if (it != kNames.end()) return it->second;
  return channel;
}

namespace {

// The words of a channel or provider name, split at '-', '/' and ' '.
std::vector<std::string> name_words(const std::string& name) {
  std::vector<std::string> words;
  std::string word;
  for (char c : name) {
    if (c == '-' || c == '/' || c == ' ') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string conditions_to_text(const nlohmann::json& conditions) {
  std::vector<std::string> parts;
  for (auto it = conditions.begin(); it != conditions.end(); ++it) {
    std::vector<std::string> values;
    if (it->is_array())
      for (const auto& v : *it) values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    else
      values.push_back(it->is_string() ? it->get<std::string>() : it->dump());
    parts.push_back(it.key() + ": " + join(values, ", "));
  }
  return join(parts, "; ");
}
}  // namespace

const LogsourceData& LogsourceData::bundled() {
  static const LogsourceData data = [] {
    LogsourceData d;
    auto j = nlohmann::json::parse(embedded::logsources_json);
    const auto& win = j.at("windows");
    for (auto it = win.at("categories").begin(); it != win.at("categories").end(); ++it) {
      std::vector<Mapping> mappings;
      for (const auto& m : it->at("mappings")) {
        Mapping mapping;
        mapping.log = m.value("log", "");
        mapping.service = m.value("service", "");
        for (const auto& c : m.at("channels")) mapping.channels.push_back(c);
        mapping.provider = m.value("provider", "");
        for (const auto& e : m.at("event_ids")) mapping.event_ids.push_back(e.get<int>());
        for (auto t = m.at("event_titles").begin(); t != m.at("event_titles").end(); ++t)
          mapping.titles[t.key()] = t.value();
        if (m.contains("extra_conditions"))
          for (auto c = m["extra_conditions"].begin(); c != m["extra_conditions"].end(); ++c)
            mapping.extra_conditions[c.key()] = c->is_string() ? c->get<std::string>() : c->dump();
        if (m.contains("field_renames"))
          for (auto r = m["field_renames"].begin(); r != m["field_renames"].end(); ++r)
            mapping.field_renames[r.key()] = r.value();
        if (m.contains("conditions")) mapping.conditions_text = conditions_to_text(m["conditions"]);
        mappings.push_back(std::move(mapping));
      }
      d.categories_[it.key()] = std::move(mappings);
    }
    for (auto it = win.at("services").begin(); it != win.at("services").end(); ++it) {
      Service s;
      for (const auto& c : it->at("channels")) s.channels.push_back(c);
      for (const auto& p : it->at("providers")) s.providers.push_back(p);
      s.note = it->value("note", "");
      d.services_[it.key()] = std::move(s);
    }
    for (const auto& t : j.at("event_titles"))
      d.titles_[{t.at("channel").get<std::string>(), t.at("event_id").get<int>()}] = t.at("title");
    for (const auto& o : j.at("taxonomy_other")) {
      OtherSource s;
      for (auto it = o.at("logsource").begin(); it != o.at("logsource").end(); ++it)
        s.logsource[it.key()] = it.value();
      s.description = o.value("description", "");
      if (o.contains("conditions")) s.conditions_text = conditions_to_text(o["conditions"]);
      d.other_.push_back(std::move(s));
    }

    std::set<std::string> names;
    for (const auto& [category, mappings] : d.categories_)
      for (const auto& m : mappings) {
        names.insert(m.channels.begin(), m.channels.end());
        if (!m.provider.empty()) names.insert(m.provider);
      }
    for (const auto& [service, s] : d.services_) {
      names.insert(s.channels.begin(), s.channels.end());
      names.insert(s.providers.begin(), s.providers.end());
    }
    for (const auto& [key, title] : d.titles_) names.insert(key.first);
    for (const auto& name : names) {
      std::map<std::string, std::string> words;  // lower case -> spelling
      for (const auto& w : name_words(name)) words.emplace(ascii_lower(w), w);
      for (const auto& [lower, spelling] : words) {
        NameWord& entry = d.name_words_[lower];
        if (entry.names++ == 0) entry.spelling = spelling;
      }
    }
    return d;
  }();
  return data;
}

std::string LogsourceData::event_title(const std::string& channel, int event_id) const {
  auto it = titles_.find({channel, event_id});
  return it == titles_.end() ? std::string() : it->second;
}

const std::vector<std::string>* LogsourceData::service_channels(const std::string& service) const {
  auto it = services_.find(service);
  return it == services_.end() ? nullptr : &it->second.channels;
}

std::vector<LogsourceData::CategoryEvent> LogsourceData::category_events() const {
  std::vector<CategoryEvent> out;
  for (const auto& [category, mappings] : categories_)
    for (const auto& m : mappings)
      for (int id : m.event_ids) {
        CategoryEvent e;
        e.category = category;
        e.channels = m.channels;
        e.provider = m.provider;
        e.event_id = id;
        auto t = m.titles.find(std::to_string(id));
        e.title = t != m.titles.end() ? t->second : (m.channels.empty() ? "" : event_title(m.channels.front(), id));
        e.field_renames = m.field_renames;
        out.push_back(std::move(e));
      }
  return out;
}

std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> LogsourceData::service_table()
    const {
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> out;
  for (const auto& [name, svc] : services_) out[name] = {svc.channels, svc.providers};
  return out;
}

std::vector<std::string> LogsourceData::category_names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : categories_) out.push_back(name);
  return out;
}

LogsourceData::NameCorrection LogsourceData::corrected_name(const std::string& name) const {
  constexpr int kMinShared = 3;
  constexpr std::size_t kMinLength = 5;
  for (const auto& word : name_words(name)) {
    const std::string lower = ascii_lower(word);
    auto own = name_words_.find(lower);
    if (own != name_words_.end() && own->second.names > 1) continue;
    const NameWord* best = nullptr;
    for (const auto& [known, entry] : name_words_)
      if (entry.names >= kMinShared && (!best || entry.names > best->names) && known.size() >= kMinLength &&
          known != lower && osa_distance(lower, known) == 1)
        best = &entry;
    if (!best) continue;
    // The name keeps its separators, and the word takes the other names' spelling.
    const std::size_t at = name.find(word);
    return {name.substr(0, at) + best->spelling + name.substr(at + word.size()), word, best->spelling, best->names};
  }
  return {};
}

std::vector<std::string> LogsourceData::service_names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : services_) out.push_back(name);
  return out;
}

EventCoverage LogsourceData::coverage(const Logsource& ls, const std::vector<int>& event_ids) const {
  EventCoverage out;
  const bool windows = ls.product == "windows" || (ls.product.empty() && categories_.count(ls.category));
  if (windows && !ls.category.empty()) {
    auto it = categories_.find(ls.category);
    if (it == categories_.end()) {
      out.note = fmt::format("no Windows event mapping is known for category '{}'", ls.category);
      return out;
    }
    for (const auto& m : it->second) {
      if (!ls.service.empty() && !m.service.empty() && m.service != ls.service) continue;
      if (m.channels.empty() && m.event_ids.empty()) {
        EventSource s;
        s.log = m.log == "etw" ? "ETW" : m.log;
        s.note = m.conditions_text.empty() ? "no classic event log channel" : m.conditions_text;
        out.sources.push_back(std::move(s));
        continue;
      }
      for (int id : m.event_ids) {
        EventSource s;
        s.channels = m.channels;
        s.log = m.channels.empty() ? m.log : log_display_name(m.channels.front());
        s.provider = m.provider;
        s.event_id = id;
        auto t = m.titles.find(std::to_string(id));
        s.title = t != m.titles.end() ? t->second : (m.channels.empty() ? "" : event_title(m.channels.front(), id));
        s.field_renames = m.field_renames;
        s.extra_conditions = m.extra_conditions;
        out.sources.push_back(std::move(s));
      }
    }
    out.mapped = !out.sources.empty();
    if (!out.mapped) out.note = "no Windows event mapping is known for this logsource";
    return out;
  }
  if (windows && !ls.service.empty()) {
    auto it = services_.find(ls.service);
    if (it == services_.end()) {
      out.note = fmt::format("no Windows channel is known for service '{}'", ls.service);
      return out;
    }
    const Service& svc = it->second;
    std::string provider = svc.providers.empty() ? std::string() : svc.providers.front();
    if (event_ids.empty()) {
      EventSource s;
      s.channels = svc.channels;
      s.log = svc.channels.empty() ? ls.service : log_display_name(svc.channels.front());
      s.provider = provider;
      s.note = svc.note;
      out.sources.push_back(std::move(s));
    } else {
      for (int id : event_ids) {
        EventSource s;
        s.channels = svc.channels;
        s.log = svc.channels.empty() ? ls.service : log_display_name(svc.channels.front());
        s.provider = provider;
        s.event_id = id;
        for (const auto& c : svc.channels) {
          s.title = event_title(c, id);
          if (!s.title.empty()) break;
        }
        s.note = svc.note;
        out.sources.push_back(std::move(s));
      }
    }
    out.mapped = true;
    return out;
  }
  if (windows && ls.category.empty() && ls.service.empty()) {
    out.mapped = true;
    out.note = "Every Windows event: product windows without a category or service names no channel, so hunt "
               "sends this rule every event that has a Channel field";
    return out;
  }
  // Other products: the taxonomy appendix describes the source but names no
  // Windows channel.
  for (const auto& o : other_) {
    auto field = [&](const char* key) {
      auto it = o.logsource.find(key);
      return it == o.logsource.end() ? std::string() : it->second;
    };
    if (field("category") == ls.category && field("product") == ls.product &&
        field("service") == ls.service) {
      EventSource s;
      s.log = ls.label();
      s.note = !o.description.empty() ? o.description : o.conditions_text;
      if (s.note.empty()) s.note = "listed in the Sigma taxonomy appendix";
      out.sources.push_back(std::move(s));
      out.mapped = true;
      return out;
    }
  }
  out.note = fmt::format("no event mapping is known for logsource '{}'", ls.label());
  return out;
}

}  // namespace sigscope
