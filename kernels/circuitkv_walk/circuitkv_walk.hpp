// `circuitkv_walk`: absorbing random walks on the CircuitKV attention graph (docs/spec/METHODS.md
// "CircuitKV: absorbing random walks"; seed 001 "current CircuitKV" and Part II). The pieces
// below are the method's steps, exposed so tests can check each against an independent truth.
#pragma once
#include <string>
#include <vector>

#include "kernels/circuitkv_walk/walk_chain.hpp"
#include "kernels/method.hpp"
#include "kernels/stages/attention_graph.hpp"

namespace ckv::circuitkv {

enum class TemperatureMode { adaptive };
enum class WalkCombination { max,
                             walk,
                             h2o,
                             product,
                             calibrated };
enum class WalkFlow { backward,
                      forward,
                      product,
                      sum };  // A5: the `direction` parameter
enum class WalkNormalize { none,
                           fundamental };
enum class WalkEstimator { monte_carlo,
                           exact };

struct WalkParams {
  SelectionParams selection;
  long long walkers = 10000;
  int max_steps = 10;
  WalkSource source = WalkSource::query;
  bool count_start = false;
  GraphKind graph = GraphKind::window_prefix;
  NumberOrChoice<TemperatureMode> temperature{std::nullopt, 1.0};
  double temperature_base = 1.0;
  double kappa = 0.5;
  HeadReduce head_reduce = HeadReduce::entropy_qi;
  int top_k_heads = 10;
  double hi_mass_threshold = 0.5;
  WalkCombination combination = WalkCombination::max;
  WalkFlow direction = WalkFlow::backward;
  std::vector<int> scales;  // empty: one run of max_steps
  WalkNormalize normalize = WalkNormalize::none;
  WalkEstimator estimator = WalkEstimator::monte_carlo;
  uint64_t seed = 0;

  std::string full_rows_reason() const {
    return graph == GraphKind::full ? "graph = \"full\" walks on every attention row" : "";
  }
};

// Mean over the non-empty rows of P of the row entropy −Σ_j p ln p (p > 0 terms; no clamp).
// window_prefix prefix rows in closed form from their separable factors, O(n).
double mean_row_entropy(const AttentionGraph& graph);

// Seed 001 improvement 3 (A7): T = base·(ln n / mean_entropy)^kappa, the entropy floored at
// 1e-6 and T clamped to the `temperature` range [0.01, 100]; `base` when n < 2.
double adaptive_temperature(double base, double kappa, int n, double mean_entropy);

// Seed 001 improvement 2 (A6): weights ∝ 1/var(v_k) over positions (population variance),
// normalised to sum 1. Zero-variance runs share all the weight equally (the limit of 1/var);
// all-equal weights when every run is constant.
std::vector<double> inverse_variance_weights(const std::vector<std::vector<double>>& runs);
// Σ_k w_k v_k with the weights above.
std::vector<double> combine_scales(const std::vector<std::vector<double>>& runs);

// Seed 001 improvement 4: visits[j] / expected[j], 0 where expected[j] <= 1e-300 (a node the
// chain cannot reach is never visited either).
std::vector<double> divide_by_expected(const std::vector<double>& visits,
                                       const std::vector<double>& expected);

// A1 combination of the walk signal with H2O: max(rank walk, rank h2o); walk the walk signal
// itself; h2o the H2O signal itself; product rank walk · rank h2o; calibrated (seed 001
// improvement 5) the mean of the ranks when their Spearman ρ > 0.7, else the max.
std::vector<double> combine_with_h2o(const std::vector<double>& walk, const std::vector<double>& h2o,
                                     WalkCombination combination);

// The graph options of the parameters, `temperature = "adaptive"` resolved on the
// temperature-1 graph (memoised in the context).
GraphOptions walk_graph_options(LayerContext& context, const WalkParams& p);

// Who runs the Monte Carlo walkers: run_walkers on CPU threads, or the CUDA twin
// (circuitkv_walk_cuda.cpp), whose counts are bit-identical for the same chain and seed. Their
// memoised visits are kept apart in the context.
enum class WalkerDevice { cpu,
                          cuda };

// The walk signal before the H2O combination: mean visits per walker (or its ratio to the
// fundamental matrix), combined over directions and scales. The `walk` combination's score.
std::vector<double> walk_signal(LayerContext& context, const WalkParams& p,
                                WalkerDevice walkers = WalkerDevice::cpu);

// The H2O signal: the graph's window column sums (window_prefix), or the mean over heads of
// the all-row column sums (full).
std::vector<double> walk_h2o_signal(LayerContext& context, const WalkParams& p);

// The method's scores with walkers run on `walkers`: the graph, the exact estimator, the H2O
// signal and the combination stay on the CPU.
Scores walk_method_scores(LayerContext& context, const WalkParams& p,
                          WalkerDevice walkers = WalkerDevice::cpu);

// run_walkers on the device (CUDA builds; circuitkv_walk_cuda.cpp): the same preconditions and
// bit-identical counts (second_moments, a test statistic, is refused). The chain's device arrays
// are memoised in ctx per (graph options, direction): chain.graph must be a shared_graph().
VisitCounts run_walkers_cuda(LayerContext& ctx, const WalkChain& chain, const WalkOptions& options);

}  // namespace ckv::circuitkv
