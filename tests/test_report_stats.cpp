// report/stats.hpp against independent truths: hand-computed small cases, exhaustive sign-flip
// enumeration written independently here, closed forms (Kendall's τ from inversions, Spearman's ρ
// from squared rank differences), normal-theory intervals for large normal samples, and Holm's
// procedure on the textbook example.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "report/stats.hpp"

using namespace ckv::stats;

namespace {

// Normal deviates by Box–Muller from a fixed generator (independent of <random>'s
// implementation-defined distributions).
std::vector<double> normal_sample(std::size_t n, double mu, double sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double two_pi = 6.283185307179586;
  std::vector<double> out;
  while (out.size() < n) {
    const double u1 = (double(rng() >> 11) + 1.0) / 9007199254740993.0;
    const double u2 = double(rng() >> 11) / 9007199254740992.0;
    const double r = std::sqrt(-2 * std::log(u1));
    out.push_back(mu + sigma * r * std::cos(two_pi * u2));
    if (out.size() < n) out.push_back(mu + sigma * r * std::sin(two_pi * u2));
  }
  return out;
}

// The exact two-sided sign-flip p-value by recursion over every sign pattern (zeros included:
// they double both counts), statistic |Σ w_i d_i|.
double exact_sign_flip(const std::vector<double>& d, const std::vector<double>& w) {
  double observed = 0, scale = 0;
  for (size_t i = 0; i < d.size(); ++i) observed += w[i] * d[i], scale += std::abs(w[i] * d[i]);
  observed = std::abs(observed);
  long long hits = 0, total = 0;
  std::function<void(size_t, double)> walk = [&](size_t i, double s) {
    if (i == d.size()) {
      ++total;
      hits += std::abs(s) >= observed - 1e-9 * scale;
      return;
    }
    walk(i + 1, s + w[i] * d[i]);
    walk(i + 1, s - w[i] * d[i]);
  };
  walk(0, 0.0);
  return double(hits) / double(total);
}

}  // namespace

TEST_CASE("mean, sample standard deviation, stratified mean: hand-computed", "[report]") {
  const std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
  CHECK(mean(v) == 5.0);
  CHECK(sample_std(v) == Approx(std::sqrt(32.0 / 7.0)).epsilon(1e-15));
  CHECK(std::isnan(mean(std::vector<double>{})));
  CHECK(std::isnan(sample_std(std::vector<double>{3.0})));
  // Strata {0: 1, 2, 3} and {7: 10}: (2 + 10) / 2, not the pooled 4.
  const std::vector<double> x{1, 2, 3, 10};
  const std::vector<int> s{0, 0, 0, 7};
  CHECK(stratified_mean(x, s) == 6.0);
  CHECK(stratified_mean(x, {}) == 4.0);
}

TEST_CASE("quantiles interpolate between order statistics (type 7)", "[report]") {
  const std::vector<double> v{1, 2, 3, 4};
  CHECK(quantile_sorted(v, 0.5) == 2.5);
  CHECK(quantile_sorted(v, 0.25) == 1.75);
  CHECK(quantile_sorted(v, 0.0) == 1);
  CHECK(quantile_sorted(v, 1.0) == 4);
}

TEST_CASE("bootstrap CI of a large normal sample matches the normal-theory interval", "[report]") {
  const std::vector<double> v = normal_sample(4000, 3.0, 2.0, 11);
  const double m = mean(v), se = sample_std(v) / std::sqrt(double(v.size()));
  const Interval ci = bootstrap_mean_ci(v, {}, 0.95, 4000);
  const double half = 1.959964 * se;
  INFO("bootstrap [" << ci.lo << ", " << ci.hi << "], normal " << m - half << " .. " << m + half);
  CHECK(ci.lo == Approx(m - half).margin(0.08 * half));
  CHECK(ci.hi == Approx(m + half).margin(0.08 * half));
  // 90 % is narrower, inside the 95 % interval.
  const Interval ci90 = bootstrap_mean_ci(v, {}, 0.90, 4000);
  CHECK(ci90.hi - ci90.lo == Approx(2 * 1.644854 * se).epsilon(0.1));
}

TEST_CASE("stratified bootstrap: the task mix is fixed and the mean weights tasks equally", "[report]") {
  // Constant strata: every resample has the same stratified mean, so the CI is that point; a
  // pooled bootstrap would move (it draws 3 or 1 of the 5s).
  const std::vector<double> v{1, 1, 1, 5};
  const std::vector<int> s{3, 3, 3, 9};
  const Interval fixed = bootstrap_mean_ci(v, s);
  CHECK(fixed.lo == 3.0);
  CHECK(fixed.hi == 3.0);
  const Interval pooled = bootstrap_mean_ci(v, {});
  CHECK(pooled.lo < 2.0);
  CHECK(pooled.hi > 3.0);

  // Two normal strata of different sizes and spreads: the normal-theory interval of the mean of
  // stratum means, se² = (s1²/n1 + s2²/n2) / 4.
  std::vector<double> a = normal_sample(3000, 0.0, 1.0, 5), b = normal_sample(1000, 10.0, 3.0, 6);
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::vector<int> strata(a.size(), 0);
  strata.insert(strata.end(), b.size(), 1);
  const double center = (mean(a) + mean(b)) / 2;
  const double se = std::sqrt(sample_std(a) * sample_std(a) / double(a.size()) +
                              sample_std(b) * sample_std(b) / double(b.size())) /
                    2;
  const Interval ci = bootstrap_mean_ci(all, strata, 0.95, 4000);
  CHECK(ci.lo == Approx(center - 1.959964 * se).margin(0.1 * 1.959964 * se));
  CHECK(ci.hi == Approx(center + 1.959964 * se).margin(0.1 * 1.959964 * se));
}

TEST_CASE("the bootstrap is deterministic and seeded", "[report]") {
  const std::vector<double> v = normal_sample(50, 0, 1, 3);
  const Interval a = bootstrap_mean_ci(v, {}), b = bootstrap_mean_ci(v, {});
  CHECK(a.lo == b.lo);
  CHECK(a.hi == b.hi);
  const Interval c = bootstrap_mean_ci(v, {}, 0.95, 2000, 12345);
  CHECK((c.lo != a.lo || c.hi != a.hi));
  // The resampler draws within strata only.
  const std::vector<int> s{0, 1, 0, 1, 1, 2};
  StratifiedResampler r(s, s.size(), 1);
  for (int i = 0; i < 100; ++i) {
    const auto& draw = r.next();
    REQUIRE(draw.size() == s.size());
    // Groups in label order: 0 (two), 1 (three), 2 (one).
    for (size_t k = 0; k < 2; ++k) CHECK(s[draw[k]] == 0);
    for (size_t k = 2; k < 5; ++k) CHECK(s[draw[k]] == 1);
    CHECK(draw[5] == 5);
  }
  CHECK(std::isnan(bootstrap_mean_ci(std::vector<double>{}, {}).lo));
  CHECK_THROWS(bootstrap_mean_ci(std::vector<double>{1, std::nan("")}, {}));
  CHECK_THROWS(bootstrap_mean_ci(std::vector<double>{1, 2}, std::vector<int>{0}));  // one label for two values
}

TEST_CASE("paired bootstrap resamples pairs together", "[report]") {
  // b = a + 0.5 exactly: every resampled pair differs by -0.5, so the CI is the point.
  const std::vector<double> a = normal_sample(40, 0, 1, 8);
  std::vector<double> b = a;
  for (double& x : b) x += 0.5;
  const Interval ci = paired_bootstrap_ci(a, b, {});
  CHECK(ci.lo == Approx(-0.5).margin(1e-12));
  CHECK(ci.hi == Approx(-0.5).margin(1e-12));
}

TEST_CASE("sign-flip test: exact p by enumeration, hand-computed cases", "[report]") {
  // All positive 1..5: only the two all-same-sign patterns reach |15|: 2/32.
  SignFlipResult r = sign_flip_test(std::vector<double>{1, 2, 3, 4, 5}, {});
  CHECK(r.exact);
  CHECK(r.p == 2.0 / 32);
  // Ties of the statistic count: {1,1,1,1}: |sum| = 4 in 2 of 16 patterns.
  CHECK(sign_flip_test(std::vector<double>{1, 1, 1, 1}, {}).p == 2.0 / 16);
  // {1,1,1,-1}: |sum| >= 2 in 10 of 16 patterns.
  CHECK(sign_flip_test(std::vector<double>{1, 1, 1, -1}, {}).p == 10.0 / 16);
  // Zeros change nothing: {1, 2, 0}: sums ±3, ±1 → 2 of 4.
  CHECK(sign_flip_test(std::vector<double>{1, 2, 0}, {}).p == 0.5);
  CHECK(sign_flip_test(std::vector<double>{0, 0}, {}).p == 1.0);
  CHECK(std::isnan(sign_flip_test(std::vector<double>{}, {}).p));

  // Against the independent recursion, with and without strata (weights 1/(T·n_t)).
  const std::vector<double> d = normal_sample(13, 0.3, 1.0, 21);
  std::vector<double> equal(d.size(), 1.0);
  CHECK(sign_flip_test(d, {}).p == Approx(exact_sign_flip(d, equal)).margin(1e-15));
  std::vector<int> strata{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  std::vector<double> w(d.size());
  for (size_t i = 0; i < d.size(); ++i) w[i] = strata[i] == 0 ? 1.0 / 20 : 1.0 / 6;
  const SignFlipResult stratified = sign_flip_test(d, strata);
  CHECK(stratified.exact);
  CHECK(stratified.p == Approx(exact_sign_flip(d, w)).margin(1e-15));
}

TEST_CASE("sign-flip test: Monte Carlo above 20 differences agrees with exhaustive enumeration", "[report]") {
  const std::vector<double> d = normal_sample(21, 0.35, 1.0, 99);
  const SignFlipResult r = sign_flip_test(d, {});
  CHECK_FALSE(r.exact);
  const double exact = exact_sign_flip(d, std::vector<double>(d.size(), 1.0));
  INFO("exact " << exact << ", Monte Carlo " << r.p);
  // 100000 patterns: the binomial standard error is at most 0.0016.
  CHECK(r.p == Approx(exact).margin(0.008));
  CHECK(sign_flip_test(d, {}).p == r.p);  // seeded
}

TEST_CASE("Holm–Bonferroni on the textbook example", "[report]") {
  // p = 0.01, 0.04, 0.03, 0.005: sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06,
  // max(0.06, 0.04·1) = 0.06.
  const std::vector<double> p{0.01, 0.04, 0.03, 0.005};
  const std::vector<double> adjusted = holm(p);
  CHECK(adjusted[0] == Approx(0.03));
  CHECK(adjusted[1] == Approx(0.06));
  CHECK(adjusted[2] == Approx(0.06));
  CHECK(adjusted[3] == Approx(0.02));
  // NaN (no test) stays NaN and is not in the family; capped at 1.
  const std::vector<double> q = holm(std::vector<double>{0.4, std::nan(""), 0.3});
  CHECK(q[0] == Approx(0.6));
  CHECK(std::isnan(q[1]));
  CHECK(q[2] == Approx(0.6));
  CHECK(holm(std::vector<double>{0.7, 0.8})[0] == 1.0);
}

TEST_CASE("ranks, Spearman, Kendall tau-b and pairwise agreement: closed forms", "[report]") {
  const std::vector<double> r = average_ranks(std::vector<double>{10, 20, 20, 30});
  CHECK(r == std::vector<double>{1, 2.5, 2.5, 4});

  // A permutation with I inversions: τ = 1 − 4I / (n(n−1)); ρ = 1 − 6Σd² / (n(n²−1)).
  const std::vector<double> x{1, 2, 3, 4, 5}, y{3, 4, 5, 1, 2};  // 6 inversions, Σd² = 4+4+4+9+9
  CHECK(*kendall_tau_b(x, y) == Approx(1 - 4.0 * 6 / 20));
  CHECK(*spearman(x, y) == Approx(1 - 6.0 * 30 / (5 * 24)));
  CHECK(*pairwise_agreement(x, y) == Approx((1 + *kendall_tau_b(x, y)) / 2));
  const std::vector<double> rev{5, 4, 3, 2, 1};
  CHECK(*kendall_tau_b(x, rev) == -1.0);
  CHECK(*spearman(x, rev) == Approx(-1.0));
  CHECK(*pairwise_agreement(x, rev) == 0.0);
  CHECK(*kendall_tau_b(x, x) == 1.0);

  // With ties, by hand: a = {1,2,2,3}, b = {1,2,3,3}: 4 concordant, 0 discordant, one tie in
  // each: τ-b = 4 / sqrt(5·5).
  const std::vector<double> a{1, 2, 2, 3}, b{1, 2, 3, 3};
  CHECK(*kendall_tau_b(a, b) == Approx(0.8));
  // Centered ranks: a {-1.5, 0, 0, 1.5}, b {-1.5, -0.5, 1, 1}: Σab = 2.25 + 1.5 = 3.75,
  // Σa² = 4.5, Σb² = 2.25 + 0.25 + 1 + 1 = 4.5: ρ = 3.75 / 4.5.
  CHECK(*spearman(a, b) == Approx(3.75 / 4.5));
  // Pairs: tie in a only (2,3) and in b only (3,4) disagree; 4 of 6 agree.
  CHECK(*pairwise_agreement(a, b) == Approx(4.0 / 6));

  CHECK_FALSE(spearman(std::vector<double>{1}, std::vector<double>{2}).has_value());
  CHECK_FALSE(kendall_tau_b(std::vector<double>{1, 1}, std::vector<double>{1, 2}).has_value());
}
