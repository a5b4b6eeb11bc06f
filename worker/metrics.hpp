// Proxy metrics of docs/spec/METRICS.md for one layer, from the answer-token queries and a keep-set.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/layer_context.hpp"
#include "worker/metrics_terms.hpp"

namespace ckv {

// The part of the metrics that does not depend on the keep-set, computed once per layer and
// shared by every configuration of a batch: for each query head h and answer token t the full
// attention a_t over [prompt; answer keys <= t], the full output o, the answer keys' share of
// it, and the top-k prompt keys.
struct AnswerAttention {
  int H = 0, m = 0, n = 0, d = 0, k = 0;
  std::vector<double> attention;      // [H][m][n + m]; row (h, t) holds n + t + 1 values
  std::vector<double> output;         // [H][m][d]: o = a_t·[V; V_ans]
  std::vector<double> answer_output;  // [H][m][d]: the answer keys' part of o
  std::vector<double> prompt_mass, answer_mass;  // [H][m]
  std::vector<int> top;               // [H][m][k]: prompt keys with the largest a_t

  static AnswerAttention compute(const LayerInput& input, int topk);
  const double* row(int h, int t) const { return attention.data() + (size_t(h) * m + t) * (n + m); }
};

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
  // worker/metrics_cuda.hpp): rows[h·m + t], added in the order add_layer adds them.
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
