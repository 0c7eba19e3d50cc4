// Conversion of compiled detection rules to ClickHouse SQL. The backend reads
// the same compiled form as the engine (after any processing pipeline), and
// writes one SELECT per rule over a table of events with one Nullable(String)
// column per event field, as `hunt` writes its flat `event` objects. A field
// missing from an event is NULL in its column.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "sigscope/compile/compiled.h"

namespace sigscope {

struct ClickHouseOptions {
  std::string table = "events";  // table (or database.table) the queries read
  // Column that keyword predicates search, such as one holding the whole
  // event as text. Empty: rules with keywords are not converted.
  std::string keyword_column;
  // Adds the Channel and EventID conditions of the rule's logsource, as
  // `hunt` routes events. Rows whose Channel is NULL reach every rule, as
  // events without a Channel do in `hunt`.
  bool routing = true;
};

// The query of one rule, or the reason it cannot be converted.
struct ClickHouseQuery {
  std::string sql;     // "SELECT * FROM table WHERE ..." without a final ';'
  std::string where;   // the WHERE expression alone
  std::string reason;  // non-empty when the rule was not converted
};

// Converts one detection rule. `filters` are the filter rules applied to it,
// as `hunt` applies them: those that name the rule and whose logsource
// covers its own (see filter_names and filter_covers). Each adds its
// condition with AND. Correlation and filter rules themselves, regexes that
// RE2 cannot run, the week time part, unresolved placeholders and keywords
// without `keyword_column` give a reason instead of a query.
ClickHouseQuery to_clickhouse(const CompiledRule& rule, const ClickHouseOptions& options,
                              std::span<const CompiledRule* const> filters = {});

// Quotes text as a ClickHouse string literal: 'it\'s'.
std::string clickhouse_string(std::string_view text);
// Quotes a column or table name with backquotes. Dots stay inside the
// quotes, since to_clickhouse() splits only table names at their dot.
std::string clickhouse_identifier(std::string_view name);

}  // namespace sigscope
