// `tova`: token omission via attention (Oren et al., "Transformers are Multi-State RNNs", 2024;
// docs/spec/METHODS.md "Baselines"): the attention of the last prompt query, mean over heads.
#pragma once
#include "kernels/method.hpp"

namespace ckv {

struct TovaParams {
  SelectionParams selection;
};

Scores tova_scores_cpu(LayerContext& ctx, const TovaParams& p);
Scores tova_scores_cuda(LayerContext& ctx, const TovaParams& p);  // tova_cuda.cpp, CUDA builds

}  // namespace ckv
