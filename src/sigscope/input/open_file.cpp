#include "sigscope/input/open_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sigscope {

int open_regular_file(const std::string& path, std::string& error) {
  // O_NONBLOCK makes open() return at once for a pipe without a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = fmt::format("cannot open input: {}", std::strerror(errno));
    return -1;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    error = fmt::format("cannot read input: {}", std::strerror(errno));
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(info.st_mode)) {
    error = "not a regular file any more: it was replaced by a pipe, socket or device after the inputs were listed";
    ::close(fd);
    return -1;
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so reads behave as usual.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace sigscope
