#include "common/heap.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ckv {

bool configure_heap() {
  const char* policy = std::getenv("CKV_HEAP");
  if (policy && std::strcmp(policy, "system") == 0) return false;
#if defined(__GLIBC__)
  // Setting either threshold also turns off glibc's adaptive adjustment of both.
  return mallopt(M_MMAP_THRESHOLD, int(kHeapMmapThreshold)) == 1 &&
         mallopt(M_TRIM_THRESHOLD, int(kHeapTrimThreshold)) == 1;
#else
  return false;
#endif
}

}  // namespace ckv
