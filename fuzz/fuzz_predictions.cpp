// libFuzzer entry of the predictions target (fuzz/targets.hpp); scripts/fuzz.sh runs it.
#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ckv::fuzz::predictions_file(data, size);
  return 0;
}
