// `h2o`: heavy hitters by accumulated attention (Zhang et al., "H2O: Heavy-Hitter Oracle",
// NeurIPS 2023; docs/spec/METHODS.md "Baselines"): column sums of the causal attention matrix.
#pragma once
#include <string>
#include "kernels/method.hpp"

namespace ckv {

enum class H2oRows { all,
                     window };
enum class H2oNormalize { none,
                          count };

struct H2oParams {
  SelectionParams selection;
  H2oRows rows = H2oRows::all;
  H2oNormalize normalize = H2oNormalize::none;

  std::string full_rows_reason() const {
    return rows == H2oRows::all ? "rows = \"all\" sums every attention row" : "";
  }
};

Scores h2o_scores_cpu(LayerContext& ctx, const H2oParams& p);
Scores h2o_scores_cuda(LayerContext& ctx, const H2oParams& p);  // h2o_cuda.cpp, CUDA builds

// The query rows summed: all n, or the last min(window, n).
int h2o_summed_rows(const LayerInput& in, const H2oParams& p);
// normalize = count: divide column j by the number of summed rows i >= j that can see it.
void h2o_normalize_counts(std::vector<std::vector<double>>& per_head, int n, int rows);

}  // namespace ckv
