// libFuzzer program for the condition target (see targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return sigscope::fuzz::condition(data, size);
}
