// The CUDA twin of NeumannSeries (kernels/stages/neumann_series.hpp; docs/spec/METHODS.md
// "CircuitKV: Neumann" step 3): the QI and HI series iterated on the device, y = Qᵀx in O(n·w)
// per iteration on the window_prefix graph ("Facts that make it fast") and O(n²) on the packed
// full graph, with the per-column arithmetic of kernels/stages/neumann_step.hpp (shared with the
// CPU). The graphs are built on the host (AttentionGraph) and copied once.
// Determinism: no atomics; every sum has a fixed order. Against the CPU the window/packed
// column sums, the γ scaling and the partial sums are bit-identical; the prefix suffix sum is
// chunked (neumann_step.hpp), equal to the CPU's chain while the prefix has at most
// kPrefixChunks positions and within rounding (≪ 1e-12 relative) beyond.
// Plain C++ (nvcc compiles the implementation; the project's fmt does not build under nvcc).
// Only defined in builds with CUDA (CKV_HAVE_CUDA).
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "kernels/stages/neumann_step.hpp"

namespace ckv::cuda {

// One thread per chunk of the prefix suffix sum (one block per series).
constexpr int kPrefixChunks = 1024;

// Host views of the QI and HI graphs (AttentionGraph::transpose_arrays) and their sizes.
struct NeumannSeriesView {
  TransposeArrays graph[2];  // 0: QI, 1: HI; same n
  size_t dense_size[2] = {0, 0};
  size_t packed_size[2] = {0, 0};
  int sink = 0;
  double gamma = 1.0;
};

// The arguments of the series kernels (device pointers; index 0 QI, 1 HI).
struct NeumannStepParams {
  TransposeArrays graph[2];
  int n = 0, sink = 0;
  double gamma = 1.0;
  const double* x[2] = {nullptr, nullptr};  // the current terms
  double* y[2] = {nullptr, nullptr};        // the next terms
  double* sum[2] = {nullptr, nullptr};      // partial sums
  double* suffix[2] = {nullptr, nullptr};   // prefix suffix sums [n]
  double* max_abs = nullptr;                // [2] max |next term|
};

class NeumannKernels {
 public:
  // Copies both graphs' arrays to the calling thread's current device; starts at k = 0.
  explicit NeumannKernels(const NeumannSeriesView& view);
  ~NeumannKernels();
  NeumannKernels(const NeumannKernels&) = delete;
  NeumannKernels& operator=(const NeumannKernels&) = delete;

  void restart();       // back to the k = 0 terms
  void advance(int K);  // iterates until k == K or the series stopped (NeumannSeries::advance)
  int terms() const;    // k: the last term summed
  bool stopped() const;
  // Downloads the partial sums Σ_{k' <= k} (QI, HI), [n] each.
  void sums(std::vector<double>& qi, std::vector<double>& hi);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ckv::cuda
