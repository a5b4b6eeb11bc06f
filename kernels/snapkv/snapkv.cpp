#include "kernels/snapkv/snapkv.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "kernels/method_factories.hpp"
#include "kernels/simd/simd.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

std::vector<double> pool_1d(const std::vector<double>& x, int kernel, bool max_pool) {
  const int len = int(x.size());
  const int pad = kernel / 2;
  // out[j] folds x[t] for t = max(0, j - pad) .. min(len - 1, j + pad) in ascending t. The loop
  // over offsets is outside, so each pass is one branch-free loop over j (the same order per j).
  std::vector<double> out(len, max_pool ? -INFINITY : 0.0);
  for (int o = -pad; o <= pad; ++o) {
    const int j0 = std::max(0, -o), j1 = std::min(len, len - o);
    if (max_pool)
      for (int j = j0; j < j1; ++j) out[j] = std::max(out[j], x[j + o]);
    else
      for (int j = j0; j < j1; ++j) out[j] = out[j] + x[j + o];
  }
  if (!max_pool)
    for (double& v : out) v = v / double(kernel);
  return out;
}

std::string SnapkvParams::validate() const {
  if (kernel % 2 == 0)
    return fmt::format("kernel {} must be odd (padding kernel/2 keeps the length)", kernel);
  return "";
}

ParamSchema<SnapkvParams> snapkv_schema() {
  ParamSchema<SnapkvParams> schema;
  schema.include(&SnapkvParams::selection, selection_schema(0, SelectionGranularity::per_kv_head));
  schema.choice(&SnapkvParams::pool, "pool", SnapkvPool::max,
                {{"max", SnapkvPool::max}, {"avg", SnapkvPool::avg}},
                "1-D pooling of the window votes over positions: max (KVCache-Factory) or avg "
                "with zero padding counted (kvpress)");
  schema.integer(&SnapkvParams::kernel, "kernel", 7, 1, 1001,
                 "pooling kernel size (odd; stride 1, padding kernel/2); kvpress uses 5");
  return schema;
}

Scores snapkv_scores_cpu(LayerContext& ctx, const SnapkvParams& p) {
  const LayerInput& in = ctx.input();
  const int n = in.n;
  const int w = std::min(p.selection.window, n);
  const int prefix = n - w;
  const Tensor3& win = ctx.window_attention(w, "snapkv");
  std::vector<std::vector<double>> per_head(in.H, std::vector<double>(n, 0.0));
  for (int h = 0; h < in.H; ++h) {
    // Votes: mean over the w window rows of their attention to the prefix [0, n - w).
    std::vector<double> votes(prefix, 0.0);
    simd::add_rows_f32_to_f64(votes.data(), win.row(h, 0), size_t(n), w, prefix);
    for (double& v : votes) v /= double(w);
    std::vector<double> pooled = pool_1d(votes, p.kernel, p.pool == SnapkvPool::max);
    // Window positions keep score 0: the selection always keeps them.
    std::copy(pooled.begin(), pooled.end(), per_head[h].begin());
  }
  // Pool per query head, then average over each GQA group (kvpress SnapKVPress order).
  return reduce_query_heads(per_head, in, p.selection.granularity);
}

json snapkv_convention(const std::string& reference) {
  // docs/reference-implementations.md: kvpress SnapKVPress (window 64, kernel 5, mean of the
  // window rows, avg pooling with zero padding counted, mean over each GQA group); KVCache-
  // Factory's LongBench runner (window 8, kernel 7, max pooling, repeat_kv: per query head); the
  // public CircuitKV comparisons (the same with window 64). None forces sinks. Summing the window
  // rows (KVCache-Factory) instead of averaging them scales every score by w: same keep-sets.
  if (reference == "kvpress")
    return {{"window", 64}, {"kernel", 5}, {"pool", "avg"}, {"selection", "per_kv_head"}, {"sink_size", 0}};
  if (reference == "kvcache_factory")
    return {{"window", 8}, {"kernel", 7}, {"pool", "max"}, {"selection", "per_query_head"}, {"sink_size", 0}};
  CKV_CHECK(reference == "circuitkv_public", "snapkv: no convention '{}'", reference);
  return {{"window", 64}, {"kernel", 7}, {"pool", "max"}, {"selection", "per_query_head"}, {"sink_size", 0}};
}

MethodDef make_snapkv_method() {
  ParamSchema<SnapkvParams> schema = snapkv_schema();
  schema.convention({{"kvpress", snapkv_convention("kvpress")},
                     {"kvcache_factory", snapkv_convention("kvcache_factory")},
                     {"circuitkv_public", snapkv_convention("circuitkv_public")}},
                    "sets the knobs to a reference implementation's (given parameters win); "
                    "never stored, the parameters it sets are");
  return define_method<SnapkvParams>(
      "snapkv", "Window-row attention votes over the prefix, pooled over positions",
      "Li et al. 2024, SnapKV (arXiv:2404.14469); KVCache-Factory, kvpress", std::move(schema),
      snapkv_scores_cpu, CKV_CUDA_TWIN(snapkv_scores_cuda));
}

}  // namespace ckv
