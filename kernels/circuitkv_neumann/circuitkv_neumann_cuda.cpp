// The CUDA twin of circuitkv_neumann: the window (or, for graph = "full", all) attention rows
// from LayerKernels on the device, passed to the graph build as RowSource::device and memoised in
// the context; head reduction, graph, Neumann iterations, smoothing and ranks stay on the CPU
// (one iteration is O(n·w), ~0.5M multiply-adds at 8k tokens: below launch and copy cost).
// Compiled only with CUDA.
#include "kernels/circuitkv_neumann/circuitkv_neumann.hpp"

namespace ckv::circuitkv {

Scores neumann_scores_cuda(LayerContext& context, const NeumannParams& p) {
  return neumann_scores(context, p, RowSource::device);
}

}  // namespace ckv::circuitkv
