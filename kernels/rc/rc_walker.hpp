// RC ("Random Circuit") absorbing walks on the top-k attention graph and the seed 004 add-ons
// (docs/spec/METHODS.md "RC and add-ons"). Exposed for the tests, which compare the walk totals with
// exact expectations of the same absorbing chain.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/rc/rc_sampling.hpp"
#include "kernels/stages/monte_carlo.hpp"
#include "kernels/stages/reduced_attention.hpp"

namespace ckv::rc {

// Seed 004 build_sparse_graph: row i keeps the top_k largest A[i, j] over j < i (strictly
// earlier: no self loop), ties by lower position; row 0 is empty. Weights are the raw
// attention values; sampling renormalises them over the kept entries after the temperature.
struct SparseGraph {
  int n = 0, top_k = 0;
  std::vector<int> degree;     // [n] kept neighbours of row i (min(top_k, i))
  std::vector<int> neighbors;  // [n, top_k], best first
  std::vector<float> weights;  // [n, top_k]

  const int* row_neighbors(int i) const { return neighbors.data() + size_t(i) * top_k; }
  const float* row_weights(int i) const { return weights.data() + size_t(i) * top_k; }
};

SparseGraph build_sparse_graph(const walkers::ReducedAttention& a, int top_k);

// Per-row sampling CDFs of w^(1/T) over the kept entries (seed 004 run_random_walks:
// probs = w^(1/T) / max(Σ, 1e-8)). A row whose weights are all zero is a dead end.
class SparseTransitions {
 public:
  SparseTransitions(const SparseGraph& graph, double temperature);
  // Next position from i, or -1 for a dead end (empty row): sparse_sample (rc_sampling.hpp).
  int sample(int i, double u) const { return sparse_sample(arrays(), i, u); }
  // The rows for the shared sampler and the device copy (rc_kernels.cu).
  SparseRowsArrays arrays() const {
    return {graph_->n, graph_->top_k, graph_->degree.data(), graph_->neighbors.data(), cdf_.data()};
  }
  const std::vector<double>& cdf() const { return cdf_; }

 private:
  const SparseGraph* graph_;
  std::vector<double> cdf_;  // [n, top_k]
};

enum class Mode { Basic,
                  HittingTime,
                  EscapeProb,
                  AbsorptionSpeed,
                  TempMix };
// The `mode` parameter: one of the above, or `combined` (max of three runs).
enum class ModeChoice { basic,
                        hitting_time,
                        escape_prob,
                        absorption_speed,
                        temp_mix,
                        combined };

struct WalkOptions {
  int walkers = 256;  // per source
  int max_steps = 100;
  int sink = 4;
  double temperature = 1.0;  // every mode but temp_mix
  double mix_high = 2.0;     // temp_mix: walkers with even id
  double mix_low = 0.5;      // temp_mix: walkers with odd id
  uint64_t seed = 0;
  uint32_t stream = 0;  // Philox stream (the combined mode's three runs use three)
};

// Raw accumulators of one run over sources × walkers (walker id w starts at
// sources[w % |sources|], seed 004). A walk records the position at steps 0..S-1 (the start
// included), stops after recording a sink (absorbed) or at a dead end.
struct WalkTotals {
  std::vector<double> visits;        // Σ over recorded visits of the mode's weight
  std::vector<double> first_visits;  // escape_prob: walks that visit j at least once
  std::vector<double> speed;         // absorption_speed: Σ over visits 1/(1+Δ), Δ = steps from
                                     // the visit to absorption (0 when never absorbed)
  std::vector<double> plain_visits;  // unweighted visit counts (every mode)
};

// The per-run constants of rc_walk (rc_sampling.hpp); `sources` must outlive the result.
RcWalkRun walk_run(const std::vector<int>& sources, Mode mode, const WalkOptions& options);

// Deterministic for any thread count: walks are drawn in parallel on the shared Monte Carlo
// engine (kernels/stages/monte_carlo.hpp; Philox keyed by (seed, stream, walker, step)) into
// trajectory buffers and accumulated in walker order. threads = 0: the engine's policy.
WalkTotals run_walks(const SparseGraph& graph, const std::vector<int>& sources, Mode mode,
                     const WalkOptions& options, int threads = 0);

// run_walks on the device (CUDA builds only; rc_cuda.cpp, rc_kernels.cu): the same totals to
// the bit (integer counts and fixed-order double sums).
WalkTotals run_walks_cuda(const SparseGraph& graph, const std::vector<int>& sources, Mode mode,
                          const WalkOptions& options);

// The mode's max-normalised walk score (seed 004 run_random_walks, final lines):
//   basic, hitting_time, temp_mix: visits / max;
//   escape_prob: (first / max(visits, 1)) · visits / max visits, then / max;
//   absorption_speed: (speed / max(visits, 1)) · visits / max visits = speed / max visits,
//   then / max (docs/spec/METHODS.md; seed 004 leaves it unimplemented).
std::vector<double> mode_score(const WalkTotals& totals, Mode mode);

// The single-run mode of a `mode` choice (not `combined`).
Mode single_mode(ModeChoice choice);

}  // namespace ckv::rc
