// The deciding arithmetic of `rwr` (seed 003; docs/spec/METHODS.md "RWR") as __host__ __device__
// functions shared by the CPU reference (rwr_graph.cpp, rwr.cpp) and the CUDA twin
// (rwr_kernels.cu): unit rows, the cosine, the top-k order and its cutoff, row normalisation and
// the saliency updates. Plain C++ with no project header but chain_sampling.hpp (common/half.hpp),
// so nvcc compiles it and the CPU tests exercise the device's arithmetic. Float and double
// arithmetic goes through round-to-nearest helpers so nvcc cannot contract a multiply and an add
// into an FMA the host does not use: the device computes the CPU's bits wherever it adds in the
// CPU's order (everywhere in rwr_kernels.cu).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/stages/chain_sampling.hpp"  // mul_rn, add_rn, sub_rn, div_rn, fmul_rn, fadd_rn, CKV_HD

namespace ckv::rwr {

// x / ‖x‖₂ in fp32, the norm summed in double in index order; a zero row stays zero (cosine 0
// with everything).
CKV_HD inline void unit_row(const float* x, int d, float* out) {
  double norm = 0.0;
  for (int c = 0; c < d; ++c) norm = add_rn(norm, mul_rn(double(x[c]), double(x[c])));
  norm = sqrt(norm);
  for (int c = 0; c < d; ++c) out[c] = norm > 0.0 ? float(div_rn(double(x[c]), norm)) : 0.0f;
}

// The dot product of two unit rows: one fp32 fused multiply-add chain in ascending index order
// from 0 (numerics version 2, docs/numerics.md: exactly what kernels/simd's products compute, so
// the CPU takes whole blocks of cosines from simd::qk_panels with these bits).
CKV_HD inline double cosine(const float* a, const float* b, int d) {
  float acc = 0.0f;
  for (int c = 0; c < d; ++c) {
#ifdef __CUDA_ARCH__
    acc = __fmaf_rn(a[c], b[c], acc);
#else
    acc = __builtin_fmaf(a[c], b[c], acc);
#endif
  }
  return double(acc);
}

// The top-k order of long-range candidates (seed 003): more similar first, ties to the lower
// position. A strict total order, so the top k are one set however they are found.
CKV_HD inline bool edge_before(double c_a, int j_a, double c_b, int j_b) {
  return c_a > c_b || (c_a == c_b && j_a < j_b);
}

// Membership of candidate (c, j) (c > threshold) in a row's top k, given the row's cutoff: the
// k-th candidate in edge_before order is (cut_value, cut_index). Every candidate when the row has
// at most k (kTakeAll), none when k = 0 (kTakeNone).
struct TopkCutoff {
  double value = 0.0;
  int index = -1;
  int count = 0;  // members
};
constexpr double kTakeAll = -1.0;  // below every candidate (c > threshold >= 0)
CKV_HD inline bool topk_member(double c, int j, double cut_value, int cut_index) {
  return c > cut_value || (c == cut_value && j <= cut_index);
}

// Radix selection of the cutoff on the IEEE bits of the (positive) candidate cosines, which
// order like their values: eight passes over one byte each, most significant first.
CKV_HD inline uint64_t cosine_key(double c) {
  uint64_t bits;
  memcpy(&bits, &c, sizeof bits);
  return bits;
}
CKV_HD inline double key_cosine(uint64_t bits) {
  double c;
  memcpy(&c, &bits, sizeof c);
  return c;
}
// Given the counts of each byte value among the candidates that match the bytes chosen so far,
// the byte holding the rank-th largest (rank 1-based); rank becomes its rank within that byte.
CKV_HD inline int select_digit(const unsigned* histogram, unsigned long long& rank) {
  for (int b = 255; b > 0; --b) {
    if (rank <= histogram[b]) return b;
    rank -= histogram[b];
  }
  return 0;
}

// The cutoff of one row serially (the device kernel's passes, one thread): `cosines` [m] holds
// c for every earlier position j < m, candidates those with c > threshold. For the CPU tests.
inline TopkCutoff topk_cutoff_serial(const double* cosines, int m, double threshold, int k) {
  TopkCutoff cut;
  int candidates = 0;
  for (int j = 0; j < m; ++j) candidates += cosines[j] > threshold;
  if (k <= 0 || candidates == 0) return {INFINITY, -1, 0};
  if (candidates <= k) return {kTakeAll, m, candidates};
  unsigned long long rank = (unsigned long long)k;
  uint64_t prefix = 0, mask = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    unsigned histogram[256] = {};
    for (int j = 0; j < m; ++j) {
      const uint64_t key = cosine_key(cosines[j]);
      if (cosines[j] > threshold && (key & mask) == prefix) ++histogram[(key >> shift) & 255u];
    }
    prefix |= uint64_t(select_digit(histogram, rank)) << shift;
    mask |= uint64_t(255) << shift;
  }
  cut.value = key_cosine(prefix);
  cut.count = k;
  for (int j = 0; j < m; ++j)  // the rank-th tie in position order is the last member
    if (cosines[j] > threshold && cosines[j] == cut.value && --rank == 0) {
      cut.index = j;
      break;
    }
  return cut;
}

// Σ value[begin..end) in index order (the row sum D of P = D⁻¹W).
CKV_HD inline double row_total(const double* value, int begin, int end) {
  double total = 0.0;
  for (int t = begin; t < end; ++t) total = add_rn(total, value[t]);
  return total;
}
// One entry of P = D⁻¹W; a row without positive weight stays empty (its mass is lost).
CKV_HD inline double normalized(double value, double total) {
  return total > 0.0 ? div_rn(value, total) : 0.0;
}
// The symmetrised weight W[i, j] + W[j, i] of the reversible walk (commutative: equal in rows i
// and j).
CKV_HD inline double symmetric_weight(double a, double b) { return add_rn(a, b); }

// Saliency updates (seed 003): r starts at α·e; the forward step sends (1−α)·P[i, j]·x[i] along
// each edge, the backward step gathers (1−α)·Σ_j P[i, j]·x[j]; each step adds α·x to r.
CKV_HD inline double restart_mass(double alpha, double e) { return mul_rn(alpha, e); }
CKV_HD inline double forward_flow(double acc, double alpha, double p, double x) {
  return add_rn(acc, mul_rn(mul_rn(sub_rn(1.0, alpha), p), x));
}
CKV_HD inline double backward_flow(double acc, double p, double x) { return add_rn(acc, mul_rn(p, x)); }
CKV_HD inline double backward_finish(double alpha, double acc) { return mul_rn(sub_rn(1.0, alpha), acc); }
CKV_HD inline double restart_accumulate(double r, double alpha, double x) {
  return add_rn(r, mul_rn(alpha, x));
}
// Reciprocal coupling: β·r + (1−β)·r_back.
CKV_HD inline double reciprocal_mix(double beta, double forward, double backward) {
  return add_rn(mul_rn(beta, forward), mul_rn(sub_rn(1.0, beta), backward));
}

}  // namespace ckv::rwr
