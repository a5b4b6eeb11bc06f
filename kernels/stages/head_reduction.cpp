#include "kernels/stages/head_reduction.hpp"

#include "common/error.hpp"

namespace ckv {

namespace {

std::vector<float> mean_of(const std::vector<std::vector<double>>& rows, int begin, int end) {
  const size_t n = rows[begin].size();
  std::vector<double> sum(n, 0.0);
  for (int h = begin; h < end; ++h)
    for (size_t j = 0; j < n; ++j) sum[j] += rows[h][j];
  std::vector<float> out(n);
  for (size_t j = 0; j < n; ++j) out[j] = float(sum[j] / double(end - begin));
  return out;
}

}  // namespace

Scores reduce_query_heads(const std::vector<std::vector<double>>& per_head, const LayerInput& input,
                          bool shared) {
  CKV_CHECK(int(per_head.size()) == input.H, "{}: {} head score vectors for H = {}", input.sample,
            per_head.size(), input.H);
  Scores scores;
  if (shared) {
    scores.heads.push_back(mean_of(per_head, 0, input.H));
    return scores;
  }
  const int group = input.group();
  for (int g = 0; g < input.G; ++g)
    scores.heads.push_back(mean_of(per_head, g * group, (g + 1) * group));
  return scores;
}

Scores reduce_kv_heads(const std::vector<std::vector<double>>& per_kv, bool shared) {
  Scores scores;
  if (shared) {
    scores.heads.push_back(mean_of(per_kv, 0, int(per_kv.size())));
    return scores;
  }
  for (int g = 0; g < int(per_kv.size()); ++g) scores.heads.push_back(mean_of(per_kv, g, g + 1));
  return scores;
}

Scores replicate_scores(const std::vector<double>& x, const LayerInput& input, bool shared) {
  std::vector<float> v(x.begin(), x.end());
  Scores scores;
  scores.heads.assign(shared ? 1 : input.G, v);
  return scores;
}

}  // namespace ckv
