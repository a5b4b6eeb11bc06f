// The CUDA twin of snapkv_scores_cpu (votes, pooling and the GQA mean on the device). Compiled
// only with CUDA.
#include "kernels/snapkv/snapkv.hpp"
#include "kernels/snapkv/snapkv_kernels.hpp"
#include "kernels/stages/attention_device.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

Scores snapkv_scores_cuda(LayerContext& ctx, const SnapkvParams& p) {
  const LayerInput& in = ctx.input();
  const int w = std::min(p.selection.window, in.n);
  ctx.require_query_rows(w, "snapkv");
  Scores scores;
  scores.heads = cuda::snapkv_device_scores(cuda::layer_kernels(ctx), w, p.kernel,
                                            p.pool == SnapkvPool::max,
                                            selection_heads(p.selection.granularity, in));
  return scores;
}

}  // namespace ckv
