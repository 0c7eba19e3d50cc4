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
                 std::move(message), std::move(hint), {}});
}

void DiagnosticList::warning(std::string file, int line, int column, std::string rule_id,
                             std::string message, std::string hint) {
  add(Diagnostic{Severity::Warning, std::move(file), line, column, std::move(rule_id),
                 std::move(message), std::move(hint), {}});
}

void DiagnosticList::check_warning(std::string check, std::string file, int line, int column, std::string rule_id,
                                   std::string message, std::string hint) {
  add(Diagnostic{Severity::Warning, std::move(file), line, column, std::move(rule_id), std::move(message),
                 std::move(hint), std::move(check)});
}

void DiagnosticList::check_error(std::string check, std::string file, int line, int column, std::string rule_id,
                                 std::string message, std::string hint) {
  add(Diagnostic{Severity::Error, std::move(file), line, column, std::move(rule_id), std::move(message),
                 std::move(hint), std::move(check)});
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

namespace {

// Orders text with runs of digits compared as numbers, so "chunk 5" comes
// before "chunk 40" and "chunk 300".
bool natural_less(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t i_end = i, j_end = j;
      while (i_end < a.size() && digit(a[i_end])) ++i_end;
      while (j_end < b.size() && digit(b[j_end])) ++j_end;
      // Without leading zeros, the shorter run is the smaller number.
      std::string_view x = a.substr(i, i_end - i), y = b.substr(j, j_end - j);
      while (x.size() > 1 && x[0] == '0') x.remove_prefix(1);
      while (y.size() > 1 && y[0] == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i_end;
      j = j_end;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

}  // namespace

void DiagnosticList::sort() {
  std::lock_guard lock(mutex_);
  // Messages without a line (EVTX chunks and records, whole files) can come
  // from several threads in any order, so their text decides among them,
  // numbers by value ("chunk 5 at offset ..." before "chunk 40 at offset ...").
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (std::tie(a.file, a.line, a.column) != std::tie(b.file, b.line, b.column))
      return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
    return a.line == 0 && natural_less(a.message, b.message);
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
