// Walks compiled Binary XML with its substitution values and turns leaf
// elements and attributes into fields (naming rules in evtx.h).
#include "sigscope/input/evtx_binxml.h"

#include <algorithm>

namespace sigscope::evtx {

namespace {

// Records written without templates hold System numbers (EventID, Level,
// ProcessID, ...) as literal text. Types them like substituted numbers.
ValueType system_value_type(std::string_view value, ValueType type) {
  if (type != ValueType::String || value.empty() || value.size() > 20) return type;
  bool digits = std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  return digits ? ValueType::Number : type;
}

}  // namespace

bool BinXmlDecoder::is_null(ValueScope scope, std::uint16_t index) const {
  // A value index past the instance's table is treated as missing, i.e. NULL.
  return index >= scope.count || subst_[scope.base + index].type == kTypeNull;
}

bool BinXmlDecoder::walk(const Op* ops, std::size_t begin, std::size_t end, ValueScope scope,
                         int nesting, DecodeError& error) {
  walked_ops_ += end - begin;
  if (walked_ops_ > kMaxWalkedOps || text_.size() > kMaxRecordText) {
    error = {"record expands to too much data", 0};
    return false;
  }
  for (std::size_t i = begin; i < end; ++i) {
    const Op& op = ops[i];
    switch (op.code) {
      case OpCode::StartElement:
        if (op.index != kNoIndex && is_null(scope, op.index)) {
          // Windows leaves out an element whose only content is a NULL
          // optional substitution.
          i = op.end;
          break;
        }
        if (!start_element(op.a, op.has_attributes, error)) return false;
        break;

      case OpCode::Attribute:
        if (op.index != kNoIndex && is_null(scope, op.index)) {
          i = op.end - 1;
          break;
        }
        begin_attribute(op.a);
        if (!walk(ops, i + 1, op.end, scope, nesting, error)) return false;
        end_attribute();
        i = op.end - 1;
        break;

      case OpCode::EndElement:
        end_element();
        break;

      case OpCode::Value: {
        begin_part();
        ValueType type = ValueType::String;
        if (op.type == kTypeString) {
          append_utf16(text_, chunk_ + op.a, op.b / 2);
        } else {
          render_scalar(text_, op.type, chunk_ + op.a, op.b, type);
        }
        // Literal text in the markup is text, even when it looks numeric.
        end_part(op.type == kTypeString ? ValueType::String : type);
        break;
      }

      case OpCode::CData:
        begin_part();
        append_utf16(text_, chunk_ + op.a, op.b / 2);
        end_part(ValueType::String);
        break;

      case OpCode::CharRef:
        begin_part();
        append_code_point(text_, op.a);
        end_part(ValueType::String);
        break;

      case OpCode::EntityRef: {
        const NameEntry& name = names_[op.a];
        std::string_view entity = name_text_.view(name.offset, name.length);
        begin_part();
        if (entity == "lt") {
          text_.push_back('<');
        } else if (entity == "gt") {
          text_.push_back('>');
        } else if (entity == "amp") {
          text_.push_back('&');
        } else if (entity == "quot") {
          text_.push_back('"');
        } else if (entity == "apos") {
          text_.push_back('\'');
        } else {
          // An entity without a predefined meaning is kept as written.
          text_.push_back('&');
          text_.append(entity);
          text_.push_back(';');
        }
        end_part(ValueType::String);
        break;
      }

      case OpCode::Substitution:
        if (op.index < scope.count &&
            text_.size() + 3 * std::size_t{subst_[scope.base + op.index].size} > kMaxRecordText) {
          // One value can be substituted many times, so bound the total text.
          error = {"record expands to too much data", subst_[scope.base + op.index].offset};
          return false;
        }
        if (op.index >= scope.count) {
          // Missing value: render as empty text, like a NULL value.
          begin_part();
          end_part(ValueType::String);
          break;
        }
        if (!walk_substitution(subst_[scope.base + op.index], nesting, error)) return false;
        break;

      case OpCode::TemplateInstance:
        if (!walk_template_instance(op, nesting, error)) return false;
        break;
    }
  }
  return true;
}

bool BinXmlDecoder::walk_template_instance(const Op& op, int nesting, DecodeError& error) {
  if (nesting >= kMaxFragmentNesting) {
    error = {"templates or Binary XML values are nested too deeply", op.b};
    return false;
  }
  // compile() checked that the table and the value data fit the chunk.
  std::uint32_t count = load_u32(chunk_ + op.b);
  std::uint32_t data = op.b + 4 + 4 * count;
  ValueScope scope{subst_.size(), count};
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* descriptor = chunk_ + op.b + 4 + 4 * i;
    SubstitutionValue value;
    value.offset = data;
    value.size = load_u16(descriptor);
    value.type = descriptor[2];
    subst_.push_back(value);
    data += value.size;
  }
  const Template& definition = *templates_[op.a];
  bool ok = walk(definition.ops.data(), 0, definition.ops.size(), scope, nesting + 1, error);
  subst_.resize(scope.base);
  return ok;
}

bool BinXmlDecoder::walk_substitution(const SubstitutionValue& value, int nesting,
                                      DecodeError& error) {
  const std::uint8_t* data = chunk_ + value.offset;
  const std::uint8_t type = value.type;

  if (type == kTypeBinXml) {
    if (nesting >= kMaxFragmentNesting) {
      error = {"templates or Binary XML values are nested too deeply", value.offset};
      return false;
    }
    // Compiling costs time per byte, and a template may use this value many
    // times, so its bytes count against the record's walk budget.
    walked_ops_ += value.size;
    if (walked_ops_ > kMaxWalkedOps) {
      error = {"record expands to too much data", value.offset};
      return false;
    }
    std::vector<Op>& ops = fragment_ops_[static_cast<std::size_t>(nesting) + 1];
    ops.clear();
    if (!compile(value.offset, value.offset + value.size, false, nesting + 1, ops, error)) {
      return false;
    }
    return walk(ops.data(), 0, ops.size(), ValueScope{}, nesting + 1, error);
  }

  if ((type & kTypeArrayFlag) == 0) {
    begin_part();
    ValueType value_type = ValueType::String;
    if (!render_scalar(text_, type, data, value.size, value_type)) {
      // NOTE: a size that does not fit the type is shown as hex rather than
      // dropping the record. No real sample of this was seen.
      render_scalar(text_, kTypeBinary, data, value.size, value_type);
    }
    end_part(value_type);
    return true;
  }

  // Arrays give one value per item. An empty array still gives one empty value.
  const std::uint8_t item_type = type & ~kTypeArrayFlag;
  std::size_t size = value.size;
  ValueType value_type = ValueType::String;
  if (size == 0) {
    begin_part();
    end_part(ValueType::String);
    return true;
  }
  auto emit_item = [&](std::size_t offset, std::size_t length, std::uint8_t render_type,
                       bool first) {
    if (!first) split_array_item();
    begin_part();
    if (!render_scalar(text_, render_type, data + offset, length, value_type)) {
      render_scalar(text_, kTypeBinary, data + offset, length, value_type);
    }
    end_part(value_type);
  };

  if (item_type == kTypeString) {
    // NUL-terminated UTF-16 strings back to back. The last may lack its NUL.
    std::size_t units = size / 2;
    std::size_t start = 0;
    bool first = true;
    for (std::size_t u = 0; u < units; ++u) {
      if (load_u16(data + 2 * u) == 0) {
        emit_item(2 * start, 2 * (u - start), kTypeString, first);
        first = false;
        start = u + 1;
      }
    }
    if (start < units || first) emit_item(2 * start, 2 * (units - start), kTypeString, first);
    return true;
  }
  if (item_type == kTypeAnsiString) {
    std::size_t start = 0;
    bool first = true;
    for (std::size_t b = 0; b < size; ++b) {
      if (data[b] == 0) {
        emit_item(start, b - start, kTypeAnsiString, first);
        first = false;
        start = b + 1;
      }
    }
    if (start < size || first) emit_item(start, size - start, kTypeAnsiString, first);
    return true;
  }
  if (item_type == kTypeSid) {
    std::size_t offset = 0;
    bool first = true;
    while (offset < size) {
      std::size_t length = sid_length(data + offset, size - offset);
      if (length == 0) {
        // Trailing bytes that do not form a SID are kept as hex.
        emit_item(offset, size - offset, kTypeBinary, first);
        break;
      }
      emit_item(offset, length, kTypeSid, first);
      first = false;
      offset += length;
    }
    return true;
  }
  std::size_t item_size = fixed_item_size(item_type);
  if (item_type == kTypeSizeT) item_size = sizeof(std::uint64_t);  // NOTE: assumes 64-bit writers
  if (item_size == 0 || size % item_size != 0) {
    // Arrays of binary or of unknown types have no item boundaries, so keep the bytes whole.
    emit_item(0, size, kTypeBinary, true);
    return true;
  }
  for (std::size_t offset = 0; offset < size; offset += item_size) {
    emit_item(offset, item_size, item_type, offset == 0);
  }
  return true;
}

void BinXmlDecoder::begin_part() {
  if (in_attribute_) {
    if (attribute_parts_ == 0) attribute_text_start_ = static_cast<std::uint32_t>(text_.size());
    return;
  }
  if (frames_.empty()) return;
  Frame& frame = frames_.back();
  if (frame.parts == 0) frame.text_start = static_cast<std::uint32_t>(text_.size());
}

void BinXmlDecoder::end_part(ValueType type) {
  if (in_attribute_) {
    ++attribute_parts_;
    attribute_type_ = type;
    return;
  }
  if (frames_.empty()) return;
  Frame& frame = frames_.back();
  if (frame.parts < 0xffff) ++frame.parts;
  frame.type = type;
}

void BinXmlDecoder::split_array_item() {
  // Items of an array inside an attribute value are simply concatenated.
  if (in_attribute_ || frames_.empty()) return;
  Frame& frame = frames_.back();
  emit_element_value(frame);
  frame.parts = 0;
  frame.was_split = true;
}

bool BinXmlDecoder::start_element(std::uint32_t name_id, bool has_attributes,
                                  DecodeError& error) {
  if (frames_.size() == kMaxElementDepth) {
    error = {"elements are nested too deeply", 0};
    return false;
  }
  Frame frame;
  frame.name_id = name_id;
  frame.kind = names_[name_id].kind;
  frame.has_attributes = has_attributes;
  frame.depth = static_cast<std::uint32_t>(frames_.size());
  if (!frames_.empty()) {
    Frame& parent = frames_.back();
    parent.has_child = true;
    frame.section_kind = frame.depth == 1 ? frame.kind : parent.section_kind;
  }
  frames_.push_back(frame);
  return true;
}

void BinXmlDecoder::end_element() {
  if (frames_.empty()) return;
  Frame& frame = frames_.back();
  if (!frame.has_child) emit_element_value(frame);
  frames_.pop_back();
}

void BinXmlDecoder::emit_element_value(Frame& frame) {
  // The root and the sections (System, EventData, UserData) carry no value.
  if (frame.depth < 2 || frame.has_child) return;
  std::uint32_t value_offset =
      frame.parts > 0 ? frame.text_start : static_cast<std::uint32_t>(text_.size());
  std::uint32_t value_length = static_cast<std::uint32_t>(text_.size()) - value_offset;
  ValueType type = frame.parts == 1 ? frame.type : ValueType::String;

  if (frame.kind == NameKind::Data && frame.section_kind != NameKind::System) {
    if (frame.has_data_name) {
      add_field(false, TextSource::RecordText, frame.data_name_offset, frame.data_name_length,
                value_offset, value_length, type);
    } else {
      add_field(false, TextSource::Static, 0, 4, value_offset, value_length, type);
    }
    return;
  }
  bool system = frame.section_kind == NameKind::System;
  if (frame.parts == 0 && !frame.was_split) {
    // An element declared with attributes and without content, such as
    // <Security UserID="..."/>, is fully described by its attribute fields.
    // The System elements below only ever carry attributes, also in records
    // written without templates, whose start tags may declare none.
    if (frame.has_attributes) return;
    if (system && (frame.kind == NameKind::Provider || frame.kind == NameKind::TimeCreated ||
                   frame.kind == NameKind::Correlation || frame.kind == NameKind::Execution ||
                   frame.kind == NameKind::Security)) {
      return;
    }
  }
  if (system) type = system_value_type(text_.view(value_offset, value_length), type);
  const NameEntry& name = names_[frame.name_id];
  add_field(system, TextSource::ChunkNames, name.offset, name.length, value_offset, value_length, type);
}

void BinXmlDecoder::begin_attribute(std::uint32_t name_id) {
  in_attribute_ = true;
  attribute_name_id_ = name_id;
  attribute_text_start_ = static_cast<std::uint32_t>(text_.size());
  attribute_parts_ = 0;
  attribute_type_ = ValueType::String;
}

void BinXmlDecoder::end_attribute() {
  in_attribute_ = false;
  if (frames_.empty()) return;
  Frame& frame = frames_.back();
  const NameEntry& attribute = names_[attribute_name_id_];
  std::uint32_t value_offset =
      attribute_parts_ > 0 ? attribute_text_start_ : static_cast<std::uint32_t>(text_.size());
  std::uint32_t value_length = static_cast<std::uint32_t>(text_.size()) - value_offset;
  ValueType type = attribute_parts_ == 1 ? attribute_type_ : ValueType::String;

  if (attribute.kind == NameKind::Xmlns) return;
  if (attribute.kind == NameKind::Name && frame.kind == NameKind::Data &&
      frame.section_kind != NameKind::System) {
    frame.has_data_name = true;
    frame.data_name_offset = value_offset;
    frame.data_name_length = value_length;
    return;
  }

  if (frame.depth == 2 && frame.section_kind == NameKind::System) {
    type = system_value_type(text_.view(value_offset, value_length), type);
    // System attributes whose Sigma field name is the bare attribute name.
    bool bare = (frame.kind == NameKind::Provider && attribute.kind == NameKind::EventSourceName) ||
                (frame.kind == NameKind::Correlation && (attribute.kind == NameKind::ActivityID ||
                                                         attribute.kind == NameKind::RelatedActivityID)) ||
                (frame.kind == NameKind::Execution &&
                 (attribute.kind == NameKind::ProcessID || attribute.kind == NameKind::ThreadID));
    if (bare) {
      add_field(true, TextSource::ChunkNames, attribute.offset, attribute.length, value_offset,
                value_length, type);
      return;
    }
    if (frame.kind == NameKind::TimeCreated && attribute.kind == NameKind::SystemTime) {
      const NameEntry& element = names_[frame.name_id];
      add_field(true, TextSource::ChunkNames, element.offset, element.length, value_offset,
                value_length, type);
      has_timestamp_ = true;
      timestamp_offset_ = value_offset;
      timestamp_length_ = value_length;
      return;
    }
  }

  // Everything else is Element_Attribute, composed in the record text.
  const NameEntry& element = names_[frame.name_id];
  auto name_offset = static_cast<std::uint32_t>(text_.size());
  text_.append(name_text_.view(element.offset, element.length));
  text_.push_back('_');
  text_.append(name_text_.view(attribute.offset, attribute.length));
  add_field(frame.section_kind == NameKind::System, TextSource::RecordText, name_offset,
            static_cast<std::uint32_t>(text_.size()) - name_offset, value_offset, value_length, type);
}

void BinXmlDecoder::add_field(bool system, TextSource source, std::uint32_t name_offset,
                              std::uint32_t name_length, std::uint32_t value_offset,
                              std::uint32_t value_length, ValueType type) {
  pending_.push_back({source, name_offset, name_length, value_offset, value_length, type, system});
}

void BinXmlDecoder::finish_record(std::uint64_t written_time) {
  if (!has_timestamp_) {
    timestamp_offset_ = static_cast<std::uint32_t>(text_.size());
    append_filetime(text_, written_time);
    timestamp_length_ = static_cast<std::uint32_t>(text_.size()) - timestamp_offset_;
  }
  static constexpr std::string_view kDataName = "Data";
  fields_.clear();
  for (const PendingField& field : pending_) {
    std::string_view name;
    switch (field.name_source) {
      case TextSource::Static:
        name = kDataName;
        break;
      case TextSource::ChunkNames:
        name = name_text_.view(field.name_offset, field.name_length);
        break;
      case TextSource::RecordText:
        name = text_.view(field.name_offset, field.name_length);
        break;
    }
    // Rendered message strings often end in line breaks and tabs
    // ("%%1539\r\n\t\t"); they are trimmed here, at ingest, so rules match
    // the value itself. The matcher never trims.
    std::string_view value = text_.view(field.value_offset, field.value_length);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == '\t'))
      value.remove_suffix(1);
    // Filled in place, as JsonEventReader does: a braced temporary is
    // copied through the stack with a store-forwarding stall.
    FieldValue& f = fields_.emplace_back();
    f.name = name;
    f.value = value;
    f.type = field.type;
    f.system = field.system;
  }
  timestamp_ = text_.view(timestamp_offset_, timestamp_length_);
}

}  // namespace sigscope::evtx
