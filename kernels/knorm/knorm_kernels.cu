#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/knorm/knorm_kernels.hpp"

namespace ckv::cuda {

namespace {

struct KeyNormParams {
  const float* k = nullptr;  // [G, n, d]
  int G = 0, n = 0, d = 0;
  double* norms = nullptr;  // [G, n]
};

// -‖K[g, j]‖₂ with the CPU's double accumulation in index order (bit-identical).
__global__ void key_norm_kernel(KeyNormParams p) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= int64_t(p.G) * p.n) return;
  const float* k = p.k + e * p.d;
  double sq = 0.0;
  for (int c = 0; c < p.d; ++c) sq += double(k[c]) * k[c];
  p.norms[e] = -sqrt(sq);
}

double* launch_key_norms(LayerKernels& layer) {
  const LayerShape& in = layer.shape();
  KeyNormParams p;
  p.k = layer.device_keys();
  p.G = in.G;
  p.n = in.n;
  p.d = in.d;
  p.norms = static_cast<double*>(layer.workspace(Workspace::norms, sizeof(double) * in.G * in.n));
  key_norm_kernel<<<blocks_for(int64_t(in.G) * in.n, 256), 256, 0,
                    static_cast<cudaStream_t>(layer.stream())>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  return p.norms;
}

}  // namespace

std::vector<std::vector<double>> knorm_device_scores(LayerKernels& layer) {
  DeviceScope scope(layer.device());
  const LayerShape& in = layer.shape();
  const double* norms = launch_key_norms(layer);
  std::vector<double> flat(size_t(in.G) * in.n);
  layer.download(flat.data(), norms, flat.size() * sizeof(double));
  std::vector<std::vector<double>> per_kv(in.G);
  for (int g = 0; g < in.G; ++g)
    per_kv[g].assign(flat.begin() + size_t(g) * in.n, flat.begin() + size_t(g + 1) * in.n);
  return per_kv;
}

void run_knorm_device(LayerKernels& layer) {
  DeviceScope scope(layer.device());
  launch_key_norms(layer);
  layer.synchronize();
}

}  // namespace ckv::cuda
