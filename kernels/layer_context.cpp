#include "kernels/layer_context.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/simd/simd.hpp"
#include "kernels/stages/threads.hpp"

namespace ckv {

void LayerContext::require_query_rows(int rows, const char* method) const {
  if (input_.r < rows)
    CKV_FAIL("{}: method '{}' needs {} query rows but the cache holds {} (capture with more rows)",
             input_.sample, method, rows, input_.r);
}

const float* LayerContext::key_panels(int g) const {
  std::call_once(panels_once_, [&] {
    const LayerInput& in = input_;
    const size_t per_head = size_t(simd::panel_count(in.n)) * in.d * simd::kPanel;
    key_panels_.reset(new float[per_head * in.G]);
    for (int kv = 0; kv < in.G; ++kv)
      simd::pack_panels(in.key(kv, 0), in.d, in.n, in.d, key_panels_.get() + per_head * kv);
  });
  return key_panels_.get() + size_t(g) * simd::panel_count(input_.n) * input_.d * simd::kPanel;
}

void LayerContext::attention_rows(int h, int i0, int i1, float* out, size_t ld) const {
  const LayerInput& in = input_;
  const float scale = 1.0f / std::sqrt(float(in.d));
  const float* panels = key_panels(in.kv_head(h));
  constexpr int kBlockRows = 64;
  thread_local std::vector<float> logits;
  for (int b0 = i0; b0 < i1; b0 += kBlockRows) {
    const int b1 = std::min(i1, b0 + kBlockRows), rows = b1 - b0;
    // Keys [0, b1) cover every row of the block (row i reads keys j <= i < b1).
    const int count = simd::panel_count(b1), width = count * simd::kPanel;
    logits.resize(size_t(rows) * width);
    simd::qk_panels(in.query(h, b0), in.d, rows, in.d, panels, count, scale, logits.data(), width);
    for (int i = b0; i < b1; ++i) {
      float* row = logits.data() + size_t(i - b0) * width;
      simd::softmax_f32(row, i + 1);
      float* dst = out + size_t(i - i0) * ld;
      std::copy(row, row + i + 1, dst);
      std::fill(dst + i + 1, dst + in.n, 0.0f);
    }
  }
}

void LayerContext::merged_rows(const std::vector<int>& heads, bool use_max, double init,
                               const std::function<void(int, int, double*)>& consume) const {
  const int n = input_.n;
  constexpr int kBlock = 32;
  parallel_ranges((n + kBlock - 1) / kBlock, kernel_threads(), [&](int b_begin, int b_end) {
    std::vector<float> buffer(size_t(kBlock) * n);
    std::vector<double> merged(size_t(kBlock) * n);
    for (int b = b_begin; b < b_end; ++b) {
      const int i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
      std::fill(merged.begin(), merged.end(), init);
      for (int h : heads) {
        attention_rows(h, i0, i1, buffer.data(), n);
        for (int i = i0; i < i1; ++i) {
          const float* row = buffer.data() + size_t(i - i0) * n;
          double* acc = merged.data() + size_t(i - i0) * n;
          for (int j = 0; j <= i; ++j)
            acc[j] = use_max ? std::max(acc[j], double(row[j])) : acc[j] + double(row[j]);
        }
      }
      consume(i0, i1, merged.data());
    }
  });
}

void LayerContext::attention_row(int h, int i, float* out) const { attention_rows(h, i, i + 1, out, input_.n); }

const Tensor3& LayerContext::window_attention(int w, const char* method) {
  const int rows = std::min(w, input_.n);
  auto it = window_.find(rows);
  if (it != window_.end()) return it->second;
  require_query_rows(rows, method);
  Tensor3 t(input_.H, rows, input_.n);
  // Heads are independent and each writes its own rows: the same values with any thread count.
  parallel_ranges(input_.H, kernel_threads(), [&](int h0, int h1) {
    for (int h = h0; h < h1; ++h) attention_rows(h, input_.n - rows, input_.n, t.row(h, 0), input_.n);
  });
  return window_.emplace(rows, std::move(t)).first->second;
}

const std::vector<std::vector<double>>& LayerContext::column_sums(int rows, const char* method) {
  rows = std::min(rows, input_.n);
  auto it = column_sums_.find(rows);
  if (it != column_sums_.end()) return it->second;
  require_query_rows(rows, method);
  const int n = input_.n;
  std::vector<std::vector<double>> sums(input_.H, std::vector<double>(n, 0.0));
  // Per head, rows in ascending order into each column (any thread count, the same sums);
  // rows come in blocks of 64, never the n×n matrix.
  constexpr int kBlockRows = 64;
  parallel_ranges(input_.H, kernel_threads(), [&](int h0, int h1) {
    std::vector<float> buffer(size_t(kBlockRows) * n);
    for (int h = h0; h < h1; ++h)
      for (int b0 = n - rows; b0 < n; b0 += kBlockRows) {
        const int b1 = std::min(n, b0 + kBlockRows);
        attention_rows(h, b0, b1, buffer.data(), n);
        for (int i = b0; i < b1; ++i) {
          const float* row = buffer.data() + size_t(i - b0) * n;
          for (int j = 0; j <= i; ++j) sums[h][j] += row[j];
        }
      }
  });
  return column_sums_.emplace(rows, std::move(sums)).first->second;
}

}  // namespace ckv
