// `rwr`: random walk with restart on the cosine(Q, K) token graph (seed 003; docs/spec/METHODS.md
// "RWR"). Per query head: W from a local window plus long-range top-k neighbours, P = D⁻¹W
// (optionally the reversible P_rev), saliency r = α Σ ((1−α)Pᵀ)ᵗ e from the restart vector,
// mixed with the backward saliency by reciprocal_beta; scores are r averaged over heads.
// Defaults are seed 003's R1 run (α 0.2, T 4, topk 32, window 128, not reversible, forward
// only); R2 is reversible = true, R3 adds reciprocal_beta = 0.7.
#include "kernels/rwr/rwr.hpp"

#include <algorithm>

#include "kernels/method_factories.hpp"
#include "kernels/rwr/rwr_graph.hpp"
#include "kernels/rwr/rwr_math.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

namespace {

// Transitions depend on the graph options only: shared by alpha/steps/beta/budget sweeps.
struct TransitionsKey {
  int window, topk;
  double threshold;
  bool reversible;
  auto operator<=>(const TransitionsKey&) const = default;
};

}  // namespace

std::vector<double> rwr_restart_vector(const RwrParams& p, int n) {
  // Restart vector: the query q = n − 1, or the uniform mean over the observation window.
  std::vector<double> e(n, 0.0);
  if (p.restart == RwrRestart::query) {
    e[n - 1] = 1.0;
  } else {
    const int w = std::min(p.selection.window, n);
    for (int i = n - w; i < n; ++i) e[i] = 1.0 / w;
  }
  return e;
}

Scores rwr_scores_cpu(LayerContext& ctx, const RwrParams& p) {
  const LayerInput& in = ctx.input();
  const int n = in.n;
  // Every token is a graph node with its own query: a partial capture cannot build the graph.
  ctx.require_query_rows(n, kRwrName);
  rwr::GraphOptions graph;
  graph.window = p.graph_window;
  graph.topk = p.topk;
  graph.threshold = p.threshold;
  const auto& transitions = ctx.memo<std::vector<rwr::SparseMatrix>>(
      TransitionsKey{graph.window, graph.topk, graph.threshold, p.reversible}, [&] {
        std::vector<rwr::SparseMatrix> per_head(in.H);
        for (int h = 0; h < in.H; ++h) {
          const rwr::SparseMatrix w = rwr::similarity_graph(in, h, graph);
          per_head[h] = p.reversible ? rwr::reversible_transition(w) : rwr::row_normalize(w);
        }
        return per_head;
      });

  const std::vector<double> e = rwr_restart_vector(p, n);
  const double beta = p.reciprocal_beta;
  std::vector<std::vector<double>> per_head(in.H);
  for (int h = 0; h < in.H; ++h) {
    per_head[h] = rwr::forward_saliency(transitions[h], e, p.alpha, p.steps);
    if (beta < 1.0) {
      // Reciprocal coupling (seed 003): β·r + (1−β)·r_back.
      const auto back = rwr::backward_saliency(transitions[h], e, p.alpha, p.steps);
      for (int j = 0; j < n; ++j) per_head[h][j] = rwr::reciprocal_mix(beta, per_head[h][j], back[j]);
    }
  }
  return reduce_query_heads(per_head, in, p.selection.granularity);
}

MethodDef make_rwr_method() {
  using P = RwrParams;
  using Restart = RwrRestart;
  ParamSchema<P> s;
  // Sinks and shared selection as the CircuitKV methods it is compared with: seed 003 is an
  // attention module with no eviction protocol of its own.
  s.include(&P::selection, selection_schema(4, SelectionGranularity::shared));
  s.integer(&P::graph_window, "graph_window", 128, 0, 1e9,
            "local window of the graph: token i links to every key j with |i - j| <= "
            "graph_window (seed 003 `window`)");
  s.integer(&P::topk, "topk", 32, 0, 100000,
            "plus the topk keys before the window most similar to query i");
  s.real(&P::threshold, "threshold", 0.0, 0.0, 0.999,
         "edges need cosine > threshold (seed 003 rwr_threshold; negative cosines are never "
         "transition weights)");
  s.real(&P::alpha, "alpha", 0.2, 0.001, 1.0, "α: restart probability");
  s.integer(&P::steps, "steps", 4, 0, 10000,
            "T: terms of the truncated series r = α Σ_{t=0..T} ((1-α)Pᵀ)ᵗ e");
  s.choice(&P::restart, "restart", Restart::query,
           {{"query", Restart::query}, {"window", Restart::window}},
           "restart vector e: the last token (query) or uniform over the last `window` tokens");
  s.flag(&P::reversible, "reversible", false,
         "use P_rev = 1/2 (P + D⁻¹PᵀD), row-normalised (seed 003 R2)");
  s.real(&P::reciprocal_beta, "reciprocal_beta", 1.0, 0.0, 1.0,
         "β: score = β r + (1-β) r_back, r_back the walk on Pᵀ (1: forward only, seed 003 R1/R2; "
         "R3 uses 0.7)");
  return define_method<P>(kRwrName, "Random walk with restart on the per-head cosine(Q, K) token graph",
                          "seed 003 (RWR attention)", std::move(s), rwr_scores_cpu,
                          CKV_CUDA_TWIN(rwr_scores_cuda));
}

}  // namespace ckv
