// The CUDA twin of rwr (seed 003; docs/spec/METHODS.md "RWR"): per query head the cosine graph
// (window band plus the top-k earlier keys above the threshold), P = D⁻¹W or the reversible
// P_rev, and the forward/backward saliency iterations, all on the device; only the scores
// [H, n] (and the edge counts that size the sparse arrays) come back. Every value is computed
// with kernels/rwr/rwr_math.hpp in the CPU's order, so the scores are bit-identical to
// rwr_scores_cpu when the host compiler does not contract multiply-adds (the default build; see
// kernels/cuda/README.md).
// Plain C++ (nvcc compiles the implementation; the project's fmt does not build under nvcc).
// Only defined in builds with CUDA (CKV_HAVE_CUDA).
#pragma once
#include <memory>
#include <vector>

#include "kernels/stages/attention_kernels.hpp"

namespace ckv::cuda {

struct RwrGraphOptions {
  int window = 128;  // band |i − j| <= window
  int topk = 32;     // plus the topk most similar keys before the band
  double threshold = 0.0;
  bool reversible = false;
};

class RwrKernels {
 public:
  // Builds every query head's transitions from the layer's uploaded Q and K (needs every query
  // row, r == n) on the layer's device; kept on the device.
  RwrKernels(LayerKernels& layer, const RwrGraphOptions& options);
  ~RwrKernels();
  RwrKernels(const RwrKernels&) = delete;
  RwrKernels& operator=(const RwrKernels&) = delete;

  // Per head: r = α Σ_{t=0..steps} ((1−α)Pᵀ)ᵗ e, mixed β·r + (1−β)·r_back when beta < 1; [H][n].
  std::vector<std::vector<double>> scores(const std::vector<double>& restart, double alpha,
                                          int steps, double beta);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ckv::cuda
