// Entry points of the fuzz targets. Each takes one input as bytes, runs it
// through a part of sigscope that reads untrusted data, and checks the
// invariants of that part. The libFuzzer programs in this folder call them,
// and tests/fuzz_findings_test.cpp replays the saved findings through them
// in the normal build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sigscope::fuzz {

// Called when an invariant does not hold, with a description. The default
// handler prints the description and aborts, which libFuzzer reports as a
// crash; tests install one that records a failure.
using ViolationHandler = void (*)(const char* what);
void set_violation_handler(ViolationHandler handler);

// A rule file: loaded, compiled, then rendered as catalog HTML and JSON.
// Rejected documents must come with an error; pages must hold no script.
int rule_loader(const std::uint8_t* data, std::size_t size);

// A condition expression. Errors must have a message and an offset within
// the text.
int condition(const std::uint8_t* data, std::size_t size);

// A JSON log (lines, array or concatenated objects). Rejected records must
// come with an error.
int json(const std::uint8_t* data, std::size_t size);

// One EVTX chunk (up to 64 KiB), placed after a valid file header. Records
// that are skipped must come with an error.
int evtx(const std::uint8_t* data, std::size_t size);

// A rule and an event, separated by the first NUL byte: the rule YAML, then
// one JSON object. The event is matched with and without the Hyperscan
// prefilter, and both must give the same detections.
int match(const std::uint8_t* data, std::size_t size);

struct Target {
  std::string_view name;
  int (*run)(const std::uint8_t* data, std::size_t size);
  // libFuzzer's -timeout for the target in scripts/fuzz, which must match.
  // match compiles Hyperscan databases, about ten times slower under the
  // sanitizers' allocator than in a release build.
  int timeout_seconds = 10;
};

// Every target, named as its folder under tests/fuzz-findings.
inline constexpr Target kTargets[] = {
    {"rule_loader", rule_loader}, {"condition", condition}, {"json", json}, {"evtx", evtx}, {"match", match, 60},
};

}  // namespace sigscope::fuzz
