#include "kernels/rc/rc_walker.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "common/error.hpp"
#include "common/philox.hpp"

namespace ckv::rc {

SparseGraph build_sparse_graph(const walkers::ReducedAttention& a, int top_k) {
  SparseGraph g;
  g.n = a.n;
  g.top_k = top_k;
  g.degree.assign(a.n, 0);
  g.neighbors.assign(size_t(a.n) * top_k, -1);
  g.weights.assign(size_t(a.n) * top_k, 0.0f);
  walkers::parallel_ranges(a.n, walkers::kernel_threads(), [&](int begin, int end) {
    std::vector<int> order;
    for (int i = begin; i < end; ++i) {
      const int k = std::min(top_k, i);  // seed 004: only tokens 0..i-1
      if (k == 0) continue;
      const float* row = a.row(i);
      // Largest weight first, ties by lower position (deterministic, unlike torch.topk): a strict
      // total order, so its k first are one sorted list however the candidates are narrowed.
      // Split 0..i-1 into k chunks: the k chunk maxima are k distinct positions whose weights are
      // >= m, the smallest of them, so no position below m can be among the k first; only
      // weights >= m go to the partial sort, in ascending position.
      float m = -INFINITY;
      if (i > 2 * k) {
        m = INFINITY;
        for (int t = 0; t < k; ++t) {
          const int b = int(int64_t(i) * t / k), e = int(int64_t(i) * (t + 1) / k);
          float best = row[b];
          for (int j = b + 1; j < e; ++j) best = row[j] > best ? row[j] : best;
          m = best < m ? best : m;
        }
      }
      order.resize(i);
      size_t count = 0;
      for (int j = 0; j < i; ++j) {  // branch-free compaction
        order[count] = j;
        count += size_t(row[j] >= m);
      }
      order.resize(count);
      auto better = [&](int x, int y) { return row[x] > row[y] || (row[x] == row[y] && x < y); };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), better);
      g.degree[i] = k;
      for (int t = 0; t < k; ++t) {
        g.neighbors[size_t(i) * top_k + t] = order[t];
        g.weights[size_t(i) * top_k + t] = row[order[t]];
      }
    }
  });
  return g;
}

SparseTransitions::SparseTransitions(const SparseGraph& graph, double temperature)
    : graph_(&graph), cdf_(size_t(graph.n) * graph.top_k, 0.0) {
  const double inv_t = 1.0 / temperature;
  for (int i = 0; i < graph.n; ++i) {
    const float* w = graph.row_weights(i);
    double* cdf = cdf_.data() + size_t(i) * graph.top_k;
    double total = 0.0;
    for (int t = 0; t < graph.degree[i]; ++t) {
      // seed 004: weights ** (1/temp) only when temp != 1 (identical values either way).
      total += temperature == 1.0 ? double(w[t]) : std::pow(double(w[t]), inv_t);
      cdf[t] = total;
    }
  }
}

namespace {

// Walks are drawn in blocks: trajectories of one block are sampled in parallel, then
// accumulated in walker order, so every floating-point sum has a fixed order.
constexpr long long kBlockWalkers = 8192;

}  // namespace

RcWalkRun walk_run(const std::vector<int>& sources, Mode mode, const WalkOptions& options) {
  RcWalkRun run;
  run.walks = (long long)options.walkers * (long long)sources.size();
  run.max_steps = options.max_steps;
  run.sink = options.sink;
  run.temp_mix = mode == Mode::TempMix;
  run.sources = sources.data();
  run.source_count = int(sources.size());
  run.seed = options.seed;
  run.stream = options.stream;
  return run;
}

WalkTotals run_walks(const SparseGraph& graph, const std::vector<int>& sources, Mode mode,
                     const WalkOptions& options, int threads) {
  const int n = graph.n, S = options.max_steps;
  WalkTotals totals;
  totals.visits.assign(n, 0.0);
  totals.plain_visits.assign(n, 0.0);
  totals.first_visits.assign(n, 0.0);
  totals.speed.assign(n, 0.0);
  if (sources.empty() || options.walkers <= 0) return totals;

  const bool mix = mode == Mode::TempMix;
  const SparseTransitions single(graph, options.temperature);
  const SparseTransitions high(graph, mix ? options.mix_high : 1.0);
  const SparseTransitions low(graph, mix ? options.mix_low : 1.0);

  const RcWalkRun run = walk_run(sources, mode, options);
  const long long count = run.walks;
  const SparseRowsArrays single_rows = single.arrays(), high_rows = high.arrays(),
                         low_rows = low.arrays();
  const bool hitting_time = mode == Mode::HittingTime;
  std::vector<int> trajectory;
  std::vector<int> length;
  std::vector<unsigned char> absorbed;
  std::vector<long long> last_walk(n, -1);  // escape_prob: last walk that visited j
  for (long long block = 0; block < count; block += kBlockWalkers) {
    const int size = int(std::min(kBlockWalkers, count - block));
    trajectory.assign(size_t(size) * S, -1);
    length.assign(size, 0);
    absorbed.assign(size, 0);
    for_walker_chunks(size, walker_threads(size, threads), [&](int, long long begin, long long end) {
      for (int local = int(begin); local < int(end); ++local) {
        // The walk is rc_walk's (rc_sampling.hpp), as on the device.
        bool walk_absorbed = false;
        length[local] = rc_walk(single_rows, high_rows, low_rows, run, block + local,
                                trajectory.data() + size_t(local) * S, 1, walk_absorbed);
        absorbed[local] = walk_absorbed;
      }
    });
    for (int local = 0; local < size; ++local) {
      const int* path = trajectory.data() + size_t(local) * S;
      const int len = length[local];
      const long long walk = block + local;
      for (int t = 0; t < len; ++t) {
        const int j = path[t];
        record_visit({totals.visits[j], totals.plain_visits[j], totals.first_visits[j],
                      totals.speed[j], last_walk[j]},
                     walk, t, len, absorbed[local] != 0, hitting_time, S);
      }
    }
  }
  return totals;
}

namespace {

std::vector<double> max_normalized(std::vector<double> x) {
  const double m = walkers::max_of(x);
  if (m > 0.0)
    for (double& v : x) v /= m;
  return x;
}

}  // namespace

std::vector<double> mode_score(const WalkTotals& totals, Mode mode) {
  const size_t n = totals.visits.size();
  if (mode == Mode::EscapeProb) {
    // seed 004: escape_ratio = first / visits.clamp(min=1); scores = ratio · visits / max.
    const double max_visits = std::max(walkers::max_of(totals.plain_visits), 1e-8);
    std::vector<double> score(n);
    for (size_t j = 0; j < n; ++j)
      score[j] = totals.first_visits[j] / std::max(totals.plain_visits[j], 1.0) *
                 (totals.plain_visits[j] / max_visits);
    return max_normalized(score);
  }
  if (mode == Mode::AbsorptionSpeed) {
    // mean speed per visit (speed / visits) times visits / max visits: proportional to the
    // speed total itself, which the max normalisation keeps.
    return max_normalized(totals.speed);
  }
  return max_normalized(totals.visits);
}

Mode single_mode(ModeChoice choice) {
  switch (choice) {
    case ModeChoice::basic: return Mode::Basic;
    case ModeChoice::hitting_time: return Mode::HittingTime;
    case ModeChoice::escape_prob: return Mode::EscapeProb;
    case ModeChoice::absorption_speed: return Mode::AbsorptionSpeed;
    case ModeChoice::temp_mix: return Mode::TempMix;
    case ModeChoice::combined: break;
  }
  CKV_FAIL("rc: mode 'combined' is three runs, not one");
}

}  // namespace ckv::rc
