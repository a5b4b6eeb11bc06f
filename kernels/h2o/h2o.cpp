#include "kernels/h2o/h2o.hpp"

#include <algorithm>

#include "kernels/method_factories.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

int h2o_summed_rows(const LayerInput& in, const H2oParams& p) {
  return p.rows == H2oRows::all ? in.n : std::min(p.selection.window, in.n);
}

void h2o_normalize_counts(std::vector<std::vector<double>>& per_head, int n, int rows) {
  // kvpress-style: n - j for all rows, n - max(j, n - rows) for the last `rows` rows.
  for (auto& head : per_head)
    for (int j = 0; j < n; ++j) head[j] /= double(n - std::max(j, n - rows));
}

Scores h2o_scores_cpu(LayerContext& ctx, const H2oParams& p) {
  const LayerInput& in = ctx.input();
  // rows = all needs every query row; column_sums refuses a partial capture by name.
  const int rows = h2o_summed_rows(in, p);
  std::vector<std::vector<double>> per_head = ctx.column_sums(rows, "h2o");
  if (p.normalize == H2oNormalize::count) h2o_normalize_counts(per_head, in.n, rows);
  return reduce_query_heads(per_head, in, p.selection.granularity);
}

MethodDef make_h2o_method() {
  ParamSchema<H2oParams> schema;
  schema.include(&H2oParams::selection, selection_schema(0, SelectionGranularity::per_kv_head));
  schema.choice(&H2oParams::rows, "rows", H2oRows::all,
                {{"all", H2oRows::all}, {"window", H2oRows::window}},
                "which query rows are summed: all n rows (needs a full-row cache) or the last "
                "`window` rows");
  schema.choice(&H2oParams::normalize, "normalize", H2oNormalize::none,
                {{"none", H2oNormalize::none}, {"count", H2oNormalize::count}},
                "none: raw column sums; count: divide column j by the number of summed rows "
                "that can see j (n - j for all rows, as kvpress)");
  // kvpress ObservedAttentionPress: all rows, column j divided by n − j, mean over each GQA
  // group, nothing forced (window 1: the last token, the closest ckv-sweep allows); KVCache-
  // Factory's H2OKVCluster: all rows, raw sums, per query head, its runner's window 8 kept; the
  // public CircuitKV comparisons: the same with window 64.
  schema.convention(
      {{"kvpress", {{"rows", "all"}, {"normalize", "count"}, {"selection", "per_kv_head"}, {"sink_size", 0}, {"window", 1}}},
       {"kvcache_factory", {{"rows", "all"}, {"normalize", "none"}, {"selection", "per_query_head"}, {"sink_size", 0}, {"window", 8}}},
       {"circuitkv_public", {{"rows", "all"}, {"normalize", "none"}, {"selection", "per_query_head"}, {"sink_size", 0}, {"window", 64}}}},
      "sets the knobs to a reference implementation's (given parameters win); never stored, the "
      "parameters it sets are");
  return define_method<H2oParams>("h2o", "Heavy hitters: column sums of the causal attention",
                                  "Zhang et al. 2023, H2O (arXiv:2306.14048)", std::move(schema),
                                  h2o_scores_cpu, CKV_CUDA_TWIN(h2o_scores_cuda));
}

}  // namespace ckv
