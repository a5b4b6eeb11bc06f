#include "e2e/keep_export.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cache/cache_index.hpp"
#include "cache/sample_cache.hpp"
#include "common/error.hpp"
#include "worker/evaluator.hpp"

namespace ckv::e2e {

size_t export_keep_sets(const std::string& cache_dir, const Configuration& config,
                        const std::vector<std::string>& tasks, std::ostream& out,
                        bool allow_missing_layers) {
  const std::string& hash = config.hash;
  const json& document = config.document;
  std::vector<IndexEntry> selected;
  for (const IndexEntry& entry : read_cache_index(cache_dir))
    if (tasks.empty() || std::find(tasks.begin(), tasks.end(), entry.task) != tasks.end())
      selected.push_back(entry);

  // Checked before the first line is written: a refused export leaves no partial file behind
  // that a harness could mistake for a complete one.
  if (!allow_missing_layers) {
    for (const IndexEntry& entry : selected) {
      const std::string path = cache_dir + "/" + entry.path;
      const int model_layers = SampleCache::open(path).meta().num_layers_model;
      std::vector<int> exported = config.eval.layers_of(entry.layers), missing;
      std::sort(exported.begin(), exported.end());
      for (int layer = 0; layer < model_layers; ++layer)
        if (!std::binary_search(exported.begin(), exported.end(), layer)) missing.push_back(layer);
      if (!missing.empty())
        CKV_FAIL(
            "{} (sample '{}'): the keep-sets would cover layers [{}] of the model's {}; missing "
            "layers [{}]. Generation evicts in every layer, so export-keep needs a cache that "
            "captured all of them (ckv-capture --layers all; --query-rows 64 suffices for "
            "window methods){}. Pass --allow-missing-layers to export them anyway (for "
            "analysis; ckv-generate refuses such keep-sets)",
            path, entry.id, fmt::join(exported, ", "), model_layers, fmt::join(missing, ", "),
            config.eval.layers ? " and a configuration whose eval.layers is \"all\"" : "");
    }
  }

  size_t lines = 0;
  for (const IndexEntry& entry : selected) {
    const std::vector<int> layers = config.eval.layers_of(entry.layers);
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
