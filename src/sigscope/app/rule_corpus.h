// Loading and compiling a rule corpus with the standard reporting: every
// diagnostic goes to stderr, followed by a one-line summary.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"

namespace sigscope {

struct CorpusLoad {
  std::vector<CompiledRule> rules;
  DiagnosticList diagnostics;
  std::size_t files = 0;
  std::size_t documents_failed = 0;  // rule documents rejected at load or compile time
  double seconds = 0;

  // Counts for index.json and the closing summary.
  nlohmann::json summary() const;
};

// Loads and compiles every rule under `paths`. Diagnostics are collected,
// not printed. With `uncompiled`, the rules that loaded but failed to compile
// are copied there (for checks that need only the rule as written).
void load_corpus(const std::vector<std::string>& paths, unsigned threads, CorpusLoad& out,
                 std::vector<Rule>* uncompiled = nullptr);

// Adds a warning (check id correlation-reference) for each correlation in
// `load` that cannot run even when every detection rule runs, such as one that
// references no loaded rule. Such a correlation loads, so it is no error.
void warn_unrunnable_correlations(CorpusLoad& load);

// Prints errors in full and at most `max_warnings` warnings (the rest are
// counted), then the summary line. With `skip_reported`, errors and the
// warnings that name a lint check are left out, because `check` reports them
// as findings.
void report_corpus(const CorpusLoad& load, std::size_t max_warnings, bool skip_reported = false);

// Writes `body` to the file `path`, or to stdout when `path` is empty.
// Returns false, after logging an error that names the file, when the write
// failed.
bool write_report(const std::string& path, const std::string& body);

}  // namespace sigscope
