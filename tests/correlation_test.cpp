// Correlation rules through the library path the hunt uses: rules loaded and
// compiled into an Engine, events read by the JSON reader and matched, hits
// recorded by the Matcher and evaluated in time order.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sigscope/compile/compiler.h"
#include "sigscope/correlate/correlation.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/match/engine.h"
#include "sigscope/output/detections.h"
#include "sigscope/rules/loader.h"
#include "test_support.h"

namespace sigscope {
namespace {

// The events of a failed-login log: a user and a time (seconds after 10:00).
std::string login(const char* user, int second, int event_id = 4625, const char* host = "ws1") {
  return fmt::format(R"({{"EventID": {}, "User": "{}", "Computer": "{}", "timestamp": "2024-05-01T10:{:02}:{:02}Z"}})",
                     event_id, user, host, second / 60, second % 60);
}

const char* kFailed =
    "title: Failed login\nid: 10000000-0000-4000-8000-000000000001\nname: failed_login\n"
    "logsource:\n  product: test\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n";
const char* kSuccess =
    "title: Successful login\nid: 10000000-0000-4000-8000-000000000002\nname: successful_login\n"
    "logsource:\n  product: test\ndetection:\n  sel:\n    EventID: 4624\n  condition: sel\n";

std::string correlation(const std::string& body, const std::string& id = "20000000-0000-4000-8000-000000000001",
                        const std::string& name = "") {
  return "title: corr " + id + "\nid: " + id + (name.empty() ? "" : "\nname: " + name) + "\nlevel: high\ncorrelation:\n" +
         body;
}

struct Hunted {
  std::unique_ptr<Engine> engine;
  CorrelationHits hits;
  std::vector<CorrelationFire> fires;
  CorrelationStats stats;
  std::vector<std::string> reported;  // ids of the detections reported on their own

  std::map<std::string, int> counts() const {
    std::map<std::string, int> out;
    for (const auto& f : fires) ++out[engine->correlations().plans[f.correlation].rule->rule.id];
    return out;
  }
};

// Every field of each fire, one line per fire.
std::vector<std::string> describe_fires(const std::vector<CorrelationFire>& fires) {
  std::vector<std::string> out;
  for (const CorrelationFire& f : fires) {
    std::string line = fmt::format("{} [{}] {} {} {} {}:", f.correlation, fmt::join(f.group, "|"), f.first_us, f.last_us,
                                   f.value, f.event_count);
    for (const FireEvent& e : f.events) line += fmt::format(" {}/{}/{}/{}", e.input, e.record, e.rule, e.time_us);
    out.push_back(std::move(line));
  }
  return out;
}

Hunted run(const std::string& yaml, const std::vector<std::string>& events, EngineOptions options = {}) {
  Hunted r;
  DiagnosticList diagnostics;
  auto rules = load_rules_from_text(yaml, "test.yml", diagnostics);
  auto compiled = compile_rules(std::move(rules), diagnostics, 1);
  EXPECT_EQ(diagnostics.error_count(), 0u);
  options.cache_dir.clear();
  r.engine = std::make_unique<Engine>(std::move(compiled.rules), options, diagnostics);
  auto matcher = r.engine->matcher();
  JsonEventReader reader;
  std::vector<Detection> detections;
  std::vector<CorrelationHit> all_hits;
  for (std::size_t i = 0; i < events.size(); ++i) {
    std::string error;
    bool ok = reader.read_object(events[i], i + 1, [&](const RawEvent& event) {
      matcher->match(event, detections);
      std::vector<CorrelationHit> found;
      matcher->correlation_hits(event, detections, 0, found, r.stats);
      for (const auto& hit : found) {
        r.hits.add(hit);
        all_hits.push_back(hit);
      }
      for (const auto& d : detections)
        if (r.engine->reports(d.rule)) r.reported.push_back(r.engine->rules()[d.rule]->rule.id);
    }, error);
    EXPECT_TRUE(ok) << error;
  }
  const CorrelationStats read_stats = r.stats;
  r.fires = evaluate_correlations(r.engine->correlations(), r.hits, r.stats);

  // The same hits moved to temporary files at once (a memory budget of 0)
  // give the same fires in the same order, and the same counts.
  CorrelationHits spilled(0);
  for (const auto& hit : all_hits) spilled.add(hit);
  EXPECT_EQ(spilled.spilled(), !all_hits.empty()) << spilled.spill_error();
  CorrelationStats spilled_stats = read_stats;
  const std::vector<CorrelationFire> spilled_fires = evaluate_correlations(r.engine->correlations(), spilled, spilled_stats);
  EXPECT_EQ(describe_fires(spilled_fires), describe_fires(r.fires));
  EXPECT_EQ(spilled_stats.without_group, r.stats.without_group);
  EXPECT_EQ(spilled_stats.without_value, r.stats.without_value);
  return r;
}

const std::string kCorr = "20000000-0000-4000-8000-000000000001";

TEST(CorrelationTime, ParsesIsoAndEpochForms) {
  EXPECT_EQ(parse_event_time("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_event_time("2024-05-01T10:00:00Z"), 1714557600LL * 1000000);
  EXPECT_EQ(parse_event_time("2024-05-01 10:00:00.25"), 1714557600LL * 1000000 + 250000);
  EXPECT_EQ(parse_event_time("2024-05-01T10:00:00.1234567Z"), 1714557600LL * 1000000 + 123456);
  EXPECT_EQ(parse_event_time("2024-05-01T12:00:00+02:00"), 1714557600LL * 1000000);
  EXPECT_EQ(parse_event_time("2024-05-01T05:30:00-0430"), 1714557600LL * 1000000);
  EXPECT_EQ(parse_event_time("1714557600"), 1714557600LL * 1000000);
  EXPECT_EQ(parse_event_time("1714557600123"), 1714557600123LL * 1000);
  EXPECT_EQ(parse_event_time("1714557600.5"), 1714557600500000LL);
  EXPECT_EQ(parse_event_time("2024-05-01"), 1714521600LL * 1000000);
  EXPECT_FALSE(parse_event_time(""));
  EXPECT_FALSE(parse_event_time("yesterday"));
  EXPECT_FALSE(parse_event_time("2024-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_event_time("2024-05-01T25:00:00Z"));
  EXPECT_FALSE(parse_event_time("2024-05-01T10:00:00Zjunk"));
  EXPECT_EQ(format_event_time(1714557600LL * 1000000 + 250000), "2024-05-01T10:00:00.250000Z");
  EXPECT_EQ(format_event_time(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_event_time(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(CorrelationEventCount, FiresPerGroupWithinTheTimespan) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 1m\n"
                                 "  condition:\n    gte: 3\n");
  // alice: three within 60 s; bob: three but spread over 2 minutes; carol:
  // the last three of four, sliding past the first.
  Hunted r = run(yaml, {login("alice", 0), login("bob", 0), login("alice", 20), login("bob", 70), login("alice", 59),
                     login("bob", 140), login("carol", 0), login("carol", 50), login("carol", 100),
                     login("carol", 105)});
  ASSERT_EQ(r.fires.size(), 2u);
  EXPECT_EQ(r.fires[0].group, std::vector<std::string>{"alice"});
  EXPECT_EQ(r.fires[0].event_count, 3u);
  EXPECT_EQ(r.fires[0].value, 3);
  EXPECT_EQ(r.fires[1].group, std::vector<std::string>{"carol"});
  EXPECT_EQ(format_event_time(r.fires[1].first_us), "2024-05-01T10:00:50.000000Z");
  EXPECT_EQ(format_event_time(r.fires[1].last_us), "2024-05-01T10:01:45.000000Z");
  // generate: false (the default) keeps the base rule's detections out.
  EXPECT_TRUE(r.reported.empty());
}

TEST(CorrelationEventCount, FiresOncePerWindowWithFinalCount) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 10m\n"
                                 "  condition:\n    gte: 2\n  generate: true\n");
  // Five events in one window give one detection with all five; two more
  // after that window give a second one.
  Hunted r = run(yaml, {login("a", 0), login("a", 1), login("a", 2), login("a", 3), login("a", 4), login("a", 700),
                        login("a", 701)});
  ASSERT_EQ(r.fires.size(), 2u);
  EXPECT_EQ(r.fires[0].event_count, 5u);
  EXPECT_EQ(r.fires[0].value, 5);
  EXPECT_EQ(r.fires[1].event_count, 2u);
  EXPECT_EQ(r.reported.size(), 7u);  // generate: true reports the base rule too
}

TEST(CorrelationValueCount, LinearInTheWindowSize) {
  // The distinct values are counted as events enter and leave the window,
  // not recounted for each event: 200,000 events of one group in one day
  // took minutes before.
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: value_count\n  rules: [failed_login]\n  group-by: [Computer]\n"
                                 "  timespan: 1d\n  condition:\n    field: User\n    gte: 100\n");
  std::vector<std::string> events;
  for (int k = 0; k < 200000; ++k)
    events.push_back(fmt::format(R"({{"EventID": 4625, "User": "u{}", "Computer": "ws1", "timestamp": {}}})", k % 20,
                                 1714557600 + k / 10));
  auto start = std::chrono::steady_clock::now();
  Hunted r = run(yaml, events);
  EXPECT_TRUE(r.fires.empty());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30.0);
}

TEST(CorrelationEventCount, UpperBoundsJudgeWholeWindows) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 1m\n"
                                 "  condition:\n    lt: 3\n");
  // a: 4 events in one minute (no fire); b: 2 in a minute (fires), then one
  // alone five minutes later (fires again).
  Hunted r = run(yaml, {login("a", 0), login("a", 10), login("a", 20), login("a", 30), login("b", 0), login("b", 30),
                     login("b", 300)});
  ASSERT_EQ(r.fires.size(), 2u);
  EXPECT_EQ(r.fires[0].group, std::vector<std::string>{"b"});
  EXPECT_EQ(r.fires[0].event_count, 2u);
  EXPECT_EQ(r.fires[1].event_count, 1u);
}

TEST(CorrelationEventCount, EventsOutOfOrderAreSortedByTime) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 30s\n"
                                 "  condition:\n    gte: 3\n");
  // Read in this order, but 0, 10 and 20 s apart in time.
  Hunted r = run(yaml, {login("a", 20), login("a", 500), login("a", 0), login("a", 10)});
  ASSERT_EQ(r.fires.size(), 1u);
  EXPECT_EQ(format_event_time(r.fires[0].first_us), "2024-05-01T10:00:00.000000Z");
}

TEST(CorrelationEventCount, NoGroupByCountsEveryEventTogether) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  timespan: 1m\n"
                                 "  condition:\n    gte: 3\n");
  Hunted r = run(yaml, {login("a", 0), login("b", 1), login("c", 2)});
  ASSERT_EQ(r.fires.size(), 1u);
  EXPECT_TRUE(r.fires[0].group.empty());
}

TEST(CorrelationValueCount, CountsDistinctValues) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: value_count\n  rules: [failed_login]\n  group-by: [Computer]\n"
                                 "  timespan: 5m\n  condition:\n    field: User\n    gte: 3\n");
  // ws1: three users (fires); ws2: one user many times.
  Hunted r = run(yaml, {login("a", 0, 4625, "ws1"), login("a", 1, 4625, "ws1"), login("b", 2, 4625, "ws1"),
                     login("x", 3, 4625, "ws2"), login("x", 4, 4625, "ws2"), login("x", 5, 4625, "ws2"),
                     login("c", 6, 4625, "ws1")});
  ASSERT_EQ(r.fires.size(), 1u);
  EXPECT_EQ(r.fires[0].group, std::vector<std::string>{"ws1"});
  EXPECT_EQ(r.fires[0].value, 3);
  EXPECT_EQ(r.fires[0].event_count, 4u);
}

TEST(CorrelationValueCount, WindowAfterAFireCountsFromZero) {
  // Values of a window that fired are forgotten with it: the same two users
  // a window later are two distinct values again.
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: value_count\n  rules: [failed_login]\n  group-by: [Computer]\n"
                                 "  timespan: 5m\n  condition:\n    field: User\n    gte: 2\n");
  Hunted r = run(yaml, {login("a", 0), login("b", 1), login("a", 1200), login("b", 1201), login("a", 2400),
                        login("a", 2401)});
  ASSERT_EQ(r.fires.size(), 2u);
  EXPECT_EQ(r.fires[1].value, 2);
  EXPECT_EQ(format_event_time(r.fires[1].first_us), "2024-05-01T10:20:00.000000Z");
}

TEST(CorrelationHits, StringPoolKeepsOneIdPerText) {
  StringPool pool;
  EXPECT_FALSE(pool.find("a"));
  EXPECT_EQ(pool.intern(""), 0u);
  std::vector<std::string> texts;
  for (int k = 0; k < 100000; ++k) texts.push_back("10.0." + std::to_string(k % 256) + "." + std::to_string(k));
  texts.push_back(std::string(3 << 20, 'x'));  // longer than a block
  for (std::size_t k = 0; k < texts.size(); ++k) EXPECT_EQ(pool.intern(texts[k]), k + 1);
  for (std::size_t k = 0; k < texts.size(); ++k) {
    ASSERT_EQ(pool.find(texts[k]), k + 1);
    ASSERT_EQ(pool[static_cast<std::uint32_t>(k + 1)], texts[k]);
    ASSERT_EQ(pool.intern(texts[k]), k + 1);
  }
  EXPECT_EQ(pool.size(), texts.size() + 1);
  EXPECT_EQ(pool.find(""), 0u);
  EXPECT_FALSE(pool.find("10.0.0.100000"));
}

TEST(CorrelationTemporal, NeedsEveryRuleInAnyOrder) {
  std::string yaml = std::string(kFailed) + "---\n" + kSuccess + "---\n" +
                     correlation("  type: temporal\n  rules: [failed_login, successful_login]\n  group-by: [User]\n"
                                 "  timespan: 1m\n");
  // a: success then failure within a minute (fires); b: both but 2 minutes
  // apart; c: only failures.
  Hunted r = run(yaml, {login("a", 0, 4624), login("a", 30), login("b", 0), login("b", 120, 4624), login("c", 0),
                     login("c", 1)});
  ASSERT_EQ(r.fires.size(), 1u);
  EXPECT_EQ(r.fires[0].group, std::vector<std::string>{"a"});
}

TEST(CorrelationTemporalOrdered, NeedsTheRulesInOrder) {
  std::string yaml = std::string(kFailed) + "---\n" + kSuccess + "---\n" +
                     correlation("  type: temporal_ordered\n  rules: [failed_login, successful_login]\n"
                                 "  group-by: [User]\n  timespan: 1m\n");
  // a: success then failure (wrong order); b: failure then success.
  Hunted r = run(yaml, {login("a", 0, 4624), login("a", 30), login("b", 0), login("b", 30, 4624)});
  ASSERT_EQ(r.fires.size(), 1u);
  EXPECT_EQ(r.fires[0].group, std::vector<std::string>{"b"});
}

TEST(CorrelationChain, SpecificationExampleBruteForceThenSuccess) {
  // The specification's example: ten failures then a success by one user.
  std::string yaml = std::string(kFailed) + "---\n" + kSuccess + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 10m\n"
                                 "  condition:\n    gte: 10\n",
                                 "20000000-0000-4000-8000-000000000002", "many_failed") +
                     "---\n" +
                     correlation("  type: temporal_ordered\n  rules: [many_failed, successful_login]\n"
                                 "  group-by: [User]\n  timespan: 10m\n");
  std::vector<std::string> events;
  for (int k = 0; k < 10; ++k) events.push_back(login("mallory", k * 5));
  events.push_back(login("mallory", 100, 4624));
  for (int k = 0; k < 9; ++k) events.push_back(login("alice", k * 5));  // one short
  events.push_back(login("alice", 100, 4624));
  Hunted r = run(yaml, events);
  auto counts = r.counts();
  EXPECT_EQ(counts["20000000-0000-4000-8000-000000000002"], 1);
  EXPECT_EQ(counts[kCorr], 1);
  const CorrelationFire& outer = r.fires.back();
  EXPECT_EQ(outer.group, std::vector<std::string>{"mallory"});
  EXPECT_EQ(outer.event_count, 11u);  // ten failures through the inner correlation, and the success
}

TEST(CorrelationChain, ManyGroupsGiveSameFiresSpilled) {
  // run() also evaluates the hits from temporary files, one partition at a
  // time, and compares. Here the parents' groups spread over most of the
  // partitions, and each partition must take exactly the child fires of its
  // groups, next to the hits of those groups.
  std::string yaml = std::string(kFailed) + "---\n" + kSuccess + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 1m\n"
                                 "  condition:\n    gte: 2\n",
                                 "20000000-0000-4000-8000-000000000002", "repeated_failures") +
                     "---\n" +
                     correlation("  type: temporal\n  rules: [repeated_failures, successful_login]\n"
                                 "  group-by: [User]\n  timespan: 5m\n") +
                     "---\n" +
                     correlation("  type: event_count\n  rules: [repeated_failures]\n  group-by: [User]\n"
                                 "  timespan: 1h\n  condition:\n    gte: 2\n",
                                 "20000000-0000-4000-8000-000000000003");
  // Per user: two failures, two more two minutes later, then a success.
  // Users share start times, so items of many groups tie.
  constexpr int kUsers = 300;
  std::vector<std::string> events;
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "user" + std::to_string(u);
    const int start = (u % 20) * 5;
    for (int second : {start, start + 1, start + 120, start + 121}) events.push_back(login(user.c_str(), second));
    events.push_back(login(user.c_str(), start + 130, 4624));
  }
  Hunted r = run(yaml, events);
  auto counts = r.counts();
  EXPECT_EQ(counts["20000000-0000-4000-8000-000000000002"], 2 * kUsers);
  EXPECT_EQ(counts[kCorr], kUsers);
  EXPECT_EQ(counts["20000000-0000-4000-8000-000000000003"], kUsers);

  std::set<std::size_t> partitions;
  for (const CorrelationFire& fire : r.fires) {
    if (r.engine->correlations().plans[fire.correlation].rule->rule.id != kCorr) continue;
    std::string key;
    append_group_value(key, fire.group.at(0));
    partitions.insert(CorrelationHits::partition_of(fire.correlation, key));
  }
  EXPECT_GE(partitions.size(), 64u);
}

TEST(CorrelationAliases, GroupAcrossDifferentFieldNames) {
  std::string yaml =
      "title: err\nid: 10000000-0000-4000-8000-000000000003\nname: internal_error\nlogsource:\n  product: test\n"
      "detection:\n  sel:\n    status: 500\n  condition: sel\n---\n"
      "title: conn\nid: 10000000-0000-4000-8000-000000000004\nname: new_connection\nlogsource:\n  product: test\n"
      "detection:\n  sel:\n    kind: connection\n  condition: sel\n---\n" +
      correlation("  type: temporal\n  rules: [internal_error, new_connection]\n  group-by: [internal_ip]\n"
                  "  timespan: 10s\n  aliases:\n    internal_ip:\n      internal_error: dst.ip\n"
                  "      new_connection: src.ip\n");
  Hunted r = run(yaml, {
                        R"({"status": 500, "dst": {"ip": "10.0.0.5"}, "timestamp": "2024-05-01T10:00:00Z"})",
                        R"({"kind": "connection", "src": {"ip": "10.0.0.9"}, "timestamp": "2024-05-01T10:00:01Z"})",
                        R"({"kind": "connection", "src": {"ip": "10.0.0.5"}, "timestamp": "2024-05-01T10:00:02Z"})",
                    });
  ASSERT_EQ(r.fires.size(), 1u);
  EXPECT_EQ(r.fires[0].group, std::vector<std::string>{"10.0.0.5"});
}

TEST(CorrelationValueAggregates, SumAvgMinMaxMedianPercentile) {
  auto fires_for = [](const std::string& type, const std::string& bound) {
    std::string yaml =
        "title: bytes\nid: 10000000-0000-4000-8000-000000000005\nname: transfer\nlogsource:\n  product: test\n"
        "detection:\n  sel:\n    action: upload\n  condition: sel\n---\n" +
        correlation("  type: " + type + "\n  rules: [transfer]\n  group-by: [host]\n  timespan: 1h\n  condition:\n"
                    "    field: bytes\n" + bound);
    std::vector<std::string> events;
    int values[] = {10, 20, 30, 40, 1000};
    for (int k = 0; k < 5; ++k)
      events.push_back(fmt::format(R"({{"action": "upload", "host": "h", "bytes": {}, "timestamp": "2024-05-01T10:0{}:00Z"}})",
                                   values[k], k));
    events.push_back(R"({"action": "upload", "host": "h", "bytes": "n/a", "timestamp": "2024-05-01T10:05:00Z"})");
    Hunted r = run(yaml, events);
    EXPECT_EQ(r.stats.without_value, 1u) << type;
    return r.fires.empty() ? -1.0 : r.fires[0].value;
  };
  EXPECT_EQ(fires_for("value_sum", "    gt: 1000\n"), 1100);
  EXPECT_EQ(fires_for("value_sum", "    gt: 2000\n"), -1);
  EXPECT_EQ(fires_for("value_avg", "    gte: 220\n"), 220);
  EXPECT_EQ(fires_for("value_max", "    gte: 1000\n"), 1000);
  EXPECT_EQ(fires_for("value_min", "    lt: 15\n"), 10);
  EXPECT_EQ(fires_for("value_median", "    eq: 30\n"), 30);
  EXPECT_EQ(fires_for("value_percentile", "    percentile: 75\n    gte: 40\n"), 40);
}

TEST(CorrelationHits, FailedWriteBringsHitsBackToMemory) {
  // With the temporary files' disk full, hits were dropped and records cut
  // in the middle were read back as other hits.
  testing::TempDir dir;
  CorrelationHits hits(0, dir.path().string());
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  rlimit limit = saved;
  limit.rlim_cur = 100000;  // bytes per file, as on a full disk
  setrlimit(RLIMIT_FSIZE, &limit);
  const sighandler_t old_handler = signal(SIGXFSZ, SIG_IGN);
  for (std::uint32_t i = 0; i < 20000; ++i) {
    CorrelationHit hit;
    hit.time_us = 1000 * i;
    hit.record = i + 1;
    hit.correlation = 0;
    hit.text = "one group";  // every hit in one partition file
    hit.key_size = static_cast<std::uint32_t>(hit.text.size());
    hit.text += std::to_string(i);
    hit.has_value = true;
    hits.add(hit);
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);

  EXPECT_FALSE(hits.spilled());
  EXPECT_NE(hits.spill_error().find("cannot write a temporary file in " + dir.path().string()), std::string::npos)
      << hits.spill_error();
  EXPECT_EQ(hits.lost(), 0u);
  ASSERT_EQ(hits.size(), 20000u);
  ASSERT_EQ(hits.memory_size(), 20000u);
  for (std::uint32_t i = 0; i < 20000; ++i) {
    const CorrelationHits::View hit = hits[i];
    ASSERT_EQ(hit.record, i + 1);
    ASSERT_EQ(hit.time_us, 1000 * i);
    ASSERT_EQ(hits.strings()[hit.key], "one group");
    ASSERT_EQ(hits.strings()[hit.value], std::to_string(i));
  }
}

TEST(CorrelationHits, EventsWithoutTimeOrGroupAreCounted) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 1m\n"
                                 "  condition:\n    gte: 1\n");
  Hunted r = run(yaml, {R"({"EventID": 4625, "User": "a"})", R"({"EventID": 4625, "timestamp": "2024-05-01T10:00:00Z"})",
                     R"({"EventID": 4625, "User": "a", "timestamp": "not a time"})", login("a", 0)});
  EXPECT_EQ(r.stats.without_time, 2u);
  EXPECT_EQ(r.stats.without_group, 1u);
  EXPECT_EQ(r.fires.size(), 1u);
}

TEST(CorrelationHits, FirstValidTimeKeyWins) {
  // An @timestamp that is not a time hid a valid timestamp, so the event
  // counted as one without a time.
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 1m\n"
                                 "  condition:\n    gte: 2\n");
  Hunted r = run(yaml, {R"({"EventID": 4625, "User": "a", "@timestamp": "-", "timestamp": "2024-05-01T10:00:00Z"})",
                        R"({"EventID": 4625, "User": "a", "@timestamp": "", "ts": 1714557630})",
                        R"({"EventID": 4625, "User": "a", "@timestamp": "-", "time": "yesterday"})"});
  EXPECT_EQ(r.stats.without_time, 1u);
  ASSERT_EQ(r.hits.size(), 2u);
  EXPECT_EQ(format_event_time(r.hits[0].time_us), "2024-05-01T10:00:00.000000Z");
  EXPECT_EQ(format_event_time(r.hits[1].time_us), "2024-05-01T10:00:30.000000Z");
  ASSERT_EQ(r.fires.size(), 1u);
  EXPECT_EQ(r.fires[0].event_count, 2u);
}

TEST(CorrelationPlan, UnrunnableCorrelationsAreReported) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [no_such_rule]\n  timespan: 1m\n  condition:\n"
                                 "    gte: 1\n") +
                     "---\n" +
                     correlation("  type: event_count\n  rules: [loop_b]\n  timespan: 1m\n  condition:\n    gte: 1\n",
                                 "20000000-0000-4000-8000-00000000000a", "loop_a") +
                     "---\n" +
                     correlation("  type: event_count\n  rules: [loop_a]\n  timespan: 1m\n  condition:\n    gte: 1\n",
                                 "20000000-0000-4000-8000-00000000000b", "loop_b") +
                     "---\n" +
                     correlation("  type: value_percentile\n  rules: [failed_login]\n  timespan: 1m\n  condition:\n"
                                 "    field: x\n    lte: 1\n",
                                 "20000000-0000-4000-8000-00000000000c");
  Hunted r = run(yaml, {login("a", 0)});
  EXPECT_TRUE(r.engine->correlations().empty());
  std::map<std::string, std::string> reasons;
  for (const auto& u : r.engine->unsupported()) reasons[u.id] = u.reason;
  ASSERT_EQ(reasons.size(), 4u);
  EXPECT_NE(reasons[kCorr].find("'no_such_rule'"), std::string::npos) << reasons[kCorr];
  // The loop is found from loop_a, so loop_b is the one that closes it.
  EXPECT_NE(reasons["20000000-0000-4000-8000-00000000000b"].find("references it in turn"), std::string::npos)
      << reasons["20000000-0000-4000-8000-00000000000b"];
  EXPECT_NE(reasons["20000000-0000-4000-8000-00000000000a"].find("cannot run"), std::string::npos);
  EXPECT_NE(reasons["20000000-0000-4000-8000-00000000000c"].find("percentile"), std::string::npos);
  // The base rule's only user cannot run, so its detections are reported.
  EXPECT_EQ(r.reported.size(), 1u);
}

// The rules of the "missing 'level'" warnings in `diagnostics`, by id.
std::vector<std::string> rules_missing_level(const DiagnosticList& diagnostics) {
  std::vector<std::string> ids;
  for (const auto& d : diagnostics.items())
    if (d.message == "missing 'level'") ids.push_back(d.rule_id);
  return ids;
}

TEST(CorrelationLevels, ReferencedRulesNeedNoLevel) {
  // Rules that only feed a correlation often have no level on purpose, yet
  // each load warned about them. kFailed and kSuccess have no level, and
  // only kFailed is referenced (by name).
  const std::string feed = correlation("  type: event_count\n  rules: [failed_login]\n  timespan: 1m\n"
                                       "  condition:\n    gte: 1\n");
  const std::string by_id = correlation("  type: event_count\n  rules: [10000000-0000-4000-8000-000000000001]\n"
                                        "  timespan: 1m\n  condition:\n    gte: 1\n");
  const std::string success_id = "10000000-0000-4000-8000-000000000002";

  DiagnosticList one_file;
  auto rules = load_rules_from_text(std::string(kFailed) + "---\n" + kSuccess + "---\n" + feed, "test.yml", one_file);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules_missing_level(one_file), std::vector<std::string>{success_id});

  DiagnosticList without_correlation;
  load_rules_from_text(std::string(kFailed) + "---\n" + kSuccess, "test.yml", without_correlation);
  EXPECT_EQ(rules_missing_level(without_correlation).size(), 2u);

  // Across the files of a corpus, and by id.
  testing::TempDir dir;
  dir.write("failed.yml", kFailed);
  dir.write("success.yml", kSuccess);
  dir.write("correlations/failed_by_id.yml", by_id);
  DiagnosticList corpus;
  LoadResult loaded = load_rules({dir.path().string()}, corpus, 1);
  ASSERT_EQ(loaded.rules.size(), 3u);
  const std::vector<std::string> warned = rules_missing_level(corpus);
  EXPECT_EQ(warned, std::vector<std::string>{success_id});
  for (const auto& d : corpus.items())
    if (d.message == "missing 'level'") EXPECT_EQ(d.file, (dir.path() / "success.yml").string());
}

TEST(CorrelationPlan, FeedOnlyRulesAreNotReported) {
  EngineOptions options;
  options.feed_only.insert("10000000-0000-4000-8000-000000000002");
  std::string yaml = std::string(kFailed) + "---\n" + kSuccess;
  Hunted r = run(yaml, {login("a", 0), login("a", 1, 4624)}, options);
  EXPECT_EQ(r.reported, std::vector<std::string>{"10000000-0000-4000-8000-000000000001"});
}

// A FILETIME (100 ns ticks since 1601) of a date from 1970 to 2099 was
// read as nanoseconds since 1970, a date in 1973 or 1974.
TEST(CorrelationTime, FiletimeNumbersAreFiletimes) {
  EXPECT_EQ(parse_event_time("133590000000000000"), 1714526400LL * 1000000);
  EXPECT_EQ(format_event_time(*parse_event_time("133590000000000000")), "2024-05-01T01:20:00.000000Z");
  EXPECT_EQ(parse_event_time("133590312000000000"), 1714557600LL * 1000000);
  EXPECT_EQ(parse_event_time("133590312001234567"), 1714557600LL * 1000000 + 123457);
  EXPECT_EQ(parse_event_time("1.33590312e+17"), 1714557600LL * 1000000);

  // The range starts at 1970-01-01 and ends before 2100-01-01.
  EXPECT_EQ(parse_event_time("116444736000000000"), 0);
  EXPECT_EQ(parse_event_time("157469183990000000"), 4102444799LL * 1000000);
  // Just outside it, the number is nanoseconds again.
  EXPECT_EQ(parse_event_time("116444735999999000"), 116444735999999LL);
  EXPECT_EQ(parse_event_time("157469184000000000"), 157469184000000LL);
  EXPECT_EQ(parse_event_time("1714557600000000000"), 1714557600LL * 1000000);
}

TEST(CorrelationFindings, InputsThatGaveWrongResults) {
  // Nanosecond epoch times were read as microseconds (year -9234).
  EXPECT_EQ(parse_event_time("1714557600000000000"), 1714557600LL * 1000000);
  EXPECT_FALSE(parse_event_time("133590312000000000000"));
  // Integer nanoseconds are scaled exactly, and a JSON double's exponent
  // form is a number too.
  EXPECT_EQ(parse_event_time("1714557661234567891"), 1714557661234568LL);
  EXPECT_EQ(parse_event_time("1714557661234567499"), 1714557661234567LL);
  EXPECT_EQ(parse_event_time("1.71455766e+18"), 1714557660LL * 1000000);
  EXPECT_EQ(parse_event_time("1.5e9"), 1500000000LL * 1000000);
  EXPECT_FALSE(parse_event_time("1e21"));
  EXPECT_FALSE(parse_event_time("12.5.3"));
  EXPECT_FALSE(parse_event_time("1714557600abc"));
  // A parent grouping by a field its child correlation does not group by
  // never fired, and the summary blamed the events for lacking the field.
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [Computer]\n"
                                 "  timespan: 1m\n  condition:\n    gte: 1\n",
                                 "20000000-0000-4000-8000-000000000002", "per_host") +
                     "---\n" +
                     correlation("  type: event_count\n  rules: [per_host]\n  group-by: [User]\n  timespan: 1m\n"
                                 "  condition:\n    gte: 1\n") +
                     "---\n" +
                     correlation("  type: event_count\n  rules: [self]\n  timespan: 1m\n  condition:\n    gte: 1\n",
                                 "20000000-0000-4000-8000-000000000003", "self");
  Hunted r = run(yaml, {login("a", 0)});
  std::map<std::string, std::string> reasons;
  for (const auto& u : r.engine->unsupported()) reasons[u.id] = u.reason;
  EXPECT_NE(reasons[kCorr].find("groups by 'User', but correlation 'per_host'"), std::string::npos) << reasons[kCorr];
  EXPECT_EQ(reasons["20000000-0000-4000-8000-000000000003"], "it references itself");
  // Hex strings were read as numbers by value_sum and the like.
  std::string sum = "title: bytes\nid: 10000000-0000-4000-8000-000000000005\nname: transfer\nlogsource:\n"
                    "  product: test\ndetection:\n  sel:\n    action: upload\n  condition: sel\n---\n" +
                    correlation("  type: value_sum\n  rules: [transfer]\n  timespan: 1h\n  condition:\n"
                                "    field: bytes\n    gte: 1\n");
  Hunted hex = run(sum, {R"({"action": "upload", "bytes": "0x1f", "timestamp": "2024-05-01T10:00:00Z"})",
                         R"({"action": "upload", "bytes": "inf", "timestamp": "2024-05-01T10:00:01Z"})"});
  EXPECT_TRUE(hex.fires.empty());
  EXPECT_EQ(hex.stats.without_value, 2u);
}

TEST(CorrelationFindings, InvalidValuesAreLoadErrors) {
  for (const char* bad : {"  condition:\n    field: x\n    percentile: ninety\n    gte: 1\n",
                          "  condition:\n    gte: 1\n  generate: 'yes'\n", "  condition:\n    gte: 1\n  timespan: 300000y\n"}) {
    std::string yaml = std::string("title: c\nid: 20000000-0000-4000-8000-000000000009\ncorrelation:\n"
                                   "  type: value_percentile\n  rules: [x]\n") +
                       (std::string(bad).find("timespan") == std::string::npos ? "  timespan: 1h\n" : "") + bad;
    DiagnosticList diagnostics;
    load_rules_from_text(yaml, "bad.yml", diagnostics);
    EXPECT_GT(diagnostics.error_count(), 0u) << bad;
  }
}

TEST(CorrelationFindings, GroupValuesCannotRunIntoEachOther) {
  // Values holding the old separator byte made two groups one.
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User, Computer]\n"
                                 "  timespan: 1m\n  condition:\n    gte: 2\n");
  Hunted r = run(yaml, {R"({"EventID": 4625, "User": "a\u001fb", "Computer": "c", "timestamp": "2024-05-01T10:00:00Z"})",
                        R"({"EventID": 4625, "User": "a", "Computer": "b\u001fc", "timestamp": "2024-05-01T10:00:01Z"})"});
  EXPECT_TRUE(r.fires.empty());
  Hunted same = run(yaml, {login("a:1", 0), login("a:1", 1)});
  ASSERT_EQ(same.fires.size(), 1u);
  EXPECT_EQ(same.fires[0].group, (std::vector<std::string>{"a:1", "ws1"}));
}

TEST(CorrelationFindings, SharedNamesAreRejected) {
  std::string yaml = std::string(kFailed) + "---\n" +
                     "title: Other\nid: 10000000-0000-4000-8000-00000000000f\nname: failed_login\nlogsource:\n"
                     "  product: test\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  timespan: 1m\n  condition:\n"
                                 "    gte: 1\n");
  Hunted r = run(yaml, {login("a", 0)});
  ASSERT_EQ(r.engine->unsupported().size(), 1u);
  EXPECT_NE(r.engine->unsupported()[0].reason.find("the name of 2 rules"), std::string::npos)
      << r.engine->unsupported()[0].reason;
}

TEST(CorrelationFindings, RuleListedTwiceCountsEachEventOnce) {
  // Each entry of `rules` fed the correlation, so one event counted twice.
  std::string yaml = std::string(kFailed) + "---\n" + kSuccess + "---\n" +
                     correlation("  type: temporal_ordered\n  rules: [failed_login, failed_login]\n  group-by: [User]\n"
                                 "  timespan: 1m\n") +
                     "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login, failed_login]\n  group-by: [User]\n"
                                 "  timespan: 1m\n  condition:\n    gte: 2\n",
                                 "20000000-0000-4000-8000-000000000002") +
                     "---\n" +
                     correlation("  type: temporal_ordered\n  rules: [failed_login, successful_login, failed_login]\n"
                                 "  group-by: [User]\n  timespan: 1m\n",
                                 "20000000-0000-4000-8000-000000000003");
  Hunted single = run(yaml, {login("u", 0)});
  EXPECT_TRUE(single.fires.empty()) << single.fires.size();
  Hunted aba = run(yaml, {login("u", 0), login("u", 1, 4624), login("u", 2)});
  auto counts = aba.counts();
  EXPECT_EQ(counts[kCorr], 1);
  EXPECT_EQ(counts["20000000-0000-4000-8000-000000000002"], 1);
  EXPECT_EQ(counts["20000000-0000-4000-8000-000000000003"], 1);
  for (const auto& fire : aba.fires)
    if (aba.engine->correlations().plans[fire.correlation].rule->rule.id == "20000000-0000-4000-8000-000000000003") {
      EXPECT_EQ(fire.event_count, 3u);
      EXPECT_EQ(fire.events.size(), 3u);
    }
}

TEST(CorrelationFindings, ValueCountOverAChildCorrelation) {
  // A value_count over another correlation's detections never fired: the
  // child's group values were not read as values.
  std::string yaml = std::string(kFailed) + "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User, Computer]\n"
                                 "  timespan: 5m\n  condition:\n    gte: 3\n",
                                 "20000000-0000-4000-8000-000000000002", "per_host") +
                     "---\n" +
                     correlation("  type: value_count\n  rules: [per_host]\n  group-by: [User]\n  timespan: 1h\n"
                                 "  condition:\n    field: Computer\n    gte: 3\n") +
                     "---\n" +
                     correlation("  type: value_count\n  rules: [per_host]\n  group-by: [User]\n  timespan: 1h\n"
                                 "  condition:\n    field: IpAddress\n    gte: 3\n",
                                 "20000000-0000-4000-8000-000000000004") +
                     "---\n" +
                     correlation("  type: event_count\n  rules: [failed_login]\n  group-by: [User, User]\n"
                                 "  timespan: 5m\n  condition:\n    gte: 3\n",
                                 "20000000-0000-4000-8000-000000000005");

  // Three rounds of three failures, each round on another host.
  std::vector<std::string> events;
  for (int round = 0; round < 3; ++round)
    for (int k = 0; k < 3; ++k) {
      const std::string host = "h" + std::to_string(round);
      events.push_back(login("a", round * 600 + k, 4625, host.c_str()));
    }
  Hunted r = run(yaml, events);
  auto counts = r.counts();
  EXPECT_EQ(counts["20000000-0000-4000-8000-000000000002"], 3);
  EXPECT_EQ(counts[kCorr], 1);

  std::map<std::string, std::string> reasons;
  for (const auto& u : r.engine->unsupported()) reasons[u.id] = u.reason;
  EXPECT_NE(reasons["20000000-0000-4000-8000-000000000004"].find("does not group by it"), std::string::npos)
      << reasons["20000000-0000-4000-8000-000000000004"];
  EXPECT_NE(reasons["20000000-0000-4000-8000-000000000005"].find("lists 'User' twice"), std::string::npos)
      << reasons["20000000-0000-4000-8000-000000000005"];
}

TEST(CorrelationFindings, OverflowingSumIsWrittenAsNull) {
  // A sum past the largest double was written as "value":inf, which no JSON
  // parser accepts.
  std::string yaml = "title: bytes\nid: 10000000-0000-4000-8000-000000000005\nname: transfer\nlogsource:\n"
                     "  product: test\ndetection:\n  sel:\n    action: upload\n  condition: sel\n---\n" +
                     correlation("  type: value_sum\n  rules: [transfer]\n  timespan: 1h\n  condition:\n"
                                 "    field: bytes\n    gte: 1\n");
  Hunted r = run(yaml, {R"({"action": "upload", "bytes": "1.7e308", "timestamp": "2024-05-01T10:00:00Z"})",
                        R"({"action": "upload", "bytes": "1.7e308", "timestamp": "2024-05-01T10:00:01Z"})"});
  ASSERT_EQ(r.fires.size(), 1u);
  std::string line;
  format_correlation(DetectionFormat::Jsonl, *r.engine, r.fires[0], {"in.jsonl"}, line);
  EXPECT_NE(line.find("\"value\":null"), std::string::npos) << line;
  EXPECT_EQ(line.find("inf"), std::string::npos) << line;
}

}  // namespace
}  // namespace sigscope
