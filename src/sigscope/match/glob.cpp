#include "sigscope/match/glob.h"

#include <cstring>

namespace sigscope {

namespace {
std::size_t code_point_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}
}  // namespace

GlobProgram::GlobProgram(const Pattern& pattern, MatchOp op) {
  const auto& pieces = pattern.pieces();
  const bool leading_star = !pieces.empty() && pieces.front().kind == PatternPiece::Kind::AnyRun;
  const bool trailing_star = !pieces.empty() && pieces.back().kind == PatternPiece::Kind::AnyRun;
  anchored_start_ = (op == MatchOp::Equals || op == MatchOp::StartsWith) && !leading_star;
  anchored_end_ = (op == MatchOp::Equals || op == MatchOp::EndsWith) && !trailing_star;

  // Own the literal text so the steps can hold views.
  storage_.reserve(pieces.size());
  for (const auto& piece : pieces)
    if (piece.kind == PatternPiece::Kind::Literal) storage_.push_back(piece.text);
  std::size_t literal = 0;
  segments_.emplace_back();
  for (const auto& piece : pieces) {
    switch (piece.kind) {
      case PatternPiece::Kind::AnyRun:
        if (!segments_.back().empty()) segments_.emplace_back();
        break;
      case PatternPiece::Kind::AnyChar: segments_.back().push_back({true, {}}); break;
      case PatternPiece::Kind::Literal: segments_.back().push_back({false, storage_[literal++]}); break;
      case PatternPiece::Kind::Placeholder:
        // Unresolved placeholders never match; the engine reports such rules.
        segments_.back().push_back({false, std::string_view("\0\1placeholder\1\0", 15)});
        break;
    }
  }
  if (segments_.back().empty() && segments_.size() > 1) segments_.pop_back();
}

std::size_t GlobProgram::match_at(const Segment& segment, std::string_view value, std::size_t pos) {
  std::size_t p = pos;
  for (const Step& step : segment) {
    if (step.any_char) {
      if (p >= value.size()) return std::string_view::npos;
      p += code_point_length(static_cast<unsigned char>(value[p]));
      if (p > value.size()) return std::string_view::npos;
    } else {
      if (value.size() - p < step.literal.size() ||
          std::memcmp(value.data() + p, step.literal.data(), step.literal.size()) != 0)
        return std::string_view::npos;
      p += step.literal.size();
    }
  }
  return p - pos;
}

std::pair<std::size_t, std::size_t> GlobProgram::find(const Segment& segment, std::string_view value,
                                                      std::size_t pos) {
  constexpr auto npos = std::string_view::npos;
  if (segment.empty()) return {pos, 0};
  if (!segment.front().any_char) {
    // Jump between occurrences of the leading literal.
    std::string_view head = segment.front().literal;
    for (std::size_t at = value.find(head, pos); at != npos; at = value.find(head, at + 1)) {
      std::size_t len = match_at(segment, value, at);
      if (len != npos) return {at, len};
    }
    return {npos, 0};
  }
  for (std::size_t at = pos; at < value.size(); at += code_point_length(static_cast<unsigned char>(value[at]))) {
    std::size_t len = match_at(segment, value, at);
    if (len != npos) return {at, len};
  }
  return {npos, 0};
}

bool GlobProgram::matches(std::string_view value) const {
  constexpr auto npos = std::string_view::npos;
  const std::size_t count = segments_.size();
  // One segment and no `*`.
  if (count == 1 && anchored_start_ && anchored_end_) return match_at(segments_[0], value, 0) == value.size();

  std::size_t pos = 0;
  std::size_t first = 0;
  if (anchored_start_) {
    std::size_t len = match_at(segments_[0], value, 0);
    if (len == npos) return false;
    pos = len;
    first = 1;
  }
  std::size_t last = anchored_end_ ? count - 1 : count;
  if (anchored_end_ && first > last) return pos == value.size();  // only possible when count == 1
  for (std::size_t i = first; i < last; ++i) {
    auto [at, len] = find(segments_[i], value, pos);
    if (at == npos) return false;
    pos = at + len;
  }
  if (!anchored_end_) return true;
  // The last segment must end exactly at the end of the value.
  const Segment& tail = segments_[count - 1];
  bool fixed_length = true;
  std::size_t tail_length = 0;
  for (const Step& step : tail) {
    fixed_length &= !step.any_char;
    tail_length += step.literal.size();
  }
  if (fixed_length) {
    if (value.size() < tail_length || value.size() - tail_length < pos) return false;
    return match_at(tail, value, value.size() - tail_length) != npos;
  }
  for (std::size_t at = value.size() + 1; at-- > pos;) {
    std::size_t len = match_at(tail, value, at);
    if (len != npos && at + len == value.size()) return true;
  }
  return false;
}

}  // namespace sigscope
