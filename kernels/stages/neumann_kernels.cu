// CUDA twin of NeumannSeries (neumann_kernels.hpp). One iteration is four launches on the
// series' stream, both series (QI, HI) side by side in blockIdx.y:
//   1. prefix suffix sums: one block per series, thread t scans prefix chunk t
//      (neumann_step.hpp: chunk sums, carries in chunk order by thread 0, chunk scans);
//   2. columns: one thread per position j computes (Qᵀx)[j] (dense or packed rows in
//      ascending order), the new term γ·y and the partial sum, exactly as the CPU;
//   3. max |term|: one block per series, strided then a shared-memory tree of max (exact in
//      any order);
//   4. the host reads the two maxima and applies the stop rule (docs/spec/METHODS.md step 3).
// No atomics, so repeated runs are bit-identical.
#include <cuda_runtime.h>

#include <stdexcept>
#include <utility>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/stages/attention_kernels.hpp"  // blocks_for
#include "kernels/stages/neumann_kernels.hpp"

namespace ckv::cuda {

namespace {

constexpr int kColumnThreads = 256;
constexpr int kMaxThreads = 1024;

__global__ void series_start_kernel(NeumannStepParams p, double* term_qi, double* term_hi) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= p.n) return;
  term_qi[j] = p.sum[0][j] = series_start_qi(p.n, p.sink, j);
  term_hi[j] = p.sum[1][j] = series_start_hi(p.n, p.sink, j);
}

__global__ void prefix_suffix_kernel(NeumannStepParams p) {
  __shared__ double chunk_sum[kPrefixChunks];
  __shared__ double carry[kPrefixChunks];
  const int series = blockIdx.y;
  const TransposeArrays& a = p.graph[series];
  const int ws = a.packed ? 0 : a.window_start;
  if (ws == 0) return;  // no prefix rows (uniform across the block: no barrier is skipped)
  const int t = threadIdx.x;
  int begin, end;
  prefix_chunk(ws, kPrefixChunks, t, begin, end);
  chunk_sum[t] = prefix_chunk_sum(a, p.x[series], p.sink, begin, end);
  __syncthreads();
  if (t == 0) chunk_carries(chunk_sum, kPrefixChunks, carry);
  __syncthreads();
  prefix_chunk_scan(a, p.x[series], p.sink, begin, end, carry[t], p.suffix[series]);
}

__global__ void column_kernel(NeumannStepParams p) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int series = blockIdx.y;
  if (j >= p.n) return;
  const double y = q_transpose_column(p.graph[series], p.x[series], p.sink, p.suffix[series], j);
  const double term = series_term(y, p.gamma);
  p.y[series][j] = term;
  p.sum[series][j] = series_sum(p.sum[series][j], term);
}

__global__ void max_abs_kernel(NeumannStepParams p) {
  __shared__ double part[kMaxThreads];
  const int series = blockIdx.y;
  double m = 0.0;
  for (int j = threadIdx.x; j < p.n; j += blockDim.x) m = max_abs_step(m, p.y[series][j]);
  part[threadIdx.x] = m;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) part[threadIdx.x] = max_abs_step(part[threadIdx.x], part[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x == 0) p.max_abs[series] = part[0];
}

}  // namespace

struct NeumannKernels::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  NeumannStepParams params;  // graph arrays and buffers; x/y swapped every iteration
  DeviceArray<double> g[2], prefix_scale[2], dense[2];
  DeviceArray<float> packed[2];
  DeviceArray<double> term_a[2], term_b[2], sum[2], suffix[2], max_abs;
  double* current[2] = {nullptr, nullptr};  // term_a or term_b: the terms of k
  double* next[2] = {nullptr, nullptr};
  int k = 0;
  bool stopped = false;

  ~Impl() { destroy_stream(stream); }  // the body runs before the arrays are freed

  void synchronize() { CKV_CUDA_CHECK(cudaStreamSynchronize(stream)); }
};

NeumannKernels::NeumannKernels(const NeumannSeriesView& view) : impl_(std::make_unique<Impl>()) {
  const int n = view.graph[0].n;
  if (n <= 0 || view.graph[1].n != n || view.sink < 0)
    throw std::invalid_argument("NeumannKernels: QI and HI graphs of different sizes");
  Impl& s = *impl_;
  CKV_CUDA_CHECK(cudaGetDevice(&s.device));
  CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  NeumannStepParams& p = s.params;
  p.n = n;
  p.sink = view.sink < n ? view.sink : n;
  p.gamma = view.gamma;
  for (int series = 0; series < 2; ++series) {
    const TransposeArrays& host = view.graph[series];
    TransposeArrays& a = p.graph[series];
    a = host;
    if (host.packed) {
      s.packed[series] = upload(host.packed_rows, view.packed_size[series], s.stream);
      a.packed_rows = s.packed[series].get();
      a.g = a.prefix_scale = a.dense = nullptr;
    } else {
      s.g[series] = upload(host.g, size_t(n), s.stream);
      s.prefix_scale[series] = upload(host.prefix_scale, size_t(n), s.stream);
      s.dense[series] = upload(host.dense, view.dense_size[series], s.stream);
      a.g = s.g[series].get();
      a.prefix_scale = s.prefix_scale[series].get();
      a.dense = s.dense[series].get();
      a.packed_rows = nullptr;
    }
    s.term_a[series] = DeviceArray<double>(size_t(n));
    s.term_b[series] = DeviceArray<double>(size_t(n));
    s.sum[series] = DeviceArray<double>(size_t(n));
    s.suffix[series] = DeviceArray<double>(size_t(n));
    p.sum[series] = s.sum[series].get();
    p.suffix[series] = s.suffix[series].get();
  }
  s.max_abs = DeviceArray<double>(2);
  p.max_abs = s.max_abs.get();
  restart();
}

NeumannKernels::~NeumannKernels() { destroy_on_its_device(impl_); }

void NeumannKernels::restart() {
  DeviceScope scope(impl_->device);
  Impl& s = *impl_;
  NeumannStepParams& p = s.params;
  for (int series = 0; series < 2; ++series) {
    s.current[series] = s.term_a[series].get();
    s.next[series] = s.term_b[series].get();
  }
  series_start_kernel<<<blocks_for(p.n, kColumnThreads), kColumnThreads, 0, s.stream>>>(
      p, s.term_a[0].get(), s.term_a[1].get());
  CKV_CUDA_CHECK_LAUNCH();
  s.synchronize();
  s.k = 0;
  s.stopped = p.n <= p.sink;  // no transient node: both series are 0
}

void NeumannKernels::advance(int K) {
  DeviceScope scope(impl_->device);
  Impl& s = *impl_;
  NeumannStepParams& p = s.params;
  while (s.k < K && !s.stopped) {
    for (int series = 0; series < 2; ++series) {
      p.x[series] = s.current[series];
      p.y[series] = s.next[series];
    }
    prefix_suffix_kernel<<<dim3(1, 2), kPrefixChunks, 0, s.stream>>>(p);
    CKV_CUDA_CHECK_LAUNCH();
    column_kernel<<<dim3(blocks_for(p.n, kColumnThreads), 2), kColumnThreads, 0, s.stream>>>(p);
    CKV_CUDA_CHECK_LAUNCH();
    max_abs_kernel<<<dim3(1, 2), kMaxThreads, 0, s.stream>>>(p);
    CKV_CUDA_CHECK_LAUNCH();
    double max_abs[2] = {0.0, 0.0};
    CKV_CUDA_CHECK(cudaMemcpyAsync(max_abs, p.max_abs, sizeof max_abs, cudaMemcpyDeviceToHost,
                                   s.stream));
    s.synchronize();
    for (int series = 0; series < 2; ++series)  // the new terms become the current ones
      std::swap(s.current[series], s.next[series]);
    ++s.k;
    // The term just added is counted; the series then stops (NeumannSeries::advance).
    if (max_abs[0] < kSeriesStopTolerance && max_abs[1] < kSeriesStopTolerance) s.stopped = true;
  }
}

int NeumannKernels::terms() const { return impl_->k; }
bool NeumannKernels::stopped() const { return impl_->stopped; }

void NeumannKernels::sums(std::vector<double>& qi, std::vector<double>& hi) {
  DeviceScope scope(impl_->device);
  Impl& s = *impl_;
  const size_t n = size_t(s.params.n);
  qi.resize(n);
  hi.resize(n);
  CKV_CUDA_CHECK(cudaMemcpyAsync(qi.data(), s.params.sum[0], n * sizeof(double),
                                 cudaMemcpyDeviceToHost, s.stream));
  CKV_CUDA_CHECK(cudaMemcpyAsync(hi.data(), s.params.sum[1], n * sizeof(double),
                                 cudaMemcpyDeviceToHost, s.stream));
  s.synchronize();
}

}  // namespace ckv::cuda
