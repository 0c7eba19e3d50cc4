// Opening input files that were listed as regular files. Between the listing
// and the read, a file can be replaced by a named pipe, and a plain open() of
// a pipe waits for a writer, which would hang the hunt.
#pragma once

#include <string>

namespace sigscope {

// Opens `path` read-only without waiting on a pipe and returns the file
// descriptor when it is a regular file. Otherwise returns -1 and sets
// `error` to a message that names the reason.
int open_regular_file(const std::string& path, std::string& error);

}  // namespace sigscope
