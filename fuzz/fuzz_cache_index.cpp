// libFuzzer entry of the cache_index target (fuzz/targets.hpp); scripts/fuzz.sh runs it.
#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ckv::fuzz::cache_index(data, size);
  return 0;
}
