// `random`: seeded uniform scores, the lower reference (docs/spec/METHODS.md "Baselines").
#include "common/philox.hpp"
#include "kernels/method_factories.hpp"
#include "kernels/stages/head_reduction.hpp"

namespace ckv {

namespace {

struct RandomParams {
  SelectionParams selection;
  uint64_t seed = 0;
};

// Counter-based draw keyed by (seed, position): the same token gets the same score in every
// layer, head, thread and run, so the keep-set is a pure function of (seed, n, budget).
// Stream 0x52414E44 ("RAND") keeps these draws apart from the walkers' streams.
Scores random_scores(LayerContext& ctx, const RandomParams& p) {
  const LayerInput& in = ctx.input();
  std::vector<double> x(in.n);
  for (int j = 0; j < in.n; ++j) x[j] = philox_walk_draw(p.seed, 0x52414E44u, uint32_t(j), 0u).u0;
  return replicate_scores(x, in, p.selection.granularity);
}

}  // namespace

MethodDef make_random_method() {
  ParamSchema<RandomParams> schema;
  schema.include(&RandomParams::selection, selection_schema(0, SelectionGranularity::per_kv_head));
  schema.integer(&RandomParams::seed, "seed", 0, 0, 4294967295.0,
                 "random seed; scores are a Philox draw keyed by (seed, position), identical "
                 "for every head and layer");
  return define_method<RandomParams>("random", "Seeded uniform random scores (the lower reference)",
                                     "docs/spec/METHODS.md Baselines", std::move(schema), random_scores);
}

}  // namespace ckv
