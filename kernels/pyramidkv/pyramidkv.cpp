// `pyramidkv`: SnapKV scores with pyramidal layer budgets (Cai et al., "PyramidKV: Dynamic KV
// Cache Compression based on Pyramidal Information Funneling", 2024; docs/spec/METHODS.md
// "Baselines"). The allocation itself is layer_budget() in kernels/stages/selection.cpp.
#include "kernels/method_factories.hpp"
#include "kernels/snapkv/snapkv.hpp"

namespace ckv {

MethodDef make_pyramidkv_method() {
  ParamSchema<SnapkvParams> schema = snapkv_schema();
  schema.set_default("budget_mode", "pyramid");
  // SnapKV's conventions plus each reference's budget rounding: kvpress's real-valued
  // PyramidKVPress, KVCache-Factory's floor divisions (also the public CircuitKV runs').
  auto with = [](json knobs, const char* rounding) {
    knobs["pyramid_rounding"] = rounding;
    return knobs;
  };
  schema.convention(
      {{"kvpress", with(snapkv_convention("kvpress"), "float")},
       {"kvcache_factory", with(snapkv_convention("kvcache_factory"), "integer")},
       {"circuitkv_public", with(snapkv_convention("circuitkv_public"), "integer")}},
      "sets the knobs to a reference implementation's (given parameters win); never stored, the "
      "parameters it sets are");
  return define_method<SnapkvParams>(
      "pyramidkv", "SnapKV scores with pyramidal layer budgets (more in lower layers)",
      "Cai et al. 2024, PyramidKV (arXiv:2406.02069); KVCache-Factory, kvpress", std::move(schema),
      snapkv_scores_cpu, CKV_CUDA_TWIN(snapkv_scores_cuda));
}

}  // namespace ckv
