// The batch messages between the scheduler and its workers: a batch (one sample, many units)
// and its result. The embedded queues and the MPI messages carry the same JSON (batch_to_json,
// batch_result_to_json); the scheduler and the worker share only these types, not each other.
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
  std::string sample_path;   // absolute path of the .safetensors file
  std::string sample_label;  // "task/id" for messages
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

// The wire format. A *_from_json throws nlohmann's json exceptions on a malformed message.
json batch_to_json(const Batch& batch);
Batch batch_from_json(const json& j);
json batch_result_to_json(const BatchResult& result);
BatchResult batch_result_from_json(const json& j);

// What a worker runs every batch with (the transports hand it to the evaluator).
struct EvaluatorOptions {
  int device = -1;  // CUDA device, -1 = CPU
  // Set when the run is stopping: the batch ends at its next layer or configuration (its result
  // is not recorded any more).
  const std::atomic<bool>* cancel = nullptr;
};

}  // namespace ckv
