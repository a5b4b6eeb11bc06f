// The SIMD kernels (kernels/simd/simd.hpp): every level this CPU runs gives the scalar
// reference's values bit for bit, and the reference is accurate against double precision.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/simd/simd.hpp"

using namespace ckv;

namespace {

std::vector<float> random_floats(size_t count, std::mt19937& rng, float lo = -2.0f, float hi = 2.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> out(count);
  for (float& x : out) x = u(rng);
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Restores the active level when a test section ends.
struct LevelGuard {
  simd::Level saved = simd::active_level();
  ~LevelGuard() { simd::set_active_level(saved); }
};

}  // namespace

TEST_CASE("exp_f32 is within 2 ulp of exp over the softmax range, and 0 far below", "[simd]") {
  double worst = 0.0;
  for (double x = -87.0; x <= 88.0; x += 0.001) {
    const double exact = std::exp(double(float(x)));
    const float got = simd::exp_f32(float(x));
    worst = std::max(worst, std::fabs(got - exact) / exact);
  }
  CHECK(worst < 2.5 * 5.96e-8);
  CHECK(simd::exp_f32(0.0f) == 1.0f);
  CHECK(simd::exp_f32(-100.0f) == 0.0f);
  CHECK(simd::exp_f32(-INFINITY) == 0.0f);
}

// The packing moves floats: at every level the panels are the keys transposed, rows past n
// zero (full panels by 8 x 8 transposes where d is a multiple of 8, the rest by the scalar loop).
TEST_CASE("pack_panels: every level writes the transposed keys, zeros past n", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(31);
  for (int d : {3, 8, 12, 64, 128})
    for (int n : {1, 7, 15, 16, 17, 32, 40, 100})
      for (int extra : {0, 5}) {  // ld = d + extra: a matrix slice
        const size_t ld = size_t(d) + size_t(extra);
        const auto K = random_floats(size_t(n) * ld, rng);
        const int count = simd::panel_count(n);
        std::vector<float> expected(size_t(count) * d * simd::kPanel, 0.0f);
        for (int j = 0; j < n; ++j)
          for (int c = 0; c < d; ++c)
            expected[size_t(j / 16) * d * 16 + size_t(c) * 16 + j % 16] = K[j * ld + c];
        for (auto level : simd::available_levels()) {
          simd::set_active_level(level);
          std::vector<float> panels(expected.size(), -7.0f);
          simd::pack_panels(K.data(), ld, n, d, panels.data());
          INFO("d " << d << " n " << n << " ld " << ld << " level " << simd::level_name(level));
          CHECK(same_bits(panels, expected));
        }
      }
}

// qk_keys computes qk_panels' values without packing: the same bits at every level, for row
// counts below, at and above a vector's lanes, key counts with a tail, and strided keys.
TEST_CASE("qk_keys: qk_panels' values bit for bit at every level, keys read in place", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(37);
  for (int d : {1, 37, 128})
    for (int rows : {1, 7, 8, 9, 17})
      for (int n : {1, 8, 13, 64, 100}) {
        const size_t ldk = size_t(d) + 3, lda = size_t(d) + 1;
        const auto A = random_floats(size_t(rows) * lda, rng);
        const auto K = random_floats(size_t(n) * ldk, rng);
        simd::set_active_level(simd::Level::scalar);
        const int count = simd::panel_count(n);
        std::vector<float> panels(size_t(count) * d * simd::kPanel);
        simd::pack_panels(K.data(), ldk, n, d, panels.data());
        std::vector<float> expected(size_t(rows) * count * 16);
        simd::qk_panels(A.data(), lda, rows, d, panels.data(), count, 0.3f, expected.data(), count * 16);
        for (auto level : simd::available_levels()) {
          simd::set_active_level(level);
          std::vector<float> C(size_t(rows) * (n + 2), -5.0f);
          simd::qk_keys(A.data(), lda, rows, d, K.data(), ldk, n, 0.3f, C.data(), n + 2);
          INFO("d " << d << " rows " << rows << " n " << n << " level " << simd::level_name(level));
          bool same = true;
          for (int r = 0; r < rows; ++r) {
            same = same && std::memcmp(&C[size_t(r) * (n + 2)], &expected[size_t(r) * count * 16],
                                       size_t(n) * sizeof(float)) == 0;
            same = same && C[size_t(r) * (n + 2) + n] == -5.0f && C[size_t(r) * (n + 2) + n + 1] == -5.0f;
          }
          CHECK(same);
        }
      }
}

TEST_CASE("every SIMD level gives the scalar level's values bit for bit", "[simd]") {
  LevelGuard guard;
  const auto levels = simd::available_levels();
  REQUIRE(levels.front() == simd::Level::scalar);
  INFO("levels here: " << levels.size() << " (best " << simd::level_name(simd::detected_level()) << ")");
  std::mt19937 rng(7);

  for (int d : {1, 37, 64, 128}) {
    for (int rows : {1, 5, 6, 13}) {
      for (int n : {1, 16, 17, 50, 64}) {
        const auto A = random_floats(size_t(rows) * d, rng);
        const auto K = random_floats(size_t(n) * d, rng);
        std::vector<float> panels(size_t(simd::panel_count(n)) * d * simd::kPanel);
        simd::pack_panels(K.data(), d, n, d, panels.data());
        const int count = simd::panel_count(n);
        std::vector<std::vector<float>> out;
        for (auto level : levels) {
          simd::set_active_level(level);
          std::vector<float> C(size_t(rows) * count * 16, -1.0f);
          simd::qk_panels(A.data(), d, rows, d, panels.data(), count, 0.125f, C.data(), count * 16);
          out.push_back(C);
        }
        for (size_t l = 1; l < out.size(); ++l) {
          INFO("qk_panels d " << d << " rows " << rows << " n " << n << " level " << simd::level_name(levels[l]));
          CHECK(same_bits(out[0], out[l]));
        }
        // and close to the double-precision product
        for (int r = 0; r < rows; ++r)
          for (int j = 0; j < n; ++j) {
            double exact = 0.0;
            for (int c = 0; c < d; ++c) exact += double(A[r * d + c]) * K[j * d + c];
            REQUIRE(out[0][r * count * 16 + j] == Approx(0.125 * exact).margin(1e-5));
          }
      }
    }
  }

  for (int len : {1, 7, 8, 15, 16, 17, 33, 100, 1000}) {
    const auto x = random_floats(size_t(len), rng, -30.0f, 5.0f);
    std::vector<std::vector<float>> e32, e64, soft;
    std::vector<float> sums32, maxes;
    std::vector<double> sums64;
    for (auto level : levels) {
      simd::set_active_level(level);
      maxes.push_back(simd::max_f32(x.data(), len));
      auto a = x;
      sums32.push_back(simd::exp_shift_sum_f32(a.data(), len, 1.5f));
      e32.push_back(a);
      auto b = x;
      sums64.push_back(simd::exp_shift_sum_f64(b.data(), len, -0.25f));
      e64.push_back(b);
      auto c = x;
      simd::softmax_f32(c.data(), len);
      soft.push_back(c);
    }
    for (size_t l = 1; l < levels.size(); ++l) {
      INFO("len " << len << " level " << simd::level_name(levels[l]));
      CHECK(maxes[l] == maxes[0]);
      CHECK(std::memcmp(&sums32[l], &sums32[0], sizeof(float)) == 0);   // NOLINT(bugprone-suspicious-memory-comparison): bit patterns compared on purpose, the sums must be the same bits at every level
      CHECK(std::memcmp(&sums64[l], &sums64[0], sizeof(double)) == 0);  // NOLINT(bugprone-suspicious-memory-comparison): bit patterns compared on purpose, the sums must be the same bits at every level
      CHECK(same_bits(e32[0], e32[l]));
      CHECK(same_bits(e64[0], e64[l]));
      CHECK(same_bits(soft[0], soft[l]));
    }
    double exact = 0.0, row_max = -INFINITY;
    for (float v : x) row_max = std::max(row_max, double(v));
    CHECK(maxes[0] == float(row_max));
    for (float v : x) exact += std::exp(double(v) + 0.25);
    CHECK(sums64[0] == Approx(exact).epsilon(1e-6));
    double total = 0.0;
    for (float v : soft[0]) total += v;
    CHECK(total == Approx(1.0).epsilon(1e-5));
  }

  // Row tiles of 6 with every remainder, column tiles of 16 (AVX2) or 32 (AVX-512) with tails,
  // key blocks of 16 with every remainder (1, 9: one short block; 300: 18 full and one of 12)
  // and passes of 256 keys (700: three).
  for (int rows : {1, 3, 4, 7, 13}) {
    for (int cols : {5, 8, 16, 37, 128}) {
      for (int kdim : {1, 9, 16, 64, 300, 700}) {
        // The keys: a sorted random subset of 2·kdim + 3 columns and value rows.
        const int span = 2 * kdim + 3;
        std::vector<int> idx(span);
        std::iota(idx.begin(), idx.end(), 0);
        std::shuffle(idx.begin(), idx.end(), rng);
        idx.resize(kdim);
        std::sort(idx.begin(), idx.end());
        const auto A = random_floats(size_t(rows) * span, rng, 0.0f, 1.0f);
        const auto B = random_floats(size_t(span) * cols, rng, -1.0f, 1.0f);
        std::vector<double> C0(size_t(rows) * cols);
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        for (double& c : C0) c = u(rng);
        std::vector<std::vector<double>> out;
        for (auto level : levels) {
          simd::set_active_level(level);
          auto C = C0;
          simd::gemm_blocks_f64(rows, kdim, cols, A.data(), span, idx.data(), B.data(), cols, C.data(), cols);
          out.push_back(C);
        }
        // The definition written out: per block of 16 keys one fp32 fma chain from 0, the
        // block sums added into C in order.
        std::vector<double> want = C0;
        for (int r = 0; r < rows; ++r)
          for (int c = 0; c < cols; ++c)
            for (int k0 = 0; k0 < kdim; k0 += 16) {
              float block = 0.0f;
              for (int k = k0; k < std::min(kdim, k0 + 16); ++k)
                block = std::fma(A[r * span + idx[k]], B[idx[k] * cols + c], block);
              want[r * cols + c] += double(block);
            }
        for (size_t l = 0; l < out.size(); ++l) {
          INFO("gemm_blocks_f64 rows " << rows << " cols " << cols << " k " << kdim << " level "
                                       << simd::level_name(levels[l]));
          CHECK(same_bits(out[l], want));
        }
        // Each block's fp32 sum is within 16 roundings of its terms' magnitudes.
        for (int r = 0; r < rows; ++r)
          for (int c = 0; c < cols; ++c) {
            double exact = C0[r * cols + c], magnitude = 0.0;
            for (int k = 0; k < kdim; ++k) {
              const double term = double(A[r * span + idx[k]]) * double(B[idx[k] * cols + c]);
              exact += term;
              magnitude += std::abs(term);
            }
            REQUIRE(std::abs(out[0][r * cols + c] - exact) <= 16 * 0x1p-24 * magnitude + 1e-15);
          }
      }
    }
  }
}

// The entropies' p·ln p (numerics 3): the own ln against the C library's double log on every
// binade of [1e-8, 1] (and a little above 1), each term within 2 ulp of float of p·ln p computed
// in double; the floor; NaN propagated, never hidden by the floor.
TEST_CASE("plogp_f32 is within 2 ulp of p ln p on [1e-8, 1], clamps at the floor, keeps NaN", "[simd]") {
  const float floor = 1e-8f;
  double worst = 0.0;
  for (float p = floor; p <= 1.25f; p = std::nextafter(p * 1.0001f, 2.0f)) {
    const double exact = double(p) * std::log(double(p));
    const float got = simd::plogp_f32(p, floor);
    if (exact != 0.0) worst = std::max(worst, std::fabs(got - exact) / std::fabs(exact));
    else REQUIRE(got == 0.0f);
  }
  INFO("worst relative error " << worst);
  CHECK(worst < 2.0 * 5.96e-8);
  CHECK(simd::plogp_f32(1.0f, floor) == 0.0f);
  CHECK(simd::plogp_f32(0.0f, floor) == simd::plogp_f32(floor, floor));
  CHECK(simd::plogp_f32(1e-30f, floor) == simd::plogp_f32(floor, floor));
  CHECK(simd::plogp_f32(-0.5f, floor) == simd::plogp_f32(floor, floor));
  CHECK(std::isnan(simd::plogp_f32(NAN, floor)));
  CHECK(std::isnan(simd::plogp_f32(INFINITY, floor)));
}

TEST_CASE("plogp_sum_f64: the same bits at every level, the scalar terms in 16 lanes", "[simd]") {
  LevelGuard guard;
  const auto levels = simd::available_levels();
  std::mt19937 rng(17);
  const float floor = 1e-8f;
  for (int len : {1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 4099}) {
    // Attention-like rows: most entries below or near the floor, a few large ones, exact 0 and 1.
    auto a = random_floats(size_t(len), rng, 0.0f, 1.0f);
    for (int j = 0; j < len; ++j) {
      if (j % 3 == 0) a[j] = a[j] * 1e-9f;
      if (j % 5 == 1) a[j] = a[j] * 1e-4f;
      if (j % 11 == 2) a[j] = 0.0f;
      if (j == len - 1 && len > 1) a[j] = 1.0f;
    }
    std::vector<double> sums;
    for (auto level : levels) {
      simd::set_active_level(level);
      sums.push_back(simd::plogp_sum_f64(a.data(), len, floor));
    }
    for (size_t l = 1; l < levels.size(); ++l) {
      INFO("len " << len << " level " << simd::level_name(levels[l]));
      CHECK(std::memcmp(&sums[l], &sums[0], sizeof(double)) == 0);  // NOLINT(bugprone-suspicious-memory-comparison): bit patterns compared on purpose, the sum must be the same bits at every level
    }
    // The definition: term j into lane j mod 16, lanes folded 8, 4, 2, 1.
    double lane[16] = {};
    for (int j = 0; j < len; ++j) lane[j % 16] += double(simd::plogp_f32(a[j], floor));
    for (int width = 8; width >= 1; width /= 2)
      for (int l = 0; l < width; ++l) lane[l] += lane[l + width];
    CHECK(std::memcmp(&sums[0], &lane[0], sizeof(double)) == 0);  // NOLINT(bugprone-suspicious-memory-comparison): bit patterns compared on purpose, the sum must be the lane definition's exact bits
    // And close to the double-precision sum.
    double exact = 0.0;
    for (float x : a) {
      const double p = std::max(double(x), double(floor));
      exact += p * std::log(p);
    }
    CHECK(sums[0] == Approx(exact).epsilon(1e-6));
  }
  // A NaN anywhere makes the sum NaN at every level.
  std::vector<float> row(37, 0.01f);
  row[20] = NAN;
  for (auto level : levels) {
    simd::set_active_level(level);
    CHECK(std::isnan(simd::plogp_sum_f64(row.data(), 37, floor)));
  }
  CHECK(simd::plogp_sum_f64(row.data(), 0, floor) == 0.0);
}

// K-norm's squared norms (numerics 3): the same bits at every level, the 16-lane definition, and
// within a few ulp of double of the exact sum (the squares are exact, only the 16 lane sums and
// the fold round).
TEST_CASE("sumsq_f64: the same bits at every level, the 16-lane definition, near the exact sum", "[simd]") {
  LevelGuard guard;
  const auto levels = simd::available_levels();
  std::mt19937 rng(23);
  for (int len : {1, 3, 8, 15, 16, 17, 64, 100, 128, 129, 1000}) {
    const auto x = random_floats(size_t(len), rng, -3.0f, 3.0f);
    std::vector<double> sums;
    for (auto level : levels) {
      simd::set_active_level(level);
      sums.push_back(simd::sumsq_f64(x.data(), len));
    }
    for (size_t l = 1; l < levels.size(); ++l) {
      INFO("len " << len << " level " << simd::level_name(levels[l]));
      CHECK(std::memcmp(&sums[l], &sums[0], sizeof(double)) == 0);  // NOLINT(bugprone-suspicious-memory-comparison): bit patterns compared on purpose, the sum must be the same bits at every level
    }
    double lane[16] = {};
    for (int j = 0; j < len; ++j) lane[j % 16] += double(x[j]) * double(x[j]);
    for (int width = 8; width >= 1; width /= 2)
      for (int l = 0; l < width; ++l) lane[l] += lane[l + width];
    CHECK(std::memcmp(&sums[0], &lane[0], sizeof(double)) == 0);  // NOLINT(bugprone-suspicious-memory-comparison): bit patterns compared on purpose, the sum must be the lane definition's exact bits
    long double exact = 0.0L;
    for (float v : x) exact += (long double)v * (long double)v;
    CHECK(sums[0] == Approx(double(exact)).epsilon(1e-14));
  }
  CHECK(simd::sumsq_f64(nullptr, 0) == 0.0);
}

// K-norm's batched sums (two keys per loop at the vector levels): each row's value is
// sumsq_f64's at the scalar level, bit for bit, for odd and even row counts and strided rows.
TEST_CASE("sumsq_rows_f64: each row is sumsq_f64's value at every level", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(29);
  for (int rows : {1, 2, 3, 6, 7})
    for (int len : {1, 7, 15, 16, 17, 64, 128, 129}) {
      const size_t stride = size_t(len) + 3;
      const auto x = random_floats(stride * size_t(rows), rng, -3.0f, 3.0f);
      simd::set_active_level(simd::Level::scalar);
      std::vector<double> expected(static_cast<size_t>(rows));
      for (int r = 0; r < rows; ++r) expected[r] = simd::sumsq_f64(x.data() + r * stride, len);
      for (auto level : simd::available_levels()) {
        simd::set_active_level(level);
        std::vector<double> out(static_cast<size_t>(rows), -1.0);
        simd::sumsq_rows_f64(x.data(), stride, rows, len, out.data());
        INFO("rows " << rows << " len " << len << " level " << simd::level_name(level));
        CHECK(same_bits(out, expected));
      }
    }
}

// K-norm's scores: −√x with IEEE roots at every level, bit for bit with −std::sqrt (−0 for 0,
// denormals, huge values, +inf; NaN for a negative input), over tails of every width.
TEST_CASE("neg_sqrt_f64: -std::sqrt at every level, bit for bit", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(43);
  for (int len : {1, 3, 4, 5, 8, 9, 17, 1000}) {
    std::vector<double> x(static_cast<size_t>(len));
    for (double& a : x) a = std::exp(std::uniform_real_distribution<double>(-700.0, 700.0)(rng));
    const double specials[] = {0.0, 4.9e-324, 2.2e-308, 1.0, 2.0, 1.7e308, INFINITY, -1.0};
    for (size_t i = 0; i < std::size(specials) && i < x.size(); ++i) x[(i * 7) % x.size()] = specials[i];
    std::vector<double> expected(x);
    for (double& a : expected) a = -std::sqrt(a);
    for (auto level : simd::available_levels()) {
      simd::set_active_level(level);
      auto out = x;
      out.push_back(-9.0);  // past len: untouched
      simd::neg_sqrt_f64(out.data(), len);
      INFO("len " << len << " level " << simd::level_name(level));
      CHECK(out.back() == -9.0);
      out.pop_back();
      for (int j = 0; j < len; ++j) {
        INFO("j " << j << " x " << x[size_t(j)]);
        if (std::isnan(expected[size_t(j)]))
          CHECK(std::isnan(out[size_t(j)]));
        else
          CHECK(std::bit_cast<uint64_t>(out[size_t(j)]) == std::bit_cast<uint64_t>(expected[size_t(j)]));
      }
    }
  }
}

// Column sums and votes add rows into double accumulators: one rounding per element, so every
// level gives acc[j] + double(x[j]) exactly, tails included.
TEST_CASE("add_f32_to_f64: acc[j] + double(x[j]) at every level", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(41);
  for (int len : {1, 3, 4, 5, 8, 9, 31, 1000}) {
    const auto x = random_floats(size_t(len), rng, -1e3f, 1e3f);
    std::vector<double> start(static_cast<size_t>(len));
    for (double& a : start) a = std::uniform_real_distribution<double>(-1.0, 1.0)(rng) / 3.0;
    std::vector<double> expected(start);
    for (int j = 0; j < len; ++j) expected[j] = expected[j] + double(x[j]);
    for (auto level : simd::available_levels()) {
      simd::set_active_level(level);
      auto acc = start;
      acc.push_back(-9.0);  // past len: untouched
      simd::add_f32_to_f64(acc.data(), x.data(), len);
      INFO("len " << len << " level " << simd::level_name(level));
      CHECK(acc.back() == -9.0);
      acc.pop_back();
      CHECK(same_bits(acc, expected));
    }
  }
}

// Several rows at once: per element, the rows' terms in ascending r, each one rounding, so any
// grouping of rows or columns gives the sequential sums' bits. Terms from 1e-6 to 1e6 make the
// order visible (the reversed order is checked to differ somewhere, so the test can fail).
TEST_CASE("add_rows_f32_to_f64: acc[j] + x[0][j] + x[1][j] + ... in row order at every level", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(43);
  for (int rows : {1, 2, 7, 8, 9, 17, 64})
    for (int len : {1, 5, 8, 31, 33, 100, 1000}) {
      const size_t ld = size_t(len) + 3;
      std::vector<float> x(ld * size_t(rows));
      for (float& v : x)
        v = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng) *
            std::pow(10.0f, float(std::uniform_int_distribution<int>(-6, 6)(rng)));
      std::vector<double> start(static_cast<size_t>(len));
      for (double& a : start) a = std::uniform_real_distribution<double>(-1.0, 1.0)(rng) / 3.0;
      std::vector<double> expected(start), reversed(start);
      for (int j = 0; j < len; ++j) {
        for (int r = 0; r < rows; ++r) expected[j] = expected[j] + double(x[r * ld + j]);
        for (int r = rows - 1; r >= 0; --r) reversed[j] = reversed[j] + double(x[r * ld + j]);
      }
      if (rows >= 8 && len >= 31) CHECK_FALSE(same_bits(reversed, expected));
      for (auto level : simd::available_levels()) {
        simd::set_active_level(level);
        auto acc = start;
        acc.push_back(-9.0);  // past len: untouched
        simd::add_rows_f32_to_f64(acc.data(), x.data(), ld, rows, len);
        INFO("rows " << rows << " len " << len << " level " << simd::level_name(level));
        CHECK(acc.back() == -9.0);
        acc.pop_back();
        CHECK(same_bits(acc, expected));
      }
    }
}

// The selection helpers compare only, so every level must give the definitions' results exactly:
// rows with ties, signed zeros, infinities and NaNs (never taken, never counted), lengths below,
// at and above the 128 classes and with tails past the vector lanes.
namespace {

std::vector<float> selection_row(int len, int shape, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(len));
  for (int j = 0; j < len; ++j) {
    switch (shape) {
      case 0: x[j] = std::uniform_real_distribution<float>(0.0f, 1.0f)(rng); break;
      case 1: x[j] = float(j); break;                 // rising: the maxima at the end
      case 2: x[j] = float(rng() % 5) - 2.0f; break;  // few distinct values, negatives
      default: {
        constexpr float kOdd[] = {-0.0f, 0.0f, NAN, INFINITY, -INFINITY, 1e-40f, -3.5f, 7.0f};
        x[j] = kOdd[rng() % 8];
        break;
      }
    }
  }
  return x;
}

}  // namespace

TEST_CASE("interleaved_max_f32: the classes' maxima, NaN never taken, at every level", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(53);
  for (int len : {1, 5, 16, 127, 128, 129, 300, 2048, 2061})
    for (int shape = 0; shape < 4; ++shape) {
      const auto x = selection_row(len, shape, rng);
      std::vector<float> expected(simd::kInterleave, -INFINITY);
      for (int j = 0; j < len; ++j) {
        float& m = expected[size_t(j % simd::kInterleave)];
        m = x[j] > m ? x[j] : m;
      }
      for (auto level : simd::available_levels()) {
        simd::set_active_level(level);
        std::vector<float> out(simd::kInterleave, 42.0f);
        simd::interleaved_max_f32(x.data(), len, out.data());
        INFO("len " << len << " shape " << shape << " level " << simd::level_name(level));
        CHECK(same_bits(out, expected));
      }
    }
}

TEST_CASE("positions_ge_f32 and kth_largest_f32: the definitions at every level", "[simd]") {
  LevelGuard guard;
  std::mt19937 rng(59);
  for (int len : {1, 5, 16, 17, 100, 128, 1000})
    for (int shape = 0; shape < 4; ++shape) {
      const auto x = selection_row(len, shape, rng);
      std::vector<float> sorted;  // the non-NaN values, largest first
      for (float v : x)
        if (!std::isnan(v)) sorted.push_back(v);
      std::sort(sorted.begin(), sorted.end(), std::greater<float>());
      for (float bound : {-INFINITY, -2.0f, -0.0f, 0.0f, 0.5f, 7.0f, INFINITY, NAN}) {
        std::vector<int> expected;
        for (int j = 0; j < len; ++j)
          if (x[j] >= bound) expected.push_back(j);
        for (auto level : simd::available_levels()) {
          simd::set_active_level(level);
          std::vector<int> out(static_cast<size_t>(len) + 1, -1);
          const int count = simd::positions_ge_f32(x.data(), len, bound, out.data());
          INFO("len " << len << " shape " << shape << " bound " << bound << " level " << simd::level_name(level));
          CHECK(std::vector<int>(out.begin(), out.begin() + count) == expected);
          CHECK(out[size_t(len)] == -1);  // [count, len) may be scratch, nothing past len
        }
      }
      for (int k = 1; k <= int(sorted.size()); k += std::max(1, int(sorted.size()) / 7)) {
        // The k-th largest value: k values at or above it (as floats), fewer above it.
        const float want = sorted[size_t(k - 1)];
        for (auto level : simd::available_levels()) {
          simd::set_active_level(level);
          const float got = simd::kth_largest_f32(x.data(), len, k);
          INFO("len " << len << " shape " << shape << " k " << k << " level " << simd::level_name(level));
          CHECK(got == want);
          CHECK(std::count_if(x.begin(), x.end(), [&](float v) { return v >= got; }) >= k);
        }
      }
    }
}

TEST_CASE("$CKV_SIMD names a level; unknown or unsupported levels are refused", "[simd]") {
  LevelGuard guard;
  CHECK(std::string(simd::level_name(simd::Level::avx2)) == "avx2");
  if (simd::detected_level() != simd::Level::avx512)
    CHECK_THROWS_WITH(simd::set_active_level(simd::Level::avx512), Catch::Contains("not supported here"));
}
