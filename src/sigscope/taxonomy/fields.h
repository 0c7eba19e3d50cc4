// Field names known per Sigma logsource, from SigmaHQ's own rule tests
// (tests/logsource.json, bundled as data/logsource-fields.json). The lint
// check for unknown fields and the catalog's provider pages read them.
#pragma once

#include <map>
#include <set>
#include <string>

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

}  // namespace sigscope
