// Measures bare EVTX decoding speed over folders of .evtx files: every
// chunk of every file is decoded into RawEvents and discarded. Reports
// records/s and MB/s with 1 thread and with all hardware threads, where MB is
// 10^6 bytes. MB/s is given twice. Over the event record bytes (each chunk's
// free space offset minus its 512-byte header), because sample files are
// mostly unused chunk space and preallocated all-zero chunks that cost almost
// nothing to skip. And over the whole file bytes, for comparing with tools
// that are timed on whole files. Chunks of all files form one work queue,
// because most sample files hold only one or two chunks.
//
// Usage: evtx_bench [FOLDER|FILE...] [--seconds N] [--once]
// Default folders: the shared corpus's evtx/ and sigma-regression/.
// --once decodes every chunk once on one thread and prints the record count,
// for instruction counts under callgrind.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "sigscope/input/evtx.h"

namespace fs = std::filesystem;
using sigscope::DiagnosticList;
using sigscope::EvtxChunkParser;
using sigscope::EvtxFile;
using sigscope::RawEvent;

namespace {

struct WorkItem {
  const EvtxFile* file;
  std::size_t chunk;
};

struct Result {
  double seconds = 0;
  std::uint64_t records = 0;
  std::uint64_t passes = 0;
};

// Decodes all work items with `threads` workers, repeating whole passes
// until at least `min_seconds` have elapsed.
Result run(const std::vector<WorkItem>& items, unsigned threads, double min_seconds) {
  Result result;
  auto start = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> records{0};
  std::atomic<std::uint64_t> checksum{0};
  do {
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      EvtxChunkParser parser;
      DiagnosticList diagnostics;
      std::uint64_t local_records = 0;
      std::uint64_t local_bytes = 0;
      auto sink = [&](const RawEvent& event) {
        ++local_records;
        for (const auto& field : event.fields) local_bytes += field.value.size();
      };
      for (std::size_t i; (i = next.fetch_add(1)) < items.size();) {
        parser.parse_chunk(*items[i].file, items[i].chunk, sink, diagnostics);
      }
      records += local_records;
      checksum += local_bytes;
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& thread : pool) thread.join();
    ++result.passes;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (result.seconds < min_seconds);
  result.records = records;
  if (checksum == 0) std::printf("(no field bytes decoded)\n");
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> folders;
  double min_seconds = 3;
  bool once = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else if (arg == "--once") {
      once = true;
    } else {
      folders.emplace_back(arg);
    }
  }
  if (folders.empty()) {
    fs::path shared = fs::path(SIGSCOPE_SHARED_DIR) / "corpus";
    folders = {shared / "evtx", shared / "sigma-regression"};
  }

  std::vector<fs::path> paths;
  for (const fs::path& folder : folders) {
    if (fs::is_regular_file(folder)) {
      paths.push_back(folder);
      continue;
    }
    if (!fs::is_directory(folder)) {
      std::fprintf(stderr, "evtx_bench: %s is neither a folder nor a file\n", folder.c_str());
      return 2;
    }
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
      if (entry.is_regular_file() && entry.path().extension() == ".evtx") paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());

  DiagnosticList diagnostics;
  std::vector<EvtxFile> files;
  std::uint64_t bytes = 0;
  for (const fs::path& path : paths) {
    if (auto file = EvtxFile::open(path.string(), diagnostics)) {
      bytes += file->size();
      files.push_back(std::move(*file));
    }
  }
  std::vector<WorkItem> items;
  std::uint64_t record_bytes = 0;
  std::vector<std::uint8_t> buffer;
  for (const EvtxFile& file : files) {
    for (std::size_t c = 0; c < file.chunk_count(); ++c) {
      items.push_back({&file, c});
      auto chunk = file.chunk(c, buffer);
      if (chunk.size() >= 512 && std::equal(chunk.begin(), chunk.begin() + 8, "ElfChnk")) {
        std::uint32_t free_space = chunk[48] | (chunk[49] << 8) | (chunk[50] << 16) |
                                   (static_cast<std::uint32_t>(chunk[51]) << 24);
        record_bytes += std::clamp<std::uint32_t>(free_space, 512, chunk.size()) - 512;
      }
    }
  }
  std::printf("%zu files, %.1f MiB; %zu chunks holding %.1f MiB of event records\n",
              files.size(), bytes / 1048576.0, items.size(), record_bytes / 1048576.0);

  if (once) {
    Result r = run(items, 1, 0);
    std::printf("once: %llu records\n", static_cast<unsigned long long>(r.records));
    return 0;
  }
  // One untimed pass faults the mappings in and warms the parsers' buffers.
  run(items, 1, 0);
  unsigned all = std::max(1u, std::thread::hardware_concurrency());
  std::vector<unsigned> thread_counts = {1};
  if (all > 1) thread_counts.push_back(all);
  for (unsigned threads : thread_counts) {
    Result r = run(items, threads, min_seconds);
    double mb = static_cast<double>(record_bytes) * r.passes / 1e6;
    double file_mb = static_cast<double>(bytes) * r.passes / 1e6;
    std::printf("threads %u: %.0f records/s, %.0f MB/s of records, %.1f MB/s of whole files (%llu passes in %.2f s)\n",
                threads, r.records / r.seconds, mb / r.seconds, file_mb / r.seconds,
                static_cast<unsigned long long>(r.passes),
                r.seconds);
  }
  return 0;
}
