// Binary XML token parsing: names, template definitions and the
// compilation of a fragment into the flat Op list that evtx_walk.cpp walks.
#include "sigscope/input/evtx_binxml.h"

#include <algorithm>
#include <array>

namespace sigscope::evtx {

namespace {

// Binary XML token codes (MS-EVEN6). Bit 0x40 means "has attributes" on an
// open start element and "more data follows" on value-like tokens.
enum : std::uint8_t {
  kTokenEndOfFragment = 0x00,
  kTokenOpenStartElement = 0x01,
  kTokenCloseStartElement = 0x02,
  kTokenCloseEmptyElement = 0x03,
  kTokenEndElement = 0x04,
  kTokenValue = 0x05,
  kTokenAttribute = 0x06,
  kTokenCData = 0x07,
  kTokenCharRef = 0x08,
  kTokenEntityRef = 0x09,
  kTokenPITarget = 0x0a,
  kTokenPIData = 0x0b,
  kTokenTemplateInstance = 0x0c,
  kTokenNormalSubstitution = 0x0d,
  kTokenOptionalSubstitution = 0x0e,
  kTokenFragmentHeader = 0x0f,
  kTokenMoreFlag = 0x40,
};

// Template definition header: next definition offset (4), GUID (16), data size (4).
constexpr std::uint32_t kTemplateHeaderSize = 24;

}  // namespace

void OffsetMap::clear() {
  used_ = 0;
  if (++generation_ == 0) {
    // After 2^32 chunks the generation counter wraps, so forget every slot.
    std::fill(slots_.begin(), slots_.end(), Slot{});
    generation_ = 1;
  }
}

void OffsetMap::insert(std::uint32_t offset, std::uint32_t index) {
  if (2 * (used_ + 1) > slots_.size()) {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& slot : old)
      if (slot.generation == generation_) {
        std::size_t i = position(slot.offset);
        while (slots_[i].generation == generation_) i = (i + 1) & (slots_.size() - 1);
        slots_[i] = slot;
      }
  }
  std::size_t i = position(offset);
  while (slots_[i].generation == generation_) i = (i + 1) & (slots_.size() - 1);
  slots_[i] = {generation_, offset, index};
  ++used_;
}

BinXmlDecoder::BinXmlDecoder() : fragment_ops_(kMaxFragmentNesting + 1) { frames_.reserve(kMaxElementDepth); }

BinXmlDecoder::~BinXmlDecoder() = default;

void BinXmlDecoder::begin_chunk(std::span<const std::uint8_t> chunk) {
  chunk_ = chunk.data();
  // Chunks are 64 KiB; offsets past that are rejected as outside the chunk.
  chunk_size_ = static_cast<std::uint32_t>(std::min<std::size_t>(chunk.size(), 65536));
  name_slots_.clear();
  template_slots_.clear();
  names_.clear();
  name_text_.clear();
  template_count_ = 0;
}

bool BinXmlDecoder::intern_name(std::uint32_t offset, std::uint32_t& name_id,
                                DecodeError& error) {
  // Name: next-name offset (4), hash (2), character count (2), UTF-16 text, NUL.
  if (offset >= chunk_size_ || std::uint64_t{offset} + 8 > chunk_size_) {
    error = {"name offset is outside the chunk", offset};
    return false;
  }
  if (const std::uint32_t* known = name_slots_.find(offset)) {
    name_id = *known;
    return true;
  }
  std::uint32_t units = load_u16(chunk_ + offset + 6);
  if (std::uint64_t{offset} + 8 + 2 * std::uint64_t{units} > chunk_size_) {
    error = {"name runs past the end of the chunk", offset};
    return false;
  }
  NameEntry entry;
  entry.offset = static_cast<std::uint32_t>(name_text_.size());
  append_utf16(name_text_, chunk_ + offset + 8, units);
  entry.length = static_cast<std::uint32_t>(name_text_.size() - entry.offset);

  std::string_view text = name_text_.view(entry.offset, entry.length);
  struct KnownName {
    std::string_view text;
    NameKind kind;
  };
  static constexpr std::array<KnownName, 15> kKnownNames{{
      {"System", NameKind::System},
      {"Data", NameKind::Data},
      {"Name", NameKind::Name},
      {"xmlns", NameKind::Xmlns},
      {"Provider", NameKind::Provider},
      {"EventSourceName", NameKind::EventSourceName},
      {"TimeCreated", NameKind::TimeCreated},
      {"SystemTime", NameKind::SystemTime},
      {"Correlation", NameKind::Correlation},
      {"ActivityID", NameKind::ActivityID},
      {"RelatedActivityID", NameKind::RelatedActivityID},
      {"Execution", NameKind::Execution},
      {"ProcessID", NameKind::ProcessID},
      {"ThreadID", NameKind::ThreadID},
      {"Security", NameKind::Security},
  }};
  for (const KnownName& known : kKnownNames) {
    if (text == known.text) {
      entry.kind = known.kind;
      break;
    }
  }
  if (text.starts_with("xmlns:")) entry.kind = NameKind::Xmlns;

  name_id = static_cast<std::uint32_t>(names_.size());
  names_.push_back(entry);
  name_slots_.insert(offset, name_id);
  return true;
}

bool BinXmlDecoder::read_name_reference(std::uint32_t& pos, std::uint32_t limit,
                                        std::uint32_t& name_id, DecodeError& error) {
  if (std::uint64_t{pos} + 4 > limit) {
    error = {"name reference runs past the end of the data", pos};
    return false;
  }
  std::uint32_t offset = load_u32(chunk_ + pos);
  pos += 4;
  if (!intern_name(offset, name_id, error)) return false;
  if (offset == pos) {
    // The name is stored inline right here, so step over it.
    std::uint64_t next = std::uint64_t{pos} + 8 + 2 * std::uint64_t{load_u16(chunk_ + pos + 6)} + 2;
    if (next > limit) {
      error = {"inline name runs past the end of the data", pos};
      return false;
    }
    pos = static_cast<std::uint32_t>(next);
  }
  return true;
}

bool BinXmlDecoder::find_template(std::uint32_t definition_offset, int nesting,
                                  std::uint32_t& slot_index, DecodeError& error) {
  if (std::uint64_t{definition_offset} + kTemplateHeaderSize > chunk_size_) {
    error = {"template definition offset is outside the chunk", definition_offset};
    return false;
  }
  if (const std::uint32_t* index = template_slots_.find(definition_offset)) {
    const Template& known = *templates_[*index];
    if (known.state == Template::State::Ready) {
      slot_index = *index;
      return true;
    }
    error = known.state == Template::State::Compiling
                ? DecodeError{"template definition contains an instance of itself",
                              definition_offset}
                : known.error;
    return false;
  }

  if (template_count_ == templates_.size()) templates_.push_back(std::make_unique<Template>());
  slot_index = static_cast<std::uint32_t>(template_count_++);
  template_slots_.insert(definition_offset, slot_index);
  // The pool keeps Template objects at fixed addresses, so this reference
  // survives templates_ growing while nested definitions compile.
  Template& definition = *templates_[slot_index];
  definition.state = Template::State::Compiling;
  definition.ops.clear();

  std::uint32_t begin = definition_offset + kTemplateHeaderSize;
  std::uint64_t end = std::uint64_t{begin} + load_u32(chunk_ + definition_offset + 20);
  if (end > chunk_size_) {
    definition.state = Template::State::Failed;
    definition.error = {"template definition runs past the end of the chunk", definition_offset};
    error = definition.error;
    return false;
  }
  if (!compile(begin, static_cast<std::uint32_t>(end), true, nesting, definition.ops,
               definition.error)) {
    definition.state = Template::State::Failed;
    error = definition.error;
    return false;
  }
  definition.state = Template::State::Ready;
  return true;
}

bool BinXmlDecoder::compile(std::uint32_t pos, std::uint32_t limit, bool in_template,
                            int nesting, std::vector<Op>& out, DecodeError& error) {
  if (nesting > kMaxFragmentNesting) {
    error = {"templates or Binary XML values are nested too deeply", pos};
    return false;
  }
  struct OpenElement {
    std::uint32_t op = 0;
    std::uint32_t content_count = 0;
    std::uint16_t sole_optional = kNoIndex;
    bool in_content = false;
  };
  std::array<OpenElement, kMaxElementDepth> open;
  std::size_t open_count = 0;
  // The attribute whose value is being read, if any.
  bool in_attribute = false;
  std::uint32_t attribute_op = 0;
  std::uint32_t attribute_values = 0;
  std::uint16_t attribute_sole_optional = kNoIndex;

  auto fail = [&](const char* reason, std::uint32_t at) {
    error = {reason, at};
    return false;
  };
  auto has = [&](std::uint64_t bytes) { return std::uint64_t{pos} + bytes <= limit; };
  auto close_attribute = [&] {
    if (!in_attribute) return;
    out[attribute_op].end = static_cast<std::uint32_t>(out.size());
    if (attribute_values == 1) out[attribute_op].index = attribute_sole_optional;
    in_attribute = false;
  };
  // Counts one content item (text, substitution, child) of the current
  // attribute or element, remembering whether it is a lone optional
  // substitution, whose NULL value drops the attribute or element.
  auto note_content = [&](std::uint16_t optional_index) {
    if (in_attribute) {
      ++attribute_values;
      attribute_sole_optional = attribute_values == 1 ? optional_index : kNoIndex;
    } else if (open_count > 0) {
      OpenElement& element = open[open_count - 1];
      ++element.content_count;
      element.sole_optional = element.content_count == 1 ? optional_index : kNoIndex;
    }
  };
  auto in_start_tag = [&] { return open_count > 0 && !open[open_count - 1].in_content; };

  while (true) {
    if (pos >= limit) {
      // Nested Binary XML values may end without an end-of-fragment token.
      if (open_count == 0 && !in_template) return true;
      return fail("Binary XML ends inside an element", pos);
    }
    const std::uint32_t token_offset = pos;
    const std::uint8_t token = chunk_[pos];
    switch (token & ~kTokenMoreFlag) {
      case kTokenEndOfFragment:
        if (open_count != 0) return fail("end of fragment inside an element", pos);
        return true;

      case kTokenFragmentHeader:
        if (!has(4)) return fail("fragment header is truncated", pos);
        pos += 4;
        break;

      case kTokenOpenStartElement: {
        if (in_attribute || in_start_tag()) return fail("element starts inside a start tag", pos);
        if (open_count == kMaxElementDepth) return fail("elements are nested too deeply", pos);
        note_content(kNoIndex);
        ++pos;
        // Template definitions put a 2-byte dependency id before the data
        // size, but elements in records and Binary XML values do not. Where the
        // other layout makes the name offset point at an inline name right
        // after itself, trust that layout instead.
        bool dependency_id = in_template;
        if (has(10)) {
          bool inline_without = load_u32(chunk_ + pos + 4) == pos + 8;
          bool inline_with = load_u32(chunk_ + pos + 6) == pos + 10;
          if (dependency_id && !inline_with && inline_without) dependency_id = false;
          if (!dependency_id && !inline_without && inline_with) dependency_id = true;
        }
        pos += dependency_id ? 6 : 4;  // dependency id and data size
        std::uint32_t name_id = 0;
        if (pos > limit) return fail("element start is truncated", token_offset);
        if (!read_name_reference(pos, limit, name_id, error)) return false;
        bool attributes = (token & kTokenMoreFlag) != 0;
        if (attributes) {
          if (!has(4)) return fail("attribute list size is truncated", pos);
          pos += 4;
        }
        Op op;
        op.code = OpCode::StartElement;
        op.a = name_id;
        op.has_attributes = attributes;
        open[open_count++] = {static_cast<std::uint32_t>(out.size()), 0, kNoIndex, false};
        out.push_back(op);
        break;
      }

      case kTokenCloseStartElement:
        if (!in_start_tag()) return fail("close of start tag outside a start tag", pos);
        close_attribute();
        open[open_count - 1].in_content = true;
        ++pos;
        break;

      case kTokenCloseEmptyElement:
      case kTokenEndElement: {
        bool empty = (token & ~kTokenMoreFlag) == kTokenCloseEmptyElement;
        if (open_count == 0 || (empty != in_start_tag())) {
          return fail("element end does not match an open element", pos);
        }
        close_attribute();
        OpenElement& element = open[--open_count];
        out[element.op].end = static_cast<std::uint32_t>(out.size());
        if (element.content_count == 1) out[element.op].index = element.sole_optional;
        Op op;
        op.code = OpCode::EndElement;
        out.push_back(op);
        ++pos;
        break;
      }

      case kTokenValue: {
        if (!has(2)) return fail("value token is truncated", pos);
        std::uint8_t type = chunk_[pos + 1];
        pos += 2;
        std::uint32_t size = 0;
        if (type == kTypeString) {
          if (!has(2)) return fail("value text is truncated", pos);
          size = 2 * std::uint32_t{load_u16(chunk_ + pos)};
          pos += 2;
        } else {
          size = static_cast<std::uint32_t>(fixed_item_size(type));
          if (size == 0) return fail("value token has a type without a fixed size", token_offset);
        }
        if (!has(size)) return fail("value data is truncated", pos);
        Op op;
        op.code = OpCode::Value;
        op.type = type;
        op.a = pos;
        op.b = size;
        out.push_back(op);
        note_content(kNoIndex);
        pos += size;
        break;
      }

      case kTokenAttribute: {
        if (!in_start_tag()) return fail("attribute outside a start tag", pos);
        close_attribute();
        ++pos;
        std::uint32_t name_id = 0;
        if (!read_name_reference(pos, limit, name_id, error)) return false;
        Op op;
        op.code = OpCode::Attribute;
        op.a = name_id;
        in_attribute = true;
        attribute_op = static_cast<std::uint32_t>(out.size());
        attribute_values = 0;
        attribute_sole_optional = kNoIndex;
        out.push_back(op);
        break;
      }

      case kTokenCData:
      case kTokenPIData: {
        if (!has(3)) return fail("text token is truncated", pos);
        std::uint32_t size = 2 * std::uint32_t{load_u16(chunk_ + pos + 1)};
        pos += 3;
        if (!has(size)) return fail("text data is truncated", pos);
        if ((token & ~kTokenMoreFlag) == kTokenCData) {
          Op op;
          op.code = OpCode::CData;
          op.a = pos;
          op.b = size;
          out.push_back(op);
          note_content(kNoIndex);
        }
        // Processing instructions carry no event data, so PI data is skipped.
        pos += size;
        break;
      }

      case kTokenCharRef: {
        if (!has(3)) return fail("character reference is truncated", pos);
        Op op;
        op.code = OpCode::CharRef;
        op.a = load_u16(chunk_ + pos + 1);
        out.push_back(op);
        note_content(kNoIndex);
        pos += 3;
        break;
      }

      case kTokenEntityRef:
      case kTokenPITarget: {
        ++pos;
        std::uint32_t name_id = 0;
        if (!read_name_reference(pos, limit, name_id, error)) return false;
        if ((token & ~kTokenMoreFlag) == kTokenEntityRef) {
          Op op;
          op.code = OpCode::EntityRef;
          op.a = name_id;
          out.push_back(op);
          note_content(kNoIndex);
        }
        break;
      }

      case kTokenTemplateInstance: {
        // Unknown byte (1), template id (4), definition offset (4).
        if (!has(10)) return fail("template instance is truncated", pos);
        std::uint32_t definition_offset = load_u32(chunk_ + pos + 6);
        pos += 10;
        if (definition_offset == pos) {
          // The definition follows inline at its first use in the chunk. Skip it.
          if (!has(kTemplateHeaderSize)) return fail("template definition is truncated", pos);
          std::uint64_t next =
              std::uint64_t{pos} + kTemplateHeaderSize + load_u32(chunk_ + pos + 20);
          if (next > limit) return fail("template definition runs past the record", pos);
          pos = static_cast<std::uint32_t>(next);
        }
        std::uint32_t slot = 0;
        if (!find_template(definition_offset, nesting + 1, slot, error)) return false;

        // Value table: count (4), then per value size (2), type (1), unused (1),
        // then the value data in the same order.
        if (!has(4)) return fail("template value count is truncated", pos);
        std::uint32_t table = pos;
        std::uint64_t count = load_u32(chunk_ + pos);
        pos += 4;
        if (count > (limit - pos) / 4) return fail("template value count is too large", table);
        std::uint64_t data_size = 0;
        for (std::uint64_t i = 0; i < count; ++i) data_size += load_u16(chunk_ + pos + 4 * i);
        if (!has(4 * count + data_size)) return fail("template values run past the data", table);
        pos += static_cast<std::uint32_t>(4 * count + data_size);

        Op op;
        op.code = OpCode::TemplateInstance;
        op.a = slot;
        op.b = table;
        out.push_back(op);
        note_content(kNoIndex);
        break;
      }

      case kTokenNormalSubstitution:
      case kTokenOptionalSubstitution: {
        if (!in_template) return fail("substitution outside a template definition", pos);
        if (!has(4)) return fail("substitution is truncated", pos);
        Op op;
        op.code = OpCode::Substitution;
        op.optional = token == kTokenOptionalSubstitution;
        op.index = load_u16(chunk_ + pos + 1);
        op.type = chunk_[pos + 3];
        out.push_back(op);
        note_content(op.optional ? op.index : kNoIndex);
        pos += 4;
        break;
      }

      default:
        return fail("unknown Binary XML token", pos);
    }
  }
}

bool BinXmlDecoder::decode_record(std::uint32_t begin, std::uint32_t end,
                                  std::uint64_t written_time, DecodeError& error) {
  text_.clear();
  pending_.clear();
  frames_.clear();
  subst_.clear();
  in_attribute_ = false;
  has_timestamp_ = false;
  walked_ops_ = 0;
  if (end > chunk_size_ || begin > end) {
    error = {"record data is outside the chunk", begin};
    return false;
  }
  std::vector<Op>& ops = fragment_ops_[0];
  ops.clear();
  if (!compile(begin, end, false, 0, ops, error)) return false;
  if (!walk(ops.data(), 0, ops.size(), ValueScope{}, 0, error)) return false;
  finish_record(written_time);
  return true;
}

}  // namespace sigscope::evtx
