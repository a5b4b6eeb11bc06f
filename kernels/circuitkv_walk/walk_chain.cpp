#include "kernels/circuitkv_walk/walk_chain.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "common/philox.hpp"

namespace ckv::circuitkv {

PrefixFactors prefix_factors(const AttentionGraph& graph) {
  PrefixFactors f;
  const int ws = graph.window_start();
  f.window_start = ws;
  f.column.assign(ws, 0.0);
  f.row.assign(ws, 0.0);
  if (ws < 2) return f;  // no prefix row has an entry
  // Last prefix row: P[ws-1, j] = g[j]·scale[ws-1], so column = g up to a common factor;
  // row[i] = P[i, 0] / P[ws-1, 0] = scale[i] / scale[ws-1]. g[0] > 0 (h clamped at 1e-6).
  const int last = ws - 1;
  for (int j = 0; j < last; ++j) f.column[j] = graph.entry(last, j);
  const double anchor = graph.entry(last, 0);
  CKV_CHECK(anchor > 0.0, "circuitkv_walk: prefix row {} has no mass on column 0", last);
  for (int i = 1; i < ws; ++i) f.row[i] = graph.entry(i, 0) / anchor;
  // The factorisation is the graph's documented form; verify it on a spread of entries so a
  // change in graph.cpp cannot silently give forward walks another chain.
  for (int i : {1, ws / 3, (2 * ws) / 3, last})
    for (int j : {0, (i - 1) / 2, i - 1}) {
      if (i < 1 || j < 0 || j >= i) continue;
      const double want = graph.entry(i, j), got = f.column[j] * f.row[i];
      CKV_CHECK(std::fabs(got - want) <= 1e-9 * std::fabs(want) + 1e-300,
                "circuitkv_walk: prefix rows of the graph are not separable at ({}, {}): "
                "{} vs {}",
                i, j, got, want);
    }
  return f;
}

ForwardChain ForwardChain::build(const AttentionGraph& graph) {
  ForwardChain c;
  const int n = graph.n();
  c.graph_ = &graph;
  c.n_ = n;
  c.prefix_ = prefix_factors(graph);
  const int ws = c.prefix_.window_start;
  c.window_start_ = ws;
  c.row_cum_.assign(ws + 1, 0.0);
  for (int i = 0; i < ws; ++i) c.row_cum_[i + 1] = c.row_cum_[i] + c.prefix_.row[i];
  c.prefix_mass_.assign(n, 0.0);
  for (int j = 0; j + 1 < ws; ++j)
    c.prefix_mass_[j] = c.prefix_.column[j] * (c.row_cum_[ws] - c.row_cum_[j + 1]);
  std::vector<double> running(n, 0.0);
  if (graph.packed()) {
    // Column j holds rows r in [j, n); its running sum over rows in ascending order is recorded
    // at the end of every kCdfBlock rows (forward_sample scans inside a block).
    c.column_block_offset_.assign(n + 1, 0);
    for (int j = 0; j < n; ++j)
      c.column_block_offset_[j + 1] = c.column_block_offset_[j] + block_count(n - j);
    c.column_block_cum_.assign(c.column_block_offset_[n], 0.0);
    for (int r = 0; r < n; ++r)
      for (int j = 0; j <= r; ++j) {
        running[j] += graph.entry(r, j);
        const int t = r - j;
        if ((t + 1) % kCdfBlock == 0 || r == n - 1)
          c.column_block_cum_[c.column_block_offset_[j] + t / kCdfBlock] = running[j];
      }
  } else {
    // Dense rows r >= ws feed column j when r >= j: column j holds n − max(ws, j) entries.
    c.offset_.assign(n + 1, 0);
    for (int j = 0; j < n; ++j) c.offset_[j + 1] = c.offset_[j] + uint64_t(n - std::max(ws, j));
    c.dense_cdf_.assign(c.offset_[n], 0.0);
    for (int r = ws; r < n; ++r)
      for (int j = 0; j <= r; ++j) {
        running[j] += graph.entry(r, j);
        c.dense_cdf_[c.offset_[j] + size_t(r - std::max(ws, j))] = running[j];
      }
  }
  c.mass_.resize(n);
  for (int j = 0; j < n; ++j) c.mass_[j] = c.prefix_mass_[j] + running[j];
  return c;
}

ForwardChainArrays ForwardChain::arrays() const {
  ForwardChainArrays a;
  a.n = n_;
  a.window_start = window_start_;
  a.packed = graph_->packed();
  a.prefix_column = prefix_.column.data();
  a.row_cumulative = row_cum_.data();
  a.prefix_mass = prefix_mass_.data();
  a.mass = mass_.data();
  a.column_offset = offset_.data();
  a.column_cdf = dense_cdf_.data();
  a.packed_rows = graph_->arrays().packed_rows;
  a.column_block_cum = column_block_cum_.data();
  a.column_block_offset = column_block_offset_.data();
  return a;
}

const char* direction_name(WalkDirection direction) {
  return direction == WalkDirection::backward ? "backward" : "forward";
}

int WalkChain::next(int pos, double u) const {
  const int j = direction == WalkDirection::backward ? graph->sample(pos, u)
                                                     : forward->sample(pos, u);
  if (j < 0 || absorbing[j]) return -1;
  return j;
}

void WalkChain::propagate(const std::vector<double>& x, std::vector<double>& y) const {
  if (direction == WalkDirection::backward) {
    // y[j] = Σ_i P[i, j] x[i]; x is zero on the sinks, so this is Qᵀx plus absorbed mass.
    graph->apply_transpose(x, y);
  } else {
    // y[i] = Σ_j Pf[j, i] x[j] = Σ_j P[i, j] (x[j] / c_j) = (P z)[i]; a column without mass
    // ends its walkers, as sample() does.
    std::vector<double> z(x.size(), 0.0);
    for (size_t j = 0; j < x.size(); ++j) {
      const double c = forward->column_mass(int(j));
      if (c > 0.0) z[j] = x[j] / c;
    }
    graph->apply(z, y);
  }
  for (size_t j = 0; j < y.size(); ++j)
    if (absorbing[j]) y[j] = 0.0;
}

namespace {

// Sources of `source` that are not sinks: q, or the window [max(s, n − w), n).
std::vector<int> query_region(const AttentionGraph& graph, WalkSource source, int window) {
  const int n = graph.n(), s = graph.sink();
  std::vector<int> region;
  if (source == WalkSource::query) {
    if (n - 1 >= s) region.push_back(n - 1);
  } else {
    for (int j = std::max(s, n - std::min(window, n)); j < n; ++j) region.push_back(j);
  }
  return region;
}

}  // namespace

WalkChain backward_chain(const AttentionGraph& graph, WalkSource source, int window) {
  WalkChain chain;
  chain.direction = WalkDirection::backward;
  chain.graph = &graph;
  chain.sources = query_region(graph, source, window);
  chain.absorbing.assign(graph.n(), 0);
  for (int j = 0; j < graph.sink(); ++j) chain.absorbing[j] = 1;
  return chain;
}

WalkChain forward_chain(const AttentionGraph& graph, const ForwardChain& forward,
                        WalkSource source, int window) {
  CKV_CHECK(forward.n() == graph.n(), "circuitkv_walk: forward chain of n = {} for a graph of n = {}",
            forward.n(), graph.n());
  WalkChain chain;
  chain.direction = WalkDirection::forward;
  chain.graph = &graph;
  chain.forward = &forward;
  chain.absorbing.assign(graph.n(), 0);
  for (int j : query_region(graph, source, window)) chain.absorbing[j] = 1;
  const int starts = std::min(std::max(graph.sink(), 1), graph.n());
  for (int j = 0; j < starts; ++j) chain.sources.push_back(j);
  return chain;
}

std::vector<double> VisitCounts::mean() const {
  std::vector<double> m(visits.size(), 0.0);
  if (walkers <= 0) return m;
  for (size_t j = 0; j < visits.size(); ++j) m[j] = double(visits[j]) / double(walkers);
  return m;
}

uint32_t walk_stream(WalkDirection direction, int steps) {
  return (uint32_t(steps) << 1) | (direction == WalkDirection::forward ? 1u : 0u);
}

VisitCounts run_walkers(const WalkChain& chain, const WalkOptions& options) {
  CKV_CHECK(options.walkers >= 1 && options.walkers <= 0xFFFFFFFFll,
            "circuitkv_walk: walkers = {} out of range", options.walkers);
  CKV_CHECK(options.steps >= 0, "circuitkv_walk: steps = {} must be >= 0", options.steps);
  const int n = chain.n();
  VisitCounts out;
  out.walkers = options.walkers;
  out.visits.assign(n, 0);
  if (options.second_moments) out.squares.assign(n, 0);
  if (chain.sources.empty() || n == 0) return out;

  MonteCarloRun run;
  run.walkers = options.walkers;
  run.seed = options.seed;
  run.stream = walk_stream(chain.direction, options.steps);
  const int chunks = walker_threads(options.walkers, options.threads);
  struct Partial {
    std::vector<uint64_t> visits, squares;
  };
  std::vector<Partial> partials(chunks);
  for_walker_chunks(run.walkers, chunks, [&](int chunk, long long begin, long long end) {
    Partial& p = partials[chunk];
    p.visits.assign(n, 0);
    if (options.second_moments) p.squares.assign(n, 0);
    std::vector<int> path;
    for (long long w = begin; w < end; ++w) {
      int pos = chain.sources[size_t(w % (long long)chain.sources.size())];
      if (chain.absorbing[pos]) continue;  // starts absorbed: never moves, never counts
      path.clear();
      if (options.count_start) path.push_back(pos);
      for (int step = 0; step < options.steps; ++step) {
        pos = chain.next(pos, run.draw(w, step).u0);
        if (pos < 0) break;
        path.push_back(pos);
      }
      for (int j : path) ++p.visits[j];
      if (options.second_moments) {
        // Σ_w c_{w,j}²: count multiplicities within this walker's path.
        std::sort(path.begin(), path.end());
        for (size_t a = 0; a < path.size();) {
          size_t b = a;
          while (b < path.size() && path[b] == path[a]) ++b;
          p.squares[path[a]] += uint64_t(b - a) * uint64_t(b - a);
          a = b;
        }
      }
    }
  });
  // Integer sums: the same totals in any order, hence with any thread count.
  for (const Partial& p : partials)
    for (int j = 0; j < n; ++j) {
      out.visits[j] += p.visits[j];
      if (options.second_moments) out.squares[j] += p.squares[j];
    }
  return out;
}

std::vector<double> start_distribution(const WalkChain& chain, long long walkers) {
  std::vector<double> x(chain.n(), 0.0);
  const long long m = (long long)chain.sources.size();
  if (m == 0 || walkers <= 0) return x;
  // Round-robin: source k gets ⌊N/m⌋ walkers, plus one for k < N mod m.
  for (long long k = 0; k < m; ++k) {
    const long long count = walkers / m + (k < walkers % m ? 1 : 0);
    const int pos = chain.sources[size_t(k)];
    if (!chain.absorbing[pos]) x[pos] += double(count) / double(walkers);
  }
  return x;
}

std::vector<double> expected_visits(const WalkChain& chain, long long walkers, int steps,
                                    bool count_start) {
  std::vector<double> x = start_distribution(chain, walkers);
  std::vector<double> total(x.size(), 0.0), y;
  if (count_start) total = x;
  for (int t = 1; t <= steps; ++t) {
    chain.propagate(x, y);
    bool any = false;
    for (size_t j = 0; j < y.size(); ++j) {
      total[j] += y[j];
      any = any || y[j] != 0.0;
    }
    if (!any) break;  // every walker has ended: later terms are exactly zero
    x.swap(y);
  }
  return total;
}

}  // namespace ckv::circuitkv
