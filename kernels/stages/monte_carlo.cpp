#include "kernels/stages/monte_carlo.hpp"

#include <algorithm>

#include "kernels/stages/threads.hpp"

namespace ckv {

int walker_threads(long long walkers, int requested) {
  const long long most = std::max<long long>(1, walkers);
  if (requested > 0) return int(std::min<long long>(requested, most));
  const long long wanted = std::min<long long>(kernel_threads(), walkers / kWalkersPerThread);
  return int(std::clamp<long long>(wanted, 1, most));
}

void for_walker_chunks(long long walkers, int chunks,
                       const std::function<void(int, long long, long long)>& body) {
  chunks = std::max(1, chunks);
  parallel_ranges(chunks, chunks, [&](int first, int last) {
    for (int c = first; c < last; ++c)
      body(c, walkers * c / chunks, walkers * (c + 1) / chunks);
  });
}

}  // namespace ckv
