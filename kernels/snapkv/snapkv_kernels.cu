// SnapKV votes, pooling and GQA mean on the device (docs/spec/METHODS.md "Baselines"): double
// accumulation in the CPU's order (snapkv.cpp, kernels/stages/head_reduction.cpp), no atomics,
// so results equal the CPU's up to the attention rows' fp32 rounding.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/snapkv/snapkv_kernels.hpp"

namespace ckv::cuda {

namespace {

// What crosses into the kernels: plain pointers and sizes.
struct SnapkvKernelParams {
  const float* attention = nullptr;  // [H, window, n]
  int H = 0, n = 0, window = 0, prefix = 0;
  int kernel = 7;            // odd pooling kernel, stride 1, padding kernel / 2
  bool max_pool = true;      // false: average with zero padding counted (kvpress)
  int out_heads = 1;         // selection heads: 1 (shared) or G (per KV head)
  double* votes = nullptr;   // [H, n] (entries past prefix unused)
  double* pooled = nullptr;  // [H, n] (zeros past prefix)
  float* scores = nullptr;   // [out_heads, n]
};

// votes[h, j] = Σ_t A[h, t, j] / window over the prefix, rows in order (as snapkv_scores_cpu).
__global__ void snapkv_votes_kernel(SnapkvKernelParams p) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= int64_t(p.H) * p.prefix) return;
  const int h = int(e / p.prefix), j = int(e % p.prefix);
  const float* a = p.attention + int64_t(h) * p.window * p.n + j;
  double sum = 0.0;
  for (int t = 0; t < p.window; ++t) sum += a[int64_t(t) * p.n];
  p.votes[int64_t(h) * p.n + j] = sum / double(p.window);
}

// pool_1d (snapkv.cpp): stride 1, padding kernel / 2; max ignores padding, avg counts it.
__global__ void snapkv_pool_kernel(SnapkvKernelParams p) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= int64_t(p.H) * p.n) return;
  const int h = int(e / p.n), j = int(e % p.n);
  if (j >= p.prefix) {  // window positions keep score 0: the selection always keeps them
    p.pooled[e] = 0.0;
    return;
  }
  const double* x = p.votes + int64_t(h) * p.n;
  const int pad = p.kernel / 2;
  const int lo = max(0, j - pad), hi = min(p.prefix - 1, j + pad);
  double acc = p.max_pool ? -INFINITY : 0.0;
  for (int t = lo; t <= hi; ++t) acc = p.max_pool ? fmax(acc, x[t]) : acc + x[t];
  p.pooled[e] = p.max_pool ? acc : acc / double(p.kernel);
}

// Mean over each group of H / out_heads query heads, heads in order (head_reduction.cpp).
__global__ void group_mean_kernel(SnapkvKernelParams p) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= int64_t(p.out_heads) * p.n) return;
  const int s = int(e / p.n), j = int(e % p.n);
  const int per = p.H / p.out_heads;
  double sum = 0.0;
  for (int h = s * per; h < (s + 1) * per; ++h) sum += p.pooled[int64_t(h) * p.n + j];
  p.scores[e] = float(sum / double(per));
}

void check_out_heads(const LayerShape& in, int out_heads) {
  if (out_heads < 1 || in.H % out_heads != 0)
    throw std::invalid_argument("snapkv: selection heads must divide H");
}

// Launches the three kernels on attention [H, w, n] into the layer's workspaces; returns the
// device scores [out_heads, n].
float* launch_snapkv(LayerKernels& layer, const float* attention, int w, int kernel,
                     bool max_pool, int out_heads) {
  const LayerShape& in = layer.shape();
  SnapkvKernelParams p;
  p.attention = attention;
  p.H = in.H;
  p.n = in.n;
  p.window = w;
  p.prefix = in.n - w;
  p.kernel = kernel;
  p.max_pool = max_pool;
  p.out_heads = out_heads;
  p.votes = static_cast<double*>(layer.workspace(Workspace::votes, sizeof(double) * in.H * in.n));
  p.pooled = static_cast<double*>(layer.workspace(Workspace::pooled, sizeof(double) * in.H * in.n));
  p.scores = static_cast<float*>(layer.workspace(Workspace::scores, sizeof(float) * out_heads * in.n));
  const auto stream = static_cast<cudaStream_t>(layer.stream());
  if (p.prefix > 0) {
    snapkv_votes_kernel<<<blocks_for(int64_t(p.H) * p.prefix, 256), 256, 0, stream>>>(p);
    CKV_CUDA_CHECK_LAUNCH();
  }
  snapkv_pool_kernel<<<blocks_for(int64_t(p.H) * p.n, 256), 256, 0, stream>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  group_mean_kernel<<<blocks_for(int64_t(out_heads) * p.n, 256), 256, 0, stream>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  return p.scores;
}

}  // namespace

std::vector<std::vector<float>> snapkv_device_scores(LayerKernels& layer, int window, int kernel,
                                                     bool max_pool, int out_heads) {
  DeviceScope scope(layer.device());
  const LayerShape& in = layer.shape();
  const int w = std::min(window, in.n);
  check_rows(in, w, "snapkv");
  check_out_heads(in, out_heads);
  const float* scores = launch_snapkv(layer, layer.device_window_attention(w), w, kernel, max_pool,
                                      out_heads);
  std::vector<float> flat(size_t(out_heads) * in.n);
  layer.download(flat.data(), scores, flat.size() * sizeof(float));
  std::vector<std::vector<float>> heads(out_heads);
  for (int h = 0; h < out_heads; ++h)
    heads[h].assign(flat.begin() + size_t(h) * in.n, flat.begin() + size_t(h + 1) * in.n);
  return heads;
}

void run_snapkv_device(LayerKernels& layer, int window, int kernel, bool max_pool, int out_heads) {
  DeviceScope scope(layer.device());
  const LayerShape& in = layer.shape();
  const int w = std::min(window, in.n);
  check_rows(in, w, "snapkv");
  check_out_heads(in, out_heads);
  auto* attention =
      static_cast<float*>(layer.workspace(Workspace::window, sizeof(float) * in.H * w * in.n));
  layer.launch_window_attention(w, attention);
  launch_snapkv(layer, attention, w, kernel, max_pool, out_heads);
  layer.synchronize();
}

}  // namespace ckv::cuda
