// The head-reduced causal attention matrix, shared by the full-row walker methods
// (circuitkv_influence, rc).
#pragma once
#include <cstddef>
#include <vector>

#include "kernels/layer_context.hpp"
#include "kernels/stages/threads.hpp"

namespace ckv::walkers {

// A[i, j] for j <= i of one head reduction ("mean" or "max" over the H query heads),
// packed lower-triangular in fp32: row i holds i + 1 entries. n² / 2 floats (128 MB at 8k).
struct ReducedAttention {
  int n = 0;
  std::vector<float> packed;

  const float* row(int i) const { return packed.data() + size_t(i) * size_t(i + 1) / 2; }
};

// How the H query heads are merged into one matrix.
enum class HeadMerge { mean,
                       max };

// Memoised per layer by reduction (context.memo): computed row by row from Q and K with
// LayerContext::attention_row, so the [H, n, n] tensor is never held. Needs every query row:
// refuses a partial capture by naming the sample and `method`.
const ReducedAttention& reduced_attention(LayerContext& context, HeadMerge merge,
                                          const char* method);

// The public influence walker's matrix (CircuitKV v1.0.8, docs/reference-implementations.md):
// the `window_prefix` graph of docs/spec/METHODS.md "CircuitKV: Neumann" step 1 before
// normalisation. Rows [n − w', n) are the window attention rows merged over heads (w' =
// min(window, n)); a prefix row i < n − w' is F[i, j] = h[j] / (Σ_{k<i} h[k] + 1e-8) for j < i,
// with h = the column sums of the merged window rows clamped at 1e-6; F[i, i] = 0. Packed like
// ReducedAttention (n² / 2 floats), memoised per (merge, window); needs only the window rows.
const ReducedAttention& window_prefix_attention(LayerContext& context, HeadMerge merge, int window,
                                                const char* method);

// Column sums Σ_{i in [n-rows, n)} A[i, j] of the reduced matrix (the H2O signal of the
// CircuitKV walkers), in double.
std::vector<double> reduced_column_sums(const ReducedAttention& a, int rows);

// Threads of the CPU walkers and graph builders (kernels/stages/threads.hpp).
using ckv::kernel_threads;
using ckv::parallel_ranges;

// max over the vector, 0 for an empty one.
double max_of(const std::vector<double>& x);

}  // namespace ckv::walkers
