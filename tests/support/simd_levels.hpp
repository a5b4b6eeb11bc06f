#pragma once
// Runs a test body at every SIMD level this CPU runs and at each given kernel thread count (the
// bit-identity tests of docs/numerics.md), then restores the active level and the default thread
// count, also when the body fails a REQUIRE.
#include <initializer_list>

#include "kernels/simd/simd.hpp"
#include "kernels/stages/threads.hpp"

namespace ckv::testing {

template <class Body>  // Body(simd::Level level, int threads)
void for_each_level_and_threads(std::initializer_list<int> thread_counts, Body&& body) {
  struct Restore {
    simd::Level level = simd::active_level();
    int threads = kernel_threads();
    ~Restore() {
      simd::set_active_level(level);
      set_default_kernel_threads(threads);
    }
  } restore;
  for (simd::Level level : simd::available_levels())
    for (int threads : thread_counts) {
      simd::set_active_level(level);
      set_default_kernel_threads(threads);
      body(level, threads);
    }
}

}  // namespace ckv::testing
