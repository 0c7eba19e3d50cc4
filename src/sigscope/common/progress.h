// A progress line on stderr for long work, shown only when stderr is a
// terminal. Safe to advance from several threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace sigscope {

class Progress {
 public:
  // Starts drawing "label: done/total unit" every 200 ms when stderr is a
  // terminal and `total` is known (non-zero).
  Progress(std::string label, std::uint64_t total, std::string unit = "MB");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::uint64_t amount) { done_.fetch_add(amount, std::memory_order_relaxed); }
  // Clears the line; called by the destructor too.
  void finish();

 private:
  void draw();

  std::string label_;
  std::uint64_t total_;
  std::string unit_;
  std::atomic<std::uint64_t> done_{0};
  bool active_ = false;
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace sigscope
