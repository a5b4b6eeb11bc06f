// `ckv-sweep inspect`: one method on one layer of one sample, as one JSON object. Used to check
// methods independently (contract: sample, layer, method, config, config_hash, n, budget, scores,
// keep, metrics).
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cache/cache_index.hpp"
#include "common/error.hpp"
#include "configuration/configuration.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"
#include "worker/evaluator.hpp"

namespace ckv::cli {

int inspect_command(int argc, char** argv) {
  po::options_description options("inspect options");
  std::string cache_dir, sample_id, method_name;
  int layer = 0, budget = -1, topk = EvalSettings::kDefaultTopk;
  std::vector<std::string> settings;
  options.add_options()("cache", po::value(&cache_dir)->required(), "cache directory")("sample", po::value(&sample_id)->required(), "sample id (as in index.jsonl)")("layer", po::value(&layer)->required(), "model layer index")("method", po::value(&method_name)->required(), "registry name")("set", po::value(&settings)->composing(), "parameter key=value (repeatable)")("budget", po::value(&budget), "shorthand for --set budget=B")("topk", po::value(&topk)->default_value(EvalSettings::kDefaultTopk), "k of topk_recall");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep inspect --cache DIR --sample ID --layer L --method NAME [--set k=v]... [--budget B]",
                     options, positional, vm))
    return kExitOk;

  json given = parse_settings(settings, method_name);
  if (budget >= 0) given["budget"] = budget;
  EvalSettings eval;
  eval.layers = std::vector<int>{layer};
  eval.topk = topk;
  const Configuration config = Configuration::make(method_name, given, eval);

  std::string path;
  for (const auto& e : read_cache_index(cache_dir))
    if (e.id == sample_id) path = cache_dir + "/" + e.path;
  CKV_CHECK(!path.empty(), "{}/index.jsonl: no sample with id '{}'", cache_dir, sample_id);

  InspectResult r = inspect_layer(path, layer, config.document);
  json metrics = json::object();
  for (const auto& [name, value] : r.metrics) metrics[name] = value ? json(*value) : json(nullptr);
  json out = {{"sample", sample_id}, {"layer", layer}, {"method", config.method->name}, {"config", config.params}, {"config_hash", config.hash}, {"n", r.n}, {"budget", r.budget}, {"scores", r.scores.size() == 1 ? json(r.scores[0]) : json(r.scores)}, {"keep", r.keep}, {"metrics", metrics}};
  std::cout << out.dump() << "\n";
  return kExitOk;
}

}  // namespace ckv::cli
