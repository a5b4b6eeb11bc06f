// The kernels of one SIMD level as a table of functions (kernels/simd/simd.hpp says what each
// computes). scalar.cpp is the reference; avx2.cpp and avx512.cpp instantiate
// vector_kernels.hpp for their instruction sets. Internal to kernels/simd/.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/float_order.hpp"

namespace ckv::simd::detail {

struct Table {
  void (*pack_panels)(const float* src, size_t ld, int n, int d, float* dst);
  void (*qk_panels)(const float* A, size_t lda, int rows, int d, const float* panels, int count,
                    float scale, float* C, size_t ldc);
  void (*qk_keys)(const float* A, size_t lda, int rows, int d, const float* K, size_t ldk, int n,
                  float scale, float* C, size_t ldc);
  float (*max_f32)(const float* x, int len);
  float (*exp_shift_sum_f32)(float* x, int len, float shift);
  double (*exp_shift_sum_f64)(float* x, int len, float shift);
  void (*scale_f32)(float* x, int len, float factor);
  void (*gemm_blocks_f64)(int rows, int kdim, int cols, const float* A, size_t lda,
                          const int* idx, const float* B, size_t ldb, double* C, size_t ldc);
  double (*plogp_sum_f64)(const float* a, int len, float floor);
  void (*add_rows_f32_to_f64)(double* acc, const float* x, size_t ld, int rows, int len);
  void (*sumsq_rows_f64)(const float* x, size_t stride, int rows, int len, double* out);
  void (*neg_sqrt_f64)(double* x, int len);
  void (*interleaved_max_f32)(const float* x, int len, float* out);
  int (*positions_ge_f32)(const float* x, int len, float bound, int* out);
  float (*kth_largest_f32)(const float* x, int len, int k);
};

const Table& scalar_table();
// exp of one float, the reference every level's exp reproduces (simd::exp_f32).
float scalar_exp(float x);
// p·ln p of one float as every level computes it (simd::plogp_f32).
float scalar_plogp(float a, float floor);
// nullptr when the build has no such level (not x86-64).
const Table* avx2_table();
const Table* avx512_table();

// Cephes' expf constants (every level uses these, in this order of operations).
constexpr float kExpHi = 88.0f;
constexpr float kExpLo = -88.3762626647949f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                           4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// Cephes' logf constants (numerics version 3's ln, every level in this order of operations):
// ln x = ln m + e·ln 2 for x = m·2^e, m in [√½, √2), with x - 1 = m - 1 exact.
constexpr float kSqrtHalf = 0.707106781186547524f;
constexpr float kLogP[] = {7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f,
                           -1.2420140846e-1f, 1.4249322787e-1f, -1.6668057665e-1f,
                           2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f};
constexpr float kLogQ1 = -2.12194440e-4f;  // ln 2 = kLogQ2 - kLogQ1, kLogQ2 exact in 9 bits
constexpr float kLogQ2 = 0.693359375f;

// qk_keys' largest d (a stack buffer of d · W floats).
constexpr int kMaxKeysDepth = 512;

// kth_largest_f32's bisection over the order-preserving integer keys of the floats from -inf to
// +inf (common/float_order.hpp), given count_ge(t), the number of x[j] >= t, which never rises
// with the key: the largest t with count_ge(t) >= k. Invariant: count_ge(float of lo) >= k (for
// lo = -inf: k <= the non-NaN values; otherwise -inf comes back), count_ge(float of hi) < k.
template <class CountGe>
static inline float bisect_kth_largest(int k, CountGe count_ge) {
  int32_t lo = float_order_key(-__builtin_inff()), hi = float_order_key(__builtin_inff());
  if (count_ge(float_from_order_key(hi)) >= k) return float_from_order_key(hi);
  while (int64_t(hi) - lo > 1) {  // lo < hi, both keys of non-NaN floats
    const int32_t mid = int32_t(lo + (int64_t(hi) - lo) / 2);
    (count_ge(float_from_order_key(mid)) >= k ? lo : hi) = mid;
  }
  return float_from_order_key(lo);
}

// interleaved_max_f32's classes (simd::kInterleave; dispatch.cpp checks they agree).
constexpr int kInterleave = 128;

// The reference packing (simd::pack_panels): a scalar transpose, rows past n zero. static, as
// fold16 below.
static inline void pack_panels_scalar(const float* src, size_t ld, int n, int d, float* dst) {
  constexpr int kPanelRows = 16;
  for (int p = 0; p * kPanelRows < n; ++p) {
    float* panel = dst + size_t(p) * d * kPanelRows;
    const int rows = n - p * kPanelRows < kPanelRows ? n - p * kPanelRows : kPanelRows;
    const float* s = src + size_t(p) * kPanelRows * ld;
    // Contiguous writes of 16 keys per dimension; the 16 source rows stay in L1 across c.
    for (int c = 0; c < d; ++c) {
      float* out = panel + c * kPanelRows;
      for (int l = 0; l < rows; ++l) out[l] = s[l * ld + c];
      for (int l = rows; l < kPanelRows; ++l) out[l] = 0.0f;
    }
  }
}

// simd::gemm_blocks_f64's blocks of keys and its reference: per element and block of
// kBlockKeys consecutive keys idx[k] (from k = 0; the last block may be shorter), an fp32 fma
// chain in ascending k from 0, widened and added into C. static, as pack_panels_scalar.
constexpr int kBlockKeys = 16;

static inline void gemm_blocks_scalar(int rows, int kdim, int cols, const float* A, size_t lda,
                                      const int* idx, const float* B, size_t ldb, double* C,
                                      size_t ldc) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      double acc = C[size_t(r) * ldc + c];
      for (int k0 = 0; k0 < kdim; k0 += kBlockKeys) {
        const int k1 = kdim - k0 < kBlockKeys ? kdim : k0 + kBlockKeys;
        float block = 0.0f;
        for (int k = k0; k < k1; ++k) {
          const size_t j = size_t(idx[k]);
          block = __builtin_fmaf(A[size_t(r) * lda + j], B[j * ldb + c], block);
        }
        acc = acc + double(block);
      }
      C[size_t(r) * ldc + c] = acc;
    }
}

// The fixed fold of 16 lanes: (l, l+8), then (l, l+4), (l, l+2), (l, l+1). static: each level
// keeps its own copy (no out-of-line copy built for AVX2 may serve the scalar level).
template <class T>
static inline T fold16(T* lane) {
  for (int width = 8; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) lane[l] = lane[l] + lane[l + width];
  return lane[0];
}

}  // namespace ckv::simd::detail
