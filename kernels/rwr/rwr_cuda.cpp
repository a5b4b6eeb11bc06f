// The CUDA twin of rwr_scores_cpu: graph, transitions and saliency on the device
// (rwr_kernels.cu), the transitions memoised per layer context under the CPU's key (graph
// options and reversible), so alpha/steps/beta/budget sweeps build them once. Only the scores
// per head come back; the head reduction is the CPU's. Compiled only with CUDA.
#include <memory>

#include "kernels/rwr/rwr.hpp"
#include "kernels/rwr/rwr_kernels.hpp"
#include "kernels/stages/attention_device.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

namespace {
struct DeviceTransitionsKey {
  int window, topk;
  double threshold;
  bool reversible;
  auto operator<=>(const DeviceTransitionsKey&) const = default;
};
}  // namespace

Scores rwr_scores_cuda(LayerContext& ctx, const RwrParams& p) {
  const LayerInput& in = ctx.input();
  ctx.require_query_rows(in.n, kRwrName);  // the CPU's refusal, same message
  const auto& kernels = ctx.memo<std::shared_ptr<cuda::RwrKernels>>(
      DeviceTransitionsKey{p.graph_window, p.topk, p.threshold, p.reversible}, [&] {
        cuda::RwrGraphOptions options;
        options.window = p.graph_window;
        options.topk = p.topk;
        options.threshold = p.threshold;
        options.reversible = p.reversible;
        return std::make_shared<cuda::RwrKernels>(cuda::layer_kernels(ctx), options);
      });
  const std::vector<std::vector<double>> per_head =
      kernels->scores(rwr_restart_vector(p, in.n), p.alpha, p.steps, p.reciprocal_beta);
  return reduce_query_heads(per_head, in, p.selection.granularity);
}

}  // namespace ckv
