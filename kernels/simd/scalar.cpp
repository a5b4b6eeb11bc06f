// The reference level: every kernel of kernels/simd/simd.hpp in plain loops, defining the values
// the vector levels reproduce bit for bit. fma is the C library's correctly rounded one.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/simd/table.hpp"

namespace ckv::simd::detail {

namespace {

// c[0]·x^(N-1) + … + c[N-1] as one fma chain from c[0] (Horner), the vector levels' order.
template <size_t N>
inline float horner(float x, const float (&c)[N]) {
  float y = c[0];
  for (size_t i = 1; i < N; ++i) y = std::fma(y, x, c[i]);
  return y;
}

inline float exp1(float x) {
  x = x < kExpHi ? x : kExpHi;  // the operand order of minps / maxps: NaN gives the bound
  x = x > kExpLo ? x : kExpLo;
  const float fx = std::floor(std::fma(x, kLog2e, 0.5f));
  float r = std::fma(fx, -kLn2Hi, x);
  r = std::fma(fx, -kLn2Lo, r);
  const float z = r * r;
  float y = horner(r, kExpP);
  y = std::fma(y, z, r);
  y = y + 1.0f;
  const uint32_t bits = uint32_t(int32_t(fx) + 127) << 23;
  float pow2n;
  std::memcpy(&pow2n, &bits, sizeof pow2n);
  return y * pow2n;
}

// p·ln p for p = max(a, floor) (a NaN stays NaN), Cephes' logf in a fixed sequence of fmas.
inline float plogp1(float a, float floor) {
  const float p = a < floor ? floor : a;
  uint32_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  float e = float(int32_t(bits >> 23) - 126);  // p = m·2^e, m in [0.5, 1) (p positive, normal)
  const uint32_t mbits = (bits & 0x007fffffu) | 0x3f000000u;
  float m;
  std::memcpy(&m, &mbits, sizeof m);
  const bool small = m < kSqrtHalf;
  const float x = small ? (m + m) - 1.0f : m - 1.0f;
  e = small ? e - 1.0f : e;
  const float z = x * x;
  float y = horner(x, kLogP);
  y = y * x;
  y = y * z;
  y = std::fma(e, kLogQ1, y);
  y = std::fma(z, -0.5f, y);
  float r = x + y;
  r = std::fma(e, kLogQ2, r);
  return p * r + (p - p);  // + (p - p): NaN and infinity give NaN, every other p adds 0
}

void qk_panels(const float* A, size_t lda, int rows, int d, const float* panels, int count,
               float scale, float* C, size_t ldc) {
  for (int p = 0; p < count; ++p) {
    const float* panel = panels + size_t(p) * d * 16;
    for (int r = 0; r < rows; ++r) {
      const float* a = A + r * lda;
      for (int l = 0; l < 16; ++l) {
        float acc = 0.0f;
        for (int c = 0; c < d; ++c) acc = std::fma(a[c], panel[c * 16 + l], acc);
        C[r * ldc + p * 16 + l] = acc * scale;
      }
    }
  }
}

void qk_keys(const float* A, size_t lda, int rows, int d, const float* K, size_t ldk, int n,
             float scale, float* C, size_t ldc) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int c = 0; c < d; ++c) acc = std::fma(A[r * lda + c], K[size_t(j) * ldk + c], acc);
      C[size_t(r) * ldc + j] = acc * scale;
    }
}

float max_f32(const float* x, int len) {
  float m = x[0];
  for (int j = 1; j < len; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

float exp_shift_sum_f32(float* x, int len, float shift) {
  float lane[16] = {};
  for (int j = 0; j < len; ++j) {
    x[j] = exp1(x[j] - shift);
    lane[j % 16] = lane[j % 16] + x[j];
  }
  return fold16(lane);
}

double exp_shift_sum_f64(float* x, int len, float shift) {
  double lane[16] = {};
  for (int j = 0; j < len; ++j) {
    x[j] = exp1(x[j] - shift);
    lane[j % 16] = lane[j % 16] + double(x[j]);
  }
  return fold16(lane);
}

void scale_f32(float* x, int len, float factor) {
  for (int j = 0; j < len; ++j) x[j] = x[j] * factor;
}

double plogp_sum_f64(const float* a, int len, float floor) {
  double lane[16] = {};
  for (int j = 0; j < len; ++j) lane[j % 16] = lane[j % 16] + double(plogp1(a[j], floor));
  return fold16(lane);
}

// The squares are exact in double, so lane + x·x rounds once, like the vector levels' fma.
double sumsq_f64(const float* x, int len) {
  double lane[16] = {};
  for (int j = 0; j < len; ++j) lane[j % 16] = lane[j % 16] + double(x[j]) * double(x[j]);
  return fold16(lane);
}

void add_rows_f32_to_f64(double* acc, const float* x, size_t ld, int rows, int len) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < len; ++j) acc[j] = acc[j] + double(x[size_t(r) * ld + j]);
}

void sumsq_rows_f64(const float* x, size_t stride, int rows, int len, double* out) {
  for (int r = 0; r < rows; ++r) out[r] = sumsq_f64(x + size_t(r) * stride, len);
}

void neg_sqrt_f64(double* x, int len) {
  for (int j = 0; j < len; ++j) x[j] = -std::sqrt(x[j]);
}

void interleaved_max_f32(const float* x, int len, float* out) {
  for (int c = 0; c < kInterleave; ++c) out[c] = -INFINITY;
  for (int j = 0; j < len; ++j) {
    float& m = out[j % kInterleave];
    m = x[j] > m ? x[j] : m;
  }
}

int positions_ge_f32(const float* x, int len, float bound, int* out) {
  int count = 0;
  for (int j = 0; j < len; ++j)
    if (x[j] >= bound) out[count++] = j;
  return count;
}

float kth_largest_f32(const float* x, int len, int k) {
  return bisect_kth_largest(k, [&](float t) {
    int count = 0;
    for (int j = 0; j < len; ++j) count += x[j] >= t ? 1 : 0;
    return count;
  });
}

}  // namespace

float scalar_exp(float x) { return exp1(x); }
float scalar_plogp(float a, float floor) { return plogp1(a, floor); }

const Table& scalar_table() {
  static const Table table{pack_panels_scalar, qk_panels, qk_keys, max_f32, exp_shift_sum_f32, exp_shift_sum_f64, scale_f32,
                           gemm_blocks_scalar, plogp_sum_f64, add_rows_f32_to_f64, sumsq_rows_f64, neg_sqrt_f64,
                           interleaved_max_f32, positions_ge_f32, kth_largest_f32};
  return table;
}

}  // namespace ckv::simd::detail
