// SnapKV's device kernels (snapkv_kernels.cu) on a layer's device copy: votes, 1-D pooling and
// the GQA mean, in the CPU's order (snapkv.cpp). Plain C++; only defined with CUDA.
#pragma once
#include <vector>

#include "kernels/stages/attention_kernels.hpp"

namespace ckv::cuda {

// Scores per selection head [out_heads][n] (mean over groups of H / out_heads heads), from the
// memoised window attention of the last min(window, n) rows.
std::vector<std::vector<float>> snapkv_device_scores(LayerKernels& layer, int window, int kernel,
                                                     bool max_pool, int out_heads);

// The same from scratch (window rows recomputed), left on the device: for bench_kernels.
void run_snapkv_device(LayerKernels& layer, int window, int kernel, bool max_pool, int out_heads);

}  // namespace ckv::cuda
