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
    key_panels_.resize(per_head * in.G);  // every float is written by pack_panels
    // Panels are independent copies: split over the kernel threads (a thread that waits here
    // for another's packing is blocked, not spinning).
    const int panels = simd::panel_count(in.n);
    parallel_ranges(in.G * panels, kernel_threads(), [&](int begin, int end) {
      for (int kv = begin / panels; kv * panels < end; ++kv) {
        const int p0 = std::max(begin, kv * panels) - kv * panels;
        const int p1 = std::min(end, (kv + 1) * panels) - kv * panels;
        const int keys = std::min(in.n, p1 * simd::kPanel) - p0 * simd::kPanel;
        simd::pack_panels(in.key(kv, p0 * simd::kPanel), in.d, keys, in.d,
                          key_panels_.data() + per_head * kv + size_t(p0) * in.d * simd::kPanel);
      }
    });
  });
  return key_panels_.data() + size_t(g) * simd::panel_count(input_.n) * input_.d * simd::kPanel;
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
    float* dst0 = out + size_t(b0 - i0) * ld;
    if (width <= in.n) {
      // The logits fit the output rows (ld >= n): computed there, no copy, the same values.
      simd::qk_panels(in.query(h, b0), in.d, rows, in.d, panels, count, scale, dst0, ld);
      for (int i = b0; i < b1; ++i) {
        float* row = dst0 + size_t(i - b0) * ld;
        simd::softmax_f32(row, i + 1);
        std::fill(row + i + 1, row + in.n, 0.0f);
      }
      continue;
    }
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

void LayerContext::attention_row_all_heads(int i, float* out, size_t ld) const {
  const LayerInput& in = input_;
  const float scale = 1.0f / std::sqrt(float(in.d));
  const int group = in.group(), d = in.d, keys = i + 1;
  // Per KV head, its query rows against its keys read in place (simd::qk_keys: the values of
  // the packed product, without packing every key for a few rows).
  parallel_ranges(in.G, std::min(kernel_threads(), in.G), [&](int g0, int g1) {
    std::vector<float> queries(size_t(group) * d);
    std::vector<float> logits(size_t(group) * keys);
    for (int g = g0; g < g1; ++g) {
      for (int t = 0; t < group; ++t)
        std::copy(in.query(g * group + t, i), in.query(g * group + t, i) + d,
                  queries.begin() + size_t(t) * d);
      simd::qk_keys(queries.data(), d, group, d, in.key(g, 0), d, keys, scale, logits.data(), keys);
      for (int t = 0; t < group; ++t) {
        float* row = logits.data() + size_t(t) * keys;
        simd::softmax_f32(row, keys);
        float* dst = out + size_t(g * group + t) * ld;
        std::copy(row, row + keys, dst);
        std::fill(dst + keys, dst + in.n, 0.0f);
      }
    }
  });
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
  // Every element is written below (attention_rows fills each row up to n), by the threads
  // that compute it: no zero fill.
  Tensor3 t(input_.H, rows, input_.n, Tensor3::Uninitialized{});
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
        // Row i covers columns [0, i + 1): every row of the block covers [0, b0 + 1), added
        // for all rows at once; then each row's part past b0. Per column, rows still ascend.
        simd::add_rows_f32_to_f64(sums[h].data(), buffer.data(), size_t(n), b1 - b0, b0 + 1);
        for (int i = b0 + 1; i < b1; ++i) {
          const float* row = buffer.data() + size_t(i - b0) * n;
          simd::add_f32_to_f64(sums[h].data() + b0 + 1, row + b0 + 1, i - b0);
        }
      }
  });
  return column_sums_.emplace(rows, std::move(sums)).first->second;
}

}  // namespace ckv
