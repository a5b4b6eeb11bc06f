// The CUDA twin of the proxy metrics (worker/metrics_kernels.hpp; the CPU reference is
// worker/metrics.cpp). One block per (head h, answer token t) in both kernels:
//   answer_rows: a_t = softmax(q_t·[K; K_ans(<=t)]ᵀ/√d) in double (each logit one thread's
//     sequential dot, as the CPU), the prompt and answer masses, o = a_t·[V; V_ans] and the
//     answer keys' part of it, and the top-k prompt keys (k rounds of a block arg-max under
//     metric_terms::attends_before, a total order: the set equals the CPU's partial_sort);
//   keep_rows: for one keep-set, kept mass and o_S over the kept keys, then the row's terms
//     (metric_terms::row_terms, the CPU's own function) and its top-k hits.
// Every reduction has a fixed order (block trees, lanes combined in lane order) and there are
// no atomics: repeated runs are bit-identical. Against the CPU the values differ by rounding
// only (summation order of the masses and outputs, the device exp): relative ~1e-15; so two
// keys within that of each other at the k-th place of the top-k can swap, moving top_hit by 1.
#include <cuda_runtime.h>

#include <cmath>
#include <stdexcept>

#include "kernels/cuda/device_buffer.cuh"
#include "worker/metrics_kernels.hpp"

namespace ckv::cuda {

namespace {

constexpr int kTargetThreads = 256;

struct AnswerParams {
  int H, G, d, n, m, k;
  double scale;  // 1/√d
  const float *k_prompt, *v_prompt, *q_answer, *k_answer, *v_answer;
  double* attention;      // [H m (n+m)]
  double* output;         // [H m d]
  double* answer_output;  // [H m d]
  double* prompt_mass;    // [H m]
  double* answer_mass;    // [H m]
  int* top;               // [H m k]
};

struct KeepParams {
  int H, G, d, n, m, k, sets;
  const double *attention, *output, *answer_output, *prompt_mass, *answer_mass;
  const int* top;
  const float* v_prompt;
  const int* set_offset;  // [sets + 1]
  const int* set_index;   // the sets, concatenated
  AnswerRowTerms* rows;   // [H m]
};

// A fixed-shape tree over the block (any blockDim): the same order on every run.
template <class Op>
__device__ double block_reduce(double x, double* scratch, Op op) {
  const int tid = threadIdx.x;
  scratch[tid] = x;
  __syncthreads();
  for (int width = blockDim.x; width > 1;) {
    const int half = (width + 1) / 2;
    if (tid < width - half) scratch[tid] = op(scratch[tid], scratch[tid + half]);
    __syncthreads();
    width = half;
  }
  const double result = scratch[0];
  __syncthreads();
  return result;
}

struct Sum {
  __device__ double operator()(double a, double b) const { return add_rn(a, b); }
};
struct Max {
  __device__ double operator()(double a, double b) const { return fmax(a, b); }
};

// Σ over j in [0, count) (j ≡ lane mod lanes) of weight(j)·value(j)[c], thread (lane, c);
// the lanes combined in lane order through `scratch` ([lanes·d]); valid for lane 0.
template <class Weight, class Row>
__device__ double lane_weighted_sum(int count, int d, int lanes, double* scratch, Weight weight,
                                    Row row) {
  const int tid = threadIdx.x, c = tid % d, lane = tid / d;
  double acc = 0.0;
  if (lane < lanes)
    for (int j = lane; j < count; j += lanes) acc = add_rn(acc, mul_rn(weight(j), double(row(j)[c])));
  if (lane < lanes) scratch[tid] = acc;
  __syncthreads();
  double total = 0.0;
  if (lane == 0)
    for (int l = 0; l < lanes; ++l) total = add_rn(total, scratch[l * d + c]);
  __syncthreads();
  return total;
}

__global__ void __launch_bounds__(1024) answer_rows_kernel(AnswerParams p) {
  extern __shared__ double shared[];  // [blockDim] doubles, then [blockDim] ints
  double* scratch = shared;
  int* index_scratch = reinterpret_cast<int*>(shared + blockDim.x);
  const int ht = blockIdx.x, h = ht / p.m, t = ht % p.m, g = h / (p.H / p.G);
  const int tid = threadIdx.x, threads = blockDim.x;
  const int lanes = threads / p.d;
  double* a = p.attention + size_t(ht) * (p.n + p.m);
  const float* q = p.q_answer + size_t(ht) * p.d;
  const int len = p.n + t + 1;  // prompt keys, then answer keys u <= t
  auto key = [&](int j) {
    return j < p.n ? p.k_prompt + (size_t(g) * p.n + j) * p.d
                   : p.k_answer + (size_t(g) * p.m + (j - p.n)) * p.d;
  };

  double local_max = -INFINITY;
  for (int j = tid; j < len; j += threads) {
    const float* kj = key(j);
    double s = 0.0;
    for (int c = 0; c < p.d; ++c) s = add_rn(s, mul_rn(double(q[c]), double(kj[c])));
    a[j] = mul_rn(s, p.scale);
    local_max = fmax(local_max, a[j]);
  }
  const double max_logit = block_reduce(local_max, scratch, Max{});
  double local_total = 0.0;
  for (int j = tid; j < len; j += threads) {
    a[j] = exp(sub_rn(a[j], max_logit));
    local_total = add_rn(local_total, a[j]);
  }
  const double total = block_reduce(local_total, scratch, Sum{});
  double local_prompt = 0.0, local_answer = 0.0;
  for (int j = tid; j < len; j += threads) {
    a[j] = div_rn(a[j], total);
    if (j < p.n) local_prompt = add_rn(local_prompt, a[j]);
    else local_answer = add_rn(local_answer, a[j]);
  }
  const double prompt_mass = block_reduce(local_prompt, scratch, Sum{});
  const double answer_mass = block_reduce(local_answer, scratch, Sum{});  // syncs: a[] visible

  const double o_prompt = lane_weighted_sum(
      p.n, p.d, lanes, scratch, [&](int j) { return a[j]; },
      [&](int j) { return p.v_prompt + (size_t(g) * p.n + j) * p.d; });
  if (tid < p.d) {  // lane 0: the answer keys in order, as the CPU
    const int c = tid;
    double o_answer = 0.0;
    for (int u = 0; u <= t; ++u)
      o_answer = add_rn(o_answer, mul_rn(a[p.n + u], double(p.v_answer[(size_t(g) * p.m + u) * p.d + c])));
    p.answer_output[size_t(ht) * p.d + c] = o_answer;
    p.output[size_t(ht) * p.d + c] = add_rn(o_prompt, o_answer);
  }
  if (tid == 0) {
    p.prompt_mass[ht] = prompt_mass;
    p.answer_mass[ht] = answer_mass;
  }

  // Top-k: round r picks the best key after the previous pick in the total order.
  double previous_value = 0.0;
  int previous = -1;
  for (int r = 0; r < p.k; ++r) {
    double best_value = 0.0;
    int best = -1;
    for (int j = tid; j < p.n; j += threads) {
      if (previous >= 0 && !metric_terms::attends_before(previous_value, previous, a[j], j)) continue;
      if (best < 0 || metric_terms::attends_before(a[j], j, best_value, best)) best_value = a[j], best = j;
    }
    scratch[tid] = best_value;
    index_scratch[tid] = best;
    __syncthreads();
    for (int width = threads; width > 1;) {
      const int half = (width + 1) / 2;
      if (tid < width - half) {
        const int other = index_scratch[tid + half];
        if (other >= 0 && (index_scratch[tid] < 0 ||
                           metric_terms::attends_before(scratch[tid + half], other, scratch[tid],
                                                        index_scratch[tid]))) {
          scratch[tid] = scratch[tid + half];
          index_scratch[tid] = other;
        }
      }
      __syncthreads();
      width = half;
    }
    previous_value = scratch[0];
    previous = index_scratch[0];
    if (tid == 0) p.top[size_t(ht) * p.k + r] = previous;
    __syncthreads();
  }
}

__global__ void __launch_bounds__(1024) keep_rows_kernel(KeepParams p) {
  extern __shared__ double shared[];  // [blockDim] scratch, then [d] o_S
  double* scratch = shared;
  double* o_kept = shared + blockDim.x;
  const int ht = blockIdx.x, h = ht / p.m, g = h / (p.H / p.G);
  const int tid = threadIdx.x, threads = blockDim.x, lanes = threads / p.d;
  const int set = p.sets == p.H ? h : g;
  const int* keep = p.set_index + p.set_offset[set];
  const int size = p.set_offset[set + 1] - p.set_offset[set];
  const double* a = p.attention + size_t(ht) * (p.n + p.m);

  double local_mass = 0.0;
  for (int i = tid; i < size; i += threads) local_mass = add_rn(local_mass, a[keep[i]]);
  const double kept_mass = block_reduce(local_mass, scratch, Sum{});
  const double o_part = lane_weighted_sum(
      size, p.d, lanes, scratch, [&](int i) { return a[keep[i]]; },
      [&](int i) { return p.v_prompt + (size_t(g) * p.n + keep[i]) * p.d; });
  if (tid < p.d) o_kept[tid] = add_rn(p.answer_output[size_t(ht) * p.d + tid], o_part);
  double local_hits = 0.0;
  for (int i = tid; i < p.k; i += threads)
    local_hits += metric_terms::in_sorted(keep, size, p.top[size_t(ht) * p.k + i]) ? 1.0 : 0.0;
  const double hits = block_reduce(local_hits, scratch, Sum{});  // syncs: o_kept visible
  if (tid == 0) {
    const metric_terms::RowTerms terms = metric_terms::row_terms(
        kept_mass, p.prompt_mass[ht], p.answer_mass[ht], o_kept, p.output + size_t(ht) * p.d, p.d);
    AnswerRowTerms out;
    out.recall = terms.recall;
    out.error = terms.error;
    out.top_hit = int(hits);
    out.undefined_error = terms.undefined_error;
    p.rows[ht] = out;
  }
}

int block_threads(int d) { return d * (d >= kTargetThreads ? 1 : kTargetThreads / d); }

}  // namespace

struct AnswerAttentionDevice::Impl {
  int device = 0;  // where the buffers and the stream live
  AnswerLayerView shape;
  cudaStream_t stream = nullptr;
  DeviceArray<float> k_prompt, v_prompt, q_answer, k_answer, v_answer;
  DeviceArray<double> attention, output, answer_output, prompt_mass, answer_mass;
  DeviceArray<int> top;
  int threads = 0;
  ~Impl() { destroy_stream(stream); }
};

AnswerAttentionDevice::~AnswerAttentionDevice() { destroy_on_its_device(impl_); }

AnswerAttentionDevice::AnswerAttentionDevice(const AnswerLayerView& layer) : impl_(std::make_unique<Impl>()) {
  if (layer.m < 1 || layer.n < 1 || layer.d < 1 || layer.d > 1024 || layer.k < 1 || layer.k > layer.n ||
      layer.G < 1 || layer.H % layer.G != 0)
    throw std::invalid_argument("AnswerAttentionDevice: unsupported layer shape (m, n, k >= 1, k <= n, d <= 1024, H % G == 0)");
  Impl& s = *impl_;
  CKV_CUDA_CHECK(cudaGetDevice(&s.device));
  s.shape = layer;
  const size_t H = layer.H, G = layer.G, d = layer.d, n = layer.n, m = layer.m, k = layer.k;
  CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  s.k_prompt = upload(layer.k_prompt, G * n * d, s.stream);
  s.v_prompt = upload(layer.v_prompt, G * n * d, s.stream);
  s.q_answer = upload(layer.q_answer, H * m * d, s.stream);
  s.k_answer = upload(layer.k_answer, G * m * d, s.stream);
  s.v_answer = upload(layer.v_answer, G * m * d, s.stream);
  s.attention = DeviceArray<double>(H * m * (n + m));
  s.output = DeviceArray<double>(H * m * d);
  s.answer_output = DeviceArray<double>(H * m * d);
  s.prompt_mass = DeviceArray<double>(H * m);
  s.answer_mass = DeviceArray<double>(H * m);
  s.top = DeviceArray<int>(H * m * k);
  s.threads = block_threads(layer.d);

  AnswerParams p{layer.H, layer.G, layer.d, layer.n, layer.m, layer.k, 1.0 / std::sqrt(double(layer.d)),
                 s.k_prompt.get(), s.v_prompt.get(), s.q_answer.get(), s.k_answer.get(), s.v_answer.get(),
                 s.attention.get(), s.output.get(), s.answer_output.get(), s.prompt_mass.get(),
                 s.answer_mass.get(), s.top.get()};
  // Entries past a row's n + t + 1 stay 0, as the CPU's rows.
  CKV_CUDA_CHECK(cudaMemsetAsync(s.attention.get(), 0, s.attention.size() * sizeof(double), s.stream));
  const size_t shared = size_t(s.threads) * (sizeof(double) + sizeof(int));
  answer_rows_kernel<<<unsigned(H * m), s.threads, shared, s.stream>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

std::vector<AnswerRowTerms> AnswerAttentionDevice::rows(const std::vector<std::vector<int>>& keep) const {
  const Impl& s = *impl_;
  DeviceScope scope(s.device);
  const AnswerLayerView& l = s.shape;
  const int sets = int(keep.size());
  if (sets != l.G && sets != l.H)
    throw std::invalid_argument("AnswerAttentionDevice::rows: one keep-set per KV head or per query head");
  // The kernel indexes attention rows and V by the kept positions and searches the sets: an
  // index outside [0, n) or an unsorted set would read out of bounds or count wrongly.
  for (const auto& set : keep)
    for (size_t i = 0; i < set.size(); ++i)
      if (set[i] < 0 || set[i] >= l.n || (i > 0 && set[i] <= set[i - 1]))
        throw std::invalid_argument("AnswerAttentionDevice::rows: keep-sets must be sorted, unique and in [0, n)");
  std::vector<int> offset(sets + 1, 0), index;
  for (int i = 0; i < sets; ++i) {
    offset[i + 1] = offset[i] + int(keep[i].size());
    index.insert(index.end(), keep[i].begin(), keep[i].end());
  }
  DeviceArray<int> d_offset = upload(offset.data(), offset.size(), s.stream);
  DeviceArray<int> d_index = upload(index.data(), index.size(), s.stream);
  const size_t rows = size_t(l.H) * l.m;
  DeviceArray<AnswerRowTerms> d_rows(rows);
  KeepParams p{l.H, l.G, l.d, l.n, l.m, l.k, sets, s.attention.get(), s.output.get(),
               s.answer_output.get(), s.prompt_mass.get(), s.answer_mass.get(), s.top.get(),
               s.v_prompt.get(), d_offset.get(), d_index.get(), d_rows.get()};
  const size_t shared = size_t(s.threads + l.d) * sizeof(double);
  keep_rows_kernel<<<unsigned(rows), s.threads, shared, s.stream>>>(p);
  CKV_CUDA_CHECK_LAUNCH();
  std::vector<AnswerRowTerms> out(rows);
  CKV_CUDA_CHECK(cudaMemcpyAsync(out.data(), d_rows.get(), rows * sizeof(AnswerRowTerms),
                                 cudaMemcpyDeviceToHost, s.stream));
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));  // before the temporaries are freed
  return out;
}

AnswerAttentionDevice::Download AnswerAttentionDevice::download() const {
  const Impl& s = *impl_;
  DeviceScope scope(s.device);
  Download out;
  auto get = [&](auto& host, const auto& device) {
    host.resize(device.size());
    CKV_CUDA_CHECK(cudaMemcpyAsync(host.data(), device.get(), device.size() * sizeof(host[0]),
                                   cudaMemcpyDeviceToHost, s.stream));
  };
  get(out.attention, s.attention);
  get(out.output, s.output);
  get(out.answer_output, s.answer_output);
  get(out.prompt_mass, s.prompt_mass);
  get(out.answer_mass, s.answer_mass);
  get(out.top, s.top);
  CKV_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  return out;
}

}  // namespace ckv::cuda
