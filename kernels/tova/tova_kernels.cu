#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/tova/tova_kernels.hpp"

namespace ckv::cuda {

namespace {

struct HeadMeanParams {
  const float* attention = nullptr;  // [H, 1, n]
  int H = 0, n = 0;
  double* mean = nullptr;  // [n]
};

// Σ_h A[h, last, j] / H, heads in order (as tova_scores_cpu).
__global__ void head_mean_kernel(HeadMeanParams p) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= p.n) return;
  double sum = 0.0;
  for (int h = 0; h < p.H; ++h) sum += p.attention[int64_t(h) * p.n + j];
  p.mean[j] = sum / double(p.H);
}

}  // namespace

std::vector<double> tova_device_head_mean(LayerKernels& layer) {
  DeviceScope scope(layer.device());
  const LayerShape& in = layer.shape();
  check_rows(in, 1, "tova");
  HeadMeanParams p;
  p.attention = layer.device_window_attention(1);
  p.H = in.H;
  p.n = in.n;
  p.mean = static_cast<double*>(layer.workspace(Workspace::sums, sizeof(double) * in.n));
  head_mean_kernel<<<blocks_for(in.n, 256), 256, 0, static_cast<cudaStream_t>(layer.stream())>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  std::vector<double> mean(in.n);
  layer.download(mean.data(), p.mean, mean.size() * sizeof(double));
  return mean;
}

}  // namespace ckv::cuda
