// The Monte Carlo walkers of circuitkv_walk, circuitkv_influence and rc share one engine: the
// Philox draw of walker w at step t (common/philox.hpp, keyed by the run's seed and stream), and
// one threading policy that splits walkers into contiguous chunks. Every caller reduces its
// chunks so that results never depend on the split: integer visit counts are summed (exact in
// any order); floating-point accumulations run in walker order after the parallel part.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "common/philox.hpp"

namespace ckv {

struct MonteCarloRun {
  long long walkers = 0;  // walker ids 0 .. walkers - 1 (the Philox counter; < 2^32)
  uint64_t seed = 0;
  uint32_t stream = 0;  // the method's (and run's) own Philox stream
  int threads = 0;      // 0: walker_threads(walkers)

  WalkDraw draw(long long walker, int step) const {
    return philox_walk_draw(seed, stream, uint32_t(walker), uint32_t(step));
  }
};

// A thread costs more than a few thousand walker steps: threads start only with at least this
// many walkers each.
constexpr long long kWalkersPerThread = 512;

// The one policy: `requested` when > 0, else kernel_threads() (kernels/stages/threads.hpp)
// bounded by walkers / kWalkersPerThread; always in [1, max(walkers, 1)].
int walker_threads(long long walkers, int requested = 0);

// Runs body(chunk, begin, end) for `chunks` contiguous ranges of [0, walkers), one thread per
// chunk (the calling thread when chunks == 1). Exceptions of a chunk are rethrown here.
void for_walker_chunks(long long walkers, int chunks,
                       const std::function<void(int chunk, long long begin, long long end)>& body);

// Integer visit counts [n]: walk(w, counts) adds the landings of walker w to `counts` (a
// per-chunk array); the chunks are summed, so the totals are the same for any thread count.
template <class Walk>
std::vector<uint64_t> count_visits(const MonteCarloRun& run, int n, Walk&& walk) {
  const int chunks = walker_threads(run.walkers, run.threads);
  std::vector<std::vector<uint64_t>> partial(chunks);
  for_walker_chunks(run.walkers, chunks, [&](int chunk, long long begin, long long end) {
    std::vector<uint64_t>& counts = partial[chunk];
    counts.assign(n, 0);
    for (long long w = begin; w < end; ++w) walk(w, counts);
  });
  std::vector<uint64_t> total(n, 0);
  for (const auto& counts : partial)
    for (int j = 0; j < n && !counts.empty(); ++j) total[j] += counts[j];
  return total;
}

}  // namespace ckv
