// One step of the truncated Neumann series, y = Qᵀx on the CircuitKV attention graph
// (docs/spec/METHODS.md "CircuitKV: Neumann" step 3, "Facts that make it fast"), as
// __host__ __device__ functions shared by the CPU reference (AttentionGraph::apply_transpose,
// NeumannSeries) and the CUDA twin (kernels/stages/neumann_kernels.cu). Plain C++ with no project
// header but chain_sampling.hpp (common/half.hpp): nvcc compiles it, and the CPU tests exercise
// exactly the arithmetic the device runs.
//
// Per column j of y = Pᵀx (x read as 0 below `masked_below`, the absorbing sinks):
//   y[j] = g[j]·suffix[j]  (prefix rows, j < window_start; suffix[j] = Σ_{i=j+1}^{ws−1} scale_i x_i)
//        + Σ_{i ≥ max(ws, j)} P[i, j] x_i   (dense window rows, or every packed row of graph = "full")
// The dense sum runs over i in ascending order and skips x_i = 0, which is the order the CPU's
// row-by-row loop adds into each column: a device thread per column computes the same bits.
// The one reordering is the prefix suffix sum: the CPU scans it in one chain from ws − 1 down;
// the device splits [0, ws) into `chunks` contiguous chunks (chunk sums, then carries in chunk
// order, then each chunk's own scan from its carry). With one element per chunk that is the
// CPU's chain exactly; otherwise the sums differ by rounding only (all terms are ≥ 0: the graph
// and the series vectors are non-negative, so no cancellation).
// Double arithmetic goes through the round-to-nearest helpers so nvcc cannot contract a multiply
// and an add into an FMA the host does not use.
#pragma once
#include <cstddef>

#include "kernels/stages/chain_sampling.hpp"  // mul_rn, add_rn, packed_row_offset, CKV_HD

namespace ckv {

// The arrays of one AttentionGraph that Pᵀx reads (host or device pointers).
struct TransposeArrays {
  int n = 0;
  int window_start = 0;                  // first dense row (0 for the full graph)
  bool packed = false;                   // graph = "full": rows P[i, 0..i] in fp32 at i(i+1)/2
  const double* g = nullptr;             // [n] prefix weights g[j] (window_prefix)
  const double* prefix_scale = nullptr;  // [n] P[i, j] = g[j]·prefix_scale[i] for j < i < ws
  const double* dense = nullptr;         // [n − ws, n] the window rows (window_prefix)
  const float* packed_rows = nullptr;    // [n(n+1)/2] (full)
};

// x[i], or 0 for an absorbed (masked) input.
CKV_HD inline double masked_input(const double* x, int i, int masked_below) {
  return i < masked_below ? 0.0 : x[i];
}

// One edge of y = Pᵀx: acc + p·x.
CKV_HD inline double edge_flow(double acc, double p, double x) { return add_rn(acc, mul_rn(p, x)); }

// The prefix term of column j (j < ws): 0 + g[j]·suffix, as the CPU adds it into a zeroed y.
CKV_HD inline double prefix_column(const TransposeArrays& a, int j, double suffix) {
  return edge_flow(0.0, a.g[j], suffix);
}

// The dense (window) or packed (full) rows' flow into column j, added to `acc` in ascending row
// order, rows with x_i = 0 skipped (AttentionGraph::apply_transpose's order per column).
CKV_HD inline double dense_column(const TransposeArrays& a, const double* x, int masked_below,
                                  int j, double acc) {
  if (a.packed) {
    for (int i = j; i < a.n; ++i) {
      const double xi = masked_input(x, i, masked_below);
      if (xi == 0.0) continue;
      acc = edge_flow(acc, double(a.packed_rows[packed_row_offset(i) + j]), xi);
    }
    return acc;
  }
  const int first = j > a.window_start ? j : a.window_start;
  for (int i = first; i < a.n; ++i) {
    const double xi = masked_input(x, i, masked_below);
    if (xi == 0.0) continue;
    acc = edge_flow(acc, a.dense[size_t(i - a.window_start) * size_t(a.n) + size_t(j)], xi);
  }
  return acc;
}

// Chunk c of `chunks` over the prefix [0, ws): [begin, end), contiguous, in order.
CKV_HD inline void prefix_chunk(int ws, int chunks, int c, int& begin, int& end) {
  const int length = (ws + chunks - 1) / chunks;
  begin = c * length < ws ? c * length : ws;
  end = begin + length < ws ? begin + length : ws;
}

// Σ_{i ∈ [begin, end)} scale_i·x_i, summed from end − 1 down (the CPU's direction).
CKV_HD inline double prefix_chunk_sum(const TransposeArrays& a, const double* x, int masked_below,
                                      int begin, int end) {
  double sum = 0.0;
  for (int i = end - 1; i >= begin; --i)
    sum = edge_flow(sum, a.prefix_scale[i], masked_input(x, i, masked_below));
  return sum;
}

// suffix[j] for j in [begin, end), from the carry Σ_{i ≥ end} scale_i·x_i (AttentionGraph's
// scan restricted to one chunk).
CKV_HD inline void prefix_chunk_scan(const TransposeArrays& a, const double* x, int masked_below,
                                     int begin, int end, double carry, double* suffix) {
  for (int j = end - 1; j >= begin; --j) {
    suffix[j] = carry;
    carry = edge_flow(carry, a.prefix_scale[j], masked_input(x, j, masked_below));
  }
}

// The carries of the chunks, carry[c] = Σ over the chunks after c, added from the last chunk
// down (fixed order).
CKV_HD inline void chunk_carries(const double* chunk_sum, int chunks, double* carry) {
  double acc = 0.0;
  for (int c = chunks - 1; c >= 0; --c) {
    carry[c] = acc;
    acc = add_rn(acc, chunk_sum[c]);
  }
}

// Column j of y = Qᵀx given the prefix suffix sums: sink outputs are 0 (absorbed).
CKV_HD inline double q_transpose_column(const TransposeArrays& a, const double* x, int sink,
                                        const double* suffix, int j) {
  if (j < sink) return 0.0;
  const double start = j < a.window_start ? prefix_column(a, j, suffix[j]) : 0.0;
  return dense_column(a, x, sink, j, start);
}

// docs/spec/METHODS.md step 3: the series stops once both new terms are below this (max-abs).
constexpr double kSeriesStopTolerance = 1e-8;

// The k = 0 terms at position j of n with s sinks: QI = e_q (q = n − 1), HI = 𝟙/(n − s) on the
// transient nodes; both 0 on the sinks (and everywhere when n <= s).
CKV_HD inline double series_start_qi(int n, int sink, int j) {
  return n > sink && j == n - 1 ? 1.0 : 0.0;
}
CKV_HD inline double series_start_hi(int n, int sink, int j) {
  return n > sink && j >= sink ? div_rn(1.0, double(n - sink)) : 0.0;
}

// The series update of one position (NeumannSeries::advance): the new term γ·(Qᵀx)[j] and the
// partial sum it is added to.
CKV_HD inline double series_term(double y, double gamma) { return mul_rn(y, gamma); }
CKV_HD inline double series_sum(double sum, double term) { return add_rn(sum, term); }

// max(m, |v|) as std::max(m, std::abs(v)): a NaN never replaces m. Exact in any order.
CKV_HD inline double max_abs_step(double m, double v) {
  const double a = v < 0.0 ? -v : v;
  return m < a ? a : m;
}

// The device's y = Qᵀx run serially on the host with `chunks` prefix chunks (the block's
// threads): for the CPU tests, which compare it with AttentionGraph's order. suffix and
// chunk scratch: [n] and [2·chunks].
inline void q_transpose_device_order(const TransposeArrays& a, const double* x, int sink,
                                     int chunks, double* suffix, double* chunk_scratch, double* y) {
  const int ws = a.packed ? 0 : a.window_start;
  for (int c = 0; c < chunks; ++c) {
    int begin, end;
    prefix_chunk(ws, chunks, c, begin, end);
    chunk_scratch[c] = prefix_chunk_sum(a, x, sink, begin, end);
  }
  chunk_carries(chunk_scratch, chunks, chunk_scratch + chunks);
  for (int c = 0; c < chunks; ++c) {
    int begin, end;
    prefix_chunk(ws, chunks, c, begin, end);
    prefix_chunk_scan(a, x, sink, begin, end, chunk_scratch[chunks + c], suffix);
  }
  for (int j = 0; j < a.n; ++j) y[j] = q_transpose_column(a, x, sink, suffix, j);
}

}  // namespace ckv
