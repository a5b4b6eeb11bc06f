// The CPU's arithmetic kernels (numerics version 4, kernels/numerics.hpp): blockwise fp32
// products, the project's own exp and ln, fixed-order sums. One portable binary carries a scalar, an
// AVX2+FMA and an AVX-512 version of every kernel and picks the best the CPU offers at run time
// (no -march=native needed).
//
// The same numbers at every level. Every result is defined element by element, independent of
// the vector width, so the three levels are bit-identical (tests/test_kernels_simd.cpp checks it
// at every level the machine can run):
//   - a product C[r][c] = Σ_k A[r][k]·B[k][c] is one fp32 fused multiply-add chain per element
//     in ascending k from 0, or (gemm_blocks_f64) one such chain per block of 16 k whose sums
//     are added into C in double in order; tiles only decide which elements are computed
//     together, never the order inside one;
//   - exp is one fixed sequence of FMAs, multiplies and exact operations (Cephes' expf
//     polynomial), the same in every lane and in the scalar code;
//   - a sum over a row adds element j into lane j mod 16 in ascending j, then folds the 16 lanes
//     in a fixed tree (8, 4, 2, 1);
//   - ln (in the entropies' p·ln p) is one fixed sequence likewise (Cephes' logf polynomial);
//   - max, the scaling by 1/√d and the normalisation are elementwise and exact-order-free.
// The scalar level uses the C library's correctly rounded fma (hardware where the CPU has it,
// software otherwise): slow, but the same values on a CPU without FMA.
#pragma once
#include <cstddef>
#include <vector>

namespace ckv::simd {

enum class Level : int { scalar = 0,
                         avx2 = 1,
                         avx512 = 2 };

// The best level this CPU and this build support.
Level detected_level();
// The level the kernels use: detected_level(), or $CKV_SIMD (scalar | avx2 | avx512) when set
// and supported, or what set_active_level chose (tests, benchmarks).
Level active_level();
void set_active_level(Level level);  // throws ckv::Error when the CPU cannot run it
const char* level_name(Level level);
// scalar, and every higher level the CPU runs (ascending).
std::vector<Level> available_levels();

// Keys are multiplied in panels of 16: panel p holds rows [16p, 16p + 16) of a row-major [n][d]
// matrix transposed, [d][16], rows past n zero.
constexpr int kPanel = 16;
inline int panel_count(int n) { return (n + kPanel - 1) / kPanel; }
// dst: panel_count(n) * d * 16 floats.
void pack_panels(const float* src, size_t ld, int n, int d, float* dst);

// C[r][j] = scale · (Σ_{c<d} A[r][c]·B[j][c]) for r < rows and the 16·count keys j of panels
// [0, count) of `panels`: one fp32 FMA chain per element in ascending c, then one multiply.
// A is row-major with stride lda; C has stride ldc >= 16·count.
void qk_panels(const float* A, size_t lda, int rows, int d, const float* panels, int count,
               float scale, float* C, size_t ldc);
// The same values (C[r][j] for r < rows, j < n) with the keys read in place: K row-major with
// stride ldk. For a few rows (a GQA group's query rows against every key), where packing the
// keys would cost more than the product. d <= 512.
void qk_keys(const float* A, size_t lda, int rows, int d, const float* K, size_t ldk, int n,
             float scale, float* C, size_t ldc);

// exp(x) as every level computes it: |relative error| <= 2 ulp of float for x in
// [-87.3, 88.3]; 0 below -88.37 (x - max of a softmax row never needs denormals).
float exp_f32(float x);

// max over x[0..len) (len >= 1).
float max_f32(const float* x, int len);
// x[j] = exp(x[j] - shift) for j < len; returns the fp32 16-lane sum of the results.
float exp_shift_sum_f32(float* x, int len, float shift);
// The same, with the sum accumulated in double (16 lanes, the same order).
double exp_shift_sum_f64(float* x, int len, float shift);
// x[j] *= factor.
void scale_f32(float* x, int len, float factor);
// softmax over x[0..len): max, exp_shift_sum_f32, then x *= 1 / sum.
void softmax_f32(float* x, int len);

// Selection helpers (the metrics' top-k keys). Both are exact (comparisons only), so every
// level gives the same result by construction; the vector levels only compare W lanes at once.
// The positions j are split into kInterleave classes j mod kInterleave.
constexpr int kInterleave = 128;
// out[c] (c < kInterleave) = the largest x[j] over j < len with j mod kInterleave == c, folded
// as m = x[j] > m ? x[j] : m in ascending j from -inf: a NaN is never taken, and a class with
// no element (c >= len) is -inf. The largest values of distinct classes lie at distinct
// positions: the k-th largest of the out[c] is a lower bound on x's k-th largest value.
void interleaved_max_f32(const float* x, int len, float* out);
// The k-th largest of x[0..len) (1 <= k <= the non-NaN values, else -inf; NaNs never count):
// the largest float t, in the order of the floats' order-preserving integer keys (-0 below +0),
// with at least k of x[j] >= t. Found by
// bisection over the 2^32 keys, each step an exact count: no comparison sort (selecting among
// the 128 maxima by comparisons mispredicted about every other branch).
float kth_largest_f32(const float* x, int len, int k);
// The positions j < len with x[j] >= bound (false for NaN), ascending, written to out (room
// for len ints: [count, len) may be overwritten too); returns their count.
int positions_ge_f32(const float* x, int len, float bound, int* out);

// p·ln p for p = max(a, floor) (floor a positive normal float; a NaN gives NaN) as every level
// computes it: ln by Cephes' logf polynomial, |error| <= 2 ulp of float on [1e-8, 1]; the
// product and the NaN test each one rounding.
float plogp_f32(float a, float floor);
// Σ_j plogp_f32(a[j], floor) over j < len, each term widened to double and added into lane
// j mod 16 in ascending j, the 16 lanes folded in the fixed tree: the entropies' sums.
double plogp_sum_f64(const float* a, int len, float floor);
// acc[j] += x[j] (widened exactly to double) for j < len: one rounding per element, the same
// bits at every level (column sums and votes accumulate rows with it, rows in order).
void add_f32_to_f64(double* acc, const float* x, int len);
// add_f32_to_f64(acc, x + r·ld, len) for r = 0..rows-1 in order: each acc[j] takes the rows'
// terms in ascending r, one rounding each, the same bits as the row-by-row calls. The vector
// levels keep a block of acc in registers over groups of rows instead of a load and a store
// of it per row (SnapKV's votes over the window rows, TOVA's mean over heads, the column sums).
void add_rows_f32_to_f64(double* acc, const float* x, size_t ld, int rows, int len);
// Σ_j x[j]² in double: each square (exact in double) added into lane j mod 16 in ascending j, the
// lanes folded in the fixed tree (K-norm's key norms, numerics 3).
double sumsq_f64(const float* x, int len);
// out[r] = sumsq_f64(x + r·stride, len) for r < rows, the same bits (two rows' chains
// interleaved at the vector levels: one key's sum is latency-bound).
void sumsq_rows_f64(const float* x, size_t stride, int rows, int len, double* out);
// x[j] = −√x[j] for j < len (K-norm's scores from its sums of squares): IEEE square roots,
// correctly rounded, so the same bits at every level; −√0 is −0, as in the scalar code.
void neg_sqrt_f64(double* x, int len);

// C[r][c] += Σ_b double(s_b) over the blocks b of 16 consecutive k (from k = 0, in ascending
// order; the last block may be shorter), s_b = Σ_{k∈b} A[r][j]·B[j][c] with j = idx[k], one
// fp32 fma chain in ascending k from 0: fp32 products whose rounding grows with 16 terms, not
// with kdim (the metrics' weights times values over a list of keys, numerics 4). A, B: float,
// row-major strides lda, ldb (the keys idx[k] index A's columns and B's rows); C: double, stride
// ldc.
void gemm_blocks_f64(int rows, int kdim, int cols, const float* A, size_t lda, const int* idx,
                     const float* B, size_t ldb, double* C, size_t ldc);

}  // namespace ckv::simd
