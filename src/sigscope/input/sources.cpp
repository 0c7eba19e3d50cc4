#include "sigscope/input/sources.h"

#include <zlib.h>
#include <zstd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "sigscope/common/text.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/open_file.h"
#include "sigscope/input/stream.h"

namespace sigscope {

namespace fs = std::filesystem;

namespace {

// `visited` holds the canonical path of every folder walked, so a folder that
// symbolic links reach several times (`a -> .`) is read once, not once per path.
void walk_folder(const fs::path& folder, std::vector<InputFile>& found, DiagnosticList& diagnostics, int depth,
                 std::set<fs::path>& visited, std::vector<SkippedEntry>* skipped) {
  std::error_code ec;
  fs::path real = fs::canonical(folder, ec);
  if (!ec && !visited.insert(real).second) return;
  fs::directory_iterator it(folder, ec);
  if (ec) {
    diagnostics.error(folder.string(), 0, 0, "", fmt::format("cannot list folder: {}", ec.message()),
                      "check its permissions; the other inputs are still read");
    return;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      diagnostics.error(folder.string(), 0, 0, "", fmt::format("cannot list folder: {}", ec.message()),
                        "check its permissions; the other inputs are still read");
      return;
    }
    std::error_code status_ec;
    auto status = it->status(status_ec);
    if (status_ec) {
      if (skipped) skipped->push_back({it->path().string(), "symbolic link to nothing"});
      continue;
    }
    if (fs::is_directory(status)) {
      if (depth < 64) walk_folder(it->path(), found, diagnostics, depth + 1, visited, skipped);
    } else if (fs::is_regular_file(status)) {
      found.push_back({it->path().string(), static_cast<std::uint64_t>(it->file_size(status_ec)), false});
    } else if (skipped) {
      skipped->push_back({it->path().string(), "not a regular file (pipe, socket or device)"});
    }
  }
}

}  // namespace

std::vector<InputFile> find_inputs(const std::vector<std::string>& paths, DiagnosticList& diagnostics,
                                   std::vector<SkippedEntry>* skipped) {
  std::vector<InputFile> out;
  for (const auto& p : paths) {
    if (p == "-") {
      out.push_back({"-", 0, true});
      continue;
    }
    std::error_code ec;
    auto status = fs::status(p, ec);
    if (ec || !fs::exists(status)) {
      diagnostics.error(p, 0, 0, "", "input not found", "check the path");
      continue;
    }
    if (fs::is_regular_file(status)) {
      out.push_back({p, static_cast<std::uint64_t>(fs::file_size(p, ec)), false});
      continue;
    }
    if (fs::is_fifo(status)) {
      out.push_back({p, 0, true});
      continue;
    }
    if (!fs::is_directory(status)) {
      diagnostics.error(p, 0, 0, "", "input is a device or socket, not a file, folder or pipe",
                        "give a log file, a folder or - for standard input");
      continue;
    }
    std::vector<InputFile> found;
    std::set<fs::path> visited;
    walk_folder(p, found, diagnostics, 0, visited, skipped);
    std::sort(found.begin(), found.end(), [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
    out.insert(out.end(), found.begin(), found.end());
  }
  // A file named twice (`a.jsonl ./a.jsonl`, a folder and a file in it, hard
  // links) is read twice, as asked, but its events then count twice in
  // correlations, so one warning names the first repeat.
  std::map<std::pair<dev_t, ino_t>, std::size_t> first_of;
  std::size_t repeats = 0;
  std::size_t first_repeat = 0, first_original = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    struct stat st {};
    if (out[i].stream || ::stat(out[i].path.c_str(), &st) != 0) continue;
    auto [it, added] = first_of.emplace(std::make_pair(st.st_dev, st.st_ino), i);
    if (added) continue;
    if (repeats++ == 0) {
      first_repeat = i;
      first_original = it->second;
    }
  }
  if (repeats > 0)
    diagnostics.warning(out[first_repeat].path, 0, 0, "",
                        fmt::format("the same file as {}, given earlier, is read again, so its events count more "
                                    "than once in correlations{}",
                                    out[first_original].path,
                                    repeats > 1 ? fmt::format(" ({} inputs repeat an earlier one)", repeats) : ""),
                        "name each file once");
  return out;
}

namespace {

bool read_all(const InputFile& input, std::string& out, DiagnosticList& diagnostics) {
  if (input.path == "-") {
    std::ios::sync_with_stdio(false);
    out.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  if (input.stream) {
    std::ifstream in(input.path, std::ios::binary);
    if (!in) {
      diagnostics.error(input.path, 0, 0, "", fmt::format("cannot open input: {}", std::strerror(errno)),
                        "check that the pipe exists and is readable");
      return false;
    }
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(input.path, std::ios::binary);
  if (!in) {
    diagnostics.error(input.path, 0, 0, "", "cannot open input", "check that the file exists and is readable");
    return false;
  }
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  in.seekg(0, std::ios::beg);
  out.resize(size > 0 ? static_cast<std::size_t>(size) : 0);
  if (size > 0) in.read(out.data(), size);
  if (!in) {
    diagnostics.error(input.path, 0, 0, "", "cannot read input", "check the file and the disk");
    return false;
  }
  return true;
}

std::string expansion_error(const char* format, std::uint64_t compressed, std::uint64_t limit, std::uint64_t consumed) {
  return fmt::format("{} data expands to more than {} MiB, {} times its compressed size of {} bytes (stopped after "
                     "reading {} compressed bytes); this looks like a compression bomb and the input is not read",
                     format, limit >> 20, limit / std::max<std::uint64_t>(compressed, 1), compressed, consumed);
}

bool gunzip(const std::string& in, std::string& out, std::string& error) {
  z_stream z{};
  // 16 + MAX_WBITS: gzip framing; concatenated members are handled by the loop.
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    error = "cannot start the gzip decoder";
    return false;
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buffer[1 << 16];
  int rc = Z_OK;
  const std::uint64_t limit = expansion_limit(in.size());
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - z.avail_out);
    if (out.size() > limit) {
      inflateEnd(&z);
      error = expansion_error("gzip", in.size(), limit, z.total_in);
      return false;
    }
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // next gzip member
      continue;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    error = fmt::format("gzip data is corrupt or truncated ({})", z.msg ? z.msg : "zlib error");
    return false;
  }
  return true;
}

bool unzstd(const std::string& in, std::string& out, std::string& error) {
  ZSTD_DCtx* ctx = new_zstd_decoder();
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string buffer(ZSTD_DStreamOutSize(), '\0');
  std::size_t rc = 0;
  const std::uint64_t limit = expansion_limit(in.size());
  // The loop also runs while the last call filled the output buffer, because
  // the decoder may still hold output after it has consumed all input.
  bool more_output = true;
  while (input.pos < input.size || more_output) {
    ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
    rc = ZSTD_decompressStream(ctx, &output, &input);
    if (ZSTD_isError(rc)) {
      error = zstd_error_message(rc);
      ZSTD_freeDCtx(ctx);
      return false;
    }
    out.append(buffer.data(), output.pos);
    if (out.size() > limit) {
      error = expansion_error("zstd", in.size(), limit, input.pos);
      ZSTD_freeDCtx(ctx);
      return false;
    }
    more_output = output.pos == output.size;
  }
  ZSTD_freeDCtx(ctx);
  if (rc != 0) {
    error = "zstd data is truncated";
    return false;
  }
  return true;
}

}  // namespace

bool looks_like_evtx(const std::string& path) {
  if (path == "-") return false;
  // A plain read: an ifstream costs more to set up than the read, and hunt
  // checks every input.
  std::string error;
  const int fd = open_regular_file(path, error);
  if (fd < 0) return false;
  char header[8] = {};
  ssize_t got = ::pread(fd, header, sizeof header, 0);
  bool evtx = got == static_cast<ssize_t>(sizeof header) && std::memcmp(header, "ElfFile\0", 8) == 0;
  if (!evtx) {
    // A damaged file header followed by an intact first chunk (EvtxFile reads those).
    got = ::pread(fd, header, sizeof header, static_cast<off_t>(kEvtxFileHeaderSize));
    evtx = got == static_cast<ssize_t>(sizeof header) && std::memcmp(header, "ElfChnk\0", 8) == 0;
  }
  ::close(fd);
  return evtx;
}

bool starts_like_evtx(std::string_view bytes) {
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "ElfFile\0", 8) == 0) return true;
  return bytes.size() >= kEvtxFileHeaderSize + 8 &&
         std::memcmp(bytes.data() + kEvtxFileHeaderSize, "ElfChnk\0", 8) == 0;
}

namespace {

bool is_gzip(std::string_view b) { return b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x1F && static_cast<unsigned char>(b[1]) == 0x8B; }
bool is_zstd(std::string_view b) {
  return b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0x28 && static_cast<unsigned char>(b[1]) == 0xB5 &&
         static_cast<unsigned char>(b[2]) == 0x2F && static_cast<unsigned char>(b[3]) == 0xFD;
}

// Converts UTF-16 text found by detect_utf16 to UTF-8 (see Utf16Decoder).
// Counts the replaced units in `replaced` and sets `first_offset` to the
// byte offset of the first.
std::string utf16_to_utf8(std::string_view b, const Utf16Start& utf16, std::uint64_t& replaced,
                          std::size_t& first_offset) {
  Utf16Decoder decoder(utf16.big_endian);
  std::string out;
  out.reserve(b.size());
  decoder.decode(b.substr(utf16.bom_bytes), true, out);
  replaced += decoder.replaced();
  if (decoder.replaced() > 0) first_offset = static_cast<std::size_t>(decoder.first_replaced_offset()) + utf16.bom_bytes;
  return out;
}

}  // namespace

std::string utf16_repair_message(std::uint64_t count, std::uint64_t first_offset, bool compressed) {
  const char* where = compressed ? " of the decompressed data" : "";
  if (count == 1)
    return fmt::format("the UTF-16 text holds 1 invalid code unit (an unpaired surrogate or an odd last byte), read as "
                       "U+FFFD, at byte offset {}{}",
                       first_offset, where);
  return fmt::format("the UTF-16 text holds {} invalid code units (unpaired surrogates or an odd last byte), read as "
                     "U+FFFD; the first is at byte offset {}{}",
                     count, first_offset, where);
}

namespace {

// Classifies decoded content; sets skip_reason when it is neither EVTX nor JSON.
std::optional<InputFormat> detect(std::string_view content, std::string& skip_reason) {
  if (starts_like_evtx(content)) return InputFormat::Evtx;
  std::size_t i = content.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  while (i < content.size() && (content[i] == ' ' || content[i] == '\t' || content[i] == '\n' || content[i] == '\r')) ++i;
  if (i == content.size()) {
    skip_reason = "empty";
    return std::nullopt;
  }
  if (content[i] != '{' && content[i] != '[') {
    skip_reason = "not EVTX or JSON";
    return std::nullopt;
  }
  return InputFormat::Json;
}

// Reads a plain file straight into a padded buffer (one copy, no temporary).
bool read_padded(const std::string& path, simdjson::padded_string& out, DiagnosticList& diagnostics) {
  std::string error;
  const int fd = open_regular_file(path, error);
  std::FILE* f = fd >= 0 ? ::fdopen(fd, "rb") : nullptr;
  if (!f) {
    if (fd >= 0) {
      error = fmt::format("cannot open input: {}", std::strerror(errno));
      ::close(fd);
    }
    diagnostics.error(path, 0, 0, "", error, "check that the file exists and is readable");
    return false;
  }
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size < 0) size = 0;
  simdjson::padded_string buffer(static_cast<std::size_t>(size));
  std::size_t got = size > 0 ? std::fread(buffer.data(), 1, static_cast<std::size_t>(size), f) : 0;
  bool failed = std::ferror(f) != 0 || got != static_cast<std::size_t>(size);
  std::fclose(f);
  if (failed) {
    diagnostics.error(path, 0, 0, "", "cannot read input", "check the file and the disk");
    return false;
  }
  out = std::move(buffer);
  return true;
}

// A file named like a log whose content is neither EVTX nor JSON is an
// error, not just a skipped file.
std::optional<LoadedInput> not_a_log(const InputFile& input, std::string_view content, DiagnosticList& diagnostics,
                                     std::string& skip_reason) {
  // An empty file (a log just rotated) is skipped and counted, not an error.
  if (skip_reason == "empty") return std::nullopt;
  std::string ext = ascii_lower(fs::path(input.path).extension().string());
  if (ext == ".evtx" || ext == ".json" || ext == ".jsonl" || ext == ".ndjson") {
    skip_reason = "named like a log but neither EVTX nor JSON";
    std::size_t nul_bytes = 0, examined = 0;
    if (const char* encoding = looks_like_utf16(content, nul_bytes, examined)) {
      // UTF-16 JSON without a byte order mark is read (see detect_utf16),
      // so this text does not start like JSON even in UTF-16.
      const bool little_endian = std::string_view(encoding) == "UTF-16LE";
      diagnostics.error(input.path, 0, 0, "",
                        fmt::format("content looks like {} text without a byte order mark: {} of its first {} bytes "
                                    "are NUL, almost all at {} offsets. It does not start with '{{' or '[', so it "
                                    "is not read as JSON",
                                    encoding, nul_bytes, examined, little_endian ? "odd" : "even"),
                        fmt::format("if it is a JSON log, convert it to UTF-8, e.g. with iconv -f {} -t UTF-8, and "
                                    "check that it starts with '{{' or '['",
                                    encoding));
    } else {
      diagnostics.error(input.path, 0, 0, "",
                        "content is neither EVTX (no ElfFile header) nor JSON (no '{' or '[' at the start)",
                        "check the file: it may be damaged, truncated or in another format");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<LoadedInput> load_input(const InputFile& input, DiagnosticList& diagnostics, std::string& skip_reason) {
  LoadedInput loaded;
  auto unreadable = [&] {
    skip_reason = "unreadable";
    return std::nullopt;
  };
  if (!input.stream && looks_like_evtx(input.path)) {
    loaded.format = InputFormat::Evtx;
    return loaded;
  }
  // Plain files go straight into the padded buffer simdjson needs.
  if (!input.stream) {
    if (!read_padded(input.path, loaded.json, diagnostics)) return unreadable();
    std::string_view content(loaded.json.data(), loaded.json.size());
    if (!is_gzip(content) && !is_zstd(content) && !detect_utf16(content).found) {
      auto format = detect(content, skip_reason);
      if (!format) return not_a_log(input, content, diagnostics, skip_reason);
      loaded.format = *format;
      return loaded;
    }
  }
  std::string raw;
  if (input.stream) {
    if (!read_all(input, raw, diagnostics)) return unreadable();
  } else {
    raw.assign(loaded.json.data(), loaded.json.size());
    loaded.json = simdjson::padded_string();
  }
  std::string error;
  std::string decoded;
  if (is_gzip(raw)) {
    loaded.compression = "gzip";
    if (!gunzip(raw, decoded, error)) {
      diagnostics.error(input.path, 0, 0, "", error, "recompress or decompress the file and try again");
      return unreadable();
    }
    raw.swap(decoded);
  } else if (is_zstd(raw)) {
    loaded.compression = "zstd";
    if (!unzstd(raw, decoded, error)) {
      diagnostics.error(input.path, 0, 0, "", error, "recompress or decompress the file and try again");
      return unreadable();
    }
    raw.swap(decoded);
  }
  return load_from_bytes(input, std::move(raw), loaded.compression, diagnostics, skip_reason);
}

std::optional<LoadedInput> load_from_bytes(const InputFile& input, std::string raw, std::string compression,
                                           DiagnosticList& diagnostics, std::string& skip_reason) {
  LoadedInput loaded;
  loaded.compression = std::move(compression);
  if (const Utf16Start utf16 = detect_utf16(raw); utf16.found) {
    // Windows PowerShell 5.1 writes UTF-16LE with a byte order mark by default.
    loaded.compression += loaded.compression.empty() ? "utf-16" : "+utf-16";
    std::size_t first_offset = 0;
    raw = utf16_to_utf8(raw, utf16, loaded.replaced_surrogates, first_offset);
    if (loaded.replaced_surrogates > 0)
      diagnostics.warning(input.path, 0, 0, "",
                          utf16_repair_message(loaded.replaced_surrogates, first_offset,
                                               loaded.compression.find('+') != std::string::npos),
                          "fix the encoding at the source if the exact text matters");
  }
  auto format = detect(raw, skip_reason);
  if (!format) return not_a_log(input, raw, diagnostics, skip_reason);
  loaded.format = *format;
  if (*format == InputFormat::Evtx) {
    loaded.evtx_bytes = std::make_shared<const std::string>(std::move(raw));
    return loaded;
  }
  loaded.json = simdjson::padded_string(raw);
  return loaded;
}

}  // namespace sigscope
