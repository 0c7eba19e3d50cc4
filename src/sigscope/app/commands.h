// The sigscope commands behind the CLI. Each returns the process exit code:
// 0 on success, 1 when the input had errors the command treats as fatal,
// 2 on usage or I/O problems.
#pragma once

#include <string>
#include <vector>

namespace sigscope {

struct CatalogOptions {
  std::vector<std::string> paths;
  std::string out_dir = "catalog";
  unsigned threads = 0;
  bool strict = false;        // exit 1 when any rule failed to load
  std::size_t max_warnings = 50;
};
int run_catalog(const CatalogOptions& options);

struct ExplainOptions {
  std::string rule_file;
  std::vector<std::string> corpus;
  std::string format = "markdown";  // markdown or json
};
int run_explain(const ExplainOptions& options);

struct CheckOptions {
  std::vector<std::string> paths;
  unsigned threads = 0;
  std::size_t max_warnings = 50;
  std::string format = "text";       // text, json or sarif
  std::string config;                // YAML file enabling, disabling and excluding checks
  std::vector<std::string> pipelines;  // shipped names or YAML files whose placeholder values count as set
  std::string fail_level = "error";  // error, warning, info or none
  std::string output;                // write the report here instead of stdout
  bool list_checks = false;          // print the checks and exit
  std::string tool_version;          // for the SARIF driver
};
// Exit status: 0 when no rule failed to load and no finding is at or above
// the fail level; 1 otherwise; 2 on usage, configuration or I/O errors.
int run_check(const CheckOptions& options);

struct LayerCommandOptions {
  std::vector<std::string> paths;
  std::string output;            // empty or "-": stdout
  std::string score = "count";   // count or level
  std::string base_url;          // prefix of rule page links
  unsigned threads = 0;
  std::size_t max_warnings = 50;
  // Techniques to check coverage of (see read_baseline), the layer of their
  // gaps, and whether a gap makes the exit status 1.
  std::string baseline;
  std::string gaps_output;
  bool fail_on_gaps = false;
};
int run_layer(const LayerCommandOptions& options);

}  // namespace sigscope
