// Bare simdjson passes over a JSON-lines file, the floor under `sigscope hunt`
// on the same file. Two modes:
//   dom       Every line is parsed into a DOM and its top-level fields counted.
//   ondemand  The file is walked with the On-Demand API (iterate_many). Every
//             string value of every line, nested ones included, is read
//             unescaped. Keys are stepped over without unescaping, and
//             numbers, booleans and nulls are skipped.
// The file is cut into line-aligned 4 MiB blocks that the threads take from
// one queue. Reading the file into memory is not timed.
// Usage: json_parse_bench FILE.jsonl [THREADS] [dom|ondemand]   (defaults: 1, dom)
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Block = std::pair<std::size_t, std::size_t>;

struct Counts {
  std::uint64_t events = 0;
  std::uint64_t fields = 0;        // dom: top-level fields; ondemand: string values read
  std::uint64_t string_bytes = 0;  // ondemand: bytes of the unescaped string values
  std::uint64_t errors = 0;
};

void dom_pass(const simdjson::padded_string& text, const Block& block, simdjson::dom::parser& parser, Counts& c) {
  std::string_view all(text.data(), text.size());
  std::size_t pos = block.first;
  while (pos < block.second) {
    std::size_t end = all.find('\n', pos);
    if (end == std::string_view::npos || end > block.second) end = block.second;
    if (end > pos) {
      simdjson::dom::element doc;
      if (!parser.parse(text.data() + pos, end - pos, false).get(doc) && doc.is_object()) {
        ++c.events;
        for (auto field : doc.get_object()) {
          (void)field;
          ++c.fields;
        }
      } else {
        ++c.errors;
      }
    }
    pos = end + 1;
  }
}

// Reads every string value below `value`; returns false on a parse error.
bool read_strings(simdjson::ondemand::value value, Counts& c) {
  simdjson::ondemand::json_type type;
  if (value.type().get(type)) return false;
  switch (type) {
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object object;
      if (value.get_object().get(object)) return false;
      for (auto field : object) {
        simdjson::ondemand::value child;
        if (field.value().get(child) || !read_strings(child, c)) return false;
      }
      return true;
    }
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array array;
      if (value.get_array().get(array)) return false;
      for (auto element : array) {
        simdjson::ondemand::value child;
        if (element.get(child) || !read_strings(child, c)) return false;
      }
      return true;
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      if (value.get_string().get(s)) return false;
      ++c.fields;
      c.string_bytes += s.size();
      return true;
    }
    default:
      return true;
  }
}

void ondemand_pass(const simdjson::padded_string& text, const Block& block, simdjson::ondemand::parser& parser,
                   Counts& c) {
  // The block lies inside the padded file buffer, so the padding that
  // iterate_many reads past its end is always there.
  simdjson::ondemand::document_stream stream;
  if (parser.iterate_many(reinterpret_cast<const std::uint8_t*>(text.data()) + block.first, block.second - block.first,
                          simdjson::ondemand::DEFAULT_BATCH_SIZE).get(stream)) {
    ++c.errors;
    return;
  }
  for (auto doc : stream) {
    simdjson::ondemand::object object;
    if (doc.get_object().get(object)) {
      ++c.errors;
      continue;
    }
    bool ok = true;
    for (auto field : object) {
      simdjson::ondemand::value child;
      if (field.value().get(child) || !read_strings(child, c)) {
        ok = false;
        break;
      }
    }
    ok ? ++c.events : ++c.errors;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: json_parse_bench FILE.jsonl [THREADS] [dom|ondemand]\n");
    return 2;
  }
  unsigned threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 1;
  const bool ondemand = argc > 3 && std::strcmp(argv[3], "ondemand") == 0;
  if (argc > 3 && !ondemand && std::strcmp(argv[3], "dom") != 0) {
    std::fprintf(stderr, "json_parse_bench: unknown mode '%s'; use dom or ondemand\n", argv[3]);
    return 2;
  }
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  simdjson::padded_string text;
  if (simdjson::padded_string::load(argv[1]).get(text)) {
    std::fprintf(stderr, "json_parse_bench: failed to read %s; check the path\n", argv[1]);
    return 1;
  }
  std::vector<Block> blocks;
  const std::size_t block_bytes = 4 << 20;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = std::min(text.size(), pos + block_bytes);
    std::size_t nl = std::string_view(text.data(), text.size()).find('\n', end);
    end = nl == std::string_view::npos ? text.size() : nl + 1;
    blocks.emplace_back(pos, end);
    pos = end;
  }

  std::atomic<std::size_t> next{0};
  std::vector<Counts> counts(threads);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      simdjson::dom::parser dom_parser;
      simdjson::ondemand::parser ondemand_parser;
      for (std::size_t b = next++; b < blocks.size(); b = next++) {
        if (ondemand)
          ondemand_pass(text, blocks[b], ondemand_parser, counts[t]);
        else
          dom_pass(text, blocks[b], dom_parser, counts[t]);
      }
    });
  }
  for (auto& t : pool) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  Counts total;
  for (const auto& c : counts) {
    total.events += c.events;
    total.fields += c.fields;
    total.string_bytes += c.string_bytes;
    total.errors += c.errors;
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::printf("json_parse_bench %s: %u threads, %llu events, %.1f MB in %.3f s: %.0f events/s, %.1f MB/s", 
              ondemand ? "ondemand" : "dom", threads, static_cast<unsigned long long>(total.events), mb, seconds,
              static_cast<double>(total.events) / seconds, mb / seconds);
  if (ondemand)
    std::printf(" (%llu string values, %.1f MB of them)", static_cast<unsigned long long>(total.fields),
                static_cast<double>(total.string_bytes) / 1e6);
  if (total.errors) std::printf(" (%llu lines failed to parse)", static_cast<unsigned long long>(total.errors));
  std::printf("\n");
  return 0;
}
