#include "e2e/keep_export.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cache/cache_index.hpp"
#include "common/error.hpp"
#include "worker/evaluator.hpp"

namespace ckv::e2e {

size_t export_keep_sets(const std::string& cache_dir, const Configuration& config,
                        const std::vector<std::string>& tasks, std::ostream& out) {
  const std::string& hash = config.hash;
  const json& document = config.document;
  size_t lines = 0;
  for (const IndexEntry& entry : read_cache_index(cache_dir)) {
    if (!tasks.empty() && std::find(tasks.begin(), tasks.end(), entry.task) == tasks.end()) continue;
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
