// Threads a CPU kernel may use inside one configuration (walkers, graph builders). Results never
// depend on the count (every kernel splits work so that sums are exact or in a fixed order).
#pragma once
#include <functional>

namespace ckv {

// $CKV_KERNEL_THREADS when set; else the cores this process's units share (the hardware count,
// or what set_default_kernel_threads chose: an MPI worker takes cores / workers on its node)
// divided by the batches in flight in the process at this moment (BatchInFlight), at least 1:
// while every embedded worker thread is busy each unit runs on one core; at the tail of a
// campaign, in `inspect` or a lone big sample, a unit uses the idle cores too. Results never
// depend on it.
int kernel_threads();
void set_default_kernel_threads(int cores);

// Counts a batch as in flight for its lifetime (worker/evaluator.cpp).
class BatchInFlight {
 public:
  BatchInFlight();
  ~BatchInFlight();
  BatchInFlight(const BatchInFlight&) = delete;
  BatchInFlight& operator=(const BatchInFlight&) = delete;
};

// Runs body(begin, end) over [0, count) split into contiguous chunks on `threads` threads.
// Callers make results independent of the split (each item writes only its own output).
void parallel_ranges(int count, int threads, const std::function<void(int, int)>& body);

}  // namespace ckv
