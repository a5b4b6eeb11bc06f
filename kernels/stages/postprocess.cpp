#include "kernels/stages/postprocess.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "kernels/stages/selection.hpp"

namespace ckv::circuitkv {

std::vector<double> smoothing_weights(Smoothing kind, int kernel, double sigma) {
  if (kind == Smoothing::none || kernel <= 1) return {1.0};
  std::vector<double> w(kernel, 1.0 / double(kernel));
  if (kind == Smoothing::boxcar) return w;
  CKV_CHECK(sigma > 0.0, "gaussian smoothing needs sigma > 0, got {}", sigma);
  double total = 0.0;
  for (int i = 0; i < kernel; ++i) {
    const double x = double(i) - double(kernel - 1) / 2.0;
    w[i] = std::exp(-x * x / (2.0 * sigma * sigma));
    total += w[i];
  }
  for (double& v : w) v /= total;
  return w;
}

std::vector<double> smooth(const std::vector<double>& x, const std::vector<double>& weights) {
  const int n = int(x.size()), k = int(weights.size());
  if (k == 1 && weights[0] == 1.0) return x;
  const int pad = k / 2;
  std::vector<double> out(n, 0.0);
  for (int j = 0; j < n; ++j) {
    double acc = 0.0;
    for (int t = 0; t < k; ++t) {
      const int src = j - pad + t;
      if (src >= 0 && src < n) acc += weights[t] * x[src];
    }
    out[j] = acc;
  }
  return out;
}

void add_sink_pseudo_score(std::vector<double>& x, int sink) {
  const int n = int(x.size());
  const int s = std::min(std::max(sink, 0), n);
  double total = 0.0;
  for (int j = s; j < n; ++j) total += x[j];
  for (int j = 0; j < s; ++j) x[j] = 0.01 * total;
}

void max_normalize(std::vector<double>& x) {
  if (x.empty()) return;
  const double m = *std::max_element(x.begin(), x.end());
  if (m > 0.0)
    for (double& v : x) v /= m;
}

std::vector<float> rank_vector(const std::vector<double>& x) {
  return rank_normalize(std::vector<float>(x.begin(), x.end()));
}

double spearman_of_ranks(const std::vector<float>& a, const std::vector<float>& b) {
  CKV_CHECK(a.size() == b.size(), "spearman: rank vectors of lengths {} and {}", a.size(),
            b.size());
  const size_t n = a.size();
  if (n < 2) return 0.0;
  double ma = 0.0, mb = 0.0;
  for (size_t j = 0; j < n; ++j) {
    ma += a[j];
    mb += b[j];
  }
  ma /= double(n);
  mb /= double(n);
  double sab = 0.0, saa = 0.0, sbb = 0.0;
  for (size_t j = 0; j < n; ++j) {
    const double da = a[j] - ma, db = b[j] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa <= 0.0 || sbb <= 0.0) return 0.0;
  return sab / std::sqrt(saa * sbb);
}

}  // namespace ckv::circuitkv
