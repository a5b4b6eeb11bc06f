// The numerics version: which rounding the kernels of this build compute with. It is part of every
// configuration's identity ("eval": {"numerics": N}, configuration/configuration.hpp), so a
// stored number never changes meaning silently: when a kernel's rounding changes (a faster
// kernel that sums in another order, another exp), this version goes up, every configuration
// computed from then on has a new hash, and the rows computed before stay in the database under
// their old hash, never averaged with the new ones (docs/database.md, "Numerics versions").
//
// Bump kNumericsVersion (and add its line below and to docs/database.md) whenever any result or
// metric of any method can change in any digit; the worker refuses to compute a configuration
// of another version (worker/evaluator.cpp).
//
// Versions:
//   1  the kernels up to 0.1: fp32 attention with scalar dot products in eight fixed partial
//      sums and libm expf, proxy metrics in double precision. A stored document without
//      "numerics" is version 1 (kLegacyNumerics) and keeps its hash.
//   2  blockwise fp32 SIMD kernels (kernels/simd/, docs/numerics.md): every q·k logit one fused
//      multiply-add chain in ascending dimension order, Cephes' exp polynomial, 16-lane sums in
//      a fixed order, identical at every SIMD level (scalar, AVX2, AVX-512); proxy metrics from
//      fp32 logits and weights with every sum over keys accumulated in double.
//   3  version 2 with the head entropies' p ln p (CircuitKV's entropy head reductions and the
//      per-head entropy) computed by the SIMD kernels' own ln (Cephes' logf polynomial, fp32
//      terms summed in double in 16 lanes, identical at every SIMD level) instead of the C
//      library's double log in one serial sum, and K-norm's squared key norms summed in 16
//      double lanes instead of one serial sum. Every other kernel is version 2's, bit for bit.
//   4  version 3 with the proxy metrics' weighted sums of values (the answer keys' part, the
//      kept and the dropped prompt keys' parts) as fp32 products in blocks of 16 keys whose
//      block sums are added in double (simd::gemm_blocks_f64), instead of one double fma chain
//      per element, and output_error formed from the kept and dropped parts
//      (metric_terms::split_row_terms: the dropped mass times the difference of the two parts'
//      mean values) instead of the difference of the kept and the full output. attn_recall,
//      topk_recall and every method's scores are version 3's, bit for bit; output_error moves
//      in its last digits (within 1e-5 relative of double precision).
#pragma once

namespace ckv {

// What every document stored before the numerics version existed was computed with.
inline constexpr int kLegacyNumerics = 1;
// What this build computes.
inline constexpr int kNumericsVersion = 4;

// One line per version, as listed above (for `plan`, the worker's refusals and the docs);
// nullptr for a version this build does not know.
constexpr const char* numerics_description(int version) {
  switch (version) {
    case 1:
      return "the kernels up to 0.1: fp32 attention with scalar dot products in eight fixed partial sums and "
             "libm expf, proxy metrics in double precision";
    case 2:
      return "blockwise fp32 SIMD kernels: every q·k logit one fused multiply-add chain in ascending dimension "
             "order, Cephes' exp polynomial, 16-lane sums in a fixed order, identical at every SIMD level; proxy "
             "metrics from fp32 logits and weights with every sum over keys accumulated in double";
    case 3:
      return "version 2 with the head entropies' p ln p computed by the kernels' own fp32 ln (Cephes' logf "
             "polynomial) and summed in double in 16 lanes, identical at every SIMD level, instead of the C "
             "library's double log in one serial sum, and K-norm's squared key norms summed in 16 double lanes";
    case 4:
      return "version 3 with the proxy metrics' weighted sums of values as fp32 products in blocks of 16 keys "
             "summed in double, and output_error formed from the kept and the dropped prompt keys' parts "
             "(the dropped mass times the difference of their mean values) instead of the difference of two "
             "near-equal outputs; methods' scores, attn_recall and topk_recall are version 3's";
    default:
      return nullptr;
  }
}

}  // namespace ckv
