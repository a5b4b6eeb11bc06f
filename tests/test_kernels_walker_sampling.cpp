// The __host__ __device__ walker functions of circuitkv_influence (influence_sampling.hpp) and
// rc (rc_sampling.hpp), compiled here as host code: the CUDA kernels' per-walker loops and rc's
// device reduction, replayed on the CPU, reproduce run_walkers / run_walks exactly, and the
// samplers behave at their edges (u = 0, u close to 1, zero-weight entries and rows, dead ends,
// sinks). This checks the ports' logic in CI without a GPU, not the CUDA runtime calls, the
// atomics, CUB's sort or device rounding (tests/test_cuda_twins.cpp does, on a GPU).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/circuitkv_influence/influence_sampling.hpp"
#include "kernels/circuitkv_influence/influence_walker.hpp"
#include "kernels/rc/rc_sampling.hpp"
#include "kernels/rc/rc_walker.hpp"

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

// influence_kernel's body (influence_kernels.cu) on the host: one call of influence_walk per
// walker, landings added to shared counters as the atomics do. Walkers run in a shuffled order:
// the atomics promise nothing about it.
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

// rc_kernels.cu's pipeline on the host, chunk by chunk: walker-major entries (n past a walk's
// end), a stable sort by position (the radix sort's contract), each position's run added in
// sorted order with record_visit, totals carried across chunks.
rc::WalkTotals rc_device_replica(const rc::SparseGraph& graph, const std::vector<int>& sources,
                                 rc::Mode mode, const rc::WalkOptions& options,
                                 long long chunk_walks) {
  const int n = graph.n, S = options.max_steps;
  rc::WalkTotals totals;
  totals.visits.assign(n, 0.0);
  totals.plain_visits.assign(n, 0.0);
  totals.first_visits.assign(n, 0.0);
  totals.speed.assign(n, 0.0);
  if (sources.empty() || options.walkers <= 0 || S <= 0) return totals;
  const rc::RcWalkRun run = rc::walk_run(sources, mode, options);
  const bool mix = run.temp_mix;
  const rc::SparseTransitions single(graph, options.temperature);
  const rc::SparseTransitions high(graph, mix ? options.mix_high : 1.0);
  const rc::SparseTransitions low(graph, mix ? options.mix_low : 1.0);
  std::vector<long long> last_walk(n, -1);
  for (long long first = 0; first < run.walks; first += chunk_walks) {
    const long long walks = std::min(chunk_walks, run.walks - first);
    std::vector<int> keys(size_t(walks * S));
    std::vector<unsigned> order(keys.size());
    std::vector<int> length(walks);
    std::vector<unsigned char> absorbed(walks);
    // Walks in reverse: each thread writes only its own entries.
    for (long long local = walks - 1; local >= 0; --local) {
      bool a = false;
      int* path = keys.data() + local * S;
      const int len = rc::rc_walk(single.arrays(), high.arrays(), low.arrays(), run,
                                  first + local, path, 1, a);
      for (int t = len; t < S; ++t) path[t] = n;
      for (int t = 0; t < S; ++t) order[local * S + t] = unsigned(local * S + t);
      length[local] = len;
      absorbed[local] = a;
    }
    std::vector<size_t> by_key(keys.size());
    std::iota(by_key.begin(), by_key.end(), size_t(0));
    std::stable_sort(by_key.begin(), by_key.end(),
                     [&](size_t x, size_t y) { return keys[x] < keys[y]; });
    std::vector<size_t> begin(n, 0), end(n, 0);
    for (size_t i = 0; i < by_key.size(); ++i) {  // segment_kernel
      const int key = keys[by_key[i]];
      if (key >= n) continue;
      if (i == 0 || keys[by_key[i - 1]] != key) begin[key] = i;
      if (i + 1 == by_key.size() || keys[by_key[i + 1]] != key) end[key] = i + 1;
    }
    for (int j = n - 1; j >= 0; --j) {  // accumulate_kernel, positions in any order
      const rc::NodeTotalsRef node{totals.visits[j], totals.plain_visits[j],
                                   totals.first_visits[j], totals.speed[j], last_walk[j]};
      for (size_t i = begin[j]; i < end[j]; ++i) {
        const unsigned entry = order[by_key[i]];
        const unsigned local = entry / unsigned(S);
        rc::record_visit(node, first + local, int(entry % unsigned(S)), length[local],
                         absorbed[local] != 0, mode == rc::Mode::HittingTime, S);
      }
    }
  }
  return totals;
}

bool same_totals(const rc::WalkTotals& a, const rc::WalkTotals& b) {
  return a.visits == b.visits && a.plain_visits == b.plain_visits &&
         a.first_visits == b.first_visits && a.speed == b.speed;
}

const rc::Mode kModes[] = {rc::Mode::Basic, rc::Mode::HittingTime, rc::Mode::EscapeProb,
                           rc::Mode::AbsorptionSpeed, rc::Mode::TempMix};

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
  CHECK(influence::influence_sample(t, 2, 0.3) == 2);         // total 0: the self loop
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

TEST_CASE("rc: the device pipeline replayed on the host gives run_walks' totals to the bit") {
  int runs = 0, order_sensitive = 0;
  for (int n : {2, 9, 64, 150})
    for (unsigned seed : {3u, 4u}) {
      const walkers::ReducedAttention a = random_attention(n, seed, 3.0);
      for (int top_k : {1, 3, 32}) {
        const rc::SparseGraph graph = rc::build_sparse_graph(a, top_k);
        for (int sink : {0, 4})
          for (const rc::Mode mode : kModes)
            for (double temperature : {1.0, 0.3}) {
              const int s = std::min(sink, n);
              const int W = std::max(0, std::min(6, n - s));
              std::vector<int> sources;
              for (int i = n - W; i < n; ++i) sources.push_back(i);
              rc::WalkOptions o;
              o.walkers = 1400;  // × W > 8192: run_walks' blocks, several device chunks
              o.max_steps = 12;
              o.sink = s;
              o.temperature = temperature;
              o.seed = seed;
              o.stream = 0x52430000u + unsigned(top_k);
              INFO("n " << n << " seed " << seed << " k " << top_k << " sink " << s << " mode "
                        << int(mode) << " T " << temperature);
              const rc::WalkTotals cpu = rc::run_walks(graph, sources, mode, o, 2);
              for (long long chunk : {1000LL, 1LL << 20})
                REQUIRE(same_totals(rc_device_replica(graph, sources, mode, o, chunk), cpu));
              ++runs;
              if (mode != rc::Mode::HittingTime || sources.empty()) continue;
              // The order matters: the same weights added in reverse walker order (what an
              // unordered reduction may do) change some totals, which is why the device sorts.
              std::vector<double> reversed(n, 0.0);
              std::vector<int> path(o.max_steps);
              const rc::RcWalkRun run = rc::walk_run(sources, mode, o);
              const rc::SparseTransitions rows(graph, o.temperature);
              for (long long w = run.walks - 1; w >= 0; --w) {
                bool absorbed = false;
                const int len = rc::rc_walk(rows.arrays(), rows.arrays(), rows.arrays(), run, w,
                                            path.data(), 1, absorbed);
                for (int t = len - 1; t >= 0; --t)
                  reversed[path[t]] += double(o.max_steps - t) / double(o.max_steps);
              }
              order_sensitive += reversed != cpu.visits;
            }
      }
    }
  CHECK(runs == 480);
  std::printf("rc: %d runs bit-identical; reversed order changed hitting_time totals in %d\n",
              runs, order_sensitive);
  CHECK(order_sensitive > 0);
}

TEST_CASE("rc: sparse sampling edges, absorption, dead ends and visit bookkeeping") {
  // n = 4, top_k = 3. Row 3: neighbours 1, 0, 2 with running sums 0, 0.5, 1 (neighbour 1 has
  // weight 0); row 2: two zero weights (a dead end); row 1: neighbour 0; row 0: empty.
  const std::vector<int> degree = {0, 1, 2, 3};
  const std::vector<int> neighbors = {-1, -1, -1, 0, -1, -1, 0, 1, -1, 1, 0, 2};
  const std::vector<double> cdf = {0, 0, 0, 1.0, 0, 0, 0.0, 0.0, 0, 0.0, 0.5, 1.0};
  const rc::SparseRowsArrays g{4, 3, degree.data(), neighbors.data(), cdf.data()};
  CHECK(rc::sparse_sample(g, 0, 0.5) == -1);  // empty row
  CHECK(rc::sparse_sample(g, 2, 0.5) == -1);  // all kept weights zero
  CHECK(rc::sparse_sample(g, 3, 0.0) == 0);   // the zero-weight neighbour 1 never wins
  CHECK(rc::sparse_sample(g, 3, 0.49) == 0);
  CHECK(rc::sparse_sample(g, 3, 0.5) == 2);
  CHECK(rc::sparse_sample(g, 3, kAlmostOne) == 2);  // stays inside the row
  CHECK(rc::sparse_sample(g, 1, kAlmostOne) == 0);

  const std::vector<int> sources = {3, 1};
  rc::RcWalkRun run;
  run.walks = 4;
  run.max_steps = 5;
  run.sources = sources.data();
  run.source_count = 2;
  run.seed = 9;
  std::vector<int> path(10, -7);
  bool absorbed = true;
  // sink 0: walk 1 starts at 1, moves to 0, dead-ends there (row 0 is empty): not absorbed.
  CHECK(rc::rc_walk(g, g, g, run, 1, path.data(), 2, absorbed) == 2);
  CHECK_FALSE(absorbed);
  CHECK(path[0] == 1);
  CHECK(path[2] == 0);
  CHECK(path[1] == -7);  // stride 2: the entries between are untouched
  // sink 2: walk 1 is absorbed at 0 after recording it; walk 3 starts at 1 < sink: length 1.
  run.sink = 2;
  CHECK(rc::rc_walk(g, g, g, run, 1, path.data(), 1, absorbed) == 1);
  CHECK(absorbed);
  run.sink = 1;
  CHECK(rc::rc_walk(g, g, g, run, 1, path.data(), 1, absorbed) == 2);
  CHECK(absorbed);
  CHECK(path[1] == 0);
  run.max_steps = 1;  // the cap: only the start is recorded
  CHECK(rc::rc_walk(g, g, g, run, 0, path.data(), 1, absorbed) == 1);
  CHECK_FALSE(absorbed);
  CHECK(path[0] == 3);

  double visits = 0, plain = 0, first = 0, speed = 0;
  long long last = -1;
  const rc::NodeTotalsRef node{visits, plain, first, speed, last};
  rc::record_visit(node, 5, 1, 4, true, true, 4);   // (4 − 1)/4; speed 1/(1 + 2)
  rc::record_visit(node, 5, 3, 4, true, true, 4);   // same walk: no new first visit
  rc::record_visit(node, 6, 0, 2, false, true, 4);  // not absorbed: no speed
  CHECK(plain == 3.0);
  CHECK(visits == 0.75 + 0.25 + 1.0);
  CHECK(first == 2.0);
  CHECK(last == 6);
  CHECK(speed == 1.0 / 3.0 + 1.0);
  rc::record_visit(node, 7, 0, 1, false, false, 4);  // other modes: weight 1
  CHECK(visits == 3.0);
}
