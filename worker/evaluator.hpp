// The worker's unit of work is a batch: one sample and many configurations. The sample is
// loaded once; each layer's attention stages and each method's budget-independent scores are
// shared by all configurations that need them (docs/spec/MISSION.md R6).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/canonical_json.hpp"
#include "worker/batch.hpp"

namespace ckv {

// Never throws for a problem of the sample or a configuration: those become failed units
// carrying the message (e.g. a corrupt cache file fails every unit of the batch).
BatchResult evaluate_batch(const Batch& batch, const EvaluatorOptions& options);

// The per-layer keep-sets and scores of one configuration on one sample (for `inspect`).
struct InspectResult {
  int n = 0, budget = 0;
  int H = 0, G = 0;  // query and KV heads of the layer (keep holds G sets, or H per query head)
  std::vector<std::vector<float>> scores;
  std::vector<std::vector<int>> keep;
  std::map<std::string, std::optional<double>> metrics;
};
InspectResult inspect_layer(const std::string& sample_path, int layer, const json& config);

}  // namespace ckv
