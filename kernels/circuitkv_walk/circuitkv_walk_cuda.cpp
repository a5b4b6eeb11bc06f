// The CUDA twin of circuitkv_walk's Monte Carlo (walk_kernels.hpp/.cu): run_walkers on the
// device, counts bit-identical to the CPU's. Compiled only with CUDA.
#include <memory>

#include "kernels/circuitkv_walk/circuitkv_walk.hpp"
#include "kernels/circuitkv_walk/walk_kernels.hpp"

namespace ckv::circuitkv {

namespace {

// The device copy of one chain's sampling arrays, memoised per (graph identity, direction).
struct WalkKernelsKey {
  GraphOptions graph;
  RowSource source;
  WalkDirection direction;
  auto operator<=>(const WalkKernelsKey&) const = default;
};

cuda::WalkKernels& walk_kernels(LayerContext& ctx, const WalkChain& chain) {
  const AttentionGraph& g = *chain.graph;
  const WalkKernelsKey key{g.options(), g.source(), chain.direction};
  const auto& kernels = ctx.memo<std::shared_ptr<cuda::WalkKernels>>(key, [&] {
    cuda::WalkChainView view;
    view.forward = chain.direction == WalkDirection::forward;
    view.backward = g.arrays();
    view.dense_cdf_size = g.dense_cdf_size();
    view.packed_size = g.packed_size();
    view.row_block_cum_size = g.row_block_cum_size();
    if (view.forward) {
      const ForwardChain& f = *chain.forward;
      view.forward_arrays = f.arrays();
      view.column_cdf_size = f.column_cdf_size();
      view.column_block_cum_size = f.column_block_cum_size();
    }
    return std::make_shared<cuda::WalkKernels>(view);
  });
  return *kernels;
}

}  // namespace

// run_walkers' twin: the same preconditions and messages as walk_chain.cpp.
VisitCounts run_walkers_cuda(LayerContext& ctx, const WalkChain& chain, const WalkOptions& options) {
  CKV_CHECK(options.walkers >= 1 && options.walkers <= 0xFFFFFFFFll,
            "circuitkv_walk: walkers = {} out of range", options.walkers);
  CKV_CHECK(options.steps >= 0, "circuitkv_walk: steps = {} must be >= 0", options.steps);
  CKV_CHECK(!options.second_moments,
            "circuitkv_walk: second moments are a CPU-only test statistic (run_walkers)");
  const int n = chain.n();
  VisitCounts out;
  out.walkers = options.walkers;
  out.visits.assign(n, 0);
  if (chain.sources.empty() || n == 0) return out;
  cuda::WalkRun run;
  run.sources = chain.sources;
  run.absorbing = chain.absorbing;
  run.walkers = options.walkers;
  run.steps = options.steps;
  run.seed = options.seed;
  run.stream = walk_stream(chain.direction, options.steps);
  run.count_start = options.count_start;
  out.visits = walk_kernels(ctx, chain).run(run);
  return out;
}

}  // namespace ckv::circuitkv
