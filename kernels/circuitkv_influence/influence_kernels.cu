// CUDA twin of circuitkv_influence's Monte Carlo (influence_kernels.hpp). Bit-identity with
// run_walkers (influence_walker.cpp) rests on: the same walker function, influence_walk
// (influence_sampling.hpp), whose one double product per draw is mul_rn (no FMA contraction);
// the same Philox draw of (seed, stream, walker, step) (common/philox.hpp); copies of the same
// float tables; and unsigned 64-bit integer atomics for the counts, exact in any order.
#include <cuda_runtime.h>

#include <stdexcept>

#include "kernels/circuitkv_influence/influence_kernels.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"

namespace ckv::cuda {

namespace {

constexpr int kInfluenceThreads = 256;

static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "visit counters are 64-bit");

struct AtomicVisit {
  unsigned long long* visits;
  __device__ void operator()(int pos) const { atomicAdd(visits + pos, 1ull); }
};

// The plain struct crossing into the kernel (docs/spec/STYLE.md).
struct InfluenceKernelParams {
  influence::InfluenceTableArrays table, explore;  // device pointers
  influence::InfluenceWalkRun run;
  unsigned long long* visits = nullptr;  // [n], zeroed before the launch
};

// One thread per walker: run_walkers' loop body.
__global__ void influence_kernel(InfluenceKernelParams p) {
  const long long w = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (w >= p.run.walkers) return;
  AtomicVisit visit{p.visits};
  influence::influence_walk(p.table, p.explore, p.run, w, visit);
}

}  // namespace

struct InfluenceTableKernels::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  influence::InfluenceTableArrays table;  // device pointer to `cdf`
  DeviceArray<float> cdf;

  ~Impl() { destroy_stream(stream); }  // the body runs before the array is freed
};

InfluenceTableKernels::InfluenceTableKernels(const influence::InfluenceTableArrays& table,
                                             size_t size)
    : impl_(std::make_unique<Impl>()) {
  const int rows = table.n - table.sink;
  // n = sink (a layer no longer than its sinks) has no rows: nothing walks (run refuses).
  if (table.sink < 0 || rows < 0 || size != influence::influence_row_offset(rows) ||
      (size > 0 && !table.cdf))
    throw std::invalid_argument("InfluenceTableKernels: unsupported table shape");
  Impl& s = *impl_;
  CKV_CUDA_CHECK(cudaGetDevice(&s.device));
  CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  s.cdf = upload(table.cdf, size, s.stream);
  s.table = table;
  s.table.cdf = s.cdf.get();
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

InfluenceTableKernels::~InfluenceTableKernels() { destroy_on_its_device(impl_); }

int InfluenceTableKernels::n() const { return impl_->table.n; }
int InfluenceTableKernels::sink() const { return impl_->table.sink; }

std::vector<uint64_t> InfluenceTableKernels::run(const InfluenceTableKernels& explore,
                                                 const influence::InfluenceWalkRun& run) const {
  const Impl& s = *impl_;
  const int n = s.table.n;
  if (explore.n() != n || explore.sink() != s.table.sink || explore.impl_->device != s.device)
    throw std::invalid_argument("InfluenceTableKernels: tables of different shapes or devices");
  if (run.walkers < 1 || run.walkers > 4294967296ll || run.max_steps < 0 ||
      run.explore_walkers < 0 || run.explore_walkers > run.walkers || run.sink != s.table.sink ||
      run.query != n - 1 || run.query < run.sink)
    throw std::invalid_argument("InfluenceTableKernels: bad walker run");
  std::vector<uint64_t> visits(n, 0);
  DeviceScope scope(s.device);
  DeviceArray<unsigned long long> counts{size_t(n)};
  CKV_CUDA_CHECK(
      cudaMemsetAsync(counts.get(), 0, size_t(n) * sizeof(unsigned long long), s.stream));
  InfluenceKernelParams p;
  p.table = s.table;
  p.explore = explore.impl_->table;
  p.run = run;
  p.visits = counts.get();
  const unsigned blocks = unsigned((run.walkers + kInfluenceThreads - 1) / kInfluenceThreads);
  influence_kernel<<<blocks, kInfluenceThreads, 0, s.stream>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  CKV_CUDA_CHECK(cudaMemcpyAsync(visits.data(), counts.get(), size_t(n) * sizeof(uint64_t),
                                 cudaMemcpyDeviceToHost, s.stream));
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));  // `counts` is freed after this
  return visits;
}

}  // namespace ckv::cuda
