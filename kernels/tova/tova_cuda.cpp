// The CUDA twin of tova_scores_cpu (the last row's head mean on the device). Compiled only with
// CUDA.
#include "kernels/stages/attention_device.hpp"
#include "kernels/stages/head_reduction.hpp"
#include "kernels/tova/tova.hpp"
#include "kernels/tova/tova_kernels.hpp"

namespace ckv {

Scores tova_scores_cuda(LayerContext& ctx, const TovaParams& p) {
  ctx.require_query_rows(1, "tova");
  // As tova_scores_cpu: the mean over all heads, replicated to every selection head.
  return replicate_scores(cuda::tova_device_head_mean(cuda::layer_kernels(ctx)), ctx.input(), p.selection.granularity);
}

}  // namespace ckv
