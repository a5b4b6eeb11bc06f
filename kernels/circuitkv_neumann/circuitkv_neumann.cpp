// `circuitkv_neumann`: docs/spec/METHODS.md "CircuitKV: Neumann" steps 1–7 (seed 002; public default
// "dis", v6.2.0 command line). Defaults reproduce the public code: entropy head reduction,
// window_prefix graph, K = 10, T = 1, γ = 1, Gaussian smoothing 3/5 with σ = 1, dis, shared
// selection, s = 4, w = 64.
#include "kernels/circuitkv_neumann/circuitkv_neumann.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "kernels/method_factories.hpp"
#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

namespace circuitkv {

namespace {

// Seed 001 improvement 5: correlated rankings are averaged, disagreeing ones are maxed.
constexpr double kNeumannCalibratedRho = 0.7;

GraphOptions graph_options(const NeumannParams& p, HeadReduce reduction) {
  GraphOptions o;
  o.graph = p.graph;
  o.window = p.selection.window;
  o.sink = p.selection.sink;
  o.temperature = p.temperature;
  o.reduction.mode = reduction;
  o.reduction.top_k_heads = p.top_k_heads;
  o.reduction.hi_mass_threshold = p.hi_mass_threshold;
  o.reduction.sink = o.sink;
  return o;
}

HeadReduce graph_reduction(NeumannHeadReduce mode, HeadReduce entropy_variant) {
  switch (mode) {
    case NeumannHeadReduce::max: return HeadReduce::max;
    case NeumannHeadReduce::mean: return HeadReduce::mean;
    case NeumannHeadReduce::entropy: break;
  }
  return entropy_variant;
}

// Value descending, ties to the lower position (the selection's order).
std::vector<int> descending_order(const std::vector<float>& x) {
  std::vector<int> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const float va = std::isnan(x[a]) ? -INFINITY : x[a];
    const float vb = std::isnan(x[b]) ? -INFINITY : x[b];
    return va > vb;
  });
  return order;
}

class UnionFill : public CustomFill {
 public:
  UnionFill(std::vector<double> qi, std::vector<double> hi, double ratio)
      : qi_(std::move(qi)), hi_(std::move(hi)), ratio_(ratio) {}
  std::vector<int> fill(int /*head*/, int slots, const std::vector<unsigned char>& taken) const override {
    return union_fill_order(qi_, hi_, ratio_, slots, taken);
  }

 private:
  std::vector<double> qi_, hi_;
  double ratio_;
};

}  // namespace

GraphOptions NeumannParams::qi_graph() const {
  // entropy: QI on the max over the most focused heads (docs/spec/METHODS.md "Attention inputs").
  return graph_options(*this, graph_reduction(head_reduce, HeadReduce::entropy_qi));
}

GraphOptions NeumannParams::hi_graph() const {
  // entropy: HI on the mean over the heads that keep their mass off the sinks.
  return graph_options(*this, graph_reduction(head_reduce, HeadReduce::entropy_hi));
}

std::string NeumannParams::validate() const {
  for (const auto& [name, k] : {std::pair{"qi_kernel", qi_kernel}, std::pair{"hi_kernel", hi_kernel}})
    if (k % 2 == 0)
      return fmt::format("{} {} must be odd (padding {}/2 keeps positions centred)", name, k, name);
  return "";
}

std::vector<int> union_fill_order(const std::vector<double>& qi, const std::vector<double>& hi,
                                  double ratio, int slots, const std::vector<unsigned char>& taken) {
  CKV_CHECK(qi.size() == hi.size() && qi.size() == taken.size(),
            "union fill: vectors of lengths {}, {}, {}", qi.size(), hi.size(), taken.size());
  // fp32 like the public tensors, so ties are those of the scores the selection would see.
  const auto qi_order = descending_order(std::vector<float>(qi.begin(), qi.end()));
  const auto hi_order = descending_order(std::vector<float>(hi.begin(), hi.end()));
  std::vector<unsigned char> chosen = taken;
  std::vector<int> out;
  const int qi_slots = int(std::floor(ratio * double(slots)));
  for (int j : qi_order) {
    if (int(out.size()) >= qi_slots) break;
    if (chosen[j]) continue;
    chosen[j] = 1;
    out.push_back(j);
  }
  for (int j : hi_order) {
    if (int(out.size()) >= slots) break;
    if (chosen[j]) continue;
    chosen[j] = 1;
    out.push_back(j);
  }
  return out;
}

NeumannRaw neumann_raw(LayerContext& context, const NeumannParams& p, RowSource source,
                       SeriesDevice series) {
  const GraphOptions qi = p.qi_graph(), hi = p.hi_graph();
  NeumannRaw raw;
  if (series == SeriesDevice::cuda) {
#ifdef CKV_HAVE_CUDA
    raw.series = neumann_vectors_cuda(context, qi, hi, source, p.gamma, p.iterations);
#else
    CKV_FAIL(
        "{}: circuitkv_neumann: the CUDA series was requested, but this ckv-sweep was built "
        "without CUDA",
        context.input().sample);
#endif
  } else {
    raw.series = neumann_vectors(context, qi, hi, source, p.gamma, p.iterations);
  }
  raw.da_qi = shared_graph(context, qi, source).window_column_sums();
  raw.da_hi = shared_graph(context, hi, source).window_column_sums();
  return raw;
}

NeumannSignals neumann_postprocess(const NeumannRaw& raw, const NeumannParams& p) {
  const int sink = p.selection.sink;
  const bool da = p.combination == NeumannCombination::da;
  NeumannSignals out{raw.series.qi, raw.series.hi};
  for (auto* v : {&out.qi, &out.hi}) {
    add_sink_pseudo_score(*v, sink);
    max_normalize(*v);
  }
  if (da) {
    // Seed 002 v4.5 "DA": the normalised signals weighted by the attention each token receives
    // from the window rows (the same reduced rows as the signal's graph).
    for (size_t j = 0; j < out.qi.size(); ++j) {
      out.qi[j] *= raw.da_qi[j];
      out.hi[j] *= raw.da_hi[j];
    }
    max_normalize(out.qi);
    max_normalize(out.hi);
  }
  // Seed 002 v6.2.0: sharp QI (σ/2), smooth HI (σ).
  out.qi = smooth(out.qi, smoothing_weights(p.smoothing, p.qi_kernel, p.sigma / 2.0));
  out.hi = smooth(out.hi, smoothing_weights(p.smoothing, p.hi_kernel, p.sigma));
  return out;
}

Scores neumann_combine(const NeumannSignals& signals, const NeumannParams& p, const LayerInput& input) {
  const std::vector<float> rq = rank_vector(signals.qi), rh = rank_vector(signals.hi);
  const size_t n = rq.size();
  std::vector<double> score(n);
  switch (p.combination) {
    case NeumannCombination::dis:
    case NeumannCombination::da:
    case NeumannCombination::union_fill:
      // union: the keep-set comes from the fill below; the vector is dis, for inspection.
      for (size_t j = 0; j < n; ++j) score[j] = std::max(rq[j], rh[j]);
      break;
    case NeumannCombination::qi:
      score.assign(rq.begin(), rq.end());
      break;
    case NeumannCombination::hi:
      score.assign(rh.begin(), rh.end());
      break;
    case NeumannCombination::weighted:
      for (size_t j = 0; j < n; ++j) score[j] = p.alpha * rq[j] + (1.0 - p.alpha) * rh[j];
      break;
    case NeumannCombination::calibrated: {
      const bool agree = spearman_of_ranks(rq, rh) > kNeumannCalibratedRho;
      for (size_t j = 0; j < n; ++j)
        score[j] = agree ? 0.5 * (double(rq[j]) + double(rh[j])) : std::max(rq[j], rh[j]);
      break;
    }
  }
  Scores scores = replicate_scores(score, input, p.selection.granularity);
  if (p.combination == NeumannCombination::union_fill)
    scores.custom_fill = std::make_shared<UnionFill>(signals.qi, signals.hi, p.union_ratio);
  return scores;
}

std::vector<std::vector<double>> neumann_per_head_scores(LayerContext& context,
                                                         const NeumannParams& p,
                                                         RowSource source) {
  const LayerInput& in = context.input();
  const int n = in.n;
  const int window = p.selection.window;
  const int w = std::min(window, n);
  const int s = std::min(p.selection.sink, n);
  const bool true_hub = p.true_hub_hi;
  // The two-hop expansion stands in for K steps: the second hop is discounted by γ^(K/2).
  const double hop = std::pow(p.gamma, double(p.iterations) / 2.0);
  const double n_t = double(std::max(n - s, 1));
  const Tensor3& win = attention_rows(context, source, w, "circuitkv_neumann");
  // The public code (docs/spec/METHODS.md step 7) smooths and ranks the prefix [0, n − w) only; ours all n.
  const int len = p.per_head_range == PerHeadRange::prefix ? n - w : n;
  // Public: one kernel max(qi_kernel, hi_kernel) with σ for both; ours: each its own, σ for both.
  const bool one_kernel = p.per_head_smoothing == PerHeadSmoothing::shared_kernel;
  const auto qi_weights = smoothing_weights(
      p.smoothing, one_kernel ? std::max(p.qi_kernel, p.hi_kernel) : p.qi_kernel, p.sigma);
  const auto hi_weights = smoothing_weights(
      p.smoothing, one_kernel ? std::max(p.qi_kernel, p.hi_kernel) : p.hi_kernel, p.sigma);

  // Raw per-head signals, smoothed over [0, len).
  std::vector<std::vector<double>> qi_smooth(in.H), hi_smooth(in.H);
  for (int h = 0; h < in.H; ++h) {
    const float* a = win.row(h, w - 1);  // the query's own row (position n − 1)
    std::vector<double> qi(n), hi(n, 0.0);
    for (int j = 0; j < n; ++j) qi[j] = a[j];
    for (int r = 0; r < w; ++r) {
      const float* row = win.row(h, r);
      const double via = hop * double(a[n - w + r]);  // q → window position n − w + r → j
      for (int j = 0; j < n; ++j) {
        qi[j] += via * row[j];
        if (true_hub) hi[j] += row[j];
      }
    }
    if (!true_hub)
      for (int j = 0; j < n; ++j) hi[j] = a[j] * (1.0 + hop * (n_t - double(j - s)) / n_t);
    if (p.per_head_sink_score) {
      // Public: sinks get 0.01·Σ over every transient position (window included), then each
      // vector is divided by its maximum (clamped at 1e-8).
      for (auto* v : {&qi, &hi}) {
        add_sink_pseudo_score(*v, s);
        const double m = std::max(*std::max_element(v->begin(), v->end()), 1e-8);
        for (double& x : *v) x /= m;
      }
    }
    qi.resize(len);
    hi.resize(len);
    qi_smooth[h] = smooth(qi, qi_weights);
    hi_smooth[h] = smooth(hi, hi_weights);
  }

  std::vector<float> global_hi_rank;
  std::vector<double> entropy, qw(in.H, 1.0);
  if (p.per_head_mix == PerHeadMix::max_global_hi) {
    // Public v7.5.0 (6283744d): HI averaged over all heads after smoothing, ranked once.
    std::vector<double> mean(len, 0.0);
    for (const auto& v : hi_smooth)
      for (int j = 0; j < len; ++j) mean[j] += v[j];
    for (double& x : mean) x /= double(in.H);
    global_hi_rank = rank_vector(mean);
  } else {
    // Focused heads (low entropy) trust QI: qw = 1 − (E − E_min)/(E_max − E_min); all heads
    // equal → qw = 1 (the limit of the public ε-guarded division).
    entropy = p.per_head_entropy == PerHeadEntropy::last_row
                  ? head_last_row_entropy(win)
                  : head_window_entropy(context, window, source);
    const double e_min = *std::min_element(entropy.begin(), entropy.end());
    const double e_max = *std::max_element(entropy.begin(), entropy.end());
    for (int h = 0; h < in.H; ++h)
      qw[h] = e_max > e_min ? 1.0 - (entropy[h] - e_min) / (e_max - e_min) : 1.0;
  }

  std::vector<std::vector<double>> out(in.H);
  for (int h = 0; h < in.H; ++h) {
    const auto rq = rank_vector(qi_smooth[h]);
    // Positions past `len` (the window under the prefix range) score 0: selection keeps them.
    out[h].assign(n, 0.0);
    if (p.per_head_mix == PerHeadMix::max_global_hi) {
      for (int j = 0; j < len; ++j) out[h][j] = std::max(rq[j], global_hi_rank[j]);
    } else {
      const auto rh = rank_vector(hi_smooth[h]);
      for (int j = 0; j < len; ++j) out[h][j] = qw[h] * rq[j] + (1.0 - qw[h]) * rh[j];
    }
  }
  return out;
}

Scores neumann_scores(LayerContext& context, const NeumannParams& p, RowSource source,
                      SeriesDevice series) {
  const LayerInput& in = context.input();
  if (p.per_head)  // two hops from the window rows, no series
    return reduce_query_heads(neumann_per_head_scores(context, p, source), in, p.selection.granularity);
  const NeumannRaw raw = neumann_raw(context, p, source, series);
  return neumann_combine(neumann_postprocess(raw, p), p, in);
}

Scores neumann_scores_cpu(LayerContext& context, const NeumannParams& p) {
  return neumann_scores(context, p, RowSource::host);
}

}  // namespace circuitkv

MethodDef make_circuitkv_neumann_method() {
  using circuitkv::GraphKind;
  using circuitkv::NeumannCombination;
  using circuitkv::NeumannHeadReduce;
  using circuitkv::NeumannParams;
  using circuitkv::PerHeadEntropy;
  using circuitkv::PerHeadMix;
  using circuitkv::PerHeadRange;
  using circuitkv::PerHeadSmoothing;
  using circuitkv::Smoothing;
  ParamSchema<NeumannParams> s;
  s.include(&NeumannParams::selection, selection_schema(4, SelectionGranularity::shared));
  s.choice(&NeumannParams::head_reduce, "head_reduce", NeumannHeadReduce::entropy,
           {{"entropy", NeumannHeadReduce::entropy}, {"max", NeumannHeadReduce::max}, {"mean", NeumannHeadReduce::mean}},
           "how heads are merged into the graph: entropy = QI on the max over the top_k_heads "
           "lowest-entropy heads, HI on the mean over heads with transient mass >= "
           "hi_mass_threshold (all heads if none); max | mean over all heads for both");
  s.integer(&NeumannParams::top_k_heads, "top_k_heads", 10, 1, 4096,
            "head_reduce = entropy: QI uses this many lowest-entropy heads");
  s.real(&NeumannParams::hi_mass_threshold, "hi_mass_threshold", 0.5, 0.0, 1.0,
         "head_reduce = entropy: HI uses heads whose mean window-row mass on non-sink tokens is at "
         "least this");
  s.choice(&NeumannParams::graph, "graph", GraphKind::window_prefix,
           {{"window_prefix", GraphKind::window_prefix}, {"full", GraphKind::full}},
           "window_prefix: window rows plus synthetic prefix rows from their column sums, O(n·w); "
           "full: every attention row (needs a full query capture, n×n memory)");
  s.integer(&NeumannParams::iterations, "iterations", 10, 0, 100000,
            "K: Neumann terms summed, k = 0..K (stops early once both increments are below "
            "1e-8)");
  s.real(&NeumannParams::temperature, "temperature", 1.0, 1e-3, 1e3,
         "T: transitions sharpened as F^(1/T) before row normalisation (seed 002 v6.4 tries 0.3)");
  s.real(&NeumannParams::gamma, "gamma", 1.0, 0.0, 1.0,
         "γ: discount of the k-th Neumann term (γᵏ); also the two-hop weight γ^(K/2) of per_head");
  s.choice(&NeumannParams::smoothing, "smoothing", Smoothing::gaussian,
           {{"gaussian", Smoothing::gaussian}, {"boxcar", Smoothing::boxcar}, {"none", Smoothing::none}},
           "1-D smoothing of QI and HI over positions (zero padding); the public union path "
           "never smooths, hence none by default there")
      .default_when("none", "combination", "union");
  s.integer(&NeumannParams::qi_kernel, "qi_kernel", 3, 1, 1001, "QI smoothing kernel size (odd)");
  s.integer(&NeumannParams::hi_kernel, "hi_kernel", 5, 1, 1001, "HI smoothing kernel size (odd)");
  s.real(&NeumannParams::sigma, "sigma", 1.0, 1e-3, 1e3,
         "Gaussian σ: HI uses σ, QI σ/2 (per_head: σ for both)");
  s.choice(&NeumannParams::combination, "combination", NeumannCombination::dis,
           {{"dis", NeumannCombination::dis}, {"qi", NeumannCombination::qi}, {"hi", NeumannCombination::hi}, {"weighted", NeumannCombination::weighted}, {"union", NeumannCombination::union_fill}, {"da", NeumannCombination::da}, {"calibrated", NeumannCombination::calibrated}},
           "dis = max(rank QI, rank HI); qi; hi; weighted = qi_weight·rank QI + (1−qi_weight)·rank HI; "
           "union = QI fills floor(union_ratio·slots), HI the rest; da = dis after weighting by the "
           "window column sums (seed 002 v4.5); calibrated = mean of the ranks if their Spearman "
           "rho > 0.7, else max");
  s.real(&NeumannParams::alpha, "qi_weight", 0.5, 0.0, 1.0,
         "combination = weighted: weight of rank QI; formerly `alpha`, which elsewhere (rwr) is a "
         "restart probability")
      .renamed_from("alpha");
  s.real(&NeumannParams::union_ratio, "union_ratio", 0.5, 0.0, 1.0,
         "combination = union: share of the free slots filled by QI");
  s.flag(&NeumannParams::per_head, "per_head", false,
         "public v7.4+ per-head two-hop variant: per head QI = a + γ^(K/2)·two-hop, HI by "
         "true_hub_hi, entropy-weighted rank mix (ignores graph, temperature, head_reduce, "
         "combination)");
  s.flag(&NeumannParams::true_hub_hi, "true_hub_hi", true,
         "per_head: HI = window column sums (true) or a·(1 + γ^(K/2)(n_t − (j − s))/n_t) (false, "
         "the public code's default)")
      .default_when(false, "per_head", true);
  // The public v7.4+ per-head path (docs/reference-implementations.md) differs from this
  // project's first per-head implementation in the points below; with per_head = true the
  // defaults reproduce the public code, and the earlier behaviour stays available by name.
  s.default_when("selection", "per_query_head", "per_head", true);
  s.choice(&NeumannParams::per_head_entropy, "per_head_entropy", PerHeadEntropy::window_mean,
           {{"window_mean", PerHeadEntropy::window_mean}, {"last_row", PerHeadEntropy::last_row}},
           "per_head: the head entropy E of the query weight qw: last_row = the query's own "
           "(last window) row, as the public code; window_mean = the mean over the window rows")
      .default_when("last_row", "per_head", true)
      .legacy("window_mean");
  s.choice(&NeumannParams::per_head_smoothing, "per_head_smoothing", PerHeadSmoothing::separate,
           {{"separate", PerHeadSmoothing::separate},
            {"shared_kernel", PerHeadSmoothing::shared_kernel}},
           "per_head: shared_kernel = QI and HI both smoothed with kernel max(qi_kernel, "
           "hi_kernel), σ (public); separate = QI with qi_kernel, HI with hi_kernel, σ for both")
      .default_when("shared_kernel", "per_head", true)
      .legacy("separate");
  s.flag(&NeumannParams::per_head_sink_score, "per_head_sink_score", false,
         "per_head: sinks get 0.01·Σ of each signal and the signals are max-normalised before "
         "smoothing (public)")
      .default_when(true, "per_head", true)
      .legacy(false);
  s.choice(&NeumannParams::per_head_range, "per_head_range", PerHeadRange::all,
           {{"all", PerHeadRange::all}, {"prefix", PerHeadRange::prefix}},
           "per_head: prefix = smooth and rank the prefix [0, n − w) only, window positions left "
           "to the selection (public); all = every position")
      .default_when("prefix", "per_head", true)
      .legacy("all");
  s.choice(&NeumannParams::per_head_mix, "per_head_mix", PerHeadMix::entropy_weighted,
           {{"entropy_weighted", PerHeadMix::entropy_weighted},
            {"max_global_hi", PerHeadMix::max_global_hi}},
           "per_head: entropy_weighted = qw·rank QI + (1 − qw)·rank HI per head (public, "
           "docs/spec/METHODS.md step 7); max_global_hi = max(rank QI_h, rank of HI averaged over heads) "
           "(public v7.5.0 at 6283744d)")
      .legacy("entropy_weighted");
  return define_method<NeumannParams>(
      "circuitkv_neumann",
      "Absorbing-chain query (QI) and hub (HI) importance from a truncated Neumann series, "
      "smoothed, ranked and combined",
      "CircuitKV seed 002 (Neumann QI/HI, v6.2.0 'dis'); public code 2026-01-27", std::move(s),
      circuitkv::neumann_scores_cpu, CKV_CUDA_TWIN(circuitkv::neumann_scores_cuda));
}

}  // namespace ckv
