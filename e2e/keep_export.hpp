// Keep-set export (R11): a configuration's keep-sets on every sample of a cache, so a generation
// harness can evict exactly those tokens and the predictions can be scored end to end.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "common/canonical_json.hpp"

namespace ckv::e2e {

// The configuration document the scheduler stores and hashes ({"method", "params", "eval"},
// scheduler/spec.cpp make_configuration): parameters resolved against the method registry
// (defaults filled in, unknown or out-of-range ones refused), eval defaulting to
// {"layers": "all", "topk": 32}. Throws ckv::Error naming the problem.
json configuration_document(const std::string& method, const json& given_params, const json& eval);
// Same from a document as stored in configurations.canonical_json (e.g. a CONFIG.json file).
json configuration_document(const json& document);

// One JSON line per sample of `cache_dir` (only `tasks` when not empty), in index order:
// {"id", "task", "config_hash", "layers": {"L": [[kept token indices of KV head 0], ...]}}
// over the configuration's layers ("all": every captured layer), each list sorted.
// Returns the number of lines written.
//
// A generation harness evicts in every layer of the model, so a line that leaves out model
// layers cannot be generated with: unless `allow_missing_layers`, every selected sample is
// checked first (nothing is written) and a sample whose exported layers are not all of
// [0, num_layers_model) is refused, naming its file, id and the missing layers.
size_t export_keep_sets(const std::string& cache_dir, const json& document,
                        const std::vector<std::string>& tasks, std::ostream& out,
                        bool allow_missing_layers = false);

}  // namespace ckv::e2e
