// Proxy metrics of docs/spec/METRICS.md for one layer, from the answer-token queries and a keep-set.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/large_buffer.hpp"
#include "kernels/layer_context.hpp"
#include "worker/metrics_terms.hpp"

namespace ckv {

// The part of the metrics that does not depend on the keep-set, computed once per layer and
// shared by every configuration of a batch: for each query head h and answer token t the full
// attention a_t over [prompt; answer keys <= t], the answer keys' part of the output, and the
// top-k prompt keys.
//
// Numerics (version 4, kernels/numerics.hpp): the logits are fp32 products (kernels/simd: one
// FMA chain per logit), the weights e_j = exp(logit_j - max) are fp32 and kept unnormalised;
// a_t[j] = e_j / total. The masses are double sums of the weights. The weighted sums of values
// (here the answer keys' Σ e v; in add_layer the kept and the dropped prompt keys' parts, each
// on its own) are fp32 products in blocks of 16 keys whose block sums are added in double
// (simd::gemm_blocks_f64): each block's rounding is relative to its own 16 terms. add_layer
// forms o and o_S from the same two parts (metric_terms::split_row_terms), so a part's rounding
// enters both and cancels from o_S − o instead of being magnified by it when little mass is
// dropped. The metrics stay within 1e-5 relative of a double-precision computation (checked
// against a double oracle in tests/test_worker_metrics.cpp, keep-sets that keep nearly all the
// mass included) and are the same at every SIMD level.
struct AnswerAttention {
  int H = 0, m = 0, n = 0, d = 0, k = 0;
  // [H][m][n + m]: e_j; row (h, t) holds n + t + 1 values, then zeros to n + m.
  LargeBuffer<float> weight;
  std::vector<double> total;                     // [H][m]: Σ_j e_j (prompt and answer keys <= t)
  std::vector<double> answer_sum;                // [H][m][d]: Σ_{u<=t} e_{n+u} v_ans[u], not normalised
  std::vector<double> prompt_mass, answer_mass;  // [H][m]: the two shares of a_t
  std::vector<int> top;                          // [H][m][k]: prompt keys with the largest a_t

  // Memory: 4·H·m·(n + m) bytes of weights (a LargeBuffer: the next layer reuses it)
  // plus 8·H·m·d of answer sums; while computing, each thread holds m·(n + 16) floats of logits.
  // add_layer holds per thread 16·(H/G)·m·d bytes of its KV head's kept and dropped parts and
  // 4·n of key lists.
  static AnswerAttention compute(const LayerInput& input, int topk);
  const float* row(int h, int t) const { return weight.data() + (size_t(h) * m + t) * (n + m); }
};

// The k positions of e[0..n) with the largest values, ties to the lower position (the strict
// total order metric_terms::attends_before), written to out[0..k) best first; k <= n. The
// candidates are the keys at or above a lower bound on the k-th best value (the k-th largest of
// the maxima of the position classes j mod 128; for k > 128 the smallest of k chunk maxima),
// collected into `scratch` (reused between calls), then ranked: up to 64 candidates by counting
// the ones before each (no branch), more by one nth_element. O(n) for any order of the values.
// The same list as a stable sort of all n.
void top_attended_keys(const float* e, int n, int k, std::vector<int>& scratch, int* out);

// Running sums for the means over layers, heads and answer tokens (docs/spec/METRICS.md).
struct MetricAccumulator {
  double attn_recall_sum = 0, output_error_sum = 0, topk_recall_sum = 0;
  long long answer_terms = 0;  // (layer, head, answer token) triples seen
  double evidence_recall_sum = 0, evidence_recall_min = 1e300;
  long long evidence_terms = 0;  // (layer, keep-set) pairs seen with a non-empty evidence set
  double kept_sum = 0;
  long long kept_terms = 0;

  // Adds one layer: keep[g] is the sorted keep-set of KV head g (G sets), or of query head g
  // (H sets, per_query_head selection).
  void add_layer(const LayerInput& input, const std::vector<std::vector<int>>& keep,
                 const std::vector<std::pair<int, int>>& evidence, int topk);
  // The same with the keep-set independent part precomputed (AnswerAttention::compute).
  void add_layer(const LayerInput& input, const AnswerAttention& answers,
                 const std::vector<std::vector<int>>& keep,
                 const std::vector<std::pair<int, int>>& evidence);

  // Throws (naming the sample and layer) unless there are G or H keep-sets, each sorted,
  // unique and inside [0, n). add_layer checks; the CUDA twin's caller checks before the
  // device reads the sets.
  static void check_keep_sets(const LayerInput& input, const std::vector<std::vector<int>>& keep);

  // The same with the per-(h, t) terms computed elsewhere (the CUDA twin,
  // worker/metrics_kernels.hpp): rows[h·m + t], added in the order add_layer adds them.
  void add_layer_rows(const LayerInput& input, const std::vector<AnswerRowTerms>& rows, int k,
                      const std::vector<std::vector<int>>& keep,
                      const std::vector<std::pair<int, int>>& evidence);

  // attn_recall, output_error, topk_recall, evidence_recall, evidence_recall_min, kept:
  // std::nullopt (NULL) where undefined, never 0.
  std::map<std::string, std::optional<double>> finish() const;

 private:
  // Validates the keep-sets and adds kept and evidence_recall; returns membership per set.
  std::vector<std::vector<unsigned char>> add_keep_sets(const LayerInput& input,
                                                        const std::vector<std::vector<int>>& keep,
                                                        const std::vector<std::pair<int, int>>& evidence);
  void add_row(const LayerInput& input, int h, int t, const AnswerRowTerms& row, int k);
};

}  // namespace ckv
