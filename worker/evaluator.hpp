// The worker's unit of work is a batch: one sample and many configurations. The sample is
// loaded once; each layer's attention stages and each method's budget-independent scores are
// shared by all configurations that need them (docs/spec/MISSION.md R6).
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/canonical_json.hpp"

namespace ckv {

struct UnitTask {
  int64_t unit_id = 0;
  // {"method": name, "params": {...resolved...}, "eval": {"layers": [..] | "all", "topk": k}}
  json config;
};

struct Batch {
  int64_t batch_id = 0;
  std::string sample_path;  // absolute path of the .safetensors file
  std::string sample_label; // "task/id" for messages
  // The sample's content fingerprint when the campaign was planned; the worker refuses a file
  // whose content is not that any more (empty: not checked).
  std::string sample_fingerprint;
  std::vector<UnitTask> units;
};

struct UnitResult {
  int64_t unit_id = 0;
  bool ok = false;
  std::string error;  // set when !ok: names the sample and the problem
  std::map<std::string, std::optional<double>> metrics;
  double started = 0, ended = 0;  // unix seconds
};

struct BatchResult {
  int64_t batch_id = 0;
  std::vector<UnitResult> units;
  // Things the researcher should know about the sample, once per batch (e.g. a budget at or
  // above its length: nothing is evicted). The scheduler logs each once per sample.
  std::vector<std::string> notes;
};

json batch_to_json(const Batch& batch);
Batch batch_from_json(const json& j);
json batch_result_to_json(const BatchResult& result);
BatchResult batch_result_from_json(const json& j);

struct EvaluatorOptions {
  int device = -1;  // CUDA device, -1 = CPU
  // Set when the run is stopping: the batch ends at its next layer or configuration (its result
  // is not recorded any more).
  const std::atomic<bool>* cancel = nullptr;
};

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
