// The per-(head, answer token) terms of the proxy metrics (docs/spec/METRICS.md "Proxy metrics"),
// one implementation for the CPU accumulator (worker/metrics.cpp) and the CUDA twin
// (worker/metrics_kernels.cu): __host__ __device__, plain C++ with no project header that nvcc
// cannot compile. Double arithmetic goes through the round-to-nearest helpers of
// kernels/stages/chain_sampling.hpp, so nvcc contracts no multiply-add the host does not.
#pragma once
#include "kernels/stages/chain_sampling.hpp"  // CKV_HD, add_rn, sub_rn, mul_rn, div_rn

namespace ckv::metric_terms {

// The order of the top-k prompt keys: larger attention first, ties to the lower position.
// A total order over distinct positions, so the k-th best key is unique.
CKV_HD inline bool attends_before(double a_x, int x, double a_y, int y) {
  return a_x != a_y ? a_x > a_y : x < y;
}

// The keep-set dependent terms of one (h, t): attn_recall and output_error.
struct RowTerms {
  double recall = 0.0;
  double error = 0.0;
  // o = 0 with o_S != o: output_error is undefined (all-zero values); the caller reports it.
  bool undefined_error = false;
};

// output_error = √(‖o_S − o‖² / ‖o‖²) from the two sums of squares; o = 0 with o_S != o leaves
// it undefined (all-zero values), for the caller to report.
CKV_HD inline void set_error(RowTerms& out, double diff2, double norm2) {
  out.undefined_error = !(norm2 > 0.0 || diff2 == 0.0);
#ifdef __CUDA_ARCH__
  out.error = norm2 > 0.0 ? __dsqrt_rn(div_rn(diff2, norm2)) : 0.0;
#else
  out.error = norm2 > 0.0 ? __builtin_sqrt(div_rn(diff2, norm2)) : 0.0;
#endif
}

// kept_mass = Σ_{j∈S} a_t[j]; o_kept = the answer keys' part of o plus Σ_{j∈S} a_t[j]·v_j, not
// yet renormalised; o the full output; prompt_mass / answer_mass the full attention's shares.
//   attn_recall  = kept_mass / prompt_mass (1 when the prompt's mass underflowed to 0: keeping
//                  any part of it loses nothing);
//   output_error = ‖o_kept / (kept_mass + answer_mass) − o‖ / ‖o‖ (the answer key u = t is
//                  always kept, so the denominator is > 0).
CKV_HD inline RowTerms row_terms(double kept_mass, double prompt_mass, double answer_mass,
                                 const double* o_kept, const double* o, int d) {
  RowTerms out;
  out.recall = prompt_mass > 0.0 ? div_rn(kept_mass, prompt_mass) : 1.0;
  const double kept_total = add_rn(kept_mass, answer_mass);
  double diff2 = 0.0, norm2 = 0.0;
  for (int c = 0; c < d; ++c) {
    const double oc = div_rn(o_kept[c], kept_total);
    const double delta = sub_rn(oc, o[c]);
    diff2 = add_rn(diff2, mul_rn(delta, delta));
    norm2 = add_rn(norm2, mul_rn(o[c], o[c]));
  }
  set_error(out, diff2, norm2);
  return out;
}

// The same terms as the CPU computes them under numerics 4 (worker/metrics.cpp), from the kept
// and the dropped parts of the prompt summed separately. With T the row's total,
//   x = (answer keys' Σ e v + Σ_{j∈S} e_j v_j) / T,   y = Σ_{j∉S} e_j v_j / T,
//   kept_mass = Σ_{j∈S} e_j / T,   dropped_mass = Σ_{j∉S} e_j / T:
// o = x + y and o_S − o = (dropped_mass / (kept_mass + answer_mass))·x − y, which is
// dropped_mass·(x/(kept_mass + answer_mass) − y/dropped_mass): the dropped mass times the
// difference of the kept and the dropped keys' mean values. o and o_S come from the same x and
// y, so rounding in x and y (fp32 products) enters o_S − o scaled by the dropped mass, like
// o_S − o itself; an o summed on its own would carry an independent rounding that the
// difference magnifies by 1/dropped_mass when little mass is dropped. dropped_mass = 0 leaves
// y = 0 and o_S = o exactly.
CKV_HD inline RowTerms split_row_terms(double kept_mass, double dropped_mass, double prompt_mass,
                                       double answer_mass, const double* x, const double* y,
                                       int d) {
  RowTerms out;
  out.recall = prompt_mass > 0.0 ? div_rn(kept_mass, prompt_mass) : 1.0;
  const double ratio = div_rn(dropped_mass, add_rn(kept_mass, answer_mass));
  double diff2 = 0.0, norm2 = 0.0;
  for (int c = 0; c < d; ++c) {
    const double delta = sub_rn(mul_rn(ratio, x[c]), y[c]);
    const double oc = add_rn(x[c], y[c]);
    diff2 = add_rn(diff2, mul_rn(delta, delta));
    norm2 = add_rn(norm2, mul_rn(oc, oc));
  }
  set_error(out, diff2, norm2);
  return out;
}

// Whether position j is in the sorted keep-set keep[0..size): binary search.
CKV_HD inline bool in_sorted(const int* keep, int size, int j) {
  int lo = 0, hi = size;
  while (lo < hi) {
    const int mid = (lo + hi) >> 1;
    if (keep[mid] < j) lo = mid + 1;
    else hi = mid;
  }
  return lo < size && keep[lo] == j;
}

}  // namespace ckv::metric_terms

namespace ckv {

// The terms of one (h, t), as the CUDA twin returns them ([H][m], worker/metrics_kernels.hpp) and
// MetricAccumulator::add_layer_rows adds them.
struct AnswerRowTerms {
  double recall = 0.0;
  double error = 0.0;
  int top_hit = 0;  // of the k top prompt keys, how many are kept
  bool undefined_error = false;
};

}  // namespace ckv
