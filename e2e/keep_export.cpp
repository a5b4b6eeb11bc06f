#include "e2e/keep_export.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cache/cache_index.hpp"
#include "cache/sample_cache.hpp"
#include "common/error.hpp"
#include "kernels/registry.hpp"
#include "worker/evaluator.hpp"

namespace ckv::e2e {

json configuration_document(const std::string& method_name, const json& given_params, const json& eval) {
  const MethodDef* method = find_method(method_name);
  if (!method)
    CKV_FAIL("unknown method '{}' (valid: {})", method_name, fmt::format("{}", fmt::join(method_names(), ", ")));
  json resolved_eval = {{"layers", "all"}, {"topk", 32}};
  for (const auto& [key, value] : eval.items()) {
    CKV_CHECK(key == "layers" || key == "topk", "eval: unknown key '{}' (valid: layers, topk)", key);
    resolved_eval[key] = value;
  }
  if (resolved_eval["layers"].is_array()) {  // the scheduler sorts them (eval_document)
    auto layers = resolved_eval["layers"].get<std::vector<int>>();
    std::sort(layers.begin(), layers.end());
    resolved_eval["layers"] = layers;
  } else {
    CKV_CHECK(resolved_eval["layers"] == "all", "eval.layers must be \"all\" or a list of layers");
  }
  CKV_CHECK(resolved_eval["topk"].is_number_integer(), "eval.topk must be an integer");
  return json{{"method", method->name},
              {"params", resolve_params(*method, given_params)},
              {"eval", resolved_eval}};
}

json configuration_document(const json& document) {
  CKV_CHECK(document.is_object() && document.contains("method") && document["method"].is_string(),
            "a configuration is a JSON object {{\"method\", \"params\", \"eval\"}}");
  return configuration_document(document["method"].get<std::string>(),
                                document.value("params", json::object()),
                                document.value("eval", json::object()));
}

size_t export_keep_sets(const std::string& cache_dir, const json& document,
                        const std::vector<std::string>& tasks, std::ostream& out,
                        bool allow_missing_layers) {
  const std::string hash = sha256_hex(canonical_json(document));
  const json& eval_layers = document.at("eval").at("layers");
  std::vector<IndexEntry> selected;
  for (const IndexEntry& entry : read_cache_index(cache_dir))
    if (tasks.empty() || std::find(tasks.begin(), tasks.end(), entry.task) != tasks.end())
      selected.push_back(entry);
  auto layers_of = [&](const IndexEntry& entry) {
    return eval_layers.is_array() ? eval_layers.get<std::vector<int>>() : entry.layers;
  };

  // Checked before the first line is written: a refused export leaves no partial file behind
  // that a harness could mistake for a complete one.
  if (!allow_missing_layers) {
    for (const IndexEntry& entry : selected) {
      const std::string path = cache_dir + "/" + entry.path;
      const int model_layers = SampleCache::open(path).meta().num_layers_model;
      std::vector<int> exported = layers_of(entry), missing;
      std::sort(exported.begin(), exported.end());
      for (int layer = 0; layer < model_layers; ++layer)
        if (!std::binary_search(exported.begin(), exported.end(), layer)) missing.push_back(layer);
      if (!missing.empty())
        CKV_FAIL("{} (sample '{}'): the keep-sets would cover layers [{}] of the model's {}; missing "
                 "layers [{}]. Generation evicts in every layer, so export-keep needs a cache that "
                 "captured all of them (ckv-capture --layers all; --query-rows 64 suffices for "
                 "window methods){}. Pass --allow-missing-layers to export them anyway (for "
                 "analysis; ckv-generate refuses such keep-sets)",
                 path, entry.id, fmt::join(exported, ", "), model_layers, fmt::join(missing, ", "),
                 eval_layers.is_array() ? " and a configuration whose eval.layers is \"all\"" : "");
    }
  }

  size_t lines = 0;
  for (const IndexEntry& entry : selected) {
    const std::vector<int> layers = layers_of(entry);
    const std::string path = cache_dir + "/" + entry.path;
    json per_layer = json::object();
    for (int layer : layers) {
      InspectResult r = inspect_layer(path, layer, document);
      for (auto& head : r.keep) std::sort(head.begin(), head.end());
      per_layer[std::to_string(layer)] = r.keep;
    }
    json line = {{"id", entry.id}, {"task", entry.task}, {"config_hash", hash}, {"layers", per_layer}};
    out << line.dump() << "\n";
    CKV_CHECK(out, "cannot write the keep-sets");
    ++lines;
  }
  return lines;
}

}  // namespace ckv::e2e
