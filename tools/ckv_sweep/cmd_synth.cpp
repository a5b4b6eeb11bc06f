// `ckv-sweep synth`: write a deterministic synthetic attention cache (docs/spec/DATA.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cache/synthetic.hpp"
#include "common/error.hpp"
#include "common/tasks.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int synth_command(int argc, char** argv) {
  po::options_description options("synth options");
  SynthOptions synth;
  std::string dtype = "f16";
  int seed = 0;
  options.add_options()("out", po::value(&synth.out_dir)->required(), "output cache directory")("tasks", po::value(&synth.tasks)->multitoken(), "synthetic tasks (default: all synth-* tasks)")("samples", po::value(&synth.samples_per_task)->default_value(2), "samples per task")("tokens", po::value(&synth.tokens)->default_value(1024), "prompt length n (varies by up to ±12.5% per sample)")("heads", po::value(&synth.heads)->default_value(8), "query heads H")("kv-heads", po::value(&synth.kv_heads)->default_value(2), "KV heads G")("head-dim", po::value(&synth.head_dim)->default_value(32), "head dimension d")("layers", po::value(&synth.layers)->multitoken(), "captured layer indices (default: 0 1)")("num-layers-model", po::value(&synth.num_layers_model)->default_value(4), "layers of the imitated model")("answer-tokens", po::value(&synth.answer_tokens)->default_value(8), "answer tokens m")("query-rows", po::value(&synth.query_rows)->default_value(0), "captured query rows r (0 = full capture)")("seed", po::value(&seed)->default_value(0), "generator seed")("dtype", po::value(&dtype)->default_value("f16"), "f16 | bf16 | f32")("token-texts", po::bool_switch(&synth.token_texts),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "also write made-up token texts (for keep-view; the tensors are the same)");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep synth --out DIR [options]", options, positional, vm)) return kExitOk;
  if (synth.layers.empty()) synth.layers = {0, 1};
  synth.seed = uint64_t(seed);
  if (dtype == "f16") synth.dtype = DType::F16;
  else if (dtype == "bf16") synth.dtype = DType::BF16;
  else if (dtype == "f32") synth.dtype = DType::F32;
  else usage_check(false, "synth", "--dtype must be f16, bf16 or f32 (got '" + dtype + "')");
  for (const auto& t : synth.tasks) {
    auto info = find_task(t);
    CKV_CHECK(info && info->synthetic, "--tasks: '{}' is not a synthetic task (valid: {})", t,
              fmt::join(synthetic_task_names(), ", "));
  }
  int written = generate_synthetic_cache(synth);
  fmt::print("wrote {} samples to {} (index: {}/index.jsonl)\n", written, synth.out_dir, synth.out_dir);
  return kExitOk;
}

}  // namespace ckv::cli
