// Reading pipeline YAML into the Pipeline model, with a diagnostic for every
// invalid entry.
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/condition/parser.h"
#include "sigscope/pipeline/pipeline.h"

namespace sigscope {

namespace {

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// Parameters of each supported transformation type, besides the common keys.
struct TransformationSpec {
  std::string_view name;
  TransformationType type;
  std::vector<std::string_view> parameters;
  // True when the transformation acts on the whole rule, so detection item and
  // field name conditions have no effect on it.
  bool rule_level = false;
};

const std::vector<TransformationSpec>& transformation_specs() {
  using T = TransformationType;
  static const std::vector<TransformationSpec> specs = {
      {"field_name_mapping", T::FieldNameMapping, {"mapping"}},
      {"field_name_prefix_mapping", T::FieldNamePrefixMapping, {"mapping"}},
      {"field_name_prefix", T::FieldNamePrefix, {"prefix"}},
      {"field_name_suffix", T::FieldNameSuffix, {"suffix"}},
      {"add_condition", T::AddCondition, {"conditions", "name", "template", "negated"}, true},
      {"value_placeholders", T::ValuePlaceholders, {"include", "exclude"}},
      {"wildcard_placeholders", T::WildcardPlaceholders, {"include", "exclude"}},
      {"replace_string", T::ReplaceString, {"regex", "replacement", "skip_special", "interpret_special"}},
      {"map_string", T::MapString, {"mapping"}},
      {"drop_detection_item", T::DropDetectionItem, {}},
      {"hashes_fields", T::HashesFields, {"valid_hash_algos", "field_prefix", "drop_algo_prefix"}},
      {"change_logsource", T::ChangeLogsource, {"category", "product", "service"}, true},
      {"rule_failure", T::RuleFailure, {"message"}, true},
      {"detection_item_failure", T::DetectionItemFailure, {"message"}},
      {"set_state", T::SetState, {"key", "val"}, true},
      {"set_custom_attribute", T::SetCustomAttribute, {"attribute", "value"}, true},
      {"add_field", T::AddField, {"field"}, true},
      {"remove_field", T::RemoveField, {"field"}, true},
      {"set_field", T::SetField, {"fields"}, true},
  };
  return specs;
}

// pySigma transformation types that only shape a backend's query text.
const std::map<std::string_view, std::string_view>& backend_only_types() {
  static const std::map<std::string_view, std::string_view> types = {
      {"query_expression_placeholders", "it replaces placeholders with a backend's query expressions"},
      {"regex", "it rewrites strings as regular expressions for backends that cannot ignore case"},
      {"case", "it changes the case of values for case-sensitive backends"},
      {"convert_type", "it changes value types for a backend's query syntax"},
  };
  return types;
}

// pySigma transformation types that apply to matching but are not implemented.
const std::set<std::string_view>& unimplemented_types() {
  static const std::set<std::string_view> types = {
      "field_name_transform", "set_value", "nest", "strict_field_mapping_failure",
  };
  return types;
}

enum class Scope { Rule, DetectionItem, FieldName };

std::string_view scope_key(Scope scope) {
  switch (scope) {
    case Scope::Rule: return "rule";
    case Scope::DetectionItem: return "detection_item";
    case Scope::FieldName: return "field_name";
  }
  return "rule";
}

struct ConditionSpec {
  std::string_view name;
  Scope scope;
  PipelineCondition::Kind kind;
  std::vector<std::string_view> parameters;
};

const std::vector<ConditionSpec>& condition_specs() {
  using K = PipelineCondition::Kind;
  static const std::vector<ConditionSpec> specs = {
      {"logsource", Scope::Rule, K::Logsource, {"category", "product", "service"}},
      {"contains_detection_item", Scope::Rule, K::ContainsDetectionItem, {"field", "value"}},
      {"contains_field", Scope::Rule, K::ContainsField, {"field"}},
      {"processing_item_applied", Scope::Rule, K::RuleProcessingItemApplied, {"processing_item_id"}},
      {"processing_state", Scope::Rule, K::RuleProcessingState, {"key", "val", "op"}},
      {"tag", Scope::Rule, K::Tag, {"tag"}},
      {"is_sigma_rule", Scope::Rule, K::IsSigmaRule, {}},
      {"is_sigma_correlation_rule", Scope::Rule, K::IsCorrelationRule, {}},
      {"match_string", Scope::DetectionItem, K::MatchString, {"pattern", "cond", "negate"}},
      {"match_value", Scope::DetectionItem, K::MatchValue, {"value", "cond"}},
      {"contains_wildcard", Scope::DetectionItem, K::ContainsWildcard, {"cond"}},
      {"is_null", Scope::DetectionItem, K::IsNull, {"cond"}},
      {"processing_item_applied", Scope::DetectionItem, K::DetectionItemProcessingItemApplied,
       {"processing_item_id"}},
      {"processing_state", Scope::DetectionItem, K::DetectionItemProcessingState, {"key", "val", "op"}},
      {"include_fields", Scope::FieldName, K::IncludeFields, {"fields", "mode"}},
      {"exclude_fields", Scope::FieldName, K::ExcludeFields, {"fields", "mode"}},
      {"processing_item_applied", Scope::FieldName, K::FieldNameProcessingItemApplied,
       {"processing_item_id"}},
      {"processing_state", Scope::FieldName, K::FieldNameProcessingState, {"key", "val", "op"}},
  };
  return specs;
}

std::string supported_transformation_list() {
  std::vector<std::string> names;
  for (const auto& spec : transformation_specs()) names.emplace_back(spec.name);
  return join(names, ", ");
}

std::string condition_list(Scope scope) {
  std::vector<std::string> names;
  for (const auto& spec : condition_specs())
    if (spec.scope == scope) names.emplace_back(spec.name);
  return join(names, ", ");
}

std::string quoted_list(const std::vector<std::string_view>& names) {
  std::vector<std::string> parts;
  for (auto name : names) parts.emplace_back(name);
  return parts.empty() ? std::string("none") : join(parts, ", ");
}

// Converts a Python re.sub replacement string to an RE2 rewrite string:
// \1 to \9 and \g<1> stay group references, \g<name> becomes the group's
// number, \n, \t and \r become the characters, and \\ stays a backslash.
std::optional<std::string> to_re2_rewrite(std::string_view replacement, const re2::RE2& regex,
                                          std::string& error) {
  std::string out;
  for (std::size_t i = 0; i < replacement.size(); ++i) {
    char c = replacement[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= replacement.size()) {
      error = "the replacement ends with a lone backslash";
      return std::nullopt;
    }
    char next = replacement[++i];
    if (next >= '0' && next <= '9') {
      if (i + 1 < replacement.size() && std::isdigit(static_cast<unsigned char>(replacement[i + 1]))) {
        error = "group references above \\9 are not supported";
        return std::nullopt;
      }
      out += '\\';
      out += next;
    } else if (next == 'g') {
      std::size_t close = replacement.find('>', i);
      if (i + 1 >= replacement.size() || replacement[i + 1] != '<' || close == std::string_view::npos) {
        error = "\\g must be followed by <number> or <name>";
        return std::nullopt;
      }
      std::string group(replacement.substr(i + 2, close - i - 2));
      int number = -1;
      if (!group.empty() && std::all_of(group.begin(), group.end(), ::isdigit)) {
        number = std::stoi(group);
      } else {
        const auto& named = regex.NamedCapturingGroups();
        auto it = named.find(group);
        if (it == named.end()) {
          error = fmt::format("the expression has no group named '{}'", group);
          return std::nullopt;
        }
        number = it->second;
      }
      if (number > 9) {
        error = "group references above \\9 are not supported";
        return std::nullopt;
      }
      out += fmt::format("\\{}", number);
      i = close;
    } else if (next == '\\') {
      out += "\\\\";
    } else if (next == 'n') {
      out += '\n';
    } else if (next == 't') {
      out += '\t';
    } else if (next == 'r') {
      out += '\r';
    } else if (std::isalpha(static_cast<unsigned char>(next))) {
      error = fmt::format("unknown escape \\{} in the replacement", next);
      return std::nullopt;
    } else {
      // Python keeps other escapes as written: the backslash and the character.
      out += "\\\\";
      out += next;
    }
  }
  std::string check_error;
  if (!regex.CheckRewriteString(out, &check_error)) {
    error = check_error;
    return std::nullopt;
  }
  return out;
}

class Parser {
 public:
  Parser(const std::string& path, DiagnosticList& diagnostics, const PipelineLoadOptions& options)
      : path_(path), diagnostics_(diagnostics), options_(options) {}

  bool ok() const { return ok_; }

  std::optional<Pipeline> parse(const YamlDocument& document) {
    const YamlNode& root = document.root;
    for (const auto& duplicate : document.duplicate_keys)
      error(duplicate.line, duplicate.column, fmt::format("key '{}' is given twice", duplicate.key),
            "remove one of the two entries");
    if (!root.is_mapping()) {
      error(root, "a pipeline must be a YAML mapping",
            "start the file with keys such as name, priority, vars and transformations");
      return std::nullopt;
    }

    Pipeline pipeline;
    pipeline.file = path_;
    pipeline.name = std::filesystem::path(path_).stem().string();
    const YamlNode* transformations = nullptr;
    for (const auto& entry : root.entries) {
      const YamlNode& value = entry.value;
      if (entry.key == "name") {
        if (auto name = scalar(value, "name")) pipeline.name = *name;
      } else if (entry.key == "priority") {
        if (!value.is_int()) {
          error(value, fmt::format("priority must be an integer, found '{}'", yaml_to_flow(value)),
                "write e.g. 'priority: 20'; pipelines run in ascending priority");
        } else {
          pipeline.priority = std::stoi(value.text, nullptr, 0);
        }
      } else if (entry.key == "vars") {
        parse_vars(value, pipeline);
      } else if (entry.key == "transformations") {
        transformations = &value;
      } else if (entry.key == "postprocessing" || entry.key == "finalizers") {
        warning(entry.line, entry.column,
                fmt::format("'{}' is ignored: it formats a backend's query text and does not apply "
                            "to a matching engine",
                            entry.key),
                "remove the key to silence this warning");
      } else if (entry.key == "allowed_backends") {
        // Names pySigma backends; it has no meaning for the engine.
      } else {
        error(entry.line, entry.column, fmt::format("unknown key '{}' in a pipeline", entry.key),
              "use name, priority, vars and transformations");
      }
    }

    if (transformations && !transformations->is_null()) {
      if (!transformations->is_sequence()) {
        error(*transformations, "transformations must be a list",
              "write each transformation as a list item starting with '- type: ...'");
      } else {
        for (std::size_t i = 0; i < transformations->items.size(); ++i) {
          auto item = parse_transformation(transformations->items[i], i + 1);
          if (item) pipeline.transformations.push_back(std::move(*item));
        }
      }
    }
    check_item_references(pipeline);
    if (!ok_) return std::nullopt;
    return pipeline;
  }

 private:
  void error(int line, int column, std::string message, std::string hint) {
    ok_ = false;
    diagnostics_.error(path_, line, column, "", std::move(message), std::move(hint));
  }
  void error(const YamlNode& at, std::string message, std::string hint) {
    error(at.line, at.column, std::move(message), std::move(hint));
  }
  void warning(int line, int column, std::string message, std::string hint) {
    diagnostics_.warning(path_, line, column, "", std::move(message), std::move(hint));
  }

  std::optional<std::string> scalar(const YamlNode& node, std::string_view subject) {
    if (node.is_scalar() && !node.is_null()) return node.text;
    error(node, fmt::format("{} must be a string, found '{}'", subject, yaml_to_flow(node)),
          fmt::format("give {} a single value", subject));
    return std::nullopt;
  }

  // A string or a list of strings.
  std::optional<std::vector<std::string>> scalar_list(const YamlNode& node, std::string_view subject) {
    if (node.is_scalar() && !node.is_null()) return std::vector<std::string>{node.text};
    if (node.is_sequence() && !node.items.empty()) {
      std::vector<std::string> out;
      for (const auto& item : node.items) {
        if (!item.is_scalar() || item.is_null()) {
          error(item, fmt::format("{} must hold strings, found '{}'", subject, yaml_to_flow(item)),
                "write one string per list item");
          return std::nullopt;
        }
        out.push_back(item.text);
      }
      return out;
    }
    error(node, fmt::format("{} must be a string or a non-empty list of strings, found '{}'", subject,
                            yaml_to_flow(node)),
          "write e.g. [a, b]");
    return std::nullopt;
  }

  std::optional<bool> boolean(const YamlNode& node, std::string_view subject) {
    if (node.is_bool()) return node.as_bool();
    error(node, fmt::format("{} must be true or false, found '{}'", subject, yaml_to_flow(node)),
          "write true or false");
    return std::nullopt;
  }

  void parse_vars(const YamlNode& node, Pipeline& pipeline) {
    if (node.is_null()) return;
    if (!node.is_mapping()) {
      error(node, "vars must be a mapping from placeholder names to values",
            "write e.g. 'vars: {Workstations: [ws1, ws2]}'");
      return;
    }
    for (const auto& entry : node.entries) {
      const YamlNode& value = entry.value;
      std::vector<std::string> values;
      if (value.is_scalar() && !value.is_null()) {
        values.push_back(value.text);
      } else if (value.is_sequence() && value.items.empty()) {
        error(entry.line, entry.column, fmt::format("var '{}' is an empty list", entry.key),
              "give it at least one value");
        continue;
      } else if (value.is_sequence()) {
        for (const auto& item : value.items) {
          if (!item.is_scalar() || item.is_null()) {
            error(item, fmt::format("var '{}' holds '{}', which is not a string or number", entry.key,
                                    yaml_to_flow(item)),
                  "give each value as a string or number");
            continue;
          }
          values.push_back(item.text);
        }
      } else {
        error(entry.line, entry.column,
              fmt::format("var '{}' must be a string, a number or a list of them", entry.key),
              "write e.g. 'Workstations: [ws1, ws2]'");
        continue;
      }
      pipeline.vars[entry.key] = std::move(values);
    }
  }

  std::optional<Transformation> parse_transformation(const YamlNode& node, std::size_t position) {
    if (!node.is_mapping()) {
      error(node, fmt::format("transformation #{} must be a mapping, found '{}'", position,
                              yaml_to_flow(node)),
            "write '- type: field_name_mapping' followed by its parameters");
      return std::nullopt;
    }
    Transformation t;
    t.file = path_;
    t.line = node.line;
    t.column = node.column;
    t.label = fmt::format("#{}", position);
    if (const YamlNode* id = node.find("id")) {
      if (auto text = scalar(*id, "id")) {
        t.id = *text;
        t.label = *text;
      }
    }

    const YamlNode* type = node.find("type");
    if (!type) {
      error(node, fmt::format("transformation {} has no type", t.label),
            fmt::format("add 'type:' with one of: {}", supported_transformation_list()));
      return std::nullopt;
    }
    auto type_name = scalar(*type, "type");
    if (!type_name) return std::nullopt;
    t.type_name = *type_name;

    const auto& specs = transformation_specs();
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const TransformationSpec& s) { return s.name == t.type_name; });
    if (spec == specs.end()) {
      report_unsupported_type(*type, t);
      return std::nullopt;
    }
    t.type = spec->type;

    std::set<std::string, std::less<>> allowed = {"type", "id"};
    for (Scope scope : {Scope::Rule, Scope::DetectionItem, Scope::FieldName}) {
      std::string prefix(scope_key(scope));
      for (const char* suffix : {"_conditions", "_cond_op", "_cond_not", "_cond_expr"})
        allowed.insert(prefix + suffix);
    }
    for (auto parameter : spec->parameters) allowed.emplace(parameter);
    for (const auto& entry : node.entries) {
      if (allowed.count(entry.key)) continue;
      error(entry.line, entry.column,
            fmt::format("unknown key '{}' in a {} transformation", entry.key, t.type_name),
            fmt::format("{} takes the parameters: {}", t.type_name, quoted_list(spec->parameters)));
    }

    t.rule_conditions = parse_group(node, Scope::Rule, t);
    t.detection_item_conditions = parse_group(node, Scope::DetectionItem, t);
    t.field_name_conditions = parse_group(node, Scope::FieldName, t);
    if (spec->rule_level &&
        (!t.detection_item_conditions.empty() || !t.field_name_conditions.empty()))
      warning(t.line, t.column,
              fmt::format("{} acts on the whole rule, so its detection item and field name "
                          "conditions have no effect",
                          t.type_name),
              "use rule_conditions to choose the rules");

    parse_parameters(node, t, position);
    return t;
  }

  void report_unsupported_type(const YamlNode& at, const Transformation& t) {
    auto backend = backend_only_types().find(t.type_name);
    bool known = backend != backend_only_types().end() || unimplemented_types().count(t.type_name);
    if (!known) {
      error(at, fmt::format("unknown transformation type '{}'", t.type_name),
            fmt::format("use one of: {}", supported_transformation_list()));
      return;
    }
    std::string message =
        backend != backend_only_types().end()
            ? fmt::format("transformation {} of type '{}' does not apply to a matching engine: {}",
                          t.label, t.type_name, backend->second)
            : fmt::format("transformation {} of type '{}' is not supported by sigscope", t.label,
                          t.type_name);
    std::string hint = fmt::format("remove it, or use one of: {}", supported_transformation_list());
    if (options_.skip_unsupported) {
      warning(at.line, at.column, message + "; it is skipped", hint);
    } else {
      error(at, message, hint);
    }
  }

  ConditionGroup parse_group(const YamlNode& node, Scope scope, const Transformation& t) {
    ConditionGroup group;
    const std::string prefix(scope_key(scope));
    const YamlNode* conditions = node.find(prefix + "_conditions");
    const YamlNode* op = node.find(prefix + "_cond_op");
    const YamlNode* negated = node.find(prefix + "_cond_not");
    const YamlNode* expression = node.find(prefix + "_cond_expr");

    if (op) {
      auto text = scalar(*op, prefix + "_cond_op");
      if (text && *text != "and" && *text != "or")
        error(*op, fmt::format("{}_cond_op must be 'and' or 'or', found '{}'", prefix, *text),
              "write and (every condition) or or (any condition)");
      group.any = text && *text == "or";
    }
    if (negated) group.negated = boolean(*negated, prefix + "_cond_not").value_or(false);

    if (conditions && !conditions->is_null()) {
      if (conditions->is_sequence()) {
        for (std::size_t i = 0; i < conditions->items.size(); ++i) {
          auto c = parse_condition(conditions->items[i], fmt::format("#{}", i + 1), scope);
          if (c) group.conditions.push_back(std::move(*c));
        }
      } else if (conditions->is_mapping()) {
        for (const auto& entry : conditions->entries) {
          auto c = parse_condition(entry.value, entry.key, scope);
          if (c) group.conditions.push_back(std::move(*c));
        }
      } else {
        error(*conditions, fmt::format("{}_conditions must be a list or a mapping", prefix),
              "write each condition as '- type: ...'");
      }
    }
    if (group.empty() && (negated || op))
      warning(t.line, t.column,
              fmt::format("{}_cond_op and {}_cond_not have no effect without {}_conditions", prefix,
                          prefix, prefix),
              "remove them or add conditions");

    if (expression) parse_expression(*expression, conditions, op, group, prefix);
    return group;
  }

  void parse_expression(const YamlNode& node, const YamlNode* conditions, const YamlNode* op,
                        ConditionGroup& group, const std::string& prefix) {
    auto text = scalar(node, prefix + "_cond_expr");
    if (!text) return;
    if (op) {
      error(node, fmt::format("{}_cond_expr and {}_cond_op cannot be combined", prefix, prefix),
            "write the and/or logic in the expression");
      return;
    }
    if (!conditions || !conditions->is_mapping()) {
      error(node, fmt::format("{}_cond_expr needs {}_conditions as a mapping from names to conditions",
                              prefix, prefix),
            "name each condition, e.g. 'win: {type: logsource, product: windows}'");
      return;
    }
    auto parsed = sigscope::parse_condition(*text);
    if (auto* failure = std::get_if<ConditionParseError>(&parsed)) {
      error(node, fmt::format("invalid {}_cond_expr '{}': {}", prefix, *text, failure->message),
            "use condition names with and, or, not and parentheses");
      return;
    }
    const ConditionAst& ast = std::get<ParsedCondition>(parsed).ast;
    std::set<std::string> used;
    if (!check_expression(ast, group, node, prefix, used)) return;
    for (const auto& c : group.conditions)
      if (!used.count(c.name))
        error(node, fmt::format("{}_cond_expr never uses condition '{}'", prefix, c.name),
              "use every named condition in the expression or remove it");
    group.expression = ast;
  }

  bool check_expression(const ConditionAst& ast, const ConditionGroup& group, const YamlNode& at,
                        const std::string& prefix, std::set<std::string>& used) {
    switch (ast.op) {
      case ConditionAst::Op::OneOf:
      case ConditionAst::Op::AllOf:
        error(at, fmt::format("{}_cond_expr cannot use '1 of' or 'all of'", prefix),
              "name the conditions one by one");
        return false;
      case ConditionAst::Op::Identifier: {
        bool known = std::any_of(group.conditions.begin(), group.conditions.end(),
                                 [&](const PipelineCondition& c) { return c.name == ast.name; });
        if (!known) {
          error(at, fmt::format("{}_cond_expr uses '{}', which is not a condition name", prefix, ast.name),
                fmt::format("name it under {}_conditions", prefix));
          return false;
        }
        used.insert(ast.name);
        return true;
      }
      default:
        for (const auto& child : ast.children)
          if (!check_expression(child, group, at, prefix, used)) return false;
        return true;
    }
  }

  std::optional<PipelineCondition> parse_condition(const YamlNode& node, const std::string& name,
                                                   Scope scope) {
    const std::string prefix(scope_key(scope));
    if (!node.is_mapping()) {
      error(node, fmt::format("{} condition {} must be a mapping", prefix, name),
            "write e.g. '- type: logsource' with its parameters");
      return std::nullopt;
    }
    const YamlNode* type = node.find("type");
    if (!type) {
      error(node, fmt::format("{} condition {} has no type", prefix, name),
            fmt::format("add 'type:' with one of: {}", condition_list(scope)));
      return std::nullopt;
    }
    auto type_name = scalar(*type, "condition type");
    if (!type_name) return std::nullopt;

    const auto& specs = condition_specs();
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const ConditionSpec& s) {
      return s.name == *type_name && s.scope == scope;
    });
    if (spec == specs.end()) {
      auto other = std::find_if(specs.begin(), specs.end(),
                                [&](const ConditionSpec& s) { return s.name == *type_name; });
      if (other != specs.end()) {
        error(*type, fmt::format("condition type '{}' belongs under {}_conditions, not {}_conditions",
                                 *type_name, scope_key(other->scope), prefix),
              "move the condition");
      } else if (*type_name == "rule_attribute") {
        error(*type, "condition type 'rule_attribute' is not supported by sigscope",
              fmt::format("use one of: {}", condition_list(scope)));
      } else {
        error(*type, fmt::format("unknown {} condition type '{}'", prefix, *type_name),
              fmt::format("use one of: {}", condition_list(scope)));
      }
      return std::nullopt;
    }

    PipelineCondition c;
    c.kind = spec->kind;
    c.type = *type_name;
    c.name = name;
    c.line = node.line;
    c.column = node.column;
    for (const auto& entry : node.entries) {
      if (entry.key == "type") continue;
      if (std::find(spec->parameters.begin(), spec->parameters.end(), entry.key) == spec->parameters.end())
        error(entry.line, entry.column,
              fmt::format("unknown key '{}' in a {} condition", entry.key, c.type),
              fmt::format("{} takes the parameters: {}", c.type, quoted_list(spec->parameters)));
    }
    parse_condition_parameters(node, c);
    return c;
  }

  const YamlNode* required(const YamlNode& node, std::string_view key, std::string_view owner) {
    const YamlNode* value = node.find(key);
    if (!value)
      error(node, fmt::format("{} needs '{}'", owner, key), fmt::format("add '{}:' with a value", key));
    return value;
  }

  void parse_value_cond(const YamlNode& node, PipelineCondition& c) {
    const YamlNode* cond = required(node, "cond", c.type);
    if (!cond) return;
    auto text = scalar(*cond, "cond");
    if (text && *text != "any" && *text != "all")
      error(*cond, fmt::format("cond must be 'any' or 'all', found '{}'", *text),
            "write any (one value must match) or all (every value must match)");
    c.all_values = text && *text == "all";
  }

  std::shared_ptr<const re2::RE2> compile_regex(const YamlNode& at, const std::string& source) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_shared<const re2::RE2>(source, options);
    if (!regex->ok()) {
      error(at, fmt::format("invalid regular expression '{}': {}", source, regex->error()),
            "write the expression in RE2 syntax, which has no look-around or backreferences");
      return nullptr;
    }
    return regex;
  }

  void parse_condition_parameters(const YamlNode& node, PipelineCondition& c) {
    using K = PipelineCondition::Kind;
    auto optional_text = [&](std::string_view key) -> std::optional<std::string> {
      const YamlNode* value = node.find(key);
      if (!value || value->is_null()) return std::nullopt;
      return scalar(*value, key);
    };
    auto read_value = [&](std::string_view key) {
      const YamlNode* value = required(node, key, c.type);
      if (!value) return;
      if (auto text = scalar(*value, key)) c.value = *text;
      if (value->is_number()) c.number = std::strtod(value->text.c_str(), nullptr);
    };
    switch (c.kind) {
      case K::Logsource:
        c.category = optional_text("category");
        c.product = optional_text("product");
        c.service = optional_text("service");
        break;
      case K::ContainsDetectionItem:
        if (const YamlNode* field = required(node, "field", c.type)) c.field = scalar(*field, "field").value_or("");
        read_value("value");
        break;
      case K::ContainsField:
        if (const YamlNode* field = required(node, "field", c.type)) c.field = scalar(*field, "field").value_or("");
        break;
      case K::RuleProcessingItemApplied:
      case K::DetectionItemProcessingItemApplied:
      case K::FieldNameProcessingItemApplied:
        if (const YamlNode* id = required(node, "processing_item_id", c.type))
          c.item_id = scalar(*id, "processing_item_id").value_or("");
        break;
      case K::RuleProcessingState:
      case K::DetectionItemProcessingState:
      case K::FieldNameProcessingState: {
        if (const YamlNode* key = required(node, "key", c.type)) c.key = scalar(*key, "key").value_or("");
        read_value("val");
        if (auto op = optional_text("op")) {
          static const std::set<std::string> ops = {"eq", "ne", "gte", "gt", "lte", "lt"};
          if (!ops.count(*op))
            error(*node.find("op"), fmt::format("processing_state op '{}' is invalid", *op),
                  "use eq, ne, gte, gt, lte or lt");
          c.op = *op;
        }
        break;
      }
      case K::Tag:
        if (const YamlNode* tag = required(node, "tag", c.type)) c.tag = scalar(*tag, "tag").value_or("");
        break;
      case K::IsSigmaRule:
      case K::IsCorrelationRule:
        break;
      case K::MatchString:
        parse_value_cond(node, c);
        if (const YamlNode* pattern = required(node, "pattern", c.type)) {
          if (auto text = scalar(*pattern, "pattern")) c.regex = compile_regex(*pattern, *text);
        }
        if (const YamlNode* negate = node.find("negate")) c.negate = boolean(*negate, "negate").value_or(false);
        break;
      case K::MatchValue:
        parse_value_cond(node, c);
        read_value("value");
        break;
      case K::ContainsWildcard:
      case K::IsNull:
        parse_value_cond(node, c);
        break;
      case K::IncludeFields:
      case K::ExcludeFields: {
        const YamlNode* fields = required(node, "fields", c.type);
        if (fields) c.fields = scalar_list(*fields, "fields").value_or(std::vector<std::string>{});
        std::string mode = optional_text("mode").value_or("plain");
        if (mode == "re") {
          for (const auto& field : c.fields)
            if (auto regex = compile_regex(*fields, field)) c.field_patterns.push_back(regex);
        } else if (mode != "plain") {
          error(*node.find("mode"), fmt::format("field matching mode '{}' is invalid", mode),
                "use plain (exact names) or re (regular expressions matched at the start)");
        }
        break;
      }
    }
  }

  // Reads a mapping from names to one name or a list of names.
  std::vector<NameMapping> parse_name_mapping(const YamlNode& node, const Transformation& t) {
    std::vector<NameMapping> out;
    if (!node.is_mapping() || node.entries.empty()) {
      error(node, fmt::format("{} needs 'mapping' as a non-empty mapping", t.type_name),
            "write e.g. 'mapping: {Image: process.executable}'");
      return out;
    }
    for (const auto& entry : node.entries) {
      NameMapping m;
      m.from = entry.key;
      if (entry.value.is_sequence() && entry.value.items.empty()) {
        error(entry.line, entry.column, fmt::format("'{}' is mapped to an empty list", entry.key),
              "map it to at least one name; drop_detection_item removes detection items");
        continue;
      }
      auto targets = scalar_list(entry.value, fmt::format("the mapping of '{}'", entry.key));
      if (!targets) continue;
      if (t.type != TransformationType::MapString &&
          std::any_of(targets->begin(), targets->end(), [](const std::string& s) { return s.empty(); }))
        error(entry.line, entry.column, fmt::format("'{}' is mapped to an empty field name", entry.key),
              "give a field name");
      m.to = std::move(*targets);
      out.push_back(std::move(m));
    }
    return out;
  }

  void parse_parameters(const YamlNode& node, Transformation& t, std::size_t position) {
    using T = TransformationType;
    auto text_of = [&](std::string_view key) -> std::string {
      const YamlNode* value = required(node, key, t.type_name);
      if (!value) return {};
      return scalar(*value, key).value_or("");
    };
    auto flag = [&](std::string_view key) {
      const YamlNode* value = node.find(key);
      return value ? boolean(*value, key).value_or(false) : false;
    };
    switch (t.type) {
      case T::FieldNameMapping:
      case T::FieldNamePrefixMapping:
      case T::MapString:
        if (const YamlNode* mapping = required(node, "mapping", t.type_name))
          t.mapping = parse_name_mapping(*mapping, t);
        break;
      case T::FieldNamePrefix: t.affix = text_of("prefix"); break;
      case T::FieldNameSuffix: t.affix = text_of("suffix"); break;
      case T::AddCondition: parse_add_condition(node, t, position); break;
      case T::ValuePlaceholders:
      case T::WildcardPlaceholders:
        if (const YamlNode* include = node.find("include"))
          t.include = scalar_list(*include, "include").value_or(std::vector<std::string>{});
        if (const YamlNode* exclude = node.find("exclude"))
          t.exclude = scalar_list(*exclude, "exclude").value_or(std::vector<std::string>{});
        if (node.find("include") && node.find("exclude"))
          error(node, fmt::format("{} takes include or exclude, not both", t.type_name),
                "list the placeholders to handle in include, or those to skip in exclude");
        break;
      case T::ReplaceString: {
        const YamlNode* regex = required(node, "regex", t.type_name);
        const YamlNode* replacement = required(node, "replacement", t.type_name);
        t.skip_special = flag("skip_special");
        t.interpret_special = flag("interpret_special");
        if (!regex || !replacement) break;
        auto source = scalar(*regex, "regex");
        // An empty replacement is a YAML null or an empty string.
        std::string written = replacement->is_null() ? std::string() : replacement->text;
        if (!replacement->is_null() && !replacement->is_scalar()) {
          error(*replacement, "replacement must be a string", "write the replacement text");
          break;
        }
        if (!source) break;
        t.regex = compile_regex(*regex, *source);
        if (!t.regex) break;
        std::string problem;
        auto rewrite = to_re2_rewrite(written, *t.regex, problem);
        if (!rewrite) {
          error(*replacement, fmt::format("invalid replacement '{}': {}", written, problem),
                "refer to groups as \\1 to \\9 or \\g<name>, and write \\\\ for a backslash");
          break;
        }
        t.rewrite = *rewrite;
        break;
      }
      case T::DropDetectionItem: break;
      case T::HashesFields: {
        if (const YamlNode* algorithms = required(node, "valid_hash_algos", t.type_name)) {
          for (const auto& name : scalar_list(*algorithms, "valid_hash_algos").value_or(std::vector<std::string>{}))
            t.hash_algorithms.push_back(ascii_upper(name));
        }
        if (const YamlNode* prefix = node.find("field_prefix")) t.affix = scalar(*prefix, "field_prefix").value_or("");
        t.drop_algorithm = flag("drop_algo_prefix");
        break;
      }
      case T::ChangeLogsource: {
        int parts_given = 0;
        for (auto [key, target] : {std::pair{"category", &t.category}, std::pair{"product", &t.product},
                                   std::pair{"service", &t.service}}) {
          const YamlNode* value = node.find(key);
          if (!value || value->is_null()) continue;
          ++parts_given;
          *target = scalar(*value, key).value_or("");
        }
        if (parts_given == 0)
          error(node, "change_logsource needs at least one of category, product and service",
                "write e.g. 'category: process_creation'");
        break;
      }
      case T::RuleFailure:
      case T::DetectionItemFailure: t.message = text_of("message"); break;
      case T::SetState:
        t.key = text_of("key");
        if (const YamlNode* value = required(node, "val", t.type_name)) t.value = flow_text(*value);
        break;
      case T::SetCustomAttribute:
        t.key = text_of("attribute");
        if (const YamlNode* value = required(node, "value", t.type_name)) t.value = flow_text(*value);
        break;
      case T::AddField:
      case T::RemoveField:
        if (const YamlNode* field = required(node, "field", t.type_name))
          t.fields = scalar_list(*field, "field").value_or(std::vector<std::string>{});
        break;
      case T::SetField:
        if (const YamlNode* fields = required(node, "fields", t.type_name)) {
          if (fields->is_sequence() && fields->items.empty()) break;  // clears the list
          t.fields = scalar_list(*fields, "fields").value_or(std::vector<std::string>{});
        }
        break;
    }
  }

  static std::string flow_text(const YamlNode& node) {
    return node.is_scalar() ? node.text : yaml_to_flow(node);
  }

  void parse_add_condition(const YamlNode& node, Transformation& t, std::size_t position) {
    const YamlNode* conditions = required(node, "conditions", t.type_name);
    t.negated = node.find("negated") ? boolean(*node.find("negated"), "negated").value_or(false) : false;
    t.template_values =
        node.find("template") ? boolean(*node.find("template"), "template").value_or(false) : false;
    if (const YamlNode* name = node.find("name")) t.selection_name = scalar(*name, "name").value_or("");
    if (t.selection_name.empty())
      t.selection_name = "_pipeline_" + (t.id.empty() ? std::to_string(position) : t.id);
    if (!conditions) return;
    if (!conditions->is_mapping() && !conditions->is_sequence()) {
      error(*conditions, "add_condition needs 'conditions' as a mapping from fields to values",
            "write e.g. 'conditions: {Channel: Security}'");
      return;
    }
    t.conditions = *conditions;
    std::size_t before = diagnostics_.error_count();
    t.compiled_conditions =
        compile_detached_selection(t.selection_name, *conditions, path_, "", true, diagnostics_);
    if (!t.compiled_conditions || diagnostics_.error_count() != before) ok_ = false;
  }

  // Warns about processing_item_applied conditions naming an id that no
  // transformation of this pipeline has; it may still come from another one.
  void check_item_references(const Pipeline& pipeline) {
    std::set<std::string> ids;
    for (const auto& t : pipeline.transformations)
      if (!t.id.empty()) ids.insert(t.id);
    for (const auto& t : pipeline.transformations)
      for (const ConditionGroup* group :
           {&t.rule_conditions, &t.detection_item_conditions, &t.field_name_conditions})
        for (const auto& c : group->conditions)
          if (!c.item_id.empty() && !ids.count(c.item_id))
            warning(c.line, c.column,
                    fmt::format("processing_item_applied names '{}', but no transformation of this "
                                "pipeline has that id",
                                c.item_id),
                    "check the id; it only matches if another pipeline defines it");
  }

  const std::string& path_;
  DiagnosticList& diagnostics_;
  const PipelineLoadOptions& options_;
  bool ok_ = true;
};

}  // namespace

std::optional<Pipeline> parse_pipeline(std::string_view text, const std::string& path,
                                       DiagnosticList& diagnostics, const PipelineLoadOptions& options) {
  std::size_t errors_before = diagnostics.error_count();
  std::vector<YamlDocument> documents = parse_yaml_stream(text, path, diagnostics);
  if (diagnostics.error_count() != errors_before) return std::nullopt;
  if (documents.empty()) {
    diagnostics.error(path, 1, 0, "", "the pipeline file is empty",
                      "write a mapping with name, priority, vars and transformations");
    return std::nullopt;
  }
  if (documents.size() > 1) {
    diagnostics.error(path, documents[1].start_line, 0, "",
                      fmt::format("a pipeline file holds one YAML document, found {}", documents.size()),
                      "put each pipeline in its own file");
    return std::nullopt;
  }
  Parser parser(path, diagnostics, options);
  return parser.parse(documents.front());
}

std::optional<Pipeline> load_pipeline_file(const std::string& path, DiagnosticList& diagnostics,
                                           const PipelineLoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.error(path, 0, 0, "", "cannot open the pipeline file",
                      "check the path and its read permission");
    return std::nullopt;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_pipeline(buffer.str(), path, diagnostics, options);
}

void sort_by_priority(std::vector<Pipeline>& pipelines) {
  std::stable_sort(pipelines.begin(), pipelines.end(),
                   [](const Pipeline& a, const Pipeline& b) { return a.priority < b.priority; });
}

std::optional<std::vector<Pipeline>> load_pipelines(const std::vector<std::string>& specs,
                                                    DiagnosticList& diagnostics,
                                                    const PipelineLoadOptions& options) {
  std::vector<Pipeline> out;
  bool ok = true;
  auto take = [&](std::optional<Pipeline> pipeline) {
    if (pipeline) out.push_back(std::move(*pipeline));
    else ok = false;
  };
  for (const auto& spec : specs) {
    if (const ShippedPipeline* shipped = find_shipped_pipeline(spec)) {
      take(parse_pipeline(shipped->yaml, fmt::format("builtin:{}", shipped->name), diagnostics, options));
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(spec, ec)) {
      std::vector<std::string> files;
      for (const auto& entry : std::filesystem::directory_iterator(spec, ec)) {
        std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yml" || ext == ".yaml")) files.push_back(entry.path().string());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        diagnostics.error(spec, 0, 0, "", "the pipeline folder holds no .yml or .yaml file",
                          "give a folder with pipeline files, a file or a built-in pipeline name");
        ok = false;
      }
      for (const auto& file : files) take(load_pipeline_file(file, diagnostics, options));
      continue;
    }
    if (std::filesystem::exists(spec, ec)) {
      take(load_pipeline_file(spec, diagnostics, options));
      continue;
    }
    std::vector<std::string> names;
    for (const auto& shipped : shipped_pipelines()) names.emplace_back(shipped.name);
    diagnostics.error(spec, 0, 0, "", "pipeline not found: it is neither a built-in pipeline nor a file",
                      fmt::format("use one of {} or the path of a pipeline YAML file", join(names, ", ")));
    ok = false;
  }
  if (!ok) return std::nullopt;
  sort_by_priority(out);
  return out;
}

}  // namespace sigscope
