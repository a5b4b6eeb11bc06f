// Proxy metrics (docs/spec/METRICS.md "Proxy metrics"), numerics version 4 (worker/metrics.hpp):
// for every query head h and answer token t the full attention a_t over the prompt keys and the answer keys up to t, compared with the
// same attention restricted to the keep-set S of h (its KV head's, or its own under per_query_head
// selection; answer tokens always visible).
#include "worker/metrics.hpp"

#include "common/float_order.hpp"
#include "kernels/simd/simd.hpp"
#include "kernels/stages/threads.hpp"
#include "worker/metrics_terms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>

namespace ckv {

namespace {

// sum[r] += Σ_{s<count} double(w[r·ld + keys[s]]) for each of `rows` weight rows, one chain per
// row in ascending s. Eight rows advance together: one row's chain of dependent additions was
// the loop's latency; each row keeps its order, so the sums are the same bits.
template <int R>
void sum_rows_at(const float* w, size_t ld, int r0, const int* keys, int count, double* sum) {
  double acc[R];
  for (int i = 0; i < R; ++i) acc[i] = sum[r0 + i];
  for (int s = 0; s < count; ++s) {
    const size_t j = size_t(keys[s]);
    for (int i = 0; i < R; ++i) acc[i] += double(w[size_t(r0 + i) * ld + j]);
  }
  for (int i = 0; i < R; ++i) sum[r0 + i] = acc[i];
}

void sum_at(const float* w, size_t ld, int rows, const int* keys, int count, double* sum) {
  constexpr int kRows = 8;
  int r = 0;
  for (; r + kRows <= rows; r += kRows) sum_rows_at<kRows>(w, ld, r, keys, count, sum);
  for (; r < rows; ++r) sum_rows_at<1>(w, ld, r, keys, count, sum);
}

// Over the keys in `keys` (ascending): mass[r] = Σ e_j (double, in order) and
// part[r][c] = Σ e_j v_j[c] (fp32 products in blocks of 16 keys, the blocks summed in double:
// simd::gemm_blocks_f64) for the `rows` weight rows at w (stride ld); values row j at v + j·d.
void weighted_part(const float* w, size_t ld, int rows, const std::vector<int>& keys,
                   const float* v, int d, std::vector<double>& part, std::vector<double>& mass) {
  part.assign(size_t(rows) * d, 0.0);
  mass.assign(size_t(rows), 0.0);
  const int count = int(keys.size());
  sum_at(w, ld, rows, keys.data(), count, mass.data());
  simd::gemm_blocks_f64(rows, count, d, w, ld, keys.data(), v, size_t(d), part.data(), size_t(d));
}

}  // namespace

// top_attended_keys ranks up to this many candidates by counting (count² comparisons).
constexpr int kRankedCandidates = 64;

void top_attended_keys(const float* e, int n, int k, std::vector<int>& scratch, int* out) {
  if (k <= 0) return;
  auto before = [e](int x, int y) { return metric_terms::attends_before(e[x], x, e[y], y); };
  // A lower bound on the k-th best value, then only the positions at or above it are
  // candidates, and one nth_element over them finds the k best: O(n) for any order of the values.
  scratch.resize(size_t(n));
  int count = 0;
  if (k <= simd::kInterleave) {
    // The maxima of the position classes j mod 128 lie at distinct positions, so the k-th
    // largest of them is at or below the k-th best value. It is tight: the k best fall in about
    // k distinct classes of 128, so a random row leaves about 1.2·k candidates (k = 32, n = 2048
    // to 8192), and a rising row (real attention rows towards their end) exactly its last k.
    float maxima[simd::kInterleave];
    simd::interleaved_max_f32(e, n, maxima);
    const int classes = std::min(n, simd::kInterleave);  // classes holding a position (k <= n)
    count = simd::positions_ge_f32(e, n, simd::kth_largest_f32(maxima, classes, k), scratch.data());
  } else if (n >= 2 * k) {
    // Larger k: the smallest of the maxima of k chunks (k distinct positions at or above it).
    float bound = simd::max_f32(e, n / k);
    for (int c = 1; c < k; ++c) {
      const int j0 = int(int64_t(n) * c / k), j1 = int(int64_t(n) * (c + 1) / k);
      bound = std::min(bound, simd::max_f32(e + j0, j1 - j0));
    }
    count = simd::positions_ge_f32(e, n, bound, scratch.data());
  } else {
    std::iota(scratch.begin(), scratch.end(), 0);
    count = n;
  }
  CKV_CHECK(count >= k, "top_attended_keys: {} candidates for the {} best of {} keys (NaN weights?)",
            count, k, n);
  if (count <= kRankedCandidates) {
    // Few candidates (the usual case): each one's place is the number of candidates before it in
    // the order, counted without a branch; a comparison sort mispredicts about every other step.
    // The order as one integer: the value's order-preserving key (-0 as +0: they tie), then the
    // position reversed (a tie goes to the lower position), larger first.
    uint64_t key[kRankedCandidates];
    for (int i = 0; i < count; ++i) {
      const float v = e[scratch[size_t(i)]] + 0.0f;  // -0 + 0 = +0; no candidate is NaN
      key[i] = uint64_t(float_order_ukey(v)) << 32 | ~uint32_t(scratch[size_t(i)]);
    }
    for (int i = 0; i < count; ++i) {
      int place = 0;
      for (int j = 0; j < count; ++j) place += key[j] > key[i] ? 1 : 0;
      if (place < k) out[place] = scratch[size_t(i)];
    }
    return;
  }
  const auto first = scratch.begin(), last = first + count;
  std::nth_element(first, first + (k - 1), last, before);
  std::sort(first, first + k, before);
  std::copy_n(first, k, out);
}

AnswerAttention AnswerAttention::compute(const LayerInput& in, int topk) {
  CKV_CHECK(topk >= 1, "{}: topk must be >= 1, got {}", in.sample, topk);
  AnswerAttention out;
  const int n = in.n, m = in.m, d = in.d, G = in.G;
  out.H = in.H, out.m = m, out.n = n, out.d = d, out.k = std::min(topk, n);
  const size_t width = size_t(n) + m;
  out.weight.resize(size_t(in.H) * m * width);  // every element written below
  out.total.assign(size_t(in.H) * m, 0.0);
  out.answer_sum.assign(size_t(in.H) * m * d, 0.0);
  out.prompt_mass.assign(size_t(in.H) * m, 0.0);
  out.answer_mass.assign(size_t(in.H) * m, 0.0);
  out.top.assign(size_t(in.H) * m * out.k, 0);
  if (m == 0) return out;

  // Prompt and answer keys of every KV head in the products' panel layout.
  const int prompt_panels = simd::panel_count(n), answer_panels = simd::panel_count(m);
  const size_t prompt_stride = size_t(prompt_panels) * d * simd::kPanel;
  const size_t answer_stride = size_t(answer_panels) * d * simd::kPanel;
  LargeBuffer<float> packed(G * (prompt_stride + answer_stride));  // written in full by pack_panels
  for (int g = 0; g < G; ++g) {
    simd::pack_panels(in.key(g, 0), d, n, d, packed.data() + g * prompt_stride);
    simd::pack_panels(in.k_answer + size_t(g) * m * d, d, m, d,
                      packed.data() + G * prompt_stride + g * answer_stride);
  }
  const float scale = 1.0f / std::sqrt(float(d));

  // Heads are independent and each writes only its own slices: the same values with any number
  // of threads (kernels/stages/threads.hpp). The query heads of one KV head that fall in one
  // thread's range share one product over the answer keys (every element keeps its own chain,
  // so the grouping changes no value).
  std::vector<int> answer_keys(static_cast<size_t>(m));
  std::iota(answer_keys.begin(), answer_keys.end(), 0);
  parallel_ranges(in.H, kernel_threads(), [&](int h_begin, int h_end) {
    const int logit_width = std::max(prompt_panels, answer_panels) * simd::kPanel;
    std::vector<float> logits(size_t(m) * logit_width);
    std::vector<int> order;
    for (int run_begin = h_begin; run_begin < h_end;) {
      const int g = in.kv_head(run_begin);
      const int run_end = std::min(h_end, (g + 1) * in.group());
      for (int h = run_begin; h < run_end; ++h) {
        const size_t h0 = size_t(h) * m;
        const float* q = in.q_answer + h0 * d;
        float* weight = out.weight.data() + h0 * width;

        // Logits: prompt keys, then answer keys (row t keeps u <= t, zeros after). The prompt
        // product writes its rows in place when its last panel's padding fits in the row's
        // answer part (overwritten next); otherwise through the logits buffer.
        if (prompt_panels * simd::kPanel <= n + m) {
          simd::qk_panels(q, d, m, d, packed.data() + g * prompt_stride, prompt_panels, scale,
                          weight, width);
        } else {
          simd::qk_panels(q, d, m, d, packed.data() + g * prompt_stride, prompt_panels, scale,
                          logits.data(), logit_width);
          for (int t = 0; t < m; ++t)
            std::copy_n(logits.data() + size_t(t) * logit_width, n, weight + t * width);
        }
        simd::qk_panels(q, d, m, d, packed.data() + G * prompt_stride + g * answer_stride,
                        answer_panels, scale, logits.data(), logit_width);
        for (int t = 0; t < m; ++t) {
          std::copy_n(logits.data() + size_t(t) * logit_width, t + 1, weight + t * width + n);
          std::fill(weight + t * width + n + t + 1, weight + (t + 1) * width, 0.0f);
        }

        // e_j = exp(logit_j - max) and the two sums, per answer token.
        for (int t = 0; t < m; ++t) {
          float* row = weight + t * width;
          const float max_logit = simd::max_f32(row, n + t + 1);
          const double prompt_sum = n > 0 ? simd::exp_shift_sum_f64(row, n, max_logit) : 0.0;
          const double answer_total = simd::exp_shift_sum_f64(row + n, t + 1, max_logit);
          const double total = prompt_sum + answer_total;
          out.total[h0 + t] = total;
          out.prompt_mass[h0 + t] = prompt_sum / total;
          out.answer_mass[h0 + t] = answer_total / total;
        }

        // The k prompt keys with the largest a_t (ties to the lower position): the order of e_j.
        for (int t = 0; t < m; ++t)
          top_attended_keys(weight + t * width, n, out.k, order, out.top.data() + (h0 + t) * out.k);
      }

      // Σ_{u<=t} e_{n+u} v_ans[u] for every row of the run's heads (row t's weights past u = t
      // are 0 and add nothing). The prompt's part depends on the keep-set: add_layer.
      const int rows = (run_end - run_begin) * m;
      const size_t r0 = size_t(run_begin) * m;
      simd::gemm_blocks_f64(rows, m, d, out.weight.data() + r0 * width + n, width,
                            answer_keys.data(), in.v_answer + size_t(g) * m * d, size_t(d),
                            out.answer_sum.data() + r0 * d, size_t(d));
      run_begin = run_end;
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
  const size_t width = size_t(n) + m;

  // The per-(h, t) terms, heads in parallel (each writes its own rows), then added in (h, t)
  // order as add_layer_rows does: the same sums for any thread count.
  std::vector<AnswerRowTerms> rows(size_t(in.H) * m);
  // Consecutive query heads of one KV head that read one keep-set (shared and per_kv_head
  // selection) share one product over its kept keys and one over the dropped ones.
  parallel_ranges(in.H, kernel_threads(), [&](int h_begin, int h_end) {
    std::vector<double> kept_part, kept_sum, dropped_part, dropped_sum, x(d), y(d);
    std::vector<int> dropped_list;
    for (int run_begin = h_begin; run_begin < h_end;) {
      const int g = in.kv_head(run_begin), set = set_of(run_begin);
      int run_end = run_begin + 1;
      while (run_end < h_end && in.kv_head(run_end) == g && set_of(run_end) == set) ++run_end;
      const std::vector<int>& kept_list = keep[set];
      dropped_list.clear();
      for (int j = 0; j < n; ++j)
        if (!in_set[set][j]) dropped_list.push_back(j);
      const int run_rows = (run_end - run_begin) * m;
      const size_t r0 = size_t(run_begin) * m;
      const float* run_weight = answers.weight.data() + r0 * width;

      // The prompt's kept and dropped parts, each summed on its own (worker/metrics_terms.hpp,
      // split_row_terms: the output error without the difference of two near-equal outputs).
      weighted_part(run_weight, width, run_rows, kept_list, in.value(g, 0), d, kept_part, kept_sum);
      weighted_part(run_weight, width, run_rows, dropped_list, in.value(g, 0), d, dropped_part,
                    dropped_sum);

      for (int r = 0; r < run_rows; ++r) {
        const size_t ht = r0 + r;
        const double total = answers.total[ht];
        const double* answer_sum = answers.answer_sum.data() + ht * d;
        for (int c = 0; c < d; ++c) {
          x[c] = (answer_sum[c] + kept_part[size_t(r) * d + c]) / total;
          y[c] = dropped_part[size_t(r) * d + c] / total;
        }
        const metric_terms::RowTerms terms = metric_terms::split_row_terms(
            kept_sum[r] / total, dropped_sum[r] / total, answers.prompt_mass[ht],
            answers.answer_mass[ht], x.data(), y.data(), d);
        // topk_recall: share of the k prompt keys with the largest a_t that are kept.
        int top_hit = 0;
        const int* top = answers.top.data() + ht * k;
        for (int i = 0; i < k; ++i) top_hit += in_set[set][top[i]];
        rows[ht] = AnswerRowTerms{terms.recall, terms.error, top_hit, terms.undefined_error};
      }
      run_begin = run_end;
    }
  });
  for (int h = 0; h < in.H; ++h)
    for (int t = 0; t < m; ++t) add_row(in, h, t, rows[size_t(h) * m + t], k);
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
