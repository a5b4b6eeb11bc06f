// What crosses into the attention kernels' device code (docs/spec/STYLE.md, as
// flash-attention's flash.h): a plain struct of pointers, strides and sizes. The methods' own
// kernels define theirs beside them (snapkv/snapkv_kernels.cu, circuitkv_walk/walk_kernels.hpp). No CUDA types here, so host code of a CPU-only build
// may include this header.
#pragma once
#include <cstdint>

namespace ckv::cuda {

// One layer's Q/K on the device and the query rows a kernel processes: the last `rows` prompt
// positions [n - rows, n) (window rows; rows = n: all rows). Strides are in elements.
struct AttentionParams {
  const float* q = nullptr;  // [H, r, d]: query rows of positions n - r .. n - 1
  const float* k = nullptr;  // [G, n, d]
  int64_t q_head_stride = 0, q_row_stride = 0;
  int64_t k_head_stride = 0, k_row_stride = 0;
  int H = 0, G = 0, d = 0, n = 0, r = 0;
  float scale = 1.0f;  // 1/√d
  int rows = 0;        // query rows processed: positions [n - rows, n)

  // window_attention_kernel: A[h, t, :] of position n - rows + t, zeros past the diagonal.
  float* attention = nullptr;  // [H, rows, n]
  int64_t attention_head_stride = 0, attention_row_stride = 0;
  // row_stats_kernel writes, column_sums_kernel reads: per (h, t) row max and 1 / Σ exp.
  float* row_max = nullptr;      // [H, rows]
  float* row_inv_sum = nullptr;  // [H, rows]
  // column_sums_kernel: Σ_t A[h, t, j] over the processed rows, in double.
  double* column_sums = nullptr;  // [H, n]
};

}  // namespace ckv::cuda
