// `circuitkv_walk`: absorbing random walks on the CircuitKV attention graph (docs/spec/METHODS.md
// "CircuitKV: absorbing random walks"; seed 001). The chains are walk_chain.hpp; the graph is
// kernels/stages/attention_graph.hpp, shared with circuitkv_neumann through shared_graph().
#include "kernels/circuitkv_walk/circuitkv_walk.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "kernels/method_factories.hpp"
#include "kernels/stages/head_reduction.hpp"
#include "kernels/stages/postprocess.hpp"

namespace ckv {

namespace circuitkv {

namespace {

constexpr double kMinTemperature = 0.01, kMaxTemperature = 100.0;  // the `temperature` range
constexpr double kEntropyFloor = 1e-6;                             // adaptive T: ln n / H stays finite for peaked rows
constexpr double kExpectedFloor = 1e-300;                          // normalize = fundamental: unreachable nodes
constexpr double kWalkCalibratedRho = 0.7;                         // seed 001 improvement 5 / docs/spec/METHODS.md step 6

// The identity of a shared graph (its canonical options and row source): stages derived from
// it are memoised under it.
struct GraphIdentity {
  GraphOptions options;
  RowSource source;
  auto operator<=>(const GraphIdentity&) const = default;
};
GraphIdentity identity_of(const AttentionGraph& graph) { return {graph.options(), graph.source()}; }

struct ForwardKey {
  GraphIdentity graph;
  auto operator<=>(const ForwardKey&) const = default;
};

struct EntropyKey {
  GraphIdentity graph;
  auto operator<=>(const EntropyKey&) const = default;
};

// Everything that determines the mean visits of one run: configurations differing only in
// selection, combination, normalisation or in the other direction/scales share it.
struct VisitsKey {
  GraphIdentity graph;
  WalkDirection direction;
  WalkSource source;
  int window, steps;
  bool exact;
  long long walkers;
  uint64_t seed;  // 0 for the exact estimator (it draws nothing)
  bool count_start;
  WalkerDevice device;  // the exact estimator is the CPU's whoever runs the walkers: cpu
  auto operator<=>(const VisitsKey&) const = default;
};

const ForwardChain& shared_forward(LayerContext& context, const AttentionGraph& graph) {
  return context.memo<ForwardChain>(ForwardKey{identity_of(graph)},
                                    [&] { return ForwardChain::build(graph); });
}

VisitCounts run_on(WalkerDevice device, LayerContext& context, const WalkChain& chain,
                   const WalkOptions& options) {
  if (device == WalkerDevice::cpu) return run_walkers(chain, options);
#ifdef CKV_HAVE_CUDA
  return run_walkers_cuda(context, chain, options);
#else
  CKV_FAIL("{}: circuitkv_walk: GPU walkers requested, but this ckv-sweep was built without CUDA",
           context.input().sample);
#endif
}

// Mean visits per walker of one run (direction, walk length), Monte Carlo or exact, memoised.
const std::vector<double>& run_visits(LayerContext& context, const AttentionGraph& graph,
                                      WalkDirection direction, int steps, bool exact,
                                      bool count_start, const WalkParams& p,
                                      WalkerDevice device) {
  const int window = p.selection.window;
  const VisitsKey key{identity_of(graph), direction, p.source, window, steps,
                      exact, p.walkers, exact ? 0 : p.seed, count_start,
                      exact ? WalkerDevice::cpu : device};
  return context.memo<std::vector<double>>(key, [&] {
    WalkChain chain = direction == WalkDirection::backward
                          ? backward_chain(graph, p.source, window)
                          : forward_chain(graph, shared_forward(context, graph), p.source, window);
    if (exact) return expected_visits(chain, p.walkers, steps, count_start);
    WalkOptions options;
    options.walkers = p.walkers;
    options.steps = steps;
    options.seed = p.seed;
    options.count_start = count_start;
    return run_on(device, context, chain, options).mean();
  });
}

// One direction at one walk length, divided by the fundamental matrix when asked.
std::vector<double> direction_run(LayerContext& context, const AttentionGraph& graph,
                                  WalkDirection direction, int steps, const WalkParams& p,
                                  WalkerDevice device) {
  const bool exact = p.estimator == WalkEstimator::exact;
  std::vector<double> visits =
      run_visits(context, graph, direction, steps, exact, p.count_start, p, device);
  if (p.normalize == WalkNormalize::fundamental) {
    // N[q, j] = Σ_{t=0..S} (Qᵗ)[q, j] (K = S, identity term included as in N = (I − Q)⁻¹),
    // for the same start distribution (seed 001 improvement 4).
    const std::vector<double>& fundamental =
        run_visits(context, graph, direction, steps, true, true, p, device);
    visits = divide_by_expected(visits, fundamental);
  }
  return visits;
}

}  // namespace

double mean_row_entropy(const AttentionGraph& graph) {
  const int n = graph.n(), ws = graph.window_start();
  const PrefixFactors f = prefix_factors(graph);
  double total = 0.0;
  long long rows = 0;
  // Prefix row i: p_j = c_j r_i (j < i), so H_i = −r_i·(Σ_{j<i} c_j ln c_j + ln r_i·Σ_{j<i} c_j).
  double mass = 0.0, mass_log = 0.0;
  for (int i = 1; i < ws; ++i) {
    const double c = f.column[i - 1];
    mass += c;
    if (c > 0.0) mass_log += c * std::log(c);
    const double r = f.row[i];
    if (r > 0.0 && mass > 0.0) {
      total += -r * (mass_log + std::log(r) * mass);
      ++rows;
    }
  }
  for (int i = ws; i < n; ++i) {
    if (!(graph.row_sum(i) > 0.0)) continue;
    double h = 0.0;
    for (int j = 0; j <= i; ++j) {
      const double p = graph.entry(i, j);
      if (p > 0.0) h -= p * std::log(p);
    }
    total += h;
    ++rows;
  }
  return rows > 0 ? total / double(rows) : 0.0;
}

double adaptive_temperature(double base, double kappa, int n, double mean_entropy) {
  if (n < 2) return base;  // ln n = 0: one token, nothing to walk
  const double ratio = std::log(double(n)) / std::max(mean_entropy, kEntropyFloor);
  return std::clamp(base * std::pow(ratio, kappa), kMinTemperature, kMaxTemperature);
}

std::vector<double> inverse_variance_weights(const std::vector<std::vector<double>>& runs) {
  const size_t k = runs.size();
  std::vector<double> var(k, 0.0);
  for (size_t r = 0; r < k; ++r) {
    const auto& v = runs[r];
    if (v.empty()) continue;
    double mean = 0.0;
    for (double x : v) mean += x;
    mean /= double(v.size());
    for (double x : v) var[r] += (x - mean) * (x - mean);
    var[r] /= double(v.size());
  }
  std::vector<double> w(k, 0.0);
  size_t zero = 0;
  for (double v : var) zero += v <= 0.0 ? 1 : 0;
  if (zero > 0) {
    // 1/var → ∞: the constant runs take all the weight, shared equally.
    for (size_t r = 0; r < k; ++r) w[r] = var[r] <= 0.0 ? 1.0 / double(zero) : 0.0;
    return w;
  }
  double total = 0.0;
  for (size_t r = 0; r < k; ++r) total += (w[r] = 1.0 / var[r]);
  for (double& x : w) x /= total;
  return w;
}

std::vector<double> combine_scales(const std::vector<std::vector<double>>& runs) {
  CKV_CHECK(!runs.empty(), "circuitkv_walk: no scales to combine");
  const std::vector<double> w = inverse_variance_weights(runs);
  std::vector<double> out(runs[0].size(), 0.0);
  for (size_t r = 0; r < runs.size(); ++r)
    for (size_t j = 0; j < out.size(); ++j) out[j] += w[r] * runs[r][j];
  return out;
}

std::vector<double> divide_by_expected(const std::vector<double>& visits,
                                       const std::vector<double>& expected) {
  CKV_CHECK(visits.size() == expected.size(), "circuitkv_walk: {} visits for {} expectations",
            visits.size(), expected.size());
  std::vector<double> out(visits.size(), 0.0);
  for (size_t j = 0; j < visits.size(); ++j)
    if (expected[j] > kExpectedFloor) out[j] = visits[j] / expected[j];
  return out;
}

std::vector<double> combine_with_h2o(const std::vector<double>& walk, const std::vector<double>& h2o,
                                     WalkCombination combination) {
  CKV_CHECK(walk.size() == h2o.size(), "circuitkv_walk: walk signal of length {}, H2O {}",
            walk.size(), h2o.size());
  if (combination == WalkCombination::walk) return walk;
  if (combination == WalkCombination::h2o) return h2o;
  const std::vector<float> rw = rank_vector(walk), rh = rank_vector(h2o);
  std::vector<double> out(walk.size());
  if (combination == WalkCombination::product) {
    for (size_t j = 0; j < out.size(); ++j) out[j] = double(rw[j]) * double(rh[j]);
    return out;
  }
  const bool mean =
      combination == WalkCombination::calibrated && spearman_of_ranks(rw, rh) > kWalkCalibratedRho;
  for (size_t j = 0; j < out.size(); ++j)
    out[j] = mean ? 0.5 * (double(rw[j]) + double(rh[j])) : std::max<double>(rw[j], rh[j]);
  return out;
}

GraphOptions walk_graph_options(LayerContext& context, const WalkParams& p) {
  GraphOptions o;
  o.graph = p.graph;
  o.window = p.selection.window;
  o.sink = p.selection.sink;
  o.reduction.mode = p.head_reduce;
  o.reduction.top_k_heads = p.top_k_heads;
  o.reduction.hi_mass_threshold = p.hi_mass_threshold;
  o.reduction.sink = o.sink;
  if (p.temperature.choice) {
    // "adaptive" (the only choice): entropy of the untempered graph (seed 001 snippet computes
    // H on row_normalize(attn)), memoised with it.
    GraphOptions base = o;
    base.temperature = 1.0;
    const AttentionGraph& g1 = shared_graph(context, base);
    const double entropy = context.memo<double>(EntropyKey{identity_of(g1)},
                                                [&] { return mean_row_entropy(g1); });
    o.temperature = adaptive_temperature(p.temperature_base, p.kappa, g1.n(), entropy);
  } else {
    o.temperature = p.temperature.number;
  }
  return o;
}

std::vector<double> walk_signal(LayerContext& context, const WalkParams& p, WalkerDevice device) {
  const AttentionGraph& graph = shared_graph(context, walk_graph_options(context, p));
  std::vector<int> scales = p.scales;
  if (scales.empty()) scales.push_back(p.max_steps);
  std::vector<std::vector<double>> runs;
  for (int steps : scales) {
    std::vector<double> back, fwd;
    if (p.direction != WalkFlow::forward)
      back = direction_run(context, graph, WalkDirection::backward, steps, p, device);
    if (p.direction != WalkFlow::backward)
      fwd = direction_run(context, graph, WalkDirection::forward, steps, p, device);
    if (p.direction == WalkFlow::backward) {
      runs.push_back(std::move(back));
    } else if (p.direction == WalkFlow::forward) {
      runs.push_back(std::move(fwd));
    } else {
      // Seed 001 improvement 1: betweenness-style product, or the sum (A5).
      const bool product = p.direction == WalkFlow::product;
      std::vector<double> v(back.size());
      for (size_t j = 0; j < v.size(); ++j) v[j] = product ? back[j] * fwd[j] : back[j] + fwd[j];
      runs.push_back(std::move(v));
    }
  }
  return runs.size() == 1 ? runs[0] : combine_scales(runs);
}

std::vector<double> walk_h2o_signal(LayerContext& context, const WalkParams& p) {
  const LayerInput& in = context.input();
  if (p.graph == GraphKind::window_prefix) {
    const AttentionGraph& graph = shared_graph(context, walk_graph_options(context, p));
    return graph.window_column_sums();
  }
  // graph = "full" holds every row: H2O proper, the column sums over all rows (as the `h2o`
  // baseline with rows = "all"), averaged over all heads.
  const auto& sums = context.column_sums(in.n, "circuitkv_walk");
  std::vector<double> h(in.n, 0.0);
  for (const auto& head : sums)
    for (int j = 0; j < in.n; ++j) h[j] += head[j] / double(in.H);
  return h;
}

Scores walk_method_scores(LayerContext& context, const WalkParams& p, WalkerDevice device) {
  std::vector<double> walk, h2o;
  if (p.combination != WalkCombination::h2o) walk = walk_signal(context, p, device);
  if (p.combination != WalkCombination::walk) h2o = walk_h2o_signal(context, p);
  if (walk.empty()) walk.assign(h2o.size(), 0.0);
  if (h2o.empty()) h2o.assign(walk.size(), 0.0);
  return replicate_scores(combine_with_h2o(walk, h2o, p.combination), context.input(), p.selection.granularity);
}

namespace {
Scores walk_scores_cpu(LayerContext& context, const WalkParams& p) {
  return walk_method_scores(context, p, WalkerDevice::cpu);
}
[[maybe_unused]] Scores walk_scores_cuda(LayerContext& context, const WalkParams& p) {
  return walk_method_scores(context, p, WalkerDevice::cuda);
}
}  // namespace

}  // namespace circuitkv

MethodDef make_circuitkv_walk_method() {
  using namespace circuitkv;
  ParamSchema<WalkParams> s;
  s.include(&WalkParams::selection, selection_schema(4, SelectionGranularity::shared));
  s.integer(&WalkParams::walkers, "walkers", 10000, 1, 1e8, "N: walkers per run (A3)");
  s.integer(&WalkParams::max_steps, "max_steps", 10, 1, 10000,
            "S: at most S transitions per walker (A2); the walk length when `scales` is empty");
  s.choice(&WalkParams::source, "source", WalkSource::query,
           {{"query", WalkSource::query}, {"window", WalkSource::window}},
           "where backward walkers start (and forward walkers are absorbed): query = the last "
           "position q = n-1; window = spread round-robin over the last `window` positions");
  s.flag(&WalkParams::count_start, "count_start", false,
         "count the start position as a visit (public code: false)");
  s.choice(&WalkParams::graph, "graph", GraphKind::window_prefix,
           {{"window_prefix", GraphKind::window_prefix}, {"full", GraphKind::full}},
           "window_prefix: window rows plus synthetic prefix rows (O(n w)); full: every attention "
           "row (needs a full-row cache, n x n)");
  s.number_or_choice(&WalkParams::temperature, "temperature", 1.0, 0.01, 100.0,
                     ChoiceNames<TemperatureMode>{{"adaptive", TemperatureMode::adaptive}},
                     "T: P = F^(1/T) row-normalised (A7); \"adaptive\": T = temperature_base * "
                     "(ln n / mean row entropy of the T = 1 graph)^kappa, clamped to [0.01, 100]");
  s.real(&WalkParams::temperature_base, "temperature_base", 1.0, 0.01, 100.0,
         "T_base of temperature = \"adaptive\" (ignored otherwise)");
  s.real(&WalkParams::kappa, "kappa", 0.5, 0.0, 10.0,
         "kappa of temperature = \"adaptive\" (ignored otherwise)");
  s.choice(&WalkParams::head_reduce, "head_reduce", HeadReduce::entropy_qi,
           {{"entropy_qi", HeadReduce::entropy_qi}, {"entropy_hi", HeadReduce::entropy_hi}, {"max", HeadReduce::max}, {"mean", HeadReduce::mean}},
           "head reduction of the attention rows: entropy_qi = max over the top_k_heads "
           "lowest-entropy heads (the public QI graph); entropy_hi = mean over heads with "
           "transient mass >= hi_mass_threshold; max | mean over all heads");
  s.integer(&WalkParams::top_k_heads, "top_k_heads", 10, 1, 1e6,
            "heads kept by head_reduce = \"entropy_qi\"");
  s.real(&WalkParams::hi_mass_threshold, "hi_mass_threshold", 0.5, 0.0, 1.0,
         "transient-mass threshold of head_reduce = \"entropy_hi\"");
  s.choice(&WalkParams::combination, "combination", WalkCombination::max,
           {{"max", WalkCombination::max}, {"walk", WalkCombination::walk}, {"h2o", WalkCombination::h2o}, {"product", WalkCombination::product}, {"calibrated", WalkCombination::calibrated}},
           "A1: max(rank walk, rank H2O); walk = mean visits per walker itself; h2o = H2O itself; "
           "product = rank walk * rank H2O; calibrated = mean of the ranks if their Spearman rho "
           "> 0.7, else max");
  s.choice(&WalkParams::direction, "direction", WalkFlow::backward,
           {{"backward", WalkFlow::backward}, {"forward", WalkFlow::forward}, {"product", WalkFlow::product}, {"sum", WalkFlow::sum}},
           "A5: backward = from the source toward the sinks; forward = from the sinks on the "
           "column-normalised transpose, absorbed by the source region; product | sum of the two");
  s.int_list(&WalkParams::scales, "scales", {}, 1, 10000,
             "A6: walk lengths, one run each, combined with weights proportional to 1/var(visits) "
             "(normalised); empty (default) = one run of max_steps");
  s.choice(&WalkParams::normalize, "normalize", WalkNormalize::none,
           {{"none", WalkNormalize::none}, {"fundamental", WalkNormalize::fundamental}},
           "fundamental: visits divided by the exact expected visits N[q, j] = sum_{t=0..S} Q^t "
           "(0 where unreachable)");
  s.choice(&WalkParams::estimator, "estimator", WalkEstimator::monte_carlo,
           {{"monte_carlo", WalkEstimator::monte_carlo}, {"exact", WalkEstimator::exact}},
           "exact: the expected visits per walker (truncated Neumann series, K = S) instead of "
           "sampling");
  s.integer(&WalkParams::seed, "seed", 0, 0, 9007199254740991.0,
            "Philox key of the walks (draw = f(seed, run, walker, step))");
  return define_method<WalkParams>(
      "circuitkv_walk",
      "Absorbing random walks from the query on the attention graph, combined with H2O",
      "seed 001 (current CircuitKV, Part II improvements, ablations A1-A7)", std::move(s),
      walk_scores_cpu, CKV_CUDA_TWIN(walk_scores_cuda));
}

}  // namespace ckv
