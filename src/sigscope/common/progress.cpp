#include "sigscope/common/progress.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace sigscope {

Progress::Progress(std::string label, std::uint64_t total, std::string unit)
    : label_(std::move(label)), total_(total), unit_(std::move(unit)) {
  // -q sets the log level to errors only, so it hides the bar too.
  active_ = total_ > 0 && isatty(STDERR_FILENO) && spdlog::should_log(spdlog::level::info);
  if (!active_) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      draw();
      wake_.wait_for(lock, std::chrono::milliseconds(200));
    }
  });
}

Progress::~Progress() { finish(); }

void Progress::draw() {
  double scale = unit_ == "MB" ? 1.0 / (1024.0 * 1024.0) : 1.0;
  std::uint64_t done = std::min(done_.load(std::memory_order_relaxed), total_);
  int width = 30;
  int filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total_) * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(static_cast<std::size_t>(width), '.');
  std::fprintf(stderr, "\r%s [%s] %.1f/%.1f %s", label_.c_str(), bar.c_str(), static_cast<double>(done) * scale,
               static_cast<double>(total_) * scale, unit_.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!active_) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  active_ = false;
}

}  // namespace sigscope
