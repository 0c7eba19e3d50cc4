// The Hyperscan prefilter must not change results: every event of the shared
// logs, and generated variations of them as bench/run uses, gets the same
// detections with the prefilter as with direct evaluation of every predicate,
// over the whole SigmaHQ corpus.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "sigscope/compile/compiler.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"
#include "sigscope/match/engine.h"
#include "sigscope/rules/loader.h"
#include "event_generator.h"
#include "test_support.h"

namespace sigscope {
namespace {

TEST(PrefilterDifferential, SameDetectionsAsDirectEvaluation) {
  SIGSCOPE_REQUIRE_SHARED();
  auto corpus = testing::shared_dir() / "corpus";
  DiagnosticList diagnostics;
  auto loaded = load_rules({(corpus / "sigma").string()}, diagnostics);
  auto compiled = compile_rules(std::move(loaded.rules), diagnostics);
  EngineOptions fast_options, direct_options;
  direct_options.prefilter = false;
  Engine fast(compiled.rules, fast_options, diagnostics);
  Engine direct(std::move(compiled.rules), direct_options, diagnostics);
  ASSERT_EQ(fast.rules().size(), direct.rules().size());
  ASSERT_GT(fast.prefiltered_predicates(), 8000u);
  auto fast_matcher = fast.matcher();
  auto direct_matcher = direct.matcher();

  std::uint64_t events = 0, detections = 0, mismatches = 0;
  std::vector<Detection> a, b;
  auto check = [&](const RawEvent& event, const std::string& input) {
    ++events;
    fast_matcher->match(event, a);
    direct_matcher->match(event, b);
    detections += b.size();
    bool same = a.size() == b.size();
    for (std::size_t i = 0; same && i < a.size(); ++i) same = a[i].rule == b[i].rule;
    if (!same && ++mismatches <= 10) {
      std::string got, want;
      for (const auto& d : a) got += fast.rules()[d.rule]->rule.id + " ";
      for (const auto& d : b) want += direct.rules()[d.rule]->rule.id + " ";
      ADD_FAILURE() << input << " record " << event.record << ": prefilter [" << got << "] direct [" << want << "]";
    }
  };
  JsonEventReader json;
  EvtxChunkParser evtx;
  for (const auto& input : find_inputs({(corpus / "evtx").string(), (corpus / "json").string(),
                                        (corpus / "sigma-regression").string()},
                                       diagnostics)) {
    std::string skip;
    auto data = load_input(input, diagnostics, skip);
    if (!data) continue;
    auto sink = [&](const RawEvent& e) { check(e, input.path); };
    if (data->format == InputFormat::Json) {
      json.read(std::string_view(data->json.data(), data->json.size()), input.path, sink, diagnostics);
    } else if (auto file = EvtxFile::open(input.path, diagnostics)) {
      for (std::size_t c = 0; c < file->chunk_count(); ++c) evtx.parse_chunk(*file, c, sink, diagnostics);
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(events, 20000u);
  EXPECT_GT(detections, 1000u);

  // Generated events: the mixed and the Sysmon-shaped streams of
  // bench/gen_events, whose varied digits, names and GUIDs reach values that
  // the real logs do not contain.
  const std::vector<std::string> folders = {(corpus / "evtx").string(), (corpus / "sigma-regression").string(),
                                            (corpus / "json" / "security-datasets").string()};
  for (bool sysmon : {false, true}) {
    bench::EventGenerator generator;
    bench::GeneratorOptions options;
    options.sysmon = sysmon;
    std::string error, mix;
    ASSERT_TRUE(generator.load(folders, options, error, mix)) << error;
    const std::string name = sysmon ? "generated Sysmon events" : "generated mixed events";
    std::string lines;
    for (int i = 0; i < 15000; ++i) generator.next(lines);
    const auto before_events = events, before_detections = detections;
    auto sink = [&](const RawEvent& e) { check(e, name); };
    simdjson::padded_string padded(lines);
    json.read(std::string_view(padded.data(), padded.size()), name, sink, diagnostics);
    EXPECT_EQ(events - before_events, 15000u) << name;
    EXPECT_GT(detections - before_detections, 300u) << name;
  }
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace sigscope
