// The floats' order as integers: float_order_key(a) < float_order_key(b) exactly when a < b for
// non-NaN floats, except that -0 sorts just below +0 (they compare equal as floats). A negative
// float's key falls as its magnitude grows; the NaNs' keys lie outside those of -inf .. +inf.
// Used where an exact selection wants integer comparisons: simd::kth_largest_f32's bisection
// over the keys, the metrics' ranking of the top-k candidates. static: each translation unit
// keeps its own copy, as the SIMD levels' helpers do (kernels/simd/table.hpp), so no copy built
// for one instruction set serves another.
#pragma once
#include <cstdint>

namespace ckv {

static inline int32_t float_order_key(float x) {
  int32_t bits;
  __builtin_memcpy(&bits, &x, sizeof bits);
  return bits >= 0 ? bits : bits ^ 0x7fffffff;
}

static inline float float_from_order_key(int32_t key) {
  const int32_t bits = key >= 0 ? key : key ^ 0x7fffffff;
  float out;
  __builtin_memcpy(&out, &bits, sizeof out);
  return out;
}

// The same order as unsigned integers (the sign bit flipped): for keys packed with more bits.
static inline uint32_t float_order_ukey(float x) { return uint32_t(float_order_key(x)) ^ 0x80000000u; }

}  // namespace ckv
