// Text kept in memory up to a limit and in a temporary file beyond it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sigscope {

// The message for a temporary file in `dir` that could not be created,
// written or read (`action`), with the system error `error` and what to do.
std::string temporary_file_error(const char* action, const std::string& dir, int error);

// Text appended piece by piece and read back in any order: kept in memory
// up to `memory_limit` bytes, then moved to an unlinked temporary file in
// `dir`. When the file cannot be created or written, the rest of the text
// stays in memory and error() returns the reason.
class SpillBuffer {
 public:
  SpillBuffer(std::size_t memory_limit, std::string dir) : limit_(memory_limit), dir_(std::move(dir)) {}
  ~SpillBuffer();
  SpillBuffer(const SpillBuffer&) = delete;
  SpillBuffer& operator=(const SpillBuffer&) = delete;

  // Bytes appended so far, so the offset of the next append.
  std::uint64_t size() const { return file_bytes_ + memory_.size(); }
  // Bytes moved to the temporary file.
  std::uint64_t file_bytes() const { return file_bytes_; }
  const std::string& error() const { return error_; }

  void append(std::string_view text);
  // Appends the `length` bytes at `offset` to `out` and returns true. Returns
  // false, appends nothing and sets error() when the file cannot be read.
  bool read(std::uint64_t offset, std::size_t length, std::string& out);

 private:
  void flush();

  std::size_t limit_;
  std::string dir_;
  std::string memory_;  // the text after the file's
  int fd_ = -1;
  std::uint64_t file_bytes_ = 0;
  std::string error_;
};

}  // namespace sigscope
