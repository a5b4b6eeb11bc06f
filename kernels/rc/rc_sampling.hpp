// The deciding logic of the rc walkers (docs/spec/METHODS.md "RC and add-ons", seed 004), one
// __host__ __device__ implementation for run_walks (rc_walker.cpp) and the CUDA kernels
// (rc_kernels.cu): the Philox draw of (seed, stream, walker, step), the source and temperature
// of a walker, the inverse-CDF search on the sparse top-k rows, absorption at the sinks, and the
// per-visit bookkeeping of the four accumulators (the mode weights). The CPU tests therefore
// exercise the code the GPU runs.
// Plain C++17 with no project header that pulls in fmt (nvcc compiles it; kernels/cuda/README.md).
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/philox.hpp"
#include "kernels/stages/chain_sampling.hpp"  // add_rn, div_rn, mul_rn, upper_bound_index

namespace ckv::rc {

// One temperature's sampling rows over the top-k graph (SparseTransitions::arrays(); host
// vectors or device copies): row i keeps degree[i] neighbours, best first, with the running
// sums of w^(1/T) in `cdf`.
struct SparseRowsArrays {
  int n = 0, top_k = 0;
  const int* degree = nullptr;     // [n]
  const int* neighbors = nullptr;  // [n, top_k]
  const double* cdf = nullptr;     // [n, top_k]
};

// Next position from i for u in [0, 1), or -1 at a dead end: an empty row (row 0) or one whose
// kept weights all underflowed (seed 004 divides by max(Σ, 1e-8): no valid transition). A
// target rounded up to the total (u close to 1) takes the last kept neighbour.
CKV_HD inline int sparse_sample(const SparseRowsArrays& g, int i, double u) {
  const int k = g.degree[i];
  if (k == 0) return -1;
  const double* cdf = g.cdf + size_t(i) * size_t(g.top_k);
  const double total = cdf[k - 1];
  if (!(total > 0.0)) return -1;
  const long long t = upper_bound_index(cdf, k, mul_rn(u, total));
  return g.neighbors[size_t(i) * size_t(g.top_k) + size_t(t < k - 1 ? t : k - 1)];
}

// Everything per run that a walk depends on besides the rows.
struct RcWalkRun {
  long long walks = 0;  // walkers per source × sources (walker ids < 2^32: the Philox counter)
  int max_steps = 0;    // S: positions recorded per walk, the start included
  int sink = 0;         // positions < sink absorb
  bool temp_mix = false;
  const int* sources = nullptr;  // walk w starts at sources[w % source_count]
  int source_count = 0;
  uint64_t seed = 0;
  uint32_t stream = 0;
};

// The rows walk w follows: seed 004 temp_mix gives even ids the high temperature, odd ids the
// low one (with an even |sources| each source keeps one temperature, as in the seed).
CKV_HD inline const SparseRowsArrays& walk_rows(const SparseRowsArrays& single,
                                                const SparseRowsArrays& high,
                                                const SparseRowsArrays& low, const RcWalkRun& run,
                                                long long w) {
  return !run.temp_mix ? single : (w % 2 == 0 ? high : low);
}

// Walk w: records its positions at path[t · stride], t = 0, 1, ..., and returns how many (the
// length, <= S). It stops after recording a sink (absorbed = true) or at a dead end.
CKV_HD inline int rc_walk(const SparseRowsArrays& single, const SparseRowsArrays& high,
                          const SparseRowsArrays& low, const RcWalkRun& run, long long w,
                          int* path, long long stride, bool& absorbed) {
  const SparseRowsArrays& rows = walk_rows(single, high, low, run, w);
  int pos = run.sources[w % (long long)run.source_count];
  int steps = 0;
  absorbed = false;
  for (int step = 0; step < run.max_steps; ++step) {
    path[(long long)steps * stride] = pos;
    ++steps;
    if (pos < run.sink) {
      absorbed = true;
      break;
    }
    const double u = philox_walk_draw(run.seed, run.stream, uint32_t(w), uint32_t(step)).u0;
    const int next = sparse_sample(rows, pos, u);
    if (next < 0) break;  // dead end (row 0 when s = 0)
    pos = next;
  }
  return steps;
}

// The accumulators of one position (WalkTotals' entries j; on the device, one thread's).
struct NodeTotalsRef {
  double& visits;
  double& plain_visits;
  double& first_visits;
  double& speed;
  long long& last_walk;  // the last walk that visited the position (-1: none yet)
};

// The visit at step t of walk `walk` (length len, absorbed or not). The sums must be added in
// walker order, t ascending, for a given position: that order is the CPU's, and the device's
// sorted reduction replays it (rc_kernels.cu), so the doubles agree to the bit.
//   visits: the mode's weight, (S − t)/S for hitting_time (early visits count more), else 1;
//   first_visits: escape_prob, walks that visit the position at least once;
//   speed: absorption_speed, 1/(1 + Δ), Δ = steps from this visit to the recorded sink visit.
CKV_HD inline void record_visit(const NodeTotalsRef& node, long long walk, int t, int len,
                                bool absorbed, bool hitting_time, int max_steps) {
  node.plain_visits = add_rn(node.plain_visits, 1.0);
  node.visits = add_rn(node.visits, hitting_time
                                        ? div_rn(double(max_steps - t), double(max_steps))
                                        : 1.0);
  if (node.last_walk != walk) {
    node.last_walk = walk;
    node.first_visits = add_rn(node.first_visits, 1.0);
  }
  if (absorbed) node.speed = add_rn(node.speed, div_rn(1.0, double(1 + (len - 1 - t))));
}

}  // namespace ckv::rc
