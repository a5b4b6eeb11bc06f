// The single-thread fp32 matrix-product rate of tuned code on the shapes the attention kernels
// multiply: a yardstick between the FMA peak (bench/cpu_peak.hpp, which no real kernel
// reaches) and the kernels themselves. One entry per implementation; each is timed on the
// same shapes and reported in bench_kernels' header.
//
// Implementations:
//   - OpenBLAS `cblas_sgemm` on one thread (`openblas_set_num_threads(1)`), when the build
//     found it (Debian libopenblas-dev; bench/CMakeLists.txt defines CKV_HAVE_OPENBLAS).
//   - [place for the project's own blockwise product kernel: add a ProductImplementation
//     whose `multiply` calls it on the same row-major operands, in product_implementations()]
#pragma once
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/harness.hpp"

#ifdef CKV_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace ckv::bench {

// C[M×N] = A[M×K] · op(B), row-major. `b_transposed`: B is stored [N×K] (keys as rows, the
// Q·Kᵀ of the attention); otherwise [K×N].
struct ProductShape {
  std::string name;
  int M, N, K;
  bool b_transposed;
};

inline const std::vector<ProductShape>& product_shapes() {
  static const std::vector<ProductShape> shapes = {
      {"QK^T 64x2048x128", 64, 2048, 128, true},  // window rows × keys × head dim, n = 2k
      {"QK^T 64x8192x128", 64, 8192, 128, true},  // the same at n = 8k
      {"1024^3", 1024, 1024, 1024, false},        // square: the library's best case
  };
  return shapes;
}

struct ProductImplementation {
  std::string name;  // shown in the header, e.g. "OpenBLAS 0.3.21 sgemm, 1 thread"
  std::function<void(const ProductShape&, const float* a, const float* b, float* c)> multiply;
};

inline std::vector<ProductImplementation> product_implementations() {
  std::vector<ProductImplementation> out;
#ifdef CKV_HAVE_OPENBLAS
  openblas_set_num_threads(1);  // the kernels it is compared with run on one core
  std::string version = "OpenBLAS";
#ifdef OPENBLAS_VERSION
  version = OPENBLAS_VERSION;  // " OpenBLAS 0.3.21 "
  version.erase(0, version.find_first_not_of(' '));
  version.erase(version.find_last_not_of(' ') + 1);
#endif
  // The core type it dispatched to (Haswell, SkylakeX, Zen, ...): which SIMD it uses.
  version += std::string(" (") + openblas_get_corename() + ")";
  out.push_back({version + " sgemm, 1 thread", [](const ProductShape& s, const float* a,
                                                  const float* b, float* c) {
                   cblas_sgemm(CblasRowMajor, CblasNoTrans, s.b_transposed ? CblasTrans : CblasNoTrans,
                               s.M, s.N, s.K, 1.0f, a, s.K, b, s.b_transposed ? s.K : s.N, 0.0f, c, s.N);
                 }});
#endif
  // The project's own blockwise product kernel goes here (same operands, one thread).
  return out;
}

struct ProductRate {
  std::string implementation, shape;
  double gflops = 0;
};

// GFLOP/s (2·M·N·K per product) of every implementation on every shape, from the fastest
// call (a limit, measured like the FMA peak: the least disturbed run).
inline std::vector<ProductRate> measure_product_rates(double min_seconds = 0.3) {
  std::vector<ProductRate> rates;
  const std::vector<ProductImplementation> implementations = product_implementations();
  if (implementations.empty()) return rates;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const ProductShape& s : product_shapes()) {
    std::vector<float> a(size_t(s.M) * s.K), b(size_t(s.K) * s.N), c(size_t(s.M) * s.N);
    for (float& x : a) x = normal(rng);
    for (float& x : b) x = normal(rng);
    for (const ProductImplementation& impl : implementations) {
      const Timing t = time_calls([&] { impl.multiply(s, a.data(), b.data(), c.data()); }, min_seconds, 1000);
      rates.push_back({impl.name, s.name, 2.0 * s.M * s.N * double(s.K) / t.min_s / 1e9});
    }
  }
  return rates;
}

}  // namespace ckv::bench
