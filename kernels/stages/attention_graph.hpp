// The attention graph of the CircuitKV absorbing-chain methods (docs/spec/METHODS.md "CircuitKV:
// Neumann" steps 1–2, shared by circuitkv_neumann and circuitkv_walk).
//
// Nodes are prompt positions 0..n-1; edges point backward (row i -> column j <= i). Sinks
// [0, s) absorb. P is row-stochastic after temperature: P = F^(1/T) / max(rowsum, 1e-8).
//
// graph = "window_prefix": rows n-w..n-1 are the head-reduced window attention rows (dense);
// prefix rows are separable (docs/spec/METHODS.md "Facts that make it fast"):
//   P[i, j] = g[j] / S[i] for j < i < n-w,  g = max(h, 1e-6)^(1/T),  S[i] = Σ_{k<i} g[k],
// with h[j] = Σ_r A_win[r, j] over the reduced window rows; row 0 is empty. Nothing n×n is held.
// graph = "full": every row is the head-reduced attention row (needs r == n), computed row by
// row from Q and K (no [H, n, n] tensor) and stored lower-triangular in fp32: 2·n² bytes.
#pragma once
#include <string>
#include <vector>

#include "kernels/layer_context.hpp"
#include "kernels/stages/chain_sampling.hpp"
#include "kernels/stages/neumann_step.hpp"

namespace ckv::circuitkv {

// Where attention rows come from: the context's CPU stages (host), or LayerKernels on the
// context's CUDA device (device; equal to the host rows within fp32 rounding). Graphs built from
// different sources are memoised apart.
enum class RowSource { host,
                       device };

// The last `rows` attention rows [H, rows, n] (rows = n: all of them) from `source`, memoised in
// the context; refuses a cache with fewer query rows, naming the sample and `method`.
const Tensor3& attention_rows(LayerContext& context, RowSource source, int rows, const char* method);

// Head reduction of attention rows (docs/spec/METHODS.md "Attention inputs").
//   max | mean over heads; entropy_qi: max over the `top_k_heads` heads with lowest mean row
//   entropy over the window rows; entropy_hi: mean over heads whose transient mass (mean over
//   window rows of Σ_{j>=s} p_j) >= hi_mass_threshold, all heads if none qualifies.
enum class HeadReduce { max,
                        mean,
                        entropy_qi,
                        entropy_hi };

struct HeadReduction {
  HeadReduce mode = HeadReduce::max;
  int top_k_heads = 10;
  double hi_mass_threshold = 0.5;
  int sink = 4;
  auto operator<=>(const HeadReduction&) const = default;
};

// The heads selected by `reduction` from the window rows (all heads for max/mean).
std::vector<int> select_heads(LayerContext& context, int window, const HeadReduction& reduction,
                              RowSource source = RowSource::host);

enum class GraphKind { window_prefix,
                       full };

struct GraphOptions {
  GraphKind graph = GraphKind::window_prefix;
  int window = 64;           // w (window rows)
  int sink = 4;              // s
  double temperature = 1.0;  // T (> 0)
  HeadReduction reduction;
  auto operator<=>(const GraphOptions&) const = default;
};

// The options with the entropy parameters their reduction ignores zeroed: equal graphs have
// equal canonical options (the memo key of shared_graph and of the stages built on graphs).
GraphOptions canonical_graph_options(GraphOptions options);

class AttentionGraph {
 public:
  // Builds P for one layer. Memoise with context.memo() keyed by the options when shared.
  static AttentionGraph build(LayerContext& context, const GraphOptions& options,
                              RowSource source = RowSource::host);

  // What the graph was built from: its canonical options (canonical_graph_options) and row
  // source, the identity under which stages built on it are memoised.
  const GraphOptions& options() const { return options_; }
  RowSource source() const { return source_; }

  int n() const { return n_; }
  int sink() const { return sink_; }
  int window_start() const { return window_start_; }  // first dense window row (n - w'), or 0 for full
  bool packed() const { return full_; }               // graph = "full": rows packed in fp32 (chain_sampling.hpp)

  // P[i, j] (0 for j > i or an empty row).
  double entry(int i, int j) const;
  double row_sum(int i) const;  // 1 (or 0 for an empty row)

  // y = Pᵀ x over all nodes (y[j] = Σ_i P[i, j] x[i]); O(n·w) for window_prefix. Each column
  // adds its rows in ascending order with neumann_step.hpp's edge_flow, the order the CUDA
  // series computes it in.
  void apply_transpose(const std::vector<double>& x, std::vector<double>& y) const;
  // y = P x (y[i] = Σ_j P[i, j] x[j]).
  void apply(const std::vector<double>& x, std::vector<double>& y) const;

  // The column sums of the reduced window rows (h before clamping), used as the H2O signal.
  const std::vector<double>& window_column_sums() const { return h_; }

  // Samples j ~ P[i, ·] with u in [0, 1): inverse CDF by binary search (deterministic given u;
  // backward_sample of chain_sampling.hpp, the CUDA walkers' code). Returns -1 for an empty row.
  int sample(int i, double u) const { return backward_sample(arrays(), i, u); }

  // The arrays sample() searches (host pointers), and their sizes, for the CUDA walk twin that
  // copies them to the device (kernels/circuitkv_walk/walk_kernels.hpp).
  BackwardChainArrays arrays() const;
  size_t dense_cdf_size() const { return dense_cdf_.size(); }
  // The arrays apply_transpose reads (host pointers; kernels/stages/neumann_step.hpp), and the
  // size of the dense window rows, for the CUDA Neumann series that copies them to the device.
  TransposeArrays transpose_arrays() const;
  size_t dense_size() const { return dense_.size(); }
  size_t packed_size() const { return packed_.size(); }
  size_t row_block_cum_size() const { return row_block_cum_.size(); }

 private:
  static void build_full_rows(LayerContext& context, AttentionGraph& g,
                              const std::vector<int>& heads, bool use_max, int w, double inv_t);

  GraphOptions options_;
  RowSource source_ = RowSource::host;
  int n_ = 0, sink_ = 0, window_start_ = 0;
  bool full_ = false;
  std::vector<double> h_;          // window column sums
  std::vector<double> g_;          // prefix weights g[j]
  std::vector<double> g_cum_;      // g_cum_[i] = Σ_{k<i} g[k]
  LargeBuffer<double> dense_;      // window_prefix: the w' window rows [w', n], row-normalised
  LargeBuffer<double> dense_cdf_;  // their running sums (every entry written by build)
  // graph = "full": every row i, P[i, 0..i] in fp32 at i(i+1)/2, with running sums (double)
  // at the end of every kCdfBlock entries: n²/2 floats + n²/128 doubles, no n×n double.
  std::vector<float> packed_;
  std::vector<uint64_t> row_block_offset_;  // [n + 1]
  std::vector<double> row_block_cum_;
  // Prefix row i: P[i, j] = g[j] * prefix_scale_[i]; the scale is 1/S[i] unless the 1e-8
  // row-sum clamp of step 2 binds (then the row is substochastic, as in the public code).
  std::vector<double> prefix_scale_;
  // 1 where the row was normalised by its own sum (sums to 1 up to rounding): sample() scales
  // u by the row total there so rounding never ends a walk; 0 for empty/clamped rows.
  std::vector<unsigned char> row_stochastic_;
};

// AttentionGraph::build memoised in the context under (options, source), so circuitkv_neumann
// and circuitkv_walk configurations with the same graph options share one build. Entropy
// parameters a reduction ignores are normalised away first, so equal graphs share one entry.
const AttentionGraph& shared_graph(LayerContext& context, const GraphOptions& options,
                                   RowSource source = RowSource::host);

// The mean over the window rows of each head's row entropy −Σ_j p ln p over all n columns,
// p clamped at 1e-8 (docs/spec/METHODS.md "Attention inputs"); [H]. Used by the entropy
// reductions and the per-head variant's query weight.
std::vector<double> head_window_entropy(LayerContext& context, int window,
                                        RowSource source = RowSource::host);

// The row entropy −Σ_j p ln p (p clamped at 1e-8) of each head's last row of `rows` [H, r, n]
// (the query's own row): the per-head variant's public head entropy.
std::vector<double> head_last_row_entropy(const Tensor3& rows);

// Rank normalisation and the Gaussian/boxcar smoothing of docs/spec/METHODS.md steps 4–5 live in
// kernels/stages/postprocess.hpp.

}  // namespace ckv::circuitkv
