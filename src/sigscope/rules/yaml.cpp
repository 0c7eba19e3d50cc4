#include "sigscope/rules/yaml.h"

#include <optional>

#include <libfyaml.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "sigscope/common/text.h"

namespace sigscope {

bool YamlNode::is_null() const {
  if (kind == Kind::Null) return true;
  if (kind != Kind::Scalar || style != Style::Plain) return false;
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

bool YamlNode::is_bool() const {
  if (!is_plain()) return false;
  static constexpr std::string_view kWords[] = {"true", "false", "True",  "False", "TRUE", "FALSE",
                                                "yes",  "no",    "Yes",   "No",    "YES",  "NO",
                                                "on",   "off",   "On",    "Off",   "ON",   "OFF"};
  return std::find(std::begin(kWords), std::end(kWords), text) != std::end(kWords);
}

bool YamlNode::as_bool() const {
  if (!is_bool()) return false;
  char c = text[0] | 0x20;
  return c == 't' || c == 'y' || (c == 'o' && (text[1] | 0x20) == 'n');
}

bool YamlNode::is_int() const {
  if (!is_plain() || text.empty()) return false;
  std::size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (i >= text.size()) return false;
  if (text.size() > i + 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'o')) {
    bool hex = text[i + 1] == 'x';
    for (std::size_t k = i + 2; k < text.size(); ++k) {
      char c = text[k];
      bool ok = hex ? std::isxdigit(static_cast<unsigned char>(c)) : (c >= '0' && c <= '7');
      if (!ok) return false;
    }
    return true;
  }
  for (; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

bool YamlNode::is_number() const {
  if (is_int()) return true;
  if (!is_plain() || text.empty()) return false;
  // Decimal floats: [-+]digits[.digits][e[-+]digits]
  std::size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
  bool digits = false, dot = false, exp = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot && !exp) {
      dot = true;
    } else if ((c == 'e' || c == 'E') && digits && !exp) {
      exp = true;
      if (i + 1 < text.size() && (text[i + 1] == '-' || text[i + 1] == '+')) ++i;
      digits = false;
    } else {
      return false;
    }
  }
  return digits;
}

const YamlNode* YamlNode::find(std::string_view key) const {
  if (kind != Kind::Mapping) return nullptr;
  for (const auto& e : entries)
    if (e.key == key) return &e.value;
  return nullptr;
}

YamlNode* YamlNode::find(std::string_view key) {
  return const_cast<YamlNode*>(static_cast<const YamlNode*>(this)->find(key));
}

namespace {

void set_position_from_token(fy_token* token, int& line, int& column) {
  if (!token) return;
  const fy_mark* mark = fy_token_start_mark(token);
  if (!mark) return;
  line = mark->line + 1;
  column = mark->column + 1;
}

// Limits on the tree built from one YAML stream. libfyaml keeps an alias as a
// reference, but the tree copies the aliased node at every use, so nine
// levels of nine aliases ("billion laughs") would expand to 10^9 nodes.
struct ConvertBudget {
  std::size_t nodes_left = 0;  // nodes the tree may still hold
  bool exhausted = false;
  bool too_deep = false;
  int line = 0;                // position of the node where a limit was hit
  int column = 0;
  std::string_view source;     // the text being parsed, for single_quoted_text()
};

// Returns the value of a single-quoted scalar that fits on one line, read
// from the source: the text between the quotes with each '' made '. libfyaml
// 0.7.12 can return bytes past the end of such a scalar when it contains many
// '' escapes (found by fuzzing), so the source is the safer reading. Returns
// nullopt for multi-line scalars, where YAML folds lines, and when the
// quotes are not where the marks say.
std::optional<std::string> single_quoted_text(fy_node* node, std::string_view source) {
  fy_token* token = fy_node_get_scalar_token(node);
  if (!token || source.empty()) return std::nullopt;
  const fy_mark* start = fy_token_start_mark(token);
  const fy_mark* end = fy_token_end_mark(token);
  if (!start || !end || end->input_pos <= start->input_pos || end->input_pos > source.size()) return std::nullopt;
  std::string_view raw = source.substr(start->input_pos, end->input_pos - start->input_pos);
  if (raw.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
  // The token's marks frame the text inside the quotes.
  if (start->input_pos == 0 || source[start->input_pos - 1] != '\'' || end->input_pos >= source.size() ||
      source[end->input_pos] != '\'')
    return std::nullopt;
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    out.push_back(raw[i]);
    if (raw[i] == '\'') {
      if (i + 1 >= raw.size() || raw[i + 1] != '\'') return std::nullopt;  // a lone quote: not a whole scalar
      ++i;
    }
  }
  return out;
}

// Converts a libfyaml node. `duplicates` collects keys that appear twice in one
// mapping (checked here because libfyaml's generic check costs a tenth of the
// corpus load time). Aliases are followed; `depth` counts nesting through
// aliases as well, which also stops alias cycles. A node past a limit of
// `budget` converts to null and sets the budget's flags.
YamlNode convert(fy_node* node, int fallback_line, int fallback_column,
                 std::vector<YamlEntry>& duplicates, ConvertBudget& budget, int depth = 0) {
  YamlNode out;
  out.line = fallback_line;
  out.column = fallback_column;
  if (budget.exhausted || budget.too_deep) return out;
  if (budget.nodes_left == 0 || depth > kMaxYamlDepth) {
    if (node) set_position_from_token(fy_node_get_scalar_token(node), out.line, out.column);
    (budget.nodes_left == 0 ? budget.exhausted : budget.too_deep) = true;
    budget.line = out.line;
    budget.column = out.column;
    return out;
  }
  --budget.nodes_left;
  if (node && fy_node_is_alias(node)) {
    set_position_from_token(fy_node_get_scalar_token(node), out.line, out.column);
    node = fy_node_resolve_alias(node);
    if (!node) return out;
    ++depth;
  }
  if (!node) return out;
  switch (fy_node_get_type(node)) {
    case FYNT_SCALAR: {
      out.kind = YamlNode::Kind::Scalar;
      size_t len = 0;
      const char* s = fy_node_get_scalar(node, &len);
      out.text.assign(s ? s : "", s ? len : 0);
      switch (fy_node_get_style(node)) {
        case FYNS_SINGLE_QUOTED:
          out.style = YamlNode::Style::SingleQuoted;
          if (auto text = single_quoted_text(node, budget.source)) out.text = std::move(*text);
          break;
        case FYNS_DOUBLE_QUOTED: out.style = YamlNode::Style::DoubleQuoted; break;
        case FYNS_LITERAL:
        case FYNS_FOLDED: out.style = YamlNode::Style::Block; break;
        default: out.style = YamlNode::Style::Plain;
      }
      set_position_from_token(fy_node_get_scalar_token(node), out.line, out.column);
      break;
    }
    case FYNT_SEQUENCE: {
      out.kind = YamlNode::Kind::Sequence;
      void* iter = nullptr;
      fy_node* item;
      while ((item = fy_node_sequence_iterate(node, &iter)) != nullptr) {
        out.items.push_back(convert(item, out.line, out.column, duplicates, budget, depth + 1));
      }
      if (!out.items.empty()) {
        out.line = out.items.front().line;
        out.column = out.items.front().column;
      }
      break;
    }
    case FYNT_MAPPING: {
      out.kind = YamlNode::Kind::Mapping;
      void* iter = nullptr;
      fy_node_pair* pair;
      bool first = true;
      while ((pair = fy_node_mapping_iterate(node, &iter)) != nullptr) {
        fy_node* key = fy_node_pair_key(pair);
        YamlEntry entry;
        entry.line = out.line;
        entry.column = out.column;
        if (key && fy_node_get_type(key) == FYNT_SCALAR) {
          size_t len = 0;
          const char* s = fy_node_get_scalar(key, &len);
          entry.key.assign(s ? s : "", s ? len : 0);
          set_position_from_token(fy_node_get_scalar_token(key), entry.line, entry.column);
        } else if (key) {
          entry.key = yaml_to_flow(convert(key, out.line, out.column, duplicates, budget, depth + 1));
        }
        entry.value = convert(fy_node_pair_value(pair), entry.line, entry.column, duplicates, budget, depth + 1);
        for (const auto& existing : out.entries) {
          if (existing.key == entry.key) {
            duplicates.push_back(YamlEntry{entry.key, entry.line, entry.column, {}});
            break;
          }
        }
        if (first) {
          out.line = entry.line;
          out.column = entry.column;
          first = false;
        }
        out.entries.push_back(std::move(entry));
      }
      break;
    }
  }
  return out;
}

struct ParserDeleter {
  void operator()(fy_parser* p) const { fy_parser_destroy(p); }
};
struct DiagDeleter {
  void operator()(fy_diag* d) const { fy_diag_destroy(d); }
};

int line_of(std::string_view text, std::size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + std::min(offset, text.size()), '\n'));
}

}  // namespace

std::vector<YamlDocument> parse_yaml_stream(std::string_view text, const std::string& path,
                                            DiagnosticList& diagnostics) {
  std::vector<YamlDocument> docs;

  // YAML is Unicode text, so invalid UTF-8 is rejected before parsing. This
  // also avoids a libfyaml 0.7.12 bug: it loops forever on a '%' directive
  // line followed by an invalid byte.
  if (!simdjson::validate_utf8(text.data(), text.size())) {
    std::size_t offset = 0;
    while (offset < text.size()) {
      std::size_t next = offset;
      char32_t cp = decode_utf8(text, next);
      std::size_t len = next - offset;
      if (cp == 0xFFFD && !simdjson::validate_utf8(text.data() + offset, len)) break;
      if (!simdjson::validate_utf8(text.data() + offset, len)) break;
      offset = next;
    }
    int line = line_of(text, offset);
    diagnostics.error(path, line, 0, "", fmt::format("the file is not valid UTF-8 (byte offset {})", offset),
                      "save the file as UTF-8; YAML rule files must be UTF-8 text");
    return docs;
  }

  fy_diag_cfg diag_cfg{};
  diag_cfg.fp = nullptr;
  diag_cfg.output_fn = [](fy_diag*, void*, const char*, size_t) {};
  diag_cfg.level = FYET_ERROR;
  diag_cfg.module_mask = ~0u;
  std::unique_ptr<fy_diag, DiagDeleter> diag(fy_diag_create(&diag_cfg));
  if (diag) fy_diag_set_collect_errors(diag.get(), true);

  fy_parse_cfg cfg{};
  cfg.flags = static_cast<fy_parse_cfg_flags>(FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 |
                                             FYPCF_ALLOW_DUPLICATE_KEYS);
  cfg.diag = diag.get();
  std::unique_ptr<fy_parser, ParserDeleter> parser(fy_parser_create(&cfg));
  if (!parser) {
    diagnostics.error(path, 0, 0, "", "cannot create the YAML parser");
    return docs;
  }
  if (fy_parser_set_string(parser.get(), text.data(), text.size()) != 0) {
    diagnostics.error(path, 0, 0, "", "cannot read the file as YAML text");
    return docs;
  }

  // Each document's text runs from its start mark (the "---" line, or offset 0
  // for the first document so leading comments stay) to the next start.
  struct Pending {
    YamlNode root;
    std::size_t begin;
    std::vector<YamlEntry> duplicates;
  };
  std::vector<Pending> pending;
  ConvertBudget budget;
  budget.nodes_left = text.size() + kMaxYamlAliasNodes;
  budget.source = text;
  fy_document* fyd;
  while ((fyd = fy_parse_load_document(parser.get())) != nullptr) {
    std::size_t begin = 0;
    if (!pending.empty()) {
      const fy_mark* mark = fy_document_state_start_mark(fy_document_get_document_state(fyd));
      begin = mark ? std::min(mark->input_pos, text.size()) : text.size();
    }
    std::vector<YamlEntry> duplicates;
    YamlNode root = convert(fy_document_root(fyd), 1, 1, duplicates, budget);
    fy_parse_document_destroy(parser.get(), fyd);
    if (budget.exhausted || budget.too_deep) {
      // The stream is hostile or broken; documents before this one are kept.
      diagnostics.error(
          path, budget.line, budget.column, "",
          budget.exhausted
              ? fmt::format("the YAML expands to more than {} nodes through aliases; the document "
                            "and the rest of the file are not loaded",
                            text.size() + kMaxYamlAliasNodes)
              : fmt::format("the YAML nests deeper than {} levels (counting aliases); the document and the "
                            "rest of the file are not loaded",
                            kMaxYamlDepth),
          "remove the aliases (*name) or the nesting; Sigma rules need neither at this scale");
      break;
    }
    pending.push_back({std::move(root), begin, std::move(duplicates)});
  }
  for (std::size_t i = 0; i < pending.size(); ++i) {
    std::size_t begin = pending[i].begin;
    std::size_t end = i + 1 < pending.size() ? pending[i + 1].begin : text.size();
    if (end < begin) end = begin;
    YamlDocument doc;
    doc.root = std::move(pending[i].root);
    doc.duplicate_keys = std::move(pending[i].duplicates);
    doc.start_line = line_of(text, begin);
    std::string_view raw = text.substr(begin, end - begin);
    if (raw.substr(0, 3) == "---") {
      std::size_t eol = raw.find('\n');
      raw = eol == std::string_view::npos ? std::string_view{} : raw.substr(eol + 1);
      doc.start_line += 1;
    }
    // Drop a trailing "..." document end marker.
    std::string_view trimmed = raw;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r' || trimmed.back() == ' '))
      trimmed.remove_suffix(1);
    if (trimmed.size() >= 3 && trimmed.substr(trimmed.size() - 3) == "...") {
      std::size_t line_start = trimmed.rfind('\n', trimmed.size() - 3);
      line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
      if (trimmed.substr(line_start) == "...") raw = trimmed.substr(0, line_start);
    }
    doc.text = std::string(raw);
    // Empty documents (a trailing "---", say) carry nothing to load.
    if (doc.root.kind != YamlNode::Kind::Null) docs.push_back(std::move(doc));
  }

  if (diag && fy_diag_got_error(diag.get())) {
    void* iter = nullptr;
    fy_diag_error* err;
    bool reported = false;
    while ((err = fy_diag_errors_iterate(diag.get(), &iter)) != nullptr) {
      if (err->type < FYET_ERROR) continue;
      // A collected error's line and column are already 1-based: libfyaml
      // (fy_diag_vreport, 0.7.12) adds 1 to its token's start mark.
      diagnostics.error(path, std::max(err->line, 0), std::max(err->column, 0), "",
                        fmt::format("invalid YAML: {}", err->msg ? err->msg : "syntax error"),
                        "fix the YAML syntax at this position; the construct may start earlier");
      reported = true;
      break;  // later errors are usually consequences of the first
    }
    if (!reported)
      diagnostics.error(path, 0, 0, "", "invalid YAML", "fix the YAML syntax");
  }
  return docs;
}

void merge_yaml(YamlNode& base, const YamlNode& overlay) {
  if (base.kind != YamlNode::Kind::Mapping || overlay.kind != YamlNode::Kind::Mapping) {
    base = overlay;
    return;
  }
  for (const auto& entry : overlay.entries) {
    YamlNode* existing = base.find(entry.key);
    if (existing) {
      merge_yaml(*existing, entry.value);
    } else {
      base.entries.push_back(entry);
    }
  }
}

namespace {
void flow(const YamlNode& node, std::string& out) {
  switch (node.kind) {
    case YamlNode::Kind::Null: out += "null"; break;
    case YamlNode::Kind::Scalar:
      if (node.style == YamlNode::Style::Plain) {
        out += node.text;
      } else {
        out += '\'';
        for (char c : node.text) {
          if (c == '\'') out += "''";
          else out.push_back(c);
        }
        out += '\'';
      }
      break;
    case YamlNode::Kind::Sequence:
      out += '[';
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        if (i) out += ", ";
        flow(node.items[i], out);
      }
      out += ']';
      break;
    case YamlNode::Kind::Mapping:
      out += '{';
      for (std::size_t i = 0; i < node.entries.size(); ++i) {
        if (i) out += ", ";
        out += node.entries[i].key;
        out += ": ";
        flow(node.entries[i].value, out);
      }
      out += '}';
      break;
  }
}
}  // namespace

std::string yaml_to_flow(const YamlNode& node) {
  std::string out;
  flow(node, out);
  return out;
}

}  // namespace sigscope
