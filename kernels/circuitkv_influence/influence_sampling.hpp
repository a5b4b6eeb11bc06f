// The deciding logic of the circuitkv_influence walkers (docs/spec/METHODS.md "CircuitKV:
// influence walker"), one __host__ __device__ implementation for run_walkers
// (influence_walker.cpp) and the CUDA kernel (influence_kernels.cu): the Philox draw of
// (seed, stream, walker, step), the start position, the explore decision and the inverse-CDF
// search on the packed transition rows. The CPU tests therefore exercise the code the GPU runs,
// and the device's integer visit counts equal run_walkers' by construction.
// Plain C++17 with no project header that pulls in fmt (nvcc compiles it; kernels/cuda/README.md).
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/philox.hpp"
#include "kernels/stages/chain_sampling.hpp"  // mul_rn, CKV_HD

namespace ckv::influence {

// Philox stream of the influence walkers ("INFL"), apart from the other methods' streams.
constexpr uint32_t kInfluenceStream = 0x494E464Cu;

// One transition table (TransitionTable::arrays(); host vector or device copy): row pos in
// [sink, n) holds the running sums of w_j, j in [sink, pos], as floats at packed offset
// r(r+1)/2, r = pos − sink.
struct InfluenceTableArrays {
  int n = 0, sink = 0;
  const float* cdf = nullptr;  // [(n − sink)(n − sink + 1) / 2]
};

CKV_HD inline size_t influence_row_offset(int r) { return size_t(r) * size_t(r + 1) / 2; }

// The next position from pos (>= sink) for u in [0, 1): the first j with cdf[j] > u·total.
// Rounding may make u·total equal the total (u close to 1), and a row whose weights all
// underflowed (T = 0.01: (1e-10)^100 = 0) has total 0: both end at the last entry, the self
// loop j = pos, never outside the row.
CKV_HD inline int influence_sample(const InfluenceTableArrays& t, int pos, double u) {
  const int r = pos - t.sink;
  const float* cdf = t.cdf + influence_row_offset(r);
  const int len = r + 1;
  const double target = mul_rn(u, double(cdf[len - 1]));
  int lo = 0, hi = len - 1;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (double(cdf[mid]) > target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return t.sink + lo;
}

// Everything per run that a walker's path depends on besides the tables.
struct InfluenceWalkRun {
  long long walkers = 0;          // N (< 2^32: the Philox walker counter)
  long long explore_walkers = 0;  // the last ones explore (explore_walkers(), host: std::floor)
  int sink = 0, query = 0;        // s and q = n − 1, q >= s
  int max_steps = 0;              // S
  uint64_t seed = 0;
  uint32_t stream = kInfluenceStream;
};

// Walker w starts at q when w < ⌊N/2⌋ (seed 000 §3, v1.0.6 multi-source).
CKV_HD inline bool influence_starts_at_query(long long walker, long long walkers) {
  return walker < walkers / 2;
}
// The last explore_walkers walkers walk at the exploration temperature (public v1.0.8).
CKV_HD inline bool influence_explores(long long walker, const InfluenceWalkRun& run) {
  return walker >= run.walkers - run.explore_walkers;
}
// A random-start walker's position from step 0's second uniform: uniform in [s, q].
CKV_HD inline int influence_start(long long walker, const InfluenceWalkRun& run, double u1) {
  if (influence_starts_at_query(walker, run.walkers)) return run.query;
  const int span = run.query - run.sink;
  const int offset = int(mul_rn(u1, double(span + 1)));
  return run.sink + (offset < span ? offset : span);
}

// Walker w's path: visit(pos) for the landing of every step (the start is not counted,
// v1.0.4). Step 0's second uniform places random-start walkers; step t's first uniform draws
// the move of step t.
template <class Visit>
CKV_HD inline void influence_walk(const InfluenceTableArrays& table,
                                  const InfluenceTableArrays& explore_table,
                                  const InfluenceWalkRun& run, long long w, Visit& visit) {
  const InfluenceTableArrays& rows = influence_explores(w, run) ? explore_table : table;
  WalkDraw draw = philox_walk_draw(run.seed, run.stream, uint32_t(w), 0u);
  int pos = influence_start(w, run, draw.u1);
  for (int step = 0; step < run.max_steps; ++step) {
    if (step > 0) draw = philox_walk_draw(run.seed, run.stream, uint32_t(w), uint32_t(step));
    pos = influence_sample(rows, pos, draw.u0);
    visit(pos);
  }
}

}  // namespace ckv::influence
