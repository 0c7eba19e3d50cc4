// Processing pipelines in the style of pySigma: YAML files that rename fields,
// add conditions and fill placeholders so that rules written against Sigma's
// field names match another log layout (Winlogbeat / ECS JSON, plain Sysmon
// exports...). They rewrite the compiled form (compile/compiled.h) after
// compilation. docs/pipelines.md lists the supported YAML subset.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/compile/compiled.h"
#include "sigscope/condition/ast.h"
#include "sigscope/rules/yaml.h"

namespace re2 {
class RE2;
}

namespace sigscope {

// One condition of a transformation. Rule conditions test the whole rule,
// detection item conditions one predicate, field name conditions one field.
struct PipelineCondition {
  enum class Kind {
    // Rule conditions.
    Logsource,
    ContainsDetectionItem,
    ContainsField,
    RuleProcessingItemApplied,
    RuleProcessingState,
    Tag,
    IsSigmaRule,
    IsCorrelationRule,
    // Detection item conditions.
    MatchString,
    MatchValue,
    ContainsWildcard,
    IsNull,
    DetectionItemProcessingItemApplied,
    DetectionItemProcessingState,
    // Field name conditions.
    IncludeFields,
    ExcludeFields,
    FieldNameProcessingItemApplied,
    FieldNameProcessingState,
  };
  Kind kind = Kind::Logsource;
  std::string type;  // the `type` as written
  std::string name;  // key when the conditions are a mapping, else "#<n>" (1-based)
  int line = 0;
  int column = 0;

  // logsource: an absent part matches any rule.
  std::optional<std::string> category, product, service;
  // contains_detection_item, contains_field: the field name.
  std::string field;
  // contains_detection_item, match_value, processing_state: the value as
  // text, and as a number when YAML reads it as one.
  std::string value;
  std::optional<double> number;
  // processing_item_applied: id of the transformation.
  std::string item_id;
  // tag: the tag as written, e.g. attack.t1059.
  std::string tag;
  // processing_state: the state key and comparison (eq, ne, gte, gt, lte, lt).
  std::string key;
  std::string op = "eq";
  // match_string: the expression, anchored at the start like Python's re.match.
  std::shared_ptr<const re2::RE2> regex;
  bool negate = false;
  // Value conditions (`cond`): true when every value must match, false for any.
  bool all_values = false;
  // include_fields / exclude_fields: names, or expressions with `mode: re`.
  std::vector<std::string> fields;
  std::vector<std::shared_ptr<const re2::RE2>> field_patterns;
};

// The conditions of one scope of a transformation and how they combine.
struct ConditionGroup {
  std::vector<PipelineCondition> conditions;
  bool any = false;      // `*_cond_op: or`, where the default `and` needs every condition
  bool negated = false;  // `*_cond_not: true`
  // `*_cond_expr`: a boolean expression over the condition names.
  std::optional<ConditionAst> expression;

  bool empty() const { return conditions.empty(); }
};

enum class TransformationType {
  FieldNameMapping,
  FieldNamePrefixMapping,
  FieldNamePrefix,
  FieldNameSuffix,
  AddCondition,
  ValuePlaceholders,
  WildcardPlaceholders,
  ReplaceString,
  MapString,
  DropDetectionItem,
  HashesFields,
  ChangeLogsource,
  RuleFailure,
  DetectionItemFailure,
  SetState,
  SetCustomAttribute,
  AddField,
  RemoveField,
  SetField,
};

// A field name (or string value, for map_string) and what it becomes.
struct NameMapping {
  std::string from;
  std::vector<std::string> to;
};

// One entry of a pipeline's `transformations` list.
struct Transformation {
  TransformationType type = TransformationType::FieldNameMapping;
  std::string type_name;  // as written
  std::string id;         // `id` as written, empty when absent
  std::string label;      // id, or "#<n>" (1-based position) when there is none
  std::string file;
  int line = 0;
  int column = 0;
  ConditionGroup rule_conditions;
  ConditionGroup detection_item_conditions;
  ConditionGroup field_name_conditions;

  // field_name_mapping, field_name_prefix_mapping and map_string, in written order.
  std::vector<NameMapping> mapping;
  // field_name_prefix / field_name_suffix, and hashes_fields' field_prefix.
  std::string affix;
  // hashes_fields: algorithms kept (upper case, e.g. SHA256), and whether the
  // new field names leave out the algorithm.
  std::vector<std::string> hash_algorithms;
  bool drop_algorithm = false;
  // rule_failure / detection_item_failure.
  std::string message;

  // add_condition: the selection as written and compiled once at load time
  // (recompiled per rule when `template` is set).
  YamlNode conditions;
  std::optional<Stage> compiled_conditions;
  // `name`, by default "_pipeline_<id>" or "_pipeline_<n>" (1-based position).
  std::string selection_name;
  bool negated = false;
  bool template_values = false;  // replace $category, $product and $service

  // value_placeholders / wildcard_placeholders: names handled (include) or
  // skipped (exclude). Both empty means every placeholder.
  std::vector<std::string> include;
  std::vector<std::string> exclude;

  // replace_string: RE2 expression and rewrite string (\0 to \9, \\).
  std::shared_ptr<const re2::RE2> regex;
  std::string rewrite;
  bool skip_special = false;
  bool interpret_special = false;

  // change_logsource: the new log source; an absent part becomes empty.
  std::string category, product, service;

  // set_state (key, val) and set_custom_attribute (attribute, value).
  std::string key;
  std::string value;

  // add_field / remove_field / set_field: names in the rule's `fields` list.
  std::vector<std::string> fields;
};

struct Pipeline {
  std::string name;  // `name`, or the file name when it is absent
  int priority = 0;  // pipelines run in ascending priority
  std::string file;  // path it was loaded from, or "builtin:<name>"
  // `vars`: placeholder name to values. A scalar becomes a one-value list.
  std::map<std::string, std::vector<std::string>> vars;
  std::vector<Transformation> transformations;
};

struct PipelineLoadOptions {
  // Report transformations that do not apply to a matching engine, or that
  // sigscope does not implement, as warnings and skip them. By default they
  // are errors and the pipeline does not load.
  bool skip_unsupported = false;
};

// Parses one pipeline from YAML text, naming `path` in diagnostics. Returns
// nullopt when anything is invalid, after reporting every problem with its line.
std::optional<Pipeline> parse_pipeline(std::string_view text, const std::string& path,
                                       DiagnosticList& diagnostics,
                                       const PipelineLoadOptions& options = {});

// Reads and parses a pipeline file. Returns nullopt and reports when the file
// cannot be read or is invalid.
std::optional<Pipeline> load_pipeline_file(const std::string& path, DiagnosticList& diagnostics,
                                           const PipelineLoadOptions& options = {});

// A pipeline compiled into the binary from the repository's pipelines/ folder.
struct ShippedPipeline {
  std::string_view name;
  std::vector<std::string_view> aliases;
  std::string_view summary;  // one line for help text
  std::string_view yaml;
};

// Returns every shipped pipeline, in a fixed order.
const std::vector<ShippedPipeline>& shipped_pipelines();

// Finds a shipped pipeline by name or alias. Returns nullptr when none has it.
const ShippedPipeline* find_shipped_pipeline(std::string_view name);

// Loads pipelines given by shipped name, file path or folder (every .yml and
// .yaml file in it, sorted), and orders them by ascending priority, keeping
// the given order among equal priorities as pySigma does. Returns nullopt when
// any of them is missing or invalid.
std::optional<std::vector<Pipeline>> load_pipelines(const std::vector<std::string>& specs,
                                                    DiagnosticList& diagnostics,
                                                    const PipelineLoadOptions& options = {});

// Orders pipelines by ascending priority, and equal priorities keep their order.
void sort_by_priority(std::vector<Pipeline>& pipelines);

struct PipelineApplyResult {
  std::size_t changed = 0;  // rules whose rule conditions selected them for any transformation
  std::size_t failed = 0;   // rules removed: rejected plus unresolved
  // Ids of rules a transformation rejected: rule_failure, detection_item_failure,
  // a selection left empty by drop_detection_item, a template that did not compile.
  std::vector<std::string> rejected;
  std::vector<std::string> unresolved;  // ids of rules left with placeholders that have no value
};

// Applies `pipelines` in ascending priority to every rule, with the vars of
// all pipelines merged (a later pipeline's value wins). A rule that a
// transformation rejects, or that keeps a placeholder without a value, is
// reported as an error with its id and removed from `rules`, and the others
// keep their order.
PipelineApplyResult apply_pipelines(const std::vector<Pipeline>& pipelines,
                                    std::vector<CompiledRule>& rules, DiagnosticList& diagnostics);

// Returns the names of the placeholders left in a rule's values, sorted and
// without repeats. A rule with any cannot be evaluated.
std::vector<std::string> unresolved_placeholders(const CompiledRule& rule);

// Returns the placeholders left in `rule` once `pipelines` are applied to a
// copy of it, as unresolved_placeholders does: all of them when `pipelines`
// is empty. Returns an empty list when a transformation rejects the rule,
// because then the placeholders are not what stops it.
std::vector<std::string> placeholders_left_by(const std::vector<Pipeline>& pipelines, const CompiledRule& rule);

// Returns the event fields that `pipelines` (sorted by priority) rename
// Sigma's Channel field to, following field_name_mapping entries through
// every pipeline, such as winlog.channel for ecs-windows. Returns an empty
// list when no pipeline renames Channel.
// NOTE: rule conditions and the other renaming transformations
// (field_name_prefix and the like) are not considered.
std::vector<std::string> pipeline_channel_fields(const std::vector<Pipeline>& pipelines);

// Returns the event fields that `pipelines` rename `field` to, as
// pipeline_channel_fields() does for Channel (winlog.event_id for EventID
// with ecs-windows).
std::vector<std::string> pipeline_renamed_fields(const std::vector<Pipeline>& pipelines, const std::string& field);

}  // namespace sigscope
