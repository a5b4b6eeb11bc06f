// `knorm`: keep the keys with the smallest L2 norm (Devoto et al., "A Simple and Effective L2
// Norm-Based Strategy for KV Cache Compression", EMNLP 2024; docs/spec/METHODS.md "Baselines").
#pragma once
#include "kernels/method.hpp"

namespace ckv {

struct KnormParams {
  SelectionParams selection;
};

Scores knorm_scores_cpu(LayerContext& ctx, const KnormParams& p);
Scores knorm_scores_cuda(LayerContext& ctx, const KnormParams& p);  // knorm_cuda.cpp

}  // namespace ckv
