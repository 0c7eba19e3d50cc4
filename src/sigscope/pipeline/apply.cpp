// Applying pipeline transformations to compiled rules.
#include <re2/re2.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/pipeline/conditions.h"
#include "sigscope/pipeline/pipeline.h"

namespace sigscope {

namespace {

using pipeline_detail::field_selected;
using pipeline_detail::predicate_selected;
using pipeline_detail::rule_selected;
using pipeline_detail::RuleState;
using pipeline_detail::single_string;
using Vars = std::map<std::string, std::vector<std::string>>;
using T = TransformationType;

// Placeholder expansion multiplies alternatives. Beyond this many per value
// the rule is rejected instead of exhausting memory.
constexpr std::size_t kMaxAlternatives = 65536;

// The action of a stage rewrite on one predicate.
struct LeafEdit {
  enum class Action { Keep, Replace, Drop };
  Action action = Action::Keep;
  std::vector<Predicate> replacements;  // Replace: an Or over these, or an And with `all`
  bool all = false;
};

// Rebuilds `node` over a new predicate list, letting `visit` keep, replace or
// drop each leaf. A node left without children disappears from its parent,
// and one left with a single child is replaced by that child. Returns nullopt
// when nothing is left.
template <class Visit>
std::optional<StageNode> rebuild(const StageNode& node, std::vector<Predicate>& old_predicates,
                                 std::vector<Predicate>& predicates, Visit& visit) {
  auto leaf = [&](Predicate&& p) {
    StageNode n;
    n.op = StageNode::Op::Predicate;
    n.predicate = static_cast<int>(predicates.size());
    predicates.push_back(std::move(p));
    return n;
  };
  if (node.op == StageNode::Op::Predicate) {
    Predicate& p = old_predicates[static_cast<std::size_t>(node.predicate)];
    LeafEdit edit = visit(p);
    switch (edit.action) {
      case LeafEdit::Action::Keep: return leaf(std::move(p));
      case LeafEdit::Action::Drop: return std::nullopt;
      case LeafEdit::Action::Replace: {
        if (edit.replacements.empty()) return std::nullopt;
        if (edit.replacements.size() == 1) return leaf(std::move(edit.replacements.front()));
        StageNode any;
        any.op = edit.all ? StageNode::Op::And : StageNode::Op::Or;
        for (auto& q : edit.replacements) any.children.push_back(leaf(std::move(q)));
        return any;
      }
    }
  }
  StageNode out;
  out.op = node.op;
  for (const auto& child : node.children)
    if (auto rebuilt = rebuild(child, old_predicates, predicates, visit)) out.children.push_back(std::move(*rebuilt));
  if (out.children.empty()) return std::nullopt;
  if (out.children.size() == 1) return std::move(out.children.front());
  return out;
}

// Appends the pieces of `tail` to `pattern`, merging literal runs.
void append_pattern(Pattern& pattern, const Pattern& tail) {
  for (const auto& piece : tail.pieces()) pattern.append(piece.kind, piece.text);
}

// Replaces each placeholder piece that `values_of` has values for with each
// of its patterns, giving every combination. `values_of` returns nullptr for
// placeholders to leave in place. Returns an empty list when there would be
// more than kMaxAlternatives combinations.
template <class ValuesOf>
std::vector<Pattern> expand_placeholders(const Pattern& pattern, const ValuesOf& values_of) {
  std::vector<Pattern> partial(1);
  for (const auto& piece : pattern.pieces()) {
    const std::vector<Pattern>* values =
        piece.kind == PatternPiece::Kind::Placeholder ? values_of(piece.text) : nullptr;
    if (!values) {
      for (auto& p : partial) p.append(piece.kind, piece.text);
      continue;
    }
    std::vector<Pattern> next;
    next.reserve(partial.size() * values->size());
    for (const auto& p : partial) {
      for (const auto& value : *values) {
        Pattern combined = p;
        append_pattern(combined, value);
        next.push_back(std::move(combined));
      }
      if (next.size() > kMaxAlternatives) return {};
    }
    partial = std::move(next);
  }
  return partial;
}

// Replaces $category, ${category}, $product, $service (and $$) in add_condition
// values, like Python's string.Template.safe_substitute.
std::string substitute_template(const std::string& text, const Logsource& logsource) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    bool matched = false;
    for (auto [name, value] : {std::pair<std::string_view, const std::string*>{"category", &logsource.category},
                               {"product", &logsource.product},
                               {"service", &logsource.service}}) {
      std::string plain = "$" + std::string(name);
      std::string braced = "${" + std::string(name) + "}";
      std::string_view rest = std::string_view(text).substr(i);
      bool is_braced = rest.substr(0, braced.size()) == braced;
      bool is_plain = rest.substr(0, plain.size()) == plain &&
                      (rest.size() == plain.size() ||
                       !(std::isalnum(static_cast<unsigned char>(rest[plain.size()])) || rest[plain.size()] == '_'));
      if (is_braced || is_plain) {
        out += *value;
        i += (is_braced ? braced.size() : plain.size()) - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out.push_back('$');
  }
  return out;
}

void substitute_template_values(YamlNode& node, const Logsource& logsource) {
  if (node.is_scalar()) node.text = substitute_template(node.text, logsource);
  for (auto& item : node.items) substitute_template_values(item, logsource);
  for (auto& entry : node.entries) substitute_template_values(entry.value, logsource);
}

// Splits "SHA256=abc" or "SHA256|abc" into algorithm (upper case) and hash,
// as pySigma's hashes_fields does. A value without one separator gets its
// algorithm from its length, or none.
std::pair<std::string, std::string> split_hash(const std::string& text) {
  char separator = text.find('|') != std::string::npos ? '|' : '=';
  std::vector<std::string> parts = split(text, separator);
  if (parts.size() == 2) {
    std::string algorithm = parts[0];
    algorithm.erase(0, algorithm.find_first_not_of('*'));
    for (char& c : algorithm)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return {algorithm, parts[1]};
  }
  switch (text.size()) {
    case 32: return {"MD5", text};
    case 40: return {"SHA1", text};
    case 64: return {"SHA256", text};
    case 128: return {"SHA512", text};
    default: return {"", text};
  }
}

void collect_placeholders(const CompiledRule& rule, std::set<std::string>& names, const Predicate** first) {
  for (const auto& stage : rule.stages)
    for (const auto& predicate : stage.predicates)
      for (const auto& value : predicate.values)
        for (const auto& alternative : value.alternatives)
          for (const auto& piece : alternative.pieces())
            if (piece.kind == PatternPiece::Kind::Placeholder) {
              names.insert(piece.text);
              if (first && !*first) *first = &predicate;
            }
}

// Applies the transformations of the pipelines to one rule.
class RuleProcessor {
 public:
  RuleProcessor(CompiledRule& rule, const Vars& vars, DiagnosticList& diagnostics,
                std::vector<Logsource> referenced_logsources = {})
      : state_{rule, {}, {}, std::move(referenced_logsources)}, rule_(rule), vars_(vars), diagnostics_(diagnostics) {
    for (const auto& name : rule.rule.fields) state_.field_items[name];
  }

  bool failed() const { return failed_; }

  // Names the references of this correlation that are correlations too.
  // Field names used only against their detections are the children's
  // group-by names, not event fields, so they are not renamed.
  void set_correlation_refs(std::set<std::string> refs) { correlation_refs_ = std::move(refs); }

  void apply(const Pipeline& pipeline, const Transformation& t) {
    if (failed_ || !rule_selected(t.rule_conditions, state_)) return;
    pipeline_ = &pipeline;
    t_ = &t;
    state_.applied.insert(t.label);
    rule_.pipeline.applied_items.push_back(t.label);
    switch (t.type) {
      case T::FieldNameMapping:
      case T::FieldNamePrefixMapping:
      case T::FieldNamePrefix:
      case T::FieldNameSuffix: map_fields(); break;
      case T::AddCondition: add_condition(); break;
      case T::ValuePlaceholders:
      case T::WildcardPlaceholders: replace_placeholders(); break;
      case T::ReplaceString: replace_strings(); break;
      case T::MapString: map_strings(); break;
      case T::DropDetectionItem: drop_detection_items(); break;
      case T::HashesFields: split_hashes(); break;
      case T::ChangeLogsource: change_logsource(); break;
      case T::RuleFailure:
        reject(rule_.rule.line, 0, fmt::format("rejected by pipeline '{}' transformation {}: {}",
                                               pipeline.name, t.label, t.message));
        break;
      case T::DetectionItemFailure: fail_detection_items(); break;
      case T::SetState: rule_.pipeline.state[t.key] = t.value; break;
      case T::SetCustomAttribute: rule_.pipeline.custom_attributes[t.key] = t.value; break;
      case T::AddField:
        for (const auto& field : t.fields) rule_.rule.fields.push_back(field);
        break;
      case T::RemoveField:
        for (const auto& field : t.fields)
          rule_.rule.fields.erase(std::remove(rule_.rule.fields.begin(), rule_.rule.fields.end(), field),
                                  rule_.rule.fields.end());
        break;
      case T::SetField: rule_.rule.fields = t.fields; break;
    }
  }

  // Reports the placeholders still left in the rule. Returns true when there are any.
  bool report_unresolved() {
    std::set<std::string> names;
    const Predicate* first = nullptr;
    collect_placeholders(rule_, names, &first);
    if (names.empty()) return false;
    std::vector<std::string> listed;
    for (const auto& name : names) listed.push_back("%" + name + "%");
    std::string message =
        names.size() == 1
            ? fmt::format("placeholder {} has no value, so the rule cannot run", listed.front())
            : fmt::format("placeholders {} have no value, so the rule cannot run", join(listed, ", "));
    const char* pronoun = names.size() == 1 ? "it" : "them";
    diagnostics_.error(rule_.rule.path, first ? first->line : rule_.rule.line, first ? first->column : 0,
                       rule_.rule.id, message,
                       fmt::format("give {0} values in a pipeline's vars and apply value_placeholders, "
                                   "or replace {0} with wildcard_placeholders",
                                   pronoun));
    return true;
  }

 private:
  void reject(int line, int column, std::string message, std::string hint = {}) {
    if (failed_) return;
    failed_ = true;
    if (hint.empty()) hint = "leave the rule out of this hunt, or use a pipeline that supports it";
    diagnostics_.error(rule_.rule.path, line, column, rule_.rule.id, std::move(message), std::move(hint));
  }

  // Rewrites every stage with `visit`. A stage left empty rejects the rule.
  template <class Visit>
  void rewrite_stages(Visit visit) {
    for (auto& stage : rule_.stages) {
      if (failed_) return;
      std::vector<Predicate> old_predicates = std::move(stage.predicates);
      std::vector<Predicate> predicates;
      auto root = rebuild(stage.root, old_predicates, predicates, visit);
      stage.predicates = std::move(predicates);
      if (!root) {
        reject(stage.line ? stage.line : rule_.rule.line, 0,
               fmt::format("pipeline '{}' transformation {} dropped every detection item of selection "
                           "'{}'",
                           pipeline_->name, t_->label, stage.name),
               "an empty selection would match every event; narrow the transformation's conditions");
        stage.root = StageNode{};
        return;
      }
      stage.root = std::move(*root);
    }
  }

  void mark(Predicate& p) {
    if (p.pipeline_items.empty() || p.pipeline_items.back() != t_->label) p.pipeline_items.push_back(t_->label);
  }

  std::optional<std::vector<std::string>> map_name(const std::string& field) const {
    if (field.empty()) return std::nullopt;  // keyword searches have no field to rename
    switch (t_->type) {
      case T::FieldNameMapping:
        for (const auto& m : t_->mapping)
          if (m.from == field) return m.to;
        return std::nullopt;
      case T::FieldNamePrefixMapping:
        for (const auto& m : t_->mapping) {
          if (field.rfind(m.from, 0) != 0) continue;
          std::vector<std::string> out;
          for (const auto& prefix : m.to) out.push_back(prefix + field.substr(m.from.size()));
          return out;
        }
        return std::nullopt;
      case T::FieldNamePrefix: return std::vector<std::string>{t_->affix + field};
      case T::FieldNameSuffix: return std::vector<std::string>{field + t_->affix};
      default: return std::nullopt;
    }
  }

  void record_mapping(const std::string& from, const std::vector<std::string>& to) {
    auto& steps = rule_.pipeline.field_mappings;
    bool known = std::any_of(steps.begin(), steps.end(), [&](const FieldMappingStep& s) {
      return s.from == from && s.to == to && s.item == t_->label;
    });
    if (!known) steps.push_back({from, to, t_->label});
  }

  // Renames one field of a correlation rule, which must stay a single field.
  void map_correlation_field(std::string& field) {
    auto targets = map_name(field);
    if (!targets || !field_selected(t_->field_name_conditions, field, nullptr, state_)) return;
    if (targets->size() != 1) {
      reject(rule_.rule.line, 0,
             fmt::format("pipeline '{}' transformation {} maps '{}' to several fields, which a "
                         "correlation rule cannot group or aggregate by",
                         pipeline_->name, t_->label, field),
             "map the field to one name for correlation rules");
      return;
    }
    record_mapping(field, *targets);
    field = targets->front();
  }

  void map_fields() {
    // The rule's `fields` list.
    std::vector<std::string> fields;
    for (const auto& name : rule_.rule.fields) {
      auto targets = map_name(name);
      if (!targets || !field_selected(t_->field_name_conditions, name, nullptr, state_)) {
        fields.push_back(name);
        continue;
      }
      std::set<std::string> items = state_.field_items[name];
      items.insert(t_->label);
      for (const auto& target : *targets) {
        fields.push_back(target);
        state_.field_items[target] = items;
      }
    }
    rule_.rule.fields = std::move(fields);

    if (rule_.rule.kind == RuleKind::Correlation) {
      Correlation& c = rule_.rule.correlation;
      std::set<std::string> aliases;
      for (auto& [alias, fields_by_rule] : c.aliases) {
        aliases.insert(alias);
        for (auto& [ref, field] : fields_by_rule)
          if (!correlation_refs_.count(ref)) map_correlation_field(field);
      }
      // A correlation over other correlations only groups by their group-by
      // fields, which keep the names written in the rules.
      const bool reads_events = std::any_of(c.rules.begin(), c.rules.end(),
                                            [&](const std::string& ref) { return !correlation_refs_.count(ref); });
      if (!reads_events) return;
      for (auto& field : c.group_by)
        if (!aliases.count(field)) map_correlation_field(field);
      if (!c.condition.field.empty()) map_correlation_field(c.condition.field);
      return;
    }

    rewrite_stages([&](Predicate& p) {
      LeafEdit edit;
      if (!predicate_selected(*t_, p, state_)) return edit;
      bool changed = false;
      std::vector<CompiledValue> values;
      for (auto& v : p.values) {
        std::optional<std::vector<std::string>> targets;
        if (v.kind == CompiledValue::Kind::FieldRef &&
            field_selected(t_->field_name_conditions, v.field_ref, &p, state_))
          targets = map_name(v.field_ref);
        if (!targets) {
          values.push_back(std::move(v));
          continue;
        }
        record_mapping(v.field_ref, *targets);
        for (const auto& target : *targets) {
          CompiledValue copy = v;
          copy.field_ref = target;
          values.push_back(std::move(copy));
        }
        changed = true;
      }
      p.values = std::move(values);

      auto targets = map_name(p.field);
      if (targets && field_selected(t_->field_name_conditions, p.field, &p, state_)) {
        record_mapping(p.field, *targets);
        mark(p);
        if (targets->size() == 1) {
          p.field = targets->front();
          return edit;
        }
        edit.action = LeafEdit::Action::Replace;
        for (const auto& target : *targets) {
          Predicate copy = p;
          copy.field = target;
          edit.replacements.push_back(std::move(copy));
        }
        return edit;
      }
      if (changed) mark(p);
      return edit;
    });
  }

  // The values a placeholder expands to, as patterns, or nullptr to leave it.
  const std::vector<Pattern>* placeholder_values(const std::string& name) {
    const auto& include = t_->include;
    const auto& exclude = t_->exclude;
    if (!include.empty() && std::find(include.begin(), include.end(), name) == include.end()) return nullptr;
    if (std::find(exclude.begin(), exclude.end(), name) != exclude.end()) return nullptr;
    if (t_->type == T::WildcardPlaceholders) {
      static const std::vector<Pattern> any_run = {Pattern::parse("*")};
      return &any_run;
    }
    return var_patterns(name);
  }

  const std::vector<Pattern>* var_patterns(const std::string& name) {
    auto cached = var_cache_.find(name);
    if (cached != var_cache_.end()) return &cached->second;
    auto it = vars_.find(name);
    if (it == vars_.end()) return nullptr;
    std::vector<Pattern> patterns;
    for (const auto& value : it->second) patterns.push_back(Pattern::parse(value));
    return &var_cache_.emplace(name, std::move(patterns)).first->second;
  }

  // Expands placeholders in the values of `p`. Returns false when a value
  // would get more than kMaxAlternatives alternatives.
  template <class ValuesOf>
  bool expand_predicate(Predicate& p, const ValuesOf& values_of) {
    auto reject_too_many = [&](const CompiledValue& v) {
      reject(p.line ? p.line : rule_.rule.line, p.column,
             fmt::format("placeholders in '{}' expand to more than {} alternatives", v.written,
                         kMaxAlternatives),
             "shorten the var lists");
      return false;
    };
    bool changed = false;
    bool remaining = false;
    for (auto& v : p.values) {
      if (v.kind != CompiledValue::Kind::Pattern) continue;
      std::vector<Pattern> alternatives;
      for (const auto& alternative : v.alternatives) {
        if (!alternative.has_placeholders()) {
          alternatives.push_back(alternative);
          continue;
        }
        std::vector<Pattern> expanded = expand_placeholders(alternative, values_of);
        if (expanded.empty()) return reject_too_many(v);
        if (expanded.size() != 1 || !(expanded.front() == alternative)) changed = true;
        for (auto& e : expanded) alternatives.push_back(std::move(e));
        if (alternatives.size() > kMaxAlternatives) return reject_too_many(v);
      }
      v.alternatives = std::move(alternatives);
      if (changed) v.numeric = false;
      for (const auto& a : v.alternatives) remaining = remaining || a.has_placeholders();
    }
    if (changed) {
      mark(p);
      if (!remaining) p.expand = false;
    }
    return true;
  }

  void replace_placeholders() {
    rewrite_stages([&](Predicate& p) {
      if (!failed_ && predicate_selected(*t_, p, state_))
        expand_predicate(p, [&](const std::string& name) { return placeholder_values(name); });
      return LeafEdit{};
    });
  }

  // Applies replace_string to one alternative. Returns true when it changed.
  bool replace_in(Pattern& pattern) {
    const re2::RE2& regex = *t_->regex;
    if (!t_->skip_special) {
      std::string text = pattern.to_sigma();
      if (re2::RE2::GlobalReplace(&text, regex, t_->rewrite) == 0) return false;
      // The result is read back as a Sigma string, so `*` and `?` in it are
      // wildcards unless a backslash escapes them.
      Pattern replaced = Pattern::parse(text, pattern.has_placeholders());
      bool changed = !(replaced == pattern);
      pattern = std::move(replaced);
      return changed;
    }
    // Only literal runs change; wildcards and placeholders stay as they are.
    Pattern out;
    bool changed = false;
    for (const auto& piece : pattern.pieces()) {
      if (piece.kind != PatternPiece::Kind::Literal) {
        out.append(piece.kind, piece.text);
        continue;
      }
      std::string text = piece.text;
      if (re2::RE2::GlobalReplace(&text, regex, t_->rewrite) > 0) changed = true;
      if (t_->interpret_special) append_pattern(out, Pattern::parse(text, true));
      else out.append_literal(text);
    }
    if (changed) pattern = std::move(out);
    return changed;
  }

  void replace_strings() {
    rewrite_stages([&](Predicate& p) {
      if (!predicate_selected(*t_, p, state_)) return LeafEdit{};
      bool changed = false;
      for (auto& v : p.values) {
        if (v.kind != CompiledValue::Kind::Pattern) continue;
        bool value_changed = false;
        for (auto& alternative : v.alternatives) value_changed = replace_in(alternative) || value_changed;
        if (value_changed) v.numeric = false;
        changed = changed || value_changed;
      }
      if (changed) mark(p);
      return LeafEdit{};
    });
  }

  void map_strings() {
    rewrite_stages([&](Predicate& p) {
      if (!predicate_selected(*t_, p, state_)) return LeafEdit{};
      bool changed = false;
      for (auto& v : p.values) {
        // Numbers are mapped by their text too, unlike in pySigma.
        std::optional<std::string> text;
        if (v.kind == CompiledValue::Kind::Pattern && v.alternatives.size() == 1)
          text = v.alternatives.front().to_sigma();
        if (!text) continue;
        auto m = std::find_if(t_->mapping.begin(), t_->mapping.end(),
                              [&](const NameMapping& entry) { return entry.from == *text; });
        if (m == t_->mapping.end()) continue;
        v.alternatives.clear();
        for (const auto& target : m->to) v.alternatives.push_back(Pattern::parse(target));
        v.numeric = false;
        changed = true;
      }
      if (changed) mark(p);
      return LeafEdit{};
    });
  }

  void drop_detection_items() {
    rewrite_stages([&](Predicate& p) {
      LeafEdit edit;
      if (predicate_selected(*t_, p, state_)) edit.action = LeafEdit::Action::Drop;
      return edit;
    });
  }

  // hashes_fields: one predicate per hash algorithm instead of one over the
  // "ALGORITHM=hash" strings of a Hashes field.
  void split_hashes() {
    rewrite_stages([&](Predicate& p) {
      LeafEdit edit;
      if (failed_ || !predicate_selected(*t_, p, state_)) return edit;
      std::vector<std::pair<std::string, std::vector<CompiledValue>>> by_field;
      for (const auto& v : p.values) {
        auto text = single_string(v);
        if (!text) return edit;  // only lists of plain strings are split
        auto [algorithm, hash] = split_hash(*text);
        const auto& valid = t_->hash_algorithms;
        if (std::find(valid.begin(), valid.end(), algorithm) == valid.end()) continue;
        std::string field = t_->affix + (t_->drop_algorithm ? std::string() : algorithm);
        auto slot = std::find_if(by_field.begin(), by_field.end(),
                                 [&](const auto& entry) { return entry.first == field; });
        if (slot == by_field.end()) slot = by_field.insert(by_field.end(), {field, {}});
        CompiledValue value = v;
        value.alternatives = {Pattern::parse(hash)};
        slot->second.push_back(std::move(value));
      }
      if (by_field.empty()) {
        reject(p.line ? p.line : rule_.rule.line, p.column,
               fmt::format("no value of '{}' names a hash algorithm of pipeline '{}' transformation {} "
                           "({})",
                           p.key(), pipeline_->name, t_->label, join(t_->hash_algorithms, ", ")),
               "write the values as ALGORITHM=hash, e.g. SHA256=...");
        return edit;
      }
      edit.action = LeafEdit::Action::Replace;
      edit.all = p.match_all;
      std::vector<std::string> targets;
      for (auto& [field, values] : by_field) {
        Predicate copy = p;
        copy.field = field;
        copy.values = std::move(values);
        mark(copy);
        targets.push_back(field);
        edit.replacements.push_back(std::move(copy));
      }
      record_mapping(p.field, targets);
      return edit;
    });
  }

  void fail_detection_items() {
    for (const auto& stage : rule_.stages)
      for (const auto& p : stage.predicates)
        if (!failed_ && predicate_selected(*t_, p, state_))
          reject(p.line ? p.line : rule_.rule.line, p.column,
                 fmt::format("detection item '{}' rejected by pipeline '{}' transformation {}: {}",
                             p.key(), pipeline_->name, t_->label, t_->message));
  }

  void change_logsource() {
    if (!rule_.pipeline.original_logsource) rule_.pipeline.original_logsource = rule_.rule.logsource;
    rule_.rule.logsource.category = t_->category;
    rule_.rule.logsource.product = t_->product;
    rule_.rule.logsource.service = t_->service;
  }

  std::string unique_stage_name(const std::string& requested) const {
    auto in_use = [&](const std::string& name) {
      return std::any_of(rule_.stages.begin(), rule_.stages.end(),
                         [&](const Stage& s) { return s.name == name; });
    };
    if (!in_use(requested)) return requested;
    for (int n = 2;; ++n) {
      std::string name = fmt::format("{}_{}", requested, n);
      if (!in_use(name)) return name;
    }
  }

  void add_condition() {
    const RuleKind kind = rule_.rule.kind;
    if (kind == RuleKind::Correlation) return;  // correlations have no selections
    std::optional<Stage> stage;
    if (t_->template_values) {
      YamlNode conditions = t_->conditions;
      substitute_template_values(conditions, rule_.rule.logsource);
      stage = compile_detached_selection(t_->selection_name, conditions, t_->file, rule_.rule.id, true,
                                         diagnostics_);
      if (!stage) {
        reject(t_->line, 0, fmt::format("pipeline '{}' transformation {} produced an invalid condition",
                                        pipeline_->name, t_->label));
        return;
      }
    } else {
      stage = t_->compiled_conditions;
      if (!stage) return;  // the loader rejects such pipelines
    }

    stage->name = unique_stage_name(t_->selection_name);
    stage->line = 0;
    for (auto& p : stage->predicates) {
      p.line = 0;
      p.column = 0;
      p.pipeline_items.push_back(t_->label);
      if (!expand_predicate(p, [&](const std::string& name) { return var_patterns(name); })) return;
    }

    const int index = static_cast<int>(rule_.stages.size());
    ConditionExpr selection;
    selection.stage = index;
    ConditionAst identifier;
    identifier.name = stage->name;
    if (t_->negated) {
      ConditionExpr negation;
      negation.op = ConditionExpr::Op::Not;
      negation.children.push_back(std::move(selection));
      selection = std::move(negation);
      ConditionAst ast_negation;
      ast_negation.op = ConditionAst::Op::Not;
      ast_negation.children.push_back(std::move(identifier));
      identifier = std::move(ast_negation);
    }
    ConditionExpr both;
    both.op = ConditionExpr::Op::And;
    both.children.push_back(std::move(selection));
    both.children.push_back(std::move(rule_.condition));
    rule_.condition = std::move(both);
    ConditionAst ast_both;
    ast_both.op = ConditionAst::Op::And;
    ast_both.children.push_back(std::move(identifier));
    ast_both.children.push_back(std::move(rule_.condition_ast));
    rule_.condition_ast = std::move(ast_both);

    rule_.pipeline.added_stages.push_back(
        PipelineStage{index, t_->negated, pipeline_->name, t_->label, t_->file, t_->line});
    rule_.stages.push_back(std::move(*stage));
  }

  RuleState state_;
  CompiledRule& rule_;
  const Vars& vars_;
  std::set<std::string> correlation_refs_;  // see set_correlation_refs()
  DiagnosticList& diagnostics_;
  std::map<std::string, std::vector<Pattern>> var_cache_;
  const Pipeline* pipeline_ = nullptr;
  const Transformation* t_ = nullptr;
  bool failed_ = false;
};

}  // namespace

std::vector<std::string> unresolved_placeholders(const CompiledRule& rule) {
  std::set<std::string> names;
  collect_placeholders(rule, names, nullptr);
  return {names.begin(), names.end()};
}

namespace {

// Pipelines in the order they apply, with the vars of all of them merged.
struct OrderedPipelines {
  std::vector<const Pipeline*> pipelines;
  Vars vars;
};

OrderedPipelines order_pipelines(const std::vector<Pipeline>& pipelines) {
  OrderedPipelines out;
  for (const auto& p : pipelines) out.pipelines.push_back(&p);
  std::stable_sort(out.pipelines.begin(), out.pipelines.end(),
                   [](const Pipeline* a, const Pipeline* b) { return a->priority < b->priority; });
  for (const Pipeline* p : out.pipelines)
    for (const auto& [name, values] : p->vars) out.vars[name] = values;
  return out;
}

}  // namespace

std::vector<std::string> placeholders_left_by(const std::vector<Pipeline>& pipelines, const CompiledRule& rule) {
  std::vector<std::string> names = unresolved_placeholders(rule);
  if (names.empty() || pipelines.empty()) return names;
  const OrderedPipelines ordered = order_pipelines(pipelines);
  CompiledRule copy = rule;
  // The transformations' messages are for hunt and convert, which apply the pipelines themselves.
  DiagnosticList ignored;
  RuleProcessor processor(copy, ordered.vars, ignored);
  for (const Pipeline* p : ordered.pipelines)
    for (const auto& t : p->transformations) processor.apply(*p, t);
  if (processor.failed()) return {};
  return unresolved_placeholders(copy);
}

PipelineApplyResult apply_pipelines(const std::vector<Pipeline>& pipelines, std::vector<CompiledRule>& rules,
                                    DiagnosticList& diagnostics) {
  const OrderedPipelines order = order_pipelines(pipelines);
  const std::vector<const Pipeline*>& ordered = order.pipelines;
  const Vars& vars = order.vars;

  // The logsources a correlation's logsource conditions are tested on: those
  // of the detection rules it references, directly or through correlations.
  auto referenced_logsources = [&](const CompiledRule& correlation) {
    std::vector<Logsource> out;
    std::set<const CompiledRule*> seen{&correlation};
    std::vector<const CompiledRule*> pending{&correlation};
    while (!pending.empty()) {
      const CompiledRule* c = pending.back();
      pending.pop_back();
      for (const std::string& ref : c->rule.correlation.rules)
        for (const CompiledRule& r : rules) {
          if (!is_referenced_by(r.rule, ref) || !seen.insert(&r).second) continue;
          if (r.rule.kind == RuleKind::Correlation) pending.push_back(&r);
          else out.push_back(r.rule.logsource);
        }
    }
    return out;
  };
  std::vector<std::vector<Logsource>> logsources(rules.size());
  std::vector<std::set<std::string>> correlation_refs(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].rule.kind != RuleKind::Correlation) continue;
    logsources[i] = referenced_logsources(rules[i]);
    for (const std::string& ref : rules[i].rule.correlation.rules)
      for (const CompiledRule& r : rules)
        if (r.rule.kind == RuleKind::Correlation && is_referenced_by(r.rule, ref)) correlation_refs[i].insert(ref);
  }

  PipelineApplyResult result;
  std::vector<CompiledRule> runnable;
  runnable.reserve(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    CompiledRule& rule = rules[i];
    RuleProcessor processor(rule, vars, diagnostics, std::move(logsources[i]));
    processor.set_correlation_refs(std::move(correlation_refs[i]));
    for (const Pipeline* p : ordered) {
      rule.pipeline.pipelines.push_back(p->name);
      for (const auto& t : p->transformations) processor.apply(*p, t);
    }
    if (!rule.pipeline.applied_items.empty()) ++result.changed;
    if (processor.failed()) {
      ++result.failed;
      result.rejected.push_back(rule.rule.id);
      continue;
    }
    if (processor.report_unresolved()) {
      ++result.failed;
      result.unresolved.push_back(rule.rule.id);
      continue;
    }
    runnable.push_back(std::move(rule));
  }
  rules = std::move(runnable);
  return result;
}

std::vector<std::string> pipeline_channel_fields(const std::vector<Pipeline>& pipelines) {
  return pipeline_renamed_fields(pipelines, "Channel");
}

std::vector<std::string> pipeline_renamed_fields(const std::vector<Pipeline>& pipelines, const std::string& field) {
  std::vector<std::string> names = {field};
  for (const Pipeline& pipeline : pipelines)
    for (const Transformation& t : pipeline.transformations) {
      if (t.type != TransformationType::FieldNameMapping) continue;
      std::vector<std::string> renamed;
      for (const std::string& name : names) {
        auto mapping = std::find_if(t.mapping.begin(), t.mapping.end(),
                                    [&](const NameMapping& m) { return m.from == name; });
        if (mapping == t.mapping.end()) renamed.push_back(name);
        else renamed.insert(renamed.end(), mapping->to.begin(), mapping->to.end());
      }
      names = std::move(renamed);
    }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::erase(names, field);
  return names;
}

}  // namespace sigscope
