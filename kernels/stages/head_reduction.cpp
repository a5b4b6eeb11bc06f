#include "kernels/stages/head_reduction.hpp"

#include "common/error.hpp"

namespace ckv {

namespace {

std::vector<float> mean_of(const std::vector<std::vector<double>>& rows, int begin, int end) {
  const size_t n = rows[begin].size();
  if (end - begin == 1) {
    // One row: the sum below is 0.0 + x (x itself, but -0.0 becomes +0.0) and x / 1.0 is x; the
    // same floats without the sum's pass and buffer (a selection per KV head or per query head).
    std::vector<float> out(n);
    for (size_t j = 0; j < n; ++j) out[j] = float(0.0 + rows[begin][j]);
    return out;
  }
  std::vector<double> sum(n, 0.0);
  for (int h = begin; h < end; ++h)
    for (size_t j = 0; j < n; ++j) sum[j] += rows[h][j];
  std::vector<float> out(n);
  for (size_t j = 0; j < n; ++j) out[j] = float(sum[j] / double(end - begin));
  return out;
}

}  // namespace

int selection_heads(SelectionGranularity granularity, const LayerInput& input) {
  switch (granularity) {
    case SelectionGranularity::shared: return 1;
    case SelectionGranularity::per_kv_head: return input.G;
    case SelectionGranularity::per_query_head: return input.H;
  }
  return 1;
}

Scores reduce_query_heads(const std::vector<std::vector<double>>& per_head, const LayerInput& input,
                          SelectionGranularity granularity) {
  CKV_CHECK(int(per_head.size()) == input.H, "{}: {} head score vectors for H = {}", input.sample,
            per_head.size(), input.H);
  Scores scores;
  switch (granularity) {
    case SelectionGranularity::shared:
      scores.heads.push_back(mean_of(per_head, 0, input.H));
      break;
    case SelectionGranularity::per_kv_head: {
      const int group = input.group();
      for (int g = 0; g < input.G; ++g)
        scores.heads.push_back(mean_of(per_head, g * group, (g + 1) * group));
      break;
    }
    case SelectionGranularity::per_query_head:
      for (int h = 0; h < input.H; ++h) scores.heads.push_back(mean_of(per_head, h, h + 1));
      break;
  }
  return scores;
}

Scores reduce_kv_heads(const std::vector<std::vector<double>>& per_kv, const LayerInput& input,
                       SelectionGranularity granularity) {
  CKV_CHECK(int(per_kv.size()) == input.G, "{}: {} KV-head score vectors for G = {}", input.sample,
            per_kv.size(), input.G);
  Scores scores;
  switch (granularity) {
    case SelectionGranularity::shared:
      scores.heads.push_back(mean_of(per_kv, 0, int(per_kv.size())));
      break;
    case SelectionGranularity::per_kv_head:
      for (int g = 0; g < int(per_kv.size()); ++g) scores.heads.push_back(mean_of(per_kv, g, g + 1));
      break;
    case SelectionGranularity::per_query_head:
      for (int h = 0; h < input.H; ++h) {
        const int g = input.kv_head(h);
        scores.heads.push_back(mean_of(per_kv, g, g + 1));
      }
      break;
  }
  return scores;
}

Scores replicate_scores(const std::vector<double>& x, const LayerInput& input,
                        SelectionGranularity granularity) {
  std::vector<float> v(x.begin(), x.end());
  Scores scores;
  scores.heads.assign(selection_heads(granularity, input), v);
  return scores;
}

}  // namespace ckv
