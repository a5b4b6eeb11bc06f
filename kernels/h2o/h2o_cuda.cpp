// The CUDA twin of h2o_scores_cpu: the column sums on the device (kernels/stages/attention_kernels),
// the normalisation and head reduction as on the CPU. Compiled only with CUDA.
#include "kernels/h2o/h2o.hpp"
#include "kernels/stages/attention_device.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

Scores h2o_scores_cuda(LayerContext& ctx, const H2oParams& p) {
  const LayerInput& in = ctx.input();
  const int rows = h2o_summed_rows(in, p);
  ctx.require_query_rows(rows, "h2o");
  std::vector<std::vector<double>> per_head = cuda::layer_kernels(ctx).column_sums(rows);
  if (p.normalize == H2oNormalize::count) h2o_normalize_counts(per_head, in.n, rows);
  return reduce_query_heads(per_head, in, p.selection.granularity);
}

}  // namespace ckv
