// Shared by the tests/test_kernels_*.cpp oracles: plain dense matrices and the CircuitKV
// attention graph built directly from docs/spec/METHODS.md's formulas (independent of the kernels).
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/layer_context.hpp"

namespace ckv_test {

using Matrix = std::vector<std::vector<double>>;

inline Matrix multiply(const Matrix& x, const Matrix& y) {
  const size_t n = x.size();
  Matrix z(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k)
      for (size_t j = 0; j < n; ++j) z[i][j] += x[i][k] * y[k][j];
  return z;
}

// M^0 (the identity), M^1, ..., M^(count−1) by repeated dense products; count >= 1.
inline std::vector<Matrix> matrix_powers(const Matrix& m, int count) {
  const size_t n = m.size();
  std::vector<Matrix> power(count);
  power[0] = Matrix(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) power[0][i][i] = 1.0;
  for (int k = 1; k < count; ++k) power[k] = multiply(power[k - 1], m);
  return power;
}

// Dense P of docs/spec/METHODS.md "CircuitKV: Neumann" steps 1–2 from the context's attention rows over
// `heads` (max or mean reduction), for graph "full" or "window_prefix".
inline Matrix dense_graph(ckv::LayerContext& ctx, const std::string& graph, int w, double T,
                          const std::vector<int>& heads, bool use_max) {
  const int n = ctx.n();
  const ckv::Tensor3& a = ctx.window_attention(ctx.n(), "test");
  w = std::min(w, n);
  Matrix R(n, std::vector<double>(n, use_max ? -1e300 : 0.0));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      for (int h : heads)
        R[i][j] = use_max ? std::max(R[i][j], double(a.at(h, i, j))) : R[i][j] + a.at(h, i, j);
      if (!use_max) R[i][j] /= double(heads.size());
    }
  Matrix F(n, std::vector<double>(n, 0.0));
  const int ws = n - w;
  if (graph == "full") {
    F = R;
  } else {
    std::vector<double> h(n, 0.0);
    for (int i = ws; i < n; ++i)
      for (int j = 0; j < n; ++j) h[j] += R[i][j];
    for (double& x : h) x = std::max(x, 1e-6);
    for (int i = 0; i < n; ++i) {
      if (i >= ws) {
        F[i] = R[i];
        continue;
      }
      double s = 0.0;
      for (int k = 0; k < i; ++k) s += h[k];
      for (int j = 0; j < i; ++j) F[i][j] = h[j] / (s + 1e-8);
    }
  }
  for (auto& row : F) {
    double sum = 0.0;
    for (double& x : row) {
      x = std::pow(x, 1.0 / T);
      sum += x;
    }
    for (double& x : row) x /= std::max(sum, 1e-8);
  }
  return F;
}

}  // namespace ckv_test
