// Keep-set export (docs/spec/MISSION.md R11): a configuration's keep-sets on every sample of a cache, so a generation
// harness can evict exactly those tokens and the predictions can be scored end to end.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "configuration/configuration.hpp"

namespace ckv::e2e {

// One JSON line per sample of `cache_dir` (only `tasks` when not empty), in index order:
// {"id", "task", "config_hash", "layers": {"L": [[kept token indices of KV head 0], ...]}}
// over the configuration's layers ("all": every captured layer), each list sorted.
// Returns the number of lines written.
//
// A generation harness evicts in every layer of the model, so a line that leaves out model
// layers cannot be generated with: unless `allow_missing_layers`, every selected sample is
// checked first (nothing is written) and a sample whose exported layers are not all of
// [0, num_layers_model) is refused, naming its file, id and the missing layers.
size_t export_keep_sets(const std::string& cache_dir, const Configuration& config,
                        const std::vector<std::string>& tasks, std::ostream& out,
                        bool allow_missing_layers = false);

}  // namespace ckv::e2e
