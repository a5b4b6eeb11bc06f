#include "kernels/tova/tova.hpp"

#include "kernels/method_factories.hpp"
#include "kernels/simd/simd.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

Scores tova_scores_cpu(LayerContext& ctx, const TovaParams& p) {
  const LayerInput& in = ctx.input();
  const int n = in.n;
  ctx.require_query_rows(1, "tova");
  std::vector<float> rows(size_t(in.H) * n);
  ctx.attention_row_all_heads(n - 1, rows.data(), n);
  std::vector<double> mean(n, 0.0);
  simd::add_rows_f32_to_f64(mean.data(), rows.data(), size_t(n), in.H, n);  // heads in order
  for (double& x : mean) x /= double(in.H);
  // docs/spec/METHODS.md: the mean over all heads, also for per_kv_head selection (TOVA's own
  // averaging), so every KV head gets the same vector.
  return replicate_scores(mean, in, p.selection.granularity);
}

MethodDef make_tova_method() {
  ParamSchema<TovaParams> schema;
  schema.include(&TovaParams::selection, selection_schema(0, SelectionGranularity::per_kv_head));
  // kvpress TOVAPress: the last query row, mean over all heads, the same vector for every KV head; only the
  // last token is protected (window 1), no sinks.
  schema.convention({{"kvpress", {{"window", 1}, {"sink_size", 0}, {"selection", "per_kv_head"}}}},
                    "sets the knobs to a reference implementation's (given parameters win); "
                    "never stored, the parameters it sets are");
  return define_method<TovaParams>("tova", "Attention of the last prompt query, mean over all heads",
                                   "Oren et al. 2024, TOVA (arXiv:2401.06104)", std::move(schema),
                                   tova_scores_cpu, CKV_CUDA_TWIN(tova_scores_cuda));
}

}  // namespace ckv
