// The __host__ __device__ logic the CUDA twins run, exercised on the CPU (no GPU needed):
// kernels/stages/neumann_step.hpp (the device's y = Qᵀx with its chunked prefix scan, the series
// update and stop statistic) against AttentionGraph / NeumannSeries, and kernels/rwr/rwr_math.hpp
// (unit rows, cosine, the top-k order and its radix cutoff, normalisation, saliency updates)
// against hand-computed values and a brute-force sort.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/rwr/rwr_math.hpp"
#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/neumann_series.hpp"
#include "kernels/stages/neumann_step.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;
using namespace ckv::circuitkv;

namespace {

double max_relative(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t j = 0; j < a.size(); ++j) {
    diff = std::max(diff, std::abs(a[j] - b[j]));
    scale = std::max(scale, std::abs(a[j]));
  }
  return scale > 0 ? diff / scale : diff;
}

// The device's y = Qᵀx (neumann_step.hpp) with `chunks` prefix chunks.
std::vector<double> device_order(const AttentionGraph& g, const std::vector<double>& x, int chunks) {
  std::vector<double> suffix(g.n(), 0.0), scratch(2 * size_t(chunks)), y(g.n());
  q_transpose_device_order(g.transpose_arrays(), x.data(), g.sink(), chunks, suffix.data(),
                           scratch.data(), y.data());
  return y;
}

}  // namespace

TEST_CASE("neumann_step: prefix chunks and carries by hand") {
  int b, e;
  prefix_chunk(10, 3, 0, b, e);
  CHECK((b == 0 && e == 4));
  prefix_chunk(10, 3, 2, b, e);
  CHECK((b == 8 && e == 10));
  prefix_chunk(2, 4, 3, b, e);  // more chunks than positions: empty tail chunks
  CHECK((b == 2 && e == 2));
  const double sums[3] = {1.0, 2.0, 3.0};
  double carry[3];
  chunk_carries(sums, 3, carry);
  CHECK(carry[0] == 5.0);
  CHECK(carry[1] == 3.0);
  CHECK(carry[2] == 0.0);
  // Series start (docs/spec/METHODS.md step 3) and the stop statistic.
  CHECK(series_start_qi(10, 4, 9) == 1.0);
  CHECK(series_start_qi(10, 4, 8) == 0.0);
  CHECK(series_start_hi(10, 4, 3) == 0.0);
  CHECK(series_start_hi(10, 4, 4) == 1.0 / 6.0);
  CHECK(series_start_hi(4, 4, 3) == 0.0);  // no transient node
  CHECK(series_start_qi(4, 4, 3) == 0.0);
  CHECK(max_abs_step(0.5, -2.0) == 2.0);
  CHECK(max_abs_step(0.5, NAN) == 0.5);  // as std::max(m, std::abs(v))
  CHECK(series_term(3.0, 0.5) == 1.5);
  CHECK(series_sum(1.0, 0.25) == 1.25);
}

TEST_CASE(
    "neumann_step: the device's Qᵀx equals AttentionGraph's (bit-identical per element "
    "chunk, 1e-12 chunked)") {
  const int n = 150, H = 4, G = 2, d = 16;
  ckv_test::OwnedLayer t = ckv_test::normal_layer(n, H, G, d, n, 11, 2.0, "test/device_logic");
  LayerContext ctx(t.input);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  for (GraphKind kind : {GraphKind::window_prefix, GraphKind::full})
    for (int sink : {0, 4})
      for (int w : {16, 64, 200}) {
        GraphOptions o;
        o.graph = kind;
        o.window = w;
        o.sink = sink;
        o.temperature = w == 16 ? 0.5 : 1.0;
        o.reduction.mode = HeadReduce::max;
        const AttentionGraph g = AttentionGraph::build(ctx, o);
        INFO("graph " << int(kind) << " sink " << sink << " w " << w);
        std::vector<double> x(n);
        for (double& v : x) v = uni(rng) < 0.2 ? 0.0 : uni(rng);  // zeros take the skip path
        std::vector<double> cpu;
        apply_q_transpose(g, x, cpu);
        // One chunk per position: the CPU's chain exactly.
        CHECK(device_order(g, x, std::max(1, g.window_start())) == cpu);
        CHECK(device_order(g, x, 1024) == cpu);
        for (int chunks : {1, 3, 7}) {
          const auto y = device_order(g, x, chunks);
          for (int j = 0; j < std::min(sink, n); ++j) CHECK(y[j] == 0.0);
          CHECK(max_relative(cpu, y) <= 1e-12);
          if (kind == GraphKind::full) CHECK(y == cpu);  // no prefix rows: no reordering
        }
      }
}

TEST_CASE("neumann_step: the device-order series matches NeumannSeries to 1e-12") {
  const int n = 300, H = 4, G = 2, d = 16;
  ckv_test::OwnedLayer t = ckv_test::normal_layer(n, H, G, d, n, 12, 1.5, "test/device_logic");
  LayerContext ctx(t.input);
  GraphOptions qi_options, hi_options;
  qi_options.reduction.mode = HeadReduce::max;
  hi_options.reduction.mode = HeadReduce::mean;
  const AttentionGraph& qi = shared_graph(ctx, qi_options);
  const AttentionGraph& hi = shared_graph(ctx, hi_options);
  for (double gamma : {1.0, 0.7}) {
    NeumannSeries series(qi, hi, gamma);
    const NeumannVectors cpu = series.partial_sums(30);
    const int s = qi.sink();
    std::vector<double> term_qi(n), term_hi(n), sum_qi(n), sum_hi(n);
    for (int j = 0; j < n; ++j) {
      sum_qi[j] = term_qi[j] = series_start_qi(n, s, j);
      sum_hi[j] = term_hi[j] = series_start_hi(n, s, j);
    }
    int k = 0;
    for (; k < 30; ++k) {
      std::vector<double> y_qi = device_order(qi, term_qi, 5), y_hi = device_order(hi, term_hi, 5);
      double m_qi = 0, m_hi = 0;
      for (int j = 0; j < n; ++j) {
        term_qi[j] = series_term(y_qi[j], gamma);
        term_hi[j] = series_term(y_hi[j], gamma);
        sum_qi[j] = series_sum(sum_qi[j], term_qi[j]);
        sum_hi[j] = series_sum(sum_hi[j], term_hi[j]);
        m_qi = max_abs_step(m_qi, term_qi[j]);
        m_hi = max_abs_step(m_hi, term_hi[j]);
      }
      if (m_qi < kSeriesStopTolerance && m_hi < kSeriesStopTolerance) {
        ++k;
        break;
      }
    }
    INFO("gamma " << gamma);
    CHECK(k == cpu.terms);
    CHECK(max_relative(cpu.qi, sum_qi) <= 1e-12);
    CHECK(max_relative(cpu.hi, sum_hi) <= 1e-12);
  }
}

TEST_CASE("rwr_math: unit rows, cosine and updates by hand") {
  const float x[2] = {3.0f, 4.0f};
  float u[2];
  rwr::unit_row(x, 2, u);
  CHECK(u[0] == 0.6f);
  CHECK(u[1] == 0.8f);
  const float zero[3] = {0, 0, 0};
  float z[3] = {1, 1, 1};
  rwr::unit_row(zero, 3, z);
  CHECK((z[0] == 0.0f && z[1] == 0.0f && z[2] == 0.0f));
  // d = 3: the double remainder only; d = 9: eight fp32 partials, then one remainder term.
  const float a[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, b[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2};
  CHECK(rwr::cosine(a, b, 3) == 6.0);
  CHECK(rwr::cosine(a, b, 9) == 36.0 + 18.0);
  CHECK(rwr::normalized(1.0, 4.0) == 0.25);
  CHECK(rwr::normalized(1.0, 0.0) == 0.0);  // an empty row stays empty
  const double values[3] = {0.5, 0.25, 0.125};
  CHECK(rwr::row_total(values, 0, 3) == 0.875);
  CHECK(rwr::restart_mass(0.2, 1.0) == 0.2);
  CHECK(rwr::forward_flow(1.0, 0.5, 0.5, 2.0) == 1.5);  // 1 + (1 − 0.5)·0.5·2
  CHECK(rwr::backward_finish(0.25, 2.0) == 1.5);
  CHECK(rwr::restart_accumulate(1.0, 0.5, 3.0) == 2.5);
  CHECK(rwr::reciprocal_mix(0.75, 4.0, 8.0) == 5.0);  // 0.75·4 + 0.25·8
}

TEST_CASE("rwr_math: the top-k order and the radix cutoff select the CPU's set") {
  // Ties go to the lower position.
  CHECK(rwr::edge_before(0.9, 5, 0.8, 1));
  CHECK(rwr::edge_before(0.8, 1, 0.8, 5));
  CHECK_FALSE(rwr::edge_before(0.8, 5, 0.8, 1));
  CHECK_FALSE(rwr::edge_before(0.8, 3, 0.8, 3));
  unsigned histogram[256] = {};
  histogram[200] = 2;
  histogram[100] = 5;
  unsigned long long rank = 4;
  CHECK(rwr::select_digit(histogram, rank) == 100);
  CHECK(rank == 2);
  // Hand case: cosines with a tie at the cutoff.
  const double c[6] = {0.5, 0.9, 0.5, 0.0, 0.5, 0.7};
  const rwr::TopkCutoff cut = rwr::topk_cutoff_serial(c, 6, 0.0, 3);  // 0.9, 0.7, then 0.5 @ 0
  CHECK(cut.value == 0.5);
  CHECK(cut.index == 0);
  CHECK(cut.count == 3);
  CHECK(rwr::topk_member(0.5, 0, cut.value, cut.index));
  CHECK_FALSE(rwr::topk_member(0.5, 2, cut.value, cut.index));
  CHECK(rwr::topk_cutoff_serial(c, 6, 0.0, 0).count == 0);            // k = 0: none
  const rwr::TopkCutoff all = rwr::topk_cutoff_serial(c, 6, 0.0, 5);  // 5 candidates <= k
  CHECK(all.count == 5);
  CHECK(rwr::topk_member(0.5, 4, all.value, all.index));
  CHECK(rwr::topk_cutoff_serial(c, 6, 0.95, 2).count == 0);  // nothing above the threshold

  // Random rows with many ties (values on a coarse grid), against the sort the CPU uses.
  std::mt19937 rng(9);
  for (int trial = 0; trial < 400; ++trial) {
    const int m = 1 + int(rng() % 90);
    const int k = int(rng() % 40);
    const double threshold = (rng() % 3) * 0.1;
    std::vector<double> cos(m);
    for (double& v : cos) v = (int(rng() % 21) - 5) / 16.0;  // −0.3125 .. 0.9375
    std::vector<int> order;
    for (int j = 0; j < m; ++j)
      if (cos[j] > threshold) order.push_back(j);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return rwr::edge_before(cos[a], a, cos[b], b); });
    order.resize(std::min<size_t>(order.size(), size_t(std::max(k, 0))));
    std::vector<unsigned char> expected(m, 0);
    for (int j : order) expected[j] = 1;
    const rwr::TopkCutoff cut = rwr::topk_cutoff_serial(cos.data(), m, threshold, k);
    INFO("trial " << trial << " m " << m << " k " << k);
    CHECK(cut.count == int(order.size()));
    for (int j = 0; j < m; ++j)
      CHECK(int(cos[j] > threshold && rwr::topk_member(cos[j], j, cut.value, cut.index)) ==
            int(expected[j]));
  }
}
