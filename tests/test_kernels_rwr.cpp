// rwr (docs/spec/METHODS.md "RWR", seed 003): saliency against dense closed forms built here from the
// definitions (finite series and the T → ∞ solve), the reversible chain's detailed balance
// on a hand case, the reciprocal mix, and the graph's window/top-k edges (also bit for bit against a
// brute-force top-k).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "kernels/registry.hpp"
#include "kernels/rwr/rwr_graph.hpp"
#include "kernels/rwr/rwr_math.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;

namespace {

using Matrix = std::vector<std::vector<double>>;

// Random Q [H, n, d] and K [1, n, d] from a fixed linear congruential sequence.
using RandomLayer = ckv_test::OwnedLayer;

RandomLayer random_layer(int n, int H, int d, int rows_captured = -1) {
  RandomLayer t;
  const int r = rows_captured < 0 ? n : rows_captured;
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return float(double(state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  };
  for (size_t i = 0; i < size_t(H) * r * d; ++i) t.q.push_back(next());
  for (size_t i = 0; i < size_t(n) * d; ++i) t.k.push_back(next() + (i % d == 0 ? 0.4f : 0.0f));
  t.v.assign(size_t(n) * d, 0.0f);
  t.bind(H, 1, d, n, r, "test/rwr");
  return t;
}

// Dense W of head h from the definition: cosine on |i − j| <= window, plus the topk largest
// cosines among j < i − window; only cosines > 0.
Matrix dense_graph(const RandomLayer& t, int h, int window, int topk) {
  const int n = t.input.n, d = t.input.d;
  auto cosine = [&](int i, int j) {
    const float* q = t.input.query(h, i);
    const float* k = t.input.key(0, j);
    double dot = 0.0, qq = 0.0, kk = 0.0;
    for (int c = 0; c < d; ++c) {
      dot += double(q[c]) * k[c];
      qq += double(q[c]) * q[c];
      kk += double(k[c]) * k[c];
    }
    return dot / std::sqrt(qq * kk);
  };
  Matrix w(n, std::vector<double>(n, 0.0));
  for (int i = 0; i < n; ++i) {
    std::vector<std::pair<double, int>> far;
    for (int j = 0; j < n; ++j) {
      const double c = cosine(i, j);
      if (c <= 0.0) continue;
      if (std::abs(i - j) <= window)
        w[i][j] = c;
      else if (j < i - window)
        far.emplace_back(-c, j);
    }
    std::sort(far.begin(), far.end());
    for (int t2 = 0; t2 < std::min<int>(topk, int(far.size())); ++t2) w[i][far[t2].second] = -far[t2].first;
  }
  return w;
}

Matrix row_normalized(const Matrix& w) {
  Matrix p = w;
  for (auto& row : p) {
    double z = 0.0;
    for (double x : row) z += x;
    for (double& x : row) x = z > 0.0 ? x / z : 0.0;
  }
  return p;
}

Matrix transpose(const Matrix& m) {
  Matrix t(m.size(), std::vector<double>(m.size()));
  for (size_t i = 0; i < m.size(); ++i)
    for (size_t j = 0; j < m.size(); ++j) t[j][i] = m[i][j];
  return t;
}

std::vector<double> matvec(const Matrix& m, const std::vector<double>& x) {
  std::vector<double> y(m.size(), 0.0);
  for (size_t i = 0; i < m.size(); ++i)
    for (size_t j = 0; j < m.size(); ++j) y[i] += m[i][j] * x[j];
  return y;
}

// α Σ_{t=0..T} ((1−α) M)ᵗ e with dense matrix-vector products.
std::vector<double> series(const Matrix& m, std::vector<double> e, double alpha, int T) {
  std::vector<double> r(e.size(), 0.0);
  for (int t = 0; t <= T; ++t) {
    for (size_t j = 0; j < e.size(); ++j) r[j] += alpha * e[j];
    e = matvec(m, e);
    for (double& x : e) x *= 1.0 - alpha;
  }
  return r;
}

// Solves (I − (1−α) M) x = α e by Gaussian elimination with partial pivoting.
std::vector<double> solve_limit(const Matrix& m, const std::vector<double>& e, double alpha) {
  const size_t n = m.size();
  Matrix a(n, std::vector<double>(n + 1));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) a[i][j] = (i == j ? 1.0 : 0.0) - (1.0 - alpha) * m[i][j];
    a[i][n] = alpha * e[i];
  }
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    std::swap(a[c], a[p]);
    for (size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (size_t j = c; j <= n; ++j) a[r][j] -= f * a[c][j];
    }
  }
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = a[i][n] / a[i][i];
  return x;
}

Scores score_rwr(LayerContext& ctx, json given) {
  const MethodDef* m = find_method("rwr");
  REQUIRE(m != nullptr);
  const json base = {{"budget", 12}, {"window", 4}, {"sink_size", 0}};
  for (auto& [k, v] : base.items())
    if (!given.contains(k)) given[k] = v;
  return m->score_cpu(ctx, parse_params(*m, given));
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, double eps) {
  REQUIRE(got.size() == want.size());
  for (size_t j = 0; j < want.size(); ++j) {
    INFO("position " << j);
    CHECK(got[j] == Approx(want[j]).epsilon(eps).margin(1e-7));
  }
}

}  // namespace

TEST_CASE("rwr graph: local window plus the topk most similar earlier keys") {
  RandomLayer t = random_layer(14, 1, 3);
  const Matrix want = dense_graph(t, 0, 2, 2);
  const rwr::SparseMatrix w = rwr::similarity_graph(t.input, 0, {2, 2, 0.0});
  Matrix got(14, std::vector<double>(14, 0.0));
  for (int i = 0; i < w.n; ++i)
    for (int e = w.row_start[i]; e < w.row_start[i + 1]; ++e) got[i][w.column[e]] = w.value[e];
  for (int i = 0; i < 14; ++i)
    for (int j = 0; j < 14; ++j) {
      INFO("edge " << i << " -> " << j);
      CHECK(got[i][j] == Approx(want[i][j]).margin(1e-6));
    }
  // Row 13 has keys 0..10 before its window: at most 2 of them are kept.
  int far = 0;
  for (int e = w.row_start[13]; e < w.row_start[14]; ++e) far += w.column[e] < 11;
  CHECK(far <= 2);
}

TEST_CASE("rwr saliency equals the dense series and its T -> infinity limit") {
  const int n = 16, H = 2;
  RandomLayer t = random_layer(n, H, 4);
  LayerContext ctx(t.input);
  std::vector<double> e(n, 0.0);
  e[n - 1] = 1.0;
  const json graph = {{"graph_window", 2}, {"topk", 2}, {"alpha", 0.25}};

  // r = α Σ_{t=0..T} ((1−α)Pᵀ)ᵗ e (mass flows from the query along its edges), head mean.
  std::vector<double> want4(n, 0.0), want_limit(n, 0.0), want_window(n, 0.0);
  std::vector<double> e_window(n, 0.0);
  for (int i = n - 4; i < n; ++i) e_window[i] = 0.25;
  for (int h = 0; h < H; ++h) {
    const Matrix pt = transpose(row_normalized(dense_graph(t, h, 2, 2)));
    const auto r4 = series(pt, e, 0.25, 4);
    const auto limit = solve_limit(pt, e, 0.25);  // α (I − (1−α)Pᵀ)⁻¹ e
    const auto rw = series(pt, e_window, 0.25, 4);
    for (int j = 0; j < n; ++j) {
      want4[j] += r4[j] / H;
      want_limit[j] += limit[j] / H;
      want_window[j] += rw[j] / H;
    }
  }
  json p = graph;
  p["steps"] = 4;
  check_close(score_rwr(ctx, p).heads[0], want4, 1e-5);
  p["steps"] = 300;
  check_close(score_rwr(ctx, p).heads[0], want_limit, 1e-5);
  p["steps"] = 4;
  p["restart"] = "window";  // uniform over the last `window` = 4 tokens
  check_close(score_rwr(ctx, p).heads[0], want_window, 1e-5);
}

TEST_CASE("rwr reciprocal mix and reversible chain through the registry") {
  const int n = 15, H = 2;
  RandomLayer t = random_layer(n, H, 4);
  LayerContext ctx(t.input);
  std::vector<double> e(n, 0.0);
  e[n - 1] = 1.0;
  std::vector<double> mix(n, 0.0), reversible(n, 0.0);
  for (int h = 0; h < H; ++h) {
    const Matrix w = dense_graph(t, h, 3, 2);
    const Matrix p = row_normalized(w);
    // β r + (1−β) r_back, r_back = α Σ ((1−α)P)ᵗ e (the walk on Pᵀ).
    const auto r = series(transpose(p), e, 0.2, 4), back = series(p, e, 0.2, 4);
    // P_rev: row-normalised (W + Wᵀ).
    Matrix sym = w;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) sym[i][j] = w[i][j] + w[j][i];
    const auto rr = series(transpose(row_normalized(sym)), e, 0.2, 4);
    for (int j = 0; j < n; ++j) {
      mix[j] += (0.3 * r[j] + 0.7 * back[j]) / H;
      reversible[j] += rr[j] / H;
    }
  }
  check_close(score_rwr(ctx, {{"graph_window", 3}, {"topk", 2}, {"reciprocal_beta", 0.3}}).heads[0], mix, 1e-5);
  check_close(score_rwr(ctx, {{"graph_window", 3}, {"topk", 2}, {"reversible", true}}).heads[0], reversible, 1e-5);
  // per_kv_head selection with one KV head: the mean over its group, the same vector.
  const Scores per_kv = score_rwr(ctx, {{"graph_window", 3}, {"topk", 2}, {"reversible", true}, {"selection", "per_kv_head"}});
  REQUIRE(per_kv.heads.size() == 1);
  check_close(per_kv.heads[0], reversible, 1e-5);
}

TEST_CASE("rwr reversible transition: seed 003 formula, detailed balance, stationarity") {
  // An asymmetric W with every out-degree positive.
  const Matrix w = {{1.0, 2.0, 0.0}, {0.5, 0.0, 1.5}, {3.0, 1.0, 1.0}};
  std::vector<std::vector<std::pair<int, double>>> rows(3);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (w[i][j] != 0.0) rows[i].emplace_back(j, w[i][j]);
  const rwr::SparseMatrix p = rwr::reversible_transition(rwr::SparseMatrix::from_rows(3, rows));
  Matrix got(3, std::vector<double>(3, 0.0));
  for (int i = 0; i < 3; ++i)
    for (int e = p.row_start[i]; e < p.row_start[i + 1]; ++e) got[i][p.column[e]] = p.value[e];

  // ½(P + D⁻¹PᵀD) with D = diag(row sums), then rows normalised.
  std::vector<double> d(3, 0.0), c(3, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      d[i] += w[i][j];
      c[j] += w[i][j];
    }
  Matrix formula(3, std::vector<double>(3));
  for (int i = 0; i < 3; ++i) {
    double z = 0.0;
    for (int j = 0; j < 3; ++j) {
      formula[i][j] = 0.5 * (w[i][j] / d[i] + (w[j][i] / d[j]) * d[j] / d[i]);
      z += formula[i][j];
    }
    CHECK(z == Approx(0.5 * (1.0 + c[i] / d[i])));  // why the formula alone is not stochastic
    for (int j = 0; j < 3; ++j) formula[i][j] /= z;
  }
  std::vector<double> pi(3), flow(3, 0.0);
  for (int i = 0; i < 3; ++i) pi[i] = d[i] + c[i];
  for (int i = 0; i < 3; ++i) {
    double row = 0.0;
    for (int j = 0; j < 3; ++j) {
      CHECK(got[i][j] == Approx(formula[i][j]));
      CHECK(pi[i] * got[i][j] == Approx(pi[j] * got[j][i]));  // detailed balance
      row += got[i][j];
      flow[j] += pi[i] * got[i][j];
    }
    CHECK(row == Approx(1.0));
  }
  for (int j = 0; j < 3; ++j) CHECK(flow[j] == Approx(pi[j]));  // π P_rev = π

  // A symmetric W is already reversible: P_rev = P.
  const Matrix sym = {{0.0, 2.0, 1.0}, {2.0, 1.0, 0.5}, {1.0, 0.5, 0.0}};
  std::vector<std::vector<std::pair<int, double>>> srows(3);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (sym[i][j] != 0.0) srows[i].emplace_back(j, sym[i][j]);
  const auto ws = rwr::SparseMatrix::from_rows(3, srows);
  const auto prev = rwr::reversible_transition(ws), plain = rwr::row_normalize(ws);
  REQUIRE(prev.column == plain.column);
  for (size_t e = 0; e < prev.value.size(); ++e) CHECK(prev.value[e] == Approx(plain.value[e]));
}

TEST_CASE("rwr refuses a cache without every query row") {
  RandomLayer t = random_layer(12, 2, 4, 5);
  LayerContext ctx(t.input);
  try {
    score_rwr(ctx, json::object());
    FAIL("expected an error");
  } catch (const ckv::Error& e) {
    const std::string what = e.what();
    CHECK(what.find("test/rwr") != std::string::npos);
    CHECK(what.find("rwr") != std::string::npos);
  }
  const MethodDef* m = find_method("rwr");
  REQUIRE(m != nullptr);
  const Params defaults = resolve_params(*m, json::object());
  CHECK(defaults["graph_window"] == 128);
  CHECK(defaults["topk"] == 32);
  CHECK(defaults["alpha"] == 0.2);
  CHECK(defaults["steps"] == 4);
  CHECK(defaults["reciprocal_beta"] == 1.0);
  CHECK_THROWS_WITH(resolve_params(*m, {{"alpha", 0.0}}), Catch::Contains("alpha"));
}

TEST_CASE("rwr graph: exactly the edges of a brute-force top-k by the twin's cosine and order") {
  // The CPU builder skips candidates below a lower bound and keeps a heap; this enumerates every
  // earlier key, sorts them by edge_before and takes the first topk, with the twin's unit rows
  // and cosine (rwr_math.hpp). Repeated keys make equal cosines, so ties by position are tested.
  const int n = 300, d = 16;
  RandomLayer t = random_layer(n, 2, d);
  for (int j = 40; j < n; j += 7)  // key j repeats key j − 37: equal cosines at two positions
    std::copy_n(t.k.begin() + size_t(j - 37) * d, d, t.k.begin() + size_t(j) * d);
  for (const int topk : {0, 1, 5, 32, 200}) {
    for (const double threshold : {0.0, 0.1, 0.35}) {
      for (const int window : {0, 8}) {
        for (int h = 0; h < 2; ++h) {
          const rwr::SparseMatrix w = rwr::similarity_graph(t.input, h, {window, topk, threshold});
          std::vector<float> q(d), k(size_t(n) * d);
          for (int j = 0; j < n; ++j) rwr::unit_row(t.input.key(0, j), d, &k[size_t(j) * d]);
          REQUIRE(w.n == n);
          for (int i = 0; i < n; ++i) {
            rwr::unit_row(t.input.query(h, i), d, q.data());
            std::vector<std::pair<double, int>> far, want;
            const int lo = std::max(0, i - window), hi = std::min(n - 1, i + window);
            for (int j = 0; j < lo; ++j) {
              const double c = rwr::cosine(q.data(), &k[size_t(j) * d], d);
              if (c > threshold) far.emplace_back(c, j);
            }
            std::sort(far.begin(), far.end(), [](const auto& a, const auto& b) {
              return rwr::edge_before(a.first, a.second, b.first, b.second);
            });
            far.resize(std::min(far.size(), size_t(topk)));
            std::sort(far.begin(), far.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
            want = far;
            for (int j = lo; j <= hi; ++j) {
              const double c = rwr::cosine(q.data(), &k[size_t(j) * d], d);
              if (c > threshold) want.emplace_back(c, j);
            }
            std::vector<std::pair<double, int>> got;
            for (int e = w.row_start[i]; e < w.row_start[i + 1]; ++e) got.emplace_back(w.value[e], w.column[e]);
            INFO("topk " << topk << " threshold " << threshold << " window " << window << " head " << h << " row " << i);
            REQUIRE(got == want);  // the same columns and the same bits
          }
        }
      }
    }
  }
}
