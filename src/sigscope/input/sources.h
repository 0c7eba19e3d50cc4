// Finding and opening log inputs: files, folders (recursive) and stdin, with
// gzip and zstd decompression and format detection by content.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <vector>

#include "sigscope/common/diagnostics.h"

namespace sigscope {

enum class InputFormat { Evtx, Json };

struct InputFile {
  std::string path;  // "-" for stdin
  std::uint64_t size = 0;  // bytes on disk (0 for stdin)
};

// Lists the inputs named by `paths`: files as given, folders searched
// recursively (sorted), "-" for stdin. Missing paths are reported.
std::vector<InputFile> find_inputs(const std::vector<std::string>& paths, DiagnosticList& diagnostics);

struct LoadedInput {
  InputFormat format = InputFormat::Json;
  std::string compression;        // "", "gzip" or "zstd"
  simdjson::padded_string data;   // decompressed content with simdjson padding
};

// Reads a whole input into memory, decompressing gzip or zstd, and detects
// EVTX ("ElfFile" header) or JSON (first non-blank byte '{' or '['). Returns
// nullopt with `skip_reason` set when the content is neither; read errors are
// reported to `diagnostics`.
std::optional<LoadedInput> load_input(const InputFile& input, DiagnosticList& diagnostics, std::string& skip_reason);

}  // namespace sigscope
