#include "sigscope/taxonomy/fields.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sigscope/common/text.h"

#include "sigscope/data/embedded.h"

namespace sigscope {

namespace {
std::set<std::string> as_set(const nlohmann::json& j) {
  std::set<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.insert(v.get<std::string>());
  return out;
}

void read_groups(const nlohmann::json& j, std::map<std::string, std::set<std::string>>& out) {
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = as_set(*it);
}
}  // namespace

const LogsourceFields& LogsourceFields::bundled() {
  static const LogsourceFields data = [] {
    LogsourceFields d;
    auto j = nlohmann::json::parse(embedded::logsource_fields_json);
    d.version_ = j.at("source").value("version", "");
    for (auto it = j.at("legit").begin(); it != j.at("legit").end(); ++it) {
      Product& p = d.products_[it.key()];
      p.common = as_set(it->value("common", nlohmann::json()));
      p.empty = as_set(it->value("empty", nlohmann::json()));
      read_groups(it->value("category", nlohmann::json()), p.category);
      read_groups(it->value("service", nlohmann::json()), p.service);
    }
    for (auto it = j.at("addon").begin(); it != j.at("addon").end(); ++it) {
      Product& p = d.products_[it.key()];
      read_groups(it->value("category", nlohmann::json()), p.addon_category);
      read_groups(it->value("service", nlohmann::json()), p.addon_service);
    }
    return d;
  }();
  return data;
}

KnownFields LogsourceFields::fields(const Logsource& logsource) const {
  KnownFields out;
  // Rules without a product (category only, e.g. a custom category) are
  // looked up under the table's "empty" product.
  auto product = products_.find(logsource.product.empty() ? "empty" : logsource.product);
  if (product == products_.end()) return out;
  const Product& p = product->second;
  auto add_group = [&](const std::map<std::string, std::set<std::string>>& groups,
                       const std::string& key, std::set<std::string>& into) {
    auto it = groups.find(key);
    // SigmaHQ's table lists some logsources with no fields (service:
    // security, for one): it does not check them, so neither do we.
    if (it == groups.end() || it->second.empty()) return false;
    into.insert(it->second.begin(), it->second.end());
    return true;
  };

  bool found = false;
  if (!logsource.category.empty()) {
    found = add_group(p.category, logsource.category, out.log_fields);
    add_group(p.addon_category, logsource.category, out.addon_fields);
  }
  if (!logsource.service.empty()) {
    // A service narrows a category; either table may know it.
    bool service_found = add_group(p.service, logsource.service, out.log_fields);
    add_group(p.addon_service, logsource.service, out.addon_fields);
    found = logsource.category.empty() ? service_found : (found || service_found);
  }
  if (logsource.category.empty() && logsource.service.empty()) {
    out.log_fields.insert(p.empty.begin(), p.empty.end());
    found = !p.empty.empty() || !p.common.empty();
  }
  if (!found) {
    out.log_fields.clear();
    out.addon_fields.clear();
    return out;
  }
  out.log_fields.insert(p.common.begin(), p.common.end());
  out.known = true;
  return out;
}

bool EventFieldTable::is_system_field(std::string_view name) {
  // The System names of input/evtx.h, plus the names Sigma rules and the
  // logsource tables use for the provider (Provider, ProviderName).
  static const std::set<std::string, std::less<>> kSystem = {
      "Provider_Name", "Provider_Guid", "EventSourceName", "EventID",  "EventID_Qualifiers", "Version",
      "Level",         "Task",          "Opcode",          "Keywords", "TimeCreated",        "EventRecordID",
      "ActivityID",    "RelatedActivityID", "ProcessID",   "ThreadID", "Channel",            "Computer",
      "Security_UserID", "Provider",    "ProviderName"};
  return kSystem.count(name) > 0;
}

bool EventFields::has(const std::string& field) const {
  return fields.count(field) > 0 || EventFieldTable::is_system_field(field);
}

std::string EventFields::basis() const {
  if (!known) return {};
  if (samples == 0) return "documented event XML (" + documentation + ")";
  std::vector<std::string> names;
  for (int v : versions) names.push_back(std::to_string(v));
  std::string out = fmt::format("{} sample event{}", samples, samples == 1 ? "" : "s");
  if (names.size() == 1) out += ", version " + names[0];
  if (names.size() > 1) {
    std::string last = names.back();
    names.pop_back();
    out += ", versions " + join(names, ", ") + " and " + last;
  }
  return out;
}

const EventFieldTable& EventFieldTable::bundled() {
  static const EventFieldTable table = [] {
    EventFieldTable t;
    auto j = nlohmann::json::parse(embedded::event_fields_json);
    for (const auto& e : j.at("events")) {
      EventFields fields;
      fields.known = true;
      fields.fields = as_set(e.at("fields"));
      for (const auto& v : e.value("versions", nlohmann::json::array())) fields.versions.insert(v.get<int>());
      fields.samples = e.value("samples", 0);
      fields.documentation = e.value("documentation", "");
      t.events_[{e.at("channel").get<std::string>(), e.at("event_id").get<int>(), e.at("provider").get<std::string>()}] =
          std::move(fields);
    }
    return t;
  }();
  return table;
}

EventFields EventFieldTable::fields(const std::string& channel, const std::string& provider, int event_id) const {
  if (!provider.empty()) {
    auto it = events_.find({channel, event_id, provider});
    return it == events_.end() ? EventFields{} : it->second;
  }
  EventFields out;
  for (auto it = events_.lower_bound({channel, event_id, std::string()});
       it != events_.end() && std::get<0>(it->first) == channel && std::get<1>(it->first) == event_id; ++it) {
    const EventFields& e = it->second;
    out.known = true;
    out.fields.insert(e.fields.begin(), e.fields.end());
    out.versions.insert(e.versions.begin(), e.versions.end());
    out.samples += e.samples;
    if (out.documentation.empty()) out.documentation = e.documentation;
  }
  return out;
}

}  // namespace sigscope
