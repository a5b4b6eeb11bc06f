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

namespace {

struct Candidate {
  double c;
  int j;
};

// The topk keys j < lo of one row whose cosine exceeds the threshold, in rwr_math.hpp's
// edge_before order (the device selects the same set by radix cutoff), left in `earlier` (in no
// particular order). edge_before is a strict total order, so the top k are one set however they
// are found:
// - a lower bound first: split [0, lo) into k chunks; if the smallest chunk maximum m exceeds the
//   threshold, the k chunk maxima are k distinct candidates >= m, so the k-th best candidate is
//   >= m and no candidate below m can be a member (only c >= m survive, in ascending j);
// - then a heap of the k best survivors so far (its top the worst of them) in one pass. The pass
//   is in ascending j, so a later candidate never wins a tie against a kept one: once the heap is
//   full, (c, j) enters exactly when c > the worst kept c.
void earlier_topk(const float* cos_i, int lo, size_t topk, double threshold,
                  std::vector<Candidate>& survivors, std::vector<Candidate>& earlier) {
  earlier.clear();
  if (topk == 0 || lo <= 0) return;
  double floor_c = -INFINITY;
  if (size_t(lo) > 2 * topk) {
    const int k = int(topk);
    float m = INFINITY;
    for (int t = 0; t < k; ++t) {
      const int begin = int(int64_t(lo) * t / k), end = int(int64_t(lo) * (t + 1) / k);
      float best = cos_i[begin];
      for (int j = begin + 1; j < end; ++j) best = cos_i[j] > best ? cos_i[j] : best;
      m = best < m ? best : m;
    }
    if (double(m) > threshold) floor_c = double(m);
  }
  // One float test for both conditions: for a float x, x > threshold exactly when x >= the
  // least float above the greatest float at or below threshold.
  float above = float(threshold);
  if (double(above) > threshold) above = std::nextafter(above, -INFINITY);
  above = std::nextafter(above, INFINITY);
  const float lower = double(above) >= floor_c ? above : float(floor_c);  // floor_c is a float's value
  survivors.resize(size_t(lo));
  size_t count = 0;
  for (int j = 0; j < lo; ++j) {  // branch-free compaction, ascending j
    survivors[count].j = j;
    count += size_t(cos_i[j] >= lower);
  }
  for (size_t t = 0; t < count; ++t) survivors[t].c = double(cos_i[survivors[t].j]);
  auto worse_first = [](const Candidate& a, const Candidate& b) { return edge_before(a.c, a.j, b.c, b.j); };
  size_t t = 0;
  for (; t < count && earlier.size() < topk; ++t) {
    earlier.push_back(survivors[t]);
    std::push_heap(earlier.begin(), earlier.end(), worse_first);
  }
  const size_t k = earlier.size();
  Candidate* heap = earlier.data();
  for (; t < count; ++t) {
    const Candidate item = survivors[t];
    if (!(item.c > heap[0].c)) continue;
    // Replace the worst kept candidate (the top) and sift the newcomer down: the heap holds the
    // same set as pop_heap + push_heap would.
    size_t at = 0;
    for (;;) {
      size_t child = 2 * at + 1;
      if (child >= k) break;
      if (child + 1 < k && worse_first(heap[child], heap[child + 1])) ++child;  // the worse child
      if (!worse_first(item, heap[child])) break;
      heap[at] = heap[child];
      at = child;
    }
    heap[at] = item;
  }
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
  constexpr int kBlock = 32;
  const int blocks = (n + kBlock - 1) / kBlock;
  // Each block of rows writes its edges in compressed rows of its own (ascending columns, no
  // duplicates: what from_rows would make of them), concatenated in row order below.
  struct BlockEdges {
    std::vector<int> count;  // edges per row of the block
    std::vector<int> column;
    std::vector<double> value;
  };
  std::vector<BlockEdges> edges(blocks);
  walkers::parallel_ranges(blocks, walkers::kernel_threads(), [&](int b_begin, int b_end) {
    std::vector<Candidate> earlier, survivors;
    std::vector<float> block;
    for (int b = b_begin; b < b_end; ++b) {
      const int i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
      const int keys = std::min(n, i1 - 1 + options.window + 1);  // j <= i + window
      const int count = simd::panel_count(keys), width = count * simd::kPanel;
      block.resize(size_t(i1 - i0) * width);
      simd::qk_panels(qn.data() + size_t(i0) * d, d, i1 - i0, d, panels.data(), count, 1.0f,
                      block.data(), width);
      BlockEdges& out = edges[b];
      out.count.assign(size_t(i1 - i0), 0);
      for (int i = i0; i < i1; ++i) {
        const float* cos_i = block.data() + size_t(i - i0) * width;
        const int lo = std::max(0, i - options.window), hi = std::min(n - 1, i + options.window);
        // The topk most similar keys before the window (long-range edges, seed 003).
        earlier_topk(cos_i, lo, size_t(std::max(0, options.topk)), options.threshold, survivors, earlier);
        const size_t k = earlier.size();
        // The row in ascending columns: far edges, then the window.
        std::sort(earlier.begin(), earlier.end(), [](const Candidate& a, const Candidate& b) { return a.j < b.j; });
        const size_t before = out.column.size();
        size_t at = before;
        out.column.resize(before + k + size_t(hi - lo + 1));
        out.value.resize(out.column.size());
        for (size_t t = 0; t < k; ++t, ++at) {
          out.column[at] = earlier[t].j;
          out.value[at] = earlier[t].c;
        }
        for (int j = lo; j <= hi; ++j) {  // branch-free: written always, kept when c > threshold
          const double c = double(cos_i[j]);
          out.column[at] = j;
          out.value[at] = c;
          at += size_t(c > options.threshold);
        }
        out.column.resize(at);
        out.value.resize(at);
        out.count[size_t(i - i0)] = int(at - before);
      }
    }
  });
  SparseMatrix m;
  m.n = n;
  m.row_start.assign(size_t(n) + 1, 0);
  size_t total = 0;
  for (const BlockEdges& e : edges) total += e.column.size();
  m.column.reserve(total);
  m.value.reserve(total);
  int row = 0;
  for (const BlockEdges& e : edges) {
    for (int c : e.count) {
      m.row_start[size_t(row) + 1] = m.row_start[size_t(row)] + c;
      ++row;
    }
    m.column.insert(m.column.end(), e.column.begin(), e.column.end());
    m.value.insert(m.value.end(), e.value.begin(), e.value.end());
  }
  return m;
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
