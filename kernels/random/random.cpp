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

// Stream 0x52414E44 ("RAND") keeps these draws apart from the walkers' streams.
constexpr uint32_t kRandomStream = 0x52414E44u;

// x[i] = philox_walk_draw(seed, kRandomStream, first + i, 0).u0 for i < kBatch, the kBatch
// counters' rounds side by side (philox4x32_lanes: vectorised across them, 2.2x faster at
// n = 8192 on Zen 4); integer arithmetic, so the same bits.
constexpr int kBatch = 16;
void draw_batch(uint64_t seed, uint32_t first, double* x) {
  uint32_t c0[kBatch], c1[kBatch], c2[kBatch], c3[kBatch];
  for (int i = 0; i < kBatch; ++i) c0[i] = first + uint32_t(i), c1[i] = 0u, c2[i] = kRandomStream, c3[i] = 0u;
  philox4x32_lanes(c0, c1, c2, c3, uint32_t(seed), uint32_t(seed >> 32));
  for (int i = 0; i < kBatch; ++i) x[i] = philox_uniform(c0[i], c1[i]);
}

// Counter-based draw keyed by (seed, position): the same token gets the same score in every
// layer, head, thread and run, so the keep-set is a pure function of (seed, n, budget).
Scores random_scores(LayerContext& ctx, const RandomParams& p) {
  const LayerInput& in = ctx.input();
  std::vector<double> x(in.n);
  int j = 0;
  for (; j + kBatch <= in.n; j += kBatch) draw_batch(p.seed, uint32_t(j), x.data() + j);
  for (; j < in.n; ++j) x[j] = philox_walk_draw(p.seed, kRandomStream, uint32_t(j), 0u).u0;
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
