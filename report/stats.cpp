#include "report/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "common/error.hpp"

namespace ckv::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_strata(std::span<const double> values, std::span<const int> strata) {
  CKV_CHECK(strata.empty() || strata.size() == values.size(),
            "statistics: {} strata labels for {} values", strata.size(), values.size());
}

// Groups of indices by stratum label, ascending label order; one group when strata is empty.
std::vector<std::vector<std::size_t>> make_groups(std::span<const int> strata, std::size_t n) {
  std::vector<std::vector<std::size_t>> groups;
  if (strata.empty()) {
    if (n > 0) {
      groups.emplace_back(n);
      std::iota(groups[0].begin(), groups[0].end(), std::size_t(0));
    }
    return groups;
  }
  std::map<int, std::vector<std::size_t>> by_label;
  for (std::size_t i = 0; i < n; ++i) by_label[strata[i]].push_back(i);
  for (auto& [label, members] : by_label) groups.push_back(std::move(members));
  return groups;
}

// The weight of each value in stratified_mean: 1 / (groups · |group|).
std::vector<double> stratum_weights(const std::vector<std::vector<std::size_t>>& groups, std::size_t n) {
  std::vector<double> w(n, 0.0);
  for (const auto& g : groups)
    for (std::size_t i : g) w[i] = 1.0 / (double(groups.size()) * double(g.size()));
  return w;
}

}  // namespace

double mean(std::span<const double> values) {
  if (values.empty()) return kNaN;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / double(values.size());
}

double sample_std(std::span<const double> values) {
  if (values.size() < 2) return kNaN;
  const double m = mean(values);
  double ss = 0;
  for (double v : values) ss += (v - m) * (v - m);
  return std::sqrt(ss / double(values.size() - 1));
}

double stratified_mean(std::span<const double> values, std::span<const int> strata) {
  check_strata(values, strata);
  if (values.empty()) return kNaN;
  const auto groups = make_groups(strata, values.size());
  double total = 0;
  for (const auto& g : groups) {
    double sum = 0;
    for (std::size_t i : g) sum += values[i];
    total += sum / double(g.size());
  }
  return total / double(groups.size());
}

double quantile_sorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) return kNaN;
  const double h = (double(sorted.size()) - 1) * std::clamp(q, 0.0, 1.0);
  const std::size_t lo = std::size_t(std::floor(h));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - double(lo)) * (sorted[hi] - sorted[lo]);
}

Interval percentile_interval(std::vector<double>& statistics, double level) {
  CKV_CHECK(level > 0 && level < 1, "statistics: confidence level must be in (0, 1), got {}", level);
  if (statistics.empty()) return {kNaN, kNaN};
  std::sort(statistics.begin(), statistics.end());
  return {quantile_sorted(statistics, (1 - level) / 2), quantile_sorted(statistics, (1 + level) / 2)};
}

std::uint64_t uniform_index(std::mt19937_64& rng, std::uint64_t n) {
  CKV_CHECK(n > 0, "statistics: uniform_index of an empty range");
  // Accept draws below the largest multiple of n representable in 64 bits.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                              std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % n;
}

StratifiedResampler::StratifiedResampler(std::span<const int> strata, std::size_t n, std::uint64_t seed)
    : groups_(make_groups(strata, n)), draw_(n), rng_(seed) {
  CKV_CHECK(strata.empty() || strata.size() == n, "statistics: {} strata labels for {} values",
            strata.size(), n);
}

const std::vector<std::size_t>& StratifiedResampler::next() {
  std::size_t k = 0;
  for (const auto& g : groups_)
    for (std::size_t i = 0; i < g.size(); ++i) draw_[k++] = g[uniform_index(rng_, g.size())];
  return draw_;
}

Interval bootstrap_mean_ci(std::span<const double> values, std::span<const int> strata, double level,
                           int resamples, std::uint64_t seed) {
  check_strata(values, strata);
  CKV_CHECK(resamples >= 1, "statistics: resamples must be >= 1, got {}", resamples);
  CKV_CHECK(level > 0 && level < 1, "statistics: confidence level must be in (0, 1), got {}", level);
  if (values.empty()) return {kNaN, kNaN};
  for (double v : values) CKV_CHECK(std::isfinite(v), "statistics: a value to bootstrap is not finite ({})", v);
  StratifiedResampler resampler(strata, values.size(), seed);
  const auto& groups = resampler.groups();
  std::vector<double> statistics(std::size_t(resamples), 0.0);
  for (double& stat : statistics) {
    const std::vector<std::size_t>& draw = resampler.next();
    std::size_t k = 0;
    double total = 0;
    for (const auto& g : groups) {
      double sum = 0;
      for (std::size_t i = 0; i < g.size(); ++i) sum += values[draw[k++]];
      total += sum / double(g.size());
    }
    stat = total / double(groups.size());
  }
  return percentile_interval(statistics, level);
}

Interval paired_bootstrap_ci(std::span<const double> a, std::span<const double> b, std::span<const int> strata,
                             double level, int resamples, std::uint64_t seed) {
  CKV_CHECK(a.size() == b.size(), "statistics: paired samples of different sizes ({} and {})", a.size(), b.size());
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return bootstrap_mean_ci(d, strata, level, resamples, seed);
}

SignFlipResult sign_flip_test(std::span<const double> differences, std::span<const int> strata, int resamples,
                              std::uint64_t seed) {
  check_strata(differences, strata);
  CKV_CHECK(resamples >= 1, "statistics: resamples must be >= 1, got {}", resamples);
  if (differences.empty()) return {kNaN, true};
  const auto groups = make_groups(strata, differences.size());
  const std::vector<double> w = stratum_weights(groups, differences.size());
  // The weighted non-zero terms x_i = w_i d_i; zeros change no pattern's statistic.
  std::vector<double> x;
  double scale = 0;
  for (std::size_t i = 0; i < differences.size(); ++i) {
    CKV_CHECK(std::isfinite(differences[i]), "statistics: a paired difference is not finite");
    if (differences[i] != 0) {
      x.push_back(w[i] * differences[i]);
      scale += std::abs(x.back());
    }
  }
  if (x.empty()) return {1.0, true};
  const double observed = std::abs(std::accumulate(x.begin(), x.end(), 0.0));
  const double threshold = observed - 1e-12 * scale;
  const std::size_t k = x.size();
  if (k <= std::size_t(kExactSignFlipMax)) {
    // Every pattern, each sum computed afresh (no drift from incremental updates).
    std::uint64_t hits = 0;
    const std::uint64_t patterns = std::uint64_t(1) << k;
    for (std::uint64_t mask = 0; mask < patterns; ++mask) {
      double s = 0;
      for (std::size_t i = 0; i < k; ++i) s += (mask >> i & 1) ? -x[i] : x[i];
      hits += std::abs(s) >= threshold;
    }
    return {double(hits) / double(patterns), true};
  }
  std::mt19937_64 rng(seed);
  std::uint64_t hits = 0;
  for (int r = 0; r < resamples; ++r) {
    double s = 0;
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < k; ++i) {
      if (i % 64 == 0) bits = rng();
      s += (bits >> (i % 64) & 1) ? -x[i] : x[i];
    }
    hits += std::abs(s) >= threshold;
  }
  return {(1.0 + double(hits)) / (1.0 + double(resamples)), false};
}

std::vector<double> holm(std::span<const double> p) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (!std::isnan(p[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> out(p.size(), kNaN);
  const std::size_t m = order.size();
  double running = 0;
  for (std::size_t r = 0; r < m; ++r) {
    running = std::max(running, std::min(1.0, double(m - r) * p[order[r]]));
    out[order[r]] = running;
  }
  return out;
}

std::vector<double> average_ranks(std::span<const double> values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = (double(i + 1) + double(j + 1)) / 2;
    i = j + 1;
  }
  return ranks;
}

std::optional<double> spearman(std::span<const double> a, std::span<const double> b) {
  CKV_CHECK(a.size() == b.size(), "statistics: rankings of different sizes ({} and {})", a.size(), b.size());
  if (a.size() < 2) return std::nullopt;
  const std::vector<double> ra = average_ranks(a), rb = average_ranks(b);
  const double ma = mean(ra), mb = mean(rb);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0 || sbb == 0) return std::nullopt;
  return sab / std::sqrt(saa * sbb);
}

namespace {
int sign(double v) { return (v > 0) - (v < 0); }
}  // namespace

std::optional<double> kendall_tau_b(std::span<const double> a, std::span<const double> b) {
  CKV_CHECK(a.size() == b.size(), "statistics: rankings of different sizes ({} and {})", a.size(), b.size());
  const std::size_t n = a.size();
  if (n < 2) return std::nullopt;
  long long concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const int sa = sign(a[i] - a[j]), sb = sign(b[i] - b[j]);
      ties_a += sa == 0;
      ties_b += sb == 0;
      if (sa * sb > 0) ++concordant;
      else if (sa * sb < 0) ++discordant;
    }
  const double n0 = double(n) * double(n - 1) / 2;
  const double denominator = std::sqrt((n0 - double(ties_a)) * (n0 - double(ties_b)));
  if (denominator == 0) return std::nullopt;
  return double(concordant - discordant) / denominator;
}

std::optional<double> pairwise_agreement(std::span<const double> a, std::span<const double> b) {
  CKV_CHECK(a.size() == b.size(), "statistics: rankings of different sizes ({} and {})", a.size(), b.size());
  const std::size_t n = a.size();
  if (n < 2) return std::nullopt;
  long long agree = 0, pairs = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      agree += sign(a[i] - a[j]) == sign(b[i] - b[j]);
      ++pairs;
    }
  return double(agree) / double(pairs);
}

}  // namespace ckv::stats
