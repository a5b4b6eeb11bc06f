// Run-time choice of the SIMD level (kernels/simd/simd.hpp) and the public entry points.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.hpp"
#include "kernels/simd/simd.hpp"
#include "kernels/simd/table.hpp"

namespace ckv::simd {

namespace detail {
#ifndef CKV_SIMD_X86
const Table* avx2_table() { return nullptr; }
const Table* avx512_table() { return nullptr; }
#endif
}  // namespace detail

namespace {

Level detect() {
#ifdef CKV_SIMD_X86
  __builtin_cpu_init();
  // libgcc's checks include the operating system's support for the registers (XCR0).
  if (__builtin_cpu_supports("avx512f")) return Level::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Level::avx2;
#endif
  return Level::scalar;
}

Level parse_level(const char* text, const char* where) {
  for (Level l : {Level::scalar, Level::avx2, Level::avx512})
    if (std::strcmp(text, level_name(l)) == 0) return l;
  CKV_FAIL("{}: unknown SIMD level '{}' (scalar, avx2 or avx512)", where, text);
}

Level initial_level() {
  const Level best = detected_level();
  if (const char* env = std::getenv("CKV_SIMD"); env && *env) {
    const Level wanted = parse_level(env, "$CKV_SIMD");
    CKV_CHECK(int(wanted) <= int(best), "$CKV_SIMD={}: this CPU supports at most {}", env,
              level_name(best));
    return wanted;
  }
  return best;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{int(initial_level())};
  return slot;
}

const detail::Table& table() {
  switch (Level(level_slot().load(std::memory_order_relaxed))) {
    case Level::avx512: return *detail::avx512_table();
    case Level::avx2: return *detail::avx2_table();
    default: return detail::scalar_table();
  }
}

}  // namespace

Level detected_level() {
  static const Level level = detect();
  return level;
}

Level active_level() { return Level(level_slot().load()); }

void set_active_level(Level level) {
  CKV_CHECK(int(level) <= int(detected_level()), "SIMD level {} is not supported here (at most {})",
            level_name(level), level_name(detected_level()));
  level_slot().store(int(level));
}

const char* level_name(Level level) {
  switch (level) {
    case Level::avx512: return "avx512";
    case Level::avx2: return "avx2";
    default: return "scalar";
  }
}

std::vector<Level> available_levels() {
  std::vector<Level> out;
  for (Level l : {Level::scalar, Level::avx2, Level::avx512})
    if (int(l) <= int(detected_level())) out.push_back(l);
  return out;
}

void pack_panels(const float* src, size_t ld, int n, int d, float* dst) {
  if (n > 0 && d > 0) table().pack_panels(src, ld, n, d, dst);
}

void qk_panels(const float* A, size_t lda, int rows, int d, const float* panels, int count,
               float scale, float* C, size_t ldc) {
  if (rows > 0 && count > 0) table().qk_panels(A, lda, rows, d, panels, count, scale, C, ldc);
}

void qk_keys(const float* A, size_t lda, int rows, int d, const float* K, size_t ldk, int n,
             float scale, float* C, size_t ldc) {
  CKV_CHECK(d <= detail::kMaxKeysDepth, "qk_keys: head dimension {} above {}", d,
            detail::kMaxKeysDepth);
  if (rows > 0 && n > 0) table().qk_keys(A, lda, rows, d, K, ldk, n, scale, C, ldc);
}

float exp_f32(float x) { return detail::scalar_exp(x); }

float max_f32(const float* x, int len) { return table().max_f32(x, len); }

float exp_shift_sum_f32(float* x, int len, float shift) {
  return table().exp_shift_sum_f32(x, len, shift);
}

double exp_shift_sum_f64(float* x, int len, float shift) {
  return table().exp_shift_sum_f64(x, len, shift);
}

void scale_f32(float* x, int len, float factor) { table().scale_f32(x, len, factor); }

void softmax_f32(float* x, int len) {
  const float total = exp_shift_sum_f32(x, len, max_f32(x, len));
  scale_f32(x, len, 1.0f / total);
}

static_assert(kInterleave == detail::kInterleave);

void interleaved_max_f32(const float* x, int len, float* out) {
  table().interleaved_max_f32(x, len < 0 ? 0 : len, out);
}

float kth_largest_f32(const float* x, int len, int k) {
  CKV_CHECK(k >= 1 && k <= len, "kth_largest_f32: k = {} outside [1, {}]", k, len);
  return table().kth_largest_f32(x, len, k);
}

int positions_ge_f32(const float* x, int len, float bound, int* out) {
  return len > 0 ? table().positions_ge_f32(x, len, bound, out) : 0;
}

void gemm_blocks_f64(int rows, int kdim, int cols, const float* A, size_t lda, const int* idx,
                     const float* B, size_t ldb, double* C, size_t ldc) {
  if (rows > 0 && kdim > 0 && cols > 0)
    table().gemm_blocks_f64(rows, kdim, cols, A, lda, idx, B, ldb, C, ldc);
}

float plogp_f32(float a, float floor) { return detail::scalar_plogp(a, floor); }

double plogp_sum_f64(const float* a, int len, float floor) {
  return len > 0 ? table().plogp_sum_f64(a, len, floor) : 0.0;
}

void add_f32_to_f64(double* acc, const float* x, int len) { add_rows_f32_to_f64(acc, x, 0, 1, len); }

void add_rows_f32_to_f64(double* acc, const float* x, size_t ld, int rows, int len) {
  if (rows > 0 && len > 0) table().add_rows_f32_to_f64(acc, x, ld, rows, len);
}

double sumsq_f64(const float* x, int len) {
  double sum = 0.0;
  sumsq_rows_f64(x, 0, 1, len, &sum);
  return sum;
}

void sumsq_rows_f64(const float* x, size_t stride, int rows, int len, double* out) {
  if (rows <= 0) return;
  if (len <= 0) {
    for (int r = 0; r < rows; ++r) out[r] = 0.0;
    return;
  }
  table().sumsq_rows_f64(x, stride, rows, len, out);
}

void neg_sqrt_f64(double* x, int len) {
  if (len > 0) table().neg_sqrt_f64(x, len);
}

}  // namespace ckv::simd
