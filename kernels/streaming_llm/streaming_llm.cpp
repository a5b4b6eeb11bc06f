// `streaming_llm`: attention sinks plus the most recent tokens (Xiao et al., "Efficient
// Streaming Language Models with Attention Sinks", ICLR 2024; docs/spec/METHODS.md "Baselines").
#include "kernels/method_factories.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

namespace {

struct StreamingLlmParams {
  SelectionParams selection;
};

// Score = position: the selection keeps sinks + window, then fills with the next most
// recent tokens, i.e. sinks plus the last B - s tokens.
Scores recency_scores(LayerContext& ctx, const StreamingLlmParams& p) {
  const LayerInput& in = ctx.input();
  std::vector<double> x(in.n);
  for (int j = 0; j < in.n; ++j) x[j] = double(j);
  return replicate_scores(x, in, p.selection.granularity);
}

}  // namespace

MethodDef make_streaming_llm_method() {
  ParamSchema<StreamingLlmParams> schema;
  schema.include(&StreamingLlmParams::selection,
                 selection_schema(4, SelectionGranularity::per_kv_head));
  // Both references keep the first 4 tokens and the most recent ones (kvpress per KV head,
  // KVCache-Factory per query head after repeat_kv: the same set for every head).
  schema.convention({{"kvpress", {{"sink_size", 4}, {"selection", "per_kv_head"}}},
                     {"kvcache_factory", {{"sink_size", 4}, {"selection", "per_query_head"}}}},
                    "sets the knobs to a reference implementation's (given parameters win); "
                    "never stored, the parameters it sets are");
  return define_method<StreamingLlmParams>("streaming_llm", "Attention sinks plus the most recent tokens",
                                           "Xiao et al. 2024, StreamingLLM (arXiv:2309.17453)",
                                           std::move(schema), recency_scores);
}

}  // namespace ckv
