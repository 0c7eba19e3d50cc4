// Finding and opening log inputs: files, folders (recursive) and stdin, with
// gzip and zstd decompression and format detection by content.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigscope/common/diagnostics.h"

namespace sigscope {

enum class InputFormat { Evtx, Json };

struct InputFile {
  std::string path;        // "-" for stdin
  std::uint64_t size = 0;  // bytes on disk (0 for stdin and pipes)
  bool stream = false;     // stdin or a named pipe: read once, front to back
};

// An entry of a searched folder that is not read: a pipe, socket or device,
// or a symbolic link to nothing.
struct SkippedEntry {
  std::string path;
  std::string reason;
};

// Lists the inputs named by `paths`: files and named pipes as given,
// folders searched recursively (sorted), "-" for stdin. Missing paths,
// folders that cannot be listed and devices are reported as errors. Entries
// of folders that are not regular files are left out, and listed in
// `skipped` when it is given.
std::vector<InputFile> find_inputs(const std::vector<std::string>& paths, DiagnosticList& diagnostics,
                                   std::vector<SkippedEntry>* skipped = nullptr);

// Limit on decompression, against compression bombs: data may expand to at
// most kMaxExpansionRatio times its compressed size, or to
// kMinExpansionLimit bytes when that is more. Logs compress by about 5 to 50
// times; gzip cannot exceed about 1032 and zstd reaches millions.
inline constexpr std::uint64_t kMaxExpansionRatio = 250;
inline constexpr std::uint64_t kMinExpansionLimit = 64ull << 20;

// Returns the maximum decompressed size allowed for `compressed_bytes` of input.
inline std::uint64_t expansion_limit(std::uint64_t compressed_bytes) {
  return std::max(kMinExpansionLimit, kMaxExpansionRatio * compressed_bytes);
}

struct LoadedInput {
  InputFormat format = InputFormat::Json;
  std::string compression;        // "", "gzip" or "zstd"
  // Unpaired surrogates in UTF-16 text, read as U+FFFD (reported to the
  // diagnostics with the offset of the first).
  std::uint64_t replaced_surrogates = 0;
  simdjson::padded_string json;   // JSON content with simdjson padding
  // EVTX content that had to be read into memory (stdin or compressed);
  // null when EvtxFile::open can read the file from its path.
  std::shared_ptr<const std::string> evtx_bytes;
};

// True when the file at `path` starts with the EVTX file signature.
bool looks_like_evtx(const std::string& path);

// Returns true when `bytes`, the start of some data, begin with the EVTX file
// signature, or hold a chunk signature right after the file header.
bool starts_like_evtx(std::string_view bytes);

// Loads an input, decompressing gzip or zstd and converting UTF-16 text
// (with a byte order mark) to UTF-8, and detects EVTX ("ElfFile" header) or
// JSON (first non-blank byte '{' or '['). Uncompressed EVTX files are not
// read here: the EVTX reader reads them. Returns nullopt with `skip_reason`
// set when the content is neither. Such a file is also reported as an error
// when its name says it is a log (.evtx, .json, .jsonl, .ndjson). Read errors
// are reported to `diagnostics` and set skip_reason to "unreadable", and so
// is compressed data that expands past expansion_limit().
std::optional<LoadedInput> load_input(const InputFile& input, DiagnosticList& diagnostics, std::string& skip_reason);

// Like load_input, for content already read (and decompressed) from `input`:
// converts UTF-16 text and detects EVTX or JSON. `compression` names the
// decompression already done ("", "gzip" or "zstd").
std::optional<LoadedInput> load_from_bytes(const InputFile& input, std::string content, std::string compression,
                                           DiagnosticList& diagnostics, std::string& skip_reason);

// Warning text for `count` UTF-16 code units read as U+FFFD, the first at
// byte `first_offset` of the UTF-16 data (of the decompressed data when
// `compressed`).
std::string utf16_repair_message(std::uint64_t count, std::uint64_t first_offset, bool compressed);

}  // namespace sigscope
