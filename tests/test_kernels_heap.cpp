// The process's heap policy (common/heap.hpp), in a test program of its own: glibc adapts its
// thresholds to what a process has freed before, so the check needs a fresh process. A medium
// buffer (4 MiB: a few score vectors at n = 32k) comes from the heap and stays there when freed,
// for the next layer to reuse, instead of being mapped and unmapped (page faults and zeroing
// again) for every layer, as glibc's defaults do for a fresh process.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/heap.hpp"

// Under AddressSanitizer (scripts/sanitize.sh) malloc is ASan's own allocator: glibc's
// thresholds do not apply and mallopt does not set them.
#if defined(__SANITIZE_ADDRESS__)
#define CKV_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CKV_TEST_ASAN 1
#endif
#endif

using ckv::configure_heap;

TEST_CASE("configure_heap keeps a freed 4 MiB buffer in the heap; CKV_HEAP=system opts out") {
  ::setenv("CKV_HEAP", "system", 1);
  CHECK_FALSE(configure_heap());
  ::unsetenv("CKV_HEAP");
#if defined(__GLIBC__) && !defined(CKV_TEST_ASAN)
  REQUIRE(configure_heap());
  constexpr size_t kBytes = size_t(4) << 20;
  const struct mallinfo2 before = mallinfo2();
  auto* p = static_cast<unsigned char*>(std::malloc(kBytes));
  REQUIRE(p);
  std::memset(p, 1, kBytes);
  const struct mallinfo2 held = mallinfo2();
  CHECK(held.hblkhd == before.hblkhd);  // not a mapping of its own (glibc's default: it would be)
  std::free(p);
  const struct mallinfo2 after = mallinfo2();
  CHECK(after.arena >= held.arena);                        // the heap was not trimmed
  CHECK(after.fordblks >= held.fordblks + kBytes - 4096);  // the buffer is free heap memory
#elif !defined(__GLIBC__)
  CHECK_FALSE(configure_heap());
#endif
}
