// The CUDA twin of circuitkv_walk's Monte Carlo (kernels/circuitkv_walk/walk_chain.hpp,
// run_walkers): one thread per walker, the same Philox draw per (seed, stream, walker, step),
// the same inverse-CDF binary search on the same double arrays, integer visit counts. The
// counts are therefore bit-identical to run_walkers on the same chain and seed.
// Plain C++ with standard headers only (nvcc compiles the implementation; the project's fmt does
// not build under nvcc). Only defined in builds with CUDA (CKV_HAVE_CUDA).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ckv::cuda {

// Host views of one chain's sampling arrays (layouts in WalkKernelParams below); only the
// arrays of the chain's direction are read.
struct WalkChainView {
  bool forward = false;
  int n = 0, window_start = 0;
  // backward: AttentionGraph::dense_cdf / prefix_cumulative / prefix_scale / row_stochastic
  const double* dense_cdf = nullptr;
  size_t dense_cdf_size = 0;
  const double* prefix_cumulative = nullptr;  // [n + 1]
  const double* prefix_scale = nullptr;       // [n]
  const unsigned char* row_stochastic = nullptr;  // [n]
  // forward: ForwardChain's arrays
  const double* prefix_column = nullptr;   // [window_start]
  const double* row_cumulative = nullptr;  // [window_start + 1]
  const double* prefix_mass = nullptr;     // [n]
  const uint64_t* column_offset = nullptr;  // [n + 1]
  const double* column_cdf = nullptr;
  size_t column_cdf_size = 0;
  const double* mass = nullptr;  // [n]
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

// circuitkv_walk (docs/spec/METHODS.md "CircuitKV: absorbing random walks"): one absorbing chain's sampling
// arrays, as AttentionGraph::sample (backward) and ForwardChain::sample (forward) search them,
// and one run of walkers. One thread per walker; visits by integer atomics (order-independent).
struct WalkKernelParams {
  bool forward = false;
  int n = 0, window_start = 0;
  // backward: AttentionGraph's arrays (graph.hpp)
  const double* dense_cdf = nullptr;          // [(n - window_start) * n]
  const double* prefix_cumulative = nullptr;  // [n + 1]
  const double* prefix_scale = nullptr;       // [n]
  const unsigned char* row_stochastic = nullptr;  // [n]
  // forward: ForwardChain's arrays (walk_chain.hpp)
  const double* prefix_column = nullptr;   // [window_start]
  const double* row_cumulative = nullptr;  // [window_start + 1]
  const double* prefix_mass = nullptr;     // [n]
  const uint64_t* column_offset = nullptr;  // [n + 1]
  const double* column_cdf = nullptr;      // [column_offset[n]]
  const double* mass = nullptr;            // [n]
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
