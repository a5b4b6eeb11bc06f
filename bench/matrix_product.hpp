// The single-thread fp32 matrix-product rate of tuned code on the shapes the attention kernels
// multiply: a yardstick between the FMA peak (bench/cpu_peak.hpp, which no real kernel
// reaches) and the kernels themselves. One entry per implementation; each is timed on the
// same shapes and reported in bench_kernels' header.
//
// Implementations:
//   - OpenBLAS `cblas_sgemm` on one thread (`openblas_set_num_threads(1)`), loaded at run time
//     (dlopen of libopenblas.so.0, Debian libopenblas-dev / libopenblas0): the binary does not
//     depend on it, so it runs (without this yardstick) where OpenBLAS is not installed, e.g.
//     from scripts/gpu-check.sh's pack on a bare GPU image.
//   - the project's own product (kernels/simd: key panels of 16, a 6-row register tile, one FMA
//     chain per element), packing of B included in every call; for a B stored [K×N] the call
//     transposes it first (also timed): the kernel serves Q·Kᵀ, where keys are rows.
#pragma once
#include <dlfcn.h>

#include <functional>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/harness.hpp"
#include "kernels/simd/simd.hpp"

namespace ckv::bench {

// The few OpenBLAS entry points the yardstick calls, resolved with dlopen/dlsym. CBLAS enum
// values and the 32-bit integer interface (Debian's libopenblas0 is built without
// INTERFACE64) are those of cblas.h.
struct OpenBlas {
  enum { kRowMajor = 101,
         kNoTrans = 111,
         kTrans = 112 };
  using Sgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb, float beta, float* c,
                         int ldc);
  Sgemm sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  char* (*get_config)() = nullptr;
  char* (*get_corename)() = nullptr;

  // The loaded library, or null when none is installed.
  static const OpenBlas* get() {
    static const OpenBlas library = [] {
      OpenBlas l;
      for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) {
        void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!handle) continue;
        l.sgemm = reinterpret_cast<Sgemm>(dlsym(handle, "cblas_sgemm"));
        l.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
        l.get_config = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_config"));
        l.get_corename = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_corename"));
        if (l.sgemm && l.set_num_threads) break;
        l = OpenBlas{};
      }
      return l;
    }();
    return library.sgemm ? &library : nullptr;
  }

  // "OpenBLAS 0.3.21 (Zen)": the version from the build configuration and the core type the
  // dynamic-architecture build dispatched to, i.e. which SIMD kernels it runs.
  std::string name() const {
    std::string version = "OpenBLAS";
    if (get_config) {
      std::istringstream config(get_config());  // "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen ..."
      std::string word, number;
      if (config >> word >> number) version = word + " " + number;
    }
    if (get_corename) version += std::string(" (") + get_corename() + ")";
    return version;
  }
};

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
      // The metrics' weighted sums of one GQA group at n = 2k: 7 heads × 64 answer tokens of
      // weights times 2048 value rows of d = 128.
      {"AV 448x128x2048", 448, 128, 2048, false},
  };
  return shapes;
}

struct ProductImplementation {
  std::string name;  // shown in the header, e.g. "OpenBLAS 0.3.21 sgemm, 1 thread"
  std::function<void(const ProductShape&, const float* a, const float* b, float* c)> multiply;
  bool b_transposed_too = true;  // false: measured on the [K×N] shapes only
};

inline std::vector<ProductImplementation> product_implementations() {
  std::vector<ProductImplementation> out;
  if (const OpenBlas* blas = OpenBlas::get()) {
    blas->set_num_threads(1);  // the kernels it is compared with run on one core
    out.push_back({blas->name() + " sgemm, 1 thread",
                   [blas](const ProductShape& s, const float* a, const float* b, float* c) {
                     blas->sgemm(OpenBlas::kRowMajor, OpenBlas::kNoTrans,
                                 s.b_transposed ? OpenBlas::kTrans : OpenBlas::kNoTrans, s.M, s.N,
                                 s.K, 1.0f, a, s.K, b, s.b_transposed ? s.K : s.N, 0.0f, c, s.N);
                   }});
  }
  out.push_back({std::string("ckv simd::qk_panels (") + simd::level_name(simd::active_level()) + "), 1 thread",
                 [](const ProductShape& s, const float* a, const float* b, float* c) {
                   thread_local std::vector<float> keys, panels;
                   const float* rows = b;  // B as [N×K]: key j is row j
                   if (!s.b_transposed) {
                     keys.resize(size_t(s.N) * s.K);
                     for (int k = 0; k < s.K; ++k)
                       for (int j = 0; j < s.N; ++j) keys[size_t(j) * s.K + k] = b[size_t(k) * s.N + j];
                     rows = keys.data();
                   }
                   panels.resize(size_t(simd::panel_count(s.N)) * s.K * simd::kPanel);
                   simd::pack_panels(rows, s.K, s.N, s.K, panels.data());
                   simd::qk_panels(a, s.K, s.M, s.K, panels.data(), s.N / simd::kPanel, 1.0f, c, s.N);
                 }});
  // The metrics' product (numerics 4): fp32 in blocks of 16 along K, the block sums added into
  // double; the double result stays in its own buffer. Values as rows ([K×N]) only.
  out.push_back({std::string("ckv simd::gemm_blocks_f64 (") + simd::level_name(simd::active_level()) + "), 1 thread",
                 [](const ProductShape& s, const float* a, const float* b, float*) {
                   thread_local std::vector<int> keys;
                   thread_local std::vector<double> sums;
                   keys.resize(size_t(s.K));
                   std::iota(keys.begin(), keys.end(), 0);
                   sums.assign(size_t(s.M) * s.N, 0.0);
                   simd::gemm_blocks_f64(s.M, s.K, s.N, a, s.K, keys.data(), b, s.N, sums.data(), s.N);
                 },
                 false});
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
      if (s.b_transposed && !impl.b_transposed_too) continue;
      const Timing t = time_calls([&] { impl.multiply(s, a.data(), b.data(), c.data()); }, min_seconds, 1000);
      rates.push_back({impl.name, s.name, 2.0 * s.M * s.N * double(s.K) / t.min_s / 1e9});
    }
  }
  return rates;
}

}  // namespace ckv::bench
