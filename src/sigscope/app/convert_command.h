// `sigscope convert`: write detection rules as ClickHouse SQL queries.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace sigscope {

struct ConvertOptions {
  std::vector<std::string> paths;      // rule files or folders
  std::string target = "clickhouse";   // the only backend so far
  std::string table = "events";
  std::string keyword_column;          // see ClickHouseOptions::keyword_column
  std::vector<std::string> pipelines;  // processing pipeline names or files
  bool no_routing = false;             // leave out the Channel and EventID conditions
  bool all_statuses = false;           // also convert deprecated and unsupported rules
  std::string output;                  // file to write; empty for stdout
  unsigned threads = 0;
  std::size_t max_warnings = 20;
};

// Loads the rules, applies the pipelines and writes one query per rule, each
// after a comment with the rule's title, id and file. Rules that cannot be
// converted are named on stderr with the reason. Returns 0, 3 when some rule
// documents failed to load or some rules were not converted, 2 when nothing
// was converted.
int run_convert(const ConvertOptions& options);

}  // namespace sigscope
