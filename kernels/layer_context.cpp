#include "kernels/layer_context.hpp"

#include <algorithm>
#include <cmath>

namespace ckv {

namespace {

// q·k with eight independent partial sums: a fixed summation order (so results stay
// deterministic) that the compiler can keep in SIMD registers, where one running float sum
// would serialise on the add latency (no -ffast-math here).
inline float dot_product(const float* a, const float* b, int d) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int c = 0;
  for (; c + 8 <= d; c += 8)
    for (int l = 0; l < 8; ++l) lane[l] += a[c + l] * b[c + l];
  float tail = 0.0f;
  for (; c < d; ++c) tail += a[c] * b[c];
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7])) + tail;
}

}  // namespace

void LayerContext::require_query_rows(int rows, const char* method) const {
  if (input_.r < rows)
    CKV_FAIL("{}: method '{}' needs {} query rows but the cache holds {} (capture with more rows)",
             input_.sample, method, rows, input_.r);
}

void LayerContext::attention_row(int h, int i, float* out) const {
  const LayerInput& in = input_;
  const float* qi = in.query(h, i);
  const int g = in.kv_head(h);
  const float scale = 1.0f / std::sqrt(float(in.d));
  float row_max = -INFINITY;
  for (int j = 0; j <= i; ++j) {
    out[j] = dot_product(qi, in.key(g, j), in.d) * scale;
    row_max = std::max(row_max, out[j]);
  }
  float total = 0.0f;
  for (int j = 0; j <= i; ++j) {
    out[j] = std::exp(out[j] - row_max);
    total += out[j];
  }
  const float inv = 1.0f / total;
  for (int j = 0; j <= i; ++j) out[j] *= inv;
  std::fill(out + i + 1, out + in.n, 0.0f);
}

const Tensor3& LayerContext::window_attention(int w, const char* method) {
  const int rows = std::min(w, input_.n);
  auto it = window_.find(rows);
  if (it != window_.end()) return it->second;
  require_query_rows(rows, method);
  Tensor3 t(input_.H, rows, input_.n);
  for (int h = 0; h < input_.H; ++h)
    for (int r = 0; r < rows; ++r) attention_row(h, input_.n - rows + r, t.row(h, r));
  return window_.emplace(rows, std::move(t)).first->second;
}

const std::vector<std::vector<double>>& LayerContext::column_sums(int rows, const char* method) {
  rows = std::min(rows, input_.n);
  auto it = column_sums_.find(rows);
  if (it != column_sums_.end()) return it->second;
  require_query_rows(rows, method);
  const int n = input_.n;
  std::vector<std::vector<double>> sums(input_.H, std::vector<double>(n, 0.0));
  std::vector<float> buffer(n);
  for (int h = 0; h < input_.H; ++h)
    for (int i = n - rows; i < n; ++i) {
      attention_row(h, i, buffer.data());
      for (int j = 0; j <= i; ++j) sums[h][j] += buffer[j];
    }
  return column_sums_.emplace(rows, std::move(sums)).first->second;
}

}  // namespace ckv
