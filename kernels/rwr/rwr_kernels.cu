// CUDA twin of rwr (rwr_kernels.hpp). Per head, on the twin's own stream:
//   1. unit rows of Q (the head's) and K (its KV head's);
//   2. top-k cutoff per row i (one block per row): the cosines to the earlier keys j < i − window
//      in a scratch row, then a radix selection on their IEEE bits (eight byte passes, integer
//      histograms) finds the k-th candidate in rwr_math.hpp's order (value descending, ties to
//      the lower position) as (cut_value, cut_index);
//   3. the out-edges of every row (warp per row: top-k members, then the band) and the in-edges
//      of every column (warp per column: the band, then the rows whose top k hold it), each
//      counted, scanned and written in ascending position order with warp ballots, cosines
//      recomputed (the same function, the same bits);
//   4. P = D⁻¹W by rows and the same entries by columns, or the reversible walk: rows merged
//      with columns, S = W + Wᵀ, P_rev = S / row total;
//   5. saliency: one thread per position and step, gathering its column (forward) or row
//      (backward) in ascending order.
// Counts use integer atomics in shared memory (order-independent); no float atomics, every
// floating-point sum in the CPU's order.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/rwr/rwr_kernels.hpp"
#include "kernels/rwr/rwr_math.hpp"

namespace ckv::cuda {

namespace {

using rwr::cosine;

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr int kCutoffBlocks = 256;  // rows in flight in the cutoff kernel (scratch rows)
constexpr int kScanThreads = 1024;

struct GraphParams {
  const float* qn = nullptr;  // [n, d] unit query rows of the head
  const float* kn = nullptr;  // [n, d] unit key rows of its KV head
  int n = 0, d = 0, window = 0, topk = 0;
  double threshold = 0.0;
  double* scratch = nullptr;  // [kCutoffBlocks, n]
  double* cut_value = nullptr;
  int* cut_index = nullptr;
  int* topk_count = nullptr;
};

__global__ void unit_rows_kernel(const float* rows, int n, int d, float* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) rwr::unit_row(rows + size_t(i) * d, d, out + size_t(i) * d);
}

// One block per row (grid-stride): rwr::topk_cutoff_serial's passes, parallel over positions.
__global__ void topk_cutoff_kernel(GraphParams p) {
  __shared__ unsigned histogram[256];
  __shared__ int candidates;
  __shared__ unsigned long long shared_rank;
  __shared__ uint64_t shared_prefix;
  double* c_row = p.scratch + size_t(blockIdx.x) * p.n;
  for (int i = blockIdx.x; i < p.n; i += gridDim.x) {
    const int lo = max(0, i - p.window);
    const float* q = p.qn + size_t(i) * p.d;
    if (threadIdx.x == 0) candidates = 0;
    __syncthreads();
    int mine = 0;
    for (int j = threadIdx.x; j < lo; j += blockDim.x) {
      const double c = cosine(q, p.kn + size_t(j) * p.d, p.d);
      c_row[j] = c;
      mine += c > p.threshold;
    }
    atomicAdd(&candidates, mine);
    __syncthreads();
    const int m = candidates;
    if (p.topk <= 0 || m == 0 || m <= p.topk) {
      if (threadIdx.x == 0) {
        const bool none = p.topk <= 0 || m == 0;
        p.cut_value[i] = none ? INFINITY : rwr::kTakeAll;
        p.cut_index[i] = none ? -1 : lo;
        p.topk_count[i] = none ? 0 : m;
      }
      __syncthreads();  // `candidates` is reset by the next row
      continue;
    }
    if (threadIdx.x == 0) {
      shared_rank = (unsigned long long)p.topk;
      shared_prefix = 0;
    }
    uint64_t mask = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
      for (int b = threadIdx.x; b < 256; b += blockDim.x) histogram[b] = 0;
      __syncthreads();
      const uint64_t prefix = shared_prefix;
      for (int j = threadIdx.x; j < lo; j += blockDim.x) {
        const double c = c_row[j];
        const uint64_t key = rwr::cosine_key(c);
        if (c > p.threshold && (key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 255u], 1u);
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        unsigned long long rank = shared_rank;
        shared_prefix = prefix | (uint64_t(rwr::select_digit(histogram, rank)) << shift);
        shared_rank = rank;
      }
      mask |= uint64_t(255) << shift;
      __syncthreads();
    }
    const double cut = rwr::key_cosine(shared_prefix);
    if (threadIdx.x < 32) {
      // The rank-th tie in position order (warp 0 scans 32 positions at a time).
      unsigned long long rank = shared_rank;
      for (int base = 0; base < lo; base += 32) {
        const int j = base + int(threadIdx.x);
        const bool tie = j < lo && c_row[j] > p.threshold && c_row[j] == cut;
        unsigned ballot = __ballot_sync(0xffffffffu, tie);
        const unsigned count = unsigned(__popc(ballot));
        if (rank <= count) {
          for (unsigned long long r = 1; r < rank; ++r) ballot &= ballot - 1;  // drop lower ties
          if (threadIdx.x == 0) {
            p.cut_value[i] = cut;
            p.cut_index[i] = base + __ffs(int(ballot)) - 1;
            p.topk_count[i] = p.topk;
          }
          break;
        }
        rank -= count;
      }
    }
    __syncthreads();
  }
}

// Ordered compaction in a warp: lane takes `take`; returns its slot from `offset`, advances it.
__device__ __forceinline__ int warp_slot(bool take, int& offset) {
  const unsigned ballot = __ballot_sync(0xffffffffu, take);
  const unsigned lane = threadIdx.x & 31u;
  const int slot = offset + __popc(ballot & ((1u << lane) - 1u));
  offset += __popc(ballot);
  return slot;
}

struct EdgeList {
  const int* start = nullptr;  // fill mode: [n + 1]; count mode: nullptr
  int* count = nullptr;        // count mode: [n]
  int* index = nullptr;
  double* value = nullptr;
};

// Warp per row i: its out-edges in column order: top-k members j < lo, then the band [lo, hi].
__global__ void row_edges_kernel(GraphParams p, EdgeList out) {
  const int i = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (i >= p.n) return;  // whole warps leave together
  const int lane = threadIdx.x & 31;
  const bool fill = out.start != nullptr;
  const float* q = p.qn + size_t(i) * p.d;
  const int lo = max(0, i - p.window), hi = min(p.n - 1, i + p.window);
  int offset = fill ? out.start[i] : p.topk_count[i];
  if (fill && p.topk_count[i] > 0) {
    const double cut_value = p.cut_value[i];
    const int cut_index = p.cut_index[i];
    for (int base = 0; base < lo; base += 32) {
      const int j = base + lane;
      double c = 0.0;
      bool take = false;
      if (j < lo) {
        c = cosine(q, p.kn + size_t(j) * p.d, p.d);
        take = c > p.threshold && rwr::topk_member(c, j, cut_value, cut_index);
      }
      const int slot = warp_slot(take, offset);
      if (take) {
        out.index[slot] = j;
        out.value[slot] = c;
      }
    }
  }
  for (int base = lo; base <= hi; base += 32) {
    const int j = base + lane;
    double c = 0.0;
    bool take = false;
    if (j <= hi) {
      c = cosine(q, p.kn + size_t(j) * p.d, p.d);
      take = c > p.threshold;
    }
    const int slot = warp_slot(take, offset);
    if (fill && take) {
      out.index[slot] = j;
      out.value[slot] = c;
    }
  }
  if (!fill && lane == 0) out.count[i] = offset;
}

// Warp per column j: its in-edges in row order: the band rows [j − window, j + window], then the
// rows i > j + window whose top k hold j.
__global__ void column_edges_kernel(GraphParams p, EdgeList out) {
  const int j = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (j >= p.n) return;
  const int lane = threadIdx.x & 31;
  const bool fill = out.start != nullptr;
  const float* k = p.kn + size_t(j) * p.d;
  const int lo = max(0, j - p.window), hi = min(p.n - 1, j + p.window);
  int offset = fill ? out.start[j] : 0;
  for (int base = lo; base < p.n; base += 32) {
    const int i = base + lane;
    double c = 0.0;
    bool take = false;
    if (i < p.n && (i <= hi || p.topk_count[i] > 0)) {
      c = cosine(p.qn + size_t(i) * p.d, k, p.d);
      take = c > p.threshold && (i <= hi || rwr::topk_member(c, j, p.cut_value[i], p.cut_index[i]));
    }
    const int slot = warp_slot(take, offset);
    if (fill && take) {
      out.index[slot] = i;
      out.value[slot] = c;
    }
  }
  if (!fill && lane == 0) out.count[j] = offset;
}

// start[0..n] = exclusive prefix sums of count[0..n) (integers: exact in any order).
__global__ void exclusive_scan_kernel(const int* count, int n, int* start) {
  __shared__ int chunk_total[kScanThreads];
  const int t = threadIdx.x;
  const int length = (n + kScanThreads - 1) / kScanThreads;
  const int begin = min(n, t * length), end = min(n, begin + length);
  int sum = 0;
  for (int j = begin; j < end; ++j) sum += count[j];
  chunk_total[t] = sum;
  __syncthreads();
  if (t == 0) {
    int acc = 0;
    for (int c = 0; c < kScanThreads; ++c) {
      const int total = chunk_total[c];
      chunk_total[c] = acc;
      acc += total;
    }
    start[n] = acc;
  }
  __syncthreads();
  int acc = chunk_total[t];
  for (int j = begin; j < end; ++j) {
    start[j] = acc;
    acc += count[j];
  }
}

// P = D⁻¹W on the rows; total[i] = D_i (rwr::row_total, column order).
__global__ void normalize_rows_kernel(int n, const int* start, double* value, double* total) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const double d = rwr::row_total(value, start[i], start[i + 1]);
  total[i] = d;
  for (int e = start[i]; e < start[i + 1]; ++e) value[e] = rwr::normalized(value[e], d);
}

// The same entries of P by columns: W[i, j] / D_i.
__global__ void normalize_columns_kernel(int n, const int* start, const int* index,
                                         const double* row_total, double* value) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  for (int e = start[j]; e < start[j + 1]; ++e)
    value[e] = rwr::normalized(value[e], row_total[index[e]]);
}

// The symmetrised row i: out-edges (W[i, ·], by column) merged with in-edges (W[·, i], by row);
// a node in both gets W[i, c] + W[c, i]. Count mode when `start` is null.
__global__ void merge_kernel(int n, EdgeList rows, EdgeList columns, EdgeList out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int a = rows.start[i], b = columns.start[i];
  const int a_end = rows.start[i + 1], b_end = columns.start[i + 1];
  const bool fill = out.start != nullptr;
  int slot = fill ? out.start[i] : 0;
  while (a < a_end || b < b_end) {
    int node;
    double s;
    if (b == b_end || (a < a_end && rows.index[a] < columns.index[b])) {
      node = rows.index[a];
      s = rows.value[a++];
    } else if (a == a_end || columns.index[b] < rows.index[a]) {
      node = columns.index[b];
      s = columns.value[b++];
    } else {
      node = rows.index[a];
      s = rwr::symmetric_weight(rows.value[a++], columns.value[b++]);
    }
    if (fill) {
      out.index[slot] = node;
      out.value[slot] = s;
    }
    ++slot;
  }
  if (!fill) out.count[i] = slot;
}

// P_rev[i, c] = S[i, c] / total_i by rows, and column i's entries P_rev[c, i] = S[i, c] / total_c
// (S is symmetric, so row i lists column i's support).
__global__ void normalize_reversible_kernel(int n, const int* start, const int* index,
                                            const double* symmetric, const double* total,
                                            double* row_value, double* column_value) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  for (int e = start[i]; e < start[i + 1]; ++e) {
    row_value[e] = rwr::normalized(symmetric[e], total[i]);
    column_value[e] = rwr::normalized(symmetric[e], total[index[e]]);
  }
}

__global__ void row_totals_kernel(int n, const int* start, const double* value, double* total) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) total[i] = rwr::row_total(value, start[i], start[i + 1]);
}

struct WalkParams {
  int n = 0;
  double alpha = 0.0;
  const int* start = nullptr;  // column (forward) or row (backward) lists
  const int* index = nullptr;
  const double* value = nullptr;
  const double* x = nullptr;
  double* y = nullptr;
  double* r = nullptr;
};

__global__ void restart_kernel(int n, double alpha, const double* e, double* x, double* r) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  x[j] = e[j];
  r[j] = rwr::restart_mass(alpha, e[j]);
}

// y[j] = Σ_i (1−α)·P[i, j]·x[i] over column j's rows in ascending order (zero inputs skipped,
// as the CPU's row loop), then r[j] += α·y[j].
__global__ void forward_step_kernel(WalkParams p) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= p.n) return;
  double acc = 0.0;
  for (int e = p.start[j]; e < p.start[j + 1]; ++e) {
    const double xi = p.x[p.index[e]];
    if (xi == 0.0) continue;
    acc = rwr::forward_flow(acc, p.alpha, p.value[e], xi);
  }
  p.y[j] = acc;
  p.r[j] = rwr::restart_accumulate(p.r[j], p.alpha, acc);
}

// y[i] = (1−α)·Σ_j P[i, j]·x[j] over row i in column order, then r[i] += α·y[i].
__global__ void backward_step_kernel(WalkParams p) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.n) return;
  double acc = 0.0;
  for (int e = p.start[i]; e < p.start[i + 1]; ++e)
    acc = rwr::backward_flow(acc, p.value[e], p.x[p.index[e]]);
  const double y = rwr::backward_finish(p.alpha, acc);
  p.y[i] = y;
  p.r[i] = rwr::restart_accumulate(p.r[i], p.alpha, y);
}

__global__ void mix_kernel(int n, double beta, double* forward, const double* backward) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < n) forward[j] = rwr::reciprocal_mix(beta, forward[j], backward[j]);
}

// One head's transitions: rows (backward) and columns (forward) of P in ascending order.
struct HeadTransitions {
  DeviceArray<int> row_start, row_index, column_start, column_index;
  DeviceArray<double> row_value, column_value;
  // The reversible walk lists column i's support in row i: columns share the row arrays.
  const int* columns_start() const { return column_start.size() ? column_start.get() : row_start.get(); }
  const int* columns_index() const { return column_index.size() ? column_index.get() : row_index.get(); }
};

}  // namespace

struct RwrKernels::Impl {
  int device = 0;
  // Its own stream: the transitions may outlive the LayerKernels they were built from (both
  // sit in the context's memo).
  cudaStream_t stream = nullptr;
  int H = 0, n = 0;
  std::vector<HeadTransitions> heads;

  ~Impl() { destroy_stream(stream); }  // the body runs before the arrays are freed

  void check_launch() { CKV_CUDA_CHECK_LAUNCH(); }
  void synchronize() { CKV_CUDA_CHECK(cudaStreamSynchronize(stream)); }
  void download(void* host, const void* device_data, size_t bytes) {
    if (bytes > 0)
      CKV_CUDA_CHECK(cudaMemcpyAsync(host, device_data, bytes, cudaMemcpyDeviceToHost, stream));
    synchronize();
  }

  // Counts → start (on the device) and the total, which sizes the lists (read back).
  int scan(const DeviceArray<int>& count, DeviceArray<int>& start) {
    start = DeviceArray<int>(size_t(n) + 1);
    exclusive_scan_kernel<<<1, kScanThreads, 0, stream>>>(count.get(), n, start.get());
    check_launch();
    int total = 0;
    download(&total, start.get() + n, sizeof total);  // waits
    return total;
  }
};

RwrKernels::RwrKernels(LayerKernels& layer, const RwrGraphOptions& options)
    : impl_(std::make_unique<Impl>()) {
  DeviceScope scope(layer.device());
  const LayerShape& in = layer.shape();
  if (in.r != in.n) throw std::invalid_argument("RwrKernels: needs every query row (r == n)");
  Impl& s = *impl_;
  s.device = layer.device();
  CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  s.H = in.H;
  s.n = in.n;
  const int n = in.n, d = in.d;
  DeviceArray<float> qn(size_t(n) * d), kn(size_t(n) * d);
  DeviceArray<double> scratch(size_t(std::min(n, kCutoffBlocks)) * n), cut_value(n), totals(n);
  DeviceArray<int> cut_index(n), topk_count(n), count(n);
  GraphParams p;
  p.qn = qn.get();
  p.kn = kn.get();
  p.n = n;
  p.d = d;
  p.window = options.window;
  p.topk = options.topk;
  p.threshold = options.threshold;
  p.scratch = scratch.get();
  p.cut_value = cut_value.get();
  p.cut_index = cut_index.get();
  p.topk_count = topk_count.get();
  const unsigned per_thread = blocks_for(n, kThreads);
  const unsigned per_warp = blocks_for(n, kWarpsPerBlock);
  s.heads.resize(in.H);
  for (int h = 0; h < in.H; ++h) {
    const int g = h / (in.H / in.G);
    unit_rows_kernel<<<per_thread, kThreads, 0, s.stream>>>(
        layer.device_queries() + size_t(h) * in.r * d, n, d, qn.get());
    s.check_launch();
    unit_rows_kernel<<<per_thread, kThreads, 0, s.stream>>>(
        layer.device_keys() + size_t(g) * n * d, n, d, kn.get());
    s.check_launch();
    topk_cutoff_kernel<<<unsigned(std::min(n, kCutoffBlocks)), kThreads, 0, s.stream>>>(p);
    s.check_launch();

    // W by rows and by columns (raw cosines).
    HeadTransitions w;
    EdgeList counting;
    counting.count = count.get();
    row_edges_kernel<<<per_warp, kThreads, 0, s.stream>>>(p, counting);
    s.check_launch();
    const int row_edges = s.scan(count, w.row_start);
    w.row_index = DeviceArray<int>(size_t(row_edges));
    w.row_value = DeviceArray<double>(size_t(row_edges));
    EdgeList rows{w.row_start.get(), nullptr, w.row_index.get(), w.row_value.get()};
    row_edges_kernel<<<per_warp, kThreads, 0, s.stream>>>(p, rows);
    s.check_launch();
    column_edges_kernel<<<per_warp, kThreads, 0, s.stream>>>(p, counting);
    s.check_launch();
    const int column_edges = s.scan(count, w.column_start);
    w.column_index = DeviceArray<int>(size_t(column_edges));
    w.column_value = DeviceArray<double>(size_t(column_edges));
    EdgeList columns{w.column_start.get(), nullptr, w.column_index.get(), w.column_value.get()};
    column_edges_kernel<<<per_warp, kThreads, 0, s.stream>>>(p, columns);
    s.check_launch();

    if (!options.reversible) {
      normalize_rows_kernel<<<per_thread, kThreads, 0, s.stream>>>(n, w.row_start.get(),
                                                                   w.row_value.get(), totals.get());
      s.check_launch();
      normalize_columns_kernel<<<per_thread, kThreads, 0, s.stream>>>(
          n, w.column_start.get(), w.column_index.get(), totals.get(), w.column_value.get());
      s.check_launch();
      s.heads[h] = std::move(w);
      continue;
    }
    // Reversible (rwr_graph.hpp reversible_transition): S = W + Wᵀ, P_rev = S / row total.
    merge_kernel<<<per_thread, kThreads, 0, s.stream>>>(n, rows, columns, counting);
    s.check_launch();
    HeadTransitions rev;
    const int merged = s.scan(count, rev.row_start);
    rev.row_index = DeviceArray<int>(size_t(merged));
    DeviceArray<double> symmetric{size_t(merged)};
    EdgeList out{rev.row_start.get(), nullptr, rev.row_index.get(), symmetric.get()};
    merge_kernel<<<per_thread, kThreads, 0, s.stream>>>(n, rows, columns, out);
    s.check_launch();
    row_totals_kernel<<<per_thread, kThreads, 0, s.stream>>>(n, rev.row_start.get(),
                                                             symmetric.get(), totals.get());
    s.check_launch();
    rev.row_value = DeviceArray<double>(size_t(merged));
    rev.column_value = DeviceArray<double>(size_t(merged));
    normalize_reversible_kernel<<<per_thread, kThreads, 0, s.stream>>>(
        n, rev.row_start.get(), rev.row_index.get(), symmetric.get(), totals.get(),
        rev.row_value.get(), rev.column_value.get());
    s.check_launch();
    s.synchronize();  // before `w` and `symmetric` are freed
    s.heads[h] = std::move(rev);
  }
  s.synchronize();  // before the scratch arrays are freed
}

RwrKernels::~RwrKernels() { destroy_on_its_device(impl_); }

std::vector<std::vector<double>> RwrKernels::scores(const std::vector<double>& restart,
                                                    double alpha, int steps, double beta) {
  Impl& s = *impl_;
  if (int(restart.size()) != s.n) throw std::invalid_argument("RwrKernels: restart vector size");
  DeviceScope scope(s.device);
  const int n = s.n;
  const unsigned blocks = blocks_for(n, kThreads);
  const DeviceArray<double> e = upload(restart.data(), restart.size(), s.stream);
  DeviceArray<double> x(n), y(n), r(n), x_back(n), y_back(n), r_back(n);
  std::vector<std::vector<double>> out(s.H);
  for (int h = 0; h < s.H; ++h) {
    const HeadTransitions& t = s.heads[h];
    auto walk = [&](bool forward, DeviceArray<double>& xa, DeviceArray<double>& ya,
                    DeviceArray<double>& ra) {
      restart_kernel<<<blocks, kThreads, 0, s.stream>>>(n, alpha, e.get(), xa.get(), ra.get());
      s.check_launch();
      double* cur = xa.get();
      double* next = ya.get();
      for (int step = 1; step <= steps; ++step) {
        WalkParams w;
        w.n = n;
        w.alpha = alpha;
        w.start = forward ? t.columns_start() : t.row_start.get();
        w.index = forward ? t.columns_index() : t.row_index.get();
        w.value = forward ? t.column_value.get() : t.row_value.get();
        w.x = cur;
        w.y = next;
        w.r = ra.get();
        if (forward)
          forward_step_kernel<<<blocks, kThreads, 0, s.stream>>>(w);
        else
          backward_step_kernel<<<blocks, kThreads, 0, s.stream>>>(w);
        s.check_launch();
        std::swap(cur, next);
      }
    };
    walk(true, x, y, r);
    if (beta < 1.0) {
      walk(false, x_back, y_back, r_back);
      mix_kernel<<<blocks, kThreads, 0, s.stream>>>(n, beta, r.get(), r_back.get());
      s.check_launch();
    }
    out[h].resize(n);
    s.download(out[h].data(), r.get(), size_t(n) * sizeof(double));  // waits
  }
  return out;
}

}  // namespace ckv::cuda
