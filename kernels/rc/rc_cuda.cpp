// The CUDA twin of rc's walks (rc_kernels.hpp/.cu): run_walks on the device, every total
// bit-identical to the CPU's. Compiled only with CUDA.
#include <optional>

#include "kernels/rc/rc_kernels.hpp"
#include "kernels/rc/rc_walker.hpp"

namespace ckv::rc {

// run_walks' twin: the same early return and CDFs, the walks and sums on the device.
WalkTotals run_walks_cuda(const SparseGraph& graph, const std::vector<int>& sources, Mode mode,
                          const WalkOptions& options) {
  const int n = graph.n;
  WalkTotals totals;
  totals.visits.assign(n, 0.0);
  totals.plain_visits.assign(n, 0.0);
  totals.first_visits.assign(n, 0.0);
  totals.speed.assign(n, 0.0);
  // No walk records anything (max_steps = 0 records no position, as in run_walks).
  if (sources.empty() || options.walkers <= 0 || options.max_steps <= 0) return totals;
  const RcWalkRun run = walk_run(sources, mode, options);
  CKV_CHECK(run.walks <= 4294967296LL,
            "rc: {} walks exceed the Philox walker index range (2^32)", run.walks);
  // The rows the run reads: one temperature, or temp_mix's two.
  std::optional<SparseTransitions> single, high, low;
  cuda::RcRowsView rows;
  if (run.temp_mix) {
    high.emplace(graph, options.mix_high);
    low.emplace(graph, options.mix_low);
    rows.single = rows.high = high->arrays();
    rows.low = low->arrays();
  } else {
    single.emplace(graph, options.temperature);
    rows.single = rows.high = rows.low = single->arrays();
  }
  cuda::RcTotals device = cuda::run_rc_walks(rows, run, mode == Mode::HittingTime);
  totals.visits = std::move(device.visits);
  totals.plain_visits = std::move(device.plain_visits);
  totals.first_visits = std::move(device.first_visits);
  totals.speed = std::move(device.speed);
  return totals;
}

}  // namespace ckv::rc
