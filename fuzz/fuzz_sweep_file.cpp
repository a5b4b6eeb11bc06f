// libFuzzer entry of the sweep_file target (fuzz/targets.hpp); scripts/fuzz.sh runs it.
#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ckv::fuzz::sweep_file(data, size);
  return 0;
}
