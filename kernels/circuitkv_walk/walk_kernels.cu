// CUDA twin of circuitkv_walk's Monte Carlo (walk_kernels.hpp). Bit-identity with run_walkers
// (kernels/circuitkv_walk/walk_chain.cpp) rests on three things:
//   - the draw: philox_walk_draw (common/philox.hpp, host/device) of the same
//     (seed, stream, walker, step);
//   - the arithmetic: the few double operations of AttentionGraph::sample and
//     ForwardChain::sample with explicit round-to-nearest intrinsics, so nvcc cannot contract
//     a multiply and an add into an FMA the host does not use;
//   - the search: libstdc++'s std::upper_bound probe sequence, so even rounding ties and the
//     clamps at the end of a row pick the CPU's index.
// Visit counts are unsigned 64-bit integer atomics: order-independent, hence exact.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>

#include "common/philox.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/circuitkv_walk/walk_kernels.hpp"

namespace ckv::cuda {

namespace {

constexpr int kWalkThreads = 256;

static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "visit counters are 64-bit");

// std::upper_bound (libstdc++ __upper_bound): the first index in [0, len) whose element is
// > value, with the same probes.
__device__ __forceinline__ long long upper_bound_index(const double* first, long long len,
                                                       double value) {
  const double* const begin = first;
  while (len > 0) {
    const long long half = len >> 1;
    const double* middle = first + half;
    if (value < *middle) {
      len = half;
    } else {
      first = middle + 1;
      len = len - half - 1;
    }
  }
  return first - begin;
}

// AttentionGraph::sample (graph.cpp).
__device__ int backward_sample(const WalkKernelParams& p, int i, double u) {
  if (i < 0 || i >= p.n) return -1;
  if (i >= p.window_start) {
    const double* cdf = p.dense_cdf + size_t(i - p.window_start) * size_t(p.n);
    const double total = cdf[p.n - 1];
    if (total <= 0.0) return -1;
    const double target = p.row_stochastic[i] ? __dmul_rn(u, total) : u;
    if (target >= total) return -1;
    const int j = int(upper_bound_index(cdf, p.n, target));
    return min(j, p.n - 1);
  }
  const double total = p.prefix_cumulative[i];
  if (i == 0 || total <= 0.0) return -1;
  const double target =
      p.row_stochastic[i] ? __dmul_rn(u, total) : __ddiv_rn(u, p.prefix_scale[i]);
  if (target >= total) return -1;
  const int j = int(upper_bound_index(p.prefix_cumulative + 1, i, target));
  return min(j, i - 1);
}

// ForwardChain::sample (walk_chain.cpp).
__device__ int forward_sample(const WalkKernelParams& p, int j, double u) {
  if (j < 0 || j >= p.n) return -1;
  const double total = p.mass[j];
  if (!(total > 0.0)) return -1;
  double target = __dmul_rn(u, total);
  if (target < p.prefix_mass[j]) {
    const double key = __dadd_rn(p.row_cumulative[j + 1], __ddiv_rn(target, p.prefix_column[j]));
    const double* begin = p.row_cumulative + j + 2;
    const double* end = p.row_cumulative + p.window_start + 1;
    const double* it = begin + upper_bound_index(begin, end - begin, key);
    if (it == end) --it;  // rounding at the top of the range
    return int(it - p.row_cumulative) - 1;
  }
  target = __dsub_rn(target, p.prefix_mass[j]);
  const int first = max(p.window_start, j);
  const double* begin = p.column_cdf + p.column_offset[j];
  const double* end = p.column_cdf + p.column_offset[j + 1];
  if (begin == end) return -1;
  const double* it = begin + upper_bound_index(begin, end - begin, target);
  if (it == end) {
    // Rounding: fall back to the last row that carries mass.
    it = end - 1;
    while (it > begin && *it == *(it - 1)) --it;
  }
  return first + int(it - begin);
}

// One thread per walker: run_walkers' loop body.
__global__ void walk_kernel(WalkKernelParams p) {
  const long long w = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (w >= p.walkers) return;
  int pos = p.sources[w % p.source_count];
  if (p.absorbing[pos]) return;  // starts absorbed: never moves, never counts
  if (p.count_start) atomicAdd(p.visits + pos, 1ull);
  for (int step = 0; step < p.steps; ++step) {
    const double u = philox_walk_draw(p.seed, p.stream, uint32_t(w), uint32_t(step)).u0;
    const int next = p.forward ? forward_sample(p, pos, u) : backward_sample(p, pos, u);
    if (next < 0 || p.absorbing[next]) break;  // WalkChain::next
    pos = next;
    atomicAdd(p.visits + pos, 1ull);
  }
}

}  // namespace

struct WalkKernels::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  WalkKernelParams chain;  // the arrays below; per-run fields set by run()
  DeviceArray<double> dense_cdf, prefix_cumulative, prefix_scale;
  DeviceArray<unsigned char> row_stochastic;
  DeviceArray<double> prefix_column, row_cumulative, prefix_mass, column_cdf, mass;
  DeviceArray<uint64_t> column_offset;

  ~Impl() {  // the body runs before the arrays are freed
    if (!stream) return;
    CKV_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream));
    CKV_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream));
  }
};

WalkKernels::WalkKernels(const WalkChainView& view) : impl_(std::make_unique<Impl>()) {
  if (view.n <= 0 || view.window_start < 0 || view.window_start > view.n)
    throw std::invalid_argument("WalkKernels: unsupported chain shape");
  Impl& s = *impl_;
  CKV_CUDA_CHECK(cudaGetDevice(&s.device));
  CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  const size_t n = size_t(view.n), ws = size_t(view.window_start);
  WalkKernelParams& p = s.chain;
  p.forward = view.forward;
  p.n = view.n;
  p.window_start = view.window_start;
  if (!view.forward) {
    s.dense_cdf = upload(view.dense_cdf, view.dense_cdf_size, s.stream);
    s.prefix_cumulative = upload(view.prefix_cumulative, n + 1, s.stream);
    s.prefix_scale = upload(view.prefix_scale, n, s.stream);
    s.row_stochastic = upload(view.row_stochastic, n, s.stream);
    p.dense_cdf = s.dense_cdf.get();
    p.prefix_cumulative = s.prefix_cumulative.get();
    p.prefix_scale = s.prefix_scale.get();
    p.row_stochastic = s.row_stochastic.get();
  } else {
    s.prefix_column = upload(view.prefix_column, ws, s.stream);
    s.row_cumulative = upload(view.row_cumulative, ws + 1, s.stream);
    s.prefix_mass = upload(view.prefix_mass, n, s.stream);
    s.column_offset = upload(view.column_offset, n + 1, s.stream);
    s.column_cdf = upload(view.column_cdf, view.column_cdf_size, s.stream);
    s.mass = upload(view.mass, n, s.stream);
    p.prefix_column = s.prefix_column.get();
    p.row_cumulative = s.row_cumulative.get();
    p.prefix_mass = s.prefix_mass.get();
    p.column_offset = s.column_offset.get();
    p.column_cdf = s.column_cdf.get();
    p.mass = s.mass.get();
  }
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

WalkKernels::~WalkKernels() {
  if (!impl_) return;
  int current = -1;
  CKV_CUDA_CHECK_NOTHROW(cudaGetDevice(&current));
  const int device = impl_->device;
  if (current != device) CKV_CUDA_CHECK_NOTHROW(cudaSetDevice(device));
  impl_.reset();  // frees on the chain's device
  if (current >= 0 && current != device) CKV_CUDA_CHECK_NOTHROW(cudaSetDevice(current));
}

std::vector<uint64_t> WalkKernels::run(const WalkRun& run) {
  Impl& s = *impl_;
  const int n = s.chain.n;
  if (run.walkers < 1 || run.walkers > 0xFFFFFFFFll || run.steps < 0 ||
      run.absorbing.size() != size_t(n))
    throw std::invalid_argument("WalkKernels: bad walk run");
  for (int source : run.sources)
    if (source < 0 || source >= n) throw std::invalid_argument("WalkKernels: source out of range");
  std::vector<uint64_t> visits(n, 0);
  if (run.sources.empty()) return visits;
  DeviceScope scope(s.device);
  DeviceArray<int> sources = upload(run.sources.data(), run.sources.size(), s.stream);
  DeviceArray<unsigned char> absorbing =
      upload(run.absorbing.data(), run.absorbing.size(), s.stream);
  DeviceArray<unsigned long long> counts{size_t(n)};
  CKV_CUDA_CHECK(
      cudaMemsetAsync(counts.get(), 0, size_t(n) * sizeof(unsigned long long), s.stream));
  WalkKernelParams p = s.chain;
  p.sources = sources.get();
  p.source_count = int(run.sources.size());
  p.absorbing = absorbing.get();
  p.walkers = run.walkers;
  p.steps = run.steps;
  p.seed = run.seed;
  p.stream = run.stream;
  p.count_start = run.count_start;
  p.visits = counts.get();
  const unsigned blocks = unsigned((run.walkers + kWalkThreads - 1) / kWalkThreads);
  walk_kernel<<<blocks, kWalkThreads, 0, s.stream>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  CKV_CUDA_CHECK(cudaMemcpyAsync(visits.data(), counts.get(), size_t(n) * sizeof(uint64_t),
                                 cudaMemcpyDeviceToHost, s.stream));
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));  // the arrays above are freed after this
  return visits;
}

}  // namespace ckv::cuda
