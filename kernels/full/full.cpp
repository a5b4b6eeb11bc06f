// `full`: the upper reference; nothing is evicted (docs/spec/METHODS.md "Baselines").
#include "kernels/method_factories.hpp"

namespace ckv {

namespace {

struct FullParams {};

Scores keep_everything(LayerContext&, const FullParams&) {
  Scores scores;
  scores.keep_all = true;
  return scores;
}

}  // namespace

MethodDef make_full_method() {
  return define_method<FullParams>("full", "Keep every prompt token (full KV cache, the upper reference)",
                                   "docs/spec/METHODS.md Baselines (FullKV)", {}, keep_everything);
}

}  // namespace ckv
