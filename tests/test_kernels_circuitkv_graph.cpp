// The CircuitKV attention graph (kernels/stages/attention_graph.hpp) against a dense construction
// written here from docs/spec/METHODS.md "CircuitKV: Neumann" steps 1–2, and the post-processing helpers
// (kernels/stages/postprocess.hpp) against hand-computed values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/postprocess.hpp"
#include "support/dense_reference.hpp"
#include "support/names.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;
using namespace ckv::circuitkv;
using ckv_test::dense_graph;

namespace {

using Layer = ckv_test::OwnedLayer;

// Random post-RoPE Q, K (full capture), scaled so attention rows range from peaked to flat.
Layer random_layer(int n, int H, int G, int d, unsigned seed, double scale = 2.0) {
  return ckv_test::normal_layer(n, H, G, d, n, seed, scale, "test/graph");
}

std::vector<int> all_heads(int H) {
  std::vector<int> h(H);
  for (int i = 0; i < H; ++i) h[i] = i;
  return h;
}

}  // namespace

TEST_CASE("graph entries, row sums and matrix-vector products equal the dense formula") {
  const int n = 24, H = 4, G = 2, d = 8;
  Layer t = random_layer(n, H, G, d, 7);
  LayerContext ctx(t.input);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  for (std::string graph : {"window_prefix", "full"})
    for (double T : {1.0, 0.3, 2.0, 0.05})
      for (std::string mode : {"max", "mean"})
        for (int w : {6, 1, 30}) {
          INFO("graph " << graph << " T " << T << " mode " << mode << " w " << w);
          GraphOptions o;
          o.graph = ckv_test::graph_kind(graph);
          o.window = w;
          o.sink = 2;
          o.temperature = T;
          o.reduction.mode = ckv_test::head_reduce(mode);
          AttentionGraph g = AttentionGraph::build(ctx, o);
          auto P = dense_graph(ctx, graph, w, T, all_heads(H), mode == "max");
          // The full graph stores P in fp32 (bounded memory: 2·n² bytes), the window rows in
          // double: entries agree with the double formula to fp32 rounding there.
          const double tol = graph == "full" ? 2e-7 : 1e-10;
          CHECK(g.window_start() == (graph == "full" ? 0 : n - std::min(w, n)));
          for (int i = 0; i < n; ++i) {
            double rs = 0.0;
            for (int j = 0; j < n; ++j) {
              rs += P[i][j];
              REQUIRE(g.entry(i, j) == Approx(P[i][j]).epsilon(tol).margin(1e-15));
            }
            CHECK(g.row_sum(i) == Approx(rs).epsilon(tol).margin(1e-15));
          }
          // T = 0.05 makes the long synthetic prefix rows so flat that F^(1/T) sums below
          // 1e-8: the clamp of step 2 leaves them substochastic, exactly as the formula says.
          if (graph == "window_prefix" && T == 0.05 && w == 6) CHECK(g.row_sum(n - 7) < 0.5);
          if (T == 1.0) CHECK(g.row_sum(n - 1) == Approx(1.0).epsilon(graph == "full" ? 1e-6 : 1e-12));
          CHECK(g.row_sum(0) == (g.window_start() == 0 ? Approx(1.0) : Approx(0.0)));
          std::vector<double> x(n), y, yt;
          for (double& v : x) v = uni(rng);
          g.apply(x, y);
          g.apply_transpose(x, yt);
          for (int i = 0; i < n; ++i) {
            double want = 0.0, want_t = 0.0;
            for (int j = 0; j < n; ++j) {
              want += P[i][j] * x[j];
              want_t += P[j][i] * x[j];
            }
            // Sums of signed terms: fp32 entries err by ~6e-8 of each term, absolutely.
            const double margin = graph == "full" ? 1e-6 : 1e-13;
            CHECK(y[i] == Approx(want).epsilon(tol).margin(margin));
            CHECK(yt[i] == Approx(want_t).epsilon(tol).margin(margin));
          }
          // The window column sums are the H2O signal: column sums of the reduced window rows.
          const Tensor3& a = ctx.window_attention(ctx.n(), "test");
          for (int j = 0; j < n; ++j) {
            double want = 0.0;
            for (int i = n - std::min(w, n); i < n; ++i) {
              double r = mode == "max" ? -1.0 : 0.0;
              for (int h = 0; h < H; ++h)
                r = mode == "max" ? std::max(r, double(a.at(h, i, j))) : r + a.at(h, i, j) / H;
              want += r;
            }
            CHECK(g.window_column_sums()[j] == Approx(want).epsilon(1e-12).margin(1e-15));
          }
        }
}

TEST_CASE("window_prefix needs only the window rows; full refuses a partial capture") {
  const int n = 20;
  Layer t = random_layer(n, 2, 1, 4, 11);
  t.input.r = 5;  // only the last 5 query rows captured: Q is [H, 5, d]
  std::vector<float> q(size_t(2) * 5 * 4);
  for (int h = 0; h < 2; ++h)
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 4; ++c) q[(h * 5 + r) * 4 + c] = t.q[(size_t(h) * n + n - 5 + r) * 4 + c];
  t.input.q = q.data();
  LayerContext ctx(t.input);
  GraphOptions o;
  o.window = 5;
  o.sink = 1;
  AttentionGraph g = AttentionGraph::build(ctx, o);
  CHECK(g.window_start() == 15);
  o.graph = GraphKind::full;
  try {
    AttentionGraph::build(ctx, o);
    FAIL("expected an error");
  } catch (const ckv::Error& e) {
    CHECK(std::string(e.what()).find("test/graph") != std::string::npos);
  }
}

TEST_CASE("sample() inverts the row CDF at its boundaries") {
  const int n = 18;
  Layer t = random_layer(n, 2, 2, 4, 5, 1.0);
  LayerContext ctx(t.input);
  for (std::string graph : {"window_prefix", "full"})
    for (double T : {1.0, 0.5, 0.05}) {
      INFO("graph " << graph << " T " << T);
      GraphOptions o;
      o.graph = ckv_test::graph_kind(graph);
      o.window = 4;
      o.sink = 1;
      o.temperature = T;
      AttentionGraph g = AttentionGraph::build(ctx, o);
      auto P = dense_graph(ctx, graph, 4, T, all_heads(2), true);
      // sample() inverts the stored rows: for the full graph those are fp32 (P rounded), so its
      // boundaries are the stored entries' (checked against the formula in the test above).
      if (graph == "full")
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) P[i][j] = g.entry(i, j);
      if (graph == "window_prefix") CHECK(g.sample(0, 0.5) == -1);  // row 0 is empty
      for (int i = 1; i < n; ++i) {
        INFO("row " << i);
        double total = 0.0;
        for (int j = 0; j < n; ++j) total += P[i][j];
        // Normalised rows (sum 1 up to rounding): boundaries at cum/total; substochastic rows
        // (the 1e-8 clamp) keep the raw boundaries and end the walk beyond their total.
        const bool stochastic = std::abs(total - 1.0) < (graph == "full" ? 1e-6 : 1e-9);
        const double scale = stochastic ? total : 1.0;
        // Entries with mass >= 1e-9 are checked just inside both of their boundaries (and the
        // previous entry just below the lower one); tinier ones only must not be skipped over.
        double cum = 0.0;
        int prev = -1;  // the previous positive entry, if it was checkable
        int last = -1;
        const double eps = 1e-11;
        for (int j = 0; j < n; ++j) {
          if (P[i][j] <= 0.0) continue;
          last = j;
          const double lo = cum / scale;
          cum += P[i][j];
          const double hi = cum / scale;
          if (hi - lo < 1e-9) {
            prev = -1;
            continue;
          }
          CHECK(g.sample(i, lo + eps) == j);
          CHECK(g.sample(i, hi - eps) == j);
          if (prev >= 0) CHECK(g.sample(i, lo - eps) == prev);
          prev = j;
        }
        CHECK(g.sample(i, 0.0) == std::find_if(P[i].begin(), P[i].end(),
                                               [](double p) { return p > 0.0; }) -
                                      P[i].begin());
        if (stochastic) {
          // Never past the row end, never a zero-probability column.
          const int j = g.sample(i, std::nextafter(1.0, 0.0));
          REQUIRE(j >= 0);
          CHECK(j <= last);
          CHECK(P[i][j] > 0.0);
        } else {
          CHECK(total < 1.0);
          CHECK(g.sample(i, total * (1 + 1e-9)) == -1);
          CHECK(g.sample(i, 0.999) == -1);
          const int j = g.sample(i, total * (1 - 1e-9));
          REQUIRE(j >= 0);
          CHECK(P[i][j] > 0.0);
        }
      }
    }
}

namespace {

// Head h queries coordinate h with weight √d, K[h, j, h] = ln c_h[j] (G = H), so
// A[h, i, j] = c_h[j] / Σ_{k<=i} c_h[k] exactly (up to fp32).
struct KnownLayer {
  Layer t;
  std::vector<std::vector<double>> c;
};

KnownLayer known_layer() {
  const int n = 10, H = 4, d = 4;
  KnownLayer kl;
  kl.c.assign(H, std::vector<double>(n, 1.0));
  // head 0: uniform (flattest, transient mass high); head 1: the sink token 0 dominates (low
  // entropy, low transient mass); head 2: geometric growth toward the diagonal (focused on
  // recent tokens); head 3: mild bump in the middle.
  kl.c[1][0] = 500.0;
  for (int j = 0; j < n; ++j) kl.c[2][j] = std::pow(6.0, j);
  for (int j = 0; j < n; ++j) kl.c[3][j] = 1.0 + 3.0 * (j == 4) + 2.0 * (j == 5);
  Layer& t = kl.t;
  t.q.assign(size_t(H) * n * d, 0.0f);
  t.k.assign(size_t(H) * n * d, 0.0f);
  t.v.assign(size_t(H) * n * d, 0.0f);
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < n; ++i) {
      t.q[(size_t(h) * n + i) * d + h] = float(std::sqrt(double(d)));
      t.k[(size_t(h) * n + i) * d + h] = float(std::log(kl.c[h][i]));
    }
  t.bind(H, H, d, n, n, "test/known");
  return kl;
}

double known_attention(const KnownLayer& kl, int h, int i, int j) {
  if (j > i) return 0.0;
  double s = 0.0;
  for (int k = 0; k <= i; ++k) s += kl.c[h][k];
  return kl.c[h][j] / s;
}

}  // namespace

TEST_CASE("head reductions: entropy_qi top-k lowest entropy, entropy_hi transient mass") {
  KnownLayer kl = known_layer();
  const int n = 10, H = 4, w = 3, s = 2;
  LayerContext ctx(kl.t.input);
  // Closed-form mean window-row entropies and transient masses.
  std::vector<double> entropy(H, 0.0), mass(H, 0.0);
  for (int h = 0; h < H; ++h)
    for (int i = n - w; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        const double p = std::max(known_attention(kl, h, i, j), 1e-8);
        entropy[h] -= p * std::log(p) / w;
        if (j >= s) mass[h] += known_attention(kl, h, i, j) / w;
      }
    }
  auto got_entropy = head_window_entropy(ctx, w);
  for (int h = 0; h < H; ++h) CHECK(got_entropy[h] == Approx(entropy[h]).epsilon(1e-5));
  // Hand ordering: head 1 (sink holds 500/509) 0.114 < head 2 (5/6 on the diagonal) 0.541 <
  // head 3 2.004 < head 0 (uniform) 2.193.
  CHECK(entropy[1] == Approx(0.11372428408916051).epsilon(1e-5));
  CHECK(entropy[2] == Approx(0.5406699209261515).epsilon(1e-5));
  CHECK(entropy[3] == Approx(2.0036924802354568).epsilon(1e-5));
  CHECK(entropy[0] == Approx(2.1930839215435074).epsilon(1e-5));
  HeadReduction qi;
  qi.mode = HeadReduce::entropy_qi;
  qi.top_k_heads = 2;
  CHECK(select_heads(ctx, w, qi) == std::vector<int>{1, 2});
  qi.top_k_heads = 10;  // more than H: every head
  CHECK(select_heads(ctx, w, qi) == std::vector<int>{0, 1, 2, 3});
  // Head 1's transient mass at row 9: (9 − 1)/(500 + 9) ≈ 0.0157 — the only head below 0.5.
  CHECK(mass[1] == Approx((6.0 / 507 + 7.0 / 508 + 8.0 / 509) / 3));
  HeadReduction hi;
  hi.mode = HeadReduce::entropy_hi;
  hi.sink = s;
  hi.hi_mass_threshold = 0.5;
  CHECK(select_heads(ctx, w, hi) == std::vector<int>{0, 2, 3});
  hi.hi_mass_threshold = 0.999;  // only head 2 (mass ≈ 1 − 8.3e-6)
  CHECK(mass[2] > 0.999);
  CHECK(mass[0] < 0.999);
  CHECK(select_heads(ctx, w, hi) == std::vector<int>{2});
  hi.hi_mass_threshold = 1.0;  // no head keeps all its mass off the sinks: all heads
  CHECK(select_heads(ctx, w, hi) == std::vector<int>{0, 1, 2, 3});

  // The graphs reduce over the selected heads: entropy_qi = max over {1, 2}, entropy_hi =
  // mean over {0, 2, 3}; full graph, T = 1, so P is the reduced row over its sum.
  for (std::string mode : {"entropy_qi", "entropy_hi", "max", "mean"}) {
    INFO("mode " << mode);
    GraphOptions o;
    o.graph = GraphKind::full;
    o.window = w;
    o.sink = s;
    o.reduction.mode = ckv_test::head_reduce(mode);
    o.reduction.top_k_heads = 2;
    o.reduction.sink = s;
    o.reduction.hi_mass_threshold = 0.5;
    std::vector<int> heads = mode == "entropy_qi"   ? std::vector<int>{1, 2}
                             : mode == "entropy_hi" ? std::vector<int>{0, 2, 3}
                                                    : std::vector<int>{0, 1, 2, 3};
    const bool use_max = mode == "entropy_qi" || mode == "max";
    const AttentionGraph& g = shared_graph(ctx, o);
    CHECK(&g == &shared_graph(ctx, o));  // memoised
    for (int i = 0; i < n; ++i) {
      std::vector<double> row(n);
      double sum = 0.0;
      for (int j = 0; j < n; ++j) {
        double r = 0.0;  // attention is >= 0, so 0 starts the max too
        for (int h : heads)
          r = use_max ? std::max(r, known_attention(kl, h, i, j))
                      : r + known_attention(kl, h, i, j) / double(heads.size());
        row[j] = r;
        sum += r;
      }
      for (int j = 0; j < n; ++j) CHECK(g.entry(i, j) == Approx(row[j] / sum).margin(2e-6));
    }
  }
}

TEST_CASE("smoothing weights, convolution with zero padding, sink pseudo-score, ranks") {
  // k = 3, σ = 0.5: x = −1, 0, 1 → e^{-2}, 1, e^{-2}, normalised.
  const double e2 = std::exp(-2.0);
  auto w3 = smoothing_weights(Smoothing::gaussian, 3, 0.5);
  REQUIRE(w3.size() == 3);
  CHECK(w3[0] == Approx(e2 / (1 + 2 * e2)).epsilon(1e-14));
  CHECK(w3[1] == Approx(1 / (1 + 2 * e2)).epsilon(1e-14));
  CHECK(w3[0] == Approx(0.10650697891920077).epsilon(1e-12));
  // k = 5, σ = 1: x = −2..2 → e^{-2}, e^{-1/2}, 1, e^{-1/2}, e^{-2}.
  auto w5 = smoothing_weights(Smoothing::gaussian, 5, 1.0);
  const double z = 1 + 2 * std::exp(-0.5) + 2 * e2;
  CHECK(w5[0] == Approx(e2 / z).epsilon(1e-14));
  CHECK(w5[1] == Approx(std::exp(-0.5) / z).epsilon(1e-14));
  CHECK(w5[2] == Approx(0.4026199468942474).epsilon(1e-12));
  CHECK(smoothing_weights(Smoothing::boxcar, 5, 1.0) == std::vector<double>(5, 0.2));
  CHECK(smoothing_weights(Smoothing::none, 5, 1.0) == std::vector<double>{1.0});
  // Zero padding k//2: boxcar 3 on {3, 0, 6, 0} → {1, 3, 2, 2}.
  auto out = smooth({3, 0, 6, 0}, smoothing_weights(Smoothing::boxcar, 3, 1.0));
  std::vector<double> want = {1, 3, 2, 2};
  for (int j = 0; j < 4; ++j) CHECK(out[j] == Approx(want[j]).epsilon(1e-14));
  // Asymmetric weights show the orientation (cross-correlation, as conv1d): {a, b, c} on
  // {1, 2, 3} → {b + 2c, a + 2b + 3c, 2a + 3b}.
  auto asym = smooth({1, 2, 3}, {1, 10, 100});
  CHECK(asym == std::vector<double>{210, 321, 32});
  // Even k (public conv1d(...)[:n]): pad 1, k = 2 on {1, 2, 3} → {w1·1, w0·1 + w1·2, ...}.
  CHECK(smooth({1, 2, 3}, {1, 10}) == std::vector<double>{10, 21, 32});

  std::vector<double> v = {5, 5, 1, 2, 3};
  add_sink_pseudo_score(v, 2);
  CHECK(v == std::vector<double>{0.06, 0.06, 1, 2, 3});
  max_normalize(v);
  CHECK(v[4] == 1.0);
  CHECK(v[3] == Approx(2.0 / 3));
  std::vector<double> zero(3, 0.0);
  max_normalize(zero);
  CHECK(zero == std::vector<double>(3, 0.0));
  // Ranks: {0.3, 0.1, 0.3, 0.2} → ascending 0.1(1), 0.2(3), 0.3(0), 0.3(2) → /3.
  auto r = rank_vector({0.3, 0.1, 0.3, 0.2});
  CHECK(r == std::vector<float>{2.0f / 3, 0.0f, 1.0f, 1.0f / 3});
  // Spearman of rank permutations: identical 1, reversed −1; d = {0,0,1,−1} on n = 4 gives
  // 1 − 6·2/(4·15) = 0.8.
  std::vector<float> a = {0, 1.f / 3, 2.f / 3, 1}, b = {1, 2.f / 3, 1.f / 3, 0};
  std::vector<float> c = {0, 1.f / 3, 1, 2.f / 3};
  CHECK(spearman_of_ranks(a, a) == Approx(1.0));
  CHECK(spearman_of_ranks(a, b) == Approx(-1.0));
  CHECK(spearman_of_ranks(a, c) == Approx(0.8).epsilon(1e-6));
}
