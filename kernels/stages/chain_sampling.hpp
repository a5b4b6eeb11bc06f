// Inverse-CDF sampling of the CircuitKV absorbing chains, one implementation for the CPU walkers
// and the CUDA walk kernel (__host__ __device__; plain C++ with no project header but
// common/half.hpp, so nvcc compiles it too). The CPU tests exercise exactly the code the GPU
// runs: the counts of the two are equal by construction given the same Philox draws.
//
// Storage of a graph's rows (kernels/stages/attention_graph.hpp):
//   - prefix rows of window_prefix (i < window_start): separable, P[i, j] = g[j]·scale[i];
//     searched in the one prefix-sum array of g;
//   - dense rows (the window rows of window_prefix): full rows of doubles with their running sums;
//   - packed rows (graph = "full"): row i holds P[i, 0..i] as floats at offset i(i+1)/2, with the
//     running sum (in double, in index order) recorded at the end of every block of
//     kCdfBlock entries. A search finds the block by binary search and scans inside it,
//     accumulating in the same order, so it returns the index a full array of running sums
//     would (first j with running sum > target): n²/2 floats instead of n² doubles.
// Arithmetic on doubles uses the round-to-nearest helpers below, so nvcc cannot contract a
// multiply and an add into an FMA the host does not use.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/half.hpp"  // CKV_HD

namespace ckv {

constexpr int kCdfBlock = 64;

CKV_HD inline double mul_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
CKV_HD inline double div_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
CKV_HD inline double add_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
CKV_HD inline double sub_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}

// The same for floats (rwr's fp32 cosines).
CKV_HD inline float fmul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
CKV_HD inline float fadd_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// std::upper_bound: the first index in [0, len) whose element is > value (len when none).
CKV_HD inline long long upper_bound_index(const double* first, long long len, double value) {
  const double* const begin = first;
  while (len > 0) {
    const long long half = len >> 1;
    const double* middle = first + half;
    if (value < *middle) {
      len = half;
    } else {
      first = middle + 1;
      len = len - half - 1;
    }
  }
  return first - begin;
}

CKV_HD inline size_t packed_row_offset(long long i) { return size_t(i) * size_t(i + 1) / 2; }
// Blocks of a run of `len` entries.
CKV_HD inline long long block_count(long long len) { return (len + kCdfBlock - 1) / kCdfBlock; }

// A run of `len` entries e(t) = base[t·stride] (t in [0, len)) with block running sums
// block_cum[b] (through entry min(len, (b+1)·kCdfBlock) − 1).
struct BlockedRun {
  const float* base = nullptr;
  long long stride = 1;
  long long len = 0;
  const double* block_cum = nullptr;

  CKV_HD double entry(long long t) const { return double(base[t * stride]); }
  // First t with running sum > target; len when the total does not exceed it.
  CKV_HD long long upper_bound(double target) const {
    const long long blocks = block_count(len);
    const long long b = upper_bound_index(block_cum, blocks, target);
    if (b == blocks) return len;
    double cum = b > 0 ? block_cum[b - 1] : 0.0;
    const long long end = (b + 1) * kCdfBlock < len ? (b + 1) * kCdfBlock : len;
    for (long long t = b * kCdfBlock; t < end; ++t) {
      cum = add_rn(cum, entry(t));
      if (target < cum) return t;
    }
    return end - 1;  // unreachable: block_cum[b] > target is reached inside the block
  }
};

// The arrays AttentionGraph::sample searches (plain pointers: host vectors, or device copies).
struct BackwardChainArrays {
  int n = 0, window_start = 0;
  bool packed = false;                            // graph = "full": rows in `packed_rows`
  const double* dense_cdf = nullptr;              // [(n − window_start)·n] running sums of dense rows
  const float* packed_rows = nullptr;             // [n(n+1)/2]
  const double* row_block_cum = nullptr;          // row i's blocks at row_block_offset[i]
  const uint64_t* row_block_offset = nullptr;     // [n + 1]
  const double* prefix_cumulative = nullptr;      // [n + 1]: Σ_{k<i} g[k]
  const double* prefix_scale = nullptr;           // [n]
  const unsigned char* row_stochastic = nullptr;  // [n]
};

// j ~ P[i, ·] for u in [0, 1), or -1 for an empty row (or when a substochastic row ends the
// walk). A row normalised by its own sum scales u by its total so rounding never ends a walk.
CKV_HD inline int backward_sample(const BackwardChainArrays& g, int i, double u) {
  if (i < 0 || i >= g.n) return -1;
  if (i >= g.window_start) {
    if (g.packed) {
      BlockedRun row{g.packed_rows + packed_row_offset(i), 1, (long long)i + 1,
                     g.row_block_cum + g.row_block_offset[i]};
      const double total = row.block_cum[block_count(row.len) - 1];
      if (total <= 0.0) return -1;
      const double target = g.row_stochastic[i] ? mul_rn(u, total) : u;
      if (target >= total) return -1;
      const long long j = row.upper_bound(target);
      return int(j < i ? j : i);
    }
    const double* cdf = g.dense_cdf + size_t(i - g.window_start) * size_t(g.n);
    const double total = cdf[g.n - 1];
    if (total <= 0.0) return -1;
    const double target = g.row_stochastic[i] ? mul_rn(u, total) : u;
    if (target >= total) return -1;
    const long long j = upper_bound_index(cdf, g.n, target);
    return int(j < g.n - 1 ? j : g.n - 1);
  }
  const double total = g.prefix_cumulative[i];  // in units of g: the row is g[j]·scale_i, j < i
  if (i == 0 || total <= 0.0) return -1;
  const double target = g.row_stochastic[i] ? mul_rn(u, total) : div_rn(u, g.prefix_scale[i]);
  if (target >= total) return -1;
  // prefix_cumulative[j + 1] = Σ_{k≤j} g[k]: the first j with it > target.
  const long long j = upper_bound_index(g.prefix_cumulative + 1, i, target);
  return int(j < i - 1 ? j : i - 1);
}

// The arrays ForwardChain::sample searches: the column-normalised transpose of P.
struct ForwardChainArrays {
  int n = 0, window_start = 0;
  bool packed = false;                            // graph = "full": columns read from `packed_rows`
  const double* prefix_column = nullptr;          // [window_start]
  const double* row_cumulative = nullptr;         // [window_start + 1]
  const double* prefix_mass = nullptr;            // [n]
  const double* mass = nullptr;                   // [n]
  const uint64_t* column_offset = nullptr;        // dense: [n + 1] into column_cdf
  const double* column_cdf = nullptr;             // dense: running sums over the dense rows r ≥ max(ws, j)
  const float* packed_rows = nullptr;             // packed: the backward chain's rows
  const double* column_block_cum = nullptr;       // packed: column j's blocks at column_block_offset[j]
  const uint64_t* column_block_offset = nullptr;  // [n + 1]
};

// i ~ P[i, j] / c_j for u in [0, 1), or -1 when column j has no mass.
CKV_HD inline int forward_sample(const ForwardChainArrays& f, int j, double u) {
  if (j < 0 || j >= f.n) return -1;
  const double total = f.mass[j];
  if (!(total > 0.0)) return -1;
  // Column-normalised: every column with mass is stochastic, so u is scaled by its total.
  double target = mul_rn(u, total);
  if (target < f.prefix_mass[j]) {
    // Prefix rows i in (j, ws): weight column[j]·row[i]; first i with
    // column[j]·(R[i+1] − R[j+1]) > target. Zero-weight rows never win (strict >).
    const double key = add_rn(f.row_cumulative[j + 1], div_rn(target, f.prefix_column[j]));
    const double* begin = f.row_cumulative + j + 2;
    const long long len = (f.window_start + 1) - (j + 2);
    long long t = upper_bound_index(begin, len, key);
    if (t == len) --t;  // rounding at the top of the range
    return int(j + 2 + t) - 1;
  }
  target = sub_rn(target, f.prefix_mass[j]);
  const int first = f.window_start > j ? f.window_start : j;
  if (f.packed) {
    // Column j: P[r, j] for rows r ≥ first, at packed offset r(r+1)/2 + j.
    const long long len = f.n - first;
    if (len <= 0) return -1;
    // Row r = first + t sits at offset (first + t)(first + t + 1)/2 + j: not a fixed stride,
    // so the run is scanned through its own accessor.
    const double* block_cum = f.column_block_cum + f.column_block_offset[j];
    const long long blocks = block_count(len);
    long long b = upper_bound_index(block_cum, blocks, target);
    auto entry = [&](long long t) {
      return double(f.packed_rows[packed_row_offset(first + t) + size_t(j)]);
    };
    if (b == blocks) {
      // Rounding: fall back to the last row that carries mass (the final plateau's start).
      for (long long bb = blocks - 1; bb >= 0; --bb) {
        const double before = bb > 0 ? block_cum[bb - 1] : 0.0;
        if (!(block_cum[bb] > before) && bb > 0) continue;
        double cum = before;
        long long last = -1;
        const long long end = (bb + 1) * kCdfBlock < len ? (bb + 1) * kCdfBlock : len;
        for (long long t = bb * kCdfBlock; t < end; ++t) {
          const double next = add_rn(cum, entry(t));
          if (next != cum) last = t;
          cum = next;
        }
        if (last >= 0) return first + int(last);
      }
      return first;
    }
    double cum = b > 0 ? block_cum[b - 1] : 0.0;
    const long long end = (b + 1) * kCdfBlock < len ? (b + 1) * kCdfBlock : len;
    for (long long t = b * kCdfBlock; t < end; ++t) {
      cum = add_rn(cum, entry(t));
      if (target < cum) return first + int(t);
    }
    return first + int(end - 1);
  }
  const double* begin = f.column_cdf + f.column_offset[j];
  const long long len = (long long)(f.column_offset[j + 1] - f.column_offset[j]);
  if (len == 0) return -1;
  long long t = upper_bound_index(begin, len, target);
  if (t == len) {
    // Rounding: fall back to the last row that carries mass.
    t = len - 1;
    while (t > 0 && begin[t] == begin[t - 1]) --t;
  }
  return first + int(t);
}

}  // namespace ckv
