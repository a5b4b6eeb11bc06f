// The AVX2 + FMA level (compiled with -mavx2 -mfma; chosen at run time only on CPUs that have
// both). Thin wrappers over the intrinsics; the kernels are vector_kernels.hpp's.
#include <immintrin.h>

#include "kernels/simd/pack_avx2.hpp"
#include "kernels/simd/vector_kernels.hpp"

namespace ckv::simd::detail {

namespace {

struct Avx2Ops {
  using VF = __m256;
  using VD = __m256d;
  static constexpr int W = 8;
  static VF zero() { return _mm256_setzero_ps(); }
  static VF set1(float x) { return _mm256_set1_ps(x); }
  static VF load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, VF v) { _mm256_storeu_ps(p, v); }
  static VF fmadd(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
  static VF mul(VF a, VF b) { return _mm256_mul_ps(a, b); }
  static VF add(VF a, VF b) { return _mm256_add_ps(a, b); }
  static VF sub(VF a, VF b) { return _mm256_sub_ps(a, b); }
  static VF min(VF a, VF b) { return _mm256_min_ps(a, b); }  // a < b ? a : b
  static VF max(VF a, VF b) { return _mm256_max_ps(a, b); }  // a > b ? a : b
  static VF floor(VF a) { return _mm256_floor_ps(a); }
  static VF pow2n(VF fx) {  // 2^fx for integral fx in [-127, 127]: (fx + 127) << 23
    const __m256i n = _mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(n, 23));
  }
  // a < b ? t : f (ordered: a NaN gives f)
  static VF select_lt(VF a, VF b, VF t, VF f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  // Bit l set where a[l] >= b[l] (ordered: false for NaN).
  static unsigned ge_mask(VF a, VF b) { return unsigned(_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_GE_OQ))); }
  // Writes j + l for the set bits l of mask, ascending, at out; returns their count (no
  // compress instruction before AVX-512: one step per set bit).
  static int store_lanes(unsigned mask, int j, int* out) {
    int count = 0;
    for (; mask != 0; mask &= mask - 1) out[count++] = j + __builtin_ctz(mask);
    return count;
  }
  // For positive normal x = m·2^e with m in [0.5, 1): m, and e as a float.
  static VF mantissa(VF x) {
    const __m256i bits = _mm256_castps_si256(x);
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                               _mm256_set1_epi32(0x3f000000)));
  }
  static VF exponent(VF x) {
    const __m256i e = _mm256_srli_epi32(_mm256_castps_si256(x), 23);
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(e, _mm256_set1_epi32(126)));
  }
  static VD dzero() { return _mm256_setzero_pd(); }
  static VD dset1(double x) { return _mm256_set1_pd(x); }
  static VD dload(const double* p) { return _mm256_loadu_pd(p); }
  static void dstore(double* p, VD v) { _mm256_storeu_pd(p, v); }
  static VD dadd(VD a, VD b) { return _mm256_add_pd(a, b); }
  static VD dsqrt(VD a) { return _mm256_sqrt_pd(a); }
  static VD dneg(VD a) { return _mm256_xor_pd(a, _mm256_set1_pd(-0.0)); }  // the sign bit, -0 included
  static VD dfmadd(VD a, VD b, VD c) { return _mm256_fmadd_pd(a, b, c); }
  static VD dload_f32(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }  // WD floats widened
  static VD cvt_lo(VF v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
  static VD cvt_hi(VF v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
  static void pack_panel16(const float* s, size_t ld, int d, float* panel) {
    pack_panel16_avx2(s, ld, d, panel);
  }
  static float fma1f(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
  static double fma1(double a, double b, double c) { return __builtin_fma(a, b, c); }
};

}  // namespace

const Table* avx2_table() { return &VectorKernels<Avx2Ops>::table(); }

}  // namespace ckv::simd::detail
