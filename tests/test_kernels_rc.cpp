// rc (docs/spec/METHODS.md "RC and add-ons", seed 004): top-k graph on a hand case, walk totals against
// the exact expectations of the absorbing chain (dense computation here), deterministic walks
// through the registry, thread independence; the top-k graph against a full sort.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/rc/rc_walker.hpp"
#include "kernels/registry.hpp"
#include "support/dense_reference.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;

namespace {

using ckv_test::Matrix;

walkers::ReducedAttention packed(const Matrix& a) {
  walkers::ReducedAttention r;
  r.n = int(a.size());
  for (int i = 0; i < r.n; ++i)
    for (int j = 0; j <= i; ++j) r.packed.push_back(float(a[i][j]));
  return r;
}

// A causal row-stochastic matrix with varied, fixed entries.
Matrix varied_attention(int n) {
  Matrix a(n, std::vector<double>(n, 0.0));
  for (int i = 0; i < n; ++i) {
    double z = 0.0;
    for (int j = 0; j <= i; ++j) {
      a[i][j] = std::exp(0.4 * double((i * 13 + j * 7) % 11)) + (j == 0 ? 20.0 : 0.0);
      z += a[i][j];
    }
    for (int j = 0; j <= i; ++j) a[i][j] /= z;
  }
  return a;
}

// The chain of seed 004 on the top-k graph, computed densely and independently: row i >= s
// moves to its k largest earlier entries (ties by lower position) ∝ w^(1/T); sink rows are
// zero (absorbed: the walk stops after recording the sink).
Matrix chain(const Matrix& a, int top_k, int s, double temperature) {
  const int n = int(a.size());
  Matrix m(n, std::vector<double>(n, 0.0));
  for (int i = std::max(s, 1); i < n; ++i) {
    std::vector<int> order(i);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return a[i][x] > a[i][y]; });
    order.resize(std::min(top_k, i));
    double z = 0.0;
    for (int j : order) z += std::pow(float(a[i][j]), 1.0 / temperature);
    for (int j : order) m[i][j] = std::pow(float(a[i][j]), 1.0 / temperature) / z;
  }
  return m;
}

struct Moments {
  std::vector<double> mean, second;  // E X_j, E X_j²
};

// X_j = Σ_{t=0..S−1} w_t 1[pos_t = j] from a fixed source; with π_t the (sub-)distribution at
// step t: E X = Σ_t w_t π_t(j); E X² = Σ_t w_t² π_t(j) + 2 Σ_{t<u} w_t w_u π_t(j) (M^{u−t})_jj.
Moments moments(const Matrix& m, int source, int S, const std::vector<double>& w) {
  const size_t n = m.size();
  const std::vector<Matrix> power = ckv_test::matrix_powers(m, S);
  Moments out{std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for (size_t j = 0; j < n; ++j)
    for (int t = 0; t < S; ++t) {
      const double pt = power[t][source][j];
      out.mean[j] += w[t] * pt;
      out.second[j] += w[t] * w[t] * pt;
      for (int u = t + 1; u < S; ++u) out.second[j] += 2.0 * w[t] * w[u] * pt * power[u - t][j][j];
    }
  return out;
}

// absorption_speed: E Σ_{visits of j} 1/(1+Δ) = Σ_t π_t(j) Σ_{Δ=0..S−1−t} a_Δ(j)/(1+Δ), with
// a_0(j) = 1[j < s] and a_Δ(j) = Σ_{k<s} (M^Δ)_jk (first arrival: sink rows are zero).
std::vector<double> speed_mean(const Matrix& m, int source, int S, int s) {
  const size_t n = m.size();
  const std::vector<Matrix> power = ckv_test::matrix_powers(m, S);
  std::vector<double> out(n, 0.0);
  for (size_t j = 0; j < n; ++j)
    for (int t = 0; t < S; ++t)
      for (int delta = 0; t + delta < S; ++delta) {
        double absorbed = 0.0;
        for (int k = 0; k < s; ++k) absorbed += power[delta][j][k];
        out[j] += power[t][source][j] * absorbed / (1.0 + delta);
      }
  return out;
}

}  // namespace

TEST_CASE("rc sparse graph keeps the top-k strictly earlier entries, ties by position") {
  Matrix a = {{1.0, 0, 0, 0, 0},
              {0.6, 0.4, 0, 0, 0},
              {0.1, 0.1, 0.8, 0, 0},
              {0.05, 0.2, 0.25, 0.5, 0},  // self weight 0.5 is not a candidate
              {0.3, 0.05, 0.3, 0.05, 0.3}};
  const auto g = rc::build_sparse_graph(packed(a), 2);
  CHECK(g.degree == std::vector<int>{0, 1, 2, 2, 2});
  CHECK(g.row_neighbors(1)[0] == 0);
  CHECK(g.row_neighbors(2)[0] == 0);  // tie 0.1 / 0.1: lower position first
  CHECK(g.row_neighbors(2)[1] == 1);
  CHECK(g.row_neighbors(3)[0] == 2);
  CHECK(g.row_neighbors(3)[1] == 1);
  CHECK(g.row_neighbors(4)[0] == 0);
  CHECK(g.row_neighbors(4)[1] == 2);
  CHECK(g.row_weights(3)[0] == Approx(0.25));
  // Row-normalised after truncation: row 3 moves to 2 w.p. 0.25/0.45, to 1 w.p. 0.2/0.45.
  const rc::SparseTransitions t1(g, 1.0);
  CHECK(t1.sample(3, 0.25 / 0.45 - 1e-6) == 2);
  CHECK(t1.sample(3, 0.25 / 0.45 + 1e-6) == 1);
  CHECK(t1.sample(0, 0.5) == -1);  // row 0 is empty
  // T = 0.5 squares the weights: P(2) = 0.0625 / (0.0625 + 0.04).
  const rc::SparseTransitions t2(g, 0.5);
  CHECK(t2.sample(3, 0.0625 / 0.1025 - 1e-6) == 2);
  CHECK(t2.sample(3, 0.0625 / 0.1025 + 1e-6) == 1);
}

TEST_CASE("rc walk totals match the exact expectations of the absorbing chain") {
  const int n = 12, s = 2, S = 8, top_k = 3, per_source = 4000;
  const Matrix a = varied_attention(n);
  const auto g = rc::build_sparse_graph(packed(a), top_k);
  const std::vector<int> sources = {9, 10, 11};
  rc::WalkOptions options;
  options.walkers = per_source;
  options.max_steps = S;
  options.sink = s;
  options.temperature = 1.3;
  options.seed = 77;
  const std::vector<double> ones(S, 1.0);
  std::vector<double> hitting(S);
  for (int t = 0; t < S; ++t) hitting[t] = double(S - t) / S;  // seed 004 (S − step)/S

  SECTION("basic and hitting_time") {
    const Matrix m = chain(a, top_k, s, 1.3);
    for (rc::Mode mode : {rc::Mode::Basic, rc::Mode::HittingTime}) {
      const auto totals = rc::run_walks(g, sources, mode, options, 3);
      const auto& w = mode == rc::Mode::Basic ? ones : hitting;
      for (int j = 0; j < n; ++j) {
        double mean = 0.0, var = 0.0;
        for (int src : sources) {
          const Moments mo = moments(m, src, S, w);
          mean += per_source * mo.mean[j];
          var += per_source * (mo.second[j] - mo.mean[j] * mo.mean[j]);
        }
        INFO("mode " << int(mode) << " position " << j << ": " << totals.visits[j] << " vs "
                     << mean << " ± " << std::sqrt(var));
        CHECK(std::abs(totals.visits[j] - mean) <= 5.0 * std::sqrt(var) + 1e-9);
      }
    }
  }
  SECTION("temp_mix: even walker ids at the high temperature, odd at the low one") {
    options.mix_high = 2.0;
    options.mix_low = 0.5;
    const auto totals = rc::run_walks(g, sources, rc::Mode::TempMix, options, 2);
    const Matrix high = chain(a, top_k, s, 2.0), low = chain(a, top_k, s, 0.5);
    // Walker w starts at sources[w % 3]; with 3 sources each (source, temperature) class
    // holds per_source / 2 walkers (per_source is even).
    const int per_class = per_source / 2;
    for (int j = 0; j < n; ++j) {
      double mean = 0.0, var = 0.0;
      for (int src : sources)
        for (const Matrix* m : {&high, &low}) {
          const Moments mo = moments(*m, src, S, ones);
          mean += per_class * mo.mean[j];
          var += per_class * (mo.second[j] - mo.mean[j] * mo.mean[j]);
        }
      INFO("position " << j << ": " << totals.visits[j] << " vs " << mean);
      CHECK(std::abs(totals.visits[j] - mean) <= 5.0 * std::sqrt(var) + 1e-9);
    }
  }
  SECTION("absorption_speed: visits weighted 1/(1 + steps to absorption)") {
    const Matrix m = chain(a, top_k, s, 1.3);
    const auto totals = rc::run_walks(g, sources, rc::Mode::AbsorptionSpeed, options, 4);
    for (int j = 0; j < n; ++j) {
      double mean = 0.0, bound = 0.0;
      for (int src : sources) {
        mean += per_source * speed_mean(m, src, S, s)[j];
        // speed_j ≤ visits_j, so Var ≤ E[visits_j²]: a conservative standard error.
        bound += per_source * moments(m, src, S, ones).second[j];
      }
      INFO("position " << j << ": " << totals.speed[j] << " vs " << mean);
      CHECK(std::abs(totals.speed[j] - mean) <= 5.0 * std::sqrt(bound) + 1e-9);
    }
  }
}

TEST_CASE("rc walks are identical for any thread count; escape_prob reduces to basic") {
  const Matrix a = varied_attention(40);
  const auto g = rc::build_sparse_graph(packed(a), 5);
  const std::vector<int> sources = {32, 33, 34, 35, 36, 37, 38, 39};
  rc::WalkOptions options;
  options.walkers = 1500;  // 12000 walks: more than one trajectory block
  options.max_steps = 30;
  options.sink = 4;
  options.temperature = 0.7;
  for (rc::Mode mode : {rc::Mode::AbsorptionSpeed, rc::Mode::HittingTime, rc::Mode::TempMix}) {
    const auto one = rc::run_walks(g, sources, mode, options, 1);
    const auto many = rc::run_walks(g, sources, mode, options, 7);
    CHECK(one.visits == many.visits);
    CHECK(one.speed == many.speed);
  }
  // Positions strictly decrease along a walk (edges go to j < i), so no walk revisits a token:
  // first visits equal visits and the escape ratio is 1 wherever a token was visited.
  const auto basic = rc::run_walks(g, sources, rc::Mode::Basic, options, 3);
  const auto escape = rc::run_walks(g, sources, rc::Mode::EscapeProb, options, 3);
  CHECK(escape.first_visits == basic.plain_visits);
  CHECK(rc::mode_score(escape, rc::Mode::EscapeProb) == rc::mode_score(basic, rc::Mode::Basic));
}

namespace {

// Head h queries e_h; K[j] = √2 (ln c0[j], ln c1[j]) so A[h, i, j] = c_h[j] / Σ_{k≤i} c_h[k].
struct KnownLayer : ckv_test::OwnedLayer {
  std::vector<std::vector<double>> c;
};

KnownLayer known_layer(int n) {
  KnownLayer t;
  t.c.assign(2, std::vector<double>(n));
  for (int j = 0; j < n; ++j) {
    t.c[0][j] = 1.0 + double((j * 5) % 7);
    t.c[1][j] = 1.0 + double((j * 3) % 5) * 1.5;
  }
  t.q.assign(size_t(2) * n * 2, 0.0f);
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < n; ++i) t.q[(size_t(h) * n + i) * 2 + h] = 1.0f;
  for (int j = 0; j < n; ++j)
    for (int c = 0; c < 2; ++c) t.k.push_back(float(std::sqrt(2.0) * std::log(t.c[c][j])));
  t.v.assign(size_t(n) * 2, 0.0f);
  t.bind(2, 1, 2, n, n, "test/rc");
  return t;
}

}  // namespace

TEST_CASE("rc score = max(window H2O / max, visits / max) with deterministic top-1 walks") {
  const int n = 20, s = 2, W = 3, S = 100;
  KnownLayer t = known_layer(n);
  LayerContext ctx(t.input);
  const MethodDef* m = find_method("rc");
  REQUIRE(m != nullptr);
  const Params params = resolve_params(
      *m, {{"budget", 10}, {"window", 4}, {"sink_size", s}, {"top_k", 1}, {"observation_window", W}, {"walkers", 7}});
  const Scores got = m->score_cpu(ctx, m->parse(params));
  REQUIRE(got.heads.size() == 1);

  // Head-mean attention from the closed form; with top_k = 1 every walk is the path of
  // argmax_{j<i} A[i, j] from its source to the first sink, visited by all 7 walkers.
  Matrix a(n, std::vector<double>(n, 0.0));
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < n; ++i) {
      double z = 0.0;
      for (int j = 0; j <= i; ++j) z += t.c[h][j];
      for (int j = 0; j <= i; ++j) a[i][j] += t.c[h][j] / z / 2.0;
    }
  std::vector<double> visits(n, 0.0), h2o(n, 0.0);
  for (int src = n - W; src < n; ++src) {
    int pos = src;
    for (int step = 0; step < S; ++step) {
      visits[pos] += 7.0;
      if (pos < s || pos == 0) break;
      int best = 0;
      for (int j = 1; j < pos; ++j)
        if (a[pos][j] > a[pos][best]) best = j;
      pos = best;
    }
    for (int j = 0; j <= src; ++j) h2o[j] += a[src][j];
  }
  const double vmax = *std::max_element(visits.begin(), visits.end());
  const double hmax = *std::max_element(h2o.begin(), h2o.end());
  for (int j = 0; j < n; ++j) {
    INFO("position " << j);
    CHECK(got.heads[0][j] == Approx(std::max(h2o[j] / hmax, visits[j] / vmax)).epsilon(1e-5));
  }
  // Every mode agrees on deterministic walks up to its weights; combined runs without error.
  for (const char* mode : {"hitting_time", "escape_prob", "absorption_speed", "temp_mix", "combined"}) {
    json p = params;
    p["mode"] = mode;
    const Scores s2 = m->score_cpu(ctx, parse_params(*m, p));
    CHECK(s2.heads[0].size() == size_t(n));
  }
}

TEST_CASE("rc validation and partial captures") {
  const MethodDef* m = find_method("rc");
  REQUIRE(m != nullptr);
  CHECK_THROWS_WITH(resolve_params(*m, {{"mode", "combined"}, {"walkers", 2}}),
                    Catch::Contains("thirds"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"mode", "bogus"}}), Catch::Contains("mode"));
  const Params defaults = resolve_params(*m, json::object());
  CHECK(defaults["top_k"] == 32);
  CHECK(defaults["walkers"] == 256);
  CHECK(defaults["observation_window"] == 8);
  CHECK(defaults["max_steps"] == 100);
  CHECK(defaults["sink_size"] == 4);

  KnownLayer t = known_layer(12);
  t.input.r = 4;
  LayerContext ctx(t.input);
  try {
    m->score_cpu(ctx, parse_params(*m, {{"budget", 10}, {"window", 4}}));
    FAIL("expected an error");
  } catch (const ckv::Error& e) {
    CHECK(std::string(e.what()).find("test/rc") != std::string::npos);
  }
}

TEST_CASE("rc sparse graph: the same neighbours in the same order as a full sort of every earlier entry") {
  // The builder narrows the candidates by a lower bound before its partial sort; this sorts all
  // i earlier entries of row i by the seed's order (weight descending, ties by position) and
  // takes the first top_k. Weights drawn from a few values make many ties.
  const int n = 400;
  walkers::ReducedAttention a;
  a.n = n;
  a.packed.resize(size_t(n) * (n + 1) / 2);
  uint64_t state = 99;
  for (float& x : a.packed) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const int r = int(state >> 40);
    x = (r % 3 == 0) ? float(r % 7) / 8.0f : float(r % 100003) / 100003.0f;
  }
  for (const int top_k : {1, 3, 32, 150}) {
    const auto g = rc::build_sparse_graph(a, top_k);
    for (int i = 0; i < n; ++i) {
      const float* row = a.row(i);
      std::vector<int> order(i);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(),
                [&](int x, int y) { return row[x] > row[y] || (row[x] == row[y] && x < y); });
      order.resize(std::min(i, top_k));
      INFO("top_k " << top_k << " row " << i);
      REQUIRE(g.degree[i] == int(order.size()));
      REQUIRE(std::vector<int>(g.row_neighbors(i), g.row_neighbors(i) + g.degree[i]) == order);
      for (int t = 0; t < g.degree[i]; ++t) REQUIRE(g.row_weights(i)[t] == row[order[t]]);
    }
  }
}
