// TOVA's device kernel (tova_kernels.cu): the last query row's mean over heads. Plain C++; only
// defined with CUDA.
#pragma once
#include <vector>

#include "kernels/stages/attention_kernels.hpp"

namespace ckv::cuda {

// Σ_h A[h, n − 1, j] / H over the layer's memoised last attention row, heads in order; [n].
std::vector<double> tova_device_head_mean(LayerKernels& layer);

}  // namespace ckv::cuda
