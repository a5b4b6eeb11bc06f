// Random walk with restart on the cosine(Q, K) token graph (seed 003; docs/spec/METHODS.md "RWR").
// Exposed for the tests, which compare against dense closed forms.
#pragma once
#include <vector>

#include "kernels/layer_context.hpp"

namespace ckv::rwr {

// A sparse n×n matrix in compressed rows.
struct SparseMatrix {
  int n = 0;
  std::vector<int> row_start;  // [n + 1]
  std::vector<int> column;
  std::vector<double> value;

  static SparseMatrix from_rows(int n, std::vector<std::vector<std::pair<int, double>>> rows);
  double row_sum(int i) const;
};

struct GraphOptions {
  int window = 128;        // local window: every j with |i − j| <= window
  int topk = 32;           // plus the topk most similar keys j < i − window
  double threshold = 0.0;  // edges need cosine > threshold (weights must be positive)
};

// W for query head h: W[i, j] = cos(Q[h, i], K[kv(h), j]) on the local window ±window plus the
// topk most similar earlier keys (seed 003 build_sparse_W), edges with cosine <= threshold
// dropped; columns sorted. Needs every query row.
SparseMatrix similarity_graph(const LayerInput& input, int h, const GraphOptions& options);

// P = D⁻¹W (D = row sums); a row with no positive weight stays empty (its mass is lost).
SparseMatrix row_normalize(const SparseMatrix& w);

// seed 003 reversible(): P_rev = ½(P + D⁻¹PᵀD), row-normalised. Entrywise
// ½(P + D⁻¹PᵀD)[i, j] = (W[i, j] + W[j, i]) / (2 d_i): its rows sum to ½(1 + c_i/d_i)
// (c = column sums), a stochastic matrix only for balanced W. Renormalising gives
// (W[i, j] + W[j, i]) / (d_i + c_i), the walk on the symmetrised graph, reversible with
// respect to π ∝ d + c (∝ D·1 for balanced W, the seed's claim); it also stays defined
// where d_i = 0 < c_i.
SparseMatrix reversible_transition(const SparseMatrix& w);

// Forward saliency (seed 003: r = α e + (1−α) r P as a row vector): mass flows from the query
// along its edges to the keys it resembles, r = α Σ_{t=0..T} ((1−α)Pᵀ)ᵗ e.
std::vector<double> forward_saliency(const SparseMatrix& p, const std::vector<double>& e,
                                     double alpha, int steps);
// Backward saliency (the walk on Pᵀ): r_back = α Σ_{t=0..T} ((1−α)P)ᵗ e, the mass of tokens
// whose walks reach the restart set.
std::vector<double> backward_saliency(const SparseMatrix& p, const std::vector<double>& e,
                                      double alpha, int steps);

}  // namespace ckv::rwr
