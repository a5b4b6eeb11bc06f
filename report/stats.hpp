// Statistics for the analysis commands (docs/analysis.md states each method exactly).
// Everything is deterministic: random draws come from std::mt19937_64 seeded explicitly
// (a fixed default seed in the API) and an unbiased rejection sampler of our own (not
// std::uniform_int_distribution, whose algorithm differs between standard libraries), in one
// thread, so results never depend on the thread count or the platform.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace ckv::stats {

inline constexpr std::uint64_t kDefaultSeed = 0x636b76;  // "ckv"
inline constexpr int kDefaultResamples = 2000;

// The arithmetic mean (NaN for no values) and the sample standard deviation (n − 1
// denominator; NaN for fewer than 2 values).
double mean(std::span<const double> values);
double sample_std(std::span<const double> values);

struct Interval {
  double lo, hi;
};

// The statistic every stratified function below estimates: with strata, the unweighted mean of
// the per-stratum means (the report's "avg": each task counts once, whatever its number of
// samples); without strata (an empty span), the plain mean. Strata are arbitrary integer
// labels, one per value.
double stratified_mean(std::span<const double> values, std::span<const int> strata);

// The percentile (linear interpolation between order statistics, R's type 7) of sorted values.
double quantile_sorted(std::span<const double> sorted, double q);
// The central `level` interval of a bootstrap distribution: its (1 − level)/2 and
// (1 + level)/2 quantiles. `statistics` is sorted in place; NaNs are not allowed.
Interval percentile_interval(std::vector<double>& statistics, double level);

// Draws bootstrap resamples of indices 0..n−1, within each stratum: each resample holds, for
// every stratum (ascending label order), as many indices drawn uniformly with replacement from
// that stratum as it has, so the task mix is fixed. The same seed gives the same resamples.
class StratifiedResampler {
 public:
  StratifiedResampler(std::span<const int> strata, std::size_t n, std::uint64_t seed);
  // The next resample (n indices, grouped by stratum).
  const std::vector<std::size_t>& next();
  // The strata as groups of indices, ascending label order.
  const std::vector<std::vector<std::size_t>>& groups() const { return groups_; }

 private:
  std::vector<std::vector<std::size_t>> groups_;
  std::vector<std::size_t> draw_;
  std::mt19937_64 rng_;
};

// A uniform integer in [0, n) from the generator, by rejection (no modulo bias).
std::uint64_t uniform_index(std::mt19937_64& rng, std::uint64_t n);

// Percentile bootstrap CI of stratified_mean(values, strata): `resamples` stratified resamples
// (StratifiedResampler), the statistic of each, then percentile_interval. {NaN, NaN} for no
// values; throws ckv::Error for a value that is not finite.
Interval bootstrap_mean_ci(std::span<const double> values, std::span<const int> strata,
                           double level = 0.95, int resamples = kDefaultResamples,
                           std::uint64_t seed = kDefaultSeed);

// Paired bootstrap CI of the mean difference a − b: pairs (a_i, b_i) are resampled together,
// i.e. bootstrap_mean_ci of the differences.
Interval paired_bootstrap_ci(std::span<const double> a, std::span<const double> b,
                             std::span<const int> strata, double level = 0.95,
                             int resamples = kDefaultResamples, std::uint64_t seed = kDefaultSeed);

// Two-sided sign-flip permutation test of "the paired differences are symmetric about 0":
// statistic |Σ w_i d_i| with w_i the weights of stratified_mean (1 / (strata · n_stratum));
// every d_i's sign flipped independently. Exact (all 2^k sign patterns of the k non-zero
// differences, zeros add nothing) for k <= kExactSignFlipMax; otherwise Monte Carlo with
// `resamples` random patterns and p = (1 + hits) / (1 + resamples). Patterns whose statistic
// equals the observed one within 1e-12 relative count as hits. p = 1 when every d_i is 0;
// NaN for no values.
inline constexpr int kExactSignFlipMax = 20;
struct SignFlipResult {
  double p = 0;
  bool exact = false;
};
SignFlipResult sign_flip_test(std::span<const double> differences, std::span<const int> strata,
                              int resamples = 100000, std::uint64_t seed = kDefaultSeed);

// Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order. NaN
// entries (no test) are left NaN and do not count in the family.
std::vector<double> holm(std::span<const double> p);

// Ranks with ties averaged, 1 = the smallest value.
std::vector<double> average_ranks(std::span<const double> values);
// Spearman's ρ: the Pearson correlation of the average ranks. nullopt with fewer than 2 values
// or when either ranking is constant.
std::optional<double> spearman(std::span<const double> a, std::span<const double> b);
// Kendall's τ-b: (concordant − discordant) / sqrt((n0 − ties_a)(n0 − ties_b)), n0 = n(n−1)/2.
// nullopt with fewer than 2 values or when either is constant.
std::optional<double> kendall_tau_b(std::span<const double> a, std::span<const double> b);
// The share of the n(n−1)/2 pairs (i, j) whose order agrees: sign(a_i − a_j) = sign(b_i − b_j)
// (a pair tied in both agrees). nullopt with fewer than 2 values. Without ties it is
// (1 + τ) / 2.
std::optional<double> pairwise_agreement(std::span<const double> a, std::span<const double> b);

}  // namespace ckv::stats
