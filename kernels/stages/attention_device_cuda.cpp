#include "kernels/stages/attention_device.hpp"

#include <memory>

namespace ckv::cuda {

namespace {
struct LayerKernelsKey {
  auto operator<=>(const LayerKernelsKey&) const = default;
};
}  // namespace

LayerKernels& layer_kernels(LayerContext& ctx) {
  const auto& kernels = ctx.memo<std::shared_ptr<LayerKernels>>(LayerKernelsKey{}, [&] {
    const LayerInput& in = ctx.input();
    CKV_CHECK(in.H > 0 && in.G > 0 && in.H % in.G == 0 && in.n > 0 && in.r > 0 && in.r <= in.n,
              "{}: inconsistent layer shape H={} G={} n={} r={}", in.sample, in.H, in.G, in.n,
              in.r);
    CKV_CHECK(in.d > 0 && in.d <= LayerKernels::kMaxHeadDim,
              "{}: head dim {} is not supported by the CUDA kernels (at most {})", in.sample, in.d,
              LayerKernels::kMaxHeadDim);
    return std::make_shared<LayerKernels>(LayerShape{in.H, in.G, in.d, in.n, in.r}, in.q, in.k);
  });
  return *kernels;
}

}  // namespace ckv::cuda
