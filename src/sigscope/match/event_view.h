// The per-event index the matcher works on: the values of one RawEvent grouped
// by interned field id. A Matcher owns one EventView and refills it for each
// event without allocating once its buffers have grown.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sigscope/common/text.h"
#include "sigscope/input/event.h"

namespace sigscope {

using FieldId = std::uint32_t;
constexpr FieldId kNoField = 0xFFFFFFFFu;

// Interned field names of a rule set. Lookups take a string_view. find()
// runs for every field of every event, so it uses a flat open-addressing
// table with a short hash instead of std::unordered_map's node chains.
class FieldTable {
 public:
  FieldId intern(std::string_view name);
  FieldId find(std::string_view name) const {
    if (slots_.empty()) return kNoField;
    const std::uint64_t h = hash(name);
    const std::uint32_t tag = static_cast<std::uint32_t>(h >> 32);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot slot = slots_[i];
      if (slot.id == kNoField) return kNoField;
      if (slot.tag == tag) {
        const std::string& candidate = names_[slot.id];
        if (candidate.size() == name.size() && same_bytes(candidate.data(), name.data(), name.size())) return slot.id;
      }
    }
  }
  const std::string& name(FieldId id) const { return names_[id]; }
  std::size_t size() const { return names_.size(); }

 private:
  static std::uint64_t hash(std::string_view s) { return short_hash(s); }
  void rebuild(std::size_t slot_count);
  void place(FieldId id);

  // A slot contains the id and the high half of the name's hash, so most
  // probes that miss are settled without reading the name.
  struct Slot {
    FieldId id = kNoField;
    std::uint32_t tag = 0;
  };
  std::vector<std::string> names_;
  std::vector<std::uint64_t> hashes_;  // per id
  std::vector<Slot> slots_;            // id kNoField when empty; size is a power of two
};

class EventView {
 public:
  // Sigma field -> event field renames of the event's source (Security 4688
  // names the image NewProcessName), as field ids: values of `from` are also
  // visible under `to`.
  struct Alias {
    FieldId event_field;
    FieldId sigma_field;
  };

  // Indexes `event`. Fields the rule set does not name are kept only for
  // keyword search. A literal key shadows a nested path of the same name. A
  // name with spaces ("Threat Name") is also indexed under the name without them.
  void build(const RawEvent& event, const FieldTable& fields, const std::vector<Alias>& aliases);

  const RawEvent& raw() const { return *raw_; }
  std::size_t value_count() const { return raw_->fields.size(); }
  const FieldValue& value(std::uint32_t index) const { return raw_->fields[index]; }

  // Calls f(value_index) for every value of `field`.
  template <typename F>
  void for_each_value(FieldId field, F&& f) const {
    if (field >= heads_.size()) return;
    for (std::uint32_t e = heads_[field]; e != kEnd; e = entries_[e].next) f(entries_[e].value);
  }
  bool has_field(FieldId field) const { return field < heads_.size() && heads_[field] != kEnd; }
  // Field ids with at least one value in this event.
  const std::vector<FieldId>& fields_present() const { return touched_; }

  // The value folded with Unicode simple case folding, computed on first use.
  // The view stays valid until the next build().
  std::string_view folded(std::uint32_t value_index) const;

  // Values of a field looked up by name, for fields outside the table
  // (fieldref targets are interned, so this is only for diagnostics/explain).
  std::vector<std::uint32_t> values_named(std::string_view name) const;

 private:
  static constexpr std::uint32_t kEnd = 0xFFFFFFFFu;
  struct Entry {
    std::uint32_t value;
    std::uint32_t next;
  };
  void add(FieldId field, std::uint32_t value);
  // Field id of `name`, also trying the name without its spaces.
  FieldId lookup(const FieldTable& fields, std::string_view name) {
    const FieldId id = fields.find(name);
    if (id != kNoField) return id;
    return has_space(name) ? lookup_squeezed(fields, name) : kNoField;
  }
  FieldId lookup_squeezed(const FieldTable& fields, std::string_view name);

  const RawEvent* raw_ = nullptr;
  std::vector<std::uint32_t> heads_;  // per field id: first entry or kEnd
  std::vector<std::uint32_t> tails_;
  std::vector<Entry> entries_;
  std::vector<FieldId> touched_;
  std::vector<FieldId> value_field_;  // field id of each raw value (kNoField when unknown)
  std::vector<std::uint8_t> has_literal_;  // per field id: 1 when a literal key gave it a value
  std::string squeezed_;  // a field name with its spaces removed

  // Lazily folded copies of values: offset and length into folded_text_.
  mutable std::vector<std::uint32_t> folded_offset_;
  mutable std::vector<std::uint32_t> folded_length_;
  mutable std::string folded_text_;
};

}  // namespace sigscope
