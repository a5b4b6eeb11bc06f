// evaluate_batch: a batch's sample opened once, its configurations prepared once, then every
// layer they cover evaluated in turn by a LayerEvaluator (worker/layer_evaluator.hpp); and
// inspect_layer, the same path for one configuration on one layer.
#include "worker/evaluator.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cache/sample_cache.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "configuration/configuration.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/stages/threads.hpp"
#include "worker/layer_evaluator.hpp"
#include "worker/metrics.hpp"

namespace ckv {

namespace {

// One configuration of the batch, parsed once.
struct PreparedUnit {
  const UnitTask* task = nullptr;
  std::optional<Configuration> config;
  std::vector<int> layers;
  bool failed = false;
  std::string error;
  MetricAccumulator metrics;
  double score_ms = 0;

  bool covers(int layer) const { return std::find(layers.begin(), layers.end(), layer) != layers.end(); }
  void fail(const std::string& message) {
    if (failed) return;
    failed = true;
    error = message;
  }
};

void prepare(PreparedUnit& unit, const SampleMeta& meta, const std::string& label,
             bool stored_document) {
  try {
    unit.config = Configuration::from_document(unit.task->config);
  } catch (const Error& e) {
    CKV_FAIL("{}: {}", label, e.what());
  }
  // A configuration's numbers are those of its numerics version (kernels/numerics.hpp). This
  // build's kernels round like kNumericsVersion only: computing an older configuration here
  // would store numbers under an identity they do not have (docs/database.md, "Numerics versions").
  CKV_CHECK(unit.config->numerics() == kNumericsVersion,
            "{}: configuration {}: computed under {}, this build computes {}; its results cannot be "
            "reproduced — rerun the spec to compute numerics-{} units",
            label, unit.config->hash.substr(0, 12), numerics_label(unit.config->numerics()),
            numerics_label(kNumericsVersion), kNumericsVersion);
  // The scheduler sends the stored canonical document. If this binary reads it differently (a
  // ckv-sweep whose parameters or defaults differ from the scheduler's), the numbers would be
  // stored under an identity they do not have: refuse the unit instead.
  CKV_CHECK(!stored_document || unit.config->canonical == canonical_json(unit.task->config),
            "{}: this ckv-sweep ({}) reads configuration {} as {}: the scheduler and this worker "
            "disagree on the method's parameters (mixed versions?)",
            label, CKV_VERSION, canonical_json(unit.task->config), unit.config->canonical);
  unit.layers = unit.config->eval.layers_of(meta.layers);
  for (int layer : unit.layers)
    CKV_CHECK(std::find(meta.layers.begin(), meta.layers.end(), layer) != meta.layers.end(),
              "{}: layer {} is not in the cache (captured layers: {})", label, layer,
              fmt::join(meta.layers, ", "));
}

// A batch on its way through the worker: the sample opened once, its units prepared once, then
// every layer that a unit covers evaluated in turn.
class BatchRun {
 public:
  BatchRun(const Batch& batch, const EvaluatorOptions& options) : batch_(batch), options_(options) {
    units_.resize(batch.units.size());
    for (size_t i = 0; i < units_.size(); ++i) units_[i].task = &batch.units[i];
  }

  // False when the sample cannot be opened (every unit failed with the reason).
  bool open_sample() {
    try {
      // The CUDA kernels run on the calling thread's current device: bind the worker's GPU.
      bind_cuda_device(options_.device);
      sample_.emplace(SampleCache::open(batch_.sample_path, batch_.sample_fingerprint));
      return true;
    } catch (const std::exception& e) {
      fail_all(fmt::format("{}: {}", batch_.sample_label, e.what()));  // names the sample and its file
      return false;
    }
  }

  // The layers some prepared unit covers, in order.
  std::set<int> prepare_units() {
    std::set<int> layers;
    for (auto& unit : units_) {
      try {
        prepare(unit, sample_->meta(), batch_.sample_label, /*stored_document=*/true);
        layers.insert(unit.layers.begin(), unit.layers.end());
      } catch (const std::exception& e) {
        unit.fail(e.what());
      }
    }
    return layers;
  }

  // False when the batch cannot go on (the run is stopping, or the layer cannot be read).
  bool evaluate_layer(int layer) {
    if (cancelled()) {
      fail_all(stopping());
      return false;
    }
    LayerTensors tensors;
    try {
      tensors = sample_->load_layer(layer);
    } catch (const std::exception& e) {
      fail_all(e.what());
      return false;
    }
    const LayerInput input = tensors.view();
    LayerEvaluator evaluator(input, options_.device);
    for (auto& unit : units_) {
      if (unit.failed || !unit.covers(layer)) continue;
      if (cancelled()) {
        unit.fail(stopping());
        continue;
      }
      try {
        const LayerEvaluation evaluation = evaluator.evaluate(*unit.config);
        if (evaluation.evicts_nothing) {
          // The note names the configured budget (what the sweep file says), not the layer's.
          if (input.n <= evaluation.configured_budget) unevicted_budgets_.insert(evaluation.configured_budget);
          else pyramid_unevicted_[evaluation.configured_budget].insert(layer);
        }
        unit.score_ms += evaluation.score_ms;
        evaluator.measure(*unit.config, evaluation, sample_->meta().evidence, unit.metrics);
      } catch (const std::exception& e) {
        unit.fail(fmt::format("{} layer {}: {}", batch_.sample_label, layer, e.what()));
      }
    }
    return true;
  }

  BatchResult result(double started) {
    BatchResult result;
    result.batch_id = batch_.batch_id;
    if (!unevicted_budgets_.empty())
      result.notes.push_back(fmt::format("{}: n = {} tokens <= budget {}: nothing is evicted (kept = n)",
                                         batch_.sample_label, sample_->meta().n_tokens,
                                         fmt::join(unevicted_budgets_, ", ")));
    for (const auto& [budget, layers] : pyramid_unevicted_)
      result.notes.push_back(fmt::format(
          "{}: n = {} tokens, budget {} with budget_mode = pyramid: {} {} {} every token (PyramidKV gives {} a budget >= n)",
          batch_.sample_label, sample_->meta().n_tokens, budget, layers.size() > 1 ? "layers" : "layer",
          fmt::join(layers, ", "), layers.size() > 1 ? "keep" : "keeps", layers.size() > 1 ? "them" : "it"));
    const double ended = now_seconds();
    for (auto& unit : units_) {
      UnitResult out;
      out.unit_id = unit.task->unit_id;
      out.started = started;
      out.ended = ended;
      out.ok = !unit.failed;
      if (unit.failed) {
        out.error = unit.error;
      } else {
        out.metrics = unit.metrics.finish();
        out.metrics["score_ms"] = unit.score_ms;
      }
      result.units.push_back(std::move(out));
    }
    return result;
  }

 private:
  bool cancelled() const { return options_.cancel && options_.cancel->load(std::memory_order_relaxed); }
  std::string stopping() const { return fmt::format("{}: not finished: the run was stopping", batch_.sample_label); }
  void fail_all(const std::string& message) {
    for (auto& unit : units_) unit.fail(message);
  }

  const Batch& batch_;
  const EvaluatorOptions& options_;
  std::vector<PreparedUnit> units_;
  std::optional<SampleCache> sample_;
  std::set<int> unevicted_budgets_;  // configured budgets >= n seen in this batch
  // Configured budgets < n whose PyramidKV allocation gives some layers a budget >= n: those
  // layers evict nothing (budget -> layers).
  std::map<int, std::set<int>> pyramid_unevicted_;
};

}  // namespace

BatchResult evaluate_batch(const Batch& batch, const EvaluatorOptions& options) {
  const BatchInFlight in_flight;  // idle cores of the process go to the batches in flight
  const double started = now_seconds();
  BatchRun run(batch, options);
  if (run.open_sample())
    for (int layer : run.prepare_units())
      if (!run.evaluate_layer(layer)) break;
  return run.result(started);
}

InspectResult inspect_layer(const std::string& sample_path, int layer, const json& config) {
  SampleCache sample = SampleCache::open(sample_path);
  const std::string label = sample.meta().task + "/" + sample.meta().id;
  UnitTask task;
  task.config = config;
  PreparedUnit unit;
  unit.task = &task;
  prepare(unit, sample.meta(), label, /*stored_document=*/false);
  CKV_CHECK(sample.has_layer(layer), "{}: layer {} is not in the cache (captured layers: {})",
            label, layer, fmt::join(sample.meta().layers, ", "));
  LayerTensors tensors = sample.load_layer(layer);
  const LayerInput input = tensors.view();
  LayerEvaluator evaluator(input, /*device=*/-1);
  const LayerEvaluation evaluation = evaluator.evaluate(*unit.config);
  InspectResult out;
  out.n = input.n;
  out.H = input.H;
  out.G = input.G;
  out.scores = evaluation.scores->heads;
  out.keep = evaluation.keep;
  out.budget = evaluation.budget;
  MetricAccumulator metrics;
  evaluator.measure(*unit.config, evaluation, sample.meta().evidence, metrics);
  out.metrics = metrics.finish();
  return out;
}

}  // namespace ckv
