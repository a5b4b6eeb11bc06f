// Head reductions shared by the methods (docs/spec/METHODS.md "Selection"): scores computed per
// query head (or per KV head, or once for the layer) become one vector per selection head:
// shared selection = one vector (mean over all heads), per_kv_head = G vectors (the mean over
// each GQA group, kvpress/SnapKV style), per_query_head = H vectors (every query head keeps its
// own set, KVCache-Factory's repeat_kv convention).
#pragma once
#include <vector>

#include "common/layer_input.hpp"
#include "kernels/scores.hpp"
#include "kernels/stages/selection.hpp"

namespace ckv {

// per_head: H vectors of length n (one per query head).
Scores reduce_query_heads(const std::vector<std::vector<double>>& per_head, const LayerInput& input,
                          SelectionGranularity granularity);

// per_kv: G vectors of length n (one per KV head): kept as they are for per_kv_head, averaged
// over KV heads for shared, repeated to the query heads of each group for per_query_head.
Scores reduce_kv_heads(const std::vector<std::vector<double>>& per_kv, const LayerInput& input,
                       SelectionGranularity granularity);

// One vector used by every selection head (a score that does not depend on the head).
Scores replicate_scores(const std::vector<double>& x, const LayerInput& input,
                        SelectionGranularity granularity);

// Selection heads of a granularity: 1, G or H.
int selection_heads(SelectionGranularity granularity, const LayerInput& input);

}  // namespace ckv
