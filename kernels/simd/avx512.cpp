// The AVX-512 level (compiled with -mavx512f; chosen at run time only on CPUs and kernels that
// enable AVX-512 state). Thin wrappers over the intrinsics; the kernels are vector_kernels.hpp's.
#include <immintrin.h>

#include "kernels/simd/pack_avx2.hpp"
#include "kernels/simd/vector_kernels.hpp"

namespace ckv::simd::detail {

namespace {

struct Avx512Ops {
  using VF = __m512;
  using VD = __m512d;
  static constexpr int W = 16;
  static VF zero() { return _mm512_setzero_ps(); }
  static VF set1(float x) { return _mm512_set1_ps(x); }
  static VF load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, VF v) { _mm512_storeu_ps(p, v); }
  static VF fmadd(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
  static VF mul(VF a, VF b) { return _mm512_mul_ps(a, b); }
  static VF add(VF a, VF b) { return _mm512_add_ps(a, b); }
  static VF sub(VF a, VF b) { return _mm512_sub_ps(a, b); }
  static VF min(VF a, VF b) { return _mm512_min_ps(a, b); }  // a < b ? a : b
  static VF max(VF a, VF b) { return _mm512_max_ps(a, b); }  // a > b ? a : b
  static VF floor(VF a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static VF pow2n(VF fx) {  // 2^fx for integral fx in [-127, 127]: (fx + 127) << 23
    const __m512i n = _mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(n, 23));
  }
  // a < b ? t : f (ordered: a NaN gives f)
  static VF select_lt(VF a, VF b, VF t, VF f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), f, t); }
  // Bit l set where a[l] >= b[l] (ordered: false for NaN).
  static unsigned ge_mask(VF a, VF b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  // Writes j + l for the set bits l of mask, ascending, at out (16 ints written: room for them
  // past the count is the caller's); returns their count. No branch per bit.
  static int store_lanes(unsigned mask, int j, int* out) {
    const __m512i lanes = _mm512_add_epi32(_mm512_set1_epi32(j),
                                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(__mmask16(mask), lanes));
    return __builtin_popcount(mask);
  }
  // For positive normal x = m·2^e with m in [0.5, 1): m, and e as a float.
  static VF mantissa(VF x) {
    const __m512i bits = _mm512_castps_si512(x);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                               _mm512_set1_epi32(0x3f000000)));
  }
  static VF exponent(VF x) {
    const __m512i e = _mm512_srli_epi32(_mm512_castps_si512(x), 23);
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(e, _mm512_set1_epi32(126)));
  }
  static VD dzero() { return _mm512_setzero_pd(); }
  static VD dset1(double x) { return _mm512_set1_pd(x); }
  static VD dload(const double* p) { return _mm512_loadu_pd(p); }
  static void dstore(double* p, VD v) { _mm512_storeu_pd(p, v); }
  static VD dadd(VD a, VD b) { return _mm512_add_pd(a, b); }
  static VD dsqrt(VD a) { return _mm512_sqrt_pd(a); }
  static VD dneg(VD a) {  // the sign bit, -0 included (AVX-512F has no xor_pd)
    return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a), _mm512_set1_epi64(INT64_MIN)));
  }
  static VD dfmadd(VD a, VD b, VD c) { return _mm512_fmadd_pd(a, b, c); }
  static VD dload_f32(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }  // WD floats widened
  static VD cvt_lo(VF v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
  static VD cvt_hi(VF v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  }
  static void pack_panel16(const float* s, size_t ld, int d, float* panel) {
    pack_panel16_avx2(s, ld, d, panel);
  }
  static float fma1f(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
  static double fma1(double a, double b, double c) { return __builtin_fma(a, b, c); }
};

// qk_keys' rows lie in the lanes: a GQA group's few query rows (7 for Qwen2.5-7B) would fill at
// most half of the 16, the rest computing zeros. Up to AVX2's 8 lanes, AVX2's qk_keys does the same
// work in half the instructions, with the same chains, so the same bits.
void qk_keys(const float* A, size_t lda, int rows, int d, const float* K, size_t ldk, int n,
             float scale, float* C, size_t ldc) {
  const Table& t = rows <= 8 ? *avx2_table() : VectorKernels<Avx512Ops>::table();
  t.qk_keys(A, lda, rows, d, K, ldk, n, scale, C, ldc);
}

}  // namespace

const Table* avx512_table() {
  static const Table table = [] {
    Table t = VectorKernels<Avx512Ops>::table();
    t.qk_keys = qk_keys;
    return t;
  }();
  return &table;
}

}  // namespace ckv::simd::detail
