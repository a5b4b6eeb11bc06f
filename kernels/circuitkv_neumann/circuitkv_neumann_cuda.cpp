// The CUDA twin of circuitkv_neumann. On the device: the window (or, for graph = "full", all)
// attention rows (LayerKernels, RowSource::device) and the truncated Neumann series of step 3
// for both graphs (kernels/stages/neumann_kernels.cu: y = Qᵀx in O(n·w) per iteration on
// window_prefix, O(n²) on the packed full graph, memoised per layer context so a sweep over K
// iterates once). On the host: head reduction and the graph build from the downloaded rows
// (AttentionGraph, whose arrays are then copied to the device once), the per-head two-hop
// variant (per_head = true: no series), post-processing, ranks and the combination.
// Compiled only with CUDA.
#include "kernels/circuitkv_neumann/circuitkv_neumann.hpp"

namespace ckv::circuitkv {

Scores neumann_scores_cuda(LayerContext& context, const NeumannParams& p) {
  return neumann_scores(context, p, RowSource::device, SeriesDevice::cuda);
}

}  // namespace ckv::circuitkv
