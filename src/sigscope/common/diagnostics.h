// Diagnostics: errors and warnings about one input (a rule file, a log file,
// an event) with the location and a suggested fix.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace sigscope {

enum class Severity { Warning, Error };

struct Diagnostic {
  Severity severity = Severity::Error;
  std::string file;     // path of the input; empty when there is none
  int line = 0;         // 1-based; 0 when unknown
  int column = 0;       // 1-based; 0 when unknown
  std::string rule_id;  // id of the rule concerned; empty when unknown
  std::string message;  // what is wrong
  std::string hint;     // what to do about it; may be empty
  // The lint check of `sigscope check` that reports the same problem: a warning
  // is reported as a finding of that check, and an error is left out where that
  // check has a finding at its line. May be empty.
  std::string check;

  // Formats as "file:line:col: error: [rule <id>] message (hint)".
  std::string format() const;
};

// Collects diagnostics. Appending is thread-safe so parallel loaders can share
// one list.
class DiagnosticList {
 public:
  void add(Diagnostic d);
  void error(std::string file, int line, int column, std::string rule_id, std::string message,
             std::string hint = {});
  void warning(std::string file, int line, int column, std::string rule_id,
               std::string message, std::string hint = {});
  // Adds a warning that `sigscope check` reports as a finding of lint check `check`.
  void check_warning(std::string check, std::string file, int line, int column, std::string rule_id,
                     std::string message, std::string hint);
  // Adds an error that lint check `check` also reports, from the rule as written.
  void check_error(std::string check, std::string file, int line, int column, std::string rule_id,
                   std::string message, std::string hint);
  void append(const DiagnosticList& other);
  // Orders by file, line and column so output does not depend on thread timing.
  void sort();

  const std::vector<Diagnostic>& items() const { return items_; }
  std::size_t error_count() const;
  std::size_t warning_count() const;
  bool empty() const { return items_.empty(); }

 private:
  mutable std::mutex mutex_;
  std::vector<Diagnostic> items_;
};

}  // namespace sigscope
