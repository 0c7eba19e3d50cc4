// Bare simdjson parse of a JSON-lines file, the floor under `sigscope hunt`
// on the same file: every line is parsed into a DOM and its fields counted.
// Usage: json_parse_bench FILE.jsonl [THREADS]
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: json_parse_bench FILE.jsonl [THREADS]\n");
    return 2;
  }
  unsigned threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 1;
  simdjson::padded_string text;
  if (simdjson::padded_string::load(argv[1]).get(text)) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  // Split into line-aligned blocks, one queue shared by the threads.
  std::vector<std::pair<std::size_t, std::size_t>> blocks;
  const std::size_t block = 4 << 20;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = std::min(text.size(), pos + block);
    std::size_t nl = std::string_view(text.data(), text.size()).find('\n', end);
    end = nl == std::string_view::npos ? text.size() : nl + 1;
    blocks.emplace_back(pos, end);
    pos = end;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> events{0}, fields{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      simdjson::dom::parser parser;
      std::uint64_t my_events = 0, my_fields = 0;
      std::string_view all(text.data(), text.size());
      for (std::size_t b = next++; b < blocks.size(); b = next++) {
        std::size_t pos = blocks[b].first;
        while (pos < blocks[b].second) {
          std::size_t end = all.find('\n', pos);
          if (end == std::string_view::npos || end > blocks[b].second) end = blocks[b].second;
          if (end > pos) {
            simdjson::dom::element doc;
            if (!parser.parse(text.data() + pos, end - pos, false).get(doc) && doc.is_object()) {
              ++my_events;
              for (auto field : doc.get_object()) {
                (void)field;
                ++my_fields;
              }
            }
          }
          pos = end + 1;
        }
      }
      events += my_events;
      fields += my_fields;
    });
  }
  for (auto& t : pool) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("json_parse_bench: %u threads, %llu events, %.1f MB in %.3f s: %.0f events/s, %.1f MB/s\n", threads,
              static_cast<unsigned long long>(events.load()), static_cast<double>(text.size()) / (1 << 20), seconds,
              static_cast<double>(events) / seconds, static_cast<double>(text.size()) / (1 << 20) / seconds);
  return 0;
}
