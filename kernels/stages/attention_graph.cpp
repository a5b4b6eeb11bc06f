// The CircuitKV attention graph (docs/spec/METHODS.md "CircuitKV: Neumann" steps 1–2, "Facts that make
// it fast"). See graph.hpp for the formulas.
#include "kernels/stages/attention_graph.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "kernels/simd/simd.hpp"
#include "kernels/stages/threads.hpp"

#ifdef CKV_HAVE_CUDA
#include "kernels/stages/attention_device.hpp"
#endif

namespace ckv::circuitkv {

namespace {

constexpr float kEntropyFloor = 1e-8f;   // p clamped at 1e-8 in −Σ p ln p (docs/spec/METHODS.md)
constexpr double kHubFloor = 1e-6;       // h[j] clamped ≥ 1e-6 (step 1)
constexpr double kPrefixEpsilon = 1e-8;  // F[i, j] = h[j] / (Σ_{k<i} h[k] + 1e-8) (step 1)
constexpr double kRowSumFloor = 1e-8;    // P = F / max(rowsum, 1e-8) (step 2)

// x^(1/T); T = 1 is exact (no pow rounding), so the default graph is the plain attention.
double sharpen(double x, double inv_t) { return inv_t == 1.0 ? x : std::pow(x, inv_t); }

// Reduces rows [row_begin, row_begin + rows) of an attention tensor [H, *, n] over `heads`:
// elementwise max or mean. Returns [rows, n] in double. Each output row takes its heads in the
// order of `heads` (the elementwise order, whatever the split); rows run on the kernel threads,
// one output row (n doubles, in L2) at a time.
LargeBuffer<double> reduce_rows(const Tensor3& attention, int row_begin, int rows,
                                const std::vector<int>& heads, bool use_max) {
  const int n = attention.shape[2];
  LargeBuffer<double> out(size_t(rows) * n);  // every row filled below
  parallel_ranges(rows, kernel_threads(), [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      double* o = out.data() + size_t(r) * n;
      std::fill(o, o + n, use_max ? -INFINITY : 0.0);
      for (int h : heads) {
        const float* a = attention.row(h, row_begin + r);
        if (use_max)
          for (int j = 0; j < n; ++j) o[j] = std::max(o[j], double(a[j]));
        else
          for (int j = 0; j < n; ++j) o[j] += double(a[j]);
      }
      if (!use_max)
        for (int j = 0; j < n; ++j) o[j] /= double(heads.size());
    }
  });
  return out;
}

// −Σ_j p ln p of one row, p = max(a[j], the float nearest 1e-8): the terms in fp32 by the SIMD
// kernels' own ln, summed in double in 16 lanes (kernels/simd/simd.hpp plogp_sum_f64; numerics
// version 3, the same value at every SIMD level).
double row_entropy(const float* a, int n) { return -simd::plogp_sum_f64(a, n, kEntropyFloor); }

}  // namespace

namespace {
struct DeviceRowsKey {
  int rows;
  auto operator<=>(const DeviceRowsKey&) const = default;
};
}  // namespace

const Tensor3& attention_rows(LayerContext& context, RowSource source, int rows,
                              const char* method) {
  rows = std::min(rows, context.n());
  if (source == RowSource::host)
    return context.window_attention(rows, method);
#ifdef CKV_HAVE_CUDA
  context.require_query_rows(rows, method);
  return context.memo<Tensor3>(DeviceRowsKey{rows}, [&] {
    const LayerInput& in = context.input();
    Tensor3 t;
    t.shape = {in.H, rows, in.n};
    const std::vector<float> device_rows = cuda::layer_kernels(context).window_attention(rows);
    t.data.assign(device_rows.begin(), device_rows.end());
    return t;
  });
#else
  CKV_FAIL("{}: {}: device attention rows requested, but this ckv-sweep was built without CUDA",
           context.input().sample, method);
#endif
}

std::vector<double> head_window_entropy(LayerContext& context, int window, RowSource source) {
  const Tensor3& win = attention_rows(context, source, window, "circuitkv graph");
  const int H = win.shape[0], rows = win.shape[1], n = win.shape[2];
  std::vector<double> entropy(H, 0.0);
  // Heads are independent (each its own sum, rows in order): any thread count, the same values.
  parallel_ranges(H, kernel_threads(), [&](int h0, int h1) {
    for (int h = h0; h < h1; ++h) {
      double total = 0.0;
      for (int r = 0; r < rows; ++r) total += row_entropy(win.row(h, r), n);
      entropy[h] = total / double(rows);
    }
  });
  return entropy;
}

std::vector<double> head_last_row_entropy(const Tensor3& rows) {
  const int H = rows.shape[0], r = rows.shape[1], n = rows.shape[2];
  std::vector<double> entropy(H, 0.0);
  for (int h = 0; h < H; ++h) entropy[h] = row_entropy(rows.row(h, r - 1), n);
  return entropy;
}

std::vector<int> select_heads(LayerContext& context, int window, const HeadReduction& reduction,
                              RowSource source) {
  const int H = context.input().H;
  std::vector<int> all(H);
  std::iota(all.begin(), all.end(), 0);
  if (reduction.mode == HeadReduce::max || reduction.mode == HeadReduce::mean) return all;
  if (reduction.mode == HeadReduce::entropy_qi) {
    // The top_k_heads most focused heads (lowest mean row entropy); ties to the lower head.
    const std::vector<double> entropy = head_window_entropy(context, window, source);
    std::vector<int> order = all;
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return entropy[a] < entropy[b]; });
    order.resize(std::min<size_t>(order.size(), size_t(std::max(1, reduction.top_k_heads))));
    std::sort(order.begin(), order.end());
    return order;
  }
  // entropy_hi: heads that keep at least hi_mass_threshold of their window attention on
  // transient (non-sink) tokens; all heads if none does (docs/spec/METHODS.md "Attention inputs").
  {
    const Tensor3& win = attention_rows(context, source, window, "circuitkv graph");
    const int rows = win.shape[1], n = win.shape[2];
    const int s = std::min(std::max(reduction.sink, 0), n);
    // Per head, the rows' masses in order, each a sum in ascending j (heads on the kernel
    // threads, four rows' sums interleaved: the same additions in the same order).
    std::vector<unsigned char> keep(H, 0);
    parallel_ranges(H, kernel_threads(), [&](int h0, int h1) {
      for (int h = h0; h < h1; ++h) {
        std::vector<double> m(rows, 0.0);
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
          const float *a0 = win.row(h, r), *a1 = win.row(h, r + 1), *a2 = win.row(h, r + 2),
                      *a3 = win.row(h, r + 3);
          double m0 = 0.0, m1 = 0.0, m2 = 0.0, m3 = 0.0;
          for (int j = s; j < n; ++j) {
            m0 += a0[j];
            m1 += a1[j];
            m2 += a2[j];
            m3 += a3[j];
          }
          m[r] = m0, m[r + 1] = m1, m[r + 2] = m2, m[r + 3] = m3;
        }
        for (; r < rows; ++r) {
          const float* a = win.row(h, r);
          double mr = 0.0;
          for (int j = s; j < n; ++j) mr += a[j];
          m[r] = mr;
        }
        double mass = 0.0;
        for (int q = 0; q < rows; ++q) mass += m[q];
        keep[h] = mass / double(rows) >= reduction.hi_mass_threshold ? 1 : 0;
      }
    });
    std::vector<int> heads;
    for (int h = 0; h < H; ++h)
      if (keep[h]) heads.push_back(h);
    return heads.empty() ? all : heads;
  }
}

void AttentionGraph::build_full_rows(LayerContext& context, AttentionGraph& g,
                                     const std::vector<int>& heads, bool use_max, int w,
                                     double inv_t) {
  // Every row of the reduced attention, computed row by row from Q and K (the [H, n, n]
  // tensor is never held; each thread holds one row per head at a time), then sharpened and
  // row-normalised as the window rows are, and stored packed in fp32 with block running sums.
  const LayerInput& in = context.input();
  const int n = in.n;
  context.require_query_rows(n, "circuitkv (graph = \"full\")");
  g.packed_.assign(packed_row_offset(n), 0.0f);
  g.row_block_offset_.assign(n + 1, 0);
  for (int i = 0; i < n; ++i) g.row_block_offset_[i + 1] = g.row_block_offset_[i] + block_count(i + 1);
  g.row_block_cum_.assign(g.row_block_offset_[n], 0.0);
  g.row_stochastic_.assign(n, 0);
  std::vector<double> window_rows(size_t(w) * n, 0.0);  // the reduced last w rows, for h
  // max starts at -inf like reduce_rows (every head row is >= 0, so the first head wins).
  context.merged_rows(heads, use_max, use_max ? -INFINITY : 0.0, [&](int i0, int i1, double* merged) {
    for (int i = i0; i < i1; ++i) {
      double* acc = merged + size_t(i - i0) * n;
      if (!use_max)
        for (int j = 0; j <= i; ++j) acc[j] /= double(heads.size());
      if (i >= n - w) std::copy(acc, acc + i + 1, window_rows.begin() + size_t(i - (n - w)) * n);
      double sum = 0.0;
      for (int j = 0; j <= i; ++j) {
        acc[j] = sharpen(acc[j], inv_t);
        sum += acc[j];
      }
      const double denom = std::max(sum, kRowSumFloor);
      float* row = g.packed_.data() + packed_row_offset(i);
      double* block_cum = g.row_block_cum_.data() + g.row_block_offset_[i];
      double cum = 0.0;
      for (int j = 0; j <= i; ++j) {
        row[j] = float(acc[j] / denom);
        cum += double(row[j]);  // the running sum of the stored entries (chain_sampling.hpp)
        if ((j + 1) % kCdfBlock == 0 || j == i) block_cum[j / kCdfBlock] = cum;
      }
      g.row_stochastic_[i] = sum >= kRowSumFloor ? 1 : 0;
    }
  });
  // h[j]: column sums of the reduced window rows, before clamping, rows in order.
  g.h_.assign(n, 0.0);
  for (int r = 0; r < w; ++r) {
    const double* row = window_rows.data() + size_t(r) * n;
    for (int j = 0; j < n; ++j) g.h_[j] += row[j];
  }
}

AttentionGraph AttentionGraph::build(LayerContext& context, const GraphOptions& options,
                                     RowSource source) {
  const LayerInput& in = context.input();
  const int n = in.n;
  CKV_CHECK(options.temperature > 0.0, "{}: graph temperature must be > 0, got {}", in.sample,
            options.temperature);
  CKV_CHECK(options.window >= 1, "{}: graph window must be >= 1, got {}", in.sample,
            options.window);
  AttentionGraph g;
  g.options_ = canonical_graph_options(options);
  g.source_ = source;
  g.n_ = n;
  g.sink_ = std::min(std::max(options.sink, 0), n);
  g.full_ = options.graph == GraphKind::full;
  const int w = std::min(options.window, n);
  const double inv_t = 1.0 / options.temperature;
  const std::vector<int> heads = select_heads(context, options.window, options.reduction, source);
  const bool use_max =
      options.reduction.mode == HeadReduce::max || options.reduction.mode == HeadReduce::entropy_qi;

  if (g.full_) {
    g.window_start_ = 0;
    build_full_rows(context, g, heads, use_max, w, inv_t);
  } else {
    // The w window rows, dense.
    const Tensor3& win = attention_rows(context, source, w, "circuitkv graph");
    g.window_start_ = n - w;
    LargeBuffer<double> dense = reduce_rows(win, 0, w, heads, use_max);
    const int ws = g.window_start_;

    // h[j]: column sums of the reduced window rows, before clamping.
    g.h_.assign(n, 0.0);
    for (int r = 0; r < w; ++r) {
      const double* row = dense.data() + size_t(r) * n;
      for (int j = 0; j < n; ++j) g.h_[j] += row[j];
    }

    // F^(1/T), then P = F / max(rowsum, 1e-8) over the whole row (step 2).
    g.row_stochastic_.assign(n, 0);
    g.dense_cdf_.resize(dense.size());
    // Rows are independent (each its own sums, in ascending j): on the kernel threads.
    parallel_ranges(w, kernel_threads(), [&](int r0, int r1) {
      for (int r = r0; r < r1; ++r) {
        double* row = dense.data() + size_t(r) * n;
        double sum = 0.0;
        for (int j = 0; j < n; ++j) {
          row[j] = sharpen(row[j], inv_t);
          sum += row[j];
        }
        const double denom = std::max(sum, kRowSumFloor);
        double cum = 0.0;
        double* cdf = g.dense_cdf_.data() + size_t(r) * n;
        for (int j = 0; j < n; ++j) {
          row[j] /= denom;
          cum += row[j];
          cdf[j] = cum;
        }
        g.row_stochastic_[ws + r] = sum >= kRowSumFloor ? 1 : 0;
      }
    });
    g.dense_ = std::move(dense);
  }
  const int ws = g.window_start_;

  // Prefix rows (window_prefix only), separable after temperature:
  //   F[i, j]^(1/T) = g[j] / D_i,  g = max(h, 1e-6)^(1/T),  D_i = (Σ_{k<i} max(h,1e-6) + 1e-8)^(1/T)
  //   P[i, j] = g[j] / max(S_g[i], 1e-8·D_i),  S_g[i] = Σ_{k<i} g[k]
  // which is g[j]/S_g[i] ("Facts that make it fast") unless the row-sum clamp binds.
  g.g_.assign(n, 0.0);
  g.g_cum_.assign(n + 1, 0.0);
  g.prefix_scale_.assign(n, 0.0);
  if (!g.full_) {
    double h_cum = 0.0;
    for (int j = 0; j < n; ++j) {
      const double hc = std::max(g.h_[j], kHubFloor);
      g.g_[j] = sharpen(hc, inv_t);
      g.g_cum_[j + 1] = g.g_cum_[j] + g.g_[j];
      if (j < ws && j > 0) {
        const double d = sharpen(h_cum + kPrefixEpsilon, inv_t);
        const double denom = std::max(g.g_cum_[j], kRowSumFloor * d);
        g.prefix_scale_[j] = 1.0 / denom;
        g.row_stochastic_[j] = g.g_cum_[j] >= kRowSumFloor * d ? 1 : 0;
      }
      h_cum += hc;
    }
  }
  return g;
}

double AttentionGraph::entry(int i, int j) const {
  if (i < 0 || i >= n_ || j < 0 || j >= n_) return 0.0;
  if (full_) return j <= i ? double(packed_[packed_row_offset(i) + j]) : 0.0;
  if (i >= window_start_) return dense_[size_t(i - window_start_) * n_ + j];
  return j < i ? g_[j] * prefix_scale_[i] : 0.0;
}

double AttentionGraph::row_sum(int i) const {
  if (full_) return row_block_cum_[row_block_offset_[i + 1] - 1];
  if (i >= window_start_) return dense_cdf_[size_t(i - window_start_) * n_ + n_ - 1];
  return g_cum_[i] * prefix_scale_[i];
}

void AttentionGraph::apply_transpose(const std::vector<double>& x, std::vector<double>& y) const {
  CKV_CHECK(int(x.size()) == n_, "apply_transpose: vector of length {} for n = {}", x.size(), n_);
  y.assign(n_, 0.0);
  // Row by row (cache-friendly); every column receives its rows in ascending order, which is
  // the order of neumann_step.hpp's dense_column, the device's column-by-column form.
  if (full_) {
    for (int i = 0; i < n_; ++i) {
      const double xi = x[i];
      if (xi == 0.0) continue;
      const float* row = packed_.data() + packed_row_offset(i);
      for (int j = 0; j <= i; ++j) y[j] = edge_flow(y[j], double(row[j]), xi);
    }
    return;
  }
  // Prefix rows: y[j] += g[j] · Σ_{i=j+1}^{ws-1} scale_i x[i], a suffix sum, O(n).
  const TransposeArrays a = transpose_arrays();
  double suffix = 0.0;
  for (int j = window_start_ - 1; j >= 0; --j) {
    y[j] = prefix_column(a, j, suffix);
    suffix = edge_flow(suffix, prefix_scale_[j], x[j]);
  }
  for (int i = window_start_; i < n_; ++i) {
    const double xi = x[i];
    if (xi == 0.0) continue;
    const double* row = dense_.data() + size_t(i - window_start_) * n_;
    for (int j = 0; j <= i; ++j) y[j] = edge_flow(y[j], row[j], xi);
  }
}

void AttentionGraph::apply(const std::vector<double>& x, std::vector<double>& y) const {
  CKV_CHECK(int(x.size()) == n_, "apply: vector of length {} for n = {}", x.size(), n_);
  y.assign(n_, 0.0);
  if (full_) {
    for (int i = 0; i < n_; ++i) {
      const float* row = packed_.data() + packed_row_offset(i);
      double acc = 0.0;
      for (int j = 0; j <= i; ++j) acc += double(row[j]) * x[j];
      y[i] = acc;
    }
    return;
  }
  double prefix = 0.0;  // Σ_{j<i} g[j] x[j]
  for (int i = 0; i < window_start_; ++i) {
    y[i] = prefix_scale_[i] * prefix;
    prefix += g_[i] * x[i];
  }
  for (int i = window_start_; i < n_; ++i) {
    const double* row = dense_.data() + size_t(i - window_start_) * n_;
    double acc = 0.0;
    for (int j = 0; j <= i; ++j) acc += row[j] * x[j];
    y[i] = acc;
  }
}

TransposeArrays AttentionGraph::transpose_arrays() const {
  TransposeArrays a;
  a.n = n_;
  a.window_start = window_start_;
  a.packed = full_;
  a.g = g_.data();
  a.prefix_scale = prefix_scale_.data();
  a.dense = dense_.data();
  a.packed_rows = packed_.data();
  return a;
}

BackwardChainArrays AttentionGraph::arrays() const {
  BackwardChainArrays a;
  a.n = n_;
  a.window_start = window_start_;
  a.packed = full_;
  a.dense_cdf = dense_cdf_.data();
  a.packed_rows = packed_.data();
  a.row_block_cum = row_block_cum_.data();
  a.row_block_offset = row_block_offset_.data();
  a.prefix_cumulative = g_cum_.data();
  a.prefix_scale = prefix_scale_.data();
  a.row_stochastic = row_stochastic_.data();
  return a;
}

namespace {
struct GraphKey {
  GraphOptions options;
  RowSource source;
  auto operator<=>(const GraphKey&) const = default;
};
}  // namespace

GraphOptions canonical_graph_options(GraphOptions options) {
  // max/mean ignore the entropy parameters, entropy_qi the HI ones and entropy_hi the QI one.
  HeadReduction& r = options.reduction;
  if (r.mode == HeadReduce::max || r.mode == HeadReduce::mean) {
    r.top_k_heads = 0;
    r.hi_mass_threshold = 0.0;
    r.sink = 0;
  } else if (r.mode == HeadReduce::entropy_qi) {
    r.hi_mass_threshold = 0.0;
    r.sink = 0;
  } else if (r.mode == HeadReduce::entropy_hi) {
    r.top_k_heads = 0;
  }
  return options;
}

const AttentionGraph& shared_graph(LayerContext& context, const GraphOptions& options,
                                   RowSource source) {
  return context.memo<AttentionGraph>(GraphKey{canonical_graph_options(options), source},
                                      [&] { return AttentionGraph::build(context, options, source); });
}

}  // namespace ckv::circuitkv
