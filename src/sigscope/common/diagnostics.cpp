#include "sigscope/common/diagnostics.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

std::string Diagnostic::format() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) {
      out += fmt::format(":{}", line);
      if (column > 0) out += fmt::format(":{}", column);
    }
    out += ": ";
  }
  out += severity == Severity::Error ? "error: " : "warning: ";
  if (!rule_id.empty()) out += fmt::format("[rule {}] ", rule_id);
  out += message;
  if (!hint.empty()) out += fmt::format(" ({})", hint);
  // Messages quote rule and log text, which may hold terminal escape sequences.
  return escape_control_characters(out);
}

void DiagnosticList::add(Diagnostic d) {
  std::lock_guard lock(mutex_);
  items_.push_back(std::move(d));
}

void DiagnosticList::error(std::string file, int line, int column, std::string rule_id,
                           std::string message, std::string hint) {
  add(Diagnostic{Severity::Error, std::move(file), line, column, std::move(rule_id),
                 std::move(message), std::move(hint)});
}

void DiagnosticList::warning(std::string file, int line, int column, std::string rule_id,
                             std::string message, std::string hint) {
  add(Diagnostic{Severity::Warning, std::move(file), line, column, std::move(rule_id),
                 std::move(message), std::move(hint)});
}

void DiagnosticList::append(const DiagnosticList& other) {
  std::vector<Diagnostic> copy;
  {
    std::lock_guard lock(other.mutex_);
    copy = other.items_;
  }
  std::lock_guard lock(mutex_);
  for (auto& d : copy) items_.push_back(std::move(d));
}

void DiagnosticList::sort() {
  std::lock_guard lock(mutex_);
  // Messages without a line (EVTX chunks and records, whole files) can come
  // from several threads in any order, so their text decides among them
  // ("chunk 1 at offset ..." before "chunk 2 at offset ...").
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (std::tie(a.file, a.line, a.column) != std::tie(b.file, b.line, b.column))
      return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
    return a.line == 0 && a.message < b.message;
  });
}

std::size_t DiagnosticList::error_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& d : items_) n += d.severity == Severity::Error;
  return n;
}

std::size_t DiagnosticList::warning_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& d : items_) n += d.severity == Severity::Warning;
  return n;
}

}  // namespace sigscope
