// Selection shared by all methods (docs/spec/METHODS.md "Selection"): always keep sinks [0, s)
// and the local window [max(s, n-w), n); fill the other B - s - w slots with the highest scores
// among the remaining tokens, ties broken by lower position. If n <= B nothing is evicted.
#pragma once
#include <string>
#include <vector>

#include "kernels/params.hpp"
#include "kernels/scores.hpp"

namespace ckv {

enum class SelectionGranularity { shared,
                                  per_kv_head,
                                  per_query_head };
enum class BudgetMode { uniform,
                        pyramid };
enum class PyramidRounding { integer,
                             real };     // "integer" (KVCache-Factory) | "float" (kvpress)
enum class NoCompressionRatio { none };  // compression_ratio = "none": the budget is `budget`

// The selection parameters every evicting method declares (defaults differ per method).
struct SelectionParams {
  int budget = 2048;
  int window = 64;
  int sink = 0;
  SelectionGranularity granularity = SelectionGranularity::shared;
  BudgetMode budget_mode = BudgetMode::uniform;
  PyramidRounding pyramid_rounding = PyramidRounding::integer;
  // kvpress's convention, the fraction of the prompt removed: a sample of n tokens gets the
  // budget round((1 - r) n) (Python's round, half to even), raised to sink + window when below.
  // "none" (the default, left out of the canonical JSON: configurations from before keep their
  // hashes) keeps the fixed `budget`.
  NumberOrChoice<NoCompressionRatio> compression_ratio{NoCompressionRatio::none, 0.0};

  // one keep-set for all heads (else one per KV head or per query head)
  bool shared() const { return granularity == SelectionGranularity::shared; }
  bool has_compression_ratio() const { return !compression_ratio.choice; }
  // "" or the error for a budget below sink + window, or a compression_ratio of 1 or more.
  std::string validate() const;
};

// The schema of SelectionParams: budget, window, sink_size, selection, budget_mode,
// pyramid_rounding, compression_ratio, in that order.
ParamSchema<SelectionParams> selection_schema(int default_sink, SelectionGranularity default_granularity);

// The budget B of a sample of n tokens: `budget`, or under compression_ratio r
// max(round((1 - r) n), sink + window).
int sample_budget(const SelectionParams& sel, int n);

// PyramidKV layer allocation (beta = 20) of the sample's budget (sample_budget): the budget of
// model layer `layer` of `num_layers`.
int layer_budget(const SelectionParams& sel, int layer, int num_layers, int n);

// Keep-sets, one sorted index list per KV head (G lists; identical lists when shared), or per
// query head (H = query_heads lists) for per_query_head selection.
std::vector<std::vector<int>> select_keep(const Scores& scores, const SelectionParams& sel, int n,
                                          int G, int layer, int num_layers, int query_heads = 0);

// Rank normalisation: rank(x)/(n-1) with ties broken by position (docs/spec/METHODS.md step 5).
std::vector<float> rank_normalize(const std::vector<float>& x);

}  // namespace ckv
