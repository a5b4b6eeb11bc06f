// What a method's score() returns: per-token scores for each selection head (or a custom fill
// order); the shared selection (kernels/stages/selection.hpp) turns them into keep-sets.
#pragma once
#include <memory>
#include <vector>

namespace ckv {

// For methods whose fill order depends on the number of free slots (e.g. the Neumann
// `union` combination). Given the slots to fill and which tokens are already taken (sinks,
// window), return the tokens to add, best first, at most `slots` of them.
class CustomFill {
 public:
  virtual ~CustomFill() = default;
  virtual std::vector<int> fill(int head, int slots, const std::vector<unsigned char>& taken) const = 0;
};

struct Scores {
  // One vector per selection head, each of length n: one vector when the selection is shared
  // by all heads of the layer, G vectors (one per KV head) for per_kv_head selection.
  std::vector<std::vector<float>> heads;
  std::shared_ptr<const CustomFill> custom_fill;  // null: highest score first, ties by position
  bool keep_all = false;                          // `full`: nothing is evicted
};

}  // namespace ckv
