#include "sigscope/match/event_view.h"

#include <algorithm>
#include <cstring>

#include "sigscope/common/text.h"

namespace sigscope {

FieldId FieldTable::intern(std::string_view name) {
  FieldId existing = find(name);
  if (existing != kNoField) return existing;
  FieldId id = static_cast<FieldId>(names_.size());
  names_.emplace_back(name);
  hashes_.push_back(hash(name));
  // Keep the table at most half full so probe runs stay short.
  if (2 * names_.size() > slots_.size()) {
    rebuild(std::max<std::size_t>(64, 4 * names_.size()));
  } else {
    place(id);
  }
  return id;
}

void FieldTable::place(FieldId id) {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hashes_[id] & mask;
  while (slots_[i].id != kNoField) i = (i + 1) & mask;
  slots_[i] = Slot{id, static_cast<std::uint32_t>(hashes_[id] >> 32)};
}

void FieldTable::rebuild(std::size_t slot_count) {
  std::size_t size = 1;
  while (size < slot_count) size <<= 1;
  slots_.assign(size, Slot{});
  for (FieldId id = 0; id < names_.size(); ++id) place(id);
}

void EventView::add(FieldId field, std::uint32_t value) {
  std::uint32_t index = static_cast<std::uint32_t>(entries_.size());
  entries_.push_back({value, kEnd});
  if (heads_[field] == kEnd) {
    heads_[field] = index;
    touched_.push_back(field);
  } else {
    entries_[tails_[field]].next = index;
  }
  tails_[field] = index;
}

FieldId EventView::lookup_squeezed(const FieldTable& fields, std::string_view name) {
  // Windows Defender names its data "Threat Name"; Sigma rules write ThreatName.
  squeezed_.clear();
  for (char c : name)
    if (c != ' ') squeezed_.push_back(c);
  return fields.find(squeezed_);
}

void EventView::build(const RawEvent& event, const FieldTable& fields, const std::vector<Alias>& aliases) {
  raw_ = &event;
  if (heads_.size() < fields.size()) {
    heads_.resize(fields.size(), kEnd);
    tails_.resize(fields.size(), kEnd);
    has_literal_.resize(fields.size(), false);
  }
  for (FieldId f : touched_) {
    heads_[f] = kEnd;
    has_literal_[f] = false;
  }
  touched_.clear();
  entries_.clear();

  const std::size_t n = event.fields.size();
  value_field_.resize(n);
  folded_offset_.assign(n, kEnd);
  folded_length_.resize(n);
  folded_text_.clear();
  // Literal keys of the event's data first, then System fields not shadowed
  // by one of them, then nested paths not shadowed by a literal key.
  bool any_system = false, any_nested = false;
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const FieldValue& v = event.fields[i];
    total += v.value.size();
    FieldId id = lookup(fields, v.name);
    value_field_[i] = id;
    any_system |= v.system;
    any_nested |= v.nested_path;
    if (id == kNoField || v.nested_path || v.system) continue;
    add(id, static_cast<std::uint32_t>(i));
    has_literal_[id] = true;
  }
  // Simple case folding grows UTF-8 text by at most half (two-byte letters
  // folding to three-byte ones), so twice the input size never reallocates
  // and views returned by folded() stay valid for the whole event.
  folded_text_.reserve(2 * total + 16);
  if (any_system) {
    std::size_t system_start = entries_.size();
    for (std::size_t i = 0; i < n; ++i) {
      const FieldValue& v = event.fields[i];
      FieldId id = value_field_[i];
      if (id == kNoField || !v.system || has_literal_[id]) continue;
      add(id, static_cast<std::uint32_t>(i));
    }
    for (std::size_t e = system_start; e < entries_.size(); ++e) has_literal_[value_field_[entries_[e].value]] = true;
  }
  if (any_nested) {
    for (std::size_t i = 0; i < n; ++i) {
      const FieldValue& v = event.fields[i];
      FieldId id = value_field_[i];
      if (id == kNoField || !v.nested_path || has_literal_[id]) continue;
      add(id, static_cast<std::uint32_t>(i));
    }
  }
  for (const Alias& alias : aliases) {
    if (!has_field(alias.event_field)) continue;
    // Collect first: adding to the alias target while walking the source is
    // safe because they are different lists, but the source may be the target.
    if (alias.event_field == alias.sigma_field) continue;
    for (std::uint32_t e = heads_[alias.event_field]; e != kEnd; e = entries_[e].next)
      add(alias.sigma_field, entries_[e].value);
  }
}

std::string_view EventView::folded(std::uint32_t value_index) const {
  if (folded_offset_[value_index] == kEnd) {
    std::string_view v = raw_->fields[value_index].value;
    folded_offset_[value_index] = static_cast<std::uint32_t>(folded_text_.size());
    fold_case_append(v, folded_text_);
    folded_length_[value_index] =
        static_cast<std::uint32_t>(folded_text_.size() - folded_offset_[value_index]);
  }
  return std::string_view(folded_text_).substr(folded_offset_[value_index], folded_length_[value_index]);
}

std::vector<std::uint32_t> EventView::values_named(std::string_view name) const {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < raw_->fields.size(); ++i)
    if (raw_->fields[i].name == name) out.push_back(static_cast<std::uint32_t>(i));
  return out;
}

}  // namespace sigscope
