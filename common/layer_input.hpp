// One layer of one cached sample as the methods and metrics read it: read-only fp32 views of the
// post-RoPE tensors (docs/spec/DATA.md). Lives below both cache/ (which fills it) and kernels/
// (which reads it), so neither depends on the other.
#pragma once
#include <cstddef>
#include <string>

namespace ckv {

struct LayerInput {
  int H = 0;                        // query heads
  int G = 0;                        // KV heads (H % G == 0; head h reads KV head h / (H / G))
  int d = 0;                        // head dim
  int n = 0;                        // prompt tokens
  int r = 0;                        // captured query rows: the last r prompt positions (r == n: full capture)
  int m = 0;                        // answer tokens
  const float* q = nullptr;         // [H, r, d]
  const float* k = nullptr;         // [G, n, d]
  const float* v = nullptr;         // [G, n, d]
  const float* q_answer = nullptr;  // [H, m, d]
  const float* k_answer = nullptr;  // [G, m, d]
  const float* v_answer = nullptr;  // [G, m, d]
  int layer = 0;                    // model layer index
  int num_layers_model = 1;         // layers in the model (PyramidKV allocation)
  std::string sample;               // "task/id", for messages

  int group() const { return H / G; }
  int kv_head(int h) const { return h / group(); }
  // Query vector of prompt position `pos` (requires pos >= n - r).
  const float* query(int h, int pos) const { return q + (size_t(h) * r + (pos - (n - r))) * d; }
  const float* key(int g, int j) const { return k + (size_t(g) * n + j) * d; }
  const float* value(int g, int j) const { return v + (size_t(g) * n + j) * d; }
};

}  // namespace ckv
