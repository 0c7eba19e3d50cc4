// Facts derived from one compiled rule: its indicators (what it matches on),
// its exclusions (top-level NOT conjuncts of the condition) and the polarity
// of each stage.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "sigscope/compile/compiled.h"

namespace sigscope {

enum class Polarity { Positive, Negative, Both, Unused };

// Polarity of every stage: Negative when the condition only reaches it under
// an odd number of `not`s.
std::vector<Polarity> stage_polarities(const CompiledRule& rule);

// Returns false when the rule's condition is false on every event that lacks
// all of `absent_fields`, whatever the event's other fields hold. A test on
// an absent field is false, except `null`, `exists: false` and keyword
// searches (left open), and the rest of the condition is left open too.
bool can_match_without(const CompiledRule& rule, const std::set<std::string>& absent_fields);

// One (field, kind, value) a rule matches on.
struct Indicator {
  std::string field;  // empty for keyword search
  std::string kind;   // eq, contains, starts_with, ..., keyword
  std::string value;  // shown in Sigma notation; wildcards as * and ?
  std::vector<std::string> modifiers;  // all, windash, base64offset, cased...
  bool case_sensitive = false;
  std::string stage;
  // Key that identifies "the same indicator" across rules: field, kind and
  // value, the value folded when matching ignores case.
  std::string key;
};

// Indicators of the stages the condition reaches positively, in stage order.
std::vector<Indicator> rule_indicators(const CompiledRule& rule);

// One predicate of an exclusion: a top-level `not` conjunct of the condition.
struct Exclusion {
  int group = 0;  // exclusions with the same group suppress together (not (a and b))
  std::string stage;
  std::string field;
  std::string kind;
  std::vector<std::string> values;
  std::vector<std::string> modifiers;
  std::vector<std::string> keys;  // indicator keys of the values, for corpus counts
};

// The top-level NOT conjuncts of the expanded condition. `not (a or b)` splits
// into two groups, since it equals `not a and not b`.
std::vector<Exclusion> rule_exclusions(const CompiledRule& rule);

// A value as it should be shown: the pattern in Sigma notation, the regex
// source, the network, "null" or the referenced field.
std::string display_value(const Predicate& predicate, const CompiledValue& value);

// True when the predicate encodes its values (base64, base64offset, utf16...).
bool has_encoding(const Predicate& predicate);

// The identity key of (predicate, value) used to count shared indicators.
std::string indicator_key(const Predicate& predicate, const std::string& kind,
                          const std::string& display);

// A stage's predicate tree as text, e.g. "Image ends_with '\appcmd.exe' or ...".
std::string stage_logic(const Stage& stage);

// EventID values a rule requires positively (for service-only logsources).
std::vector<int> required_event_ids(const CompiledRule& rule);

}  // namespace sigscope
