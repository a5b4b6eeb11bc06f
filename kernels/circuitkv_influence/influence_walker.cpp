#include "kernels/circuitkv_influence/influence_walker.hpp"

#include <algorithm>
#include <cmath>

#include "common/philox.hpp"

namespace ckv::influence {

TransitionTable TransitionTable::build(const walkers::ReducedAttention& a, int sink,
                                       double temperature) {
  TransitionTable t;
  t.n_ = a.n;
  t.sink_ = sink;
  const int rows = std::max(0, a.n - sink);
  t.cdf_.assign(size_t(rows) * size_t(rows + 1) / 2, 0.0f);
  const double inv_t = 1.0 / temperature;
  walkers::parallel_ranges(rows, walkers::kernel_threads(), [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const int pos = sink + r;
      const float* attention = a.row(pos);
      float* cdf = t.cdf_.data() + size_t(r) * size_t(r + 1) / 2;
      // Accumulated in double, stored in float: rounding is monotone, so the CDF stays
      // non-decreasing and the sampler's binary search stays valid.
      double total = 0.0;
      for (int j = sink; j <= pos; ++j) {
        total += std::pow(std::max(double(attention[j]), kWeightFloor), inv_t);
        cdf[j - sink] = float(total);
      }
    }
  });
  return t;
}

long long explore_walkers(const WalkerOptions& options) {
  // ⌊fraction·N⌋; the epsilon keeps 0.3·10000 at 3000 despite binary rounding.
  return std::min(options.walkers,
                  (long long)std::floor(options.explore_fraction * double(options.walkers) + 1e-9));
}

bool starts_at_query(long long walker, const WalkerOptions& options) {
  return influence_starts_at_query(walker, options.walkers);
}

bool explores(long long walker, const WalkerOptions& options) {
  return walker >= options.walkers - explore_walkers(options);
}

InfluenceWalkRun walk_run(const WalkerOptions& options, int n) {
  InfluenceWalkRun run;
  run.walkers = options.walkers;
  run.explore_walkers = explore_walkers(options);
  run.sink = options.sink;
  run.query = n - 1;
  run.max_steps = options.max_steps;
  run.seed = options.seed;
  run.stream = kInfluenceStream;
  return run;
}

std::vector<long long> run_walkers(const TransitionTable& table, const TransitionTable& explore_table,
                                   const WalkerOptions& options, int threads) {
  const int n = table.n(), s = options.sink, q = n - 1;
  if (q < s || options.walkers <= 0) return std::vector<long long>(n, 0);  // nowhere to walk
  MonteCarloRun run;
  run.walkers = options.walkers;
  run.seed = options.seed;
  run.stream = kInfluenceStream;
  run.threads = threads;
  const InfluenceWalkRun walk = walk_run(options, n);
  const InfluenceTableArrays rows = table.arrays(), explore_rows = explore_table.arrays();
  // The path of walker w is influence_walk's (influence_sampling.hpp), as on the device.
  const std::vector<uint64_t> counts = count_visits(run, n, [&](long long w, std::vector<uint64_t>& visits) {
    auto visit = [&](int pos) { ++visits[pos]; };
    influence_walk(rows, explore_rows, walk, w, visit);
  });
  return std::vector<long long>(counts.begin(), counts.end());
}

std::vector<double> influence_scores(const std::vector<long long>& visits, int sink) {
  const int n = int(visits.size());
  std::vector<double> adjusted(n, 0.0);
  double best = 0.0;
  for (int j = sink; j < n; ++j) {
    adjusted[j] = double(visits[j]) / std::sqrt(double(n - j + 1));
    best = std::max(best, adjusted[j]);
  }
  std::vector<double> score(n, 0.0);
  for (int j = 0; j < std::min(sink, n); ++j) score[j] = 1.0;
  if (best > 0.0)
    for (int j = sink; j < n; ++j) score[j] = adjusted[j] / best;
  return score;
}

}  // namespace ckv::influence
