// Field names known per Sigma logsource, from SigmaHQ's own rule tests
// (tests/logsource.json, bundled as data/logsource-fields.json). The lint
// check for unknown fields and the catalog's provider pages read them.
// Also the fields of each concrete Windows event (data/event-fields.json),
// which the catalog uses to name the rule fields an event does not carry.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "sigscope/rules/model.h"

namespace sigscope {

struct KnownFields {
  // False when the tables list no fields for this logsource, so no field can
  // be called unknown.
  bool known = false;
  std::set<std::string> log_fields;    // fields the log itself carries
  std::set<std::string> addon_fields;  // fields that enrichment commonly adds

  // True when `field` is a log or add-on field of the logsource.
  bool contains(const std::string& field) const {
    return log_fields.count(field) > 0 || addon_fields.count(field) > 0;
  }
};

class LogsourceFields {
 public:
  static const LogsourceFields& bundled();

  // The fields of `logsource`: the product's common fields plus those of its
  // category or service. A logsource with neither uses the product's fields
  // for rules without category and service. Returns known = false for a
  // product, category or service the tables do not list.
  KnownFields fields(const Logsource& logsource) const;

  // Version of the SigmaHQ table the data came from, e.g. "20251205".
  const std::string& version() const { return version_; }

 private:
  struct Product {
    std::set<std::string> common;
    std::set<std::string> empty;
    std::map<std::string, std::set<std::string>> category, service;
    std::map<std::string, std::set<std::string>> addon_category, addon_service;
  };
  std::map<std::string, Product> products_;
  std::string version_;
};

// The EventData and UserData fields of one concrete Windows event.
struct EventFields {
  // False when the table does not list the event, so no field can be called
  // missing.
  bool known = false;
  std::set<std::string> fields;
  std::set<int> versions;      // event versions behind the list
  int samples = 0;             // sample records behind the list; 0 for a documented event
  std::string documentation;   // URL of the documented event XML, for events without samples

  // True when the event carries `field`, a payload field or a System field
  // (EventID, Channel, Provider_Name...).
  bool has(const std::string& field) const;
  // Where the list comes from, e.g. "379 sample events, versions 1 and 2".
  std::string basis() const;
};

class EventFieldTable {
 public:
  static const EventFieldTable& bundled();

  // The fields of event `event_id` in `channel`, written by `provider`. An
  // empty provider takes every provider the table lists for that channel and
  // event id, and a field is then missing only when none of them has it.
  EventFields fields(const std::string& channel, const std::string& provider, int event_id) const;

  // True for the names sigscope's readers give System values (see input/evtx.h).
  static bool is_system_field(std::string_view name);

 private:
  // (channel, event id, provider) -> fields
  std::map<std::tuple<std::string, int, std::string>, EventFields> events_;
};

}  // namespace sigscope
