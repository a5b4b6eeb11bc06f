// The CUDA twin of rc's walks (rc_walker.hpp, run_walks): one thread per walk running rc_walk
// (rc_sampling.hpp, the same __host__ __device__ code as the CPU), then a fixed-order reduction
// of the visits into the four accumulators, so every total is bit-identical to run_walks':
//   - plain visits, first visits, and the visits of every mode but hitting_time are sums of
//     1.0 (exact in any order);
//   - hitting_time's (S − t)/S and absorption_speed's 1/(1 + Δ) are double sums whose rounding
//     depends on the order. run_walks adds them in walker order, t ascending, per position. The
//     device replays that order: the visits of a chunk of walks, listed walker-major, are
//     stably sorted by position (CUB radix sort), and one thread per position adds its run in
//     that order with record_visit (round-to-nearest intrinsics, no FMA), continuing from the
//     previous chunk's totals.
//
// On the device: the walks (draws, sources, temperatures, searches, absorption), the sort and
// the accumulation. On the host: the top-k graph (build_sparse_graph, from the head-reduced
// matrix, which is on the host already) and the rows' CDFs (SparseTransitions): w^(1/T) uses
// pow, and CUDA's pow is not libm's to the last bit, so device-built CDFs would move samples.
// Uploaded per run: [n, top_k] neighbours and one CDF per temperature used (n·k, not n²). Only
// the four [n] totals come back; the scores are formed on the host (mode_score, H2O).
// Plain C++ (nvcc compiles the implementation; the project's fmt does not build under nvcc).
// Only defined in builds with CUDA (CKV_HAVE_CUDA).
#pragma once
#include <vector>

#include "kernels/rc/rc_sampling.hpp"

namespace ckv::cuda {

// Host views of the rows a run reads (`high` and `low` only with run.temp_mix; `single`
// otherwise). All three share n, top_k, degree and neighbors.
struct RcRowsView {
  rc::SparseRowsArrays single, high, low;
};

// WalkTotals' four accumulators, [n] each.
struct RcTotals {
  std::vector<double> visits, plain_visits, first_visits, speed;
};

// run.sources are host pointers; 1 <= run.walks <= 2^32, run.max_steps >= 1. Runs on the
// calling thread's current device and returns after it finished.
RcTotals run_rc_walks(const RcRowsView& rows, const rc::RcWalkRun& run, bool hitting_time);

}  // namespace ckv::cuda
