// circuitkv_walk (docs/spec/METHODS.md "CircuitKV: absorbing random walks"). The independent truths:
//  - a dense transition matrix built here from the raw attention rows by docs/spec/METHODS.md's formulas
//    (step 1–2), with visit expectations Σ_{t=1..S} x0ᵀQᵗ from plain dense matrix powers;
//  - the Monte Carlo sampling error, judged by per-walker sample variances (z-scores and a
//    chi-square-like aggregate);
//  - hand-computed values for the multi-scale weights, the adaptive temperature and the
//    combination modes.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <set>

#include "common/philox.hpp"
#include "kernels/circuitkv_walk/circuitkv_walk.hpp"
#include "kernels/circuitkv_walk/walk_chain.hpp"
#include "kernels/registry.hpp"
#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/selection.hpp"
#include "support/names.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;
using namespace ckv::circuitkv;

namespace {

using Layer = ckv_test::OwnedLayer;

double gaussian(uint64_t seed, uint32_t a, uint32_t b) {
  WalkDraw d = philox_walk_draw(seed, 7, a, b);
  return std::sqrt(-2.0 * std::log(1.0 - d.u0)) * std::cos(6.283185307179586 * d.u1);
}

// Random Q, K with planted sinks: every query has a constant component that the first four
// keys answer, so walks are absorbed at a moderate rate. `rows` < n: a window-only capture.
Layer make_layer(int n, int H, int G, int d, int rows = -1, uint64_t seed = 11) {
  Layer t;
  const int r = rows < 0 ? n : rows;
  t.q.resize(size_t(H) * r * d);
  t.k.resize(size_t(G) * n * d);
  t.v.assign(size_t(G) * n * d, 0.0f);
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < r; ++i)
      for (int c = 0; c < d; ++c)
        t.q[(size_t(h) * r + i) * d + c] =
            c == 0 ? 2.0f : float(1.5 * gaussian(seed, uint32_t(h * r + i), uint32_t(c)));
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < n; ++j)
      for (int c = 0; c < d; ++c)
        t.k[(size_t(g) * n + j) * d + c] =
            c == 0 ? (j < 4 ? 1.5f : 0.0f)
                   : float(1.5 * gaussian(seed + 1, uint32_t(g * n + j), uint32_t(c)));
  t.bind(H, G, d, n, r, "test/walk");
  return t;
}

// The transition matrix by docs/spec/METHODS.md steps 1–2 with the max head reduction, dense, n×n.
std::vector<double> dense_P(LayerContext& ctx, const std::string& graph, int w, double T) {
  const int n = ctx.n(), H = ctx.input().H;
  std::vector<double> F(size_t(n) * n, 0.0);
  const int ws = graph == "full" ? 0 : n - w;
  const Tensor3& a = graph == "full" ? ctx.window_attention(ctx.n(), "test") : ctx.window_attention(w);
  for (int i = ws; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double m = 0.0;
      for (int h = 0; h < H; ++h) m = std::max(m, double(a.at(h, i - ws, j)));
      F[size_t(i) * n + j] = m;
    }
  if (graph != "full") {
    std::vector<double> h(n, 0.0);
    for (int i = ws; i < n; ++i)
      for (int j = 0; j < n; ++j) h[j] += F[size_t(i) * n + j];
    for (double& x : h) x = std::max(x, 1e-6);
    double cum = 0.0;
    for (int i = 0; i < ws; ++i) {
      for (int j = 0; j < i; ++j) F[size_t(i) * n + j] = h[j] / (cum + 1e-8);
      cum += h[i];
    }
  }
  for (int i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int j = 0; j < n; ++j) sum += (F[size_t(i) * n + j] = std::pow(F[size_t(i) * n + j], 1.0 / T));
    for (int j = 0; j < n; ++j) F[size_t(i) * n + j] /= std::max(sum, 1e-8);
  }
  return F;
}

std::vector<int> region(int n, int s, const std::string& source, int w) {
  std::vector<int> out;
  if (source == "query") out.push_back(n - 1);
  else
    for (int j = std::max(s, n - w); j < n; ++j) out.push_back(j);
  return out;
}

// Σ_{t=t0..S} of the walker distribution, by dense matrix-vector products.
// backward: x_{t}[j] = Σ_{i>=s} x_{t-1}[i] P[i, j], j >= s (Q = P[s:, s:]).
// forward: x_{t}[i] = Σ_j x_{t-1}[j] P[i, j] / Σ_k P[k, j], i outside the source region.
// Walkers N are spread evenly over the starts (N a multiple of their count).
std::vector<double> dense_visits(const std::vector<double>& P, int n, int s, const std::string& source,
                                 int w, bool forward, int S, bool count_start) {
  std::vector<unsigned char> absorbing(n, 0);
  std::vector<int> starts;
  if (!forward) {
    for (int j = 0; j < s; ++j) absorbing[j] = 1;
    starts = region(n, s, source, w);
  } else {
    for (int j : region(n, s, source, w)) absorbing[j] = 1;
    for (int j = 0; j < std::max(s, 1); ++j) starts.push_back(j);
  }
  std::vector<double> x(n, 0.0), total(n, 0.0), col(n, 0.0);
  for (int j : starts) x[j] += 1.0 / double(starts.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) col[j] += P[size_t(i) * n + j];
  if (count_start) total = x;
  for (int t = 1; t <= S; ++t) {
    std::vector<double> y(n, 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const double p = P[size_t(i) * n + j];
        if (!forward) y[j] += x[i] * p;
        else if (col[j] > 0) y[i] += x[j] * p / col[j];
      }
    for (int j = 0; j < n; ++j)
      if (absorbing[j]) y[j] = 0.0;
    for (int j = 0; j < n; ++j) total[j] += y[j];
    x = y;
  }
  return total;
}

// Monte Carlo mean per walker against an expectation. Nodes with at least 20 visits: z-scores
// from the per-walker sample variance, their squares summed over those m nodes (≈ χ²_m).
// Rarer nodes (where a sample variance is unreliable) and zero-variance nodes: against a
// variance bound that needs no sample, Var(c_j) <= E[c_j²] <= S·E[c_j] (a walker visits at
// most S times), i.e. |mean − e| / (√(S·e/N) + 1/N) must stay below 5.
struct Agreement {
  int nodes = 0;
  double chi2 = 0.0, max_z = 0.0;
  double sparse_max_ratio = 0.0;
};

Agreement agreement(const VisitCounts& c, const std::vector<double>& exact, int steps) {
  Agreement a;
  const double N = double(c.walkers);
  for (size_t j = 0; j < exact.size(); ++j) {
    const double mean = double(c.visits[j]) / N;
    const double var = (double(c.squares[j]) / N - mean * mean) * N / (N - 1.0);
    if (c.visits[j] < 20 || var <= 0.0) {
      const double bound = std::sqrt(steps * std::max(exact[j], 0.0) / N) + 1.0 / N;
      a.sparse_max_ratio = std::max(a.sparse_max_ratio, std::fabs(mean - exact[j]) / bound);
      continue;
    }
    const double z = (mean - exact[j]) / std::sqrt(var / N);
    a.chi2 += z * z;
    a.max_z = std::max(a.max_z, std::fabs(z));
    ++a.nodes;
  }
  return a;
}

GraphOptions graph_options(const std::string& graph, int w, int s, double T) {
  GraphOptions o;
  o.graph = ckv_test::graph_kind(graph);
  o.window = w;
  o.sink = s;
  o.temperature = T;
  o.reduction.mode = HeadReduce::max;
  o.reduction.sink = s;
  return o;
}

Params walk_params(json extra) {
  const MethodDef* m = find_method("circuitkv_walk");
  REQUIRE(m != nullptr);
  json p = {{"budget", 20}, {"window", 8}, {"head_reduce", "max"}};
  for (auto& [k, v] : extra.items()) p[k] = v;
  return resolve_params(*m, p);
}

std::vector<float> walk_scores(LayerContext& ctx, const json& extra) {
  const MethodDef* m = find_method("circuitkv_walk");
  Scores s = m->score_cpu(ctx, m->parse(walk_params(extra)));
  REQUIRE(!s.heads.empty());
  return s.heads[0];
}

constexpr int kN = 48, kW = 8, kS = 4, kSteps = 10;

}  // namespace

TEST_CASE("circuitkv_walk: exact estimator equals dense matrix powers of the docs/spec/METHODS.md graph") {
  Layer t = make_layer(kN, 4, 2, 8);
  LayerContext ctx(t.input);
  for (std::string graph : {"window_prefix", "full"})
    for (double T : {0.5, 1.0, 2.0}) {
      const AttentionGraph& g = shared_graph(ctx, graph_options(graph, kW, kS, T));
      const ForwardChain fwd = ForwardChain::build(g);
      const std::vector<double> P = dense_P(ctx, graph, kW, T);
      for (std::string source : {"query", "window"})
        for (bool forward : {false, true})
          for (bool count_start : {false, true}) {
            INFO(graph << " T=" << T << " " << source << (forward ? " forward" : " backward")
                       << " count_start=" << count_start);
            WalkChain chain = forward ? forward_chain(g, fwd, ckv_test::walk_source(source), kW)
                                      : backward_chain(g, ckv_test::walk_source(source), kW);
            auto got = expected_visits(chain, 8000, kSteps, count_start);
            auto want = dense_visits(P, kN, kS, source, kW, forward, kSteps, count_start);
            double total = 0.0;
            for (int j = 0; j < kN; ++j) {
              // The full graph stores P in fp32 (bounded memory): agreement to fp32 rounding.
              CHECK(got[j] == Approx(want[j]).epsilon(graph == "full" ? 1e-6 : 1e-9).margin(1e-12));
              total += want[j];
            }
            CHECK(total > 0.1);  // the walks go somewhere: the comparison is not vacuous
          }
      // The forward chain is the column-normalised transpose: c_j = Σ_i P[i, j].
      for (int j = 0; j < kN; ++j) {
        double c = 0.0;
        for (int i = 0; i < kN; ++i) c += P[size_t(i) * kN + j];
        CHECK(fwd.column_mass(j) == Approx(c).epsilon(graph == "full" ? 1e-6 : 1e-10));
      }
    }
}

TEST_CASE("circuitkv_walk: Monte Carlo mean visits match the exact expectation within 5 SE") {
  // 2 graphs × 3 temperatures × 2 directions × 2 sources = 24 runs of 48 nodes, 40000
  // walkers each. Bound per node |z| < 5 (two-sided p = 5.7e-7 each; Bonferroni over ~1150
  // nodes: 7e-4 family-wise), and per run Σz² over the m judged nodes below m + 5√(2m)
  // (χ²_m, ~5 SD). Seeds fixed, so the outcome is reproducible.
  Layer t = make_layer(kN, 4, 2, 8);
  LayerContext ctx(t.input);
  const long long walkers = 40000;
  int runs = 0;
  for (std::string graph : {"window_prefix", "full"})
    for (double T : {0.5, 1.0, 2.0}) {
      const AttentionGraph& g = shared_graph(ctx, graph_options(graph, kW, kS, T));
      const ForwardChain fwd = ForwardChain::build(g);
      for (std::string source : {"query", "window"})
        for (bool forward : {false, true}) {
          INFO(graph << " T=" << T << " " << source << (forward ? " forward" : " backward"));
          WalkChain chain = forward ? forward_chain(g, fwd, ckv_test::walk_source(source), kW)
                                    : backward_chain(g, ckv_test::walk_source(source), kW);
          WalkOptions o;
          o.walkers = walkers;
          o.steps = kSteps;
          o.seed = 1234 + runs;
          o.second_moments = true;
          // count_start on a few runs: the start term is deterministic and must match too.
          o.count_start = runs % 5 == 0;
          VisitCounts c = run_walkers(chain, o);
          Agreement a =
              agreement(c, expected_visits(chain, walkers, kSteps, o.count_start), kSteps);
          INFO("nodes judged by z " << a.nodes << ", chi2 " << a.chi2 << ", max |z| " << a.max_z
                                    << ", sparse ratio " << a.sparse_max_ratio);
          CHECK(a.nodes >= 10);
          CHECK(a.max_z < 5.0);
          CHECK(a.chi2 < a.nodes + 5.0 * std::sqrt(2.0 * a.nodes));
          CHECK(a.sparse_max_ratio < 5.0);
          // The test can fail: against the one-step expectation the 10-step walks disagree.
          Agreement wrong = agreement(c, expected_visits(chain, walkers, 1, o.count_start), kSteps);
          CHECK(wrong.chi2 > wrong.nodes + 5.0 * std::sqrt(2.0 * wrong.nodes));
          ++runs;
        }
    }
  CHECK(runs == 24);
}

TEST_CASE("circuitkv_walk: counts do not depend on the thread count; seeds matter") {
  Layer t = make_layer(kN, 4, 2, 8);
  LayerContext ctx(t.input);
  const AttentionGraph& g = shared_graph(ctx, graph_options("window_prefix", kW, kS, 1.0));
  const ForwardChain fwd = ForwardChain::build(g);
  for (bool forward : {false, true}) {
    WalkChain chain = forward ? forward_chain(g, fwd, WalkSource::window, kW) : backward_chain(g, WalkSource::window, kW);
    WalkOptions o;
    o.walkers = 10007;  // not a multiple of the thread count
    o.steps = kSteps;
    o.seed = 42;
    o.second_moments = true;
    o.threads = 1;
    VisitCounts one = run_walkers(chain, o);
    o.threads = 4;
    VisitCounts four = run_walkers(chain, o);
    o.threads = 0;  // the default (hardware) count
    VisitCounts dflt = run_walkers(chain, o);
    CHECK(one.visits == four.visits);
    CHECK(one.squares == four.squares);
    CHECK(one.visits == dflt.visits);
    o.seed = 43;
    CHECK(run_walkers(chain, o).visits != one.visits);
  }
  // Through the method: same seed, fresh contexts → identical scores; another seed differs.
  LayerContext a(t.input), b(t.input);
  CHECK(walk_scores(a, {{"combination", "walk"}}) == walk_scores(b, {{"combination", "walk"}}));
  CHECK(walk_scores(a, {{"combination", "walk"}, {"seed", 5}}) !=
        walk_scores(b, {{"combination", "walk"}}));
}

TEST_CASE("circuitkv_walk: method-level estimators, directions and fundamental normalisation") {
  Layer t = make_layer(kN, 4, 2, 8);
  LayerContext ctx(t.input);
  const std::vector<double> P = dense_P(ctx, "window_prefix", kW, 1.0);
  const auto back = dense_visits(P, kN, kS, "query", kW, false, kSteps, false);
  const auto fwd = dense_visits(P, kN, kS, "query", kW, true, kSteps, false);
  json exact = {{"combination", "walk"}, {"estimator", "exact"}, {"walkers", 1000}};
  auto with = [&](json extra) {
    json p = exact;
    for (auto& [k, v] : extra.items()) p[k] = v;
    return walk_scores(ctx, p);
  };
  auto b = with({}), f = with({{"direction", "forward"}}), prod = with({{"direction", "product"}}),
       sum = with({{"direction", "sum"}});
  for (int j = 0; j < kN; ++j) {
    CHECK(b[j] == Approx(back[j]).epsilon(1e-5).margin(1e-9));
    CHECK(f[j] == Approx(fwd[j]).epsilon(1e-5).margin(1e-9));
    CHECK(prod[j] == Approx(back[j] * fwd[j]).epsilon(1e-5).margin(1e-9));
    CHECK(sum[j] == Approx(back[j] + fwd[j]).epsilon(1e-5).margin(1e-9));
  }
  // normalize = fundamental: divided by N[q, j] = Σ_{t=0..S} (Qᵗ)[q, j], dense.
  const auto fundamental = dense_visits(P, kN, kS, "query", kW, false, kSteps, true);
  auto ratio_exact = with({{"normalize", "fundamental"}});
  json mc = {{"combination", "walk"}, {"walkers", 4000}, {"seed", 9}};
  auto visits_mc = walk_scores(ctx, mc);
  mc["normalize"] = "fundamental";
  auto ratio_mc = walk_scores(ctx, mc);
  int reachable = 0;
  for (int j = 0; j < kN; ++j) {
    const double e = fundamental[j] > 1e-300 ? back[j] / fundamental[j] : 0.0;
    CHECK(ratio_exact[j] == Approx(e).epsilon(1e-5).margin(1e-9));
    const double m = fundamental[j] > 1e-300 ? visits_mc[j] / fundamental[j] : 0.0;
    CHECK(ratio_mc[j] == Approx(m).epsilon(1e-5).margin(1e-9));
    // Away from the start, the exact ratio is 1 wherever the chain reaches (the expectation of
    // the visits is the fundamental row itself), 0 at the sinks.
    if (j < kS) CHECK(ratio_exact[j] == 0.0f);
    else if (j != kN - 1 && fundamental[j] > 0) {
      CHECK(ratio_exact[j] == Approx(1.0).epsilon(1e-6));
      ++reachable;
    }
  }
  CHECK(reachable > 20);
  // The Monte Carlo method score is the engine's mean visits per walker.
  const AttentionGraph& g = shared_graph(ctx, walk_graph_options(ctx, ckv_test::walk_params_of(walk_params(mc))));
  WalkOptions o;
  o.walkers = 4000;
  o.steps = kSteps;
  o.seed = 9;
  auto mean = run_walkers(backward_chain(g, WalkSource::query, kW), o).mean();
  for (int j = 0; j < kN; ++j) CHECK(visits_mc[j] == float(mean[j]));
}

TEST_CASE("circuitkv_walk: multi-scale weights are inverse variances, normalised") {
  // var({0, 2}) = 1, var({0, 4}) = 4 → weights 1 : 1/4 → 0.8, 0.2; combined {0, 2.4}.
  auto w = inverse_variance_weights({{0, 2}, {0, 4}});
  REQUIRE(w.size() == 2);
  CHECK(w[0] == Approx(0.8));
  CHECK(w[1] == Approx(0.2));
  auto c = combine_scales({{0, 2}, {0, 4}});
  CHECK(c[0] == Approx(0.0).margin(1e-15));
  CHECK(c[1] == Approx(2.4));
  // Three runs, variances 1, 1/4, 4 → 1 : 4 : 1/4 normalised by 5.25.
  w = inverse_variance_weights({{1, 3}, {5, 6}, {0, 4}});
  CHECK(w[0] == Approx(1 / 5.25));
  CHECK(w[1] == Approx(4 / 5.25));
  CHECK(w[2] == Approx(0.25 / 5.25));
  // A constant run has variance 0: 1/var → ∞ takes all the weight.
  w = inverse_variance_weights({{1, 1}, {0, 4}});
  CHECK(w == std::vector<double>{1.0, 0.0});

  // End to end with the exact estimator: scales [3, 7] against dense runs weighted here.
  Layer t = make_layer(kN, 4, 2, 8);
  LayerContext ctx(t.input);
  const std::vector<double> P = dense_P(ctx, "window_prefix", kW, 1.0);
  auto v3 = dense_visits(P, kN, kS, "query", kW, false, 3, false);
  auto v7 = dense_visits(P, kN, kS, "query", kW, false, 7, false);
  auto var = [](const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x / v.size();
    for (double x : v) s += (x - m) * (x - m) / v.size();
    return s;
  };
  const double w3 = (1 / var(v3)) / (1 / var(v3) + 1 / var(v7));
  CHECK(w3 > 0.0);
  CHECK(w3 < 1.0);
  auto got = walk_scores(ctx, {{"combination", "walk"}, {"estimator", "exact"}, {"scales", {3, 7}}});
  for (int j = 0; j < kN; ++j)
    CHECK(got[j] == Approx(w3 * v3[j] + (1 - w3) * v7[j]).epsilon(1e-5).margin(1e-9));
  // scales = [S] is the single-scale run of max_steps S.
  CHECK(walk_scores(ctx, {{"combination", "walk"}, {"scales", {7}}}) ==
        walk_scores(ctx, {{"combination", "walk"}, {"max_steps", 7}}));
}

TEST_CASE("circuitkv_walk: adaptive temperature T = T_base (ln n / H)^kappa") {
  // n = 16, H = ln 2: ln 16 / ln 2 = 4, so T = T_base·4^kappa.
  CHECK(adaptive_temperature(1.0, 0.5, 16, std::log(2.0)) == Approx(2.0));
  CHECK(adaptive_temperature(3.0, 0.5, 16, std::log(2.0)) == Approx(6.0));
  CHECK(adaptive_temperature(1.0, 1.0, 16, std::log(2.0)) == Approx(4.0));
  CHECK(adaptive_temperature(1.5, 0.0, 16, 0.3) == Approx(1.5));
  // Degenerate inputs stay in the temperature range.
  CHECK(adaptive_temperature(1.0, 0.5, 16, 0.0) == Approx(100.0));
  CHECK(adaptive_temperature(0.7, 0.5, 1, 0.0) == Approx(0.7));

  // Mean row entropy of the T = 1 graph against the dense matrix, both graph kinds.
  Layer t = make_layer(kN, 4, 2, 8);
  LayerContext ctx(t.input);
  for (std::string graph : {"window_prefix", "full"}) {
    const std::vector<double> P = dense_P(ctx, graph, kW, 1.0);
    double total = 0.0;
    int rows = 0;
    for (int i = 0; i < kN; ++i) {
      double h = 0.0, mass = 0.0;
      for (int j = 0; j < kN; ++j) {
        const double p = P[size_t(i) * kN + j];
        mass += p;
        if (p > 0) h -= p * std::log(p);
      }
      if (mass > 0) {
        total += h;
        ++rows;
      }
    }
    const AttentionGraph& g = shared_graph(ctx, graph_options(graph, kW, kS, 1.0));
    const double entropy = mean_row_entropy(g);
    // (The full graph's P is stored in fp32: agreement to fp32 rounding.)
    CHECK(entropy == Approx(total / rows).epsilon(graph == "full" ? 1e-6 : 1e-9));
    // The method with "adaptive" walks the graph of the temperature computed by hand.
    const double T = 1.3 * std::pow(std::log(double(kN)) / (total / rows), 0.5);
    auto adaptive = walk_scores(ctx, {{"graph", graph}, {"combination", "walk"}, {"estimator", "exact"}, {"temperature", "adaptive"}, {"temperature_base", 1.3}});
    auto fixed = walk_scores(ctx, {{"graph", graph}, {"combination", "walk"}, {"estimator", "exact"}, {"temperature", T}});
    for (int j = 0; j < kN; ++j) CHECK(adaptive[j] == Approx(fixed[j]).epsilon(1e-6).margin(1e-9));
    CHECK(walk_graph_options(ctx, ckv_test::walk_params_of(walk_params({{"graph", graph},
                                                                        {"temperature", "adaptive"},
                                                                        {"temperature_base", 1.3}})))
              .temperature == Approx(T).epsilon(1e-9));
  }
}

TEST_CASE("circuitkv_walk: combination modes on hand-made vectors") {
  // walk ranks: {1/3, 1, 2/3, 0}; h2o ranks: {1, 0, 1/3, 2/3}; Spearman ρ = −0.8.
  std::vector<double> walk = {0.1, 0.5, 0.3, 0.0}, h2o = {4, 1, 2, 3};
  auto check = [](const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t j = 0; j < want.size(); ++j) CHECK(got[j] == Approx(want[j]).margin(1e-7));
  };
  check(combine_with_h2o(walk, h2o, WalkCombination::max), {1, 1, 2.0 / 3, 2.0 / 3});
  check(combine_with_h2o(walk, h2o, WalkCombination::product), {1.0 / 3, 0, 2.0 / 9, 0});
  check(combine_with_h2o(walk, h2o, WalkCombination::walk), walk);
  check(combine_with_h2o(walk, h2o, WalkCombination::h2o), h2o);
  check(combine_with_h2o(walk, h2o, WalkCombination::calibrated), {1, 1, 2.0 / 3, 2.0 / 3});  // ρ < 0.7: max
  // ρ = 1 − 6·2/(4·15) = 0.8 > 0.7: the mean of the ranks.
  check(combine_with_h2o({1, 2, 3, 4}, {1, 2, 4, 3}, WalkCombination::calibrated), {0, 1.0 / 3, 5.0 / 6, 5.0 / 6});
  // Ties rank by position (lower position, lower rank): zero walk visits in a row.
  check(combine_with_h2o({0, 0, 0}, {0, 0, 0}, WalkCombination::max), {0, 0.5, 1});

  // The method's H2O signal is the graph's window column sums (window_prefix) or the all-row
  // column sums averaged over heads (full).
  Layer t = make_layer(kN, 4, 2, 8);
  LayerContext ctx(t.input);
  auto h_win = walk_scores(ctx, {{"combination", "h2o"}});
  const Tensor3& win = ctx.window_attention(kW);
  for (int j = 0; j < kN; ++j) {
    double h = 0.0;
    for (int r = 0; r < kW; ++r) {
      double m = 0.0;
      for (int head = 0; head < 4; ++head) m = std::max(m, double(win.at(head, r, j)));
      h += m;
    }
    CHECK(h_win[j] == Approx(h).epsilon(1e-5));
  }
  auto h_full = walk_scores(ctx, {{"combination", "h2o"}, {"graph", "full"}});
  const Tensor3& a = ctx.window_attention(ctx.n(), "test");
  for (int j = 0; j < kN; ++j) {
    double h = 0.0;
    for (int head = 0; head < 4; ++head)
      for (int i = 0; i < kN; ++i) h += a.at(head, i, j) / 4.0;
    CHECK(h_full[j] == Approx(h).epsilon(1e-5));
  }
  // Default max: max(rank walk, rank h2o) of the two signals above.
  auto walk_sig = walk_scores(ctx, {{"combination", "walk"}});
  auto combined = walk_scores(ctx, {});
  auto want = combine_with_h2o(std::vector<double>(walk_sig.begin(), walk_sig.end()),
                               std::vector<double>(h_win.begin(), h_win.end()), WalkCombination::max);
  for (int j = 0; j < kN; ++j) CHECK(combined[j] == Approx(want[j]).margin(1e-7));
}

TEST_CASE("circuitkv_walk: parameters, validation and selection invariants") {
  const MethodDef* m = find_method("circuitkv_walk");
  REQUIRE(m != nullptr);
  Params d = resolve_params(*m, json::object());
  CHECK(d.at("walkers") == 10000);
  CHECK(d.at("max_steps") == 10);
  CHECK(d.at("sink_size") == 4);
  CHECK(d.at("window") == 64);
  CHECK(d.at("selection") == "shared");
  CHECK(d.at("source") == "query");
  CHECK(d.at("count_start") == false);
  CHECK(d.at("graph") == "window_prefix");
  CHECK(d.at("temperature") == 1.0);
  CHECK(d.at("kappa") == 0.5);
  CHECK(d.at("combination") == "max");
  CHECK(d.at("direction") == "backward");
  CHECK(d.at("scales") == json::array());
  CHECK(d.at("normalize") == "none");
  CHECK(d.at("estimator") == "monte_carlo");
  for (const auto& p : m->params) {
    INFO(p.name);
    CHECK_FALSE(p.help.empty());
  }
  CHECK_THROWS_WITH(resolve_params(*m, {{"temperature", "hot"}}), Catch::Contains("adaptive"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"walkers", 0}}), Catch::Contains("walkers"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"scales", {5, 0}}}), Catch::Contains("scales"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"direction", "sideways"}}), Catch::Contains("product"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"budget", 67}}), Catch::Contains("below"));

  Layer t = make_layer(kN, 4, 2, 8);
  for (const json& extra : {json{{"selection", "shared"}}, json{{"selection", "per_kv_head"}},
                            json{{"direction", "product"}, {"scales", {3, 9}}},
                            json{{"combination", "calibrated"}, {"graph", "full"}},
                            json{{"source", "window"}, {"normalize", "fundamental"}}}) {
    INFO(extra.dump());
    LayerContext ctx(t.input);
    Params p = walk_params(extra);
    Scores s = m->score_cpu(ctx, m->parse(p));
    const SelectionParams sel = m->selection(m->parse(p));
    CHECK(s.heads.size() == (sel.shared() ? 1u : 2u));
    auto keep = select_keep(s, sel, kN, 2, 0, 1);
    REQUIRE(keep.size() == 2);
    for (const auto& k : keep) {
      CHECK(k.size() == 20u);
      std::set<int> kept(k.begin(), k.end());
      for (int j = 0; j < kS; ++j) CHECK(kept.count(j) == 1);
      for (int j = kN - kW; j < kN; ++j) CHECK(kept.count(j) == 1);
    }
    CHECK(keep[0] == keep[1]);  // one walk signal per layer: every KV head gets the same set
  }
}

TEST_CASE("circuitkv_walk: graph = full refuses a window-only capture, naming the sample") {
  Layer t = make_layer(kN, 4, 2, 8, kW);
  LayerContext ctx(t.input);
  CHECK_THROWS_WITH(walk_scores(ctx, {{"graph", "full"}}), Catch::Contains("test/walk"));
  CHECK(walk_scores(ctx, {}).size() == size_t(kN));  // window_prefix needs only window rows
}

TEST_CASE("circuitkv_walk: timing at n = 8192, H = 8, N = 10000, S = 10 (window_prefix)") {
  Layer t = make_layer(8192, 8, 2, 64, 64);
  LayerContext ctx(t.input);
  auto t0 = std::chrono::steady_clock::now();
  auto first = walk_scores(ctx, {{"budget", 1024}, {"window", 64}, {"head_reduce", "entropy_qi"}});
  auto t1 = std::chrono::steady_clock::now();
  // A second seed reuses the memoised graph: the walks (and H2O ranks) alone.
  auto second = walk_scores(ctx, {{"budget", 1024}, {"window", 64}, {"head_reduce", "entropy_qi"}, {"seed", 1}});
  auto t2 = std::chrono::steady_clock::now();
  const double full_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double walk_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  WARN("circuitkv_walk n=8192 H=8 d=64 w=64 N=10000 S=10: " << full_ms
                                                            << " ms with attention + graph, " << walk_ms << " ms walks + combination on a cached graph");
  CHECK(first.size() == 8192u);
  CHECK(first != second);
}
