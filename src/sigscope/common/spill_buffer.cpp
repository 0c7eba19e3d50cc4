#include "sigscope/common/spill_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace sigscope {

SpillBuffer::~SpillBuffer() {
  if (fd_ >= 0) ::close(fd_);
}

void SpillBuffer::append(std::string_view text) {
  memory_.append(text);
  if (memory_.size() > limit_ && error_.empty()) flush();
}

void SpillBuffer::read(std::uint64_t offset, std::size_t length, std::string& out) {
  if (offset >= file_bytes_) {
    out.append(memory_, static_cast<std::size_t>(offset - file_bytes_), length);
    return;
  }
  const std::size_t start = out.size();
  out.resize(start + length);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd_, out.data() + start + done, length - done, static_cast<off_t>(offset + done));
    if (n <= 0) {
      out.resize(start);
      if (error_.empty()) error_ = fmt::format("cannot read a temporary file in {}: {}", dir_, std::strerror(errno));
      return;
    }
    done += static_cast<std::size_t>(n);
  }
}

// Moves the text in memory to the end of the file, creating it first.
void SpillBuffer::flush() {
  if (fd_ < 0) {
    std::string path = dir_ + "/sigscope-spill-XXXXXX";
    fd_ = ::mkstemp(path.data());
    if (fd_ < 0) {
      error_ = fmt::format("cannot create a temporary file in {}: {}", dir_, std::strerror(errno));
      return;
    }
    ::unlink(path.c_str());  // the file lives until it is closed
  }
  std::size_t done = 0;
  while (done < memory_.size()) {
    const ssize_t n = ::write(fd_, memory_.data() + done, memory_.size() - done);
    if (n <= 0) {
      // The bytes written stay in the file, and the rest stays in memory.
      error_ = fmt::format("cannot write a temporary file in {}: {}", dir_, std::strerror(errno));
      break;
    }
    done += static_cast<std::size_t>(n);
    file_bytes_ += static_cast<std::uint64_t>(n);
  }
  memory_.erase(0, done);
}

}  // namespace sigscope
