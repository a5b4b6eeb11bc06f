// CUDA twin of circuitkv_walk's Monte Carlo (walk_kernels.hpp). Bit-identity with run_walkers
// (kernels/circuitkv_walk/walk_chain.cpp) rests on two things: the draw, philox_walk_draw
// (common/philox.hpp) of the same (seed, stream, walker, step); and the search, the same
// __host__ __device__ functions on copies of the same arrays (kernels/stages/chain_sampling.hpp,
// whose double arithmetic uses round-to-nearest intrinsics on the device so nvcc cannot contract
// into FMAs the host does not use). Visit counts are unsigned 64-bit integer atomics:
// order-independent, hence exact.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>

#include "common/philox.hpp"
#include "kernels/circuitkv_walk/walk_kernels.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"

namespace ckv::cuda {

namespace {

constexpr int kWalkThreads = 256;

static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "visit counters are 64-bit");

// One thread per walker: run_walkers' loop body.
__global__ void walk_kernel(WalkKernelParams p) {
  const long long w = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (w >= p.walkers) return;
  int pos = p.sources[w % p.source_count];
  if (p.absorbing[pos]) return;  // starts absorbed: never moves, never counts
  if (p.count_start) atomicAdd(p.visits + pos, 1ull);
  for (int step = 0; step < p.steps; ++step) {
    const double u = philox_walk_draw(p.seed, p.stream, uint32_t(w), uint32_t(step)).u0;
    const int next = p.forward ? forward_sample(p.forward_arrays, pos, u)
                               : backward_sample(p.backward, pos, u);
    if (next < 0 || p.absorbing[next]) break;  // WalkChain::next
    pos = next;
    atomicAdd(p.visits + pos, 1ull);
  }
}

// `count` elements of the host array `field` points at onto the device, into `owner`; `field`
// then points at the device copy.
template <class T>
void to_device(DeviceArray<T>& owner, const T*& field, size_t count, cudaStream_t stream) {
  owner = upload(field, count, stream);
  field = owner.get();
}

}  // namespace

struct WalkKernels::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  WalkKernelParams chain;  // the arrays below; per-run fields set by run()
  DeviceArray<double> dense_cdf, prefix_cumulative, prefix_scale, row_block_cum;
  DeviceArray<float> packed_rows;
  DeviceArray<uint64_t> row_block_offset;
  DeviceArray<unsigned char> row_stochastic;
  DeviceArray<double> prefix_column, row_cumulative, prefix_mass, column_cdf, mass,
      column_block_cum;
  DeviceArray<uint64_t> column_offset, column_block_offset;

  ~Impl() { destroy_stream(stream); }  // the body runs before the arrays are freed
};

WalkKernels::WalkKernels(const WalkChainView& view) : impl_(std::make_unique<Impl>()) {
  const int n_int = view.forward ? view.forward_arrays.n : view.backward.n;
  const int ws_int = view.forward ? view.forward_arrays.window_start : view.backward.window_start;
  if (n_int <= 0 || ws_int < 0 || ws_int > n_int)
    throw std::invalid_argument("WalkKernels: unsupported chain shape");
  Impl& s = *impl_;
  CKV_CUDA_CHECK(cudaGetDevice(&s.device));
  CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  const size_t n = size_t(n_int), ws = size_t(ws_int);
  WalkKernelParams& p = s.chain;
  p.forward = view.forward;
  // Both directions sample the backward graph's packed rows (the forward chain reads columns).
  const BackwardChainArrays& b = view.backward;
  s.packed_rows = upload(b.packed_rows, view.packed_size, s.stream);
  if (!view.forward) {
    BackwardChainArrays& d = p.backward = b;
    to_device(s.dense_cdf, d.dense_cdf, view.dense_cdf_size, s.stream);
    to_device(s.row_block_cum, d.row_block_cum, view.row_block_cum_size, s.stream);
    to_device(s.row_block_offset, d.row_block_offset, b.packed ? n + 1 : 0, s.stream);
    to_device(s.prefix_cumulative, d.prefix_cumulative, n + 1, s.stream);
    to_device(s.prefix_scale, d.prefix_scale, n, s.stream);
    to_device(s.row_stochastic, d.row_stochastic, n, s.stream);
    d.packed_rows = s.packed_rows.get();
  } else {
    const ForwardChainArrays& f = view.forward_arrays;
    ForwardChainArrays& d = p.forward_arrays = f;
    to_device(s.prefix_column, d.prefix_column, ws, s.stream);
    to_device(s.row_cumulative, d.row_cumulative, ws + 1, s.stream);
    to_device(s.prefix_mass, d.prefix_mass, n, s.stream);
    to_device(s.mass, d.mass, n, s.stream);
    to_device(s.column_offset, d.column_offset, f.packed ? 0 : n + 1, s.stream);
    to_device(s.column_cdf, d.column_cdf, view.column_cdf_size, s.stream);
    to_device(s.column_block_offset, d.column_block_offset, f.packed ? n + 1 : 0, s.stream);
    to_device(s.column_block_cum, d.column_block_cum, view.column_block_cum_size, s.stream);
    d.packed_rows = s.packed_rows.get();
  }
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

WalkKernels::~WalkKernels() { destroy_on_its_device(impl_); }

std::vector<uint64_t> WalkKernels::run(const WalkRun& run) {
  Impl& s = *impl_;
  const int n = s.chain.forward ? s.chain.forward_arrays.n : s.chain.backward.n;
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
