#include "sigscope/correlate/correlation.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <compare>
#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <span>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include <unistd.h>

#include "sigscope/common/spill_buffer.h"
#include "sigscope/common/text.h"

namespace sigscope {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads `count` digits at `pos` and advances `pos` past them.
std::optional<int> digits(std::string_view text, std::size_t& pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t k = 0; k < count; ++k) {
    char c = text[pos + k];
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

// A Windows FILETIME counts 100 ns ticks since 1601-01-01 UTC. These are
// its values at 1970-01-01 and 2100-01-01.
constexpr std::uint64_t kFiletimeAt1970 = 116'444'736'000'000'000ULL;
constexpr std::uint64_t kFiletimeAt2100 = 157'469'184'000'000'000ULL;

// Reads a number since 1970 as microseconds. The magnitude distinguishes
// seconds, milliseconds, microseconds and nanoseconds for any date between
// 1973 and 5138. A FILETIME of a date from 1970 to 2099 is read as one,
// because as nanoseconds it would be a date from September 1973 to
// December 1974. Integers are scaled exactly, so a nanosecond count keeps
// its microseconds. A number with a fraction or an exponent, such as
// "1.71455766e+18" for a JSON double, is read as a double.
std::optional<std::int64_t> parse_epoch(std::string_view text) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  std::uint64_t whole = 0;
  if (auto [end, error] = std::from_chars(first, last, whole); error == std::errc() && end == last) {
    if (whole < 100'000'000'000ULL) return static_cast<std::int64_t>(whole * 1'000'000);  // seconds
    if (whole < 100'000'000'000'000ULL) return static_cast<std::int64_t>(whole * 1'000);  // milliseconds
    if (whole < 100'000'000'000'000'000ULL) return static_cast<std::int64_t>(whole);      // microseconds
    if (whole >= kFiletimeAt1970 && whole < kFiletimeAt2100) {
      const std::uint64_t ticks = whole - kFiletimeAt1970;
      return static_cast<std::int64_t>(ticks / 10 + (ticks % 10 >= 5 ? 1 : 0));
    }
    return static_cast<std::int64_t>(whole / 1'000 + (whole % 1'000 >= 500 ? 1 : 0));  // nanoseconds
  }
  double v = 0;
  if (auto [end, error] = std::from_chars(first, last, v); error != std::errc() || end != last) return std::nullopt;
  if (!std::isfinite(v) || v < 0 || v >= 1e20) return std::nullopt;
  if (v >= static_cast<double>(kFiletimeAt1970) && v < static_cast<double>(kFiletimeAt2100))
    return static_cast<std::int64_t>(std::llround((v - static_cast<double>(kFiletimeAt1970)) / 10));
  double scale = 1e-3;        // nanoseconds
  if (v < 1e11) scale = 1e6;  // seconds
  else if (v < 1e14) scale = 1e3;  // milliseconds
  else if (v < 1e17) scale = 1;    // microseconds
  return static_cast<std::int64_t>(std::llround(v * scale));
}

// The position of `field` among the group-by fields of correlation `child`,
// or -1. A pipeline renames a parent's names only where the parent reads
// events itself, so the child's names as written count too.
int group_position(const Correlation& child, const std::string& field) {
  for (const auto* names : {&child.group_by, &child.written_group_by}) {
    auto it = std::find(names->begin(), names->end(), field);
    if (it != names->end()) return static_cast<int>(it - names->begin());
  }
  return -1;
}

// The field that `name` (a group-by field or the condition's field) stands
// for in the events of `target`, after the correlation's aliases.
std::string aliased_field(const Correlation& spec, const std::string& name, const Rule& target) {
  auto alias = spec.aliases.find(name);
  if (alias != spec.aliases.end())
    for (const auto& [rule_name, field] : alias->second)
      if (is_referenced_by(target, rule_name)) return field;
  return name;
}

// The rule's id, or its title when it has none, for messages.
const std::string& label(const Rule& rule) { return rule.id.empty() ? rule.title : rule.id; }

bool has_bound(const CorrelationCondition& c) { return c.gt || c.gte || c.lt || c.lte || c.eq || c.neq; }

bool is_numeric_type(CorrelationType type) {
  switch (type) {
    case CorrelationType::ValueSum:
    case CorrelationType::ValueAvg:
    case CorrelationType::ValuePercentile:
    case CorrelationType::ValueMedian:
    case CorrelationType::ValueMin:
    case CorrelationType::ValueMax: return true;
    default: return false;
  }
}

bool is_temporal(CorrelationType type) {
  return type == CorrelationType::Temporal || type == CorrelationType::TemporalOrdered;
}

}  // namespace

void append_group_value(std::string& key, std::string_view value) {
  key += std::to_string(value.size());
  key += ':';
  key += value;
}

std::optional<std::int64_t> parse_event_time(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  if (auto epoch = parse_epoch(text)) return epoch;

  // The date, then an optional time of day, then an optional zone.
  std::size_t pos = 0;
  auto year = digits(text, pos, 4);
  if (!year || pos >= text.size() || text[pos++] != '-') return std::nullopt;
  auto month = digits(text, pos, 2);
  if (!month || pos >= text.size() || text[pos++] != '-') return std::nullopt;
  auto day = digits(text, pos, 2);
  if (!day) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  std::int64_t seconds = std::chrono::sys_days(date).time_since_epoch().count() * 86400LL;
  std::int64_t micros = 0;

  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    auto hour = digits(text, pos, 2);
    if (!hour || pos >= text.size() || text[pos++] != ':') return std::nullopt;
    auto minute = digits(text, pos, 2);
    if (!minute || *hour > 23 || *minute > 59) return std::nullopt;
    int second = 0;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      auto s = digits(text, pos, 2);
      if (!s || *s > 60) return std::nullopt;
      second = *s;
    }
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      std::int64_t scale = 100000;
      std::size_t start = pos;
      while (pos < text.size() && is_digit(text[pos])) {
        micros += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
    seconds += *hour * 3600LL + *minute * 60LL + second;
  }

  if (pos < text.size()) {
    char c = text[pos];
    if ((c == 'Z' || c == 'z') && pos + 1 == text.size()) {
      ++pos;
    } else if (c == '+' || c == '-') {
      ++pos;
      auto hours = digits(text, pos, 2);
      if (!hours) return std::nullopt;
      int minutes = 0;
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (pos < text.size()) {
        auto m = digits(text, pos, 2);
        if (!m) return std::nullopt;
        minutes = *m;
      }
      std::int64_t offset = *hours * 3600LL + minutes * 60LL;
      seconds -= c == '+' ? offset : -offset;
    }
    if (pos != text.size()) return std::nullopt;
  }
  return seconds * 1000000LL + micros;
}

std::optional<std::int64_t> event_time(const RawEvent& event) {
  if (auto time = parse_event_time(event.timestamp)) return time;
  for (std::string_view other : event.other_timestamps)
    if (auto time = parse_event_time(other)) return time;
  return std::nullopt;
}

std::string format_event_time(std::int64_t time_us) {
  std::int64_t seconds = time_us / 1000000, micros = time_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --seconds;
  }
  std::int64_t days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  const std::chrono::year_month_day date{std::chrono::sys_days(std::chrono::days(days))};
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), rest / 3600,
                                rest / 60 % 60, rest % 60);
  out += fmt::format(".{:06}Z", micros);
  return out;
}

std::size_t StringPool::slot_of(std::string_view text, std::uint64_t hash) const {
  const std::size_t mask = slots_.size() - 1;
  const std::uint64_t tag = hash >> 32;
  for (std::size_t i = static_cast<std::size_t>(hash) & mask;; i = (i + 1) & mask) {
    const std::uint64_t slot = slots_[i];
    if (slot == 0) return i;
    if ((slot >> 32) == tag && texts_[static_cast<std::uint32_t>(slot) - 1] == text) return i;
  }
}

void StringPool::grow() {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(std::max<std::size_t>(64, old.size() * 2), 0);
  const std::size_t mask = slots_.size() - 1;
  for (std::uint64_t slot : old) {
    if (slot == 0) continue;
    const std::uint64_t hash = std::hash<std::string_view>{}(texts_[static_cast<std::uint32_t>(slot) - 1]);
    std::size_t i = static_cast<std::size_t>(hash) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

std::uint32_t StringPool::intern(std::string_view text) {
  if ((texts_.size() + 1) * 2 > slots_.size()) grow();  // at most half full
  const std::uint64_t hash = std::hash<std::string_view>{}(text);
  const std::size_t i = slot_of(text, hash);
  if (slots_[i] != 0) return static_cast<std::uint32_t>(slots_[i]) - 1;
  const char* at = "";
  if (!text.empty()) {
    if (text.size() > kBlockBytes - block_used_) {
      // A text longer than a block gets a block of its own.
      blocks_.push_back(std::make_unique<char[]>(std::max(text.size(), kBlockBytes)));
      block_used_ = 0;
    }
    char* to = blocks_.back().get() + block_used_;
    std::memcpy(to, text.data(), text.size());
    block_used_ += text.size();
    at = to;
  }
  texts_.emplace_back(at, text.size());
  slots_[i] = (hash >> 32 << 32) | texts_.size();
  return static_cast<std::uint32_t>(texts_.size() - 1);
}

std::optional<std::uint32_t> StringPool::find(std::string_view text) const {
  if (slots_.empty()) return std::nullopt;
  const std::size_t i = slot_of(text, std::hash<std::string_view>{}(text));
  if (slots_[i] == 0) return std::nullopt;
  return static_cast<std::uint32_t>(slots_[i]) - 1;
}

namespace {

// The fixed part of a spilled hit. The key and value bytes follow it.
struct SpillRecord {
  std::int64_t time_us;
  std::uint64_t record;
  std::uint64_t order;  // position among all hits added
  std::uint32_t input, rule, correlation, key_size, value_size;
  std::uint16_t ref;
  std::uint8_t has_value;
  std::uint8_t padding;
};
static_assert(sizeof(SpillRecord) == 48);

// Bytes a partition collects before they are written: 128 partitions take
// 4 MiB.
constexpr std::size_t kSpillBuffer = 32 << 10;

}  // namespace

CorrelationHits::CorrelationHits(std::size_t memory_budget, std::string spill_dir)
    : memory_budget_(memory_budget), spill_dir_(std::move(spill_dir)) {
  if (spill_dir_.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    spill_dir_ = tmp && *tmp ? tmp : "/tmp";
  }
}

CorrelationHits::~CorrelationHits() { close_files(); }

void CorrelationHits::close_files() {
  for (Partition& part : parts_)
    if (part.fd >= 0) ::close(part.fd);
  parts_.clear();
}

std::size_t CorrelationHits::memory_bytes() const { return hits_.size() * sizeof(Stored) + strings_.memory_bytes(); }

std::size_t CorrelationHits::partition_of(std::uint32_t correlation, std::string_view key) {
  const std::uint64_t h = short_hash(key) ^ (std::uint64_t{correlation} * 0x9E3779B97F4A7C15ull);
  return static_cast<std::size_t>((h ^ (h >> 31)) % kPartitions);
}

void CorrelationHits::add(const CorrelationHit& hit) {
  static_assert(sizeof(Stored) == 40, "a hit is kept for every detection that feeds a correlation");
  const std::uint64_t order = count_++;
  if (spilled()) {
    write(hit, order);
    return;
  }
  add_to_memory(hit);
  if (memory_bytes() > memory_budget_ && spill_error_.empty()) spill();
}

void CorrelationHits::add_to_memory(const CorrelationHit& hit) {
  const std::uint32_t key = strings_.intern(hit.key());
  const std::uint32_t value = hit.has_value ? strings_.intern(hit.value()) : kNoValue;
  hits_.push_back({hit.time_us, hit.record, hit.input, hit.rule, hit.correlation, key, value,
                   static_cast<std::uint16_t>(hit.ref)});
}

void CorrelationHits::spill() {
  std::vector<Partition> parts(kPartitions);
  for (Partition& part : parts) {
    std::string path = spill_dir_ + "/sigscope-correlation-XXXXXX";
    part.fd = ::mkstemp(path.data());
    if (part.fd < 0) {
      spill_error_ = temporary_file_error("create", spill_dir_, errno);
      for (Partition& created : parts)
        if (created.fd >= 0) ::close(created.fd);
      return;
    }
    ::unlink(path.c_str());  // the file lives until it is closed
  }
  parts_ = std::move(parts);
  std::deque<Stored> in_memory;
  in_memory.swap(hits_);
  StringPool strings = std::move(strings_);
  strings_ = StringPool();
  CorrelationHit hit;
  std::uint64_t order = 0;
  for (const Stored& s : in_memory) {
    hit.time_us = s.time_us;
    hit.record = s.record;
    hit.input = s.input;
    hit.rule = s.rule;
    hit.correlation = s.correlation;
    hit.ref = s.ref;
    hit.text.assign(strings[s.key]);
    hit.key_size = static_cast<std::uint32_t>(hit.text.size());
    hit.has_value = s.value != kNoValue;
    if (hit.has_value) hit.text += strings[s.value];
    write(hit, order++);
    if (!spilled()) {
      // Writing failed, and every hit written so far came back to memory:
      // the rest follows.
      for (auto it = in_memory.begin() + static_cast<std::ptrdiff_t>(order); it != in_memory.end(); ++it) {
        Stored copy = *it;
        copy.key = strings_.intern(strings[it->key]);
        if (copy.value != kNoValue) copy.value = strings_.intern(strings[it->value]);
        hits_.push_back(copy);
      }
      return;
    }
  }
}

void CorrelationHits::write(const CorrelationHit& hit, std::uint64_t order) {
  SpillRecord r{};
  r.time_us = hit.time_us;
  r.record = hit.record;
  r.order = order;
  r.input = hit.input;
  r.rule = hit.rule;
  r.correlation = hit.correlation;
  r.key_size = hit.key_size;
  r.value_size = hit.has_value ? static_cast<std::uint32_t>(hit.text.size() - hit.key_size) : 0;
  r.ref = static_cast<std::uint16_t>(hit.ref);
  r.has_value = hit.has_value;
  Partition& part = parts_[partition_of(hit.correlation, hit.key())];
  part.pending.append(reinterpret_cast<const char*>(&r), sizeof r);
  part.pending.append(hit.text);
  ++part.records;
  spilled_bytes_ += sizeof r + hit.text.size();
  if (part.pending.size() >= kSpillBuffer && !flush(part)) unspill();
}

bool CorrelationHits::flush(Partition& part) {
  std::size_t done = 0;
  bool ok = true;
  while (done < part.pending.size()) {
    const ssize_t n = ::write(part.fd, part.pending.data() + done, part.pending.size() - done);
    if (n <= 0) {
      spill_error_ = temporary_file_error("write", spill_dir_, n < 0 ? errno : EIO);
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  // A record cut by a failed write has its start in the file and its rest
  // here, so reading the file and then `pending` gives every record whole.
  part.written += done;
  part.pending.erase(0, done);
  return ok;
}

void CorrelationHits::unspill() {
  // Every spilled hit comes back, in the order they were added.
  std::vector<std::pair<std::uint64_t, CorrelationHit>> back;
  std::uint64_t unread = 0;
  for (std::size_t k = 0; k < parts_.size(); ++k) {
    std::uint64_t records = 0;
    const bool complete = for_each_spilled(k, [&](const CorrelationHit& hit, std::uint64_t order) {
      ++records;
      back.emplace_back(order, hit);
    });
    if (!complete) unread += parts_[k].records - records;
  }
  close_files();
  std::sort(back.begin(), back.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, hit] : back) add_to_memory(hit);
  lost_ += unread;
}

bool CorrelationHits::for_each_spilled(std::size_t part_index,
                                       const std::function<void(const CorrelationHit&, std::uint64_t)>& f) const {
  const Partition& part = parts_[part_index];
  std::string buffer;
  std::size_t used = 0;  // bytes of `buffer` already parsed
  CorrelationHit hit;
  // Parses the whole records at the start of buffer[used...].
  auto parse = [&] {
    for (;;) {
      if (buffer.size() - used < sizeof(SpillRecord)) return;
      SpillRecord r;
      std::memcpy(&r, buffer.data() + used, sizeof r);
      const std::size_t text_size = std::size_t{r.key_size} + r.value_size;
      if (buffer.size() - used - sizeof r < text_size) return;
      hit.time_us = r.time_us;
      hit.record = r.record;
      hit.input = r.input;
      hit.rule = r.rule;
      hit.correlation = r.correlation;
      hit.ref = r.ref;
      hit.key_size = r.key_size;
      hit.has_value = r.has_value != 0;
      hit.text.assign(buffer, used + sizeof r, text_size);
      f(hit, r.order);
      used += sizeof r + text_size;
    }
  };
  constexpr std::size_t kChunk = 1 << 20;
  for (std::uint64_t offset = 0; offset < part.written;) {
    buffer.erase(0, used);
    used = 0;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, part.written - offset));
    const std::size_t start = buffer.size();
    buffer.resize(start + want);
    const ssize_t n = ::pread(part.fd, buffer.data() + start, want, static_cast<off_t>(offset));
    if (n <= 0) return false;
    buffer.resize(start + static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
    parse();
  }
  buffer.erase(0, used);
  used = 0;
  buffer += part.pending;
  parse();
  return true;
}

CorrelationHits::View CorrelationHits::operator[](std::size_t index) const {
  const Stored& s = hits_[index];
  View v;
  v.time_us = s.time_us;
  v.record = s.record;
  v.input = s.input;
  v.rule = s.rule;
  v.correlation = s.correlation;
  v.ref = s.ref;
  v.key = s.key;
  v.value = s.value;
  return v;
}

void CorrelationHits::read_partition(std::size_t part, const std::function<void(const CorrelationHit&, std::uint64_t)>& f,
                                     std::uint64_t& unread) const {
  if (!spilled()) return;
  std::uint64_t records = 0;
  const bool complete = for_each_spilled(part, [&](const CorrelationHit& hit, std::uint64_t order) {
    ++records;
    f(hit, order);
  });
  if (!complete) unread += parts_[part].records - records;
}

std::vector<UnrunnableCorrelation> find_unrunnable_correlations(const std::vector<CompiledRule>& rules) {
  std::vector<const CompiledRule*> detection_rules;
  for (const auto& r : rules)
    if (r.rule.kind == RuleKind::Detection) detection_rules.push_back(&r);
  FieldTable fields;
  std::vector<UnrunnableCorrelation> unrunnable;
  plan_correlations(rules, detection_rules, fields, unrunnable);
  return unrunnable;
}

CorrelationSet plan_correlations(const std::vector<CompiledRule>& all, const std::vector<const CompiledRule*>& runnable,
                                 FieldTable& fields, std::vector<UnrunnableCorrelation>& unrunnable) {
  CorrelationSet set;
  std::vector<const CompiledRule*> correlations;
  for (const auto& r : all)
    if (r.rule.kind == RuleKind::Correlation) correlations.push_back(&r);
  set.feeds.resize(runnable.size());
  set.reported.assign(runnable.size(), true);
  if (correlations.empty()) return set;

  // Check each correlation's own fields, then resolve its references.
  struct Resolved {
    std::vector<CorrelationPlan::Ref> refs;  // Ref::index of a correlation: index into `correlations`
    std::string reason;                      // why it cannot run
  };
  std::vector<Resolved> resolved(correlations.size());
  for (std::size_t c = 0; c < correlations.size(); ++c) {
    const Rule& rule = correlations[c]->rule;
    const Correlation& spec = rule.correlation;
    Resolved& out = resolved[c];
    if (spec.type == CorrelationType::ValuePercentile && !spec.condition.percentile) {
      out.reason = "value_percentile needs 'percentile' in its condition (the percentile to compare, 0 to 100)";
      continue;
    }
    if (spec.condition.percentile && (*spec.condition.percentile < 0 || *spec.condition.percentile > 100)) {
      out.reason = fmt::format("percentile {} is outside 0 to 100", *spec.condition.percentile);
      continue;
    }
    if (!is_temporal(spec.type) && !has_bound(spec.condition)) {
      out.reason = "its condition gives no bound; add gt, gte, lt, lte, eq or neq";
      continue;
    }
    for (std::size_t a = 0; a < spec.group_by.size() && out.reason.empty(); ++a)
      for (std::size_t b = a + 1; b < spec.group_by.size(); ++b)
        if (spec.group_by[a] == spec.group_by[b]) {
          out.reason = fmt::format("its group-by lists '{}' twice", spec.group_by[a]);
          break;
        }
    if (!out.reason.empty()) continue;
    if (spec.rules.size() > UINT16_MAX) {
      out.reason = fmt::format("it lists {} rules, more than the {} a correlation can combine", spec.rules.size(),
                               UINT16_MAX);
      continue;
    }
    if (spec.timespan_seconds == 0) {
      out.reason = "its timespan is 0; give a length such as 5m or 1h";
      continue;
    }
    for (const std::string& name : spec.rules) {
      // Names must be unique (ids are by nature): a name shared by several
      // rules does not say which one is meant.
      std::size_t named = 0;
      for (const CompiledRule* r : runnable) named += !r->rule.name.empty() && r->rule.name == name;
      for (const CompiledRule* r : correlations) named += !r->rule.name.empty() && r->rule.name == name;
      if (named > 1) {
        out.reason = fmt::format("it references '{}', which is the name of {} rules; give each rule a unique name "
                                 "or reference it by id",
                                 name, named);
        break;
      }
      CorrelationPlan::Ref ref;
      bool found = false;
      for (std::uint32_t r = 0; r < runnable.size() && !found; ++r)
        if (is_referenced_by(runnable[r]->rule, name)) {
          ref = {false, r};
          found = true;
        }
      for (std::uint32_t k = 0; k < correlations.size() && !found; ++k)
        if (is_referenced_by(correlations[k]->rule, name)) {
          ref = {true, k};
          found = true;
        }
      if (!found) {
        bool loaded = std::any_of(all.begin(), all.end(), [&](const CompiledRule& r) { return is_referenced_by(r.rule, name); });
        out.reason = loaded ? fmt::format("it references rule '{}', which does not run (see the messages about it)", name)
                            : fmt::format("it references '{}', which is neither the id nor the name of a rule that "
                                          "runs; check the spelling, load the file that holds it, or check that the "
                                          "rule loaded and is not deprecated or unsupported (--all-statuses runs those)",
                                          name);
        break;
      }
      if (ref.correlation) {
        // A correlation's detections carry only its own group-by values, so
        // a correlation that uses them can group only by those.
        const Rule& child = correlations[ref.index]->rule;
        for (const std::string& g : spec.group_by) {
          const std::string field = aliased_field(spec, g, child);
          if (group_position(child.correlation, field) < 0) {
            out.reason = fmt::format("it groups by '{}', but correlation '{}' that it references does not; add "
                                     "'{}' to that correlation's group-by",
                                     g, name, field);
            break;
          }
        }
        // The field of value_count and the like, over a correlation's
        // detections, must be one of the values they carry.
        if (out.reason.empty() && !spec.condition.field.empty()) {
          const std::string field = aliased_field(spec, spec.condition.field, child);
          if (group_position(child.correlation, field) < 0)
            out.reason = fmt::format("its condition reads '{}' from the detections of correlation '{}', which does "
                                     "not group by it; add '{}' to that correlation's group-by",
                                     spec.condition.field, name, field);
        }
        if (!out.reason.empty()) break;
      }
      out.refs.push_back(std::move(ref));
    }
  }

  // Order children first. A correlation that reaches itself, or that
  // references one that cannot run, cannot run either.
  std::vector<int> state(correlations.size(), 0);  // 0 new, 1 visiting, 2 done
  std::vector<std::uint32_t> order;
  std::function<void(std::size_t)> visit = [&](std::size_t c) {
    if (state[c] == 2) return;
    state[c] = 1;
    for (const auto& ref : resolved[c].refs) {
      if (!ref.correlation) continue;
      if (ref.index == c) {
        if (resolved[c].reason.empty()) resolved[c].reason = "it references itself";
        continue;
      }
      if (state[ref.index] == 1) {
        if (resolved[c].reason.empty())
          resolved[c].reason = fmt::format("it references correlation '{}', which references it in turn",
                                           label(correlations[ref.index]->rule));
        continue;
      }
      visit(ref.index);
      if (!resolved[ref.index].reason.empty() && resolved[c].reason.empty())
        resolved[c].reason = fmt::format("it references correlation '{}', which cannot run",
                                         label(correlations[ref.index]->rule));
    }
    state[c] = 2;
    order.push_back(static_cast<std::uint32_t>(c));
  };
  for (std::size_t c = 0; c < correlations.size(); ++c) visit(c);
  // A correlation found unrunnable late (a cycle) makes its users unrunnable.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::uint32_t c : order) {
      if (!resolved[c].reason.empty()) continue;
      for (const auto& ref : resolved[c].refs)
        if (ref.correlation && !resolved[ref.index].reason.empty()) {
          resolved[c].reason = fmt::format("it references correlation '{}', which cannot run",
                                           label(correlations[ref.index]->rule));
          changed = true;
          break;
        }
    }
  }

  std::vector<std::uint32_t> plan_of(correlations.size(), UINT32_MAX);
  for (std::uint32_t c : order) {
    if (!resolved[c].reason.empty()) {
      unrunnable.push_back({correlations[c], resolved[c].reason});
      continue;
    }
    plan_of[c] = static_cast<std::uint32_t>(set.plans.size());
    CorrelationPlan plan;
    plan.rule = correlations[c];
    plan.refs = resolved[c].refs;
    set.plans.push_back(std::move(plan));
  }

  for (std::uint32_t p = 0; p < set.plans.size(); ++p) {
    CorrelationPlan& plan = set.plans[p];
    const Correlation& spec = plan.rule->rule.correlation;
    auto field_for = [&](const std::string& name, const CorrelationPlan::Ref& ref) {
      return aliased_field(spec, name, ref.correlation ? correlations[ref.index]->rule : runnable[ref.index]->rule);
    };
    plan.child_group.resize(plan.refs.size());
    plan.child_value.assign(plan.refs.size(), -1);
    for (std::uint32_t k = 0; k < plan.refs.size(); ++k) {
      CorrelationPlan::Ref& ref = plan.refs[k];
      if (ref.correlation) {
        const Correlation& child = correlations[ref.index]->rule.correlation;
        auto position = [&](const std::string& name) { return group_position(child, field_for(name, ref)); };
        for (const std::string& g : spec.group_by) plan.child_group[k].push_back(position(g));
        if (!spec.condition.field.empty()) plan.child_value[k] = position(spec.condition.field);
        ref.index = plan_of[ref.index];
        continue;
      }
      // A rule listed twice feeds the correlation once per event, and the
      // evaluation finds its other positions in the plan.
      if (std::any_of(set.feeds[ref.index].begin(), set.feeds[ref.index].end(),
                      [&](const CorrelationFeed& f) { return f.correlation == p; }))
        continue;
      CorrelationFeed feed;
      feed.correlation = p;
      feed.ref = k;
      for (const std::string& g : spec.group_by) feed.group.push_back(fields.intern(field_for(g, ref)));
      if (!spec.condition.field.empty()) feed.value = fields.intern(field_for(spec.condition.field, ref));
      set.feeds[ref.index].push_back(std::move(feed));
    }
  }
  // A correlation used by other correlations writes its own detections
  // only if one of them sets generate: true, like a detection rule.
  set.plan_reported.assign(set.plans.size(), true);
  std::vector<bool> generated(set.plans.size(), false), referenced(set.plans.size(), false);
  for (const CorrelationPlan& plan : set.plans)
    for (const auto& ref : plan.refs)
      if (ref.correlation) {
        referenced[ref.index] = true;
        generated[ref.index] = generated[ref.index] || plan.rule->rule.correlation.generate;
      }
  for (std::uint32_t p = 0; p < set.plans.size(); ++p) set.plan_reported[p] = !referenced[p] || generated[p];
  // A rule's own detections are reported unless every correlation that uses
  // it has generate: false (the default).
  for (std::uint32_t r = 0; r < runnable.size(); ++r) {
    if (set.feeds[r].empty()) continue;
    set.reported[r] = std::any_of(set.feeds[r].begin(), set.feeds[r].end(), [&](const CorrelationFeed& f) {
      return set.plans[f.correlation].rule->rule.correlation.generate;
    });
  }
  return set;
}

namespace {

// One thing a correlation counts: a detection, or a fire of a correlation it
// references. Kept to 16 bytes, since there is one per hit.
struct Item {
  std::int64_t time = 0;
  std::uint32_t index = 0;  // a detection: index into the hits; a fire: into Evaluation::children
  std::uint16_t ref = 0;    // position in the correlation's `rules`
  bool fire = false;
};

// A child correlation's fire as an item of its parent.
struct ChildItem {
  std::uint32_t fire = 0;  // index into the fires
  std::uint32_t key = 0;   // the parent's group-by values, taken from the fire's group (a string id)
  std::uint32_t value = CorrelationHits::kNoValue;  // the condition's field, when the child groups by it
};

// The items of one group not yet judged, oldest first.
struct Window {
  std::vector<std::uint32_t> items;
  std::size_t head = 0;

  bool empty() const { return head == items.size(); }
  std::uint32_t front() const { return items[head]; }
  std::span<const std::uint32_t> view() const { return std::span<const std::uint32_t>(items).subspan(head); }
  void pop_front() {
    if (++head == items.size() || (head >= 64 && head * 2 >= items.size())) {
      items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
  }
  void clear() {
    items.clear();
    head = 0;
  }
};

// The running aggregates of a growing condition over a group's window, for
// the types that need more than the window's size.
struct Counts {
  std::vector<std::uint32_t> ref_counts;                        // temporal: events of each referenced rule
  std::uint32_t refs_seen = 0;                                  // temporal: rules with at least one event
  // temporal_ordered: for each length k, the latest start time of events
  // that match the first k rules in order (INT64_MIN when none).
  std::vector<std::int64_t> best;
};

// A group's state while a correlation runs. Kept small, since a group-by
// field can have a value per event.
struct Group {
  Window window;
  bool armed = false;  // the condition held: the window takes events up to one timespan after its first, then fires
  bool started = false;   // reset() ran since the group was made
  std::uint32_t distinct = 0;  // value_count: distinct values in the window
  std::unique_ptr<Counts> counts;  // temporal and temporal_ordered only

  void reset(CorrelationType type, std::size_t refs) {
    window.clear();
    armed = false;
    started = true;
    distinct = 0;
    if (type != CorrelationType::Temporal && type != CorrelationType::TemporalOrdered) return;
    if (!counts) counts = std::make_unique<Counts>();
    counts->ref_counts.assign(type == CorrelationType::Temporal ? refs : 0, 0);
    counts->refs_seen = 0;
    counts->best.assign(type == CorrelationType::TemporalOrdered ? refs + 1 : 0, INT64_MIN);
  }
};

bool satisfies(const CorrelationCondition& c, double v) {
  if (c.gt && !(v > *c.gt)) return false;
  if (c.gte && !(v >= *c.gte)) return false;
  if (c.lt && !(v < *c.lt)) return false;
  if (c.lte && !(v <= *c.lte)) return false;
  if (c.eq && !(v == *c.eq)) return false;
  if (c.neq && !(v != *c.neq)) return false;
  return true;
}

std::optional<double> number(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  // Decimal numbers only: strtod would also read hex ("0x1f"), inf and nan.
  for (char c : text)
    if (!is_digit(c) && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E') return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

double percentile(std::vector<double>& values, double p) {
  std::sort(values.begin(), values.end());
  double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  auto low = static_cast<std::size_t>(std::floor(rank));
  std::size_t high = std::min(values.size() - 1, low + 1);
  return values[low] + (values[high] - values[low]) * (rank - static_cast<double>(low));
}

bool holds(const CorrelationPlan& plan, double value) {
  const Correlation& spec = plan.rule->rule.correlation;
  // A temporal correlation without a condition needs every rule it names.
  if (is_temporal(spec.type) && !has_bound(spec.condition)) return value >= static_cast<double>(plan.refs.size());
  return satisfies(spec.condition, value);
}

// The values of a key written by append_group_value().
std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < key.size()) {
    std::size_t colon = key.find(':', pos);
    std::size_t length = 0;
    for (std::size_t k = pos; k < colon; ++k) length = length * 10 + static_cast<std::size_t>(key[k] - '0');
    out.emplace_back(key.substr(colon + 1, length));
    pos = colon + 1 + length;
  }
  return out;
}

// Returns whether position `k` of `plan`'s rules is the first that names
// what it names. A correlation listed twice gives its fires once, at its
// first position.
bool first_position(const CorrelationPlan& plan, std::uint32_t k) {
  for (std::uint32_t j = 0; j < k; ++j)
    if (plan.refs[j].correlation == plan.refs[k].correlation && plan.refs[j].index == plan.refs[k].index) return false;
  return true;
}

// Sets `key` to the group key under which `plan` counts `fire`, a fire of
// the correlation at position `k` of its rules. Returns false when the fire
// lacks one of the plan's group-by values.
bool child_group_key(const CorrelationPlan& plan, std::uint32_t k, const CorrelationFire& fire, std::string& key) {
  key.clear();
  for (int position : plan.child_group[k]) {
    if (position < 0 || static_cast<std::size_t>(position) >= fire.group.size()) return false;
    append_group_value(key, fire.group[static_cast<std::size_t>(position)]);
  }
  return true;
}

// A fire of a referenced correlation, as one parent counts it.
struct ChildFire {
  std::uint32_t fire = 0;      // index into the fires
  std::uint32_t position = 0;  // position in the parent's `rules`
};

// Evaluates one correlation over its items.
class Evaluation {
 public:
  // `hit_order`: the position among all hits of each hit in `hits`, when
  // `hits` is one partition of them; nullptr when it is all of them.
  Evaluation(const CorrelationPlan& plan, std::uint32_t plan_index, const CorrelationHits& hits,
             const std::vector<CorrelationFire>& fires, const std::vector<std::uint64_t>* hit_order = nullptr)
      : plan_(plan), spec_(plan.rule->rule.correlation), plan_index_(plan_index), hits_(hits), fires_(fires),
        hit_order_(hit_order) {
    // Each position of `rules` by what it names: a rule or correlation
    // listed twice has two, and one event can fill either.
    positions_.resize(plan.refs.size());
    for (std::uint32_t k = 0; k < plan.refs.size(); ++k)
      for (std::uint32_t j = 0; j < plan.refs.size(); ++j)
        if (plan.refs[j].correlation == plan.refs[k].correlation && plan.refs[j].index == plan.refs[k].index)
          positions_[k].push_back(static_cast<std::uint16_t>(j));
  }

  // Adds the plan's hits and every fire of the correlations it references.
  void collect(const std::vector<std::uint32_t>& hit_indices, const std::vector<std::vector<std::uint32_t>>& fires_of,
               CorrelationStats& stats) {
    add_hits(hit_indices, stats);
    std::string key;
    for (std::uint32_t k = 0; k < plan_.refs.size(); ++k) {
      if (!plan_.refs[k].correlation || !first_position(plan_, k)) continue;
      for (std::uint32_t f : fires_of[plan_.refs[k].index]) {
        if (!child_group_key(plan_, k, fires_[f], key)) {
          ++stats.without_group;
          continue;
        }
        add_child(k, f, key, stats);
      }
    }
    sort_items();
  }

  // Adds the plan's hits and `child_fires`, whose group keys are complete:
  // with spilled hits, one partition's share of each (see
  // partition_child_fires).
  void collect(const std::vector<std::uint32_t>& hit_indices, std::span<const ChildFire> child_fires,
               CorrelationStats& stats) {
    add_hits(hit_indices, stats);
    std::string key;
    for (const ChildFire& child : child_fires) {
      child_group_key(plan_, child.position, fires_[child.fire], key);
      add_child(child.position, child.fire, key, stats);
    }
    sort_items();
  }

  // Runs the windows and returns the fires, in no set order.
  std::vector<CorrelationFire> run() {
    const std::int64_t span = static_cast<std::int64_t>(spec_.timespan_seconds) * 1000000;
    // A condition that only grows with more events (at least N events,
    // values or rules) is checked as each event arrives, on the group's
    // events of the last timespan. Once it holds, the window stops sliding
    // and takes every event up to one timespan after its first, and then
    // fires once with the final count. Other conditions (fewer than N, sums,
    // averages) are judged on whole windows, each starting at the first
    // event after the previous window ended.
    const bool growing = !is_numeric_type(spec_.type) && !spec_.condition.lt && !spec_.condition.lte &&
                         !spec_.condition.eq && !spec_.condition.neq;
    // Groups by the id of their key: hits' keys and those of child fires
    // share one id space (see unify()).
    std::vector<std::uint32_t> group_of(hits_.strings().size() + local_.size(), UINT32_MAX);
    std::vector<Group> groups;
    auto judge = [&](Group& g) {
      if (g.window.empty()) return;
      if (auto value = aggregate(g.window.view()); value && holds(plan_, *value)) fire(g.window.view(), *value);
      g.window.clear();
    };
    auto close = [&](Group& g) {
      fire(g.window.view(), current(g));
      if (spec_.type == CorrelationType::ValueCount)
        for (std::uint32_t i : g.window.view())
          if (const std::uint32_t v = value_id(items_[i]); v != CorrelationHits::kNoValue)
            value_counts_.erase(std::uint64_t{current_group_} << 32 | v);
      g.reset(spec_.type, plan_.refs.size());
    };
    for (std::uint32_t i = 0; i < items_.size(); ++i) {
      const Item& item = items_[i];
      std::uint32_t& slot = group_of[key(item)];
      if (slot == UINT32_MAX) {
        slot = static_cast<std::uint32_t>(groups.size());
        groups.emplace_back();
      }
      Group& g = groups[slot];
      current_group_ = slot;
      if (!growing) {
        if (!g.window.empty() && item.time - items_[g.window.front()].time > span) judge(g);
        g.window.items.push_back(i);
        continue;
      }
      if (!g.started) g.reset(spec_.type, plan_.refs.size());
      if (g.armed && item.time - items_[g.window.front()].time > span) close(g);
      if (!g.armed)
        while (!g.window.empty() && item.time - items_[g.window.front()].time > span) {
          remove(g, items_[g.window.front()]);
          g.window.pop_front();
        }
      g.window.items.push_back(i);
      add(g, item);
      if (!g.armed && holds(plan_, current(g))) g.armed = true;
    }
    for (std::uint32_t k = 0; k < groups.size(); ++k) {
      current_group_ = k;
      if (!growing) judge(groups[k]);
      else if (groups[k].armed) close(groups[k]);
    }

    return std::move(fires_out_);
  }

 private:
  void add_hits(const std::vector<std::uint32_t>& hit_indices, CorrelationStats& stats) {
    const bool numeric = is_numeric_type(spec_.type);
    items_.reserve(hit_indices.size());
    for (std::uint32_t h : hit_indices) {
      const CorrelationHits::View hit = hits_[h];
      if (numeric && (!hit.has_value() || !number(text(hit.value)))) ++stats.without_value;
      items_.push_back({hit.time_us, h, static_cast<std::uint16_t>(hit.ref), false});
    }
  }

  // Adds fire `f` of the correlation at position `k`, in the group `key`.
  void add_child(std::uint32_t k, std::uint32_t f, std::string_view key, CorrelationStats& stats) {
    const CorrelationFire& fire = fires_[f];
    std::uint32_t value = CorrelationHits::kNoValue;
    if (int position = plan_.child_value[k]; position >= 0 && static_cast<std::size_t>(position) < fire.group.size())
      value = unify(fire.group[static_cast<std::size_t>(position)]);
    if (is_numeric_type(spec_.type) && (value == CorrelationHits::kNoValue || !number(text(value)))) ++stats.without_value;
    items_.push_back({fire.last_us, static_cast<std::uint32_t>(children_.size()), static_cast<std::uint16_t>(k), true});
    children_.push_back({f, unify(key), value});
  }

  // Orders the items by time. Items of one time keep the order they were
  // added in: hits, then the fires of each position of `rules` in turn.
  void sort_items() {
    std::stable_sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.time < b.time; });
  }

  // The id of a text that a child's fire gives: the hits' id when a hit has
  // the same text, so both land in one group, else a new id past theirs.
  std::uint32_t unify(std::string_view text) {
    if (auto id = hits_.strings().find(text)) return *id;
    return hits_.strings().size() + local_.intern(text);
  }
  std::string_view text(std::uint32_t id) const {
    const std::uint32_t base = hits_.strings().size();
    return id < base ? hits_.strings()[id] : local_[id - base];
  }
  std::uint32_t key(const Item& item) const {
    return item.fire ? children_[item.index].key : hits_[item.index].key;
  }
  // The id of the condition field's value, or kNoValue when the event has
  // none or the child correlation behind a fire does not group by that field.
  std::uint32_t value_id(const Item& item) const {
    return item.fire ? children_[item.index].value : hits_[item.index].value;
  }
  std::optional<std::string_view> value(const Item& item) const {
    const std::uint32_t id = value_id(item);
    if (id == CorrelationHits::kNoValue) return std::nullopt;
    return text(id);
  }

  // Updates the running aggregates of a growing condition for an event
  // entering or leaving the window.
  void add(Group& g, const Item& item) {
    if (spec_.type == CorrelationType::ValueCount) {
      if (const std::uint32_t v = value_id(item); v != CorrelationHits::kNoValue)
        if (value_counts_[std::uint64_t{current_group_} << 32 | v]++ == 0) ++g.distinct;
      return;
    }
    if (!g.counts) return;
    Counts& c = *g.counts;
    switch (spec_.type) {
      case CorrelationType::Temporal:
        for (std::uint16_t k : positions_[item.ref])
          if (c.ref_counts[k]++ == 0) ++c.refs_seen;
        break;
      case CorrelationType::TemporalOrdered:
        // An event at position k extends the chains of the first k rules,
        // and the latest start keeps a chain valid longest. Later positions
        // come first, so one event fills one position of a chain.
        for (auto it = positions_[item.ref].rbegin(); it != positions_[item.ref].rend(); ++it) {
          const std::uint16_t k = *it;
          if (k == 0) c.best[1] = std::max(c.best[1], item.time);
          else if (c.best[k] != INT64_MIN) c.best[k + 1] = std::max(c.best[k + 1], c.best[k]);
        }
        break;
      default: break;
    }
  }
  void remove(Group& g, const Item& item) {
    if (spec_.type == CorrelationType::ValueCount) {
      if (const std::uint32_t v = value_id(item); v != CorrelationHits::kNoValue) {
        auto it = value_counts_.find(std::uint64_t{current_group_} << 32 | v);
        if (it != value_counts_.end() && --it->second == 0) {
          value_counts_.erase(it);
          --g.distinct;
        }
      }
    } else if (spec_.type == CorrelationType::Temporal) {
      Counts& c = *g.counts;
      for (std::uint16_t k : positions_[item.ref])
        if (--c.ref_counts[k] == 0) --c.refs_seen;
    }
  }
  // The value a growing condition compares, from the running aggregates.
  double current(const Group& g) const {
    switch (spec_.type) {
      case CorrelationType::ValueCount: return static_cast<double>(g.distinct);
      case CorrelationType::Temporal: return static_cast<double>(g.counts->refs_seen);
      case CorrelationType::TemporalOrdered: {
        // Chains that start before the window's first event have left it.
        const std::int64_t first = items_[g.window.front()].time;
        std::size_t k = plan_.refs.size();
        while (k > 0 && (g.counts->best[k] == INT64_MIN || g.counts->best[k] < first)) --k;
        return static_cast<double>(k);
      }
      default: return static_cast<double>(g.window.view().size());
    }
  }

  // The value the condition compares for the items of one window, or nullopt
  // when there is none (no numeric value for value_sum and the like).
  std::optional<double> aggregate(std::span<const std::uint32_t> window) {
    switch (spec_.type) {
      case CorrelationType::EventCount: return static_cast<double>(window.size());
      case CorrelationType::ValueCount: {
        std::unordered_set<std::uint32_t> distinct;
        for (std::uint32_t i : window)
          if (const std::uint32_t v = value_id(items_[i]); v != CorrelationHits::kNoValue) distinct.insert(v);
        return static_cast<double>(distinct.size());
      }
      case CorrelationType::Temporal: {
        std::vector<bool> seen(plan_.refs.size(), false);
        for (std::uint32_t i : window)
          for (std::uint16_t k : positions_[items_[i].ref]) seen[k] = true;
        return static_cast<double>(std::count(seen.begin(), seen.end(), true));
      }
      case CorrelationType::TemporalOrdered: {
        // The longest prefix of `rules` found in order. Taking each rule's
        // earliest event after the previous one finds it.
        std::uint32_t next = 0;
        for (std::uint32_t i : window) {
          const auto& at = positions_[items_[i].ref];
          if (next < plan_.refs.size() && std::find(at.begin(), at.end(), next) != at.end()) ++next;
        }
        return static_cast<double>(next);
      }
      default: break;
    }
    scratch_.clear();
    for (std::uint32_t i : window)
      if (auto text = value(items_[i]))
        if (auto v = number(*text)) scratch_.push_back(*v);
    if (scratch_.empty()) return std::nullopt;
    switch (spec_.type) {
      case CorrelationType::ValueSum:
      case CorrelationType::ValueAvg: {
        double sum = 0;
        for (double v : scratch_) sum += v;
        return spec_.type == CorrelationType::ValueSum ? sum : sum / static_cast<double>(scratch_.size());
      }
      case CorrelationType::ValueMin: return *std::min_element(scratch_.begin(), scratch_.end());
      case CorrelationType::ValueMax: return *std::max_element(scratch_.begin(), scratch_.end());
      case CorrelationType::ValueMedian: return percentile(scratch_, 50);
      case CorrelationType::ValuePercentile: return percentile(scratch_, *spec_.condition.percentile);
      default: return std::nullopt;
    }
  }

  void fire(std::span<const std::uint32_t> window, double value) {
    CorrelationFire out;
    out.correlation = plan_index_;
    out.group = split_key(text(key(items_[window.front()])));
    out.first_us = out.last_us = items_[window.front()].time;
    out.value = value;
    for (std::uint32_t i : window) {
      const Item& item = items_[i];
      out.last_us = std::max(out.last_us, item.time);
      if (!item.fire) {
        out.first_us = std::min(out.first_us, item.time);
        ++out.event_count;
        if (out.events.size() < kMaxFireEvents) {
          const CorrelationHits::View hit = hits_[item.index];
          out.events.push_back({hit.time_us, hit.record, hit.input, hit.rule});
        }
        continue;
      }
      const CorrelationFire& child = fires_[children_[item.index].fire];
      out.first_us = std::min(out.first_us, child.first_us);
      out.event_count += child.event_count;
      for (const FireEvent& e : child.events)
        if (out.events.size() < kMaxFireEvents) out.events.push_back(e);
    }
    const Item& first = items_[window.front()];
    out.order.time = first.time;
    out.order.fire = first.fire;
    if (first.fire) {
      out.order.ref = first.ref;
      out.order.index = children_[first.index].fire;
    } else {
      out.order.index = hit_order_ ? (*hit_order_)[first.index] : first.index;
    }
    fires_out_.push_back(std::move(out));
  }

  const CorrelationPlan& plan_;
  const Correlation& spec_;
  std::uint32_t plan_index_;
  const CorrelationHits& hits_;
  const std::vector<CorrelationFire>& fires_;
  std::vector<Item> items_;
  std::vector<ChildItem> children_;
  StringPool local_;  // keys and values of child fires that no hit has
  // value_count: the count of each value in a group's window, by group index
  // and value id.
  std::unordered_map<std::uint64_t, std::uint32_t> value_counts_;
  std::uint32_t current_group_ = 0;  // index of the group being updated
  std::vector<std::vector<std::uint16_t>> positions_;  // per position of `rules`: every position naming the same rule
  std::vector<double> scratch_;
  const std::vector<std::uint64_t>* hit_order_;
  std::vector<CorrelationFire> fires_out_;
};

// Distributes the fires of the correlations that `plan` references over the
// partitions of `plan`'s spilled hits, by the group key under which `plan`
// counts each. Doing it once per level builds each key twice in all (here
// and in collect()), where finding each partition's fires in collect() built
// it once per partition. Returns no partitions
// when `plan` references no correlation. Fires that lack a group-by value
// are counted in `stats` and left out.
std::vector<std::vector<ChildFire>> partition_child_fires(const CorrelationPlan& plan, std::uint32_t plan_index,
                                                          const std::vector<CorrelationFire>& fires,
                                                          const std::vector<std::vector<std::uint32_t>>& fires_of,
                                                          CorrelationStats& stats) {
  std::vector<std::vector<ChildFire>> parts;
  std::string key;
  for (std::uint32_t k = 0; k < plan.refs.size(); ++k) {
    if (!plan.refs[k].correlation || !first_position(plan, k)) continue;
    if (parts.empty()) parts.resize(CorrelationHits::kPartitions);
    for (std::uint32_t f : fires_of[plan.refs[k].index]) {
      if (!child_group_key(plan, k, fires[f], key)) {
        ++stats.without_group;
        continue;
      }
      parts[CorrelationHits::partition_of(plan_index, key)].push_back({f, k});
    }
  }
  return parts;
}

}  // namespace

bool fire_before(const CorrelationFire& a, const CorrelationFire& b) {
  if (a.correlation != b.correlation) return a.correlation < b.correlation;
  if (a.last_us != b.last_us) return a.last_us < b.last_us;
  return a.order < b.order;
}

void evaluate_correlations(const CorrelationSet& set, const CorrelationHits& hits, CorrelationStats& stats,
                           const std::function<void(CorrelationFire&&)>& sink) {
  // Only the fires of correlations that others reference are kept, in
  // `fires`, and each such plan's indices in fires_of.
  std::vector<bool> referenced(set.plans.size(), false);
  for (const CorrelationPlan& plan : set.plans)
    for (const CorrelationPlan::Ref& ref : plan.refs)
      if (ref.correlation) referenced[ref.index] = true;
  std::vector<CorrelationFire> fires;
  std::vector<std::vector<std::uint32_t>> fires_of(set.plans.size());
  std::vector<std::vector<CorrelationFire>> kept(set.plans.size());
  auto emit = [&](std::uint32_t p, std::vector<CorrelationFire>&& plan_fires) {
    for (CorrelationFire& fire : plan_fires) {
      if (referenced[p]) kept[p].push_back(fire);
      sink(std::move(fire));
    }
  };
  // Parents see a child's fires in the order they are listed.
  auto keep = [&](std::uint32_t p) {
    std::sort(kept[p].begin(), kept[p].end(), fire_before);
    for (CorrelationFire& fire : kept[p]) {
      fires_of[p].push_back(static_cast<std::uint32_t>(fires.size()));
      fires.push_back(std::move(fire));
    }
    std::vector<CorrelationFire>().swap(kept[p]);
  };

  if (!hits.spilled()) {
    std::vector<std::vector<std::uint32_t>> hits_of(set.plans.size());
    for (std::uint32_t h = 0; h < hits.memory_size(); ++h) hits_of[hits[h].correlation].push_back(h);
    for (std::uint32_t p = 0; p < set.plans.size(); ++p) {  // children come first
      Evaluation evaluation(set.plans[p], p, hits, fires);
      evaluation.collect(hits_of[p], fires_of, stats);
      std::vector<std::uint32_t>().swap(hits_of[p]);
      emit(p, evaluation.run());
      keep(p);
    }
    return;
  }

  // Spilled hits are read one partition at a time. Groups never span
  // partitions, so each partition is evaluated on its own. A pass over the
  // partitions runs every plan of one depth: first those that reference no
  // correlation, then those that reference only plans of the earlier passes.
  std::vector<std::uint32_t> depth(set.plans.size(), 0);
  std::uint32_t max_depth = 0;
  for (std::uint32_t p = 0; p < set.plans.size(); ++p) {  // children come first
    for (const CorrelationPlan::Ref& ref : set.plans[p].refs)
      if (ref.correlation) depth[p] = std::max(depth[p], depth[ref.index] + 1);
    max_depth = std::max(max_depth, depth[p]);
  }
  std::uint64_t unread = 0;
  for (std::uint32_t level = 0; level <= max_depth; ++level) {
    std::vector<std::int32_t> slot(set.plans.size(), -1);  // index in `locals` of the plans of this level
    std::vector<std::uint32_t> plans;
    for (std::uint32_t p = 0; p < set.plans.size(); ++p)
      if (depth[p] == level) {
        slot[p] = static_cast<std::int32_t>(plans.size());
        plans.push_back(p);
      }
    std::vector<std::vector<std::vector<ChildFire>>> child_fires(plans.size());
    for (std::size_t k = 0; k < plans.size(); ++k)
      child_fires[k] = partition_child_fires(set.plans[plans[k]], plans[k], fires, fires_of, stats);
    for (std::size_t part = 0; part < CorrelationHits::kPartitions; ++part) {
      struct Local {
        CorrelationHits hits{SIZE_MAX};
        std::vector<std::uint64_t> order;
      };
      std::vector<Local> locals(plans.size());
      hits.read_partition(
          part,
          [&](const CorrelationHit& hit, std::uint64_t order) {
            if (hit.correlation >= slot.size() || slot[hit.correlation] < 0) return;
            Local& local = locals[static_cast<std::size_t>(slot[hit.correlation])];
            local.hits.add(hit);
            local.order.push_back(order);
          },
          unread);
      for (std::size_t k = 0; k < plans.size(); ++k) {
        const std::uint32_t p = plans[k];
        std::vector<std::uint32_t> indices(locals[k].hits.memory_size());
        for (std::uint32_t h = 0; h < indices.size(); ++h) indices[h] = h;
        Evaluation evaluation(set.plans[p], p, locals[k].hits, fires, &locals[k].order);
        std::vector<ChildFire> own_fires;
        if (!child_fires[k].empty()) own_fires.swap(child_fires[k][part]);
        evaluation.collect(indices, own_fires, stats);
        emit(p, evaluation.run());
      }
    }
    for (std::uint32_t p : plans) keep(p);
  }
  stats.unread += unread;
}

std::vector<CorrelationFire> evaluate_correlations(const CorrelationSet& set, const CorrelationHits& hits,
                                                   CorrelationStats& stats) {
  std::vector<CorrelationFire> fires;
  evaluate_correlations(set, hits, stats, [&](CorrelationFire&& fire) { fires.push_back(std::move(fire)); });
  std::sort(fires.begin(), fires.end(), fire_before);
  return fires;
}

}  // namespace sigscope
