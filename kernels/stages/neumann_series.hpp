// Truncated Neumann series of the absorbing chain (docs/spec/METHODS.md "CircuitKV: Neumann" step 3;
// seed 002 §1): with Q = P[s:, s:] (sink columns absorb),
//   QI = Σ_{k=0..K} γᵏ (Qᵀ)ᵏ e_q          → row q = n−1 of N = (I−Q)⁻¹ as K → ∞ (γ = 1),
//   HI = Σ_{k=0..K} γᵏ (Qᵀ)ᵏ 𝟙/(n−s)     → the column means of N.
// Stops early once both new terms are below 1e-8 (max-abs). One iteration is one
// AttentionGraph::apply_transpose, O(n·w) on the window_prefix graph.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "kernels/stages/attention_graph.hpp"

namespace ckv::circuitkv {

// Raw QI and HI over all n positions (sink entries 0), before any post-processing.
struct NeumannVectors {
  std::vector<double> qi, hi;
  int terms = 0;  // the last k summed (< K when the series stopped early)
};

// y = Qᵀ x on the transient nodes [s, n): sink entries of x are ignored, those of y are 0.
void apply_q_transpose(const AttentionGraph& graph, const std::vector<double>& x,
                       std::vector<double>& y);

// One series per (QI graph, HI graph, γ): the partial sums for any K come from the same
// iteration (docs/spec/METHODS.md "Facts that make it fast"), so a sweep over K iterates once up to the
// largest K it asked for first. Requests for a smaller K than already iterated recompute.
class NeumannSeries {
 public:
  NeumannSeries(const AttentionGraph& qi_graph, const AttentionGraph& hi_graph, double gamma);
  NeumannVectors partial_sums(int K);

 private:
  struct State {
    std::vector<double> term_qi, term_hi, sum_qi, sum_hi;
    int k = 0;
    bool stopped = false;
  };
  State start() const;
  void advance(State& state, int K) const;

  const AttentionGraph& qi_graph_;
  const AttentionGraph& hi_graph_;
  double gamma_;
  State state_;
  std::map<int, NeumannVectors> done_;
};

// The series of the two shared graphs (shared_graph()) of these options, memoised in the
// context per (QI options, HI options, source, γ).
NeumannVectors neumann_vectors(LayerContext& context, const GraphOptions& qi_options,
                               const GraphOptions& hi_options, RowSource source, double gamma,
                               int K);

// The same series iterated on the calling thread's current CUDA device
// (kernels/stages/neumann_kernels.hpp): both graphs copied once, memoised in the context per the
// same key, a sweep over K iterating once. Equal to neumann_vectors on the same graphs within
// rounding of the prefix suffix sum (bit-identical for prefixes of at most 1024 positions).
// Defined only in builds with CUDA (neumann_series_cuda.cpp).
NeumannVectors neumann_vectors_cuda(LayerContext& context, const GraphOptions& qi_options,
                                    const GraphOptions& hi_options, RowSource source,
                                    double gamma, int K);

}  // namespace ckv::circuitkv
