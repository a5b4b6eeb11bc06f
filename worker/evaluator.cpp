#include "worker/evaluator.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cache/sample_cache.hpp"
#include "common/error.hpp"
#include "configuration/configuration.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/stages/threads.hpp"
#include "worker/metrics.hpp"

namespace ckv {

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// One configuration of the batch, parsed once.
struct PreparedUnit {
  const UnitTask* task = nullptr;
  std::optional<Configuration> config;
  std::string score_key;
  std::vector<int> layers;
  bool failed = false;
  std::string error;
  MetricAccumulator metrics;
  double score_ms = 0;
  double started = 0;
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
  unit.score_key = unit.config->score_key();
  unit.layers = unit.config->eval.layers_of(meta.layers);
  for (int layer : unit.layers)
    CKV_CHECK(std::find(meta.layers.begin(), meta.layers.end(), layer) != meta.layers.end(),
              "{}: layer {} is not in the cache (captured layers: {})", label, layer,
              fmt::join(meta.layers, ", "));
}

std::vector<std::vector<int>> keep_sets(const Configuration& config, const Scores& scores,
                                        const LayerInput& in) {
  if (!config.method->uses_selection || scores.keep_all) {
    std::vector<int> all(in.n);
    for (int j = 0; j < in.n; ++j) all[j] = j;
    return std::vector<std::vector<int>>(in.G, all);
  }
  return select_keep(scores, config.selection(), in.n, in.G, in.layer, in.num_layers_model, in.H);
}

// Budget-independent scores are computed once per (layer, score key) and shared.
struct ScoreCacheEntry {
  Scores scores;
  double ms = 0;
  std::string error;
};


}  // namespace

BatchResult evaluate_batch(const Batch& batch, const EvaluatorOptions& options) {
  const BatchInFlight in_flight;  // idle cores of the process go to the batches in flight
  BatchResult result;
  result.batch_id = batch.batch_id;
  std::vector<PreparedUnit> units(batch.units.size());
  const double batch_start = now_seconds();
  for (size_t i = 0; i < units.size(); ++i) {
    units[i].task = &batch.units[i];
    units[i].started = batch_start;
  }

  auto fail_all = [&](const std::string& message) {
    for (auto& unit : units)
      if (!unit.failed) {
        unit.failed = true;
        unit.error = message;
      }
  };

  std::optional<SampleCache> sample;
  try {
    // The CUDA kernels run on the calling thread's current device: bind the worker's GPU.
    bind_cuda_device(options.device);
    sample.emplace(SampleCache::open(batch.sample_path, batch.sample_fingerprint));
  } catch (const std::exception& e) {
    fail_all(fmt::format("{}: {}", batch.sample_label, e.what()));  // names the sample and its file
  }

  std::set<int> unevicted_budgets;  // configured budgets >= n seen in this batch
  // Configured budgets < n whose PyramidKV allocation gives some layers a budget >= n: those
  // layers evict nothing (budget -> layers).
  std::map<int, std::set<int>> pyramid_unevicted;
  if (sample) {
    const SampleMeta& meta = sample->meta();
    std::set<int> layers;
    for (auto& unit : units) {
      try {
        prepare(unit, meta, batch.sample_label, /*stored_document=*/true);
        layers.insert(unit.layers.begin(), unit.layers.end());
      } catch (const std::exception& e) {
        unit.failed = true;
        unit.error = e.what();
      }
    }
    auto cancelled = [&] { return options.cancel && options.cancel->load(std::memory_order_relaxed); };
    for (int layer : layers) {
      if (cancelled()) {
        fail_all(fmt::format("{}: not finished: the run was stopping", batch.sample_label));
        break;
      }
      LayerTensors tensors;
      try {
        tensors = sample->load_layer(layer);
      } catch (const std::exception& e) {
        fail_all(e.what());
        break;
      }
      const LayerInput input = tensors.view();
      LayerContext context(input, options.device >= 0 ? Device::gpu(options.device) : Device::cpu());
      std::map<std::string, ScoreCacheEntry> shared;
      std::map<int, AnswerAttention> answers;  // per topk: keep-set independent metric parts
      for (auto& unit : units) {
        if (unit.failed ||
            std::find(unit.layers.begin(), unit.layers.end(), layer) == unit.layers.end())
          continue;
        if (cancelled()) {
          unit.failed = true;
          unit.error = fmt::format("{}: not finished: the run was stopping", batch.sample_label);
          continue;
        }
        auto it = shared.find(unit.score_key);
        if (it == shared.end()) {
          ScoreCacheEntry entry;
          const auto t0 = std::chrono::steady_clock::now();
          try {
            entry.scores = unit.config->method->score(context, unit.config->typed);
          } catch (const std::exception& e) {
            entry.error = fmt::format("{} layer {}: {}", batch.sample_label, layer, e.what());
          }
          entry.ms = elapsed_ms(t0);
          it = shared.emplace(unit.score_key, std::move(entry)).first;
        }
        if (!it->second.error.empty()) {
          unit.failed = true;
          unit.error = it->second.error;
          continue;
        }
        try {
          const auto t0 = std::chrono::steady_clock::now();
          auto keep = keep_sets(*unit.config, it->second.scores, input);
          if (unit.config->method->uses_selection) {
            // docs/spec/METHODS.md: n <= B evicts nothing. Legitimate, but a researcher should
            // know the point measures the full cache on this sample (docs/spec/MISSION.md R13:
            // a sample shorter than the budget).
            // The message names the configured budget (what the sweep file says), not the layer's.
            const SelectionParams& selection = unit.config->selection();
            const int budget = layer_budget(selection, layer, input.num_layers_model, input.n);
            const int configured = sample_budget(selection, input.n);  // `budget`, or set by compression_ratio
            if (input.n <= budget) {
              if (input.n <= configured) unevicted_budgets.insert(configured);
              else pyramid_unevicted[configured].insert(layer);
            }
          }
          unit.score_ms += it->second.ms + elapsed_ms(t0);
          const int topk = unit.config->eval.topk;
          // The metrics always run on the CPU, also on GPU workers: the device twin
          // (worker/metrics_cuda.hpp) computes in double, not numerics 2, and a campaign must
          // not mix the two under one identity (kernels/numerics.hpp).
          auto answer = answers.find(topk);
          if (answer == answers.end())
            answer = answers.emplace(topk, AnswerAttention::compute(input, topk)).first;
          unit.metrics.add_layer(input, answer->second, keep, meta.evidence);
        } catch (const std::exception& e) {
          unit.failed = true;
          unit.error = fmt::format("{} layer {}: {}", batch.sample_label, layer, e.what());
        }
      }
    }
  }

  if (!unevicted_budgets.empty())
    result.notes.push_back(fmt::format("{}: n = {} tokens <= budget {}: nothing is evicted (kept = n)",
                                       batch.sample_label, sample->meta().n_tokens, fmt::join(unevicted_budgets, ", ")));
  for (const auto& [budget, layers] : pyramid_unevicted)
    result.notes.push_back(fmt::format(
        "{}: n = {} tokens, budget {} with budget_mode = pyramid: {} {} {} every token (PyramidKV gives {} a budget >= n)",
        batch.sample_label, sample->meta().n_tokens, budget, layers.size() > 1 ? "layers" : "layer", fmt::join(layers, ", "),
        layers.size() > 1 ? "keep" : "keeps", layers.size() > 1 ? "them" : "it"));
  const double end = now_seconds();
  for (auto& unit : units) {
    UnitResult out;
    out.unit_id = unit.task->unit_id;
    out.started = unit.started;
    out.ended = end;
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
  LayerContext context(input);
  const Configuration& c = *unit.config;
  Scores scores = c.method->score_cpu(context, c.typed);
  InspectResult out;
  out.n = input.n;
  out.H = input.H;
  out.G = input.G;
  out.scores = scores.heads;
  out.keep = keep_sets(c, scores, input);
  out.budget = c.method->uses_selection
                   ? layer_budget(c.selection(), input.layer, input.num_layers_model, input.n)
                   : input.n;
  MetricAccumulator metrics;
  metrics.add_layer(input, out.keep, sample.meta().evidence, c.eval.topk);
  out.metrics = metrics.finish();
  return out;
}

// ---- wire format (embedded queues and MPI messages carry the same JSON) ----------

json batch_to_json(const Batch& batch) {
  json units = json::array();
  for (const auto& u : batch.units) units.push_back({{"unit", u.unit_id}, {"config", u.config}});
  return {{"batch", batch.batch_id},
          {"path", batch.sample_path},
          {"label", batch.sample_label},
          {"fingerprint", batch.sample_fingerprint},
          {"units", units}};
}

Batch batch_from_json(const json& j) {
  Batch batch;
  batch.batch_id = j.at("batch").get<int64_t>();
  batch.sample_path = j.at("path").get<std::string>();
  batch.sample_label = j.at("label").get<std::string>();
  batch.sample_fingerprint = j.value("fingerprint", std::string());
  for (const auto& u : j.at("units"))
    batch.units.push_back(UnitTask{u.at("unit").get<int64_t>(), u.at("config")});
  return batch;
}

json batch_result_to_json(const BatchResult& result) {
  json units = json::array();
  for (const auto& u : result.units) {
    json metrics = json::object();
    for (const auto& [name, value] : u.metrics) metrics[name] = value ? json(*value) : json(nullptr);
    units.push_back({{"unit", u.unit_id},
                     {"ok", u.ok},
                     {"error", u.error},
                     {"metrics", metrics},
                     {"started", u.started},
                     {"ended", u.ended}});
  }
  return {{"batch", result.batch_id}, {"units", units}, {"notes", result.notes}};
}

BatchResult batch_result_from_json(const json& j) {
  BatchResult result;
  result.batch_id = j.at("batch").get<int64_t>();
  result.notes = j.value("notes", std::vector<std::string>());
  for (const auto& u : j.at("units")) {
    UnitResult out;
    out.unit_id = u.at("unit").get<int64_t>();
    out.ok = u.at("ok").get<bool>();
    out.error = u.at("error").get<std::string>();
    for (const auto& [name, value] : u.at("metrics").items())
      out.metrics[name] = value.is_null() ? std::nullopt : std::optional<double>(value.get<double>());
    out.started = u.at("started").get<double>();
    out.ended = u.at("ended").get<double>();
    result.units.push_back(std::move(out));
  }
  return result;
}

}  // namespace ckv
