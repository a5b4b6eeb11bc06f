// `circuitkv_neumann` (docs/spec/METHODS.md "CircuitKV: Neumann") against independent truths: the
// fundamental matrix (I − γQ)⁻¹ from a dense Gaussian elimination written here, explicit finite
// sums of matrix powers, hand-computed post-processing, ranks and combinations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "kernels/circuitkv_neumann/circuitkv_neumann.hpp"
#include "kernels/registry.hpp"
#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/postprocess.hpp"
#include "kernels/stages/selection.hpp"
#include "support/dense_reference.hpp"
#include "support/names.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;
using namespace ckv::circuitkv;

namespace {

using ckv_test::dense_graph;
using ckv_test::Matrix;

using Layer = ckv_test::OwnedLayer;

// Random Q, K; `rows` query rows captured (the last ones).
Layer random_layer(int n, int H, int G, int d, unsigned seed, double scale = 1.0, int rows = -1) {
  return ckv_test::normal_layer(n, H, G, d, rows < 0 ? n : rows, seed, scale, "test/neumann");
}

Params params_of(const json& given) {
  const MethodDef* m = find_method("circuitkv_neumann");
  REQUIRE(m != nullptr);
  return resolve_params(*m, given);
}

// `resolved` is canonical (legacy-valued parameters left out): read it as a stored document.
NeumannParams typed(const Params& resolved) {
  return method_named("circuitkv_neumann").parse(resolved).as<NeumannParams>();
}
NeumannParams typed_of(const json& given) { return ckv_test::neumann_params_of(given); }

// Inverse of M by Gauss–Jordan elimination with partial pivoting.
Matrix inverse(Matrix M) {
  const int m = int(M.size());
  Matrix inv(m, std::vector<double>(m, 0.0));
  for (int i = 0; i < m; ++i) inv[i][i] = 1.0;
  for (int c = 0; c < m; ++c) {
    int p = c;
    for (int r = c + 1; r < m; ++r)
      if (std::abs(M[r][c]) > std::abs(M[p][c])) p = r;
    REQUIRE(std::abs(M[p][c]) > 1e-12);
    std::swap(M[c], M[p]);
    std::swap(inv[c], inv[p]);
    const double d = M[c][c];
    for (int k = 0; k < m; ++k) {
      M[c][k] /= d;
      inv[c][k] /= d;
    }
    for (int r = 0; r < m; ++r) {
      if (r == c || M[r][c] == 0.0) continue;
      const double f = M[r][c];
      for (int k = 0; k < m; ++k) {
        M[r][k] -= f * M[c][k];
        inv[r][k] -= f * inv[c][k];
      }
    }
  }
  return inv;
}

Matrix transient(const Matrix& P, int s) {
  const int m = int(P.size()) - s;
  Matrix Q(m, std::vector<double>(m));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) Q[i][j] = P[s + i][s + j];
  return Q;
}

// QI = row q of N, HI = column means of N, mapped back to positions (sinks 0).
void from_fundamental(const Matrix& N, int s, std::vector<double>& qi, std::vector<double>& hi) {
  const int m = int(N.size()), n = m + s;
  qi.assign(n, 0.0);
  hi.assign(n, 0.0);
  for (int j = 0; j < m; ++j) {
    qi[s + j] = N[m - 1][j];
    for (int i = 0; i < m; ++i) hi[s + j] += N[i][j] / m;
  }
}

std::vector<int> heads_for(LayerContext& ctx, const Params& p, const std::string& mode) {
  HeadReduction r;
  r.mode = ckv_test::head_reduce(mode);
  r.top_k_heads = p.at("top_k_heads").get<int>();
  r.hi_mass_threshold = p.at("hi_mass_threshold").get<double>();
  r.sink = p.at("sink_size").get<int>();
  return select_heads(ctx, p.at("window").get<int>(), r);
}

// Dense P for the QI and the HI signal of params `p`.
std::pair<Matrix, Matrix> dense_graphs(LayerContext& ctx, const Params& p) {
  const std::string mode = p.at("head_reduce").get<std::string>();
  const std::string graph = p.at("graph").get<std::string>();
  const int w = p.at("window").get<int>();
  const double T = p.at("temperature").get<double>();
  if (mode == "entropy")
    return {dense_graph(ctx, graph, w, T, heads_for(ctx, p, "entropy_qi"), true),
            dense_graph(ctx, graph, w, T, heads_for(ctx, p, "entropy_hi"), false)};
  Matrix P = dense_graph(ctx, graph, w, T, heads_for(ctx, p, mode), mode == "max");
  return {P, P};
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double eps) {
  REQUIRE(got.size() == want.size());
  for (size_t j = 0; j < got.size(); ++j) {
    INFO("position " << j);
    CHECK(got[j] == Approx(want[j]).epsilon(eps).margin(1e-13));
  }
}

// One head: E_max = E_min, so qw = 1 and the per-head score is the smoothed rank of QI.
bool qw_of_single_head_is_one(const Params& p) {
  Layer t = random_layer(20, 1, 1, 8, 5, 2.0);
  LayerContext ctx(t.input);
  auto got = neumann_per_head_scores(ctx, typed(p));
  const Tensor3& win = ctx.window_attention(p.at("window").get<int>());
  const int n = 20, w = p.at("window").get<int>();
  const double hop = std::pow(p.at("gamma").get<double>(), p.at("iterations").get<int>() / 2.0);
  std::vector<double> qi(n);
  for (int j = 0; j < n; ++j) {
    qi[j] = win.at(0, w - 1, j);
    for (int r = 0; r < w; ++r) qi[j] += hop * win.at(0, w - 1, n - w + r) * win.at(0, r, j);
  }
  auto rq = rank_vector(smooth(qi, smoothing_weights(Smoothing::gaussian, p.at("qi_kernel").get<int>(), 1.0)));
  std::vector<double> want(rq.begin(), rq.end());
  return got.size() == 1 && got[0] == want;
}

}  // namespace

TEST_CASE("large K: QI is row q and HI the column means of (I − γQ)⁻¹ (dense solve)") {
  int cases = 0;
  for (int n : {12, 25, 40}) {
    Layer t = random_layer(n, 4, 2, 8, 100 + n);
    LayerContext ctx(t.input);
    for (std::string graph : {"window_prefix", "full"})
      for (double T : {1.0, 0.5, 2.0})
        for (std::string mode : {"max", "mean", "entropy"})
          for (double gamma : {1.0, 0.7}) {
            INFO("n " << n << " graph " << graph << " T " << T << " head_reduce " << mode
                      << " gamma " << gamma);
            Params p = params_of({{"budget", 20},
                                  {"window", 6},
                                  {"sink_size", 3},
                                  {"graph", graph},
                                  {"temperature", T},
                                  {"head_reduce", mode},
                                  {"top_k_heads", 2},
                                  {"hi_mass_threshold", 0.6},
                                  {"iterations", 2000},
                                  {"gamma", gamma}});
            NeumannRaw raw = neumann_raw(ctx, typed(p));
            auto [Pq, Ph] = dense_graphs(ctx, p);
            const int s = 3, m = n - s;
            std::vector<double> qi, hi, unused;
            for (int which = 0; which < 2; ++which) {
              Matrix A = transient(which == 0 ? Pq : Ph, s);
              for (int i = 0; i < m; ++i)
                for (int j = 0; j < m; ++j) A[i][j] = (i == j ? 1.0 : 0.0) - gamma * A[i][j];
              if (which == 0)
                from_fundamental(inverse(A), s, qi, unused);
              else
                from_fundamental(inverse(A), s, unused, hi);
            }
            // The series stopped early (both increments < 1e-8), well before K = 2000.
            CHECK(raw.series.terms < 2000);
            check_close(raw.series.qi, qi, 1e-6);
            check_close(raw.series.hi, hi, 1e-6);
            ++cases;
          }
  }
  CHECK(cases == 108);
}

TEST_CASE("truncated K equals the explicit finite sum Σ_{k<=K} γᵏ Qᵏ; K sweeps share a series") {
  const int n = 16, s = 4;
  Layer t = random_layer(n, 2, 1, 8, 42, 1.5);
  for (std::string graph : {"window_prefix", "full"}) {
    LayerContext shared_ctx(t.input);
    // Asked in this order so the shared series is extended (3 → 10) and restarted (1 < 10).
    for (int K : {3, 10, 1, 0, 10}) {
      INFO("graph " << graph << " K " << K);
      json given = {{"budget", 20}, {"window", 5}, {"sink_size", s}, {"graph", graph}, {"head_reduce", "mean"}, {"iterations", K}, {"gamma", 0.9}};
      Params p = params_of(given);
      NeumannRaw raw = neumann_raw(shared_ctx, typed(p));
      LayerContext fresh_ctx(t.input);
      NeumannRaw fresh = neumann_raw(fresh_ctx, typed(p));
      CHECK(raw.series.qi == fresh.series.qi);
      CHECK(raw.series.hi == fresh.series.hi);
      CHECK(raw.series.terms == K);
      Matrix Q = transient(dense_graphs(shared_ctx, p).first, s);
      const int m = n - s;
      // Row vectors: e_q Qᵏ and (𝟙/m) Qᵏ, accumulated with γᵏ.
      std::vector<double> vq(m, 0.0), vh(m, 1.0 / m), sq(m, 0.0), sh(m, 0.0);
      vq[m - 1] = 1.0;
      double gk = 1.0;
      for (int k = 0; k <= K; ++k) {
        for (int j = 0; j < m; ++j) {
          sq[j] += gk * vq[j];
          sh[j] += gk * vh[j];
        }
        std::vector<double> nq(m, 0.0), nh(m, 0.0);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < m; ++j) {
            nq[j] += vq[i] * Q[i][j];
            nh[j] += vh[i] * Q[i][j];
          }
        vq = nq;
        vh = nh;
        gk *= 0.9;
      }
      std::vector<double> want_q(n, 0.0), want_h(n, 0.0);
      for (int j = 0; j < m; ++j) {
        want_q[s + j] = sq[j];
        want_h[s + j] = sh[j];
      }
      // The full graph stores P in fp32 (bounded memory): K products agree to fp32 rounding.
      const double eps = graph == "full" ? 1e-6 : 1e-10;
      check_close(raw.series.qi, want_q, eps);
      check_close(raw.series.hi, want_h, eps);
    }
  }
}

TEST_CASE("post-processing: sink pseudo-score, max-normalisation, DA, smoothing by hand") {
  NeumannRaw raw;
  raw.series.qi = {0, 0, 1, 2, 0, 4, 0, 1};
  raw.series.hi = {0, 0, 2, 2, 2, 2, 0, 0};
  raw.da_qi = {1, 1, 1, 0.5, 1, 0.25, 1, 2};
  raw.da_hi = {1, 1, 1, 1, 1, 1, 1, 1};
  json base = {{"budget", 20}, {"window", 2}, {"sink_size", 2}, {"smoothing", "none"}};
  NeumannSignals none = neumann_postprocess(raw, typed_of(base));
  // Σ QI = 8 → sinks 0.08; max 4.
  check_close(none.qi, {0.02, 0.02, 0.25, 0.5, 0, 1, 0, 0.25}, 1e-14);
  // Σ HI = 8 → sinks 0.08; max 2.
  check_close(none.hi, {0.04, 0.04, 1, 1, 1, 1, 0, 0}, 1e-14);

  json da = base;
  da["combination"] = "da";
  NeumannSignals weighted = neumann_postprocess(raw, typed_of(da));
  // QI·DA = {0.02, 0.02, 0.25, 0.25, 0, 0.25, 0, 0.5}, max 0.5.
  check_close(weighted.qi, {0.04, 0.04, 0.5, 0.5, 0, 0.5, 0, 1}, 1e-14);

  json boxcar = base;
  boxcar["smoothing"] = "boxcar";
  boxcar["qi_kernel"] = 3;
  boxcar["hi_kernel"] = 5;
  NeumannSignals box = neumann_postprocess(raw, typed_of(boxcar));
  // QI boxcar 3 with zero padding on {0.02, 0.02, 0.25, 0.5, 0, 1, 0, 0.25}.
  check_close(box.qi, {0.04 / 3, 0.29 / 3, 0.77 / 3, 0.75 / 3, 1.5 / 3, 1.0 / 3, 1.25 / 3, 0.25 / 3},
              1e-12);
  // HI boxcar 5 on {0.04, 0.04, 1, 1, 1, 1, 0, 0}.
  check_close(box.hi, {1.08 / 5, 2.08 / 5, 3.08 / 5, 4.04 / 5, 4.0 / 5, 3.0 / 5, 2.0 / 5, 1.0 / 5},
              1e-12);

  NeumannSignals gauss = neumann_postprocess(raw, typed_of({{"budget", 20}, {"window", 2}, {"sink_size", 2}}));
  // Defaults: QI k = 3 with σ/2 = 0.5: weights (e⁻², 1, e⁻²)/(1 + 2e⁻²); position 5:
  // (0 + 1 + 0)·… = 1/(1 + 2e⁻²); position 4: (0.5 + 1)·e⁻²/(1 + 2e⁻²).
  const double e2 = std::exp(-2.0);
  CHECK(gauss.qi[5] == Approx(1.0 / (1 + 2 * e2)).epsilon(1e-12));
  CHECK(gauss.qi[4] == Approx(1.5 * e2 / (1 + 2 * e2)).epsilon(1e-12));
  // HI k = 5, σ = 1, weights (e⁻², e^{-1/2}, 1, e^{-1/2}, e⁻²)/Z: position 7 sees
  // {1, 0, 0, pad, pad} → e⁻²/Z; position 6 sees {1, 1, 0, 0, pad} → (e⁻² + e^{-1/2})/Z.
  const double z = 1 + 2 * std::exp(-0.5) + 2 * e2;
  CHECK(gauss.hi[7] == Approx(e2 / z).epsilon(1e-12));
  CHECK(gauss.hi[6] == Approx((e2 + std::exp(-0.5)) / z).epsilon(1e-12));
}

TEST_CASE("ranks and every combination on hand-made signals") {
  LayerInput in;
  in.H = 2;
  in.G = 1;
  in.n = 5;
  in.sample = "test/hand";
  NeumannSignals sig{{0.5, 0.1, 0.9, 0.3, 0.3}, {0.2, 0.8, 0.4, 0.6, 0.0}};
  // rank QI: 0.1 < 0.3(3) < 0.3(4) < 0.5 < 0.9 → {3, 0, 4, 1, 2}/4; rank HI {1, 4, 2, 3, 0}/4.
  auto combine = [&](json extra, const NeumannSignals& s) {
    json given = {{"budget", 4}, {"window", 1}, {"sink_size", 1}};
    for (auto& [k, v] : extra.items()) given[k] = v;
    Scores sc = neumann_combine(s, typed_of(given), in);
    REQUIRE(sc.heads.size() == 1);
    return std::vector<double>(sc.heads[0].begin(), sc.heads[0].end());
  };
  check_close(combine({{"combination", "qi"}}, sig), {0.75, 0, 1, 0.25, 0.5}, 1e-7);
  check_close(combine({{"combination", "hi"}}, sig), {0.25, 1, 0.5, 0.75, 0}, 1e-7);
  check_close(combine(json::object(), sig), {0.75, 1, 1, 0.75, 0.5}, 1e-7);  // dis = max
  check_close(combine({{"combination", "da"}}, sig), {0.75, 1, 1, 0.75, 0.5}, 1e-7);
  check_close(combine({{"combination", "weighted"}, {"alpha", 0.25}}, sig),
              {0.375, 0.75, 0.625, 0.625, 0.125}, 1e-7);
  // calibrated: d = {2, −4, 2, −2, 2}, Σd² = 32, ρ = 1 − 6·32/(5·24) = −0.6 → max.
  CHECK(spearman_of_ranks(rank_vector(sig.qi), rank_vector(sig.hi)) == Approx(-0.6));
  check_close(combine({{"combination", "calibrated"}}, sig), {0.75, 1, 1, 0.75, 0.5}, 1e-7);
  // HI' ranks {3, 0, 4, 2, 1}: Σd² = 2, ρ = 0.9 > 0.7 → mean of the ranks.
  NeumannSignals agree{sig.qi, {0.4, 0.0, 0.8, 0.3, 0.2}};
  CHECK(spearman_of_ranks(rank_vector(agree.qi), rank_vector(agree.hi)) == Approx(0.9));
  check_close(combine({{"combination", "calibrated"}}, agree), {0.75, 0, 1, 0.375, 0.375}, 1e-7);
  // per_kv_head selection: one copy per KV head.
  in.G = 2;
  in.H = 4;
  Scores per_kv = neumann_combine(sig, typed_of({{"budget", 4}, {"window", 1}, {"sink_size", 1}, {"selection", "per_kv_head"}}),
                                  in);
  CHECK(per_kv.heads.size() == 2);
  CHECK(per_kv.heads[0] == per_kv.heads[1]);
}

TEST_CASE("union: QI takes floor(ratio·slots) free tokens, HI fills the rest and the overlap") {
  //                         0    1    2    3    4    5    6    7    8    9
  std::vector<double> qi = {9, 0.9, 0.8, 0.1, 0.7, 0.2, 0.3, 0.1, 0.0, 5};
  std::vector<double> hi = {9, 0.1, 0.9, 0.8, 0.2, 0.7, 0.1, 0.6, 0.0, 5};
  std::vector<unsigned char> taken(10, 0);
  taken[0] = taken[9] = 1;  // sink and window
  // slots 5, ratio 0.5: QI gets 2 → {1, 2}; HI order 2(dup), 3, 5, 7 → {3, 5, 7}.
  CHECK(union_fill_order(qi, hi, 0.5, 5, taken) == std::vector<int>{1, 2, 3, 5, 7});
  // ratio 0.4 of 5 = 2; ratio 0.39 → 1: {1} then HI {2, 3, 5, 7}.
  CHECK(union_fill_order(qi, hi, 0.39, 5, taken) == std::vector<int>{1, 2, 3, 5, 7});
  CHECK(union_fill_order(qi, hi, 0.39, 3, taken) == std::vector<int>{1, 2, 3});
  // ratio 1: QI order only, ties to the lower position (0.1 at 3 before 7).
  CHECK(union_fill_order(qi, hi, 1.0, 6, taken) == std::vector<int>{1, 2, 4, 6, 5, 3});
  // ratio 0: HI order only.
  CHECK(union_fill_order(qi, hi, 0.0, 4, taken) == std::vector<int>{2, 3, 5, 7});

  // Through the selection: B = 7 with s = 1, w = 1 leaves 5 slots.
  LayerInput in;
  in.H = 1;
  in.G = 1;
  in.n = 10;
  in.sample = "test/union";
  Params p = params_of({{"budget", 7}, {"window", 1}, {"sink_size", 1}, {"combination", "union"}});
  Scores sc = neumann_combine(NeumannSignals{qi, hi}, typed(p), in);
  REQUIRE(sc.custom_fill != nullptr);
  auto keep = select_keep(sc, typed(p).selection, 10, 1, 0, 1);
  CHECK(keep[0] == std::vector<int>{0, 1, 2, 3, 5, 7, 9});
}

TEST_CASE("selection invariants: sinks and window kept, exactly min(B, n), deterministic") {
  const int n = 100;
  Layer t = random_layer(n, 4, 2, 8, 9, 2.0);
  for (std::string combination : {"dis", "qi", "hi", "weighted", "union", "da", "calibrated"})
    for (bool per_head : {false, true})
      for (std::string selection : {"shared", "per_kv_head"})
        for (int B : {12, 13, 40, 99, 100, 150}) {
          INFO(combination << " per_head " << per_head << " " << selection << " B " << B);
          LayerContext ctx(t.input);
          Params p = params_of({{"budget", B}, {"window", 8}, {"combination", combination}, {"per_head", per_head}, {"selection", selection}});
          const MethodDef* m = find_method("circuitkv_neumann");
          Scores a = m->score_cpu(ctx, m->parse(p));
          Scores b = m->score_cpu(ctx, m->parse(p));
          auto keep = select_keep(a, typed(p).selection, n, 2, 0, 1);
          CHECK(keep == select_keep(b, typed(p).selection, n, 2, 0, 1));
          for (const auto& k : keep) {
            REQUIRE(int(k.size()) == std::min(B, n));
            std::set<int> set(k.begin(), k.end());
            CHECK(set.size() == k.size());
            for (int j = 0; j < 4; ++j) CHECK(set.count(j) == 1);
            for (int j = n - 8; j < n; ++j) CHECK(set.count(j) == 1);
          }
          if (selection == "shared") CHECK(keep[0] == keep[1]);
        }
}

TEST_CASE("per-head two-hop variant, this project's first form (the named non-public options)") {
  const int n = 20, H = 3, w = 4, s = 2, K = 6;
  const double gamma = 0.8;
  Layer t = random_layer(n, H, H, 8, 77, 2.0);
  LayerContext ctx(t.input);
  const Tensor3& win = ctx.window_attention(w);
  std::vector<double> entropy = head_window_entropy(ctx, w);
  const double emin = *std::min_element(entropy.begin(), entropy.end());
  const double emax = *std::max_element(entropy.begin(), entropy.end());
  for (bool true_hub : {true, false}) {
    INFO("true_hub_hi " << true_hub);
    Params p = params_of({{"budget", 10}, {"window", w}, {"sink_size", s}, {"per_head", true}, {"true_hub_hi", true_hub}, {"iterations", K}, {"gamma", gamma}, {"qi_kernel", 3}, {"hi_kernel", 5}, {"sigma", 1.0}, {"per_head_entropy", "window_mean"}, {"per_head_smoothing", "separate"}, {"per_head_sink_score", false}, {"per_head_range", "all"}});
    auto got = neumann_per_head_scores(ctx, typed(p));
    REQUIRE(int(got.size()) == H);
    const double hop = std::pow(gamma, K / 2.0);  // γ^(K/2) = 0.8³
    CHECK(hop == Approx(0.512));
    for (int h = 0; h < H; ++h) {
      // QI = a + γ^(K/2) · a[window] · A_win: a row-vector–matrix product.
      std::vector<double> qi(n), hi(n, 0.0);
      for (int j = 0; j < n; ++j) {
        qi[j] = win.at(h, w - 1, j);
        for (int r = 0; r < w; ++r) {
          qi[j] += hop * win.at(h, w - 1, n - w + r) * win.at(h, r, j);
          hi[j] += win.at(h, r, j);
        }
        if (!true_hub) hi[j] = win.at(h, w - 1, j) * (1 + hop * (18.0 - (j - s)) / 18.0);
      }
      auto rq = rank_vector(smooth(qi, smoothing_weights(Smoothing::gaussian, 3, 1.0)));
      auto rh = rank_vector(smooth(hi, smoothing_weights(Smoothing::gaussian, 5, 1.0)));
      const double qw = 1.0 - (entropy[h] - emin) / (emax - emin);
      for (int j = 0; j < n; ++j)
        CHECK(got[h][j] == Approx(qw * rq[j] + (1 - qw) * rh[j]).margin(1e-12));
    }
    // Equal entropies (one head) give qw = 1: the score is rank QI alone.
    CHECK(qw_of_single_head_is_one(p));
  }
}

TEST_CASE("validation and errors name the problem and the sample") {
  const MethodDef* m = find_method("circuitkv_neumann");
  REQUIRE(m != nullptr);
  CHECK_THROWS_WITH(resolve_params(*m, {{"qi_kernel", 4}}), Catch::Contains("qi_kernel 4 must be odd"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"budget", 60}}),
                    Catch::Contains("below sink_size + window = 68"));
  CHECK_THROWS_WITH(resolve_params(*m, {{"combination", "sum"}}), Catch::Contains("combination"));
  // Defaults as docs/spec/METHODS.md states them.
  Params d = resolve_params(*m, json::object());
  CHECK(d.at("head_reduce") == "entropy");
  CHECK(d.at("graph") == "window_prefix");
  CHECK(d.at("iterations") == 10);
  CHECK(d.at("temperature") == 1.0);
  CHECK(d.at("gamma") == 1.0);
  CHECK(d.at("smoothing") == "gaussian");
  CHECK(d.at("qi_kernel") == 3);
  CHECK(d.at("hi_kernel") == 5);
  CHECK(d.at("sigma") == 1.0);
  CHECK(d.at("combination") == "dis");
  CHECK(d.at("selection") == "shared");
  CHECK(d.at("sink_size") == 4);
  CHECK(d.at("window") == 64);
  for (const auto& spec : m->params) CHECK_FALSE(spec.help.empty());
  // graph = full needs every query row.
  Layer t = random_layer(30, 2, 1, 8, 3, 1.0, 8);
  LayerContext ctx(t.input);
  Params full = params_of({{"budget", 20}, {"window", 8}, {"graph", "full"}});
  CHECK_THROWS_WITH(m->score_cpu(ctx, m->parse(full)), Catch::Contains("test/neumann"));
  // window_prefix works on the window rows alone.
  Params wp = params_of({{"budget", 20}, {"window", 8}});
  CHECK(m->score_cpu(ctx, m->parse(wp)).heads.at(0).size() == 30);
}

// Speed is bench_kernels' business (circuitkv_neumann rows, docs/benchmarks.md); this checks a
// large layer with only the window rows captured, and that K = 20 extended from the memoised
// K = 10 series is the K = 20 of a fresh layer context, bit for bit.
TEST_CASE("n = 8192, H = 8, w = 64 from the window rows alone; K = 20 after K = 10 as computed afresh") {
  const int n = 8192, H = 8, w = 64;
  Layer t = random_layer(n, H, 2, 64, 1, 1.0, w);  // only the window query rows exist
  LayerContext ctx(t.input);
  const MethodDef* m = find_method("circuitkv_neumann");
  Scores sc = m->score_cpu(ctx, m->parse(params_of({{"budget", 1024}})));
  REQUIRE(sc.heads.size() == 1);
  CHECK(sc.heads[0].size() == size_t(n));
  Params k20 = params_of({{"budget", 1024}, {"iterations", 20}});
  Scores extended = m->score_cpu(ctx, m->parse(k20));  // graphs memoised; the series goes on from 10
  LayerContext fresh(t.input);
  Scores direct = m->score_cpu(fresh, m->parse(k20));
  REQUIRE(extended.heads.size() == direct.heads.size());
  CHECK(extended.heads[0] == direct.heads[0]);
  CHECK(extended.heads[0] != sc.heads[0]);
}
