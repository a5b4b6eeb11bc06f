// CPU and CUDA twins tested against each other (docs/spec/STYLE.md, as llama.cpp test-backend-ops): every
// registry method with a score_cuda runs on random layers of several shapes (GQA and MHA, n
// not a multiple of the 32-key tile, partial captures) with parameter variants; the CPU result
// is the reference. Checks: no NaN/Inf, NMSE < 1e-10 and max error < 1e-5 of the largest
// magnitude, identical keep-sets, bit-identical repeated CUDA runs. Rank-valued scores
// (circuitkv_neumann) are checked on their signals at 1e-5 and allow a few rank swaps; walk
// visit counts (circuitkv_walk, circuitkv_influence), rc's walk totals and rwr scores must be
// bit-identical, and so must the scores and keep-sets of circuitkv_influence and rc (the rest
// of their scoring is the same host code); the device Neumann series must match NeumannSeries
// on the same graphs to 1e-12.
// Main: tests/cuda_main.cpp (SKIPPED without a CUDA device).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <span>

#include "kernels/cuda/device.hpp"
#include "kernels/registry.hpp"
#include "kernels/stages/selection.hpp"
#include "support/tiny_layer.hpp"
#ifdef CKV_HAVE_CUDA
#include "kernels/circuitkv_influence/influence_kernels.hpp"
#include "kernels/circuitkv_influence/influence_walker.hpp"
#include "kernels/circuitkv_neumann/circuitkv_neumann.hpp"
#include "kernels/circuitkv_walk/circuitkv_walk.hpp"
#include "kernels/circuitkv_walk/walk_chain.hpp"
#include "kernels/rc/rc_walker.hpp"
#include "kernels/stages/attention_device.hpp"
#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/reduced_attention.hpp"
#include "support/names.hpp"
#endif

using namespace ckv;

namespace {

struct Shape {
  int H, G, d, n, r;
};

// Owns the tensors behind a LayerInput: Q and K with unit-normal entries (logits of standard
// deviation ~1.5, so rows are neither uniform nor one-hot) plus a few planted heavy keys.
struct RandomLayer : ckv_test::OwnedLayer {
  RandomLayer(const Shape& s, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    q.resize(size_t(s.H) * s.r * s.d);
    k.resize(size_t(s.G) * s.n * s.d);
    v.assign(size_t(s.G) * s.n * s.d, 0.0f);
    for (float& x : q) x = 1.5f * normal(rng);
    for (float& x : k) x = normal(rng);
    for (int g = 0; g < s.G; ++g)  // heavy hitters: keys aligned with the mean query direction
      for (int j = 3; j < s.n; j += 41)
        for (int c = 0; c < s.d; ++c) k[(size_t(g) * s.n + j) * s.d + c] += 0.3f;
    bind(s.H, s.G, s.d, s.n, s.r, "test/random_" + std::to_string(seed));
    input.layer = 5;
    input.num_layers_model = 28;
  }
};

const std::vector<Shape> kShapes = {
    {4, 2, 64, 300, 300},   // GQA group 2
    {8, 2, 128, 517, 517},  // Qwen-like head dim, group 4
    {6, 6, 32, 97, 97},     // MHA, n < 4 tiles
    {4, 1, 80, 70, 70},     // MQA, n barely above the default window
    {4, 2, 64, 333, 100},   // partial capture: window methods run, rows = all must refuse
    {2, 1, 16, 1, 1},       // a single token
};

// Parameter variants: defaults, every alternative choice, a small window and kernel; the
// budget evicts about two thirds of what selection may evict.
std::vector<json> variants(const MethodDef& method, int n) {
  std::vector<json> given = {json::object()};
  for (const ParamSpec& p : method.params)
    if (p.type == ParamType::String && p.affects_scores)
      for (const std::string& choice : p.choices)
        if (json(choice) != p.default_value) given.push_back({{p.name, choice}});
  if (method.find_param("window")) given.push_back({{"window", 16}});
  if (method.find_param("kernel")) given.push_back({{"kernel", 5}, {"pool", "avg"}});
  if (method.find_param("selection")) {
    const size_t base = given.size();
    for (size_t v = 0; v < base; ++v) {
      json both = given[v];
      both["selection"] = "shared";
      given.push_back(both);
    }
  }
  for (json& g : given) {
    const int window = g.value("window", 64);
    const ParamSpec* sink_spec = method.find_param("sink_size");
    const int sink = sink_spec ? sink_spec->default_value.get<int>() : 0;
    if (method.find_param("budget")) g["budget"] = sink + window + std::max(0, n - sink - window) / 3;
  }
  return given;
}

struct Deviation {
  double nmse = 0, max_rel = 0;
};

Deviation compare(std::span<const float> cpu, std::span<const float> gpu) {
  double num = 0, den = 0, max_diff = 0, max_ref = 0;
  for (size_t j = 0; j < cpu.size(); ++j) {
    const double diff = double(gpu[j]) - cpu[j];
    num += diff * diff;
    den += double(cpu[j]) * cpu[j];
    max_diff = std::max(max_diff, std::abs(diff));
    max_ref = std::max(max_ref, std::abs(double(cpu[j])));
  }
  Deviation e;
  e.nmse = den > 0 ? num / den : num;
  e.max_rel = max_ref > 0 ? max_diff / max_ref : max_diff;
  return e;
}

bool all_finite(std::span<const float> x) {
  return std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); });
}

// Keep-sets must be identical; a difference is accepted only between tokens whose CPU scores
// tie within the score tolerance (1e-5 of the largest magnitude), which the tolerance allows
// to swap. Returns the number of such swaps; fails on any other difference.
int compare_keep_sets(const std::vector<std::vector<int>>& cpu, const std::vector<std::vector<int>>& gpu,
                      const Scores& cpu_scores) {
  REQUIRE(cpu.size() == gpu.size());
  int swaps = 0;
  for (size_t g = 0; g < cpu.size(); ++g) {
    if (cpu[g] == gpu[g]) continue;
    const std::vector<float>& s = cpu_scores.heads[cpu_scores.heads.size() == 1 ? 0 : g];
    const std::set<int> a(cpu[g].begin(), cpu[g].end()), b(gpu[g].begin(), gpu[g].end());
    REQUIRE(a.size() == b.size());
    float lo = INFINITY, hi = -INFINITY, scale = 0;
    for (float x : s) scale = std::max(scale, std::abs(x));
    for (int j : a)
      if (!b.count(j)) lo = std::min(lo, s[j]), hi = std::max(hi, s[j]), ++swaps;
    for (int j : b)
      if (!a.count(j)) lo = std::min(lo, s[j]), hi = std::max(hi, s[j]);
    INFO("KV head " << g << ": keep-sets differ between CPU scores " << lo << " and " << hi);
    REQUIRE(hi - lo <= 1e-5f * scale);
  }
  return swaps;
}

// Methods whose scores are ranks of signals computed from the attention (rank(x)/(n−1)): fp32
// rounding of the device attention (~1e-7) may swap two near-tied positions, a jump of 1/(n−1)
// that no score tolerance covers. Their signals are compared at 1e-5 below ("Neumann signals");
// their scores may differ at a few positions.
bool rank_scored(const std::string& method) { return method == "circuitkv_neumann"; }
// Methods whose twin differs from the CPU only in who runs the walkers, with bit-identical
// results: their scores and keep-sets must be equal, not close.
bool exact_twin(const std::string& method) {
  return method == "circuitkv_influence" || method == "rc";
}
int rank_move_allowance(int n) { return std::max(4, n / 50); }
int rank_moves(const std::vector<float>& cpu, const std::vector<float>& gpu) {
  float scale = 0;
  for (float x : cpu) scale = std::max(scale, std::abs(x));
  int moved = 0;
  for (size_t j = 0; j < cpu.size(); ++j) moved += std::abs(gpu[j] - cpu[j]) > 1e-5f * scale;
  return moved;
}

}  // namespace

TEST_CASE("every method with a CUDA twin matches its CPU reference", "[cuda]") {
  int methods = 0, comparisons = 0, refusals = 0, tie_swaps = 0, rank_moves_total = 0;
  for (const MethodDef& method : method_registry()) {
    if (!method.has_cuda) continue;
    ++methods;
    for (size_t si = 0; si < kShapes.size(); ++si) {
      const Shape& shape = kShapes[si];
      RandomLayer layer(shape, unsigned(1000 + si));
      for (const json& given : variants(method, shape.n)) {
        const Params resolved = resolve_params(method, given);
        const MethodParams params = method.parse(resolved);
        INFO(method.name << " " << resolved.dump() << " on H=" << shape.H << " G=" << shape.G
                         << " d=" << shape.d << " n=" << shape.n << " r=" << shape.r);
        LayerContext cpu_ctx(layer.input), gpu_ctx(layer.input);
        Scores cpu;
        try {
          cpu = method.score_cpu(cpu_ctx, params);
        } catch (const ckv::Error& e) {
          // The CPU refuses (e.g. rows = all on a partial capture): the twin must refuse too.
          CHECK_THROWS_WITH(method.score_cuda(gpu_ctx, params), std::string(e.what()));
          ++refusals;
          continue;
        }
        const Scores gpu = method.score_cuda(gpu_ctx, params);
        REQUIRE(gpu.heads.size() == cpu.heads.size());
        REQUIRE(gpu.keep_all == cpu.keep_all);
        const bool ranks = rank_scored(method.name);
        if (exact_twin(method.name)) REQUIRE(gpu.heads == cpu.heads);
        for (size_t h = 0; h < cpu.heads.size(); ++h) {
          REQUIRE(gpu.heads[h].size() == cpu.heads[h].size());
          REQUIRE(all_finite(cpu.heads[h]));
          REQUIRE(all_finite(gpu.heads[h]));
          if (ranks) {
            const int moved = rank_moves(cpu.heads[h], gpu.heads[h]);
            INFO("head " << h << ": " << moved << " positions changed rank");
            CHECK(moved <= rank_move_allowance(shape.n));
            rank_moves_total += moved;
          } else {
            const Deviation e = compare(cpu.heads[h], gpu.heads[h]);
            INFO("head " << h << ": NMSE " << e.nmse << ", max error " << e.max_rel
                         << " of the largest magnitude");
            CHECK(e.nmse < 1e-10);
            CHECK(e.max_rel < 1e-5);
          }
          ++comparisons;
        }
        if (ranks && method.uses_selection && !cpu.keep_all) {
          // Rank swaps between near-tied signals may move a token across the budget boundary.
          const SelectionParams sel = method.selection(params);
          const auto cpu_keep = select_keep(cpu, sel, shape.n, shape.G, layer.input.layer,
                                            layer.input.num_layers_model);
          const auto gpu_keep = select_keep(gpu, sel, shape.n, shape.G, layer.input.layer,
                                            layer.input.num_layers_model);
          REQUIRE(cpu_keep.size() == gpu_keep.size());
          for (size_t g = 0; g < cpu_keep.size(); ++g) {
            const std::set<int> a(cpu_keep[g].begin(), cpu_keep[g].end());
            int differ = 0;
            for (int j : gpu_keep[g]) differ += a.count(j) ? 0 : 1;
            CHECK(differ <= rank_move_allowance(shape.n));
          }
        } else if (method.uses_selection && !cpu.keep_all) {
          const SelectionParams sel = method.selection(params);
          const auto cpu_keep = select_keep(cpu, sel, shape.n, shape.G, layer.input.layer,
                                            layer.input.num_layers_model);
          const auto gpu_keep = select_keep(gpu, sel, shape.n, shape.G, layer.input.layer,
                                            layer.input.num_layers_model);
          if (exact_twin(method.name)) REQUIRE(gpu_keep == cpu_keep);
          tie_swaps += compare_keep_sets(cpu_keep, gpu_keep, cpu);
        }
        // Deterministic: a fresh device copy gives bit-identical scores.
        LayerContext again_ctx(layer.input);
        const Scores again = method.score_cuda(again_ctx, params);
        for (size_t h = 0; h < gpu.heads.size(); ++h) REQUIRE(again.heads[h] == gpu.heads[h]);
      }
    }
  }
  std::printf(
      "cuda twins: %d methods, %d score vectors compared, %d refusals matched, %d "
      "keep-set swaps between tied scores, %d rank moves between near-tied signals\n",
      methods, comparisons, refusals, tie_swaps, rank_moves_total);
  // h2o, snapkv, pyramidkv, tova, knorm, circuitkv_walk, circuitkv_neumann,
  // circuitkv_influence, rc, rwr: every scoring method but the trivial ones
  REQUIRE(methods >= 10);
  REQUIRE(comparisons > 0);
}

#ifdef CKV_HAVE_CUDA
TEST_CASE("device attention stages match LayerContext", "[cuda]") {
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    INFO("H=" << shape.H << " G=" << shape.G << " d=" << shape.d << " n=" << shape.n
              << " r=" << shape.r);
    RandomLayer layer(shape, unsigned(2000 + si));
    LayerContext ctx(layer.input);
    cuda::LayerKernels& device = cuda::layer_kernels(ctx);
    for (int w : {1, 7, 64}) {
      const int rows = std::min({w, shape.n, shape.r});
      const Tensor3& cpu = ctx.window_attention(rows);
      const std::vector<float> gpu = device.window_attention(rows);
      REQUIRE(gpu.size() == cpu.data.size());
      REQUIRE(all_finite(gpu));
      const Deviation e = compare(cpu.data, gpu);
      INFO("window rows " << rows << ": NMSE " << e.nmse << ", max error " << e.max_rel);
      CHECK(e.nmse < 1e-10);
      CHECK(e.max_rel < 1e-5);
      for (int h = 0; h < shape.H; ++h)  // entries past the diagonal are exact zeros
        for (int t = 0; t < rows; ++t)
          for (int j = shape.n - rows + t + 1; j < shape.n; ++j)
            REQUIRE(gpu[(size_t(h) * rows + t) * shape.n + j] == 0.0f);
    }
    for (int rows : {shape.r, std::min(shape.r, 16)}) {
      const auto& cpu = ctx.column_sums(rows, "test");
      const auto& gpu = device.column_sums(rows);
      REQUIRE(gpu.size() == cpu.size());
      for (int h = 0; h < shape.H; ++h) {
        const std::vector<float> a(cpu[h].begin(), cpu[h].end()), b(gpu[h].begin(), gpu[h].end());
        REQUIRE(all_finite(b));
        const Deviation e = compare(a, b);
        INFO("column sums over " << rows << " rows, head " << h << ": NMSE " << e.nmse
                                 << ", max error " << e.max_rel);
        CHECK(e.nmse < 1e-10);
        CHECK(e.max_rel < 1e-5);
        double total = 0;
        for (double x : gpu[h]) total += x;
        CHECK(std::abs(total - rows) < 1e-4 * rows);  // every row sums to 1
      }
    }
  }
}
#endif

#ifdef CKV_HAVE_CUDA
// The deterministic part of circuitkv_neumann's twin, before ranks: QI, HI (raw series) and the
// DA weights from the device's attention rows agree with the CPU's to 1e-5 relative.
TEST_CASE("circuitkv_neumann: signals from device attention match the CPU", "[cuda]") {
  const MethodDef* method = find_method("circuitkv_neumann");
  REQUIRE(method != nullptr);
  REQUIRE(method->has_cuda);
  const std::vector<json> configs = {
      json::object(),
      {{"head_reduce", "max"}},
      {{"head_reduce", "mean"}, {"temperature", 0.5}},
      {{"graph", "full"}},
      {{"gamma", 0.7}, {"iterations", 30}},
      {{"window", 16}, {"temperature", 2.0}},
  };
  int compared = 0;
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    RandomLayer layer(shape, unsigned(5000 + si));
    for (const json& given : configs) {
      if (given.value("graph", "") == "full" && shape.r < shape.n) continue;
      const circuitkv::NeumannParams params = ckv_test::neumann_params_of(given);
      INFO(given.dump() << " on shape " << si);
      LayerContext cpu_ctx(layer.input), gpu_ctx(layer.input);
      const circuitkv::NeumannRaw cpu = circuitkv::neumann_raw(cpu_ctx, params);
      const circuitkv::NeumannRaw gpu =
          circuitkv::neumann_raw(gpu_ctx, params, circuitkv::RowSource::device);
      CHECK(gpu.series.terms == cpu.series.terms);
      const std::pair<const std::vector<double>*, const std::vector<double>*> pairs[] = {
          {&cpu.series.qi, &gpu.series.qi}, {&cpu.series.hi, &gpu.series.hi}, {&cpu.da_qi, &gpu.da_qi}, {&cpu.da_hi, &gpu.da_hi}};
      for (const auto& [a, b] : pairs) {
        REQUIRE(a->size() == b->size());
        const std::vector<float> fa(a->begin(), a->end()), fb(b->begin(), b->end());
        REQUIRE(all_finite(fb));
        const Deviation e = compare(fa, fb);
        INFO("NMSE " << e.nmse << ", max error " << e.max_rel);
        CHECK(e.nmse < 1e-10);
        CHECK(e.max_rel < 1e-5);
        ++compared;
      }
      for (const bool true_hub : {true, false}) {
        json per_head = given;
        per_head["per_head"] = true;
        per_head["true_hub_hi"] = true_hub;
        const circuitkv::NeumannParams p = ckv_test::neumann_params_of(per_head);
        const auto c = circuitkv::neumann_per_head_scores(cpu_ctx, p);
        const auto g =
            circuitkv::neumann_per_head_scores(gpu_ctx, p, circuitkv::RowSource::device);
        REQUIRE(c.size() == g.size());
        for (size_t h = 0; h < c.size(); ++h) {
          const std::vector<float> fc(c[h].begin(), c[h].end()), fg(g[h].begin(), g[h].end());
          CHECK(rank_moves(fc, fg) <= rank_move_allowance(shape.n));  // rank mixes
        }
      }
    }
  }
  REQUIRE(compared > 0);
}

// The device Neumann series (kernels/stages/neumann_kernels.cu) on the same host-built graphs
// as NeumannSeries: QI and HI within 1e-12 relative (bit-identical while the prefix has at most
// 1024 positions; the n = 2500 layer takes the chunked prefix scan), the same number of terms,
// over graphs, reductions, temperatures, γ and a sweep over K in one context (one device
// iteration, restarted for a smaller K).
TEST_CASE("circuitkv_neumann: device series matches NeumannSeries on the same graphs", "[cuda]") {
  std::vector<Shape> shapes = kShapes;
  shapes.push_back({4, 2, 32, 2500, 2500});
  const std::vector<json> configs = {
      json::object(),
      {{"head_reduce", "max"}, {"iterations", 40}},
      {{"head_reduce", "mean"}, {"temperature", 0.5}, {"gamma", 0.8}},
      {{"graph", "full"}},
      {{"graph", "full"}, {"temperature", 0.3}, {"iterations", 25}},
      {{"window", 16}, {"temperature", 2.0}, {"sink_size", 0}},
  };
  int compared = 0, identical = 0;
  for (size_t si = 0; si < shapes.size(); ++si) {
    const Shape& shape = shapes[si];
    RandomLayer layer(shape, unsigned(6000 + si));
    for (const json& given : configs) {
      if (given.value("graph", "") == "full" && (shape.r < shape.n || shape.n > 600)) continue;
      LayerContext ctx(layer.input);
      for (int K : {given.value("iterations", 10), 3, 60, 0}) {
        json with_k = given;
        with_k["iterations"] = K;
        const circuitkv::NeumannParams params = ckv_test::neumann_params_of(with_k);
        INFO(with_k.dump() << " on shape " << si);
        const circuitkv::NeumannRaw cpu = circuitkv::neumann_raw(ctx, params);
        const circuitkv::NeumannRaw gpu = circuitkv::neumann_raw(
            ctx, params, circuitkv::RowSource::host, circuitkv::SeriesDevice::cuda);
        CHECK(gpu.series.terms == cpu.series.terms);
        for (const auto& [a, b] : {std::pair{&cpu.series.qi, &gpu.series.qi},
                                   std::pair{&cpu.series.hi, &gpu.series.hi}}) {
          REQUIRE(a->size() == b->size());
          double diff = 0, scale = 0;
          for (size_t j = 0; j < a->size(); ++j) {
            REQUIRE(std::isfinite((*b)[j]));
            diff = std::max(diff, std::abs((*a)[j] - (*b)[j]));
            scale = std::max(scale, std::abs((*a)[j]));
          }
          INFO("max difference " << diff << " of the largest magnitude " << scale);
          CHECK(diff <= 1e-12 * scale);
          identical += *a == *b;
          ++compared;
        }
      }
    }
  }
  std::printf("circuitkv_neumann: %d device series vectors within 1e-12, %d bit-identical\n",
              compared, identical);
  REQUIRE(compared > 0);
}

// rwr's twin computes every value with rwr_math.hpp in the CPU's order: scores bit-identical
// (the default build contracts no multiply-add on the host), over graph options, the
// reversible walk, reciprocal coupling, restart vectors and selection granularities.
TEST_CASE("rwr: device scores are bit-identical to the CPU", "[cuda]") {
  const MethodDef* method = find_method("rwr");
  REQUIRE(method != nullptr);
  REQUIRE(method->has_cuda);
  const std::vector<json> configs = {
      json::object(),
      {{"reversible", true}},
      {{"reversible", true}, {"reciprocal_beta", 0.7}},
      {{"reciprocal_beta", 0.3}, {"restart", "window"}, {"window", 16}},
      {{"topk", 0}, {"graph_window", 4}},
      {{"topk", 3}, {"graph_window", 2}, {"threshold", 0.2}},
      {{"topk", 1000}, {"graph_window", 0}, {"steps", 9}, {"alpha", 0.5}},
      {{"threshold", 0.9}, {"reversible", true}},  // rows left empty
      {{"selection", "per_query_head"}, {"steps", 0}},
  };
  std::vector<Shape> shapes = kShapes;
  shapes.push_back({2, 1, 24, 1200, 1200});  // long rows: several cutoff passes per block
  int runs = 0;
  for (size_t si = 0; si < shapes.size(); ++si) {
    const Shape& shape = shapes[si];
    RandomLayer layer(shape, unsigned(7000 + si));
    LayerContext cpu_ctx(layer.input), gpu_ctx(layer.input);
    for (const json& given : configs) {
      json with_budget = given;
      with_budget["budget"] = std::max(68, shape.n / 2);
      const MethodParams params = parse_params(*method, with_budget);
      INFO(with_budget.dump() << " on shape " << si);
      if (shape.r < shape.n) {
        CHECK_THROWS(method->score_cpu(cpu_ctx, params));
        CHECK_THROWS(method->score_cuda(gpu_ctx, params));
        continue;
      }
      const Scores cpu = method->score_cpu(cpu_ctx, params);
      const Scores gpu = method->score_cuda(gpu_ctx, params);
      REQUIRE(gpu.heads == cpu.heads);
      ++runs;
    }
  }
  std::printf("rwr: %d configurations bit-identical on the device\n", runs);
  REQUIRE(runs > 0);
}

// docs/spec/METHODS.md "What every method must satisfy": walkers give bit-identical counts when the RNG
// stream is shared. Raw counts of run_walkers against the device, then whole configurations with
// combination = "walk" (the score is the mean visits itself), over seeds, directions, sources,
// count_start, temperatures, walk lengths and both graphs.
TEST_CASE("circuitkv_walk: device visit counts are bit-identical to run_walkers", "[cuda]") {
  using namespace ckv::circuitkv;
  int runs = 0;
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    RandomLayer layer(shape, unsigned(3000 + si));
    LayerContext ctx(layer.input);
    for (const std::string graph_kind : {"window_prefix", "full"}) {
      if (graph_kind == "full" && shape.r < shape.n) continue;  // needs every query row
      for (double temperature : {1.0, 0.5}) {
        GraphOptions o;
        o.graph = ckv_test::graph_kind(graph_kind);
        o.window = 16;
        o.sink = 4;
        o.temperature = temperature;
        o.reduction.mode = HeadReduce::max;
        const AttentionGraph& g = shared_graph(ctx, o);
        const ForwardChain forward = ForwardChain::build(g);
        for (const std::string source : {"query", "window"})
          for (bool is_forward : {false, true}) {
            const WalkChain chain = is_forward ? forward_chain(g, forward, ckv_test::walk_source(source), o.window)
                                               : backward_chain(g, ckv_test::walk_source(source), o.window);
            for (uint64_t seed : {uint64_t(0), uint64_t(7), uint64_t(123456789012345)})
              for (int steps : {1, 10, 40})
                for (bool count_start : {false, true}) {
                  INFO("shape " << si << " " << graph_kind << " T=" << temperature << " "
                                << source << (is_forward ? " forward" : " backward")
                                << " seed " << seed << " steps " << steps
                                << " count_start " << count_start);
                  WalkOptions options;
                  options.walkers = 5003;  // not a multiple of the block size
                  options.steps = steps;
                  options.seed = seed;
                  options.count_start = count_start;
                  const VisitCounts cpu = run_walkers(chain, options);
                  const VisitCounts gpu = run_walkers_cuda(ctx, chain, options);
                  REQUIRE(gpu.walkers == cpu.walkers);
                  REQUIRE(gpu.visits == cpu.visits);
                  ++runs;
                }
          }
      }
    }
  }
  const MethodDef* method = find_method("circuitkv_walk");
  REQUIRE(method != nullptr);
  REQUIRE(method->has_cuda);
  const std::vector<json> configs = {
      {{"combination", "walk"}},
      {{"combination", "walk"}, {"seed", 11}, {"source", "window"}},
      {{"combination", "walk"}, {"seed", 12}, {"direction", "forward"}},
      {{"combination", "walk"}, {"seed", 13}, {"direction", "product"}, {"source", "window"}},
      {{"combination", "walk"}, {"seed", 14}, {"direction", "sum"}, {"count_start", true}},
      {{"combination", "walk"}, {"seed", 15}, {"scales", {3, 7, 20}}},
      {{"combination", "walk"}, {"seed", 16}, {"normalize", "fundamental"}},
      {{"combination", "walk"}, {"seed", 17}, {"temperature", "adaptive"}},
      {{"combination", "walk"}, {"seed", 18}, {"graph", "full"}, {"head_reduce", "mean"}},
      {{"combination", "max"}, {"seed", 19}, {"walkers", 777}},
  };
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    RandomLayer layer(shape, unsigned(4000 + si));
    for (const json& given : configs) {
      if (given.value("graph", "") == "full" && shape.r < shape.n) continue;
      json with_budget = given;
      with_budget["budget"] = std::max(1, shape.n / 2);
      const MethodParams params = parse_params(*method, with_budget);
      INFO(with_budget.dump() << " on shape " << si);
      LayerContext cpu_ctx(layer.input), gpu_ctx(layer.input);
      const Scores cpu = method->score_cpu(cpu_ctx, params);
      const Scores gpu = method->score_cuda(gpu_ctx, params);
      REQUIRE(gpu.heads == cpu.heads);  // mean visits (or their ranks): exactly equal
      ++runs;
    }
  }
  std::printf("circuitkv_walk: %d walk runs and configurations bit-identical on the device\n",
              runs);
}

// circuitkv_influence: raw counts of run_walkers against run_walkers_cuda on both matrices,
// over sinks, temperatures, explore fractions, walk lengths and seeds; then whole
// configurations through the registry (scores equal).
TEST_CASE("circuitkv_influence: device visit counts are bit-identical to run_walkers", "[cuda]") {
  int runs = 0;
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    RandomLayer layer(shape, unsigned(6000 + si));
    LayerContext ctx(layer.input);
    for (const bool full : {false, true}) {
      if (full && shape.r < shape.n) continue;  // needs every query row
      const walkers::ReducedAttention& a =
          full ? walkers::reduced_attention(ctx, walkers::HeadMerge::mean, "test")
               : walkers::window_prefix_attention(ctx, walkers::HeadMerge::max, 16, "test");
      for (int sink : {0, 4})
        for (double temperature : {0.5, 2.0}) {
          const int s = std::min(sink, shape.n);
          const auto table = influence::TransitionTable::build(a, s, temperature);
          const auto explore = influence::TransitionTable::build(a, s, 10.0);
          const auto device_table = influence::upload_table(table);
          const auto device_explore = influence::upload_table(explore);
          for (double explore_fraction : {0.0, 0.3})
            for (int steps : {1, 10, 50})
              for (uint64_t seed : {uint64_t(0), uint64_t(123456789012345)}) {
                INFO("shape " << si << (full ? " full" : " window_prefix") << " sink " << s
                              << " T " << temperature << " explore " << explore_fraction
                              << " steps " << steps << " seed " << seed);
                influence::WalkerOptions o;
                o.walkers = 5003;  // not a multiple of the block size
                o.max_steps = steps;
                o.sink = s;
                o.temperature = temperature;
                o.explore_fraction = explore_fraction;
                o.explore_temperature = 10.0;
                o.seed = seed;
                const auto cpu = influence::run_walkers(table, explore, o);
                const auto gpu = influence::run_walkers_cuda(*device_table, *device_explore, o);
                REQUIRE(gpu == cpu);
                ++runs;
              }
        }
    }
  }
  const MethodDef* method = find_method("circuitkv_influence");
  REQUIRE(method != nullptr);
  REQUIRE(method->has_cuda);
  const std::vector<json> configs = {
      json::object(),
      {{"seed", 21}, {"combine_h2o", false}},
      {{"seed", 22}, {"explore_fraction", 0.0}, {"max_steps", 10}},
      {{"seed", 23}, {"temperature", 0.5}, {"walkers", 777}},
      {{"seed", 24}, {"graph", "full"}},
      {{"seed", 25}, {"graph", "full"}, {"head_reduce", "max"}, {"window", 16}},
  };
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    RandomLayer layer(shape, unsigned(7000 + si));
    for (const json& given : configs) {
      if (given.value("graph", "") == "full" && shape.r < shape.n) continue;
      json with_budget = given;
      with_budget["budget"] = std::max(1, shape.n / 2);
      const MethodParams params = parse_params(*method, with_budget);
      INFO(with_budget.dump() << " on shape " << si);
      LayerContext cpu_ctx(layer.input), gpu_ctx(layer.input);
      const Scores cpu = method->score_cpu(cpu_ctx, params);
      const Scores gpu = method->score_cuda(gpu_ctx, params);
      REQUIRE(gpu.heads == cpu.heads);
      ++runs;
    }
  }
  std::printf(
      "circuitkv_influence: %d walker runs and configurations bit-identical on the "
      "device\n",
      runs);
}

// rc: every total of run_walks (visits, plain and first visits, speed: doubles summed in walker
// order) against run_walks_cuda, over graphs, modes, temperatures, sinks, walk lengths, walker
// counts (past run_walks' 8192-walk blocks) and seeds; then whole configurations.
TEST_CASE("rc: device walk totals are bit-identical to run_walks", "[cuda]") {
  int runs = 0;
  const rc::Mode modes[] = {rc::Mode::Basic, rc::Mode::HittingTime, rc::Mode::EscapeProb,
                            rc::Mode::AbsorptionSpeed, rc::Mode::TempMix};
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    if (shape.r < shape.n) continue;  // the top-k graph needs every query row
    RandomLayer layer(shape, unsigned(8000 + si));
    LayerContext ctx(layer.input);
    const walkers::ReducedAttention& a =
        walkers::reduced_attention(ctx, walkers::HeadMerge::mean, "test");
    for (int top_k : {1, 8, 32}) {
      const rc::SparseGraph graph = rc::build_sparse_graph(a, top_k);
      for (int sink : {0, 4}) {
        const int s = std::min(sink, shape.n);
        const int W = std::max(0, std::min(8, shape.n - s));
        std::vector<int> sources;
        for (int i = shape.n - W; i < shape.n; ++i) sources.push_back(i);
        for (const rc::Mode mode : modes)
          for (double temperature : {1.0, 0.5})
            for (int steps : {1, 20, 100})
              for (int walker_count : {256, 3001}) {
                INFO("shape " << si << " k " << top_k << " sink " << s << " mode " << int(mode)
                              << " T " << temperature << " steps " << steps << " walkers "
                              << walker_count);
                rc::WalkOptions o;
                o.walkers = walker_count;
                o.max_steps = steps;
                o.sink = s;
                o.temperature = temperature;
                o.seed = uint64_t(walker_count + steps);
                o.stream = 0x52430000u;
                const rc::WalkTotals cpu = rc::run_walks(graph, sources, mode, o);
                const rc::WalkTotals gpu = rc::run_walks_cuda(graph, sources, mode, o);
                REQUIRE(gpu.plain_visits == cpu.plain_visits);
                REQUIRE(gpu.first_visits == cpu.first_visits);
                REQUIRE(gpu.visits == cpu.visits);
                REQUIRE(gpu.speed == cpu.speed);
                ++runs;
              }
      }
    }
  }
  const MethodDef* method = find_method("rc");
  REQUIRE(method != nullptr);
  REQUIRE(method->has_cuda);
  const std::vector<json> configs = {
      json::object(),
      {{"seed", 31}, {"mode", "hitting_time"}},
      {{"seed", 32}, {"mode", "escape_prob"}, {"observation_window", 3}},
      {{"seed", 33}, {"mode", "absorption_speed"}, {"top_k", 4}},
      {{"seed", 34}, {"mode", "temp_mix"}, {"walkers", 1001}},
      {{"seed", 35}, {"mode", "combined"}, {"temperature", 0.7}, {"head_reduce", "max"}},
  };
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& shape = kShapes[si];
    RandomLayer layer(shape, unsigned(9000 + si));
    for (const json& given : configs) {
      json with_budget = given;
      with_budget["budget"] = std::max(1, shape.n / 2);
      const MethodParams params = parse_params(*method, with_budget);
      INFO(with_budget.dump() << " on shape " << si);
      LayerContext cpu_ctx(layer.input), gpu_ctx(layer.input);
      Scores cpu;
      try {
        cpu = method->score_cpu(cpu_ctx, params);
      } catch (const ckv::Error& e) {  // a partial capture: both refuse alike
        CHECK_THROWS_WITH(method->score_cuda(gpu_ctx, params), std::string(e.what()));
        continue;
      }
      const Scores gpu = method->score_cuda(gpu_ctx, params);
      REQUIRE(gpu.heads == cpu.heads);
      ++runs;
    }
  }
  std::printf("rc: %d walk runs and configurations bit-identical on the device\n", runs);
}
#endif
