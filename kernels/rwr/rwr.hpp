// `rwr` (seed 003; docs/spec/METHODS.md "RWR"): parameters and the two score functions, the CPU
// reference (rwr.cpp) and the CUDA twin (rwr_cuda.cpp, rwr_kernels.cu).
#pragma once
#include <string>
#include <vector>

#include "kernels/method.hpp"

namespace ckv {

inline constexpr const char* kRwrName = "rwr";

enum class RwrRestart { query,
                        window };

struct RwrParams {
  SelectionParams selection;
  int graph_window = 128;
  int topk = 32;
  double threshold = 0.0;
  double alpha = 0.2;
  int steps = 4;
  RwrRestart restart = RwrRestart::query;
  bool reversible = false;
  double reciprocal_beta = 1.0;

  std::string full_rows_reason() const { return "its token graph compares the queries of every position"; }
};

// The restart vector e [n]: e_q (q = n − 1), or uniform over the last `window` positions.
std::vector<double> rwr_restart_vector(const RwrParams& p, int n);

Scores rwr_scores_cpu(LayerContext& context, const RwrParams& p);
// Graph, transitions and saliency on the calling thread's current CUDA device; only the scores
// [H, n] come back (compiled only with CUDA).
Scores rwr_scores_cuda(LayerContext& context, const RwrParams& p);

}  // namespace ckv
