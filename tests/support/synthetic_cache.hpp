// Shared by the worker tests that evaluate batches on real cache files: a synthetic cache
// (cache/synthetic.hpp) in a fresh temporary directory, and a batch of configuration documents
// on one of its samples, as the scheduler sends it.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "cache/cache_index.hpp"
#include "cache/synthetic.hpp"
#include "temp_dir.hpp"
#include "worker/batch.hpp"

namespace ckv_test {

// synth-needle samples of about `tokens` tokens, capturing `layers` (of a 4-layer model).
inline ckv::SynthOptions needle_samples(int samples, int tokens, std::vector<int> layers) {
  ckv::SynthOptions options;
  options.tasks = {"synth-needle"};
  options.samples_per_task = samples;
  options.tokens = tokens;
  options.layers = std::move(layers);
  return options;
}

struct SyntheticCache {
  MkdtempDir dir;
  std::vector<ckv::IndexEntry> entries;  // its index.jsonl

  // Generates `options` into <temp>/<prefix>-XXXXXX (its out_dir is set here); every sample asked
  // for must be written.
  SyntheticCache(const std::string& prefix, ckv::SynthOptions options) : dir(prefix) {
    options.out_dir = dir.path.string();
    REQUIRE(ckv::generate_synthetic_cache(options) == int(options.tasks.size()) * options.samples_per_task);
    entries = ckv::read_cache_index(options.out_dir);
  }

  // Batch 1 on `entry`'s sample: unit i + 1 evaluates documents[i].
  ckv::Batch batch(const ckv::IndexEntry& entry, const std::vector<ckv::json>& documents) const {
    ckv::Batch batch;
    batch.batch_id = 1;
    batch.sample_path = (dir.path / entry.path).string();
    batch.sample_label = entry.task + "/" + entry.id;
    for (size_t i = 0; i < documents.size(); ++i) batch.units.push_back(ckv::UnitTask{int64_t(i + 1), documents[i]});
    return batch;
  }
};

}  // namespace ckv_test
