// The CUDA twin of knorm_scores_cpu (key norms on the device). Compiled only with CUDA.
#include "kernels/knorm/knorm.hpp"
#include "kernels/knorm/knorm_kernels.hpp"
#include "kernels/stages/attention_device.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

Scores knorm_scores_cuda(LayerContext& ctx, const KnormParams& p) {
  return reduce_kv_heads(cuda::knorm_device_scores(cuda::layer_kernels(ctx)), ctx.input(), p.selection.granularity);
}

}  // namespace ckv
