// SnapKV scoring (Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation",
// 2024; docs/spec/METHODS.md "Baselines"), shared with `pyramidkv`, which differs only in its
// budget allocation. Defaults follow KVCache-Factory (max pooling, kernel 7); pool = "avg",
// kernel = 5 gives kvpress's SnapKVPress.
#pragma once
#include <vector>

#include "kernels/method.hpp"

namespace ckv {

enum class SnapkvPool { max,
                        avg };

struct SnapkvParams {
  SelectionParams selection;
  SnapkvPool pool = SnapkvPool::max;
  int kernel = 7;
  std::string validate() const;  // odd kernel
};

// The schema of snapkv (and, with budget_mode = pyramid by default, pyramidkv).
ParamSchema<SnapkvParams> snapkv_schema();
// The knobs of a named reference ("kvpress", "kvcache_factory", "circuitkv_public").
json snapkv_convention(const std::string& reference);
Scores snapkv_scores_cpu(LayerContext& ctx, const SnapkvParams& p);
Scores snapkv_scores_cuda(LayerContext& ctx, const SnapkvParams& p);  // snapkv_cuda.cpp

// 1-D pooling over positions, stride 1, padding kernel/2 (kernel odd), as torch's
// F.max_pool1d (padding never wins the max) and F.avg_pool1d (count_include_pad = True:
// zero padding counted, always divided by kernel). Exposed for tests.
std::vector<double> pool_1d(const std::vector<double>& x, int kernel, bool max_pool);

}  // namespace ckv
