// Proxy metrics (docs/spec/METRICS.md "Proxy metrics"): for every query head h and answer token t the
// full attention a_t over the prompt keys and the answer keys up to t, compared with the
// same attention restricted to the keep-set S of h (its KV head's, or its own under per_query_head
// selection; answer tokens always visible).
#include "worker/metrics.hpp"

#include "kernels/stages/threads.hpp"
#include "worker/metrics_terms.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace ckv {

namespace {

double dot(const float* a, const float* b, int d) {
  double s = 0.0;
  for (int c = 0; c < d; ++c) s += double(a[c]) * double(b[c]);
  return s;
}

}  // namespace

AnswerAttention AnswerAttention::compute(const LayerInput& in, int topk) {
  CKV_CHECK(topk >= 1, "{}: topk must be >= 1, got {}", in.sample, topk);
  AnswerAttention out;
  const int n = in.n, m = in.m, d = in.d;
  out.H = in.H, out.m = m, out.n = n, out.d = d, out.k = std::min(topk, n);
  out.attention.assign(size_t(in.H) * m * (n + m), 0.0);
  out.output.assign(size_t(in.H) * m * d, 0.0);
  out.answer_output.assign(size_t(in.H) * m * d, 0.0);
  out.prompt_mass.assign(size_t(in.H) * m, 0.0);
  out.answer_mass.assign(size_t(in.H) * m, 0.0);
  out.top.assign(size_t(in.H) * m * out.k, 0);
  const double scale = 1.0 / std::sqrt(double(d));
  // Heads are independent and each writes only its own slices: the same values with any number
  // of threads (kernels/stages/threads.hpp).
  parallel_ranges(in.H, kernel_threads(), [&](int h_begin, int h_end) {
    std::vector<int> order(n);
    for (int h = h_begin; h < h_end; ++h) {
      const int g = in.kv_head(h);
      for (int t = 0; t < m; ++t) {
        const size_t ht = size_t(h) * m + t;
        double* a = out.attention.data() + ht * (n + m);
        const float* q = in.q_answer + ht * d;
        // a_t = softmax(q_t·[K; K_ans(<=t)]ᵀ/√d) in double; slots n..n+t are the answer keys.
        const int len = n + t + 1;
        double max_logit = -INFINITY;
        for (int j = 0; j < n; ++j) {
          a[j] = dot(q, in.key(g, j), d) * scale;
          max_logit = std::max(max_logit, a[j]);
        }
        for (int u = 0; u <= t; ++u) {
          a[n + u] = dot(q, in.k_answer + (size_t(g) * m + u) * d, d) * scale;
          max_logit = std::max(max_logit, a[n + u]);
        }
        double total = 0.0;
        for (int j = 0; j < len; ++j) total += (a[j] = std::exp(a[j] - max_logit));
        for (int j = 0; j < len; ++j) a[j] /= total;

        double* o = out.output.data() + ht * d;
        double* o_answer = out.answer_output.data() + ht * d;
        for (int j = 0; j < n; ++j) {
          out.prompt_mass[ht] += a[j];
          const float* v = in.value(g, j);
          for (int c = 0; c < d; ++c) o[c] += a[j] * v[c];
        }
        for (int u = 0; u <= t; ++u) {
          out.answer_mass[ht] += a[n + u];
          const float* v = in.v_answer + (size_t(g) * m + u) * d;
          for (int c = 0; c < d; ++c) o_answer[c] += a[n + u] * v[c];
        }
        for (int c = 0; c < d; ++c) o[c] += o_answer[c];

        // The k prompt keys with the largest a_t (ties to the lower position).
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + out.k, order.end(), [&](int x, int y) {
          return metric_terms::attends_before(a[x], x, a[y], y);
        });
        std::copy(order.begin(), order.begin() + out.k, out.top.begin() + ht * out.k);
      }
    }
  });
  return out;
}

void MetricAccumulator::add_layer(const LayerInput& in, const std::vector<std::vector<int>>& keep,
                                  const std::vector<std::pair<int, int>>& evidence, int topk) {
  add_layer(in, AnswerAttention::compute(in, topk), keep, evidence);
}

void MetricAccumulator::check_keep_sets(const LayerInput& in, const std::vector<std::vector<int>>& keep) {
  // One set per KV head (shared and per_kv_head selection), or per query head (per_query_head):
  // query head h reads set `set_of(h)`.
  const int sets = int(keep.size());
  CKV_CHECK(sets == in.G || sets == in.H,
            "{}: layer {}: {} keep-sets for {} KV heads and {} query heads", in.sample, in.layer,
            sets, in.G, in.H);
  for (int g = 0; g < sets; ++g) {
    for (int j : keep[g])
      CKV_CHECK(j >= 0 && j < in.n, "{}: layer {}: kept token {} outside the prompt [0, {})",
                in.sample, in.layer, j, in.n);
    CKV_CHECK(std::adjacent_find(keep[g].begin(), keep[g].end(), std::greater_equal<int>()) == keep[g].end(),
              "{}: layer {}: keep-set {} is not sorted and unique", in.sample, in.layer, g);
  }
}

std::vector<std::vector<unsigned char>> MetricAccumulator::add_keep_sets(
    const LayerInput& in, const std::vector<std::vector<int>>& keep,
    const std::vector<std::pair<int, int>>& evidence) {
  const int n = in.n;
  check_keep_sets(in, keep);
  const int sets = int(keep.size());
  std::vector<std::vector<unsigned char>> in_set(sets, std::vector<unsigned char>(n, 0));
  for (int g = 0; g < sets; ++g) {
    for (int j : keep[g]) in_set[g][j] = 1;
    kept_sum += double(keep[g].size());
    ++kept_terms;
  }

  // evidence_recall: |S_g ∩ E| / |E| per keep-set (KV head or query head), E the union of the [start, end) ranges
  // clipped to the prompt. An empty E leaves the metric undefined (NULL), never 0.
  std::vector<unsigned char> in_evidence(n, 0);
  for (auto [start, end] : evidence)
    for (int j = std::max(0, start); j < std::min(end, n); ++j) in_evidence[j] = 1;
  const long long evidence_size = std::count(in_evidence.begin(), in_evidence.end(), 1);
  if (evidence_size > 0) {
    for (int g = 0; g < sets; ++g) {
      long long hit = 0;
      for (int j = 0; j < n; ++j) hit += in_evidence[j] && in_set[g][j];
      const double recall = double(hit) / double(evidence_size);
      evidence_recall_sum += recall;
      evidence_recall_min = std::min(evidence_recall_min, recall);
      ++evidence_terms;
    }
  }

  return in_set;
}

void MetricAccumulator::add_layer(const LayerInput& in, const AnswerAttention& answers,
                                  const std::vector<std::vector<int>>& keep,
                                  const std::vector<std::pair<int, int>>& evidence) {
  const int n = in.n, m = in.m, d = in.d;
  CKV_CHECK(answers.n == n && answers.m == m && answers.H == in.H,
            "{}: layer {}: answer attention computed for another layer shape", in.sample, in.layer);
  const auto in_set = add_keep_sets(in, keep, evidence);
  const int sets = int(keep.size());
  auto set_of = [&](int h) { return sets == in.H ? h : in.kv_head(h); };
  if (m == 0) return;
  const int k = answers.k;
  std::vector<double> o_kept(d);
  for (int h = 0; h < in.H; ++h) {
    const int g = in.kv_head(h), set = set_of(h);
    const auto& kept = in_set[set];
    for (int t = 0; t < m; ++t) {
      const size_t ht = size_t(h) * m + t;
      const double* a = answers.row(h, t);
      const double* o = answers.output.data() + ht * d;
      const double prompt_mass = answers.prompt_mass[ht], answer_mass = answers.answer_mass[ht];

      // attn_recall = Σ_{j∈S} a_t[j] / Σ_{j<n} a_t[j]; o_S renormalised over S ∪ answer.
      // Only the kept tokens are visited: the keep-set independent parts are precomputed.
      double kept_mass = 0.0;
      std::copy_n(answers.answer_output.data() + ht * d, d, o_kept.begin());
      for (int j : keep[set]) {
        kept_mass += a[j];
        const float* v = in.value(g, j);
        for (int c = 0; c < d; ++c) o_kept[c] += a[j] * v[c];
      }
      const metric_terms::RowTerms terms =
          metric_terms::row_terms(kept_mass, prompt_mass, answer_mass, o_kept.data(), o, d);

      // topk_recall: share of the k prompt keys with the largest a_t that are kept.
      int top_hit = 0;
      const int* top = answers.top.data() + ht * k;
      for (int i = 0; i < k; ++i) top_hit += kept[top[i]];

      add_row(in, h, t, AnswerRowTerms{terms.recall, terms.error, top_hit, terms.undefined_error}, k);
    }
  }
}

void MetricAccumulator::add_layer_rows(const LayerInput& in, const std::vector<AnswerRowTerms>& rows,
                                       int k, const std::vector<std::vector<int>>& keep,
                                       const std::vector<std::pair<int, int>>& evidence) {
  add_keep_sets(in, keep, evidence);
  if (in.m == 0) return;
  CKV_CHECK(rows.size() == size_t(in.H) * in.m,
            "{}: layer {}: {} metric rows for {} heads x {} answer tokens", in.sample, in.layer,
            rows.size(), in.H, in.m);
  for (int h = 0; h < in.H; ++h)
    for (int t = 0; t < in.m; ++t) add_row(in, h, t, rows[size_t(h) * in.m + t], k);
}

void MetricAccumulator::add_row(const LayerInput& in, int h, int t, const AnswerRowTerms& row, int k) {
  CKV_CHECK(!row.undefined_error,
            "{}: layer {} head {} answer token {}: the full attention output is zero, so "
            "output_error is undefined (all-zero values?)",
            in.sample, in.layer, h, t);
  attn_recall_sum += row.recall;
  output_error_sum += row.error;
  topk_recall_sum += double(row.top_hit) / double(k);
  ++answer_terms;
}

std::map<std::string, std::optional<double>> MetricAccumulator::finish() const {
  auto mean = [](double sum, long long terms) -> std::optional<double> {
    if (terms == 0) return std::nullopt;
    return sum / double(terms);
  };
  std::map<std::string, std::optional<double>> out;
  out["attn_recall"] = mean(attn_recall_sum, answer_terms);
  out["output_error"] = mean(output_error_sum, answer_terms);
  out["topk_recall"] = mean(topk_recall_sum, answer_terms);
  out["evidence_recall"] = mean(evidence_recall_sum, evidence_terms);
  out["evidence_recall_min"] =
      evidence_terms > 0 ? std::optional<double>(evidence_recall_min) : std::nullopt;
  out["kept"] = mean(kept_sum, kept_terms);
  return out;
}

}  // namespace ckv
