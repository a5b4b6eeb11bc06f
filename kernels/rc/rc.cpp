// `rc`: RC ("Random Circuit") absorbing random walks and their seed 004 add-ons
// (docs/spec/METHODS.md "RC and add-ons"). Walkers start at the last W positions, follow the
// top-k attention graph backward and are absorbed at the sinks; the score is max(H2O over the
// last W rows, walk score), both max-normalised, exactly as seed 004's RCStrategy and its
// subclasses.
#include <algorithm>

#include <fmt/format.h>

#include "kernels/method_factories.hpp"
#include "kernels/rc/rc_walker.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

namespace {

constexpr const char* kName = "rc";
// Philox streams ("RC" + mode letter): the combined mode's three runs draw independently.
constexpr uint32_t kStreamSingle = 0x52430000u;
constexpr uint32_t kStreamCombined[3] = {0x52430001u, 0x52430002u, 0x52430003u};

struct RcParams {
  SelectionParams selection;
  int top_k = 32;
  int observation_window = 8;
  int walkers = 256;
  int max_steps = 100;
  rc::ModeChoice mode = rc::ModeChoice::basic;
  double temperature = 1.0;
  double mix_temperature_high = 2.0;
  double mix_temperature_low = 0.5;
  walkers::HeadMerge head_reduce = walkers::HeadMerge::mean;
  uint64_t seed = 0;

  std::string full_rows_reason() const { return "its top-k graph is built from every attention row"; }

  std::string validate() const {
    if (mode == rc::ModeChoice::combined && walkers < 3)
      return fmt::format("mode 'combined' splits walkers into thirds; walkers_per_source {} leaves none",
                         walkers);
    if ((long long)walkers * (long long)observation_window > 4294967296LL)
      return fmt::format(
          "walkers_per_source × observation_window = {} exceeds the Philox walker index "
          "range (2^32)",
          (long long)walkers * (long long)observation_window);
    return "";
  }
};

struct SparseGraphKey {
  walkers::HeadMerge merge;
  int top_k;
  auto operator<=>(const SparseGraphKey&) const = default;
};

// Who runs the walks: run_walks on CPU threads, or its CUDA twin (rc_kernels.cu) with
// bit-identical totals; everything else is the same host code, so the scores are equal.
enum class WalkerDevice { cpu,
                          cuda };

rc::WalkTotals walk_totals([[maybe_unused]] LayerContext& ctx, WalkerDevice device, const rc::SparseGraph& graph,
                           const std::vector<int>& sources, rc::Mode mode,
                           const rc::WalkOptions& options) {
  if (device == WalkerDevice::cpu) return rc::run_walks(graph, sources, mode, options);
#ifdef CKV_HAVE_CUDA
  return rc::run_walks_cuda(graph, sources, mode, options);
#else
  CKV_FAIL("{}: rc: GPU walkers requested, but this ckv-sweep was built without CUDA",
           ctx.input().sample);
#endif
}

Scores rc_method_scores(LayerContext& ctx, const RcParams& p, WalkerDevice device) {
  const LayerInput& in = ctx.input();
  const int n = in.n;
  const int sink = std::min(p.selection.sink, n);

  // Every row of the graph is needed: refuses a cache with r < n, naming the sample.
  const walkers::ReducedAttention& attention = walkers::reduced_attention(ctx, p.head_reduce, kName);
  const rc::SparseGraph& graph = ctx.memo<rc::SparseGraph>(
      SparseGraphKey{p.head_reduce, p.top_k}, [&] { return rc::build_sparse_graph(attention, p.top_k); });

  // seed 004: W = min(observation_window, n − sink); sources are the last W positions.
  const int W = std::max(0, std::min(p.observation_window, n - sink));
  std::vector<int> sources;
  for (int i = n - W; i < n; ++i) sources.push_back(i);

  rc::WalkOptions options;
  options.walkers = p.walkers;
  options.max_steps = p.max_steps;
  options.sink = sink;
  options.temperature = p.temperature;
  options.mix_high = p.mix_temperature_high;
  options.mix_low = p.mix_temperature_low;
  options.seed = p.seed;

  std::vector<double> walk(n, 0.0);
  if (p.mode == rc::ModeChoice::combined) {
    // seed 004 RC_Combined: walkers // 3 each for HT, EP, TM; max of the three scores.
    const rc::Mode parts[3] = {rc::Mode::HittingTime, rc::Mode::EscapeProb, rc::Mode::TempMix};
    rc::WalkOptions third = options;
    third.walkers = options.walkers / 3;
    for (int k = 0; k < 3; ++k) {
      third.stream = kStreamCombined[k];
      const auto part = rc::mode_score(walk_totals(ctx, device, graph, sources, parts[k], third), parts[k]);
      for (int j = 0; j < n; ++j) walk[j] = std::max(walk[j], part[j]);
    }
  } else {
    options.stream = kStreamSingle;
    const rc::Mode m = rc::single_mode(p.mode);
    walk = rc::mode_score(walk_totals(ctx, device, graph, sources, m, options), m);
  }

  // H2O over the last W rows, max-normalised (seed 004 RCStrategy), then the union by max.
  std::vector<double> h2o = walkers::reduced_column_sums(attention, W);
  const double h2o_max = std::max(walkers::max_of(h2o), 1e-8);
  std::vector<double> score(n);
  for (int j = 0; j < n; ++j) score[j] = std::max(h2o[j] / h2o_max, walk[j]);
  return replicate_scores(score, in, p.selection.granularity);
}

Scores rc_scores_cpu(LayerContext& ctx, const RcParams& p) {
  return rc_method_scores(ctx, p, WalkerDevice::cpu);
}

[[maybe_unused]] Scores rc_scores_cuda(LayerContext& ctx, const RcParams& p) {
  return rc_method_scores(ctx, p, WalkerDevice::cuda);
}

}  // namespace

MethodDef make_rc_method() {
  using P = RcParams;
  using rc::ModeChoice;
  ParamSchema<P> s;
  s.include(&P::selection, selection_schema(4, SelectionGranularity::shared));
  s.integer(&P::top_k, "top_k", 32, 1, 100000,
            "k: each row keeps its k largest attention entries to strictly earlier tokens "
            "(renormalised over the kept entries)");
  s.integer(&P::observation_window, "observation_window", 8, 1, 1e9,
            "W: walkers start at the last min(W, n - s) positions; the H2O term sums these rows");
  s.integer(&P::walkers, "walkers_per_source", 256, 1, 1e7,
            "walkers per source position (combined: a third per add-on); formerly `walkers`, "
            "which elsewhere counts all walkers")
      .renamed_from("walkers");
  s.integer(&P::max_steps, "max_positions", 100, 1, 100000,
            "S: positions recorded per walk (start included, so at most S - 1 transitions); walks "
            "stop earlier when absorbed at a sink; formerly `max_steps`, which elsewhere counts "
            "transitions")
      .renamed_from("max_steps");
  s.choice(&P::mode, "mode", ModeChoice::basic,
           {{"basic", ModeChoice::basic}, {"hitting_time", ModeChoice::hitting_time}, {"escape_prob", ModeChoice::escape_prob}, {"absorption_speed", ModeChoice::absorption_speed}, {"temp_mix", ModeChoice::temp_mix}, {"combined", ModeChoice::combined}},
           "basic: visit counts; hitting_time: visit weight (S-step)/S; escape_prob: first-visit "
           "ratio x normalised visits; absorption_speed: visits weighted 1/(1+steps to "
           "absorption); temp_mix: even walkers at the high, odd at the low temperature; "
           "combined: max of hitting_time, escape_prob, temp_mix with a third of the walkers "
           "each");
  s.real(&P::temperature, "temperature", 1.0, 0.01, 1000.0,
         "T: transition weights w^(1/T) (every mode but temp_mix)");
  s.real(&P::mix_temperature_high, "mix_temperature_high", 2.0, 0.01, 1000.0,
         "temp_mix: temperature of walkers with even id (seed 004: 2.0)");
  s.real(&P::mix_temperature_low, "mix_temperature_low", 0.5, 0.01, 1000.0,
         "temp_mix: temperature of walkers with odd id (seed 004: 0.5)");
  s.choice(&P::head_reduce, "head_reduce", walkers::HeadMerge::mean,
           {{"mean", walkers::HeadMerge::mean}, {"max", walkers::HeadMerge::max}},
           "reduction of the H attention heads into the graph's matrix (seed 004 used one head of "
           "one layer)");
  s.integer(&P::seed, "seed", 0, 0, 4294967295.0, "Philox seed; draws keyed by (seed, walker, step)");
  return define_method<P>(kName,
                          "RC absorbing walks on the top-k attention graph from the last W "
                          "tokens, with the seed 004 add-ons; max with window H2O",
                          "seed 004 (RC and add-ons PoC)", std::move(s), rc_scores_cpu,
                          CKV_CUDA_TWIN(rc_scores_cuda));
}

}  // namespace ckv
