// The CUDA twin of circuitkv_influence's Monte Carlo (influence_walker.hpp, run_walkers): one
// thread per walker running influence_walk (influence_sampling.hpp, the same __host__ __device__
// code as the CPU), visit counts by integer atomics, so the counts are bit-identical to
// run_walkers' on the same tables and seed.
//
// On the device: the transition tables' packed float rows (uploaded once per table), every
// draw, start, explore decision and search, the visit counts. On the host: the head-reduced
// matrix and the tables themselves (TransitionTable::build). Building the tables on the device
// would need pow(max(A, 1e-10), 1/T), and CUDA's pow is not libm's to the last bit: one float of
// a CDF that differs moves samples, so the counts would no longer be bit-identical. Only the
// [n] counts come back; the scores are formed on the host from them (influence_scores and the
// H2O rank, as on the CPU).
// Plain C++ (nvcc compiles the implementation; the project's fmt does not build under nvcc).
// Only defined in builds with CUDA (CKV_HAVE_CUDA).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/circuitkv_influence/influence_sampling.hpp"

namespace ckv::cuda {

class InfluenceTableKernels {
 public:
  // Uploads one table's packed rows (`size` floats) to the calling thread's current device.
  InfluenceTableKernels(const influence::InfluenceTableArrays& table, size_t size);
  ~InfluenceTableKernels();
  InfluenceTableKernels(const InfluenceTableKernels&) = delete;
  InfluenceTableKernels& operator=(const InfluenceTableKernels&) = delete;

  int n() const;
  int sink() const;

  // Σ over the run's walkers of the landings on each position [n]; exploring walkers read
  // `explore` (this table when the run has none). Returns after the device finished.
  std::vector<uint64_t> run(const InfluenceTableKernels& explore,
                            const influence::InfluenceWalkRun& run) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ckv::cuda
