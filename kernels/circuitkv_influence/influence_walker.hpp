// The causal influence walker of seed 000 (v1.0.7) with the public v1.0.8 exploration
// walkers (docs/spec/METHODS.md "CircuitKV: influence walker"). Exposed for the tests, which compare the
// Monte Carlo counts with the exact expectation of the same chain.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/circuitkv_influence/influence_sampling.hpp"
#include "kernels/stages/monte_carlo.hpp"
#include "kernels/stages/reduced_attention.hpp"

namespace ckv::cuda {
class InfluenceTableKernels;  // influence_kernels.hpp
}

namespace ckv::influence {

// Floor on attention weights before the temperature (seed 000 §3: max(A, 1e-10)^(1/T)).
constexpr double kWeightFloor = 1e-10;

// Row pos in [sink, n): the cumulative weights of j in [sink, pos] under
// w_j = max(A[pos, j], 1e-10)^(1/T): sinks are never sampled, the self loop is allowed.
class TransitionTable {
 public:
  static TransitionTable build(const walkers::ReducedAttention& a, int sink, double temperature);
  // The next position from pos (>= sink) for a uniform u in [0, 1): inverse CDF
  // (influence_sample, influence_sampling.hpp).
  int sample(int pos, double u) const { return influence_sample(arrays(), pos, u); }
  int n() const { return n_; }
  int sink() const { return sink_; }
  // The packed rows for the shared sampler and the device copy (influence_kernels.cu).
  InfluenceTableArrays arrays() const { return {n_, sink_, cdf_.data()}; }
  size_t size() const { return cdf_.size(); }

 private:
  int n_ = 0, sink_ = 0;
  std::vector<float> cdf_;  // packed rows, row pos holds pos - sink + 1 entries
};

struct WalkerOptions {
  long long walkers = 10000;      // N
  int max_steps = 50;             // S (seed 000: 10; public v1.0.8: 50)
  int sink = 4;                   // s
  double temperature = 2.0;       // T
  double explore_fraction = 0.3;  // the last ⌊fraction·N⌋ walkers explore (v1.0.8)
  double explore_temperature = 10.0;
  uint64_t seed = 0;
};

// Walker i starts at q = n - 1 when i < ⌊N/2⌋ (seed 000 §3, v1.0.6 multi-source), else at a
// uniform position in [s, q]; it explores when i >= N - explore_walkers(options).
long long explore_walkers(const WalkerOptions& options);
bool starts_at_query(long long walker, const WalkerOptions& options);
bool explores(long long walker, const WalkerOptions& options);

// The per-run constants of influence_walk (influence_sampling.hpp) for a table of n positions;
// requires n − 1 >= sink.
InfluenceWalkRun walk_run(const WalkerOptions& options, int n);

// Visit counts on the shared Monte Carlo engine (kernels/stages/monte_carlo.hpp): every landing
// of every step is counted, the start is not (v1.0.4). `explore_table` is used only by
// exploring walkers. Identical for any thread count (draws keyed by (seed, walker, step);
// integer counts). threads = 0: the engine's policy.
std::vector<long long> run_walkers(const TransitionTable& table, const TransitionTable& explore_table,
                                   const WalkerOptions& options, int threads = 0);

// run_walkers on the device (CUDA builds only; circuitkv_influence_cuda.cpp): the tables'
// device copies (upload_table, on the calling thread's current device), and counts
// bit-identical to run_walkers' on the same tables and options.
std::shared_ptr<const cuda::InfluenceTableKernels> upload_table(const TransitionTable& table);
std::vector<long long> run_walkers_cuda(const cuda::InfluenceTableKernels& table,
                                        const cuda::InfluenceTableKernels& explore_table,
                                        const WalkerOptions& options);

// adjusted[j] = visits[j] / √(n − j + 1) (seed 000 §2.4, v1.0.5); score = adjusted / max over
// j >= s, sinks forced to 1.0 (§2.5, v1.0.7+). All zeros past the sinks when nothing was visited.
std::vector<double> influence_scores(const std::vector<long long>& visits, int sink);

}  // namespace ckv::influence
