// CUDA twin of rc's walks (rc_kernels.hpp). Per chunk of walks:
//   1. rc_walk_kernel: one thread per walk writes its positions walker-major into `keys`
//      (entry e = local·S + t; entries past the walk's length hold n, which sorts last) and e
//      into `order`;
//   2. a stable radix sort of (keys, order): each position's visits become one run, in (walk, t)
//      order, which is the order run_walks adds them in;
//   3. segment_kernel: the [begin, end) of every position's run;
//   4. accumulate_kernel: one thread per position adds its run with record_visit, continuing
//      from the totals of the previous chunks.
// Bit-identity with run_walks (rc_walker.cpp) rests on the same walk function and Philox draws,
// copies of the same CDFs, and the same sequence of round-to-nearest double additions per
// position. No float atomics anywhere.
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <stdexcept>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/rc/rc_kernels.hpp"

namespace ckv::cuda {

namespace {

constexpr int kRcThreads = 256;
// Visits listed per chunk (walks × S): keys, order and their sorted copies take 16 bytes each,
// 256 MiB at this size; entry indices stay below 2^32.
constexpr long long kChunkEntries = 1ll << 24;

// The plain structs crossing into the kernels (docs/spec/STYLE.md).
struct RcWalkParams {
  rc::SparseRowsArrays single, high, low;  // device pointers
  rc::RcWalkRun run;                       // run.sources on the device
  int n = 0;
  long long first_walk = 0;           // the chunk's first walk id
  int walks = 0;                      // walks in the chunk
  int* keys = nullptr;                // [walks · S]
  unsigned* order = nullptr;          // [walks · S]
  int* length = nullptr;              // [walks]
  unsigned char* absorbed = nullptr;  // [walks]
};

struct AccumulateParams {
  int n = 0, max_steps = 0;
  bool hitting_time = false;
  long long first_walk = 0;
  const unsigned* begin = nullptr;  // [n] run of position j in the sorted entries
  const unsigned* end = nullptr;
  const unsigned* order = nullptr;  // sorted entries: local · S + t
  const int* length = nullptr;
  const unsigned char* absorbed = nullptr;
  double *visits = nullptr, *plain_visits = nullptr, *first_visits = nullptr, *speed = nullptr;
  long long* last_walk = nullptr;
};

__global__ void rc_walk_kernel(RcWalkParams p) {
  const long long local = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (local >= p.walks) return;
  const int S = p.run.max_steps;
  int* path = p.keys + local * S;
  bool absorbed = false;
  const int len = rc::rc_walk(p.single, p.high, p.low, p.run, p.first_walk + local, path, 1,
                              absorbed);
  for (int t = len; t < S; ++t) path[t] = p.n;  // not a visit: sorts after every position
  for (int t = 0; t < S; ++t) p.order[local * S + t] = unsigned(local * S + t);
  p.length[local] = len;
  p.absorbed[local] = absorbed ? 1 : 0;
}

__global__ void segment_kernel(const int* sorted_keys, long long entries, int n, unsigned* begin,
                               unsigned* end) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= entries) return;
  const int key = sorted_keys[i];
  if (key >= n) return;
  if (i == 0 || sorted_keys[i - 1] != key) begin[key] = unsigned(i);
  if (i + 1 == entries || sorted_keys[i + 1] != key) end[key] = unsigned(i + 1);
}

__global__ void accumulate_kernel(AccumulateParams p) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= p.n) return;
  double visits = p.visits[j], plain = p.plain_visits[j], first = p.first_visits[j],
         speed = p.speed[j];
  long long last_walk = p.last_walk[j];
  const rc::NodeTotalsRef node{visits, plain, first, speed, last_walk};
  const unsigned S = unsigned(p.max_steps);
  const unsigned end = p.end[j];
  for (unsigned i = p.begin[j]; i < end; ++i) {
    const unsigned entry = p.order[i];
    const unsigned local = entry / S;
    rc::record_visit(node, p.first_walk + local, int(entry % S), p.length[local],
                     p.absorbed[local] != 0, p.hitting_time, p.max_steps);
  }
  p.visits[j] = visits;
  p.plain_visits[j] = plain;
  p.first_visits[j] = first;
  p.speed[j] = speed;
  p.last_walk[j] = last_walk;
}

// Bits of the sort keys: positions 0 .. n (n = not a visit).
int key_bits(int n) {
  int bits = 1;
  while (bits < 31 && (1ll << bits) <= n) ++bits;
  return bits;
}

unsigned grid(long long items) { return unsigned((items + kRcThreads - 1) / kRcThreads); }

class Stream {
 public:
  Stream() { CKV_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() { destroy_stream(stream_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

std::vector<double> download(const DeviceArray<double>& array, size_t n, cudaStream_t stream) {
  std::vector<double> host(n, 0.0);
  if (n > 0)
    CKV_CUDA_CHECK(cudaMemcpyAsync(host.data(), array.get(), n * sizeof(double),
                                   cudaMemcpyDeviceToHost, stream));
  return host;
}

}  // namespace

RcTotals run_rc_walks(const RcRowsView& rows, const rc::RcWalkRun& run, bool hitting_time) {
  const rc::SparseRowsArrays& host = rows.single;
  const int n = host.n, k = host.top_k, S = run.max_steps;
  if (n <= 0 || k <= 0 || run.walks < 1 || run.walks > 4294967296ll || S < 1 ||
      S > kChunkEntries || run.source_count < 1 || !run.sources)
    throw std::invalid_argument("run_rc_walks: bad walk run");
  if (run.temp_mix && (rows.high.n != n || rows.low.n != n || rows.high.top_k != k ||
                       rows.low.top_k != k || !rows.high.cdf || !rows.low.cdf))
    throw std::invalid_argument("run_rc_walks: temp_mix needs the high and low rows");
  for (int i = 0; i < run.source_count; ++i)
    if (run.sources[i] < 0 || run.sources[i] >= n)
      throw std::invalid_argument("run_rc_walks: source out of range");
  const Stream stream;
  const cudaStream_t st = stream.get();
  const size_t nk = size_t(n) * size_t(k);

  // The rows: one graph, one CDF per temperature the run reads.
  DeviceArray<int> degree = upload(host.degree, size_t(n), st);
  DeviceArray<int> neighbors = upload(host.neighbors, nk, st);
  DeviceArray<double> single_cdf, high_cdf, low_cdf;
  RcWalkParams walk;
  walk.single = walk.high = walk.low = host;
  if (run.temp_mix) {
    high_cdf = upload(rows.high.cdf, nk, st);
    low_cdf = upload(rows.low.cdf, nk, st);
    walk.high.cdf = high_cdf.get();
    walk.low.cdf = low_cdf.get();
    walk.single.cdf = high_cdf.get();  // never read
  } else {
    single_cdf = upload(host.cdf, nk, st);
    walk.single.cdf = walk.high.cdf = walk.low.cdf = single_cdf.get();
  }
  for (rc::SparseRowsArrays* r : {&walk.single, &walk.high, &walk.low}) {
    r->degree = degree.get();
    r->neighbors = neighbors.get();
  }
  DeviceArray<int> sources = upload(run.sources, size_t(run.source_count), st);
  walk.run = run;
  walk.run.sources = sources.get();
  walk.n = n;

  // Totals [n], carried across chunks; last_walk = -1 (all bits set).
  DeviceArray<double> visits(n), plain(n), first(n), speed(n);
  DeviceArray<long long> last_walk(n);
  for (const DeviceArray<double>* a : {&visits, &plain, &first, &speed})
    CKV_CUDA_CHECK(cudaMemsetAsync(a->get(), 0, size_t(n) * sizeof(double), st));
  CKV_CUDA_CHECK(cudaMemsetAsync(last_walk.get(), 0xFF, size_t(n) * sizeof(long long), st));

  // Per-chunk buffers, sized for the largest chunk.
  const long long chunk_walks = std::min<long long>(run.walks, std::max<long long>(1, kChunkEntries / S));
  const long long most_entries = chunk_walks * S;
  DeviceArray<int> keys(most_entries), sorted_keys(most_entries);
  DeviceArray<unsigned> order(most_entries), sorted_order(most_entries);
  DeviceArray<int> length(chunk_walks);
  DeviceArray<unsigned char> absorbed(chunk_walks);
  DeviceArray<unsigned> begin(n), end(n);
  const int end_bit = key_bits(n);
  // Keys are positions >= 0, sorted as unsigned (the same bits).
  unsigned* keys_in = reinterpret_cast<unsigned*>(keys.get());
  unsigned* keys_out = reinterpret_cast<unsigned*>(sorted_keys.get());
  size_t temp_bytes = 0;
  CKV_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out,
                                                 order.get(), sorted_order.get(),
                                                 int(most_entries), 0, end_bit, st));
  DeviceArray<unsigned char> temp(std::max<size_t>(temp_bytes, 1));

  AccumulateParams acc;
  acc.n = n;
  acc.max_steps = S;
  acc.hitting_time = hitting_time;
  acc.begin = begin.get();
  acc.end = end.get();
  acc.order = sorted_order.get();
  acc.length = length.get();
  acc.absorbed = absorbed.get();
  acc.visits = visits.get();
  acc.plain_visits = plain.get();
  acc.first_visits = first.get();
  acc.speed = speed.get();
  acc.last_walk = last_walk.get();

  for (long long first_walk = 0; first_walk < run.walks; first_walk += chunk_walks) {
    const long long walks = std::min(chunk_walks, run.walks - first_walk);
    const long long entries = walks * S;
    walk.first_walk = first_walk;
    walk.walks = int(walks);
    walk.keys = keys.get();
    walk.order = order.get();
    walk.length = length.get();
    walk.absorbed = absorbed.get();
    rc_walk_kernel<<<grid(walks), kRcThreads, 0, st>>>(walk);
    CKV_CUDA_CHECK_LAUNCH();
    size_t bytes = 0;  // the last chunk may be shorter: ask again rather than assume
    CKV_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys_in, keys_out, order.get(),
                                                   sorted_order.get(), int(entries), 0, end_bit,
                                                   st));
    if (bytes > temp.size()) temp = DeviceArray<unsigned char>(bytes);
    bytes = temp.size();
    CKV_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.get(), bytes, keys_in, keys_out,
                                                   order.get(), sorted_order.get(),
                                                   int(entries), 0, end_bit, st));
    CKV_CUDA_CHECK(cudaMemsetAsync(begin.get(), 0, size_t(n) * sizeof(unsigned), st));
    CKV_CUDA_CHECK(cudaMemsetAsync(end.get(), 0, size_t(n) * sizeof(unsigned), st));
    segment_kernel<<<grid(entries), kRcThreads, 0, st>>>(sorted_keys.get(), entries, n,
                                                         begin.get(), end.get());
    CKV_CUDA_CHECK_LAUNCH();
    acc.first_walk = first_walk;
    accumulate_kernel<<<grid(n), kRcThreads, 0, st>>>(acc);
    CKV_CUDA_CHECK_LAUNCH();
  }

  RcTotals totals;
  totals.visits = download(visits, size_t(n), st);
  totals.plain_visits = download(plain, size_t(n), st);
  totals.first_visits = download(first, size_t(n), st);
  totals.speed = download(speed, size_t(n), st);
  CKV_CUDA_CHECK(cudaStreamSynchronize(st));  // the arrays above are freed after this
  return totals;
}

}  // namespace ckv::cuda
