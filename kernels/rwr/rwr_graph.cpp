#include "kernels/rwr/rwr_graph.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "kernels/rwr/rwr_math.hpp"
#include "kernels/simd/simd.hpp"
#include "kernels/stages/reduced_attention.hpp"

namespace ckv::rwr {

SparseMatrix SparseMatrix::from_rows(int n, std::vector<std::vector<std::pair<int, double>>> rows) {
  SparseMatrix m;
  m.n = n;
  m.row_start.assign(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    auto& row = rows[i];
    if (!std::is_sorted(row.begin(), row.end())) std::sort(row.begin(), row.end());
    // Merge duplicate columns (the reversible union adds W[i, j] and W[j, i] separately).
    for (size_t t = 0; t < row.size(); ++t) {
      if (!m.column.empty() && int(m.column.size()) > m.row_start[i] && m.column.back() == row[t].first)
        m.value.back() = symmetric_weight(m.value.back(), row[t].second);
      else {
        m.column.push_back(row[t].first);
        m.value.push_back(row[t].second);
      }
    }
    m.row_start[i + 1] = int(m.column.size());
  }
  return m;
}

double SparseMatrix::row_sum(int i) const {
  return row_total(value.data(), row_start[i], row_start[i + 1]);
}

namespace {

// Unit vectors of n rows of length d into a contiguous [n, d] array (rwr_math.hpp unit_row).
std::vector<float> unit_rows(int n, int d, const std::function<const float*(int)>& row) {
  std::vector<float> out(size_t(n) * d, 0.0f);
  for (int i = 0; i < n; ++i) unit_row(row(i), d, &out[size_t(i) * d]);
  return out;
}

}  // namespace

SparseMatrix similarity_graph(const LayerInput& in, int h, const GraphOptions& options) {
  const int n = in.n, d = in.d, g = in.kv_head(h);
  const std::vector<float> qn = unit_rows(n, d, [&](int i) { return in.query(h, i); });
  const std::vector<float> kn = unit_rows(n, d, [&](int j) { return in.key(g, j); });
  // The cosines come in blocks of rows from the SIMD products (rwr_math.hpp cosine(): one fp32
  // FMA chain, the same bits), over the keys the block's rows can reach.
  std::vector<float> panels(size_t(simd::panel_count(n)) * d * simd::kPanel);
  simd::pack_panels(kn.data(), d, n, d, panels.data());
  std::vector<std::vector<std::pair<int, double>>> rows(n);
  constexpr int kBlock = 32;
  walkers::parallel_ranges((n + kBlock - 1) / kBlock, walkers::kernel_threads(), [&](int b_begin, int b_end) {
    struct Candidate {
      double c;
      int j;
    };
    std::vector<Candidate> earlier;
    std::vector<float> block;
    for (int b = b_begin; b < b_end; ++b) {
      const int i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
      const int keys = std::min(n, i1 - 1 + options.window + 1);  // j <= i + window
      const int count = simd::panel_count(keys), width = count * simd::kPanel;
      block.resize(size_t(i1 - i0) * width);
      simd::qk_panels(qn.data() + size_t(i0) * d, d, i1 - i0, d, panels.data(), count, 1.0f,
                      block.data(), width);
      for (int i = i0; i < i1; ++i) {
        const float* cos_i = block.data() + size_t(i - i0) * width;
        auto& row = rows[i];
        const int lo = std::max(0, i - options.window), hi = std::min(n - 1, i + options.window);
        // The topk most similar keys before the window (long-range edges, seed 003), in
        // rwr_math.hpp's order (the device selects the same set by radix cutoff): edge_before is
        // a strict total order, so a heap of the k best so far (its top the worst of them)
        // finds partial_sort's set in one pass, most candidates rejected by one comparison.
        earlier.clear();
        const size_t topk = size_t(std::max(0, options.topk));
        auto worse_first = [](const Candidate& a, const Candidate& b) { return edge_before(a.c, a.j, b.c, b.j); };
        for (int j = 0; j < lo && topk > 0; ++j) {
          const double c = double(cos_i[j]);
          if (!(c > options.threshold)) continue;
          if (earlier.size() < topk) {
            earlier.push_back({c, j});
            std::push_heap(earlier.begin(), earlier.end(), worse_first);
          } else if (edge_before(c, j, earlier.front().c, earlier.front().j)) {
            std::pop_heap(earlier.begin(), earlier.end(), worse_first);
            earlier.back() = {c, j};
            std::push_heap(earlier.begin(), earlier.end(), worse_first);
          }
        }
        const size_t k = earlier.size();
        // The row in ascending columns (what from_rows sorts it into): far edges, then the window.
        std::sort(earlier.begin(), earlier.begin() + k, [](const Candidate& a, const Candidate& b) { return a.j < b.j; });
        row.reserve(k + size_t(hi - lo + 1));
        for (size_t t = 0; t < k; ++t) row.emplace_back(earlier[t].j, earlier[t].c);
        for (int j = lo; j <= hi; ++j) {
          const double c = double(cos_i[j]);
          if (c > options.threshold) row.emplace_back(j, c);
        }
      }
    }
  });
  return SparseMatrix::from_rows(n, std::move(rows));
}

SparseMatrix row_normalize(const SparseMatrix& w) {
  SparseMatrix p = w;
  for (int i = 0; i < w.n; ++i) {
    const double total = w.row_sum(i);
    for (int t = w.row_start[i]; t < w.row_start[i + 1]; ++t)
      p.value[t] = normalized(w.value[t], total);
  }
  return p;
}

SparseMatrix reversible_transition(const SparseMatrix& w) {
  std::vector<std::vector<std::pair<int, double>>> rows(w.n);
  for (int i = 0; i < w.n; ++i)
    for (int t = w.row_start[i]; t < w.row_start[i + 1]; ++t) {
      rows[i].emplace_back(w.column[t], w.value[t]);  // W[i, j]
      rows[w.column[t]].emplace_back(i, w.value[t]);  // W[j, i] lands in row j
    }
  // Row sums of W + Wᵀ are d + c: normalising gives (W + Wᵀ)[i, j] / (d_i + c_i).
  return row_normalize(SparseMatrix::from_rows(w.n, std::move(rows)));
}

std::vector<double> forward_saliency(const SparseMatrix& p, const std::vector<double>& e,
                                     double alpha, int steps) {
  std::vector<double> x = e, r(e.size()), y(e.size());
  for (size_t j = 0; j < e.size(); ++j) r[j] = restart_mass(alpha, e[j]);
  for (int step = 1; step <= steps; ++step) {
    std::fill(y.begin(), y.end(), 0.0);
    // y = (1−α) Pᵀ x: row i sends x[i] along its edges, so each column adds its rows in
    // ascending order (the device's column-by-column order).
    for (int i = 0; i < p.n; ++i) {
      if (x[i] == 0.0) continue;
      for (int t = p.row_start[i]; t < p.row_start[i + 1]; ++t)
        y[p.column[t]] = forward_flow(y[p.column[t]], alpha, p.value[t], x[i]);
    }
    x.swap(y);
    for (size_t j = 0; j < e.size(); ++j) r[j] = restart_accumulate(r[j], alpha, x[j]);
  }
  return r;
}

std::vector<double> backward_saliency(const SparseMatrix& p, const std::vector<double>& e,
                                      double alpha, int steps) {
  std::vector<double> x = e, r(e.size()), y(e.size());
  for (size_t j = 0; j < e.size(); ++j) r[j] = restart_mass(alpha, e[j]);
  for (int step = 1; step <= steps; ++step) {
    for (int i = 0; i < p.n; ++i) {  // y = (1−α) P x
      double acc = 0.0;
      for (int t = p.row_start[i]; t < p.row_start[i + 1]; ++t)
        acc = backward_flow(acc, p.value[t], x[p.column[t]]);
      y[i] = backward_finish(alpha, acc);
    }
    x.swap(y);
    for (size_t j = 0; j < e.size(); ++j) r[j] = restart_accumulate(r[j], alpha, x[j]);
  }
  return r;
}

}  // namespace ckv::rwr
