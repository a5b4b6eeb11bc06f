// One layer of one sample, evaluated for every configuration that covers it: the seam between a
// batch and the device it runs on. The evaluator holds the layer's `LayerContext` on the worker's
// device (the CPU, or a GPU where each method's CUDA twin scores the layer), so nothing above it
// knows which one computes; budget-independent scores are computed once per score key and shared
// (docs/spec/MISSION.md R6).
#pragma once
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/layer_input.hpp"
#include "configuration/configuration.hpp"
#include "kernels/layer_context.hpp"
#include "kernels/scores.hpp"
#include "worker/metrics.hpp"

namespace ckv {

// What one configuration makes of one layer.
struct LayerEvaluation {
  const Scores* scores = nullptr;      // shared with the configurations of the same score key
  std::vector<std::vector<int>> keep;  // one keep-set per selection head
  int budget = 0;                      // the layer's budget (n for a method that evicts nothing)
  int configured_budget = 0;           // the sample's configured budget (`budget`, or compression_ratio's)
  double score_ms = 0;                 // the whole shared scoring pass plus this selection
  bool evicts_nothing = false;         // a selecting method whose budget is at least n
};

class LayerEvaluator {
 public:
  // The worker's device: -1 for the CPU, otherwise a CUDA device bound to the calling thread.
  LayerEvaluator(const LayerInput& input, int device);
  LayerEvaluator(const LayerEvaluator&) = delete;
  LayerEvaluator& operator=(const LayerEvaluator&) = delete;

  // Scores (or reuses the scores of an equal score key) and selects. Throws what the method
  // threw, the same error for every configuration sharing the failed scoring pass.
  LayerEvaluation evaluate(const Configuration& config);

  // Adds the layer's proxy metrics of `evaluation` to `metrics`. They run on the CPU on every
  // worker: the device twin (worker/metrics_kernels.hpp) computes in double, not numerics 4, and a
  // campaign must not mix the two under one identity (kernels/numerics.hpp).
  void measure(const Configuration& config, const LayerEvaluation& evaluation,
               const std::vector<std::pair<int, int>>& evidence, MetricAccumulator& metrics);

 private:
  struct SharedScores {
    Scores scores;
    double ms = 0;
    std::exception_ptr error;
  };
  const SharedScores& scores_for(const Configuration& config);

  const LayerInput& input_;
  LayerContext context_;
  std::map<std::string, SharedScores> shared_;  // by score key
  std::map<int, AnswerAttention> answers_;      // by topk: the keep-set independent metric parts
};

// The keep-sets of `config` for `scores` on this layer: everything for a method that evicts
// nothing (or scores that say keep_all), otherwise the selection's.
std::vector<std::vector<int>> keep_sets(const Configuration& config, const Scores& scores,
                                        const LayerInput& input);

}  // namespace ckv
