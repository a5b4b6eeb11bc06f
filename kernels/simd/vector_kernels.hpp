// The vector levels' kernels, written once over an instruction set's operations (`Ops`: the
// AVX2 and AVX-512 wrappers in avx2.cpp and avx512.cpp) and compiled once per level. Each
// function computes exactly what its scalar reference in scalar.cpp computes (the rules in
// kernels/simd/simd.hpp); only the grouping of elements into vectors differs.
//
// Included only by the per-level translation units, which are compiled with that level's
// instruction set: it must stay free of library templates (std::max, containers) whose
// out-of-line copies the linker could pick for code that runs on a lesser CPU.
#pragma once
#include <cmath>
#include <cstddef>

#include "kernels/simd/table.hpp"

// Tiles keep their accumulators in registers only when the loops over rows and vectors are
// unrolled completely (GCC does not at -O2 by itself).
#define CKV_UNROLL _Pragma("GCC unroll 16")

namespace ckv::simd::detail {

template <class Ops>
struct VectorKernels {
  using VF = typename Ops::VF;
  using VD = typename Ops::VD;
  static constexpr int W = Ops::W;   // floats per vector: 8 or 16
  static constexpr int WD = W / 2;   // doubles per vector
  static constexpr int kLanes = 16;  // the sums' lanes (kernels/simd/simd.hpp)
  static_assert(kLanes % W == 0);

  // c[0]·x^(N-1) + … + c[N-1] as one fma chain from c[0] (Horner), the scalar level's order.
  template <size_t N>
  static VF horner(VF x, const float (&c)[N]) {
    VF y = Ops::set1(c[0]);
    CKV_UNROLL
    for (size_t i = 1; i < N; ++i) y = Ops::fmadd(y, x, Ops::set1(c[i]));
    return y;
  }

  static VF exp(VF x) {
    x = Ops::min(x, Ops::set1(kExpHi));
    x = Ops::max(x, Ops::set1(kExpLo));
    const VF fx = Ops::floor(Ops::fmadd(x, Ops::set1(kLog2e), Ops::set1(0.5f)));
    VF r = Ops::fmadd(fx, Ops::set1(-kLn2Hi), x);
    r = Ops::fmadd(fx, Ops::set1(-kLn2Lo), r);
    const VF z = Ops::mul(r, r);
    VF y = horner(r, kExpP);
    y = Ops::fmadd(y, z, r);
    y = Ops::add(y, Ops::set1(1.0f));
    return Ops::mul(y, Ops::pow2n(fx));
  }

  // p·ln p for p = max(a, floor), the scalar level's plogp1 lane by lane.
  static VF plogp(VF a, VF floor) {
    const VF p = Ops::select_lt(a, floor, floor, a);
    const VF one = Ops::set1(1.0f), sqrt_half = Ops::set1(kSqrtHalf);
    const VF m = Ops::mantissa(p);
    const VF x = Ops::select_lt(m, sqrt_half, Ops::sub(Ops::add(m, m), one), Ops::sub(m, one));
    VF e = Ops::exponent(p);
    e = Ops::select_lt(m, sqrt_half, Ops::sub(e, one), e);
    const VF z = Ops::mul(x, x);
    VF y = horner(x, kLogP);
    y = Ops::mul(y, x);
    y = Ops::mul(y, z);
    y = Ops::fmadd(e, Ops::set1(kLogQ1), y);
    y = Ops::fmadd(z, Ops::set1(-0.5f), y);
    VF r = Ops::add(x, y);
    r = Ops::fmadd(e, Ops::set1(kLogQ2), r);
    return Ops::add(Ops::mul(p, r), Ops::sub(p, p));
  }

  // ---- fp32 products over key panels: a tile of R rows × NV vectors (NV·W keys) ------------
  // Vector v of a row covers keys [v·W, v·W + W) of the tile: panel (v·W)/16, offset (v·W)%16.
  template <int R, int NV>
  static void qk_tile(const float* A, size_t lda, int d, const float* panels, float scale,
                      float* C, size_t ldc) {
    VF acc[R][NV];
    CKV_UNROLL
    for (int r = 0; r < R; ++r)
      CKV_UNROLL
    for (int v = 0; v < NV; ++v) acc[r][v] = Ops::zero();
    const float* base[NV];
    CKV_UNROLL
    for (int v = 0; v < NV; ++v) base[v] = panels + size_t((v * W) / 16) * d * 16 + (v * W) % 16;
    for (int c = 0; c < d; ++c) {
      VF b[NV];
      CKV_UNROLL
      for (int v = 0; v < NV; ++v) b[v] = Ops::load(base[v] + c * 16);
      CKV_UNROLL
      for (int r = 0; r < R; ++r) {
        const VF a = Ops::set1(A[r * lda + c]);
        CKV_UNROLL
        for (int v = 0; v < NV; ++v) acc[r][v] = Ops::fmadd(a, b[v], acc[r][v]);
      }
    }
    const VF s = Ops::set1(scale);
    CKV_UNROLL
    for (int r = 0; r < R; ++r)
      CKV_UNROLL
    for (int v = 0; v < NV; ++v) Ops::store(C + r * ldc + v * W, Ops::mul(acc[r][v], s));
  }

  // Keys per full tile: two vectors (32 keys with AVX-512, 16 with AVX2); 6 rows: 12
  // accumulators, the 16 registers of AVX2 minus the loads and the broadcast.
  static constexpr int kTileRows = 6;
  static constexpr int kTileVectors = 2;
  static constexpr int kTilePanels = kTileVectors * W / 16;

  template <int NV>
  static void qk_rows(int rows, const float* A, size_t lda, int d, const float* panels,
                      float scale, float* C, size_t ldc) {
    switch (rows) {
      case 6: qk_tile<6, NV>(A, lda, d, panels, scale, C, ldc); break;
      case 5: qk_tile<5, NV>(A, lda, d, panels, scale, C, ldc); break;
      case 4: qk_tile<4, NV>(A, lda, d, panels, scale, C, ldc); break;
      case 3: qk_tile<3, NV>(A, lda, d, panels, scale, C, ldc); break;
      case 2: qk_tile<2, NV>(A, lda, d, panels, scale, C, ldc); break;
      case 1: qk_tile<1, NV>(A, lda, d, panels, scale, C, ldc); break;
      default: break;
    }
  }

  // Keys in chunks of 16 panels (256 keys, 16·d·64 bytes: 128 KiB at d = 128, kept in L2 while
  // every row tile passes over them); within a chunk each row tile writes 256 contiguous
  // outputs per row, so long rows (n = 32k: 128 KiB apart) do not cost a TLB miss per tile.
  static constexpr int kChunkPanels = 16;

  static void qk_panels(const float* A, size_t lda, int rows, int d, const float* panels,
                        int count, float scale, float* C, size_t ldc) {
    for (int p0 = 0; p0 < count; p0 += kChunkPanels) {
      const int p1 = p0 + kChunkPanels < count ? p0 + kChunkPanels : count;
      for (int r = 0; r < rows; r += kTileRows) {
        const int tile_rows = rows - r < kTileRows ? rows - r : kTileRows;
        const float* a = A + r * lda;
        float* c = C + r * ldc;
        int p = p0;
        for (; p + kTilePanels <= p1; p += kTilePanels)
          qk_rows<kTileVectors>(tile_rows, a, lda, d, panels + size_t(p) * d * 16, scale, c + p * 16, ldc);
        for (; p < p1; ++p)  // AVX-512: a last single panel, one vector per row
          qk_rows<16 / W>(tile_rows, a, lda, d, panels + size_t(p) * d * 16, scale, c + p * 16, ldc);
      }
    }
  }

  // ---- few rows against unpacked keys ------------------------------------------------------
  // qk_panels' values for up to W rows against keys read in place (row-major, stride ldk): the
  // rows lie in the lanes (A transposed once into At[c][W]), each key's d components are
  // broadcast, so each lane is still one fma chain in ascending c from 0, then one multiply.
  // Eight keys at a time: eight independent chains cover the fma latency. No packing: for the
  // 7 query rows of a GQA group the transpose of every key cost more than the product.
  static constexpr int kKeyBlock = 8;

  static void qk_keys(const float* A, size_t lda, int rows, int d, const float* K, size_t ldk,
                      int n, float scale, float* C, size_t ldc) {
    float At[kMaxKeysDepth * W];
    alignas(64) float out[kKeyBlock * W];
    const VF s = Ops::set1(scale);
    for (int r0 = 0; r0 < rows; r0 += W) {
      const int R = rows - r0 < W ? rows - r0 : W;
      for (int c = 0; c < d; ++c)
        for (int r = 0; r < W; ++r) At[c * W + r] = r < R ? A[(r0 + r) * lda + c] : 0.0f;
      int j = 0;
      for (; j + kKeyBlock <= n; j += kKeyBlock) {
        VF acc[kKeyBlock];
        CKV_UNROLL
        for (int k = 0; k < kKeyBlock; ++k) acc[k] = Ops::zero();
        const float* key = K + size_t(j) * ldk;
        // The keys three blocks ahead (8 rows ldk apart: more streams than the prefetchers
        // follow; one block ahead left a 16 MB key matrix read at 5-6 GB/s on Zen 4, three at 9-13).
        if (j + 4 * kKeyBlock <= n)
          for (int k = 0; k < kKeyBlock; ++k)
            for (int c = 0; c < d; c += 16) __builtin_prefetch(key + (3 * kKeyBlock + k) * ldk + c);
        for (int c = 0; c < d; ++c) {
          const VF a = Ops::load(At + c * W);
          CKV_UNROLL
          for (int k = 0; k < kKeyBlock; ++k) acc[k] = Ops::fmadd(a, Ops::set1(key[k * ldk + c]), acc[k]);
        }
        CKV_UNROLL
        for (int k = 0; k < kKeyBlock; ++k) Ops::store(out + k * W, Ops::mul(acc[k], s));
        for (int r = 0; r < R; ++r)
          CKV_UNROLL
        for (int k = 0; k < kKeyBlock; ++k) C[size_t(r0 + r) * ldc + j + k] = out[k * W + r];
      }
      for (; j < n; ++j)  // the last keys one at a time, the same chain per lane
        for (int r = 0; r < R; ++r) {
          float acc = 0.0f;
          for (int c = 0; c < d; ++c) acc = Ops::fma1f(A[(r0 + r) * lda + c], K[size_t(j) * ldk + c], acc);
          C[size_t(r0 + r) * ldc + j] = acc * scale;
        }
    }
  }

  // ---- row reductions ----------------------------------------------------------------------
  static float max_f32(const float* x, int len) {
    float m = x[0];
    int j = 0;
    if (len >= W) {
      VF mv = Ops::load(x);
      for (j = W; j + W <= len; j += W) mv = Ops::max(Ops::load(x + j), mv);
      float lane[W];
      Ops::store(lane, mv);
      m = lane[0];
      for (int l = 1; l < W; ++l) m = lane[l] > m ? lane[l] : m;
    }
    for (; j < len; ++j) m = x[j] > m ? x[j] : m;
    return m;
  }

  // exp(x - shift) of one chunk of W elements starting at x (count <= W valid), written back;
  // lanes past count are returned as 0 (0 adds nothing to a sum of positive terms).
  static VF exp_chunk(float* x, int count, VF shift) {
    if (count == W) {
      const VF e = exp(Ops::sub(Ops::load(x), shift));
      Ops::store(x, e);
      return e;
    }
    float tmp[W];
    for (int l = 0; l < W; ++l) tmp[l] = l < count ? x[l] : 0.0f;
    Ops::store(tmp, exp(Ops::sub(Ops::load(tmp), shift)));
    for (int l = 0; l < W; ++l) {
      if (l < count) x[l] = tmp[l];
      else tmp[l] = 0.0f;
    }
    return Ops::load(tmp);
  }

  // fold16's tree over 16 lanes held in N = 16 / L vectors of L lanes: its steps of width >= L
  // add whole vectors (lane l of v[i] and of v[i + width / L] are lanes l + i·L and
  // l + i·L + width), the last L lanes fold in the scalar tree. The same additions in the same
  // order as fold16 on the stored lanes.
  template <class T, int L, class V, int N, class Add, class Store>
  static T fold_vectors(V (&v)[N], Add add, Store store) {
    static_assert(N * L == kLanes);
    CKV_UNROLL
    for (int width = kLanes / 2; width >= L; width /= 2)
      CKV_UNROLL
    for (int i = 0; i < width / L; ++i) v[i] = add(v[i], v[i + width / L]);
    T lane[L];
    store(lane, v[0]);
    CKV_UNROLL
    for (int width = L / 2; width >= 1; width /= 2)
      CKV_UNROLL
    for (int l = 0; l < width; ++l) lane[l] = lane[l] + lane[l + width];
    return lane[0];
  }

  // step(c, j, count) for the chunks [j, j + W) of [0, len) in ascending j, count = the chunk's
  // elements in range, c = (j mod 16) / W: the chunk's place among the 16 lanes. The loop over c
  // is unrolled completely, so c is a constant and the accumulators it indexes stay in registers
  // (indexed by a run-time j mod 16 they lived on the stack, a store and a reload per chunk).
  template <class Step>
  static void for_chunks16(int len, Step step) {
    int j = 0;
    for (; j + kLanes <= len; j += kLanes) {
      CKV_UNROLL
      for (int c = 0; c < kLanes / W; ++c) step(c, j + c * W, W);
    }
    CKV_UNROLL
    for (int c = 0; c < kLanes / W; ++c)
      if (j + c * W < len) step(c, j + c * W, len - j - c * W < W ? len - j - c * W : W);
  }

  static float exp_shift_sum_f32(float* x, int len, float shift) {
    constexpr int NA = kLanes / W;
    VF acc[NA];
    CKV_UNROLL
    for (int a = 0; a < NA; ++a) acc[a] = Ops::zero();
    const VF s = Ops::set1(shift);
    for_chunks16(len, [&](int c, int j, int count) {
      acc[c] = Ops::add(acc[c], exp_chunk(x + j, count, s));
    });
    return fold_vectors<float, W>(
        acc, [](VF a, VF b) { return Ops::add(a, b); },
        [](float* p, VF v) { Ops::store(p, v); });
  }

  // Elements [j, j + W) of x[0..len), lanes past len set to `fill`.
  static VF load_tail(const float* x, int j, int len, float fill) {
    if (len - j >= W) return Ops::load(x + j);
    float tmp[W];
    for (int l = 0; l < W; ++l) tmp[l] = j + l < len ? x[j + l] : fill;
    return Ops::load(tmp);
  }

  static constexpr int kAccD = kLanes / WD;  // double vectors holding the 16 lanes

  // Widens t and adds it into lanes 2c·WD.. of acc (its square, with Square: exact in double, so
  // the fma rounds once like lane + x·x).
  template <bool Square>
  static void add_widened(VD (&acc)[kAccD], int c, VF t) {
    const int i = 2 * c;  // (j mod 16) / WD
    const VD lo = Ops::cvt_lo(t), hi = Ops::cvt_hi(t);
    if constexpr (Square) {
      acc[i] = Ops::dfmadd(lo, lo, acc[i]);
      acc[i + 1] = Ops::dfmadd(hi, hi, acc[i + 1]);
    } else {
      acc[i] = Ops::dadd(acc[i], lo);
      acc[i + 1] = Ops::dadd(acc[i + 1], hi);
    }
  }

  static double fold_lanes(VD (&acc)[kAccD]) {
    return fold_vectors<double, WD>(
        acc, [](VD a, VD b) { return Ops::dadd(a, b); },
        [](double* p, VD v) { Ops::dstore(p, v); });
  }

  // The double sums' one order: chunk(j, count) gives the W terms of elements [j, j + W) (lanes
  // past count 0); each term is widened and added into lane (j + l) mod 16 in ascending j (its
  // square, with Square), then the 16 lanes fold in the fixed tree.
  template <bool Square, class Chunk>
  static double lane_sum_f64(int len, Chunk chunk) {
    VD acc[kAccD];
    CKV_UNROLL
    for (int i = 0; i < kAccD; ++i) acc[i] = Ops::dzero();
    for_chunks16(len, [&](int c, int j, int count) { add_widened<Square>(acc, c, chunk(j, count)); });
    return fold_lanes(acc);
  }

  static double exp_shift_sum_f64(float* x, int len, float shift) {
    const VF s = Ops::set1(shift);
    return lane_sum_f64<false>(len, [&](int j, int count) { return exp_chunk(x + j, count, s); });
  }

  static double plogp_sum_f64(const float* a, int len, float floor) {
    const VF f = Ops::set1(floor);
    return lane_sum_f64<false>(len, [&](int j, int count) {
      // The tail's lanes hold 1 (a finite term), then 0.
      const VF t = plogp(load_tail(a, j, len, 1.0f), f);
      if (count == W) return t;
      float tmp[W];
      Ops::store(tmp, t);
      for (int l = count; l < W; ++l) tmp[l] = 0.0f;
      return Ops::load(tmp);
    });
  }

  static double sumsq_f64(const float* x, int len) {
    return lane_sum_f64<true>(len, [&](int j, int) { return load_tail(x, j, len, 0.0f); });
  }

  // sumsq_f64 of rows r and r + 1 in one loop: each row keeps its own chains and order, the two
  // rows' chains interleave (one row's 8 dependent fmas per lane and its fold are latency, not
  // throughput: K-norm's keys are d = 64–128 long).
  static void sumsq_rows_f64(const float* x, size_t stride, int rows, int len, double* out) {
    int r = 0;
    for (; r + 2 <= rows; r += 2) {
      const float* a = x + size_t(r) * stride;
      const float* b = a + stride;
      // Two pairs ahead: the hardware prefetchers alone read a 16 MB key matrix held in L3 at a
      // fifth of the cache's rate (AVX-512 on Zen 4: 10 GB/s without, 33-54 GB/s with).
      if (r + 6 <= rows)
        for (int j = 0; j < len; j += 16) {
          __builtin_prefetch(a + 4 * stride + j);
          __builtin_prefetch(b + 4 * stride + j);
        }
      VD acc_a[kAccD], acc_b[kAccD];
      CKV_UNROLL
      for (int i = 0; i < kAccD; ++i) acc_a[i] = acc_b[i] = Ops::dzero();
      for_chunks16(len, [&](int c, int j, int count) {
        if (count == W) {  // the widening loads: lanes j.. and j + WD.. go to acc[2c], acc[2c + 1]
          CKV_UNROLL
          for (int h = 0; h < 2; ++h) {
            const VD x = Ops::dload_f32(a + j + h * WD), y = Ops::dload_f32(b + j + h * WD);
            acc_a[2 * c + h] = Ops::dfmadd(x, x, acc_a[2 * c + h]);
            acc_b[2 * c + h] = Ops::dfmadd(y, y, acc_b[2 * c + h]);
          }
        } else {
          add_widened<true>(acc_a, c, load_tail(a, j, len, 0.0f));
          add_widened<true>(acc_b, c, load_tail(b, j, len, 0.0f));
        }
      });
      out[r] = fold_lanes(acc_a);
      out[r + 1] = fold_lanes(acc_b);
    }
    if (r < rows) out[r] = sumsq_f64(x + size_t(r) * stride, len);
  }

  // vsqrtpd is correctly rounded like std::sqrt; four to eight roots per instruction where the
  // scalar loop waits on each (and on its errno check): 5.6 against 21 µs for 8192 on Zen 4.
  static void neg_sqrt_f64(double* x, int len) {
    int j = 0;
    for (; j + WD <= len; j += WD) Ops::dstore(x + j, Ops::dneg(Ops::dsqrt(Ops::dload(x + j))));
    for (; j < len; ++j) x[j] = -std::sqrt(x[j]);
  }

  // Rows in groups of kAddRows: per group, NB vectors of acc stay in registers while the
  // group's rows are added in order (eight row streams: few enough for the prefetchers), then
  // are stored once; each element still takes its rows' terms in ascending r.
  static constexpr int kAddRows = 8;
  static constexpr int kAddVectors = 4;

  template <int NB>
  static void add_rows_block(double* acc, const float* x, size_t ld, int rows, int j) {
    VD a[NB];
    CKV_UNROLL
    for (int b = 0; b < NB; ++b) a[b] = Ops::dload(acc + j + b * WD);
    for (int r = 0; r < rows; ++r) {
      const float* row = x + size_t(r) * ld + j;
      CKV_UNROLL
      for (int b = 0; b < NB; ++b) a[b] = Ops::dadd(a[b], Ops::dload_f32(row + b * WD));
    }
    CKV_UNROLL
    for (int b = 0; b < NB; ++b) Ops::dstore(acc + j + b * WD, a[b]);
  }

  static void add_rows_f32_to_f64(double* acc, const float* x, size_t ld, int rows, int len) {
    for (int r0 = 0; r0 < rows; r0 += kAddRows) {
      const int group = rows - r0 < kAddRows ? rows - r0 : kAddRows;
      const float* xg = x + size_t(r0) * ld;
      int j = 0;
      for (; j + kAddVectors * WD <= len; j += kAddVectors * WD) add_rows_block<kAddVectors>(acc, xg, ld, group, j);
      for (; j + WD <= len; j += WD) add_rows_block<1>(acc, xg, ld, group, j);
      for (; j < len; ++j) {
        double a = acc[j];
        for (int r = 0; r < group; ++r) a = a + double(xg[size_t(r) * ld + j]);
        acc[j] = a;
      }
    }
  }

  static void scale_f32(float* x, int len, float factor) {
    const VF f = Ops::set1(factor);
    int j = 0;
    for (; j + W <= len; j += W) Ops::store(x + j, Ops::mul(Ops::load(x + j), f));
    for (; j < len; ++j) x[j] = x[j] * factor;
  }

  // ---- double accumulation of fp32 weights times double values ------------------------------
  // ---- fp32 products in blocks of 16 keys, the block sums accumulated in double ----------
  // A tile of R rows × 2 vectors of columns (kBlockCols: 16 with AVX2, 32 with AVX-512). Per
  // block of kBlockKeys keys its fp32 accumulators start at 0 and take the block's keys in
  // ascending k (one fma each), then are widened and added into the tile's double sums. AVX2
  // (16 registers): 6 rows, 12 fp32 accumulators, the two value vectors and a broadcast weight;
  // the double sums stay in C (L1). AVX-512 (32 registers): 4 rows, whose 16 double sums stay in
  // registers over the chunk too. Only which elements are computed together differs from the
  // scalar reference, never an element's order.
  static constexpr bool kBlockSumsInRegisters = W == 16;
  static constexpr int kBlockRows = kBlockSumsInRegisters ? 4 : 6;
  static constexpr int kBlockVectors = 2;
  static constexpr int kBlockCols = kBlockVectors * W;
  // Keys per chunk: the chunk's values of one column tile are copied to a contiguous block
  // (Bp: 64 × kBlockCols floats, 8 KiB with AVX-512, in L1) that every row tile then reads in
  // order (read in place, value rows d floats apart, it came from L2 at a stride the tile
  // could not hide); the row tiles' weights of a chunk (rows × 64 keys) stay in L2. A multiple
  // of kBlockKeys, so the blocks are the same.
  static constexpr int kBlockChunk = 64;
  static_assert(kBlockChunk % kBlockKeys == 0);

  template <int R>
  static void blocks_tile(int kc, const float* A, size_t lda, const int* idx, const float* Bp,
                          double* C, size_t ldc) {
    VD sums[kBlockSumsInRegisters ? R : 1][2 * kBlockVectors];
    if constexpr (kBlockSumsInRegisters) {
      CKV_UNROLL
      for (int r = 0; r < R; ++r)
        CKV_UNROLL
      for (int h = 0; h < 2 * kBlockVectors; ++h) sums[r][h] = Ops::dload(C + size_t(r) * ldc + h * WD);
    }
    for (int k0 = 0; k0 < kc; k0 += kBlockKeys) {
      const int k1 = kc - k0 < kBlockKeys ? kc : k0 + kBlockKeys;
      VF acc[R][kBlockVectors];
      CKV_UNROLL
      for (int r = 0; r < R; ++r)
        CKV_UNROLL
      for (int v = 0; v < kBlockVectors; ++v) acc[r][v] = Ops::zero();
      for (int k = k0; k < k1; ++k) {
        const size_t j = size_t(idx[k]);
        VF b[kBlockVectors];
        CKV_UNROLL
        for (int v = 0; v < kBlockVectors; ++v) b[v] = Ops::load(Bp + k * kBlockCols + v * W);
        CKV_UNROLL
        for (int r = 0; r < R; ++r) {
          const VF a = Ops::set1(A[size_t(r) * lda + j]);
          CKV_UNROLL
          for (int v = 0; v < kBlockVectors; ++v) acc[r][v] = Ops::fmadd(a, b[v], acc[r][v]);
        }
      }
      CKV_UNROLL
      for (int r = 0; r < R; ++r)
        CKV_UNROLL
      for (int v = 0; v < kBlockVectors; ++v) {
        if constexpr (kBlockSumsInRegisters) {
          sums[r][2 * v] = Ops::dadd(sums[r][2 * v], Ops::cvt_lo(acc[r][v]));
          sums[r][2 * v + 1] = Ops::dadd(sums[r][2 * v + 1], Ops::cvt_hi(acc[r][v]));
        } else {
          double* c = C + size_t(r) * ldc + v * W;
          Ops::dstore(c, Ops::dadd(Ops::dload(c), Ops::cvt_lo(acc[r][v])));
          Ops::dstore(c + WD, Ops::dadd(Ops::dload(c + WD), Ops::cvt_hi(acc[r][v])));
        }
      }
    }
    if constexpr (kBlockSumsInRegisters) {
      CKV_UNROLL
      for (int r = 0; r < R; ++r)
        CKV_UNROLL
      for (int h = 0; h < 2 * kBlockVectors; ++h) Ops::dstore(C + size_t(r) * ldc + h * WD, sums[r][h]);
    }
  }

  // blocks_tile<R> for a run-time R <= N: only the level's tile heights are instantiated.
  template <int N>
  static void blocks_tile_rows(int R, int kc, const float* A, size_t lda, const int* idx,
                               const float* Bp, double* C, size_t ldc) {
    if (R == N) blocks_tile<N>(kc, A, lda, idx, Bp, C, ldc);
    else if constexpr (N > 1) blocks_tile_rows<N - 1>(R, kc, A, lda, idx, Bp, C, ldc);
  }

  static void gemm_blocks_f64(int rows, int kdim, int cols, const float* A, size_t lda,
                              const int* idx, const float* B, size_t ldb, double* C, size_t ldc) {
    alignas(64) float Bp[kBlockChunk * kBlockCols];
    const int full_cols = cols / kBlockCols * kBlockCols;
    for (int k0 = 0; k0 < kdim; k0 += kBlockChunk) {
      const int kc = kdim - k0 < kBlockChunk ? kdim - k0 : kBlockChunk;
      const int* chunk = idx + k0;
      for (int c0 = 0; c0 < full_cols; c0 += kBlockCols) {
        for (int k = 0; k < kc; ++k)
          CKV_UNROLL
        for (int v = 0; v < kBlockVectors; ++v)
          Ops::store(Bp + k * kBlockCols + v * W, Ops::load(B + size_t(chunk[k]) * ldb + c0 + v * W));
        for (int r0 = 0; r0 < rows; r0 += kBlockRows) {
          const int R = rows - r0 < kBlockRows ? rows - r0 : kBlockRows;
          blocks_tile_rows<kBlockRows>(R, kc, A + size_t(r0) * lda, lda, chunk, Bp,
                                       C + size_t(r0) * ldc + c0, ldc);
        }
      }
      // The columns past the last full tile, as the scalar reference computes them.
      if (full_cols < cols)
        gemm_blocks_scalar(rows, kc, cols - full_cols, A, lda, chunk, B + full_cols, ldb,
                           C + full_cols, ldc);
    }
  }

  // Full panels by the level's 16-row transpose (Ops::pack_panel16, d a multiple of 8), the
  // last partial panel (and any d) as the scalar reference does.
  static void pack_panels(const float* src, size_t ld, int n, int d, float* dst) {
    const int full = d % 8 == 0 ? n / 16 : 0;
    for (int p = 0; p < full; ++p)
      Ops::pack_panel16(src + size_t(p) * 16 * ld, ld, d, dst + size_t(p) * d * 16);
    if (full * 16 < n)
      pack_panels_scalar(src + size_t(full) * 16 * ld, ld, n - full * 16, d, dst + size_t(full) * d * 16);
  }

  // ---- selection helpers: comparisons only, so any grouping gives the scalar results --------
  // kInterleave / W accumulators hold the classes' maxima; Ops::max(x, m) is x > m ? x : m, the
  // scalar fold, class by class in ascending j.
  static void interleaved_max_f32(const float* x, int len, float* out) {
    constexpr int NV = kInterleave / W;
    VF m[NV];
    CKV_UNROLL
    for (int v = 0; v < NV; ++v) m[v] = Ops::set1(-__builtin_inff());
    int j = 0;
    for (; j + kInterleave <= len; j += kInterleave)
      CKV_UNROLL
    for (int v = 0; v < NV; ++v) m[v] = Ops::max(Ops::load(x + j + v * W), m[v]);
    CKV_UNROLL
    for (int v = 0; v < NV; ++v) Ops::store(out + v * W, m[v]);
    for (; j < len; ++j) {
      float& o = out[j % kInterleave];
      o = x[j] > o ? x[j] : o;
    }
  }

  // One comparison per W lanes; the set bits of its mask are the positions, lowest first
  // (Ops::store_lanes may write all W lanes at out + count: count <= j, so they stay below
  // j + W <= len).
  static int positions_ge_f32(const float* x, int len, float bound, int* out) {
    const VF b = Ops::set1(bound);
    int count = 0, j = 0;
    for (; j + W <= len; j += W) count += Ops::store_lanes(Ops::ge_mask(Ops::load(x + j), b), j, out + count);
    for (; j < len; ++j)
      if (x[j] >= bound) out[count++] = j;
    return count;
  }

  static float kth_largest_f32(const float* x, int len, int k) {
    return bisect_kth_largest(k, [&](float t) {
      const VF b = Ops::set1(t);
      int count = 0, j = 0;
      for (; j + W <= len; j += W) count += __builtin_popcount(Ops::ge_mask(Ops::load(x + j), b));
      for (; j < len; ++j) count += x[j] >= t ? 1 : 0;
      return count;
    });
  }

  static const Table& table() {
    static const Table t{pack_panels, qk_panels, qk_keys, max_f32, exp_shift_sum_f32, exp_shift_sum_f64, scale_f32,
                         gemm_blocks_f64, plogp_sum_f64, add_rows_f32_to_f64, sumsq_rows_f64, neg_sqrt_f64,
                         interleaved_max_f32, positions_ge_f32, kth_largest_f32};
    return t;
  }
};

}  // namespace ckv::simd::detail
