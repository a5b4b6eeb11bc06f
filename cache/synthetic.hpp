// Deterministic synthetic caches with planted structure (docs/spec/DATA.md "Synthetic caches"):
// attention sinks, a local band, few-shot blocks, multi-hop bridge chains, a needle,
// diffuse attention, with evidence spans recorded. Same options and seed → same bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cache/safetensors.hpp"

namespace ckv {

struct SynthOptions {
  std::string out_dir;
  std::vector<std::string> tasks;  // synthetic task names (synth-*); empty = all
  int samples_per_task = 2;
  int tokens = 1024;  // prompt length n (each sample varies it by up to ±12.5%)
  int heads = 8;      // H
  int kv_heads = 2;   // G
  int head_dim = 32;  // d
  std::vector<int> layers = {0, 1};
  int num_layers_model = 4;
  int answer_tokens = 8;  // m
  int query_rows = 0;     // r; 0 = full capture (r = n)
  uint64_t seed = 0;
  DType dtype = DType::F16;
  // Also write made-up token texts (metadata `token_texts`: words, sub-word pieces, digits,
  // punctuation, newlines, a BOS special token), so keep-set views can be tried on synthetic
  // caches. Drawn from their own random stream: the tensors are the same bytes either way.
  bool token_texts = false;
};

// Writes <out_dir>/<task>/<id>.safetensors and <out_dir>/index.jsonl. Returns the number of
// samples written.
int generate_synthetic_cache(const SynthOptions& options);

}  // namespace ckv
