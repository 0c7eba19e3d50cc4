// A minimal parallel loop for the batch stages (loading, compiling, writing
// pages): indexes are handed out one at a time from a shared counter.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace sigscope {

// Calls body(i) for every i in [0, count) on up to `threads` threads (0: one
// per hardware thread), the calling thread included. Returns when all calls
// have returned. `body` must be safe to call concurrently for different i.
template <typename Body>
void parallel_for(std::size_t count, unsigned threads, Body&& body) {
  // More threads than there is work, or than 256, only costs stacks.
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, 256u);
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, count)));
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) body(i);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace sigscope
