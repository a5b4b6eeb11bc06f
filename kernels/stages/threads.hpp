// Threads a CPU kernel may use inside one configuration (walkers, graph builders). Results never
// depend on the count (every kernel splits work so that sums are exact or in a fixed order).
#pragma once
#include <functional>

namespace ckv {

// $CKV_KERNEL_THREADS when set; else the default set by the process (an embedded run with W
// worker threads sets cores / W, an MPI worker cores / workers on its node); else the hardware
// count.
int kernel_threads();
void set_default_kernel_threads(int threads);

// Runs body(begin, end) over [0, count) split into contiguous chunks on `threads` threads.
// Callers make results independent of the split (each item writes only its own output).
void parallel_ranges(int count, int threads, const std::function<void(int, int)>& body);

}  // namespace ckv
