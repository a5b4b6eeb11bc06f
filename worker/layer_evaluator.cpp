#include "worker/layer_evaluator.hpp"

#include <chrono>

#include "kernels/stages/selection.hpp"

namespace ckv {

namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

std::vector<std::vector<int>> keep_sets(const Configuration& config, const Scores& scores,
                                        const LayerInput& input) {
  if (!config.method->uses_selection || scores.keep_all) {
    std::vector<int> all(input.n);
    for (int j = 0; j < input.n; ++j) all[j] = j;
    return std::vector<std::vector<int>>(input.G, all);
  }
  return select_keep(scores, config.selection(), input.n, input.G, input.layer, input.num_layers_model,
                     input.H);
}

LayerEvaluator::LayerEvaluator(const LayerInput& input, int device)
    : input_(input), context_(input, device >= 0 ? Device::gpu(device) : Device::cpu()) {}

const LayerEvaluator::SharedScores& LayerEvaluator::scores_for(const Configuration& config) {
  const std::string key = config.score_key();
  auto it = shared_.find(key);
  if (it != shared_.end()) return it->second;
  SharedScores entry;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    entry.scores = config.method->score(context_, config.typed);
  } catch (...) {
    entry.error = std::current_exception();
  }
  entry.ms = elapsed_ms(t0);
  return shared_.emplace(key, std::move(entry)).first->second;
}

LayerEvaluation LayerEvaluator::evaluate(const Configuration& config) {
  const SharedScores& shared = scores_for(config);
  if (shared.error) std::rethrow_exception(shared.error);
  LayerEvaluation out;
  out.scores = &shared.scores;
  const auto t0 = std::chrono::steady_clock::now();
  out.keep = keep_sets(config, shared.scores, input_);
  out.budget = input_.n;
  out.configured_budget = input_.n;
  if (config.method->uses_selection) {
    // docs/spec/METHODS.md: n <= B evicts nothing. Legitimate, but a researcher should know the
    // point measures the full cache on this sample (docs/spec/MISSION.md R13: a sample shorter
    // than the budget).
    out.budget = layer_budget(config.selection(), input_.layer, input_.num_layers_model, input_.n);
    out.configured_budget = sample_budget(config.selection(), input_.n);
    out.evicts_nothing = input_.n <= out.budget;
  }
  out.score_ms = shared.ms + elapsed_ms(t0);
  return out;
}

void LayerEvaluator::measure(const Configuration& config, const LayerEvaluation& evaluation,
                             const std::vector<std::pair<int, int>>& evidence, MetricAccumulator& metrics) {
  const int topk = config.eval.topk;
  auto answer = answers_.find(topk);
  if (answer == answers_.end()) answer = answers_.emplace(topk, AnswerAttention::compute(input_, topk)).first;
  metrics.add_layer(input_, answer->second, evaluation.keep, evidence);
}

}  // namespace ckv
