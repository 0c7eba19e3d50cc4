// The compiled form of a rule, shared by the catalog, the engine and the SQL
// converter: the condition as a tree over stages (named selections), each
// stage a boolean tree over predicates.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sigscope/compile/pattern.h"
#include "sigscope/condition/ast.h"
#include "sigscope/condition/parser.h"
#include "sigscope/rules/model.h"

namespace sigscope {

// Test a predicate applies to the field value.
enum class MatchOp : std::uint8_t {
  Equals,      // whole value matches the pattern
  Contains,    // pattern occurs anywhere
  StartsWith,
  EndsWith,
  Regex,       // regular expression search (unanchored)
  Cidr,        // IP address inside a network
  Exists,      // field presence
  Less,        // numeric comparisons
  LessEqual,
  Greater,
  GreaterEqual,
};

// The part of a date that the time modifiers extract before comparing.
enum class TimePart : std::uint8_t { None, Minute, Hour, Day, Week, Month, Year };

// Network of the cidr modifier: address bytes (IPv4 as 4 bytes, IPv6 as 16)
// and prefix length.
struct CidrNetwork {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> address{};
  int prefix = 0;
};

struct RegexSpec {
  std::string source;
  bool case_insensitive = false;  // re|i
  bool multi_line = false;        // re|m: ^ and $ match at line breaks
  bool dot_all = false;           // re|s: . matches newlines
  // True when RE2 rejects the expression (look-around, backreferences...), so
  // a backtracking engine (PCRE2 with a match limit) has to run it.
  bool needs_backtracking = false;
};

struct CompiledValue {
  enum class Kind {
    Pattern,   // string, number or boolean compared as text
    Null,      // `field: null`: field absent or null
    Regex,
    Cidr,
    Exists,    // `field|exists: true/false`
    Number,    // operand of lt/lte/gt/gte and the time parts
    FieldRef,  // name of another field of the same event
  };
  Kind kind = Kind::Pattern;
  std::string written;  // the value as written in the rule, for display

  // Pattern: the alternatives produced by the encoding modifiers (windash
  // permutations, the three base64offset shifts...). The value matches when
  // any alternative does. Holds exactly one entry without such modifiers.
  std::vector<Pattern> alternatives;
  // Pattern values written as YAML numbers keep their number here too.
  bool numeric = false;
  double number = 0;

  RegexSpec regex;
  CidrNetwork cidr;
  bool exists = true;
  std::string field_ref;
};

struct Predicate {
  std::string field;        // empty for keyword (field-less) search
  MatchOp op = MatchOp::Equals;
  bool negated = false;     // the neq modifier: true when no value matches
  bool match_all = false;   // the all modifier: every value must match
  bool cased = false;       // the cased modifier; regexes carry their own flag
  // The expand modifier: values hold %placeholders%. A processing pipeline
  // clears it once it has replaced every placeholder of the predicate.
  bool expand = false;
  TimePart time_part = TimePart::None;
  std::vector<std::string> modifiers;  // as written, in order
  std::vector<CompiledValue> values;
  int line = 0;    // position in the rule file; 0 for predicates a pipeline added
  int column = 0;
  // Ids of the processing-pipeline transformations that changed this predicate
  // (field renamed, values replaced...), in the order they applied.
  std::vector<std::string> pipeline_items;

  bool is_keyword() const { return field.empty(); }
  // Indicator kind: eq, contains, starts_with, ends_with, regex, cidr, exists,
  // lt, lte, gt, gte, neq, fieldref or keyword.
  std::string kind() const;
  // The modifiers that refine the kind (all, windash, base64offset, cased...).
  std::vector<std::string> extra_modifiers() const;
  // "field|mod1|mod2" as written in the rule.
  std::string key() const;
};

// Boolean tree over the predicates of one stage.
struct StageNode {
  enum class Op { And, Or, Predicate };
  Op op = Op::And;
  int predicate = -1;  // index into Stage::predicates for Op::Predicate
  std::vector<StageNode> children;
};

// One named selection of the detection section.
struct Stage {
  std::string name;
  StageNode root;
  std::vector<Predicate> predicates;
  int line = 0;
  std::string yaml;  // the selection's YAML as written
};

// Condition over stages after "x of pattern" is expanded.
struct ConditionExpr {
  enum class Op { And, Or, Not, Stage };
  Op op = Op::Stage;
  int stage = -1;  // index into CompiledRule::stages for Op::Stage
  std::vector<ConditionExpr> children;
};

// A selection that a processing pipeline's add_condition transformation
// added. Its stage name starts with '_', so `1 of them` skips it.
struct PipelineStage {
  int stage = -1;         // index into CompiledRule::stages
  bool negated = false;   // the condition requires the selection not to match
  std::string pipeline;   // name of the pipeline
  std::string item;       // id of the transformation, or "#<n>" when it has none
  std::string file;       // pipeline file and line of the transformation
  int line = 0;
};

// One field rename done by a pipeline: `from` became the fields in `to`
// (several when a field_name_mapping gives a list).
struct FieldMappingStep {
  std::string from;
  std::vector<std::string> to;
  std::string item;  // transformation id, or "#<n>"
};

// Record of the changes that processing pipelines made to a rule (see
// pipeline/pipeline.h). Empty when no pipeline was applied.
struct PipelineTrace {
  std::vector<std::string> pipelines;      // names of the pipelines applied, in order
  std::vector<std::string> applied_items;  // transformations whose rule conditions matched
  std::vector<PipelineStage> added_stages;
  std::vector<FieldMappingStep> field_mappings;
  std::map<std::string, std::string> state;              // set_state keys and values
  std::map<std::string, std::string> custom_attributes;  // set_custom_attribute
  std::optional<Logsource> original_logsource;           // before change_logsource
};

struct CompiledRule {
  Rule rule;
  std::vector<Stage> stages;          // every named selection, in detection order
  std::vector<std::string> condition_texts;  // the condition(s) as written
  // Parsed condition; a list of conditions becomes an Or. Selections added by
  // a pipeline are and-ed in here and in `condition`, but condition_texts
  // keep the text as written.
  ConditionAst condition_ast;
  ConditionExpr condition;            // expanded condition over stages
  std::optional<LegacyAggregation> aggregation;
  PipelineTrace pipeline;

  // Indices of stages in the order the condition first references them.
  std::vector<int> referenced_stages() const;
};

std::string_view match_op_name(MatchOp op);
std::string_view time_part_name(TimePart part);

}  // namespace sigscope
