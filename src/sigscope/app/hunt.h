// `sigscope hunt`: run detection rules over log inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sigscope {

struct HuntOptions {
  std::vector<std::string> rules;      // rule files or folders
  std::vector<std::string> inputs;     // log files, folders or "-"
  std::string format = "auto";         // auto, jsonl, csv or table
  std::string output;                  // file to write detections to; empty for stdout
  std::string min_level;               // run only rules at or above this level
  std::vector<std::string> pipelines;  // processing pipeline names or files
  std::string logsource;               // "category:x,product:y,service:z" for channel-less events
  bool no_routing = false;             // send every event to every rule
  bool all_statuses = false;           // also run deprecated and unsupported rules
  unsigned threads = 0;
  std::size_t max_warnings = 20;
  std::string explain_rule;            // rule id for --explain
  std::uint64_t explain_record = 1;    // record to explain
  bool fail_on_detections = false;     // exit with kHuntDetections when a rule fired
  // MiB of correlation hits kept in memory before they move to temporary
  // files in $TMPDIR (see CorrelationHits).
  std::size_t correlation_memory_mib = 16;
};

// Exit statuses of run_hunt. When several apply, the first in this order
// wins: kHuntFailed, kHuntPartlyUnreadable, kHuntDetections.
inline constexpr int kHuntOk = 0;                // every input read, with or without detections
inline constexpr int kHuntDetections = 1;        // detections, with fail_on_detections set
inline constexpr int kHuntFailed = 2;            // usage error, no rule can run, no input readable, output lost
inline constexpr int kHuntPartlyUnreadable = 3;  // some inputs, records or rule documents unreadable; the rest was hunted

// Runs the hunt (or --explain) and returns one of the exit statuses above.
// Standard output closed by its reader ends the hunt early with kHuntOk.
int run_hunt(const HuntOptions& options);

}  // namespace sigscope
