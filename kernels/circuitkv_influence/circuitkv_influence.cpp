// `circuitkv_influence`: the causal influence walker (seed 000 v1.0.7; public v1.0.8;
// docs/spec/METHODS.md "CircuitKV: influence walker"). Walkers follow head-reduced attention
// backward from the query and from random positions, never entering the sinks; tokens on many
// walks score high. Defaults reproduce the public v1.0.8 code (the window_prefix matrix with
// max over heads, S = 50, 30 % exploring walkers at T = 10, max with rank H2O of the same
// matrix); seed 000's v1.0.7 is max_steps = 10, explore_fraction = 0, combine_h2o = false.
#include <algorithm>

#include <fmt/format.h>

#include "kernels/circuitkv_influence/influence_walker.hpp"
#ifdef CKV_HAVE_CUDA
#include "kernels/circuitkv_influence/influence_kernels.hpp"
#endif
#include "kernels/method_factories.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

namespace {

constexpr const char* kName = "circuitkv_influence";

enum class InfluenceGraph { window_prefix,
                            full };

struct InfluenceParams {
  SelectionParams selection;
  InfluenceGraph graph = InfluenceGraph::window_prefix;
  long long walkers = 10000;
  int max_steps = 50;
  double temperature = 2.0;
  double explore_fraction = 0.3;
  double explore_temperature = 10.0;
  bool combine_h2o = true;
  walkers::HeadMerge head_reduce = walkers::HeadMerge::mean;
  uint64_t seed = 0;

  std::string full_rows_reason() const {
    return graph == InfluenceGraph::full ? "graph = \"full\" walks on every attention row" : "";
  }

  std::string validate() const {
    if (walkers > 4294967296LL)
      return fmt::format("walkers {} exceeds the Philox walker index range (2^32)", walkers);
    if (explore_fraction > 0.0 && (long long)(explore_fraction * double(walkers) + 1e-9) == 0)
      return fmt::format(
          "explore_fraction {} of {} walkers leaves no exploring walker; use 0 "
          "to disable exploration",
          explore_fraction, walkers);
    return "";
  }
};

// Transition CDFs depend on (reduction, s, T) only: memoised so that budget, walker-count and
// seed sweeps share them, and the exploration table is shared with any config using that T.
struct TableKey {
  InfluenceGraph graph;
  walkers::HeadMerge merge;
  int window;  // of the window_prefix matrix (0 for the full one)
  int sink;
  double temperature;
  auto operator<=>(const TableKey&) const = default;
};

// The matrix the walkers follow and the H2O term reads: the public v1.0.8 window_prefix matrix,
// or the full causal attention (every query row) merged over heads.
const walkers::ReducedAttention& walk_matrix(LayerContext& ctx, const InfluenceParams& p) {
  return p.graph == InfluenceGraph::full
             ? walkers::reduced_attention(ctx, p.head_reduce, kName)
             : walkers::window_prefix_attention(ctx, p.head_reduce, p.selection.window, kName);
}

TableKey table_key(const LayerContext& ctx, const InfluenceParams& p, int sink, double temperature) {
  const int window = p.graph == InfluenceGraph::full ? 0 : std::min(p.selection.window, ctx.n());
  return TableKey{p.graph, p.head_reduce, window, sink, temperature};
}

const influence::TransitionTable& transition_table(LayerContext& ctx, const InfluenceParams& p,
                                                   int sink, double temperature) {
  return ctx.memo<influence::TransitionTable>(
      table_key(ctx, p, sink, temperature),
      [&] { return influence::TransitionTable::build(walk_matrix(ctx, p), sink, temperature); });
}

// Who runs the walkers: run_walkers on CPU threads, or its CUDA twin (influence_kernels.cu)
// with bit-identical counts; everything else is the same host code, so the scores are equal.
enum class WalkerDevice { cpu,
                          cuda };

#ifdef CKV_HAVE_CUDA
// The device copy of a memoised table: keyed like it, so it lives as long as the context.
struct DeviceTableKey {
  TableKey table;
  auto operator<=>(const DeviceTableKey&) const = default;
};

const cuda::InfluenceTableKernels& device_table(LayerContext& ctx, const InfluenceParams& p,
                                                int sink, double temperature) {
  const DeviceTableKey key{table_key(ctx, p, sink, temperature)};
  return *ctx.memo<std::shared_ptr<const cuda::InfluenceTableKernels>>(key, [&] {
    return influence::upload_table(transition_table(ctx, p, sink, temperature));
  });
}
#endif

std::vector<long long> influence_visits(LayerContext& ctx, const InfluenceParams& p,
                                        const influence::WalkerOptions& options,
                                        WalkerDevice device) {
  const bool explore = influence::explore_walkers(options) > 0;
  const double explore_temperature = explore ? options.explore_temperature : options.temperature;
  if (device == WalkerDevice::cpu)
    return influence::run_walkers(transition_table(ctx, p, options.sink, options.temperature),
                                  transition_table(ctx, p, options.sink, explore_temperature),
                                  options);
#ifdef CKV_HAVE_CUDA
  return influence::run_walkers_cuda(device_table(ctx, p, options.sink, options.temperature),
                                     device_table(ctx, p, options.sink, explore_temperature),
                                     options);
#else
  CKV_FAIL(
      "{}: circuitkv_influence: GPU walkers requested, but this ckv-sweep was built without "
      "CUDA",
      ctx.input().sample);
#endif
}

Scores influence_method_scores(LayerContext& ctx, const InfluenceParams& p, WalkerDevice device) {
  const LayerInput& in = ctx.input();
  influence::WalkerOptions options;
  options.walkers = p.walkers;
  options.max_steps = p.max_steps;
  options.sink = std::min(p.selection.sink, in.n);
  options.temperature = p.temperature;
  options.explore_fraction = p.explore_fraction;
  options.explore_temperature = p.explore_temperature;
  options.seed = p.seed;

  // graph = full needs every query row (walkers land anywhere in [s, q]) and refuses r < n by
  // sample name; window_prefix needs the window rows only.
  const walkers::ReducedAttention& attention = walk_matrix(ctx, p);
  const auto visits = influence_visits(ctx, p, options, device);
  std::vector<double> score = influence::influence_scores(visits, options.sink);

  if (p.combine_h2o) {
    // Public code: max(rank walker, rank H2O), H2O = column sums of the walked matrix over all
    // its rows; ranks rank(x)/(n−1), ties by position (docs/spec/METHODS.md step 5).
    const std::vector<double> h2o = walkers::reduced_column_sums(attention, in.n);
    const auto rank_walk = rank_normalize(std::vector<float>(score.begin(), score.end()));
    const auto rank_h2o = rank_normalize(std::vector<float>(h2o.begin(), h2o.end()));
    for (int j = 0; j < in.n; ++j) score[j] = std::max(rank_walk[j], rank_h2o[j]);
  }
  // One score for the layer (the walk runs on head-reduced attention); per_kv_head
  // selection gets it for every KV head.
  return replicate_scores(score, in, p.selection.granularity);
}

Scores influence_scores_cpu(LayerContext& ctx, const InfluenceParams& p) {
  return influence_method_scores(ctx, p, WalkerDevice::cpu);
}

[[maybe_unused]] Scores influence_scores_cuda(LayerContext& ctx, const InfluenceParams& p) {
  return influence_method_scores(ctx, p, WalkerDevice::cuda);
}

}  // namespace

MethodDef make_circuitkv_influence_method() {
  using P = InfluenceParams;
  ParamSchema<P> s;
  s.include(&P::selection, selection_schema(4, SelectionGranularity::shared));
  s.choice(&P::graph, "graph", InfluenceGraph::window_prefix,
           {{"window_prefix", InfluenceGraph::window_prefix}, {"full", InfluenceGraph::full}},
           "the matrix the walkers follow and the H2O term sums: window_prefix = the window rows "
           "merged over heads plus H2O-weighted synthetic prefix rows (public v1.0.8; needs only "
           "the window rows); full = every causal attention row merged over heads (needs a "
           "full-row cache)")
      .legacy("full");
  s.integer(&P::walkers, "walkers", 10000, 1, 1e8,
            "N: walkers; the first N/2 start at the query q = n-1, the rest at a uniform "
            "position in [s, q]");
  s.integer(&P::max_steps, "max_steps", 50, 1, 100000,
            "S: steps per walker (public v1.0.8: 50; seed 000 v1.0.7: 10); every landing is "
            "counted, the start is not");
  s.real(&P::temperature, "temperature", 2.0, 0.01, 1000.0,
         "T: a step samples j in [s, pos] with weight max(A[pos, j], 1e-10)^(1/T)");
  s.real(&P::explore_fraction, "explore_fraction", 0.3, 0.0, 1.0,
         "fraction of walkers (the last ones) walking at explore_temperature (public v1.0.8: "
         "0.3; seed 000: 0)");
  s.real(&P::explore_temperature, "explore_temperature", 10.0, 0.01, 1000.0,
         "temperature of the exploring walkers (public v1.0.8)");
  s.flag(&P::combine_h2o, "combine_h2o", true,
         "score = max(rank walker score, rank H2O column sums) (public code); false: the walker "
         "score adjusted/max itself (seed 000)");
  s.choice(&P::head_reduce, "head_reduce", walkers::HeadMerge::mean,
           {{"mean", walkers::HeadMerge::mean}, {"max", walkers::HeadMerge::max}},
           "reduction of the H attention heads into the one matrix A the walkers follow: max "
           "over heads in the public v1.0.8 window_prefix matrix; mean for the full graph (seed "
           "000 does not say; mean keeps rows stochastic)")
      .default_when("max", "graph", "window_prefix");
  s.integer(&P::seed, "seed", 0, 0, 4294967295.0, "Philox seed; draws keyed by (seed, walker, step)");
  return define_method<P>(kName,
                          "Causal influence walker: visit counts of walks on head-reduced "
                          "attention, positionally normalised, max with rank H2O",
                          "seed 000 (influence walker v1.0.7); public CircuitKV v1.0.8",
                          std::move(s), influence_scores_cpu,
                          CKV_CUDA_TWIN(influence_scores_cuda));
}

}  // namespace ckv
