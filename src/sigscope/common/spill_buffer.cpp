#include "sigscope/common/spill_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace sigscope {

std::string temporary_file_error(const char* action, const std::string& dir, int error) {
  const char* hint = error == EMFILE || error == ENFILE
                         ? "raise the limit of open files (ulimit -n) above 200"
                         : "set TMPDIR to a writable folder with free space";
  return fmt::format("cannot {} a temporary file in {}: {}; {}", action, dir, std::strerror(error), hint);
}

SpillBuffer::~SpillBuffer() {
  if (fd_ >= 0) ::close(fd_);
}

void SpillBuffer::append(std::string_view text) {
  memory_.append(text);
  if (memory_.size() > limit_ && error_.empty()) flush();
}

bool SpillBuffer::read(std::uint64_t offset, std::size_t length, std::string& out) {
  const std::size_t start = out.size();
  if (offset < file_bytes_) {
    // The part in the file; a failed write can leave a piece's start there
    // and its rest in memory.
    const std::size_t in_file = static_cast<std::size_t>(std::min<std::uint64_t>(length, file_bytes_ - offset));
    out.resize(start + in_file);
    std::size_t done = 0;
    while (done < in_file) {
      const ssize_t n = ::pread(fd_, out.data() + start + done, in_file - done, static_cast<off_t>(offset + done));
      if (n <= 0) {
        out.resize(start);
        if (error_.empty()) error_ = temporary_file_error("read", dir_, n < 0 ? errno : EIO);
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    offset += in_file;
    length -= in_file;
  }
  if (length > 0) out.append(memory_, static_cast<std::size_t>(offset - file_bytes_), length);
  return true;
}

// Moves the text in memory to the end of the file, creating it first.
void SpillBuffer::flush() {
  if (fd_ < 0) {
    std::string path = dir_ + "/sigscope-spill-XXXXXX";
    fd_ = ::mkstemp(path.data());
    if (fd_ < 0) {
      error_ = temporary_file_error("create", dir_, errno);
      return;
    }
    ::unlink(path.c_str());  // the file lives until it is closed
  }
  std::size_t done = 0;
  while (done < memory_.size()) {
    const ssize_t n = ::write(fd_, memory_.data() + done, memory_.size() - done);
    if (n <= 0) {
      // The bytes written stay in the file, and the rest stays in memory.
      error_ = temporary_file_error("write", dir_, errno);
      break;
    }
    done += static_cast<std::size_t>(n);
    file_bytes_ += static_cast<std::uint64_t>(n);
  }
  memory_.erase(0, done);
}

}  // namespace sigscope
