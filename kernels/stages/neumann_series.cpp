#include "kernels/stages/neumann_series.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/stages/threads.hpp"

namespace ckv::circuitkv {

namespace {

constexpr double kStopTolerance = kSeriesStopTolerance;  // neumann_step.hpp

double max_abs(const std::vector<double>& x) {
  double m = 0.0;
  for (double v : x) m = max_abs_step(m, v);
  return m;
}

}  // namespace

void apply_q_transpose(const AttentionGraph& graph, const std::vector<double>& x,
                       std::vector<double>& y) {
  const int s = graph.sink();
  if (s == 0) {
    graph.apply_transpose(x, y);
    return;
  }
  // Restricting P to rows and columns [s, n): zero the sink inputs, drop the sink outputs
  // (mass that reaches a sink column is absorbed).
  std::vector<double> masked = x;
  std::fill(masked.begin(), masked.begin() + std::min<size_t>(s, masked.size()), 0.0);
  graph.apply_transpose(masked, y);
  std::fill(y.begin(), y.begin() + std::min<size_t>(s, y.size()), 0.0);
}

NeumannSeries::NeumannSeries(const AttentionGraph& qi_graph, const AttentionGraph& hi_graph,
                             double gamma)
    : qi_graph_(qi_graph), hi_graph_(hi_graph), gamma_(gamma) {
  CKV_CHECK(qi_graph.n() == hi_graph.n() && qi_graph.sink() == hi_graph.sink(),
            "neumann series: QI and HI graphs differ in size ({}, {}) or sinks ({}, {})",
            qi_graph.n(), hi_graph.n(), qi_graph.sink(), hi_graph.sink());
  state_ = start();
}

NeumannSeries::State NeumannSeries::start() const {
  const int n = qi_graph_.n(), s = qi_graph_.sink();
  State st;
  st.term_qi.assign(n, 0.0);
  st.term_hi.assign(n, 0.0);
  for (int j = 0; j < n; ++j) {  // e_q (q = n − 1) and 𝟙/(n − s) on the transient nodes
    st.term_qi[j] = series_start_qi(n, s, j);
    st.term_hi[j] = series_start_hi(n, s, j);
  }
  st.sum_qi = st.term_qi;
  st.sum_hi = st.term_hi;
  st.stopped = n <= s;  // no transient node: both series are 0
  return st;
}

void NeumannSeries::advance(State& st, int K) const {
  std::vector<double> next_qi, next_hi;
  // The QI and HI series are independent: one on each of two kernel threads where a step is
  // long enough to pay for starting them (the same values either way).
  constexpr int kThreadedNodes = 4096;
  const int threads = qi_graph_.n() >= kThreadedNodes ? std::min(2, kernel_threads()) : 1;
  while (st.k < K && !st.stopped) {
    // The per-position update is neumann_step.hpp's, the CUDA series' (neumann_kernels.cu).
    parallel_ranges(2, threads, [&](int begin, int end) {
      for (int which = begin; which < end; ++which) {
        const AttentionGraph& graph = which == 0 ? qi_graph_ : hi_graph_;
        std::vector<double>& term = which == 0 ? st.term_qi : st.term_hi;
        std::vector<double>& next = which == 0 ? next_qi : next_hi;
        apply_q_transpose(graph, term, next);
        for (double& v : next) v = series_term(v, gamma_);
        term.swap(next);
      }
    });
    for (size_t j = 0; j < st.sum_qi.size(); ++j) {
      st.sum_qi[j] = series_sum(st.sum_qi[j], st.term_qi[j]);
      st.sum_hi[j] = series_sum(st.sum_hi[j], st.term_hi[j]);
    }
    ++st.k;
    // The term just added is counted; the series then stops (public loop order).
    if (max_abs(st.term_qi) < kStopTolerance && max_abs(st.term_hi) < kStopTolerance)
      st.stopped = true;
  }
}

NeumannVectors NeumannSeries::partial_sums(int K) {
  CKV_CHECK(K >= 0, "neumann series: iterations must be >= 0, got {}", K);
  if (auto it = done_.find(K); it != done_.end()) return it->second;
  NeumannVectors out;
  if (K >= state_.k) {
    // Extends the shared iteration (a no-op once stopped: every larger K has the same sums).
    advance(state_, K);
    out = {state_.sum_qi, state_.sum_hi, state_.k};
    done_.emplace(K, out);
    return out;
  }
  State fresh = start();
  advance(fresh, K);
  out = {fresh.sum_qi, fresh.sum_hi, fresh.k};
  done_.emplace(K, out);
  return out;
}

namespace {
struct SeriesKey {
  GraphOptions qi, hi;
  RowSource source;
  double gamma;
  auto operator<=>(const SeriesKey&) const = default;
};
}  // namespace

NeumannVectors neumann_vectors(LayerContext& context, const GraphOptions& qi_options,
                               const GraphOptions& hi_options, RowSource source, double gamma,
                               int K) {
  const SeriesKey key{canonical_graph_options(qi_options), canonical_graph_options(hi_options),
                      source, gamma};
  const auto& series = context.memo<std::shared_ptr<NeumannSeries>>(key, [&] {
    return std::make_shared<NeumannSeries>(shared_graph(context, qi_options, source),
                                           shared_graph(context, hi_options, source), gamma);
  });
  return series->partial_sums(K);
}

}  // namespace ckv::circuitkv
