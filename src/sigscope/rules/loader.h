// Loading Sigma rules from files: YAML parsing, rule collections (action:
// global/reset/repeat) and metadata validation. Errors are collected per
// document; a bad document never stops the rest from loading.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/rules/model.h"

namespace sigscope {

// Parses every rule document in `text`, naming `path` in positions and
// messages. Documents that fail validation are reported and left out. When
// `rejected` is given, their number is added to it, and a YAML syntax error
// counts as one rejected document. A rule without a level gets a warning
// unless a correlation in `text` references it.
std::vector<Rule> load_rules_from_text(std::string_view text, const std::string& path,
                                       DiagnosticList& diagnostics, std::size_t* rejected = nullptr);

struct RuleFile {
  std::string path;      // as found, for opening and messages
  std::string relative;  // relative to the folder it was found under (the file name for file arguments)
};

// Lists every .yml/.yaml file under `paths` (files are taken as given,
// folders are searched recursively), sorted for a stable order. Missing
// paths are reported.
std::vector<RuleFile> find_rule_files(const std::vector<std::string>& paths, DiagnosticList& diagnostics);

struct LoadResult {
  std::vector<Rule> rules;
  std::size_t files = 0;
  std::size_t files_failed = 0;      // files with at least one error
  std::size_t documents_failed = 0;  // rule documents rejected (see load_rules_from_text)
};

// Loads every rule file under `paths` using `threads` worker threads
// (0 = hardware concurrency). Rules keep file order. A rule without a level
// gets a warning unless a correlation in any of the files references it.
LoadResult load_rules(const std::vector<std::string>& paths, DiagnosticList& diagnostics,
                      unsigned threads = 0);

}  // namespace sigscope
