// Head reductions shared by the baselines (docs/spec/METHODS.md "Selection"): per-query-head scores
// become one vector per selection head: the mean over each GQA group for per_kv_head
// selection (kvpress/SnapKV style), the mean over all heads for shared selection.
#pragma once
#include <vector>

#include "common/layer_input.hpp"
#include "kernels/scores.hpp"

namespace ckv {

// per_head: H vectors of length n (one per query head).
Scores reduce_query_heads(const std::vector<std::vector<double>>& per_head, const LayerInput& input,
                          bool shared);

// per_kv: G vectors of length n (one per KV head): kept as they are for per_kv_head
// selection, averaged over KV heads for shared selection.
Scores reduce_kv_heads(const std::vector<std::vector<double>>& per_kv, bool shared);

// One vector used by every selection head (a score that does not depend on the head).
Scores replicate_scores(const std::vector<double>& x, const LayerInput& input, bool shared);

}  // namespace ckv
