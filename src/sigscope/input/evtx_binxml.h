// Binary XML decoder for EVTX records, internal to the EVTX reader. It
// compiles each template definition once per chunk into a flat list of
// operations. It then walks a record's template instance with its
// substitution values and turns leaf elements and attributes straight into
// FieldValues, named by the rules in evtx.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "sigscope/input/event.h"
#include "sigscope/input/evtx_format.h"

namespace sigscope::evtx {

// Reason a record could not be decoded, and the chunk offset where it was
// found. Offset 0, which lies in the chunk header, means the place is unknown.
struct DecodeError {
  const char* reason = "";
  std::uint32_t offset = 0;
};

// Maximum element nesting across a record, including nested Binary XML.
inline constexpr std::size_t kMaxElementDepth = 64;
// Maximum nesting of template instances and Binary XML substitution values.
inline constexpr int kMaxFragmentNesting = 8;
// Maximum operations walked, plus bytes of nested Binary XML compiled, for
// one record. A template can use a nested Binary XML value many times, so
// hostile input could otherwise expand exponentially. The largest record
// of the 714-file test corpus counts about 26,000.
inline constexpr std::size_t kMaxWalkedOps = 1u << 20;
// Maximum decoded text for one record.
inline constexpr std::size_t kMaxRecordText = 16u << 20;

// Map from chunk offsets to indexes, for one chunk at a time: clear() takes
// constant time, since an entry belongs to the current chunk only when its
// generation matches. An open-addressing table that grows with the names or
// templates of the largest chunk seen: a few KiB, where arrays indexed by
// offset took 512 KiB each per thread.
class OffsetMap {
 public:
  OffsetMap() : slots_(256) {}

  // Forgets every entry.
  void clear();
  // Returns the index stored for `offset`, or nullptr.
  const std::uint32_t* find(std::uint32_t offset) const {
    for (std::size_t i = position(offset);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.generation != generation_) return nullptr;
      if (slot.offset == offset) return &slot.index;
    }
  }
  // Stores `index` for `offset`, which must not be stored yet.
  void insert(std::uint32_t offset, std::uint32_t index);

 private:
  struct Slot {
    std::uint32_t generation = 0;  // 0: never used
    std::uint32_t offset = 0;
    std::uint32_t index = 0;
  };
  std::size_t position(std::uint32_t offset) const {
    return (offset * 0x9E3779B1u) >> 16 & (slots_.size() - 1);
  }

  std::vector<Slot> slots_;  // size is a power of two, at most half used
  std::uint32_t generation_ = 1;
  std::size_t used_ = 0;
};

class BinXmlDecoder {
 public:
  BinXmlDecoder();
  ~BinXmlDecoder();

  // Starts a new chunk and drops the names and templates of the previous
  // one. `chunk` must stay valid until the next begin_chunk().
  void begin_chunk(std::span<const std::uint8_t> chunk);

  // Decodes the Binary XML in [begin, end) of the current chunk (chunk
  // offsets). Returns false with `error` set when the data is malformed;
  // fields() is then unspecified. `written_time` (FILETIME) becomes the
  // timestamp when the event has no System/TimeCreated.
  bool decode_record(std::uint32_t begin, std::uint32_t end, std::uint64_t written_time,
                     DecodeError& error);

  // Returns the fields of the last decoded record, valid until the next call.
  std::span<const FieldValue> fields() const { return fields_; }
  std::string_view timestamp() const { return timestamp_; }
  // Returns the unpaired UTF-16 surrogates in the values of the last decoded
  // record, each read as U+FFFD.
  std::size_t replaced_units() const { return text_.replaced_units(); }

 private:
  enum class OpCode : std::uint8_t {
    StartElement,
    Attribute,
    EndElement,
    Value,
    Substitution,
    CharRef,
    EntityRef,
    CData,
    TemplateInstance,
  };
  static constexpr std::uint16_t kNoIndex = 0xffff;

  // One decoded token. Fields unused by an op code are zero.
  struct Op {
    OpCode code = OpCode::Value;
    std::uint8_t type = 0;        // Value, Substitution: value type
    bool optional = false;        // Substitution: optional substitution token
    bool has_attributes = false;  // StartElement: declared with an attribute list
    // Substitution: value index. StartElement, Attribute: index of the
    // optional substitution that is the sole content, else kNoIndex.
    std::uint16_t index = kNoIndex;
    // Name id (StartElement, Attribute, EntityRef), chunk offset of the
    // data (Value, CData), code point (CharRef), template slot
    // (TemplateInstance).
    std::uint32_t a = 0;
    // Byte size of the data (Value, CData), chunk offset of the value
    // table (TemplateInstance).
    std::uint32_t b = 0;
    // StartElement: index of its EndElement. Attribute: index of the first
    // op after its value.
    std::uint32_t end = 0;
  };

  enum class NameKind : std::uint8_t {
    Other,
    System,
    Data,
    Name,
    Xmlns,
    Provider,
    EventSourceName,
    TimeCreated,
    SystemTime,
    Correlation,
    ActivityID,
    RelatedActivityID,
    Execution,
    ProcessID,
    ThreadID,
    Security,
  };
  struct NameEntry {
    std::uint32_t offset = 0;  // in name_text_
    std::uint32_t length = 0;
    NameKind kind = NameKind::Other;
  };

  struct Template {
    enum class State : std::uint8_t { Compiling, Ready, Failed };
    State state = State::Compiling;
    std::vector<Op> ops;
    DecodeError error;
  };

  // One substitution value of a template instance.
  struct SubstitutionValue {
    std::uint32_t offset = 0;  // chunk offset of the data
    std::uint16_t size = 0;
    std::uint8_t type = 0;
  };
  // The values visible to a template walk: subst_[base, base + count).
  struct ValueScope {
    std::size_t base = 0;
    std::size_t count = 0;
  };

  // Buffer that contains a field name's text. Names are resolved to views
  // after the walk, because the buffers may move while a record is decoded.
  enum class TextSource : std::uint8_t { Static, ChunkNames, RecordText };
  struct PendingField {
    TextSource name_source = TextSource::Static;
    std::uint32_t name_offset = 0;
    std::uint32_t name_length = 0;
    std::uint32_t value_offset = 0;
    std::uint32_t value_length = 0;
    ValueType type = ValueType::String;
    bool system = false;  // from the System section
  };

  // An open element of the record being decoded.
  struct Frame {
    std::uint32_t name_id = 0;
    NameKind kind = NameKind::Other;
    NameKind section_kind = NameKind::Other;  // kind of the depth-1 ancestor
    std::uint32_t depth = 0;                  // 0 for the root
    bool has_attributes = false;
    bool has_child = false;
    bool has_data_name = false;
    bool was_split = false;  // an array substitution already emitted items
    std::uint16_t parts = 0;
    ValueType type = ValueType::String;
    std::uint32_t text_start = 0;  // valid when parts > 0
    std::uint32_t data_name_offset = 0;
    std::uint32_t data_name_length = 0;
  };

  // Compiling (evtx_binxml.cpp).
  bool compile(std::uint32_t pos, std::uint32_t limit, bool in_template, int nesting,
               std::vector<Op>& out, DecodeError& error);
  bool read_name_reference(std::uint32_t& pos, std::uint32_t limit, std::uint32_t& name_id,
                           DecodeError& error);
  bool intern_name(std::uint32_t offset, std::uint32_t& name_id, DecodeError& error);
  bool find_template(std::uint32_t definition_offset, int nesting, std::uint32_t& slot,
                     DecodeError& error);

  // Walking and field output (evtx_walk.cpp).
  bool walk(const Op* ops, std::size_t begin, std::size_t end, ValueScope scope, int nesting,
            DecodeError& error);
  bool walk_substitution(const SubstitutionValue& value, int nesting, DecodeError& error);
  bool walk_template_instance(const Op& op, int nesting, DecodeError& error);
  bool is_null(ValueScope scope, std::uint16_t index) const;
  void begin_part();
  void end_part(ValueType type);
  void split_array_item();
  bool start_element(std::uint32_t name_id, bool has_attributes, DecodeError& error);
  void end_element();
  void begin_attribute(std::uint32_t name_id);
  void end_attribute();
  void emit_element_value(Frame& frame);
  void add_field(bool system, TextSource source, std::uint32_t name_offset, std::uint32_t name_length,
                 std::uint32_t value_offset, std::uint32_t value_length, ValueType type);
  void finish_record(std::uint64_t written_time);

  const std::uint8_t* chunk_ = nullptr;
  std::uint32_t chunk_size_ = 0;

  // Per-chunk caches, keyed by chunk offset: indexes into names_ and templates_.
  OffsetMap name_slots_;
  OffsetMap template_slots_;
  std::vector<NameEntry> names_;
  TextBuffer name_text_;
  std::vector<std::unique_ptr<Template>> templates_;  // pool, the first template_count_ in use
  std::size_t template_count_ = 0;

  // Per-record state.
  std::vector<std::vector<Op>> fragment_ops_;  // one list per nesting level
  std::vector<SubstitutionValue> subst_;
  std::vector<Frame> frames_;
  std::vector<PendingField> pending_;
  std::vector<FieldValue> fields_;
  TextBuffer text_;
  bool in_attribute_ = false;
  std::uint32_t attribute_name_id_ = 0;
  std::uint32_t attribute_text_start_ = 0;
  std::uint16_t attribute_parts_ = 0;
  ValueType attribute_type_ = ValueType::String;
  bool has_timestamp_ = false;
  std::uint32_t timestamp_offset_ = 0;
  std::uint32_t timestamp_length_ = 0;
  std::string_view timestamp_;
  std::size_t walked_ops_ = 0;
};

}  // namespace sigscope::evtx
