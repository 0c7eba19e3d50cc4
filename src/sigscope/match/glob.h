// Matching of Sigma patterns (literal runs, `*`, `?`) against one value, with
// the anchoring of a MatchOp. This is the direct path used when no multi-pattern
// prefilter applies and by `hunt --explain`.
#pragma once

#include <string_view>
#include <vector>

#include "sigscope/compile/compiled.h"

namespace sigscope {

class GlobProgram {
 public:
  // Compiles `pattern` for `op` (Equals, Contains, StartsWith or EndsWith).
  // Fold the pattern first for case-insensitive matching.
  GlobProgram(const Pattern& pattern, MatchOp op);

  // True when `value` matches. `?` consumes one UTF-8 code point (one byte of
  // invalid UTF-8); `*` consumes any run, line breaks included.
  bool matches(std::string_view value) const;

 private:
  struct Step {
    bool any_char;       // `?`
    std::string_view literal;
  };
  using Segment = std::vector<Step>;

  // Byte length of a match of `segment` at `pos`, or npos.
  static std::size_t match_at(const Segment& segment, std::string_view value, std::size_t pos);
  // Leftmost match of `segment` at or after `pos`: returns {start, length} or {npos, 0}.
  static std::pair<std::size_t, std::size_t> find(const Segment& segment, std::string_view value,
                                                  std::size_t pos);

  std::vector<std::string> storage_;  // literal text owned here
  std::vector<Segment> segments_;     // split at `*`
  bool anchored_start_ = false;
  bool anchored_end_ = false;
};

}  // namespace sigscope
