#include "sigscope/common/parallel.h"
#include "sigscope/match/prefilter.h"

#include <map>
#include <tuple>

#include <hs/hs.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

namespace {

// `?` consumes one UTF-8 code point, or one byte of invalid UTF-8, as in GlobProgram.
constexpr std::string_view kAnyCodePoint =
    "(?:[\\x00-\\x7f]|[\\xc0-\\xdf][\\x80-\\xbf]|[\\xe0-\\xef][\\x80-\\xbf]{2}|[\\xf0-\\xf7][\\x80-\\xbf]{3}|[\\x80-\\xff])";

// The same for keyword search, which scans all values of an event at once,
// joined by NUL bytes: wildcards must not match across a NUL.
constexpr std::string_view kAnyCodePointButNul =
    "(?:[\\x01-\\x7f]|[\\xc0-\\xdf][\\x80-\\xbf]|[\\xe0-\\xef][\\x80-\\xbf]{2}|[\\xf0-\\xf7][\\x80-\\xbf]{3}|[\\x80-\\xff])";

// Hyperscan regex for `pattern` under `op`, or empty when the pattern can
// match the empty string (left to the direct path). `joined` keeps wildcards
// from matching the NUL bytes that separate the values of a keyword scan.
std::string regex_expression(const Pattern& pattern, MatchOp op, bool fold, bool joined) {
  std::string body;
  bool has_content = false;
  for (const auto& piece : pattern.pieces()) {
    switch (piece.kind) {
      case PatternPiece::Kind::Literal: {
        std::string text = fold ? fold_case(piece.text) : piece.text;
        for (unsigned char c : text) {
          if (std::isalnum(c)) body.push_back(static_cast<char>(c));
          else body += fmt::format("\\x{:02x}", c);
        }
        has_content |= !text.empty();
        break;
      }
      case PatternPiece::Kind::AnyRun: body += joined ? "[^\\x00]*" : ".*"; break;
      case PatternPiece::Kind::AnyChar:
        body += joined ? kAnyCodePointButNul : kAnyCodePoint;
        has_content = true;
        break;
      case PatternPiece::Kind::Placeholder: return {};
    }
  }
  if (!has_content) return {};
  switch (op) {
    case MatchOp::Equals: return "^" + body + "\\z";
    case MatchOp::StartsWith: return "^" + body;
    case MatchOp::EndsWith: return body + "\\z";
    default: return body;
  }
}

bool prefilterable(const Predicate& p) {
  if (p.negated || p.time_part != TimePart::None || p.values.empty()) return false;
  if (!p.is_keyword() && p.op == MatchOp::Regex) {
    for (const auto& v : p.values)
      if (v.kind != CompiledValue::Kind::Regex) return false;
    return true;
  }
  if (!p.is_keyword() && p.op != MatchOp::Equals && p.op != MatchOp::Contains && p.op != MatchOp::StartsWith &&
      p.op != MatchOp::EndsWith)
    return false;
  for (const auto& v : p.values)
    if (v.kind != CompiledValue::Kind::Pattern || v.alternatives.empty()) return false;
  return true;
}

struct PendingPattern {
  std::string text;  // literal bytes, or a regex expression
  std::uint32_t predicate;
  std::uint32_t slot;
  MatchOp op;
  bool literal;
  unsigned int flags = 0;  // extra Hyperscan flags of a Sigma regex (i, m, s)
  // Slots and predicates of the same pattern in other predicates of the
  // database, merged into this one (see the deduplication in Prefilter).
  std::vector<std::uint32_t> more_slots{};
  std::vector<std::uint32_t> more_predicates{};
};

struct CallbackContext {
  const std::vector<std::uint32_t>* predicate_of_slot;
  const std::vector<std::uint32_t>* pattern_slots;
  const void* patterns;  // const std::vector<Prefilter::PatternInfo>*
  std::vector<std::uint32_t>* slot_hit;
  std::vector<std::uint32_t>* predicate_hit;
  std::vector<std::uint32_t>* hit_predicates;
  std::uint32_t event;
  unsigned long long length;  // of the scanned value
  std::vector<std::uint32_t>* record;  // accepted slots are appended here when set
};

// Scan memo limits. Values up to 4 KiB are kept because Sysmon's CallTrace
// (about 700 bytes, three database scans) repeats from event to event. The
// entries are sized from the memo's byte budget (see Prefilter::Scratch):
// one entry per 128 bytes, so 16,384 for the default 2 MiB. Over the 200 MB
// Sysmon benchmark input, that made one thread 7 % faster than 4,096 entries
// of values up to 512 bytes.
constexpr std::size_t kMemoMaxValue = 4096;
constexpr std::size_t kMemoBytesPerEntry = 128;
constexpr std::size_t kMemoMinEntries = 1024, kMemoMaxEntries = 16384;
constexpr std::size_t kMemoMaxSlots = 128;

// Two FNV-1a hashes with different offsets, as 32 hex digits.
std::string cache_key(const std::string& material) {
  auto fnv = [&](std::uint64_t h) {
    for (unsigned char c : material) {
      h ^= c;
      h *= 1099511628211ull;
    }
    return h;
  };
  return fmt::format("{:016x}{:016x}", fnv(14695981039346656037ull), fnv(0x9e3779b97f4a7c15ull));
}

// Cache file layout: "SSHS1", the number of rejected predicates and their
// ids, then per group the size of its serialized database (0 for none) and
// the bytes. All integers are 64-bit little-endian.
template <typename Group>
bool load_cache(const std::string& path, std::vector<Group>& groups, std::vector<std::uint32_t>& rejected) {
  // Read database by database into one buffer, so the peak memory is the
  // databases plus the largest one serialized, not plus the whole file.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!in) return false;
  auto read_bytes = [&](void* to, std::size_t n) { return std::fread(to, 1, n, in.get()) == n; };
  auto read_u64 = [&](std::uint64_t& v) { return read_bytes(&v, 8); };
  char magic[5];
  if (!read_bytes(magic, 5) || std::memcmp(magic, "SSHS1", 5) != 0) return false;
  std::uint64_t count = 0;
  if (!read_u64(count) || count > (1u << 24)) return false;
  std::vector<std::uint32_t> ids;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t id;
    if (!read_u64(id)) return false;
    ids.push_back(static_cast<std::uint32_t>(id));
  }
  std::vector<hs_database*> databases;
  std::string buffer;
  bool ok = true;
  for (std::size_t g = 0; g < groups.size() && ok; ++g) {
    std::uint64_t size = 0;
    ok = read_u64(size) && size <= (1ull << 32);
    hs_database* db = nullptr;
    if (ok && size > 0) {
      buffer.resize(static_cast<std::size_t>(size));
      ok = read_bytes(buffer.data(), buffer.size()) &&
           hs_deserialize_database(buffer.data(), buffer.size(), &db) == HS_SUCCESS;
    }
    databases.push_back(db);
  }
  char extra;
  if (!ok || std::fread(&extra, 1, 1, in.get()) != 0) {  // damaged, or not the end of the file
    for (auto* db : databases) hs_free_database(db);
    return false;
  }
  for (std::size_t g = 0; g < groups.size(); ++g) *groups[g].target = databases[g];
  rejected = std::move(ids);
  // Mark the file as recently used, so pruning keeps the rule sets in use.
  std::error_code ec;
  std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::now(), ec);
  return true;
}

template <typename Group>
void save_cache(const std::string& path, const std::vector<Group>& groups, const std::vector<std::uint32_t>& rejected) {
  // Write to a temporary name and rename, so readers never see half a file.
  // Each database is written as it is serialized, not gathered in one
  // string first: the databases take about 11 MB, and a copy of them all
  // raised the peak memory of a cold start by as much again.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string temp = path + ".tmp" + std::to_string(::getpid());
  std::ofstream file(temp, std::ios::binary | std::ios::trunc);
  if (!file) return;  // an unwritable cache only costs the next run a compile
  auto put_u64 = [&](std::uint64_t v) { file.write(reinterpret_cast<const char*>(&v), 8); };
  file.write("SSHS1", 5);
  put_u64(rejected.size());
  for (std::uint32_t id : rejected) put_u64(id);
  for (const auto& g : groups) {
    char* bytes = nullptr;
    std::size_t size = 0;
    if (*g.target && hs_serialize_database(*g.target, &bytes, &size) == HS_SUCCESS) {
      put_u64(size);
      file.write(bytes, static_cast<std::streamsize>(size));
      std::free(bytes);
    } else {
      put_u64(0);
    }
  }
  file.close();
  if (!file || std::rename(temp.c_str(), path.c_str()) != 0) std::remove(temp.c_str());

  // Keep the 16 most recently used databases; older rule sets are dropped.
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> cached;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("hs-", 0) == 0 && entry.path().extension() == ".db")
      cached.emplace_back(entry.last_write_time(ec), entry.path());
  }
  if (cached.size() > 16) {
    std::sort(cached.begin(), cached.end());
    for (std::size_t i = 0; i + 16 < cached.size(); ++i) std::filesystem::remove(cached[i].second, ec);
  }
}

}  // namespace

std::string default_prefilter_cache_dir() {
  if (const char* off = std::getenv("SIGSCOPE_NO_CACHE"); off && *off) return {};
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/sigscope";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/sigscope";
  return {};
}

Prefilter::Prefilter(const std::vector<PredicateMatcher>& predicates, const FieldTable& fields,
                     const std::vector<std::vector<std::uint32_t>>& field_sets,
                     const std::vector<std::vector<std::uint32_t>>& keyword_sets, const std::string& cache_dir,
                     DiagnosticList& diagnostics)
    : field_count_(fields.size()) {
  handled_.assign(predicates.size(), false);
  predicate_slots_.resize(predicates.size());
  // One more field set after the routes' own: every field predicate, for
  // the routes that would need most of a field's patterns anyway.
  const std::size_t all_set = field_sets.size();
  // Allocated before any database pointer is taken, and never resized.
  route_fields_.resize((all_set + 1) * field_count_);
  aliased_.assign(route_fields_.size(), 0);
  keyword_sets_.resize(keyword_sets.size());
  // Keyword predicates are compiled into every keyword set that lists them.
  std::vector<std::vector<std::uint32_t>> field_sets_of(predicates.size()), keyword_sets_of(predicates.size());
  for (std::uint32_t k = 0; k < field_sets.size(); ++k)
    for (std::uint32_t p : field_sets[k]) field_sets_of.at(p).push_back(k);
  for (std::uint32_t k = 0; k < keyword_sets.size(); ++k)
    for (std::uint32_t p : keyword_sets[k]) keyword_sets_of.at(p).push_back(k);
  // A route gets its own databases for a field only when it needs at most
  // half of the field's values. Otherwise it shares the databases of all
  // rules, which keeps memory near one copy of every pattern.
  std::vector<std::uint32_t> field_values(field_count_, 0);
  std::vector<std::map<FieldId, std::uint32_t>> set_values(field_sets.size());
  for (std::uint32_t id = 0; id < predicates.size(); ++id) {
    const Predicate& p = predicates[id].predicate();
    if (p.is_keyword() || !prefilterable(p)) continue;
    const FieldId f = predicates[id].field();
    field_values[f] += static_cast<std::uint32_t>(p.values.size());
    for (std::uint32_t k : field_sets_of[id]) set_values[k][f] += static_cast<std::uint32_t>(p.values.size());
  }
  auto own_databases = [&](std::size_t k, FieldId f) {
    auto it = set_values[k].find(f);
    return it != set_values[k].end() && 2 * it->second <= field_values[f];
  };

  // Group the patterns by database: (field set and field, or keyword set) x
  // (case) x (literal or regex). Groups are made on first use, in a fixed
  // order, so the cache key and file layout are reproducible.
  struct Group {
    std::vector<PendingPattern> patterns;
    hs_database** target = nullptr;
    bool caseless = false;
    bool literal = false;
    std::string label;
  };
  std::vector<Group> groups;
  std::map<std::tuple<std::size_t, bool, bool>, std::size_t> group_of;
  // `set`: field_set * field_count + field for fields, or route_fields_.size() + k for keyword set k.
  auto group = [&](std::size_t set, bool caseless, bool literal) -> Group& {
    auto [it, added] = group_of.emplace(std::make_tuple(set, caseless, literal), groups.size());
    if (added) {
      const bool keyword = set >= route_fields_.size();
      DatabaseSet& db = keyword ? keyword_sets_[set - route_fields_.size()] : route_fields_[set];
      std::string label = keyword ? std::string("keyword search")
                                  : "field " + fields.name(static_cast<FieldId>(set % field_count_));
      hs_database** target = caseless ? (literal ? &db.caseless_literal : &db.caseless_regex)
                                       : (literal ? &db.cased_literal : &db.cased_regex);
      groups.push_back({{}, target, caseless, literal, std::move(label)});
    }
    return groups[it->second];
  };

  for (std::uint32_t id = 0; id < predicates.size(); ++id) {
    const Predicate& p = predicates[id].predicate();
    if (!prefilterable(p)) continue;
    // Skip predicates that no route scans (keywords of no keyword set...).
    if (p.is_keyword() && keyword_sets_of[id].empty()) continue;
    const MatchOp op = p.is_keyword() ? MatchOp::Contains : p.op;
    std::vector<PendingPattern> mine;
    bool ok = true;
    std::uint32_t first_slot = static_cast<std::uint32_t>(predicate_of_slot_.size());
    for (std::size_t v = 0; v < p.values.size() && ok; ++v) {
      std::uint32_t slot = first_slot + static_cast<std::uint32_t>(v);
      if (p.values[v].kind == CompiledValue::Kind::Regex) {
        // Sigma regexes keep PCRE semantics in Hyperscan; they see the raw
        // value, so they live in the case-sensitive group with their own flags.
        const RegexSpec& re = p.values[v].regex;
        unsigned int flags = 0;
        if (re.case_insensitive) flags |= HS_FLAG_CASELESS;
        if (re.multi_line) flags |= HS_FLAG_MULTILINE;
        if (re.dot_all) flags |= HS_FLAG_DOTALL;
        if (re.source.empty()) {
          ok = false;
          break;
        }
        mine.push_back({re.source, id, slot, MatchOp::Regex, false, flags});
        continue;
      }
      for (const auto& alt : p.values[v].alternatives) {
        if (alt.is_literal()) {
          std::string text = alt.literal_text();
          // A keyword with a NUL byte could match across the NUL that
          // separates two values in a keyword scan.
          if (text.empty() || (p.is_keyword() && text.find('\0') != std::string::npos)) {
            ok = false;
            break;
          }
          mine.push_back({p.cased ? text : fold_case(text), id, slot, op, true});
          continue;
        }
        std::string expr = regex_expression(alt, op, !p.cased, p.is_keyword());
        if (expr.empty()) {
          ok = false;
          break;
        }
        mine.push_back({std::move(expr), id, slot, op, false});
      }
    }
    if (!ok) continue;
    handled_[id] = true;
    predicate_slots_[id] = {first_slot, static_cast<std::uint32_t>(p.values.size()), p.match_all};
    for (std::size_t v = 0; v < p.values.size(); ++v) predicate_of_slot_.push_back(id);
    const bool caseless = !p.cased && p.op != MatchOp::Regex;
    if (p.is_keyword()) {
      for (std::uint32_t k : keyword_sets_of[id])
        for (const auto& m : mine) group(route_fields_.size() + k, caseless, m.literal).patterns.push_back(m);
    } else {
      const FieldId f = predicates[id].field();
      for (const auto& m : mine) group(all_set * field_count_ + f, caseless, m.literal).patterns.push_back(m);
      for (std::uint32_t k : field_sets_of[id])
        if (own_databases(k, f))
          for (const auto& m : mine) group(k * field_count_ + f, caseless, m.literal).patterns.push_back(m);
    }
  }

  // Predicates of different rules often test the same value ("contains
  // .exe" on Image). Within a database, each distinct pattern is compiled
  // once and its match marks the slots of all of them, so Hyperscan reports
  // it once instead of once per predicate.
  for (auto& g : groups) {
    // First the index of each pattern's first copy, while the texts stay put.
    std::map<std::tuple<std::string_view, MatchOp, unsigned int>, std::size_t> first_of;
    std::vector<std::size_t> first(g.patterns.size());
    for (std::size_t k = 0; k < g.patterns.size(); ++k) {
      const PendingPattern& p = g.patterns[k];
      first[k] = first_of.emplace(std::make_tuple(std::string_view(p.text), p.op, p.flags), k).first->second;
    }
    std::vector<PendingPattern> unique;
    std::vector<std::size_t> position(g.patterns.size());
    for (std::size_t k = 0; k < g.patterns.size(); ++k) {
      if (first[k] == k) {
        position[k] = unique.size();
        unique.push_back(std::move(g.patterns[k]));
      } else {
        PendingPattern& merged = unique[position[first[k]]];
        merged.more_slots.push_back(g.patterns[k].slot);
        merged.more_predicates.push_back(g.patterns[k].predicate);
      }
    }
    g.patterns = std::move(unique);
  }

  // A keyword set whose case-insensitive patterns are all ASCII literals can
  // skip folding non-ASCII text, which matters for the join of every value
  // of an event: see scan().
  keyword_ascii_only_.assign(keyword_sets_.size(), 0);
  for (std::size_t k = 0; k < keyword_sets_.size(); ++k) {
    const std::size_t set = route_fields_.size() + k;
    if (group_of.count(std::make_tuple(set, true, false))) continue;  // a case-insensitive regex
    auto literal = group_of.find(std::make_tuple(set, true, true));
    bool ascii = true;
    if (literal != group_of.end())
      for (const auto& p : groups[literal->second].patterns) ascii = ascii && is_ascii(p.text);
    keyword_ascii_only_[k] = ascii ? 1 : 0;
  }

  // Pattern ids are assigned group by group so they index patterns_ directly.
  std::vector<std::uint32_t> first_id(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    first_id[g] = static_cast<std::uint32_t>(patterns_.size());
    for (const auto& p : groups[g].patterns) {
      PatternInfo info;
      info.first_slot = static_cast<std::uint32_t>(pattern_slots_.size());
      info.slot_count = static_cast<std::uint32_t>(1 + p.more_slots.size());
      info.op = p.op;
      info.length = p.literal ? static_cast<std::uint32_t>(p.text.size()) : 0;
      pattern_slots_.push_back(p.slot);
      pattern_slots_.insert(pattern_slots_.end(), p.more_slots.begin(), p.more_slots.end());
      patterns_.push_back(info);
    }
  }

  // Compiling is the slow part of building an engine, so the databases are
  // compiled in parallel. A pattern Hyperscan rejects sends its predicate
  // back to the direct path; its group is compiled again without it.
  std::mutex mutex;
  std::vector<std::uint32_t> rejected;
  auto compile = [&](Group& group, std::uint32_t first) {
    std::vector<bool> skip(group.patterns.size(), false);
    while (true) {
      std::vector<const char*> expressions;
      std::vector<std::size_t> lengths;
      std::vector<unsigned int> flags, ids;
      for (std::size_t k = 0; k < group.patterns.size(); ++k) {
        if (skip[k]) continue;
        const auto& p = group.patterns[k];
        expressions.push_back(p.text.c_str());
        lengths.push_back(p.text.size());
        unsigned int f = 0;
        // Literal end-anchored matches must see every occurrence; the others need only the first.
        if (!p.literal || (p.op != MatchOp::EndsWith && p.op != MatchOp::Equals)) f |= HS_FLAG_SINGLEMATCH;
        if (!p.literal && p.op != MatchOp::Regex) f |= HS_FLAG_DOTALL;  // `*` spans line breaks
        if (group.caseless) f |= HS_FLAG_CASELESS;
        f |= p.flags;
        flags.push_back(f);
        ids.push_back(first + static_cast<unsigned int>(k));
      }
      if (expressions.empty()) return;
      hs_database* db = nullptr;
      hs_compile_error_t* error = nullptr;
      hs_error_t rc = group.literal
                          ? hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                                                 static_cast<unsigned int>(expressions.size()), HS_MODE_BLOCK, nullptr, &db, &error)
                          : hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                                             static_cast<unsigned int>(expressions.size()), HS_MODE_BLOCK, nullptr, &db, &error);
      if (rc == HS_SUCCESS) {
        *group.target = db;
        return;
      }
      int bad = error ? error->expression : -1;
      std::string message = error && error->message ? error->message : "unknown error";
      hs_free_compile_error(error);
      std::lock_guard lock(mutex);
      if (bad < 0) {
        diagnostics.warning("", 0, 0, "", fmt::format("Hyperscan cannot compile the patterns of {}: {}", group.label, message),
                            "these predicates are evaluated one by one, which is slower");
        for (const auto& p : group.patterns) rejected.push_back(p.predicate);
        return;
      }
      // Map the index among compiled expressions back to the group's
      // pattern. Its predicates go to the direct path; their other patterns
      // may stay, as results of unhandled predicates are not read.
      std::size_t seen = 0;
      for (std::size_t k = 0; k < group.patterns.size(); ++k) {
        if (skip[k]) continue;
        if (seen++ == static_cast<std::size_t>(bad)) {
          const PendingPattern& p = group.patterns[k];
          rejected.push_back(p.predicate);
          rejected.insert(rejected.end(), p.more_predicates.begin(), p.more_predicates.end());
          skip[k] = true;
          break;
        }
      }
    }
  };
  // Compiled databases are cached on disk, keyed by everything that went
  // into them, so running the same rules again skips the compile.
  std::string key_material = hs_version();
  // Databases are compiled for this CPU's features. A process that detects
  // other features (under valgrind, say) keeps its own cache file instead of
  // failing to load this one, recompiling and overwriting it.
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) == HS_SUCCESS)
    key_material += fmt::format("\x1c{}:{}", platform.cpu_features, platform.tune);
  for (const auto& g : groups) {
    key_material += g.caseless ? "\x01" : "\x02";
    key_material += g.literal ? "\x01" : "\x02";
    for (const auto& p : g.patterns) {
      key_material += p.text;
      key_material += fmt::format("\x1f{}\x1f{}\x1f{}", static_cast<int>(p.op), p.flags, p.predicate);
      for (std::uint32_t more : p.more_predicates) key_material += fmt::format("\x1f{}", more);
      key_material += "\x1e";
    }
    key_material += "\x1d";
  }
  const std::string cache_file = cache_dir.empty() ? std::string() : cache_dir + "/hs-" + cache_key(key_material) + ".db";
  // The routes that share the databases of all rules point at them.
  auto share = [&] {
    for (std::size_t k = 0; k < field_sets.size(); ++k)
      for (const auto& [f, values] : set_values[k])
        if (!own_databases(k, f)) {
          route_fields_[k * field_count_ + f] = route_fields_[all_set * field_count_ + f];
          aliased_[k * field_count_ + f] = 1;
        }
  };
  if (!cache_file.empty() && load_cache(cache_file, groups, rejected)) {
    for (std::uint32_t p : rejected) handled_[p] = false;
    share();
    return;
  }

  parallel_for(groups.size(), 0, [&](std::size_t g) {
    if (!groups[g].patterns.empty()) compile(groups[g], first_id[g]);
  });
  if (!cache_file.empty()) save_cache(cache_file, groups, rejected);
  share();
  // A rejected predicate may have patterns in other databases too; ignoring
  // their hits is enough, since handles() now sends it to the direct path.
  for (std::uint32_t p : rejected) handled_[p] = false;
}

Prefilter::~Prefilter() {
  auto free_set = [](DatabaseSet& s) {
    hs_free_database(s.caseless_literal);
    hs_free_database(s.caseless_regex);
    hs_free_database(s.cased_literal);
    hs_free_database(s.cased_regex);
  };
  for (std::size_t i = 0; i < route_fields_.size(); ++i)
    if (!aliased_[i]) free_set(route_fields_[i]);
  for (auto& s : keyword_sets_) free_set(s);
  hs_free_scratch(prototype_);
}

std::size_t Prefilter::handled_count() const { return static_cast<std::size_t>(std::count(handled_.begin(), handled_.end(), true)); }

Prefilter::Scratch::Scratch(const Prefilter& prefilter, std::size_t memo_budget) : owner(&prefilter) {
  memo_max_bytes = memo_budget;
  // One scratch fitting every database is sized once per prefilter, by
  // visiting each database; each thread then clones it, which is a copy.
  std::call_once(prefilter.prototype_once_, [&] {
    auto add = [&](const DatabaseSet& s) {
      for (const hs_database* db : {s.caseless_literal, s.caseless_regex, s.cased_literal, s.cased_regex})
        if (db) hs_alloc_scratch(db, &prefilter.prototype_);
    };
    for (std::size_t i = 0; i < prefilter.route_fields_.size(); ++i)
      if (!prefilter.aliased_[i]) add(prefilter.route_fields_[i]);
    for (const auto& s : prefilter.keyword_sets_) add(s);
  });
  if (prefilter.prototype_) hs_clone_scratch(prefilter.prototype_, &hs);
  slot_hit.assign(prefilter.predicate_of_slot_.size(), 0);
  predicate_hit.assign(prefilter.handled_.size(), 0);
  // A power of two, for masking the hash.
  std::size_t entries = kMemoMinEntries;
  while (entries < kMemoMaxEntries && entries * 2 * kMemoBytesPerEntry <= memo_budget) entries *= 2;
  memo.resize(entries);
}

Prefilter::Scratch::~Scratch() { hs_free_scratch(hs); }

namespace {
int on_match(unsigned int id, unsigned long long, unsigned long long to, unsigned int, void* context) {
  auto& c = *static_cast<CallbackContext*>(context);
  const auto& info = (*static_cast<const std::vector<Prefilter::PatternInfo>*>(c.patterns))[id];
  if (info.length > 0) {
    // Literal patterns: check the anchoring on the match's end offset.
    switch (info.op) {
      case MatchOp::Equals:
        if (to != info.length || c.length != info.length) return 0;
        break;
      case MatchOp::StartsWith:
        if (to != info.length) return 0;
        break;
      case MatchOp::EndsWith:
        if (to != c.length) return 0;
        break;
      default: break;
    }
  }
  // A pattern stands for the value slots of every predicate that has it.
  const std::uint32_t* slots = c.pattern_slots->data() + info.first_slot;
  for (std::uint32_t k = 0; k < info.slot_count; ++k) {
    const std::uint32_t slot = slots[k];
    if (c.record) c.record->push_back(slot);
    (*c.slot_hit)[slot] = c.event;
    const std::uint32_t predicate = (*c.predicate_of_slot)[slot];
    if ((*c.predicate_hit)[predicate] != c.event) {
      (*c.predicate_hit)[predicate] = c.event;
      c.hit_predicates->push_back(predicate);
    }
  }
  return 0;
}
}  // namespace

void Prefilter::scan_value(const hs_database* db, std::string_view value, Scratch& scratch) const {
  CallbackContext context{&predicate_of_slot_, &pattern_slots_, &patterns_, &scratch.slot_hit, &scratch.predicate_hit,
                          &scratch.hit_predicates, scratch.event, value.size(), scratch.recording};
  hs_scan(db, value.data(), static_cast<unsigned int>(value.size()), 0, scratch.hs, on_match, &context);
}

void Prefilter::mark_slot(std::uint32_t slot, Scratch& scratch) const {
  scratch.slot_hit[slot] = scratch.event;
  const std::uint32_t predicate = predicate_of_slot_[slot];
  if (scratch.predicate_hit[predicate] != scratch.event) {
    scratch.predicate_hit[predicate] = scratch.event;
    scratch.hit_predicates.push_back(predicate);
  }
}

void Prefilter::scan_set(const DatabaseSet& set, const EventView& event, std::uint32_t index, Scratch& scratch) const {
  const std::string_view value = event.value(index).value;
  if (value.size() > kMemoMaxValue) {
    scan_set_uncached(set, event, index, scratch);
    return;
  }
  // Sets that share databases (aliased routes) share memo entries: the
  // first database of the set names them.
  const void* databases = set.caseless_literal  ? static_cast<const void*>(set.caseless_literal)
                          : set.caseless_regex  ? static_cast<const void*>(set.caseless_regex)
                          : set.cased_literal   ? static_cast<const void*>(set.cased_literal)
                                                : static_cast<const void*>(set.cased_regex);
  const std::uint64_t key = short_hash(value) ^ (reinterpret_cast<std::uintptr_t>(databases) * 0x9E3779B97F4A7C15ull);
  Scratch::MemoEntry& entry = scratch.memo[(key ^ (key >> 29)) & (scratch.memo.size() - 1)];
  if (entry.databases == databases && entry.key == key && entry.value == value) {
    ++scratch.memo_hits;
    for (std::uint32_t slot : entry.slots) mark_slot(slot, scratch);
    return;
  }
  ++scratch.memo_misses;
  auto entry_bytes = [](const Scratch::MemoEntry& e) {
    return e.value.capacity() + e.slots.capacity() * sizeof(std::uint32_t);
  };
  scratch.memo_bytes -= entry_bytes(entry);
  entry.databases = nullptr;
  entry.slots.clear();
  scratch.recording = &entry.slots;
  scan_set_uncached(set, event, index, scratch);
  scratch.recording = nullptr;
  if (entry.slots.size() <= kMemoMaxSlots &&
      scratch.memo_bytes + entry_bytes(entry) + value.size() <= scratch.memo_max_bytes) {
    entry.databases = databases;
    entry.key = key;
    entry.value.assign(value);
  } else {
    entry.value.clear();
    entry.value.shrink_to_fit();
    entry.slots.clear();
    entry.slots.shrink_to_fit();
  }
  scratch.memo_bytes += entry_bytes(entry);
}

void Prefilter::scan_set_uncached(const DatabaseSet& set, const EventView& event, std::uint32_t index,
                                  Scratch& scratch) const {
  const FieldValue& v = event.value(index);
  if (set.caseless_literal || set.caseless_regex) {
    std::string_view folded = is_ascii(v.value) ? v.value : event.folded(index);
    if (set.caseless_literal) scan_value(set.caseless_literal, folded, scratch);
    if (set.caseless_regex) scan_value(set.caseless_regex, folded, scratch);
  }
  if (set.cased_literal) scan_value(set.cased_literal, v.value, scratch);
  if (set.cased_regex) scan_value(set.cased_regex, v.value, scratch);
}

void Prefilter::scan(const EventView& event, int keyword_set, int field_set, Scratch& scratch) const {
  if (++scratch.event == 0) {  // wrapped: forget every mark
    std::fill(scratch.slot_hit.begin(), scratch.slot_hit.end(), 0);
    std::fill(scratch.predicate_hit.begin(), scratch.predicate_hit.end(), 0);
    scratch.event = 1;
  }
  scratch.hit_predicates.clear();
  if (!scratch.hs) return;
  const DatabaseSet* route_fields =
      field_set >= 0 && static_cast<std::size_t>(field_set + 1) * field_count_ <= route_fields_.size()
          ? route_fields_.data() + static_cast<std::size_t>(field_set) * field_count_
          : nullptr;
  if (route_fields) {
    for (FieldId field : event.fields_present()) {
      if (field >= field_count_ || route_fields[field].empty()) continue;
      const DatabaseSet& set = route_fields[field];
      event.for_each_value(field, [&](std::uint32_t i) {
        if (event.value(i).type != ValueType::Null) scan_set(set, event, i, scratch);
      });
    }
  }
  if (keyword_set >= 0 && static_cast<std::size_t>(keyword_set) < keyword_sets_.size() &&
      !keyword_sets_[static_cast<std::size_t>(keyword_set)].empty()) {
    // Keywords (all unanchored) are searched in every string and number
    // value: one scan over the values joined by NUL bytes instead of one
    // scan per value, since each call to Hyperscan has a fixed cost.
    const DatabaseSet& set = keyword_sets_[static_cast<std::size_t>(keyword_set)];
    const bool caseless = set.caseless_literal || set.caseless_regex;
    // Sized first and filled by memcpy: appending value by value to a
    // std::string cost about 550 more instructions per Sysmon event
    // (callgrind, first 6,000 events of the benchmark input).
    std::size_t total = 0;
    for (std::uint32_t i = 0; i < event.value_count(); ++i) {
      const FieldValue& v = event.value(i);
      if (v.type == ValueType::String || v.type == ValueType::Number) total += v.value.size() + 1;
    }
    if (scratch.joined.size() < total) scratch.joined.resize(std::max(total, 2 * scratch.joined.size()));
    char* out = scratch.joined.data();
    for (std::uint32_t i = 0; i < event.value_count(); ++i) {
      const FieldValue& v = event.value(i);
      if (v.type != ValueType::String && v.type != ValueType::Number) continue;
      std::memcpy(out, v.value.data(), v.value.size());
      out += v.value.size();
      *out++ = '\0';
    }
    const std::string_view joined(scratch.joined.data(), total);
    // Caseless databases fold ASCII themselves, and other text is folded
    // first. With only ASCII literals to find, folding can change a match
    // only where text folds to an ASCII letter. In Unicode's simple case
    // folding only U+212A KELVIN SIGN (to k) and U+017F LATIN SMALL LETTER
    // LONG S (to s) do, so text without them is scanned as it is.
    std::string_view folded = joined;
    auto folds_to_ascii = [](std::string_view text) {
      return text.find("\xE2\x84\xAA") != std::string_view::npos || text.find("\xC5\xBF") != std::string_view::npos;
    };
    if (caseless && !is_ascii(joined) &&
        (!keyword_ascii_only_[static_cast<std::size_t>(keyword_set)] || folds_to_ascii(joined))) {
      scratch.joined_folded.clear();
      for (std::uint32_t i = 0; i < event.value_count(); ++i) {
        const FieldValue& v = event.value(i);
        if (v.type != ValueType::String && v.type != ValueType::Number) continue;
        scratch.joined_folded += is_ascii(v.value) ? v.value : event.folded(i);
        scratch.joined_folded.push_back('\0');
      }
      folded = scratch.joined_folded;
    }
    if (set.caseless_literal) scan_value(set.caseless_literal, folded, scratch);
    if (set.caseless_regex) scan_value(set.caseless_regex, folded, scratch);
    if (set.cased_literal) scan_value(set.cased_literal, joined, scratch);
    if (set.cased_regex) scan_value(set.cased_regex, joined, scratch);
  }
}

bool Prefilter::result(std::uint32_t id, const Scratch& scratch) const {
  if (scratch.predicate_hit[id] != scratch.event) return false;
  const PredicateSlots& s = predicate_slots_[id];
  if (!s.match_all) return true;
  for (std::uint32_t k = 0; k < s.count; ++k)
    if (scratch.slot_hit[s.first + k] != scratch.event) return false;
  return true;
}

}  // namespace sigscope
