// The CUDA twin of circuitkv_influence's Monte Carlo (influence_kernels.hpp/.cu): run_walkers
// on the device, counts bit-identical to the CPU's. Compiled only with CUDA.
#include "kernels/circuitkv_influence/influence_kernels.hpp"
#include "kernels/circuitkv_influence/influence_walker.hpp"

namespace ckv::influence {

std::shared_ptr<const cuda::InfluenceTableKernels> upload_table(const TransitionTable& table) {
  return std::make_shared<const cuda::InfluenceTableKernels>(table.arrays(), table.size());
}

// run_walkers' twin: the same early return (nowhere to walk), then one launch.
std::vector<long long> run_walkers_cuda(const cuda::InfluenceTableKernels& table,
                                        const cuda::InfluenceTableKernels& explore_table,
                                        const WalkerOptions& options) {
  const int n = table.n(), s = options.sink, q = n - 1;
  if (q < s || options.walkers <= 0) return std::vector<long long>(n, 0);
  CKV_CHECK(options.walkers <= 4294967296LL,
            "circuitkv_influence: walkers = {} exceed the Philox walker index range",
            options.walkers);
  CKV_CHECK(table.sink() == s && explore_table.sink() == s,
            "circuitkv_influence: tables built for another sink (internal error)");
  const std::vector<uint64_t> counts = table.run(explore_table, walk_run(options, n));
  return std::vector<long long>(counts.begin(), counts.end());
}

}  // namespace ckv::influence
