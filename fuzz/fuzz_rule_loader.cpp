// libFuzzer program for the rule_loader target (see targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return sigscope::fuzz::rule_loader(data, size);
}
