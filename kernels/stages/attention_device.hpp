// The device copy of a layer for the CUDA twins: one LayerKernels (kernels/stages/attention_kernels)
// per context, uploaded on first use and kept in the context's memo, so every configuration
// scored on the layer reuses the upload and the memoised window attention / column sums.
// Declared for every build, defined only with CUDA (attention_device_cuda.cpp).
#pragma once
#include "kernels/layer_context.hpp"
#include "kernels/stages/attention_kernels.hpp"

namespace ckv::cuda {

// The layer of ctx on the calling thread's current device. Checks the shape with messages
// naming the sample.
LayerKernels& layer_kernels(LayerContext& ctx);

}  // namespace ckv::cuda
