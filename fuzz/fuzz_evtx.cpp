// libFuzzer program for the evtx target (see targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return sigscope::fuzz::evtx(data, size);
}
