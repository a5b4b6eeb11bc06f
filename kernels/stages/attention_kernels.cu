// CUDA twins of LayerContext's attention stages (docs/spec/METHODS.md "Attention inputs").
// Determinism: every reduction has a fixed order (sequential per thread, xor-butterfly within a
// warp, then warps in index order); no atomics. Row max and Σ exp are fp32 like the CPU path
// (online, with fmaf); column sums accumulate in double, rows interleaved over 8 warps and the
// warps added in order: deterministic, but not the CPU's summation order (equal to rounding).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/cuda/kernel_params.hpp"
#include "kernels/stages/attention_kernels.hpp"

namespace ckv::cuda {

namespace {

constexpr int kWarps = 8;  // query rows per block (one per warp)
constexpr int kThreads = kWarps * 32;
constexpr int kKeyTile = 32;  // keys per shared-memory tile (one per lane)

__device__ __forceinline__ const float* query_row(const AttentionParams& p, int h, int pos) {
  return p.q + h * p.q_head_stride + int64_t(pos - (p.n - p.r)) * p.q_row_stride;
}

__device__ __forceinline__ const float* key_row(const AttentionParams& p, int g, int j) {
  return p.k + g * p.k_head_stride + int64_t(j) * p.k_row_stride;
}

// Keys [j0, j0 + kKeyTile) of KV head g into shared memory, row pitch d + 1 (so lane l reading
// row l hits bank (l * (d + 1) + c) % 32: conflict-free); keys at or past `end` read as zero.
__device__ void load_key_tile(const AttentionParams& p, int g, int j0, int end, float* tile) {
  for (int e = threadIdx.x; e < kKeyTile * p.d; e += blockDim.x) {
    const int t = e / p.d, c = e % p.d;
    tile[t * (p.d + 1) + c] = j0 + t < end ? key_row(p, g, j0 + t)[c] : 0.0f;
  }
}

// Query rows of positions first_pos + w (w < kWarps) of head h into shared memory; rows at or
// past position n read as zero.
__device__ void load_query_rows(const AttentionParams& p, int h, int first_pos, float* tile) {
  for (int e = threadIdx.x; e < kWarps * p.d; e += blockDim.x) {
    const int w = e / p.d, c = e % p.d;
    const int pos = first_pos + w;
    tile[e] = pos < p.n ? query_row(p, h, pos)[c] : 0.0f;
  }
}

// q·k in index order (the CPU's order; fma contraction differs by rounding only).
__device__ __forceinline__ float dot(const float* q, const float* k, int d) {
  float acc = 0.0f;
  for (int c = 0; c < d; ++c) acc = fmaf(q[c], k[c], acc);
  return acc;
}

// Xor butterflies: every lane ends with the same value (IEEE + and max are commutative).
__device__ __forceinline__ float warp_max(float x) {
  for (int m = 16; m > 0; m >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, m));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int m = 16; m > 0; m >>= 1) x += __shfl_xor_sync(0xffffffffu, x, m);
  return x;
}

// Kernels over the processed rows run as blocks (row tile, head), one warp per query row: warp
// w of block x has row t = x·kWarps + w (active when t < rows), at query position i; the block
// reads keys [0, key_end), the keys its last row sees.
struct RowTile {
  int h, g, warp, lane, t, i, key_end;
  bool active;
};

__device__ __forceinline__ RowTile row_tile(const AttentionParams& p) {
  RowTile r;
  r.h = blockIdx.y;
  r.g = r.h / (p.H / p.G);
  r.warp = threadIdx.x / 32;
  r.lane = threadIdx.x % 32;
  r.t = blockIdx.x * kWarps + r.warp;
  r.active = r.t < p.rows;
  r.i = p.n - p.rows + r.t;  // query position of this warp's row
  const int last_t = min(p.rows, int(blockIdx.x) * kWarps + kWarps) - 1;
  r.key_end = p.n - p.rows + last_t + 1;
  return r;
}

// The block's query rows into shared memory, then its keys tile by tile: visit(j, s) for every
// key j <= i of the warp's row, s = q_i·k_j · scale; lane l takes the keys j ≡ l (mod 32), in
// increasing order, so the lanes' passes need no synchronisation among them.
template <class Visit>
__device__ __forceinline__ void for_each_causal_score(const AttentionParams& p, const RowTile& r, float* shared,
                                                      Visit visit) {
  float* q_tile = shared;
  float* k_tile = shared + kWarps * p.d;
  load_query_rows(p, r.h, p.n - p.rows + int(blockIdx.x) * kWarps, q_tile);
  for (int j0 = 0; j0 < r.key_end; j0 += kKeyTile) {
    __syncthreads();  // the previous tile is consumed (first pass: q_tile is written)
    load_key_tile(p, r.g, j0, r.key_end, k_tile);
    __syncthreads();
    const int j = j0 + r.lane;
    if (r.active && j <= r.i) visit(j, dot(q_tile + r.warp * p.d, k_tile + r.lane * (p.d + 1), p.d) * p.scale);
  }
}

// Window rows, materialised: the scores, then each row's softmax in place.
__global__ void window_attention_kernel(AttentionParams p) {
  extern __shared__ float shared[];
  const RowTile r = row_tile(p);
  float* out = p.attention + r.h * p.attention_head_stride + int64_t(r.active ? r.t : 0) * p.attention_row_stride;
  float lane_max = -INFINITY;
  for_each_causal_score(p, r, shared, [&](int j, float s) {
    out[j] = s;
    lane_max = fmaxf(lane_max, s);
  });
  if (!r.active) return;  // no block-wide barrier follows
  const float row_max = warp_max(lane_max);
  float lane_sum = 0.0f;
  for (int j = r.lane; j <= r.i; j += 32) {
    const float e = expf(out[j] - row_max);
    out[j] = e;
    lane_sum += e;
  }
  const float inv = 1.0f / warp_sum(lane_sum);
  for (int j = r.lane; j < p.n; j += 32) out[j] = j <= r.i ? out[j] * inv : 0.0f;
}

// Row max and 1 / Σ exp(s - max) of the processed rows without storing them: per lane an
// online (max, sum) pair, combined across lanes by butterflies.
__global__ void row_stats_kernel(AttentionParams p) {
  extern __shared__ float shared[];
  const RowTile r = row_tile(p);
  float m = -INFINITY, l = 0.0f;
  for_each_causal_score(p, r, shared, [&](int, float s) {
    if (s > m) {
      l = l * expf(m - s) + 1.0f;
      m = s;
    } else {
      l += expf(s - m);
    }
  });
  if (!r.active) return;
  const float row_max = warp_max(m);
  const float total = warp_sum(m == -INFINITY ? 0.0f : l * expf(m - row_max));
  if (r.lane == 0) {
    p.row_max[int64_t(r.h) * p.rows + r.t] = row_max;
    p.row_inv_sum[int64_t(r.h) * p.rows + r.t] = 1.0f / total;
  }
}

// Column sums without n×n memory: block (key tile, head) owns 32 columns and loops over the
// rows that can see them, recomputing A[h, i, j] = exp(s - max_i) · inv_i; warp w takes rows
// first + w, first + w + kWarps, ...; the warps' double partial sums are added in warp order.
__global__ void column_sums_kernel(AttentionParams p) {
  extern __shared__ float shared[];
  float* q_tile = shared;
  float* k_tile = shared + kWarps * p.d;
  __shared__ double partial[kWarps][kKeyTile];
  const int h = blockIdx.y, g = h / (p.H / p.G);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int j0 = blockIdx.x * kKeyTile;
  const int j = j0 + lane;
  const int row_begin = p.n - p.rows;
  load_key_tile(p, g, j0, p.n, k_tile);
  double acc = 0.0;
  for (int first = max(row_begin, j0); first < p.n; first += kWarps) {
    __syncthreads();  // k_tile loaded / previous q_tile consumed
    load_query_rows(p, h, first, q_tile);
    __syncthreads();
    const int i = first + warp;
    if (i < p.n && j < p.n && j <= i) {
      const int64_t stat = int64_t(h) * p.rows + (i - row_begin);
      const float s = dot(q_tile + warp * p.d, k_tile + lane * (p.d + 1), p.d) * p.scale;
      acc += double(expf(s - p.row_max[stat]) * p.row_inv_sum[stat]);
    }
  }
  partial[warp][lane] = acc;
  __syncthreads();
  if (warp == 0 && j < p.n) {
    double sum = 0.0;
    for (int w = 0; w < kWarps; ++w) sum += partial[w][lane];
    p.column_sums[int64_t(h) * p.n + j] = sum;
  }
}

// Device memory and device scoping: kernels/cuda/device_buffer.cuh.
template <class T>
using DeviceBuffer = DeviceArray<T>;

}  // namespace

struct LayerKernels::Impl {
  LayerShape input;
  int device = 0;
  cudaStream_t stream = nullptr;
  DeviceBuffer<float> q, k;
  std::map<int, DeviceBuffer<float>> window;  // window attention per rows, memoised
  // Scratch reused across calls (one thread uses a LayerKernels at a time), so repeated
  // scoring and the benchmark's timed calls allocate nothing.
  DeviceBuffer<float> scratch_window, scratch_row_max, scratch_row_inv;
  DeviceBuffer<double> scratch_sums;
  DeviceBuffer<unsigned char> workspaces[int(Workspace::count)];

  template <class T>
  static T* ensure(DeviceBuffer<T>& buffer, size_t count) {
    if (buffer.size() != count) {
      buffer = DeviceBuffer<T>();  // free first: peak memory stays one buffer
      buffer = DeviceBuffer<T>(count);
    }
    return buffer.get();
  }
  std::map<int, std::vector<std::vector<double>>> column_sums;

  ~Impl() { destroy_stream(stream); }  // the body runs before the buffers are freed

  AttentionParams params(int rows) const {
    AttentionParams p;
    p.q = q.get();
    p.k = k.get();
    p.H = input.H;
    p.G = input.G;
    p.d = input.d;
    p.n = input.n;
    p.r = input.r;
    p.q_row_stride = input.d;
    p.q_head_stride = int64_t(input.r) * input.d;
    p.k_row_stride = input.d;
    p.k_head_stride = int64_t(input.n) * input.d;
    p.scale = 1.0f / std::sqrt(float(input.d));
    p.rows = rows;
    return p;
  }

  size_t tile_bytes() const { return size_t(kWarps * input.d + kKeyTile * (input.d + 1)) * sizeof(float); }

  void synchronize() { CKV_CUDA_CHECK(cudaStreamSynchronize(stream)); }

  void launch_window_attention(int rows, float* out) {
    AttentionParams p = params(rows);
    p.attention = out;
    p.attention_row_stride = input.n;
    p.attention_head_stride = int64_t(rows) * input.n;
    const dim3 grid(blocks_for(rows, kWarps), unsigned(input.H));
    window_attention_kernel<<<grid, kThreads, tile_bytes(), stream>>>(p);
    CKV_CUDA_CHECK_LAUNCH();
  }

  // Window attention of the last `rows` rows on the device, memoised per rows.
  const DeviceBuffer<float>& window_attention(int rows) {
    auto it = window.find(rows);
    if (it != window.end()) return it->second;
    DeviceBuffer<float> buffer(size_t(input.H) * rows * input.n);
    launch_window_attention(rows, buffer.get());
    synchronize();
    return window.emplace(rows, std::move(buffer)).first->second;
  }

  void launch_column_sums(int rows, double* out) {
    AttentionParams p = params(rows);
    p.row_max = ensure(scratch_row_max, size_t(input.H) * rows);
    p.row_inv_sum = ensure(scratch_row_inv, size_t(input.H) * rows);
    p.column_sums = out;
    row_stats_kernel<<<dim3(blocks_for(rows, kWarps), unsigned(input.H)), kThreads, tile_bytes(),
                       stream>>>(p);
    CKV_CUDA_CHECK_LAUNCH();
    column_sums_kernel<<<dim3(blocks_for(input.n, kKeyTile), unsigned(input.H)), kThreads,
                         tile_bytes(), stream>>>(p);
    CKV_CUDA_CHECK_LAUNCH();
  }

  template <class T>
  std::vector<T> download(const T* device_data, size_t count) {
    std::vector<T> host(count);
    if (count > 0)
      CKV_CUDA_CHECK(cudaMemcpyAsync(host.data(), device_data, count * sizeof(T),
                                     cudaMemcpyDeviceToHost, stream));
    synchronize();
    return host;
  }
};

LayerKernels::LayerKernels(const LayerShape& in, const float* q, const float* k)
    : impl_(std::make_unique<Impl>()) {
  if (!(in.H > 0 && in.G > 0 && in.H % in.G == 0 && in.n > 0 && in.r > 0 && in.r <= in.n &&
        in.d > 0 && in.d <= kMaxHeadDim))
    throw std::invalid_argument("LayerKernels: unsupported layer shape");
  Impl& s = *impl_;
  s.input = in;
  CKV_CUDA_CHECK(cudaGetDevice(&s.device));
  CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  s.q = DeviceBuffer<float>(size_t(in.H) * in.r * in.d);
  s.k = DeviceBuffer<float>(size_t(in.G) * in.n * in.d);
  CKV_CUDA_CHECK(cudaMemcpyAsync(s.q.get(), q, s.q.size() * sizeof(float),
                                 cudaMemcpyHostToDevice, s.stream));
  CKV_CUDA_CHECK(cudaMemcpyAsync(s.k.get(), k, s.k.size() * sizeof(float),
                                 cudaMemcpyHostToDevice, s.stream));
  s.synchronize();
}

LayerKernels::~LayerKernels() { destroy_on_its_device(impl_); }

int LayerKernels::device() const { return impl_->device; }
const LayerShape& LayerKernels::shape() const { return impl_->input; }

void check_rows(const LayerShape& in, int rows, const char* what) {
  if (rows < 1 || rows > in.r)
    throw std::invalid_argument(std::string("LayerKernels: ") + what + " needs " +
                                std::to_string(rows) + " query rows, the layer holds " +
                                std::to_string(in.r));
}

unsigned blocks_for(long long elements, int threads) {
  return unsigned((elements + threads - 1) / threads);
}

void LayerKernels::run_window_attention(int rows) {
  DeviceScope scope(impl_->device);
  Impl& s = *impl_;
  check_rows(s.input, rows, "window attention");
  s.launch_window_attention(rows, s.ensure(s.scratch_window, size_t(s.input.H) * rows * s.input.n));
  s.synchronize();
}

void LayerKernels::run_column_sums(int rows) {
  DeviceScope scope(impl_->device);
  Impl& s = *impl_;
  check_rows(s.input, rows, "column sums");
  s.launch_column_sums(rows, s.ensure(s.scratch_sums, size_t(s.input.H) * s.input.n));
  s.synchronize();
}

std::vector<float> LayerKernels::window_attention(int rows) {
  DeviceScope scope(impl_->device);
  rows = std::min(rows, impl_->input.n);
  check_rows(impl_->input, rows, "window attention");
  const DeviceBuffer<float>& attention = impl_->window_attention(rows);
  return impl_->download(attention.get(), attention.size());
}

const std::vector<std::vector<double>>& LayerKernels::column_sums(int rows) {
  Impl& s = *impl_;
  const LayerShape& in = s.input;
  rows = std::min(rows, in.n);
  auto it = s.column_sums.find(rows);
  if (it != s.column_sums.end()) return it->second;
  DeviceScope scope(s.device);
  check_rows(in, rows, "column sums");
  double* sums = s.ensure(s.scratch_sums, size_t(in.H) * in.n);
  s.launch_column_sums(rows, sums);
  const std::vector<double> flat = s.download(sums, size_t(in.H) * in.n);
  std::vector<std::vector<double>> per_head(in.H);
  for (int h = 0; h < in.H; ++h)
    per_head[h].assign(flat.begin() + size_t(h) * in.n, flat.begin() + size_t(h + 1) * in.n);
  return s.column_sums.emplace(rows, std::move(per_head)).first->second;
}

const float* LayerKernels::device_keys() const { return impl_->k.get(); }
const float* LayerKernels::device_queries() const { return impl_->q.get(); }

const float* LayerKernels::device_window_attention(int rows) {
  rows = std::min(rows, impl_->input.n);
  check_rows(impl_->input, rows, "window attention");
  return impl_->window_attention(rows).get();
}

void LayerKernels::launch_window_attention(int rows, float* out) {
  check_rows(impl_->input, rows, "window attention");
  impl_->launch_window_attention(rows, out);
}

void* LayerKernels::stream() const { return impl_->stream; }

void LayerKernels::synchronize() { impl_->synchronize(); }

void* LayerKernels::workspace(Workspace purpose, size_t bytes) {
  DeviceBuffer<unsigned char>& buffer = impl_->workspaces[int(purpose)];
  if (buffer.size() < bytes) {
    buffer = DeviceBuffer<unsigned char>();  // free first: peak memory stays one buffer
    buffer = DeviceBuffer<unsigned char>(bytes);
  }
  return buffer.get();
}

void LayerKernels::download(void* host, const void* device_data, size_t bytes) {
  if (bytes > 0)
    CKV_CUDA_CHECK(cudaMemcpyAsync(host, device_data, bytes, cudaMemcpyDeviceToHost,
                                   impl_->stream));
  impl_->synchronize();
}

}  // namespace ckv::cuda
