// The process's heap policy. A worker allocates and frees the same medium-sized buffers for
// every layer (score vectors of n doubles per head, keep-sets, per-thread scratch: 64 KiB to a
// few MiB). With glibc's defaults those above the adaptive mmap threshold are mapped and
// unmapped on every call, and the top of the heap is trimmed back to the kernel whenever more
// than the trim threshold is free, so the next layer pays the kernel's page faults and zeroing
// again (on the development VM about 1 µs per 4 KiB page: a fifth of a K-norm layer at n = 8k).
// configure_heap() keeps such memory in the heap for reuse: allocations below 32 MiB (glibc's
// own ceiling for its adaptive threshold) come from the heap, and up to 128 MiB of free memory
// at the top of a heap is kept. Buffers of 2 MiB and more that are written before they are
// read use LargeBuffer (common/large_buffer.hpp), which pools them itself. Values never depend
// on it; CKV_HEAP=system leaves the C library's defaults (to measure the difference).
#pragma once

namespace ckv {

// The mmap and trim thresholds it sets, in bytes.
inline constexpr long kHeapMmapThreshold = 32L << 20;
inline constexpr long kHeapTrimThreshold = 128L << 20;

// Sets the policy once, at the start of main (the worker, ckv-sweep's commands, the
// benchmarks that measure what a worker does); a no-op without glibc or with CKV_HEAP=system.
// Returns whether the thresholds were set.
bool configure_heap();

}  // namespace ckv
