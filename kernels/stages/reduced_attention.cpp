#include "kernels/stages/reduced_attention.hpp"

#include <algorithm>

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
    // Rows are independent: every thread writes its own packed rows.
    parallel_ranges(n, kernel_threads(), [&](int begin, int end) {
      std::vector<float> buffer(n);
      std::vector<double> acc(n);
      for (int i = begin; i < end; ++i) {
        // 0 is the identity of both reductions: attention weights are >= 0.
        std::fill(acc.begin(), acc.begin() + i + 1, 0.0);
        for (int h = 0; h < H; ++h) {
          context.attention_row(h, i, buffer.data());
          for (int j = 0; j <= i; ++j)
            acc[j] = use_max ? std::max(acc[j], double(buffer[j])) : acc[j] + buffer[j];
        }
        float* out = a.packed.data() + size_t(i) * size_t(i + 1) / 2;
        for (int j = 0; j <= i; ++j) out[j] = float(use_max ? acc[j] : acc[j] / H);
      }
    });
    return a;
  });
}

std::vector<double> reduced_column_sums(const ReducedAttention& a, int rows) {
  rows = std::min(rows, a.n);
  std::vector<double> sums(a.n, 0.0);
  for (int i = a.n - rows; i < a.n; ++i) {
    const float* row = a.row(i);
    for (int j = 0; j <= i; ++j) sums[j] += row[j];
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
