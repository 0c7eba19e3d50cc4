// `sigscope overlap`: equivalent and subsumed rule pairs of a corpus.
#pragma once

#include <string>
#include <vector>

namespace sigscope {

struct OverlapCommandOptions {
  std::vector<std::string> paths;
  std::string format = "text";  // text or json
  std::string output;           // file; empty for stdout
  unsigned threads = 0;         // for loading and compiling
  std::size_t max_conjuncts = 256;
  std::size_t max_warnings = 0;  // rule warnings printed before the rest are only counted
};

// Returns 0 on success, 2 when no rule file was found or the output cannot be written.
int run_overlap(const OverlapCommandOptions& options);

}  // namespace sigscope
