// circuitkv_influence (docs/spec/METHODS.md "CircuitKV: influence walker", seed 000): Monte Carlo visit
// counts against the exact expectation of the same chain (start distribution propagated
// through the dense transition matrix), thread independence, and the score formulas.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include "kernels/circuitkv_influence/influence_walker.hpp"
#include "kernels/registry.hpp"
#include "kernels/stages/selection.hpp"
#include "support/dense_reference.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;

namespace {

// A layer with attention known in closed form: head h queries e_h on every row and
// K[j] = √d (ln c[0][j], ..., ln c[d-1][j]), so A[h, i, j] = c[h][j] / Σ_{k≤i} c[h][k].
struct KnownLayer : ckv_test::OwnedLayer {
  std::vector<std::vector<double>> c;  // [H][n]
};

KnownLayer known_layer(int n, int rows_captured = -1) {
  KnownLayer t;
  const int H = 2, d = 2;
  const int r = rows_captured < 0 ? n : rows_captured;
  t.c.assign(H, std::vector<double>(n));
  for (int j = 0; j < n; ++j) {
    // Peaked rows (weights up to e^4.8), so that the temperature matters.
    t.c[0][j] = std::exp(1.2 * double((j * 7) % 5));
    t.c[1][j] = std::exp(double((j * 3) % 4));
  }
  t.c[0][0] = 30.0;  // an attention sink, as real heads have
  t.q.assign(size_t(H) * r * d, 0.0f);
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < r; ++i) t.q[(size_t(h) * r + i) * d + h] = 1.0f;
  t.k.resize(size_t(n) * d);
  for (int j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c) t.k[size_t(j) * d + c] = float(std::sqrt(double(d)) * std::log(t.c[c][j]));
  t.v.assign(size_t(n) * d, 0.0f);
  t.bind(H, 1, d, n, r, "test/influence");
  return t;
}

// The head-mean attention A[i][j] from the closed form (independent of the kernels).
std::vector<std::vector<double>> exact_attention(const KnownLayer& t) {
  const int n = t.input.n, H = t.input.H;
  std::vector<std::vector<double>> a(n, std::vector<double>(n, 0.0));
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < n; ++i) {
      double z = 0.0;
      for (int j = 0; j <= i; ++j) z += t.c[h][j];
      for (int j = 0; j <= i; ++j) a[i][j] += t.c[h][j] / z / H;
    }
  return a;
}

using ckv_test::Matrix;

// Seed 000 transition: from pos >= s to j in [s, pos] ∝ max(A, 1e-10)^(1/T).
Matrix transition(const Matrix& a, int s, double temperature) {
  const int n = int(a.size());
  Matrix m(n, std::vector<double>(n, 0.0));
  for (int i = s; i < n; ++i) {
    double z = 0.0;
    for (int j = s; j <= i; ++j) z += std::pow(std::max(a[i][j], 1e-10), 1.0 / temperature);
    for (int j = s; j <= i; ++j) m[i][j] = std::pow(std::max(a[i][j], 1e-10), 1.0 / temperature) / z;
  }
  return m;
}

// Mean and variance of X_j = Σ_{t=1..S} 1[pos_t = j] for a walker with start distribution p0:
// E X = Σ_t π_t(j);  E X² = Σ_t π_t(j) + 2 Σ_{t<u} π_t(j) (M^{u−t})_{jj}  (Markov property).
void visit_moments(const Matrix& m, const std::vector<double>& p0, int S, std::vector<double>& mean,
                   std::vector<double>& var) {
  const size_t n = m.size();
  const std::vector<Matrix> power = ckv_test::matrix_powers(m, S + 1);
  std::vector<std::vector<double>> pi(S + 1, std::vector<double>(n, 0.0));
  pi[0] = p0;
  for (int t = 1; t <= S; ++t)
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) pi[t][j] += pi[t - 1][i] * m[i][j];
  mean.assign(n, 0.0);
  var.assign(n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    double ex = 0.0, ex2 = 0.0;
    for (int t = 1; t <= S; ++t) {
      ex += pi[t][j];
      ex2 += pi[t][j];
      for (int u = t + 1; u <= S; ++u) ex2 += 2.0 * pi[t][j] * power[u - t][j][j];
    }
    mean[j] = ex;
    var[j] = ex2 - ex * ex;
  }
}

Scores score(const std::string& method, LayerContext& ctx, const json& given) {
  const MethodDef* m = find_method(method);
  REQUIRE(m != nullptr);
  return m->score_cpu(ctx, parse_params(*m, given));
}

}  // namespace

TEST_CASE("influence walker visit counts match the exact expectation of the chain") {
  const int n = 10, s = 2, S = 6;
  KnownLayer t = known_layer(n);
  LayerContext ctx(t.input);
  const Matrix a = exact_attention(t);
  const auto& reduced = walkers::reduced_attention(ctx, walkers::HeadMerge::mean, "test");

  influence::WalkerOptions options;
  options.walkers = 40000;
  options.max_steps = S;
  options.sink = s;
  options.temperature = 2.0;
  options.explore_fraction = 0.3;
  options.explore_temperature = 10.0;
  options.seed = 1234;
  const auto table = influence::TransitionTable::build(reduced, s, options.temperature);
  const auto explore = influence::TransitionTable::build(reduced, s, options.explore_temperature);
  const auto visits = influence::run_walkers(table, explore, options, 3);

  // Walker classes by docs/spec/METHODS.md: i < N/2 start at q; the last ⌊0.3 N⌋ explore (all of them
  // random-start here); the rest start uniformly in [s, q] at T.
  const long long N = options.walkers, n_query = N / 2, n_explore = 12000;
  const long long n_uniform = N - n_query - n_explore;
  std::vector<double> at_query(n, 0.0), uniform(n, 0.0);
  at_query[n - 1] = 1.0;
  for (int j = s; j < n; ++j) uniform[j] = 1.0 / (n - s);
  std::vector<double> m1, v1, m2, v2, m3, v3;
  visit_moments(transition(a, s, 2.0), at_query, S, m1, v1);
  visit_moments(transition(a, s, 2.0), uniform, S, m2, v2);
  visit_moments(transition(a, s, 10.0), uniform, S, m3, v3);

  long long total = 0;
  for (int j = 0; j < n; ++j) {
    total += visits[j];
    const double expected = n_query * m1[j] + n_uniform * m2[j] + n_explore * m3[j];
    const double sd = std::sqrt(n_query * v1[j] + n_uniform * v2[j] + n_explore * v3[j]);
    INFO("position " << j << ": visits " << visits[j] << ", expected " << expected << " ± " << sd);
    if (j < s) {
      CHECK(visits[j] == 0);  // sinks are never sampled
    } else {
      CHECK(std::abs(double(visits[j]) - expected) <= 5.0 * sd + 1e-9);
      CHECK(sd > 0.0);
    }
  }
  CHECK(total == N * S);  // every landing counted, the start not, no absorption
}

TEST_CASE("influence walker counts do not depend on the thread count") {
  KnownLayer t = known_layer(24);
  LayerContext ctx(t.input);
  const auto& reduced = walkers::reduced_attention(ctx, walkers::HeadMerge::max, "test");
  influence::WalkerOptions options;
  options.walkers = 5001;
  options.max_steps = 9;
  options.sink = 4;
  const auto table = influence::TransitionTable::build(reduced, 4, 2.0);
  const auto explore = influence::TransitionTable::build(reduced, 4, 10.0);
  const auto one = influence::run_walkers(table, explore, options, 1);
  CHECK(one == influence::run_walkers(table, explore, options, 4));
  CHECK(one == influence::run_walkers(table, explore, options, 13));
  options.seed = 99;
  CHECK(one != influence::run_walkers(table, explore, options, 4));

  // Through the registry, with the kernel thread count taken from the environment.
  json params = {{"budget", 16}, {"window", 4}, {"walkers", 3000}};
  setenv("CKV_KERNEL_THREADS", "1", 1);
  LayerContext ctx1(t.input);
  const Scores single = score("circuitkv_influence", ctx1, params);
  setenv("CKV_KERNEL_THREADS", "5", 1);
  LayerContext ctx5(t.input);
  const Scores multi = score("circuitkv_influence", ctx5, params);
  unsetenv("CKV_KERNEL_THREADS");
  CHECK(single.heads == multi.heads);
}

TEST_CASE("influence score: adjusted = visits / sqrt(n - j + 1), max-normalised, sinks 1") {
  // n = 6, s = 2: adjusted = [-, -, 5/√5, 3/√4, 8/√3, 0]; the max is 8/√3.
  const auto got = influence::influence_scores({7, 9, 5, 3, 8, 0}, 2);
  const double best = 8.0 / std::sqrt(3.0);
  REQUIRE(got.size() == 6);
  CHECK(got[0] == 1.0);
  CHECK(got[1] == 1.0);
  CHECK(got[2] == Approx(std::sqrt(5.0) / best));
  CHECK(got[3] == Approx(1.5 / best));
  CHECK(got[4] == Approx(1.0));
  CHECK(got[5] == 0.0);
}

TEST_CASE("circuitkv_influence scores: walker score alone, or max with rank H2O") {
  const int n = 16;
  KnownLayer t = known_layer(n);
  LayerContext ctx(t.input);
  // The full graph (head-mean attention); the public window_prefix default is tested below.
  json params = {{"budget", 12}, {"window", 4}, {"walkers", 2000}, {"max_steps", 10}, {"explore_fraction", 0.0}, {"combine_h2o", false}, {"seed", 5}, {"graph", "full"}, {"head_reduce", "mean"}};
  const Scores walk = score("circuitkv_influence", ctx, params);
  REQUIRE(walk.heads.size() == 1);
  // Seed 000 settings: the adjusted/max score of the same walk run.
  influence::WalkerOptions options;
  options.walkers = 2000;
  options.max_steps = 10;
  options.sink = 4;
  options.explore_fraction = 0.0;
  options.seed = 5;
  const auto& reduced = walkers::reduced_attention(ctx, walkers::HeadMerge::mean, "test");
  const auto table = influence::TransitionTable::build(reduced, 4, 2.0);
  const auto expected = influence::influence_scores(influence::run_walkers(table, table, options, 2), 4);
  for (int j = 0; j < n; ++j) CHECK(walk.heads[0][j] == Approx(expected[j]));

  // combine_h2o: max(rank walker, rank H2O), H2O = column sums of the head-mean attention.
  params["combine_h2o"] = true;
  const Scores combined = score("circuitkv_influence", ctx, params);
  const Matrix a = exact_attention(t);
  std::vector<float> h2o(n, 0.0f), walker(expected.begin(), expected.end());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) h2o[j] += float(a[i][j]);
  const auto rank_h2o = rank_normalize(h2o), rank_walk = rank_normalize(walker);
  for (int j = 0; j < n; ++j) CHECK(combined.heads[0][j] == Approx(std::max(rank_h2o[j], rank_walk[j])));
}

TEST_CASE("circuitkv_influence refuses partial captures and inconsistent parameters") {
  KnownLayer t = known_layer(12, 4);
  LayerContext ctx(t.input);
  // The full graph needs every query row; the window_prefix graph only the window rows.
  for (const json& given : {json{{"budget", 10}, {"window", 4}, {"graph", "full"}},
                            json{{"budget", 10}, {"window", 6}}}) {
    INFO(given.dump());
    try {
      score("circuitkv_influence", ctx, given);
      FAIL("expected an error");
    } catch (const ckv::Error& e) {
      const std::string what = e.what();
      CHECK(what.find("test/influence") != std::string::npos);
      CHECK(what.find("circuitkv_influence") != std::string::npos);
    }
  }
  CHECK(score("circuitkv_influence", ctx, {{"budget", 10}, {"window", 4}}).heads.at(0).size() == 12);
  const MethodDef* m = find_method("circuitkv_influence");
  REQUIRE(m != nullptr);
  CHECK_THROWS_WITH(resolve_params(*m, {{"budget", 50}}), Catch::Contains("sink_size + window"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"walkers", 3}, {"explore_fraction", 0.2}}),
                    Catch::Contains("no exploring walker"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"temperature", 0.0}}), Catch::Contains("temperature"));
  const Params defaults = resolve_params(*m, json::object());
  CHECK(defaults["max_steps"] == 50);
  CHECK(defaults["sink_size"] == 4);
  CHECK(defaults["combine_h2o"] == true);
}
