// Tests of the ClickHouse SQL backend: the text of its queries, and their
// verdicts on a clickhouse-server that the tests start on a private port. The
// verdicts are compared with the conformance cases and with the engine's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/compile/compiler.h"
#include "sigscope/convert/clickhouse.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/match/engine.h"
#include "sigscope/rules/loader.h"
#include "sigscope/rules/yaml.h"
#include "test_support.h"

extern char** environ;

namespace sigscope {
namespace {

CompiledRule compile_one(const std::string& yaml) {
  DiagnosticList diagnostics;
  auto rules = load_rules_from_text(yaml, "test.yml", diagnostics);
  auto compiled = compile_rules(std::move(rules), diagnostics, 1);
  EXPECT_EQ(compiled.rules.size(), 1u) << yaml;
  return compiled.rules.empty() ? CompiledRule{} : std::move(compiled.rules.front());
}

std::string rule_with(const std::string& logsource, const std::string& detection) {
  return fmt::format(
      "title: t\nid: 5d6a0f4e-1c2b-4f7a-9d3e-2a1b0c9d8e7f\nstatus: test\nlogsource:\n{}\ndetection:\n{}\nlevel: low\n",
      logsource, detection);
}

const char* kNeutral = "  product: conformance";

// Without routing, so the expected text is the detection alone.
ClickHouseOptions unrouted() {
  ClickHouseOptions options;
  options.routing = false;
  return options;
}

TEST(ClickHouseSql, QuotesStringsAndIdentifiers) {
  EXPECT_EQ(clickhouse_string("it's C:\\x"), "'it\\'s C:\\\\x'");
  EXPECT_EQ(clickhouse_identifier("a`b.c"), "`a\\`b.c`");
}

TEST(ClickHouseSql, PlainValuesUseTextFunctions) {
  auto rule = compile_one(rule_with(kNeutral, "  sel:\n    Image|endswith: '\\Whoami.EXE'\n  condition: sel"));
  auto query = to_clickhouse(rule, unrouted());
  ASSERT_TRUE(query.reason.empty()) << query.reason;
  EXPECT_EQ(query.where, "ifNull(endsWith(lowerUTF8(`Image`), '\\\\whoami.exe'), 0)");
  EXPECT_EQ(query.sql, "SELECT * FROM `events` WHERE " + query.where);
}

TEST(ClickHouseSql, WildcardsBecomeEscapedLikePatterns) {
  auto rule = compile_one(rule_with(kNeutral, "  sel:\n    CommandLine|contains: '50%_a*b?'\n  condition: sel"));
  auto query = to_clickhouse(rule, unrouted());
  ASSERT_TRUE(query.reason.empty()) << query.reason;
  // LIKE's own % and _ are escaped, and Sigma's * and ? become % and _.
  EXPECT_EQ(query.where, "ifNull(lowerUTF8(`CommandLine`) LIKE '%50\\\\%\\\\_a%b_%', 0)");
}

TEST(ClickHouseSql, CasedKeepsTheCase) {
  auto rule = compile_one(rule_with(kNeutral, "  sel:\n    Image|cased: 'Abc'\n  condition: sel"));
  EXPECT_EQ(to_clickhouse(rule, unrouted()).where, "ifNull(`Image` = 'Abc', 0)");
  // Routed, a rule of another product reads only rows without a Channel.
  EXPECT_EQ(to_clickhouse(rule, {}).where, "(isNull(`Channel`) AND ifNull(`Image` = 'Abc', 0))");
}

TEST(ClickHouseSql, WindowsRulesGetTheirChannels) {
  auto rule = compile_one(rule_with("  product: windows\n  category: process_creation",
                                    "  sel:\n    Image|endswith: '\\a.exe'\n  condition: sel"));
  auto query = to_clickhouse(rule, {});
  ASSERT_TRUE(query.reason.empty()) << query.reason;
  EXPECT_NE(query.where.find("lowerUTF8(`Channel`) = 'microsoft-windows-sysmon/operational' AND `EventID` = '1'"),
            std::string::npos)
      << query.where;
  // Security 4688 names the image NewProcessName.
  EXPECT_NE(query.where.find("endsWith(lowerUTF8(`NewProcessName`), '\\\\a.exe')"), std::string::npos) << query.where;
  ClickHouseOptions no_routing;
  no_routing.routing = false;
  EXPECT_EQ(to_clickhouse(rule, no_routing).where.find("Channel"), std::string::npos);
}

// file_access comes from ETW, a source without a channel. Its rules read
// only rows without a Channel, and the query has no empty "()" group.
TEST(ClickHouseSql, ChannelLessSourceGivesValidQuery) {
  auto rule = compile_one(rule_with("  product: windows\n  category: file_access",
                                    "  sel:\n    FileName|contains: '\\vault\\'\n  condition: sel"));
  auto query = to_clickhouse(rule, {});
  ASSERT_EQ(query.reason, "");
  EXPECT_EQ(query.where.find("()"), std::string::npos) << query.where;
  EXPECT_EQ(query.where, "(isNull(`Channel`) AND ifNull(position(lowerUTF8(`FileName`), '\\\\vault\\\\') > 0, 0))");
}

// smbclient-connectivity has a provider but no channel in the logsource
// tables, so its rows are selected by Provider_Name, as hunt routes them.
TEST(ClickHouseSql, ProviderOnlySourceTestsProviderName) {
  auto rule = compile_one(rule_with("  product: windows\n  service: smbclient-connectivity",
                                    "  sel:\n    EventID: 30803\n  condition: sel"));
  auto query = to_clickhouse(rule, {});
  ASSERT_EQ(query.reason, "");
  EXPECT_NE(query.where.find("(isNotNull(`Channel`) AND ifNull(lowerUTF8(`Provider_Name`) = "
                             "'microsoft-windows-smbclient', 0))"),
            std::string::npos)
      << query.where;
}

TEST(ClickHouseSql, UnconvertibleRulesGiveReasons) {
  auto keywords = compile_one(rule_with(kNeutral, "  kw:\n    - 'mimikatz'\n  condition: kw"));
  EXPECT_NE(to_clickhouse(keywords, {}).reason.find("--keyword-column"), std::string::npos);
  ClickHouseOptions with_column;
  with_column.keyword_column = "raw";
  EXPECT_EQ(to_clickhouse(keywords, with_column).reason, "");
  EXPECT_NE(to_clickhouse(keywords, with_column).where.find("`raw`"), std::string::npos);

  auto lookahead = compile_one(rule_with(kNeutral, "  sel:\n    Image|re: 'a(?=b)'\n  condition: sel"));
  EXPECT_NE(to_clickhouse(lookahead, {}).reason.find("backtracking"), std::string::npos);

  auto placeholder = compile_one(rule_with(kNeutral, "  sel:\n    Host|expand: '%Servers%'\n  condition: sel"));
  EXPECT_NE(to_clickhouse(placeholder, {}).reason.find("%Servers%"), std::string::npos);
}

// The convert command: one query per convertible rule on stdout, each
// rule it cannot convert named on stderr, and exit status 3 for those.
TEST(ConvertCli, WritesQueriesAndNamesSkippedRules) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("sigscope-convert-{}", getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.yml") << rule_with(kNeutral, "  sel:\n    Image|endswith: '\\a.exe'\n  condition: sel");
  std::ofstream(dir / "b.yml") << "title: kw\nid: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\nstatus: test\nlogsource:\n"
                                  "  product: conformance\ndetection:\n  kw:\n    - 'mimikatz'\n  condition: kw\n";
  auto result = testing::run_cli({"convert", dir.string(), "--table", "db.logs"});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_NE(result.out.find("SELECT * FROM `db`.`logs` WHERE (isNull(`Channel`) AND ifNull(endsWith(lowerUTF8(`Image`), "
                            "'\\\\a.exe'), 0));"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("mimikatz"), std::string::npos);
  EXPECT_NE(result.err.find("b.yml: rule 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d (kw) not converted: it searches keywords"),
            std::string::npos)
      << result.err;
  auto with_column = testing::run_cli({"convert", dir.string(), "--keyword-column", "raw", "--no-routing"});
  EXPECT_EQ(with_column.exit_code, 0) << with_column.err;
  EXPECT_NE(with_column.out.find("ifNull(position(lowerUTF8(`raw`), 'mimikatz') > 0, 0)"), std::string::npos)
      << with_column.out;
  std::filesystem::remove_all(dir);
}

// A filter rule is ANDed into the query of the rule it names, as hunt applies
// it, and is not itself a rule that failed to convert.
TEST(ConvertCli, AppliesFilterRules) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("sigscope-convert-filter-{}", getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.yml") << rule_with(kNeutral, "  sel:\n    Image|endswith: '\\wevtutil.exe'\n  condition: sel");
  std::ofstream(dir / "f.yml") << "title: Ignore clearing the Application log\nid: 55555555-5555-4555-8555-555555555555\n"
                                  "logsource:\n  product: conformance\nfilter:\n  rules:\n"
                                  "    - 5d6a0f4e-1c2b-4f7a-9d3e-2a1b0c9d8e7f\n  selection:\n"
                                  "    CommandLine|contains: ' cl application'\n  condition: not selection\n";
  auto result = testing::run_cli({"convert", dir.string(), "--no-routing"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("(ifNull(endsWith(lowerUTF8(`Image`), '\\\\wevtutil.exe'), 0) AND NOT "
                            "ifNull(position(lowerUTF8(`CommandLine`), ' cl application') > 0, 0));"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.err.find("applied 1 filter rule to 1 rule"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("not converted: it is a filter rule"), std::string::npos) << result.err;
  std::filesystem::remove_all(dir);
}

// A clickhouse-server of our own, on a private port, with its data in a
// temporary folder. Absent from the machine: available() is false.
class ClickHouseServer {
 public:
  ClickHouseServer() {
    for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/bin"}) {
      if (server_.empty() && std::filesystem::exists(fmt::format("{}/clickhouse-server", dir)))
        server_ = fmt::format("{}/clickhouse-server", dir);
      if (client_.empty() && std::filesystem::exists(fmt::format("{}/clickhouse-client", dir)))
        client_ = fmt::format("{}/clickhouse-client", dir);
    }
    if (server_.empty() || client_.empty()) return;
    std::random_device random;
    for (int attempt = 0; attempt < 5 && !started_; ++attempt) start(20000 + static_cast<int>(random() % 20000));
  }
  ~ClickHouseServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  bool available() const { return started_; }
  std::string why_not() const {
    if (server_.empty() || client_.empty())
      return "clickhouse-server or clickhouse-client is not installed (scripts/setup installs them)";
    return "clickhouse-server did not start; see " + dir_ + "/err.log";
  }

  // Runs SQL (several statements allowed) with `input` on stdin, and
  // returns what the client printed, or sets `error`.
  std::string run(const std::string& sql, const std::string& input, std::string& error) const {
    const std::string sql_file = dir_ + "/query.sql", input_file = dir_ + "/input", err_file = dir_ + "/client.err";
    std::ofstream(sql_file, std::ios::binary) << sql;
    std::ofstream(input_file, std::ios::binary) << input;
    std::string command = input.empty()
                              ? fmt::format("{} --port {} {} --multiquery < {} 2> {}", client_, port_, kLargeQueries, sql_file, err_file)
                              : fmt::format("{} --port {} -q \"$(cat {})\" < {} 2> {}", client_, port_, sql_file,
                                            input_file, err_file);
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    const int status = pclose(pipe);
    error.clear();
    if (status != 0) error = testing::read_file(err_file) + "\nSQL: " + sql;
    return out;
  }

 private:
  void start(int port) {
    std::error_code ec;
    dir_ = (std::filesystem::temp_directory_path() / fmt::format("sigscope-clickhouse-{}-{}", getpid(), port)).string();
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_ + "/data", ec);

    std::ofstream(dir_ + "/config.xml") << fmt::format(
        "<?xml version=\"1.0\"?>\n<yandex>\n<logger><level>warning</level><log>{0}/server.log</log>"
        "<errorlog>{0}/err.log</errorlog><console>0</console></logger>\n<tcp_port>{1}</tcp_port>\n"
        "<listen_host>127.0.0.1</listen_host>\n<path>{0}/data/</path>\n<tmp_path>{0}/tmp/</tmp_path>\n"
        "<user_files_path>{0}/user_files/</user_files_path>\n<users_config>{0}/users.xml</users_config>\n"
        "<default_profile>default</default_profile>\n<default_database>default</default_database>\n"
        "<mark_cache_size>5368709</mark_cache_size>\n</yandex>\n",
        dir_, port);
    std::ofstream(dir_ + "/users.xml")
        << "<?xml version=\"1.0\"?>\n<yandex><profiles><default></default></profiles>"
           "<users><default><password></password><networks><ip>127.0.0.1</ip></networks>"
           "<profile>default</profile><quota>default</quota></default></users>"
           "<quotas><default></default></quotas></yandex>\n";

    const std::string config = "--config-file=" + dir_ + "/config.xml";
    std::vector<char*> argv = {const_cast<char*>(server_.c_str()), const_cast<char*>(config.c_str()), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = dir_ + "/stdout";
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int rc = posix_spawn(&pid_, server_.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = 0;
      return;
    }
    port_ = port;

    for (int i = 0; i < 150; ++i) {
      std::string error;
      if (run("SELECT 1", "", error) == "1\n" && error.empty()) {
        started_ = true;
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken or bad config
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Whole rule sets go in one query, beyond the default 256 KiB and 50,000
  // syntax tree elements.
  static constexpr const char* kLargeQueries =
      "--max_query_size=1000000000 --max_ast_elements=100000000 --max_expanded_ast_elements=100000000";

  std::string server_, client_, dir_;
  pid_t pid_ = 0;
  int port_ = 0;
  bool started_ = false;
};

ClickHouseServer& server() {
  static ClickHouseServer instance;
  return instance;
}

// Returns the backquoted names in an expression: the columns a query reads.
// String literals are skipped, since a value may contain a backquote.
std::set<std::string> columns_of(const std::string& where) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < where.size(); ++i) {
    const char quote = where[i];
    if (quote != '`' && quote != '\'') continue;
    std::string text;
    for (++i; i < where.size() && where[i] != quote; ++i) {
      if (where[i] == '\\' && i + 1 < where.size()) ++i;
      text.push_back(where[i]);
    }
    if (quote == '`') names.insert(std::move(text));
  }
  return names;
}

// An event as a flat row of text, the table layout the backend expects.
using Row = std::map<std::string, std::optional<std::string>>;

// Returns the row of an event, or nullopt for an event with a nested object
// or an array.
std::optional<Row> flat_row(const YamlNode& event) {
  if (event.kind != YamlNode::Kind::Mapping) return std::nullopt;
  Row row;
  for (const auto& entry : event.entries) {
    const YamlNode& v = entry.value;
    if (v.kind == YamlNode::Kind::Null || (v.kind == YamlNode::Kind::Scalar && v.style == YamlNode::Style::Plain &&
                                           v.is_null()))
      row[entry.key] = std::nullopt;
    else if (v.kind == YamlNode::Kind::Scalar)
      row[entry.key] = v.text;
    else
      return std::nullopt;
  }
  return row;
}

// Loads rows into a new Memory table `t` with a `row` number and one
// Nullable(String) column per name that the rows or the queries use.
void load_table(const std::vector<Row>& rows, const std::vector<std::string>& wheres, std::string& error) {
  std::set<std::string> columns;
  for (const auto& row : rows)
    for (const auto& [name, value] : row) columns.insert(name);
  for (const auto& where : wheres) columns.merge(columns_of(where));
  std::string create = "DROP TABLE IF EXISTS t;\nCREATE TABLE t (`row` UInt32";
  for (const auto& c : columns) create += fmt::format(", {} Nullable(String)", clickhouse_identifier(c));
  create += ") ENGINE = Memory;\n";
  server().run(create, "", error);
  if (!error.empty()) return;
  std::string data;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    data += fmt::format("{{\"row\":{}", i);
    for (const auto& [name, value] : rows[i]) {
      data.push_back(',');
      append_json_string(data, name);
      data.push_back(':');
      if (value) append_json_string(data, *value);
      else data += "null";
    }
    data += "}\n";
  }
  server().run("INSERT INTO t FORMAT JSONEachRow", data, error);
}

// Loads the rows and returns the rows each query selects.
std::vector<std::set<std::size_t>> run_queries(const std::vector<Row>& rows, const std::vector<std::string>& wheres,
                                               std::string& error) {
  std::vector<std::set<std::size_t>> out(wheres.size());
  load_table(rows, wheres, error);
  if (!error.empty()) return out;
  for (std::size_t q = 0; q < wheres.size(); ++q) {
    const std::string result = server().run(fmt::format("SELECT row FROM t WHERE {} ORDER BY row", wheres[q]), "", error);
    if (!error.empty()) return out;
    std::size_t start = 0;
    while (start < result.size()) {
      const std::size_t end = result.find('\n', start);
      out[q].insert(std::stoul(result.substr(start, end - start)));
      start = end == std::string::npos ? result.size() : end + 1;
    }
  }
  return out;
}

// Conformance rules whose verdicts the table layout cannot give, with the reason.
const std::map<std::string, std::string> kKnownDifferences = {
    {"4888e544-4654-4b59-9200-b53532867610",
     "exists on a field set to null: a Nullable column holds NULL for a null field and for a missing one"},
};

// Every shared conformance case whose events are flat and whose rules are
// detection rules: the converted queries select exactly the expected events.
TEST(ClickHouseServerTest, ConformanceCasesGiveExpectedVerdicts) {
  SIGSCOPE_REQUIRE_SHARED();
  if (!server().available()) GTEST_SKIP() << server().why_not();
  std::size_t cases_run = 0, rules_checked = 0;
  std::vector<std::string> not_converted;
  for (const auto& entry : std::filesystem::directory_iterator(testing::shared_dir() / "conformance")) {
    if (entry.path().extension() != ".yml") continue;
    SCOPED_TRACE(entry.path().filename().string());
    DiagnosticList case_diagnostics;
    auto docs = parse_yaml_stream(testing::read_file(entry.path()), entry.path().string(), case_diagnostics);
    ASSERT_EQ(docs.size(), 1u);
    const YamlNode& root = docs[0].root;
    const YamlNode* expect = root.find("expect");
    if (!expect || root.find("expect_correlations") || root.find("expect_load_error")) continue;
    std::vector<Row> rows;
    bool flat = true;
    for (const auto& event : root.find("events")->items) {
      auto row = flat_row(event);
      if (!row) flat = false;
      else rows.push_back(std::move(*row));
    }
    if (!flat) continue;
    DiagnosticList diagnostics;
    auto compiled = compile_rules(load_rules_from_text(root.find("rules")->text, entry.path().string(), diagnostics),
                                  diagnostics, 1);
    bool detection_only = true;
    for (const auto& r : compiled.rules) detection_only &= r.rule.kind == RuleKind::Detection;
    if (!detection_only) continue;
    std::vector<std::string> wheres, ids;
    for (const auto& r : compiled.rules) {
      auto query = to_clickhouse(r, {});
      if (!query.reason.empty()) {
        not_converted.push_back(fmt::format("{} {}: {}", entry.path().filename().string(), r.rule.id, query.reason));
        continue;
      }
      wheres.push_back(query.where);
      ids.push_back(r.rule.id);
    }
    std::string error;
    auto selected = run_queries(rows, wheres, error);
    ASSERT_EQ(error, "");
    ++cases_run;
    for (std::size_t q = 0; q < ids.size(); ++q) {
      ++rules_checked;
      std::set<std::size_t> expected;
      for (const auto& e : expect->items)
        for (const auto& id : e.find("matches")->items)
          if (id.text == ids[q]) expected.insert(std::stoul(e.find("event")->text));
      if (auto known = kKnownDifferences.find(ids[q]); known != kKnownDifferences.end()) {
        // Listed so the list stays true: a fix makes this fail.
        EXPECT_NE(selected[q], expected) << "rule " << ids[q] << " now agrees; remove it from kKnownDifferences";
        std::cout << "known difference: " << ids[q] << ": " << known->second << "\n";
        continue;
      }
      EXPECT_EQ(selected[q], expected) << "rule " << ids[q] << "\nWHERE " << wheres[q];
    }
  }
  for (const auto& n : not_converted) std::cout << "not converted: " << n << "\n";
  std::cout << cases_run << " cases, " << rules_checked << " rules checked through ClickHouse\n";
  EXPECT_GE(cases_run, 10u);
}

// Flattens the JSON reader's fields into a row. Events that repeat a field
// name have no flat row, since a column contains one value.
std::optional<Row> row_of(const RawEvent& event) {
  Row row;
  for (const auto& f : event.fields) {
    std::optional<std::string> value;
    if (f.type != ValueType::Null) value = std::string(f.value);
    if (!row.emplace(std::string(f.name), std::move(value)).second) return std::nullopt;
  }
  return row;
}

// Every operator and modifier on events built to tell their variants apart
// (startswith from contains, cased from caseless, each regex flag...): the
// converted queries and the engine give the same verdict on each event.
TEST(ClickHouseServerTest, OperatorsAgreeWithEngine) {
  if (!server().available()) GTEST_SKIP() << server().why_not();
  const std::vector<std::string> selections = {
      "v: 'abc'", "v|contains: 'bc'", "v|startswith: 'ab'", "v|endswith: 'bc'", "v: 'a?c'", "v: 'a*c'",
      "v|cased: 'ABC'", "v|contains|cased: 'BC'", "v|re: '^a.c$'", "v|re|i: '^ABC$'", "v|re: 'a.bc'",
      "v|re|s: 'a.bc'", "v|re|m: '^bc$'", "v|re: '^bc$'", "v|re: '(?i)xab'", "v|cidr: '10.1.0.0/16'",
      "v|cidr: 'fe80::/10'", "v|lt: 10", "v|gte: 42", "v|minute: 30", "v|hour: 23", "v|year: 2024", "v|month: 5",
      "v|day: 1", "v: null", "v|exists: true", "v|exists: false", "v|neq: 'abc'", "v|contains|all: ['a', 'c']",
      "v|contains|windash: ' -c '", "v|base64offset|contains: 'whoami'", "v|fieldref: w",
      "v|fieldref|contains: w", "v|fieldref|startswith: w", "v: 'a%b'", "v: 'a_b'", "v|endswith: '\\cmd.exe'",
      "v|startswith: 'c:\\windows\\'", "v: \"it's\"", "v|contains: 'äb'", "v: 42", "v: ''", "v|contains: ''",
      "v|wide|base64offset|contains: 'ping'", "v|utf16le|base64: 'ab'", "v|contains: '*'", "v|contains: 'a\\*c'"};
  const std::vector<std::string> values = {
      "abc", "ABC", "xabc", "abcx", "a\nbc", "ab", "", "10.1.2.3", "10.2.0.1", "::1", "fe80::1", "2001:db8::5", "42",
      "4.2e1", "-7", "0x10", "2024-05-01T10:30:00Z", "2024-05-01 23:59", "2023-12-31T23:30:00",
      "C:\\Windows\\System32\\cmd.exe", "c:\\windows\\system32\\CMD.EXE", "cmd /c whoami", "cmd -c whoami",
      "cmd \u2013c whoami", "d2hvYW1p", "Ad2hvYW1p", "x3aG9hbW", "cABpAG4AZwA", "YQBiAA==", "ÄBC", "äbc", "a%b", "a_b",
      "axb", "a\\b", "it's", "abcabc", "a*c", "xaBc", "XAB"};
  std::vector<std::string> events;
  for (const auto& v : values) {
    std::string quoted;
    append_json_string(quoted, v);
    events.push_back("{\"v\":" + quoted + "}");
    events.push_back("{\"v\":" + quoted + ",\"w\":\"ab\"}");
    events.push_back("{\"v\":" + quoted + ",\"w\":" + quoted + "}");
  }
  events.push_back("{\"w\":\"abc\"}");
  events.push_back("{\"v\":null}");
  events.push_back("{\"v\":42}");

  std::string yaml;
  for (std::size_t i = 0; i < selections.size(); ++i)
    yaml += fmt::format(
        "title: op {0}\nid: 00000000-0000-4000-8000-{0:012}\nstatus: test\nlogsource:\n  product: conformance\n"
        "detection:\n  sel:\n    {1}\n  condition: {2}sel\nlevel: low\n---\n",
        i, selections[i], i % 5 == 4 ? "not " : "");
  yaml.resize(yaml.size() - 4);  // the last "---\n"
  DiagnosticList diagnostics;
  auto compiled = compile_rules(load_rules_from_text(yaml, "ops.yml", diagnostics), diagnostics, 1);
  for (const auto& d : diagnostics.items())
    if (d.severity == Severity::Error) ADD_FAILURE() << d.format();
  ASSERT_EQ(compiled.rules.size(), selections.size());
  Engine engine(std::move(compiled.rules), EngineOptions{}, diagnostics);
  ASSERT_TRUE(engine.unsupported().empty());
  std::vector<std::string> wheres;
  for (const auto* r : engine.rules()) {
    auto query = to_clickhouse(*r, {});
    ASSERT_EQ(query.reason, "") << r->rule.title;
    wheres.push_back(query.where);
  }
  auto matcher = engine.matcher();
  JsonEventReader reader;
  std::vector<Row> rows;
  std::vector<std::set<std::size_t>> fired;
  for (std::size_t i = 0; i < events.size(); ++i) {
    std::string error;
    std::vector<Detection> detections;
    bool flat = true;
    ASSERT_TRUE(reader.read_object(events[i], i + 1, [&](const RawEvent& event) {
      auto row = row_of(event);
      if (!row) {
        flat = false;
        return;
      }
      rows.push_back(std::move(*row));
      matcher->match(event, detections);
      std::set<std::size_t> rules;
      for (const auto& d : detections) rules.insert(d.rule);
      fired.push_back(std::move(rules));
    }, error)) << error;
    ASSERT_TRUE(flat) << events[i];
  }
  std::string error;
  auto selected = run_queries(rows, wheres, error);
  ASSERT_EQ(error.substr(0, 2000), "");
  std::size_t hits = 0;
  for (std::size_t q = 0; q < wheres.size(); ++q) {
    std::set<std::size_t> expected;
    for (std::size_t row = 0; row < rows.size(); ++row)
      if (fired[row].count(q)) expected.insert(row);
    if (selections[q].find("exists") != std::string::npos || selections[q].find("neq") != std::string::npos) {
      // A null field and a missing one are both NULL in the table (see
      // kKnownDifferences), so {"v":null} is left out for exists and neq.
      const std::size_t null_row = events.size() - 2;
      ASSERT_EQ(events[null_row], "{\"v\":null}");
      expected.erase(null_row);
      selected[q].erase(null_row);
    }
    hits += expected.size();
    std::string differ;
    for (std::size_t row = 0; row < rows.size(); ++row)
      if (expected.count(row) != selected[q].count(row))
        differ += fmt::format("\n  {} engine {}", events[row], expected.count(row));
    EXPECT_EQ(selected[q], expected) << engine.rules()[q]->rule.title << " (" << selections[q] << ")\nWHERE "
                                     << wheres[q] << "\nevents that differ:" << differ;
  }
  EXPECT_GT(hits, 100u);
}

// Filter rules through ClickHouse and through the engine: a filter of the
// rule's logsource suppresses, one of another logsource is not applied, and a
// filter on a renamed field reads the source's own column (Security 4688).
TEST(ClickHouseServerTest, FiltersAgreeWithEngine) {
  if (!server().available()) GTEST_SKIP() << server().why_not();
  const std::string yaml =
      "title: Log cleared\nid: 11111111-1111-4111-8111-111111111111\nstatus: test\nlogsource:\n"
      "  category: process_creation\n  product: windows\ndetection:\n  sel:\n    Image|endswith: '\\wevtutil.exe'\n"
      "  condition: sel\nlevel: low\n---\n"
      "title: Other\nid: 22222222-2222-4222-8222-222222222222\nstatus: test\nlogsource:\n"
      "  category: process_creation\n  product: windows\ndetection:\n  sel:\n    CommandLine|contains: ' cl '\n"
      "  condition: sel\nlevel: low\n---\n"
      "title: Ignore the Application log\nid: 33333333-3333-4333-8333-333333333333\nlogsource:\n"
      "  product: windows\nfilter:\n  rules:\n    - 11111111-1111-4111-8111-111111111111\n  selection:\n"
      "    CommandLine|contains: ' cl application'\n  other:\n    ParentImage|endswith: '\\admin.exe'\n"
      "  condition: not (selection or other)\n---\n"
      "title: Not for this logsource\nid: 44444444-4444-4444-8444-444444444444\nlogsource:\n"
      "  category: network_connection\n  product: windows\nfilter:\n  rules:\n"
      "    - 22222222-2222-4222-8222-222222222222\n  selection:\n    CommandLine|contains: 'application'\n"
      "  condition: not selection\n";

  const std::vector<std::string> events = {
      R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\w\\wevtutil.exe","CommandLine":"wevtutil.exe cl application"})",
      R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\w\\wevtutil.exe","CommandLine":"wevtutil.exe cl security"})",
      R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\w\\wevtutil.exe","CommandLine":"wevtutil.exe cl security","ParentImage":"C:\\admin.exe"})",
      R"({"Channel":"Security","EventID":4688,"NewProcessName":"C:\\w\\wevtutil.exe","CommandLine":"wevtutil.exe cl security","ParentProcessName":"C:\\admin.exe"})",
      R"({"Channel":"Security","EventID":4688,"NewProcessName":"C:\\w\\wevtutil.exe","CommandLine":"wevtutil.exe cl security"})",
      R"({"Image":"C:\\w\\wevtutil.exe","CommandLine":"wevtutil.exe cl application"})",
      R"({"Image":"C:\\w\\wevtutil.exe","CommandLine":"wevtutil.exe cl system"})",
  };
  DiagnosticList diagnostics;
  auto compiled = compile_rules(load_rules_from_text(yaml, "filters.yml", diagnostics), diagnostics, 1);
  for (const auto& d : diagnostics.items())
    if (d.severity == Severity::Error) ADD_FAILURE() << d.format();
  ASSERT_EQ(compiled.rules.size(), 4u);

  // The filters each rule gets, chosen as `convert` chooses them.
  std::vector<const CompiledRule*> filters;
  for (const auto& r : compiled.rules)
    if (r.rule.kind == RuleKind::Filter) filters.push_back(&r);
  std::vector<std::string> wheres;
  for (const auto& r : compiled.rules) {
    if (r.rule.kind == RuleKind::Filter) continue;
    std::vector<const CompiledRule*> applied;
    for (const CompiledRule* f : filters)
      if (filter_names(f->rule, r.rule) && filter_covers(f->rule.logsource, r.rule.logsource)) applied.push_back(f);
    auto query = to_clickhouse(r, {}, applied);
    ASSERT_EQ(query.reason, "") << r.rule.title;
    wheres.push_back(query.where);
  }

  Engine engine(std::move(compiled.rules), EngineOptions{}, diagnostics);
  ASSERT_EQ(engine.rules().size(), wheres.size());
  auto matcher = engine.matcher();
  JsonEventReader reader;
  std::vector<Row> rows;
  std::vector<std::set<std::size_t>> fired;
  for (std::size_t i = 0; i < events.size(); ++i) {
    std::string error;
    ASSERT_TRUE(reader.read_object(events[i], i + 1, [&](const RawEvent& event) {
      rows.push_back(*row_of(event));
      std::vector<Detection> detections;
      matcher->match(event, detections);
      std::set<std::size_t> rules;
      for (const auto& d : detections) rules.insert(d.rule);
      fired.push_back(std::move(rules));
    }, error)) << error;
  }

  std::string error;
  auto selected = run_queries(rows, wheres, error);
  ASSERT_EQ(error.substr(0, 2000), "");
  for (std::size_t q = 0; q < wheres.size(); ++q) {
    std::set<std::size_t> expected;
    for (std::size_t row = 0; row < rows.size(); ++row)
      if (fired[row].count(q)) expected.insert(row);
    EXPECT_EQ(selected[q], expected) << engine.rules()[q]->rule.title << "\nWHERE " << wheres[q];
  }
  // The filter keeps only the Security events without the admin parent and the
  // channel-less event that does not clear the Application log.
  EXPECT_EQ(selected[0], (std::set<std::size_t>{1, 4, 6}));
  EXPECT_EQ(selected[1].size(), 7u);
}

// The whole SigmaHQ rules/ tree over real Windows events (the Security
// Datasets JSON lines): every rule that both run gives the same verdict on
// every event through ClickHouse as through the engine that `hunt` uses.
TEST(ClickHouseServerTest, SigmaRulesAgreeOnRealEvents) {
  SIGSCOPE_REQUIRE_SHARED();
  if (!server().available()) GTEST_SKIP() << server().why_not();
  const auto corpus = testing::shared_dir() / "corpus";
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(corpus / "json" / "security-datasets"))
    if (e.is_regular_file() && e.path().extension() == ".json" && e.path().string().find("/windows/") != std::string::npos)
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());

  DiagnosticList diagnostics;
  std::vector<std::string> rule_files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(corpus / "sigma" / "rules"))
    if (e.is_regular_file() && (e.path().extension() == ".yml" || e.path().extension() == ".yaml"))
      rule_files.push_back(e.path().string());
  std::sort(rule_files.begin(), rule_files.end());
  std::vector<Rule> rules;
  for (const auto& f : rule_files) {
    auto loaded = load_rules_from_text(testing::read_file(f), f, diagnostics);
    for (auto& r : loaded) rules.push_back(std::move(r));
  }
  auto compiled = compile_rules(std::move(rules), diagnostics, 2);
  // Queries for the rules that convert, in the engine's rule order.
  std::vector<std::string> wheres;
  std::map<std::size_t, std::size_t> query_of_rule;  // engine rule index -> query
  std::size_t not_converted = 0;
  Engine engine(std::move(compiled.rules), EngineOptions{}, diagnostics);
  std::set<std::string> unsupported;
  for (const auto& u : engine.unsupported()) unsupported.insert(u.id);
  for (std::size_t i = 0; i < engine.rules().size(); ++i) {
    const CompiledRule& r = *engine.rules()[i];
    if (r.rule.kind != RuleKind::Detection || unsupported.count(r.rule.id)) continue;
    auto query = to_clickhouse(r, {});
    if (!query.reason.empty()) {
      ++not_converted;
      continue;
    }
    query_of_rule[i] = wheres.size();
    wheres.push_back(query.where);
  }

  // Events, their rows, and the rules the engine fires on each.
  auto matcher = engine.matcher();
  JsonEventReader reader;
  std::vector<Row> rows;
  std::vector<std::set<std::size_t>> fired;  // per row: query indices
  std::size_t skipped_events = 0;
  constexpr std::size_t kEventsPerFile = 400;
  for (const auto& f : files) {
    std::istringstream lines(testing::read_file(f));
    std::string line;
    std::size_t lines_read = 0;
    while (lines_read < kEventsPerFile && std::getline(lines, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::string error;
      std::vector<Detection> detections;
      reader.read_object(line, ++lines_read, [&](const RawEvent& event) {
        auto row = row_of(event);
        if (!row) {
          ++skipped_events;
          return;
        }
        matcher->match(event, detections);
        std::set<std::size_t> queries;
        for (const auto& d : detections)
          if (auto it = query_of_rule.find(d.rule); it != query_of_rule.end()) queries.insert(it->second);
        rows.push_back(std::move(*row));
        fired.push_back(std::move(queries));
      }, error);
    }
  }
  ASSERT_GE(rows.size(), 1000u);

  // ClickHouse 18.16 took about 50 ms to analyze one rule's expression on this
  // machine, so the default run checks the rules the engine fired on these
  // events and every eighth other rule (11 s). SIGSCOPE_SQL_ALL_RULES=1 checks
  // all of them (3 minutes).
  std::vector<bool> fired_somewhere(wheres.size(), false);
  for (const auto& queries : fired)
    for (std::size_t q : queries) fired_somewhere[q] = true;
  const char* all = std::getenv("SIGSCOPE_SQL_ALL_RULES");
  std::vector<std::size_t> checked;
  for (std::size_t q = 0; q < wheres.size(); ++q)
    if ((all && std::string(all) == "1") || fired_somewhere[q] || q % 8 == 0) checked.push_back(q);

  std::string error;
  load_table(rows, wheres, error);
  ASSERT_EQ(error.substr(0, 2000), "");
  // One query per batch of rules: a column of 0 or 1 per rule.
  std::size_t detections_compared = 0, disagreements = 0;
  constexpr std::size_t kBatch = 50;
  for (std::size_t first = 0; first < checked.size(); first += kBatch) {
    const std::size_t last = std::min(checked.size(), first + kBatch);
    std::string sql = "SELECT row";
    for (std::size_t k = first; k < last; ++k) sql += ", " + wheres[checked[k]];
    sql += " FROM t ORDER BY row FORMAT TabSeparated";
    std::string result = server().run(sql, "", error);
    ASSERT_EQ(error.substr(0, 2000), "");
    std::istringstream out(result);
    std::string line;
    while (std::getline(out, line)) {
      std::istringstream cells(line);
      std::size_t row;
      cells >> row;
      for (std::size_t k = first; k < last; ++k) {
        const std::size_t q = checked[k];
        int sql_verdict = 0;
        cells >> sql_verdict;
        const bool engine_verdict = fired.at(row).count(q) > 0;
        detections_compared += engine_verdict;
        if (engine_verdict != (sql_verdict != 0) && ++disagreements <= 20) {
          std::string fields;
          for (const auto& [name, value] : rows[row]) fields += fmt::format("{}={} ", name, value.value_or("NULL"));
          ADD_FAILURE() << "row " << row << " rule " << engine.rules()[std::find_if(query_of_rule.begin(), query_of_rule.end(), [&](auto& p) { return p.second == q; })->first]->rule.id
                        << ": engine " << engine_verdict << ", ClickHouse " << sql_verdict << "\nWHERE " << wheres[q].substr(0, 3000)
                        << "\nevent: " << fields.substr(0, 3000);
        }
      }
    }
  }
  std::cout << rows.size() << " events (" << skipped_events << " with repeated field names left out), " << checked.size()
            << " of " << wheres.size() << " converted rules checked (" << not_converted << " not converted), " << detections_compared << " engine detections, "
            << disagreements << " disagreements\n";
  EXPECT_EQ(disagreements, 0u);
  EXPECT_GT(detections_compared, 100u);
}

}  // namespace
}  // namespace sigscope
