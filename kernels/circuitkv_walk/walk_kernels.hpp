// The CUDA twin of circuitkv_walk's Monte Carlo (kernels/circuitkv_walk/walk_chain.hpp,
// run_walkers): one thread per walker, the same Philox draw per (seed, stream, walker, step),
// the same inverse-CDF search on the same arrays (kernels/stages/chain_sampling.hpp, one
// __host__ __device__ implementation for both), integer visit counts. The counts are therefore
// bit-identical to run_walkers on the same chain and seed.
// Plain C++ (nvcc compiles the implementation; the project's fmt does not build under nvcc).
// Only defined in builds with CUDA (CKV_HAVE_CUDA).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/stages/chain_sampling.hpp"

namespace ckv::cuda {

// Host views of one chain's sampling arrays (kernels/stages/chain_sampling.hpp) and the sizes
// of those that are not [n]-shaped; only the arrays of the chain's direction are read.
struct WalkChainView {
  bool forward = false;
  BackwardChainArrays backward;       // AttentionGraph::arrays()
  ForwardChainArrays forward_arrays;  // ForwardChain::arrays()
  size_t dense_cdf_size = 0, packed_size = 0, row_block_cum_size = 0;
  size_t column_cdf_size = 0, column_block_cum_size = 0;
};

// One run of walkers on an uploaded chain (walk_chain.hpp: WalkChain, WalkOptions).
struct WalkRun {
  std::vector<int> sources;
  std::vector<unsigned char> absorbing;  // [n]
  long long walkers = 0;                 // 1 .. 2^32 - 1
  int steps = 0;
  uint64_t seed = 0;
  uint32_t stream = 0;  // walk_stream(direction, steps)
  bool count_start = false;
};

// circuitkv_walk (docs/spec/METHODS.md "CircuitKV: absorbing random walks"): one absorbing
// chain's device arrays and one run of walkers. One thread per walker; visits by integer
// atomics (order-independent).
struct WalkKernelParams {
  bool forward = false;
  BackwardChainArrays backward;  // device pointers
  ForwardChainArrays forward_arrays;
  // the run
  const int* sources = nullptr;  // walker w starts at sources[w % source_count]
  int source_count = 0;
  const unsigned char* absorbing = nullptr;  // [n]
  long long walkers = 0;
  int steps = 0;
  uint64_t seed = 0;
  uint32_t stream = 0;  // walk_stream(direction, steps)
  bool count_start = false;
  unsigned long long* visits = nullptr;  // [n], zeroed before the launch
};

class WalkKernels {
 public:
  // Uploads the chain's arrays once to the calling thread's current device.
  explicit WalkKernels(const WalkChainView& chain);
  ~WalkKernels();
  WalkKernels(const WalkKernels&) = delete;
  WalkKernels& operator=(const WalkKernels&) = delete;

  // Σ over walkers of the visits to each node [n]; returns after the device finished.
  std::vector<uint64_t> run(const WalkRun& run);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ckv::cuda
