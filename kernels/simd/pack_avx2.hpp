// Key packing with 8 × 8 AVX2 transposes, for the AVX2 and AVX-512 levels (both translation
// units are compiled with AVX2 available). Packing only moves floats, so every level's panels
// are the same bits; the scalar level's loop in scalar.cpp is the reference.
#pragma once
#include <immintrin.h>

#include <cstddef>

namespace ckv::simd::detail {

// One full panel: 16 rows of `s` (stride ld) transposed into panel[c·16 + l], for d a multiple
// of 8. 8 rows × 8 columns at a time: 8 loads, 24 shuffles, 8 stores of contiguous keys.
static inline void pack_panel16_avx2(const float* s, size_t ld, int d, float* panel) {
  for (int l0 = 0; l0 < 16; l0 += 8) {
    const float* rows = s + size_t(l0) * ld;
    for (int c0 = 0; c0 < d; c0 += 8) {
      const __m256 r0 = _mm256_loadu_ps(rows + c0), r1 = _mm256_loadu_ps(rows + ld + c0);
      const __m256 r2 = _mm256_loadu_ps(rows + 2 * ld + c0), r3 = _mm256_loadu_ps(rows + 3 * ld + c0);
      const __m256 r4 = _mm256_loadu_ps(rows + 4 * ld + c0), r5 = _mm256_loadu_ps(rows + 5 * ld + c0);
      const __m256 r6 = _mm256_loadu_ps(rows + 6 * ld + c0), r7 = _mm256_loadu_ps(rows + 7 * ld + c0);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
      const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
      float* out = panel + size_t(c0) * 16 + l0;  // column c0 + k at out + 16k
      _mm256_storeu_ps(out + 0 * 16, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(out + 1 * 16, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(out + 2 * 16, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(out + 3 * 16, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(out + 4 * 16, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(out + 5 * 16, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(out + 6 * 16, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(out + 7 * 16, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
  }
}

}  // namespace ckv::simd::detail
