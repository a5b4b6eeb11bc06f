// The __host__ __device__ walker functions of circuitkv_influence (influence_sampling.hpp),
// compiled here as host code: the CUDA kernel's per-walker loop, replayed on the CPU,
// reproduces run_walkers exactly, and the sampler behaves at its edges (u = 0, u close to 1,
// zero-weight entries and rows). This checks the port's logic in CI without a GPU, not the CUDA
// runtime calls, the atomics or device rounding.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/circuitkv_influence/influence_sampling.hpp"
#include "kernels/circuitkv_influence/influence_walker.hpp"

using namespace ckv;

namespace {

constexpr double kAlmostOne = 1.0 - 1.0 / 9007199254740992.0;  // the largest Philox uniform

// Causal rows with a spread of magnitudes (exponential draws to a power), some exact zeros
// (every seventh column), normalised; row 0 of a layer is [1].
walkers::ReducedAttention random_attention(int n, unsigned seed, double spread) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> e(1.0);
  walkers::ReducedAttention a;
  a.n = n;
  for (int i = 0; i < n; ++i) {
    std::vector<double> row(i + 1);
    double z = 0.0;
    for (int j = 0; j <= i; ++j) {
      row[j] = (j % 7 == 3 && j != i) ? 0.0 : std::pow(e(rng), spread);
      z += row[j];
    }
    for (int j = 0; j <= i; ++j) a.packed.push_back(float(row[j] / z));
  }
  return a;
}

// A one-thread-per-walker kernel's body on the host: one call of influence_walk per walker,
// landings added to shared counters as integer atomics would. Walkers run in a shuffled order:
// atomics promise nothing about it.
std::vector<long long> influence_kernel_replica(const influence::TransitionTable& table,
                                                const influence::TransitionTable& explore,
                                                const influence::WalkerOptions& options,
                                                unsigned order_seed) {
  const int n = table.n();
  std::vector<long long> counts(n, 0);
  if (n - 1 < options.sink || options.walkers <= 0) return counts;
  const influence::InfluenceWalkRun run = influence::walk_run(options, n);
  std::vector<long long> order(size_t(options.walkers));
  std::iota(order.begin(), order.end(), 0LL);
  std::shuffle(order.begin(), order.end(), std::mt19937(order_seed));
  auto visit = [&](int pos) { ++counts[pos]; };
  for (long long w : order) influence::influence_walk(table.arrays(), explore.arrays(), run, w, visit);
  return counts;
}

}  // namespace

TEST_CASE("influence: the kernel's per-walker loop reproduces run_walkers' counts exactly") {
  int runs = 0;
  for (int n : {1, 4, 5, 37, 130})
    for (unsigned seed : {1u, 2u})
      for (double spread : {1.0, 4.0}) {
        const walkers::ReducedAttention a = random_attention(n, seed, spread);
        for (int sink : {0, 4})
          for (double temperature : {0.01, 0.5, 2.0})
            for (double explore_fraction : {0.0, 0.3}) {
              influence::WalkerOptions o;
              o.walkers = 2001;  // odd: ⌊N/2⌋ query walkers, the rest random starts
              o.max_steps = 17;
              o.sink = std::min(sink, n);
              o.temperature = temperature;
              o.explore_fraction = explore_fraction;
              o.explore_temperature = 10.0;
              o.seed = uint64_t(seed) * 1000003ull + uint64_t(n);
              INFO("n " << n << " seed " << seed << " spread " << spread << " sink " << o.sink
                        << " T " << temperature << " explore " << explore_fraction);
              const auto table = influence::TransitionTable::build(a, o.sink, temperature);
              const auto explore = influence::TransitionTable::build(a, o.sink, 10.0);
              const auto cpu = influence::run_walkers(table, explore, o, 2);
              const auto replica = influence_kernel_replica(table, explore, o, seed + 17);
              REQUIRE(replica == cpu);
              if (n - 1 >= o.sink) {
                const long long landings = std::accumulate(cpu.begin(), cpu.end(), 0LL);
                REQUIRE(landings == o.walkers * o.max_steps);
              }
              ++runs;
            }
      }
  CHECK(runs == 240);
}

TEST_CASE("influence: sampling edges, starts and explore decisions") {
  // Row r = pos − sink of a table with sink 2: weights [0.5, 0, 0.25, 0.25] at positions 2..5
  // for pos 5 (running sums 0.5, 0.5, 0.75, 1.0), earlier rows irrelevant here.
  std::vector<float> cdf(influence::influence_row_offset(4), 0.0f);
  const float row5[4] = {0.5f, 0.5f, 0.75f, 1.0f};
  std::copy(row5, row5 + 4, cdf.begin() + influence::influence_row_offset(3));
  const float row2[1] = {0.0f};  // pos 2: every weight underflowed
  std::copy(row2, row2 + 1, cdf.begin() + influence::influence_row_offset(0));
  const influence::InfluenceTableArrays t{6, 2, cdf.data()};
  CHECK(influence::influence_sample(t, 5, 0.0) == 2);
  CHECK(influence::influence_sample(t, 5, 0.4999) == 2);
  CHECK(influence::influence_sample(t, 5, 0.5) == 4);  // the zero-weight entry 3 never wins
  CHECK(influence::influence_sample(t, 5, 0.74) == 4);
  CHECK(influence::influence_sample(t, 5, 0.75) == 5);
  CHECK(influence::influence_sample(t, 5, kAlmostOne) == 5);  // stays inside the row
  CHECK(influence::influence_sample(t, 2, 0.3) == 2);  // total 0: the self loop
  CHECK(influence::influence_sample(t, 2, kAlmostOne) == 2);

  influence::InfluenceWalkRun run;
  run.walkers = 11;
  run.explore_walkers = 3;
  run.sink = 4;
  run.query = 20;
  for (long long w = 0; w < 5; ++w) CHECK(influence::influence_start(w, run, 0.9) == 20);
  CHECK(influence::influence_start(5, run, 0.0) == 4);
  CHECK(influence::influence_start(5, run, kAlmostOne) == 20);
  CHECK(influence::influence_start(5, run, 0.5) == 4 + 8);  // ⌊0.5 · 17⌋
  CHECK_FALSE(influence::influence_explores(7, run));
  CHECK(influence::influence_explores(8, run));
  CHECK(influence::influence_explores(10, run));
  // The host option helpers agree with the shared ones.
  influence::WalkerOptions o;
  o.walkers = 11;
  o.explore_fraction = 0.3;
  const influence::InfluenceWalkRun from_options = influence::walk_run(o, 21);
  CHECK(from_options.explore_walkers == 3);
  for (long long w = 0; w < o.walkers; ++w) {
    CHECK(influence::explores(w, o) == influence::influence_explores(w, from_options));
    CHECK(influence::starts_at_query(w, o) == influence::influence_starts_at_query(w, o.walkers));
  }
}
