#include "kernels/stages/reduced_attention.hpp"

#include <algorithm>
#include <numeric>

#include "kernels/simd/simd.hpp"

namespace ckv::walkers {

namespace {
struct ReducedKey {
  HeadMerge merge;
  auto operator<=>(const ReducedKey&) const = default;
};
}  // namespace

const ReducedAttention& reduced_attention(LayerContext& context, HeadMerge merge,
                                          const char* method) {
  context.require_query_rows(context.n(), method);
  return context.memo<ReducedAttention>(ReducedKey{merge}, [&] {
    const LayerInput& in = context.input();
    const int n = in.n, H = in.H;
    const bool use_max = merge == HeadMerge::max;
    ReducedAttention a;
    a.n = n;
    a.packed.assign(size_t(n) * size_t(n + 1) / 2, 0.0f);
    // Every thread writes its own packed rows. 0 is the identity of both merges: attention
    // weights are >= 0.
    std::vector<int> heads(H);
    std::iota(heads.begin(), heads.end(), 0);
    context.merged_rows(heads, use_max, 0.0, [&](int i0, int i1, const double* merged) {
      for (int i = i0; i < i1; ++i) {
        const double* sum = merged + size_t(i - i0) * n;
        float* out = a.packed.data() + size_t(i) * size_t(i + 1) / 2;
        for (int j = 0; j <= i; ++j) out[j] = float(use_max ? sum[j] : sum[j] / H);
      }
    });
    return a;
  });
}

namespace {
struct WindowPrefixKey {
  HeadMerge merge;
  int window;
  auto operator<=>(const WindowPrefixKey&) const = default;
};
// The clamps of the synthetic prefix rows (docs/spec/METHODS.md step 1).
constexpr double kHubFloor = 1e-6, kPrefixEpsilon = 1e-8;
}  // namespace

const ReducedAttention& window_prefix_attention(LayerContext& context, HeadMerge merge, int window,
                                                const char* method) {
  const int n = context.n(), w = std::min(window, n);
  return context.memo<ReducedAttention>(WindowPrefixKey{merge, w}, [&] {
    const Tensor3& win = context.window_attention(w, method);
    const int H = win.shape[0], ws = n - w;
    const bool use_max = merge == HeadMerge::max;
    ReducedAttention a;
    a.n = n;
    a.packed.assign(size_t(n) * size_t(n + 1) / 2, 0.0f);
    std::vector<double> h(n, 0.0), acc(n);
    for (int r = 0; r < w; ++r) {
      const int i = ws + r;
      std::fill(acc.begin(), acc.begin() + i + 1, 0.0);  // 0 is the identity of both merges
      for (int head = 0; head < H; ++head) {
        const float* row = win.row(head, r);
        for (int j = 0; j <= i; ++j)
          acc[j] = use_max ? std::max(acc[j], double(row[j])) : acc[j] + row[j];
      }
      float* out = a.packed.data() + size_t(i) * size_t(i + 1) / 2;
      for (int j = 0; j <= i; ++j) {
        out[j] = float(use_max ? acc[j] : acc[j] / H);
        h[j] += double(out[j]);
      }
    }
    double prefix = 0.0;  // Σ_{k<i} max(h[k], 1e-6)
    for (int i = 0; i < ws; ++i) {
      float* out = a.packed.data() + size_t(i) * size_t(i + 1) / 2;
      const double denom = prefix + kPrefixEpsilon;
      for (int j = 0; j < i; ++j) out[j] = float(std::max(h[j], kHubFloor) / denom);
      prefix += std::max(h[i], kHubFloor);
    }
    return a;
  });
}

std::vector<double> reduced_column_sums(const ReducedAttention& a, int rows) {
  rows = std::min(rows, a.n);
  std::vector<double> sums(a.n, 0.0);
  for (int i = a.n - rows; i < a.n; ++i) {
    const float* row = a.row(i);
    simd::add_f32_to_f64(sums.data(), row, i + 1);
  }
  return sums;
}

double max_of(const std::vector<double>& x) {
  double m = 0.0;
  bool first = true;
  for (double v : x) {
    if (first || v > m) m = v;
    first = false;
  }
  return m;
}

}  // namespace ckv::walkers
