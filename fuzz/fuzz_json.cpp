// libFuzzer program for the json target (see targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return sigscope::fuzz::json(data, size);
}
