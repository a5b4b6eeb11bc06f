// K-norm's device kernel (knorm_kernels.cu): −‖K[g, j]‖₂. Plain C++; only defined with CUDA.
#pragma once
#include <vector>

#include "kernels/stages/attention_kernels.hpp"

namespace ckv::cuda {

// [G][n], double accumulation in index order as knorm_scores_cpu (bit-identical).
std::vector<std::vector<double>> knorm_device_scores(LayerKernels& layer);
// The same left on the device: for bench_kernels.
void run_knorm_device(LayerKernels& layer);

}  // namespace ckv::cuda
