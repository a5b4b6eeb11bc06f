#include "kernels/knorm/knorm.hpp"

#include <utility>
#include <vector>

#include "kernels/method_factories.hpp"
#include "kernels/simd/simd.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

Scores knorm_scores_cpu(LayerContext& ctx, const KnormParams& p) {
  const LayerInput& in = ctx.input();
  std::vector<std::vector<double>> per_kv(in.G, std::vector<double>(in.n));
  for (int g = 0; g < in.G; ++g) {
    // ‖k‖² in 16 double lanes (numerics 3; the squares are exact in double): the same value at
    // every SIMD level. Low key norm correlates with high attention.
    std::vector<double>& row = per_kv[g];
    simd::sumsq_rows_f64(in.key(g, 0), size_t(in.d), in.n, in.d, row.data());
    simd::neg_sqrt_f64(row.data(), in.n);
  }
  return reduce_kv_heads(per_kv, ctx.input(), p.selection.granularity);
}

MethodDef make_knorm_method() {
  ParamSchema<KnormParams> schema;
  schema.include(&KnormParams::selection, selection_schema(0, SelectionGranularity::per_kv_head));
  // kvpress KnormPress: −‖k‖ per KV head, nothing protected (window 1: the last token, the closest
  // ckv-sweep allows), no sinks.
  schema.convention({{"kvpress", {{"window", 1}, {"sink_size", 0}, {"selection", "per_kv_head"}}}},
                    "sets the knobs to a reference implementation's (given parameters win); "
                    "never stored, the parameters it sets are");
  return define_method<KnormParams>("knorm", "Negative key L2 norm (low-norm keys are kept)",
                                    "Devoto et al. 2024, K-norm (arXiv:2406.11430)",
                                    std::move(schema), knorm_scores_cpu,
                                    CKV_CUDA_TWIN(knorm_scores_cuda));
}

}  // namespace ckv
