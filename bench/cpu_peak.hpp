// The fp32 multiply-add peak of the best SIMD instruction set the CPU offers, measured by a
// microkernel written for that instruction set (runtime dispatch), so that %flop compares a
// kernel with what the hardware can do and not with what the project's baseline flags
// (x86-64: SSE2, no FMA) let the compiler emit.
//
// Each kernel runs `kChains` independent accumulator chains x = x·a + b in vector registers:
// enough chains to cover the FMA latency on every FMA port (latency 4–5 cycles × 2 ports needs
// 8–10 chains; 12 or 16 are used), nothing but FMAs in the loop body, and the chains' sum
// returned, so the compiler can neither drop nor shorten the loop. The ideal is
// cores × GHz × lanes × 2 × FMA ports (AVX-512 on a two-port Xeon: 16 × 2 × 2 = 64 flop per
// cycle per core; AVX2 + FMA: 32; SSE mul + add: 8–16).
//
// Header-only like harness.hpp. Non-x86 builds have the portable loop only ("generic").
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CKV_BENCH_X86 1
#endif

namespace ckv::bench {

enum class PeakIsa { generic,
                     sse,
                     avx2_fma,
                     avx512f };

inline const char* isa_name(PeakIsa isa) {
  switch (isa) {
    case PeakIsa::generic: return "generic";
    case PeakIsa::sse: return "sse";
    case PeakIsa::avx2_fma: return "avx2+fma";
    case PeakIsa::avx512f: return "avx512f";
  }
  return "?";
}

// fp32 lanes per vector and flops per lane per loop trip (one FMA, or one mul + one add).
inline int isa_lanes(PeakIsa isa) {
  switch (isa) {
    case PeakIsa::avx512f: return 16;
    case PeakIsa::avx2_fma: return 8;
    case PeakIsa::sse: return 4;
    case PeakIsa::generic: return 1;
  }
  return 1;
}

namespace peak_detail {

// Repeats a statement for chain indices 0..11 / 0..15 (explicit, so that every chain is its
// own register whatever the optimisation level).
#define CKV_PEAK_REP12(S) S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)
#define CKV_PEAK_REP16(S) CKV_PEAK_REP12(S) S(12) S(13) S(14) S(15)

constexpr int kChainsAvx512 = 16;  // 32 zmm registers: 16 chains + a + b
constexpr int kChainsAvx2 = 12;    // 16 ymm registers: 12 chains + a + b
constexpr int kChainsSse = 12;     // mul + add: latency 6–8 cycles per trip, 2 pipes
constexpr int kChainsGeneric = 12;

#ifdef CKV_BENCH_X86
__attribute__((target("avx512f"))) inline float run_avx512(long trips, float a_in, float b_in) {
  const __m512 a = _mm512_set1_ps(a_in), b = _mm512_set1_ps(b_in);
#define CKV_PEAK_INIT(i) __m512 x##i = _mm512_set1_ps(1.0f + 0.01f * i);
#define CKV_PEAK_STEP(i) x##i = _mm512_fmadd_ps(x##i, a, b);
#define CKV_PEAK_SUM(i) sum = _mm512_add_ps(sum, x##i);
  CKV_PEAK_REP16(CKV_PEAK_INIT)
  for (long t = 0; t < trips; ++t) {
    CKV_PEAK_REP16(CKV_PEAK_STEP)
  }
  __m512 sum = _mm512_setzero_ps();
  CKV_PEAK_REP16(CKV_PEAK_SUM)
#undef CKV_PEAK_INIT
#undef CKV_PEAK_STEP
#undef CKV_PEAK_SUM
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

__attribute__((target("avx2,fma"))) inline float run_avx2(long trips, float a_in, float b_in) {
  const __m256 a = _mm256_set1_ps(a_in), b = _mm256_set1_ps(b_in);
#define CKV_PEAK_INIT(i) __m256 x##i = _mm256_set1_ps(1.0f + 0.01f * i);
#define CKV_PEAK_STEP(i) x##i = _mm256_fmadd_ps(x##i, a, b);
#define CKV_PEAK_SUM(i) sum = _mm256_add_ps(sum, x##i);
  CKV_PEAK_REP12(CKV_PEAK_INIT)
  for (long t = 0; t < trips; ++t) {
    CKV_PEAK_REP12(CKV_PEAK_STEP)
  }
  __m256 sum = _mm256_setzero_ps();
  CKV_PEAK_REP12(CKV_PEAK_SUM)
#undef CKV_PEAK_INIT
#undef CKV_PEAK_STEP
#undef CKV_PEAK_SUM
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

// The baseline every x86-64 CPU has: SSE multiply, then add (no FMA instruction).
inline float run_sse(long trips, float a_in, float b_in) {
  const __m128 a = _mm_set1_ps(a_in), b = _mm_set1_ps(b_in);
#define CKV_PEAK_INIT(i) __m128 x##i = _mm_set1_ps(1.0f + 0.01f * i);
#define CKV_PEAK_STEP(i) x##i = _mm_add_ps(_mm_mul_ps(x##i, a), b);
#define CKV_PEAK_SUM(i) sum = _mm_add_ps(sum, x##i);
  CKV_PEAK_REP12(CKV_PEAK_INIT)
  for (long t = 0; t < trips; ++t) {
    CKV_PEAK_REP12(CKV_PEAK_STEP)
  }
  __m128 sum = _mm_setzero_ps();
  CKV_PEAK_REP12(CKV_PEAK_SUM)
#undef CKV_PEAK_INIT
#undef CKV_PEAK_STEP
#undef CKV_PEAK_SUM
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, sum);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}
#endif

// Portable: scalar chains the compiler vectorises as the build flags allow.
inline float run_generic(long trips, float a, float b) {
  float x[kChainsGeneric];
  for (int c = 0; c < kChainsGeneric; ++c) x[c] = 1.0f + 0.01f * c;
  for (long t = 0; t < trips; ++t)
    for (int c = 0; c < kChainsGeneric; ++c) x[c] = x[c] * a + b;
  float total = 0;
  for (float v : x) total += v;
  return total;
}

inline int chains(PeakIsa isa) {
  switch (isa) {
    case PeakIsa::avx512f: return kChainsAvx512;
    case PeakIsa::avx2_fma: return kChainsAvx2;
    case PeakIsa::sse: return kChainsSse;
    case PeakIsa::generic: return kChainsGeneric;
  }
  return 1;
}

inline float run(PeakIsa isa, long trips, float a, float b) {
#ifdef CKV_BENCH_X86
  switch (isa) {
    case PeakIsa::avx512f: return run_avx512(trips, a, b);
    case PeakIsa::avx2_fma: return run_avx2(trips, a, b);
    case PeakIsa::sse: return run_sse(trips, a, b);
    case PeakIsa::generic: break;
  }
#endif
  return run_generic(trips, a, b);
}

}  // namespace peak_detail

inline bool isa_supported(PeakIsa isa) {
#ifdef CKV_BENCH_X86
  __builtin_cpu_init();
  switch (isa) {
    case PeakIsa::avx512f: return __builtin_cpu_supports("avx512f");
    case PeakIsa::avx2_fma: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PeakIsa::sse: return true;
    case PeakIsa::generic: return true;
  }
  return false;
#else
  return isa == PeakIsa::generic;
#endif
}

// The widest instruction set this CPU (and its OS) supports.
inline PeakIsa best_isa() {
  for (PeakIsa isa : {PeakIsa::avx512f, PeakIsa::avx2_fma, PeakIsa::sse})
    if (isa_supported(isa)) return isa;
  return PeakIsa::generic;
}

// "avx512f", "avx2" / "avx2+fma", "sse", "generic" -> the ISA; false when unknown.
inline bool parse_isa(const std::string& name, PeakIsa& out) {
  if (name == "avx512f" || name == "avx512") out = PeakIsa::avx512f;
  else if (name == "avx2" || name == "avx2+fma" || name == "fma") out = PeakIsa::avx2_fma;
  else if (name == "sse" || name == "baseline") out = PeakIsa::sse;
  else if (name == "generic") out = PeakIsa::generic;
  else return false;
  return true;
}

// GFLOP/s of `threads` threads each running `isa`'s chains (2 flops per lane per trip): the
// best of 60 runs of ~2 ms each (the trip count is calibrated on one thread first). Short runs
// and the best of many: on a shared machine some run is not preempted, and that one measures
// the hardware rather than the load.
inline double fma_peak_gflops(PeakIsa isa, int threads) {
  using namespace peak_detail;
  // a and b come from memory the compiler cannot see through, so nothing is folded.
  volatile float a_source = 0.99999f, b_source = 1e-5f;
  const float a = a_source, b = b_source;
  long trips = 1 << 10;
  for (;;) {  // calibrate: one thread, until a run takes >= 2 ms
    const double start = monotonic_seconds();
    volatile float sink = run(isa, trips, a, b);
    (void)sink;
    const double took = monotonic_seconds() - start;
    if (took >= 0.002 || trips > (1L << 40)) break;
    trips = took < 1e-3 ? trips * 16 : long(double(trips) * 0.0025 / took) + 1;
  }
  std::vector<float> results(threads);
  double best = 1e300;
  for (int r = 0; r < 60; ++r) {
    const double start = monotonic_seconds();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { results[t] = run(isa, trips, a, b + 1e-9f * t); });
    for (auto& th : pool) th.join();
    best = std::min(best, monotonic_seconds() - start);
  }
  volatile float sink = results[0];
  (void)sink;
  return 2.0 * chains(isa) * isa_lanes(isa) * double(trips) * threads / best / 1e9;
}

// ---- read bandwidth by working set ----------------------------------------------------------
// One thread summing a buffer of `bytes` over and over with `isa`'s widest loads (four
// independent vector accumulators, nothing else in the loop): the rate at which the level of
// the memory hierarchy holding that working set delivers data to one core (L2, L3 or DRAM by
// size). STREAM's triad measures DRAM with writes; a row whose data fits in a cache reads faster
// than it, so its %bw is judged against the read rate of a working set its size.

// The shortest of `reps` timed calls of `run` (seconds): on a shared machine some call escapes
// the other processes, and that one measures the hardware.
template <class Run>
double best_seconds(Run&& run, int reps = 5) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const double start = monotonic_seconds();
    run();
    best = std::min(best, monotonic_seconds() - start);
  }
  return best;
}

namespace read_detail {

template <int L>
float lane_sum(const float (&lane)[L]) {
  float total = 0;
  for (float v : lane) total += v;
  return total;
}

#ifdef CKV_BENCH_X86
__attribute__((target("avx512f"))) inline float sum_avx512(const float* x, size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(x + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(x + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(x + i + 48));
  }
  float lane[16];
  _mm512_storeu_ps(lane, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  return lane_sum(lane);
}

__attribute__((target("avx2"))) inline float sum_avx2(const float* x, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(x + i + 24));
  }
  float lane[8];
  _mm256_storeu_ps(lane, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return lane_sum(lane);
}
#endif

inline float sum_generic(const float* x, size_t n) {
  float a[4] = {};
  for (size_t i = 0; i < n; i += 4)
    for (int l = 0; l < 4; ++l) a[l] += x[i + l];
  return a[0] + a[1] + a[2] + a[3];
}

inline float sum(PeakIsa isa, const float* x, size_t n) {
#ifdef CKV_BENCH_X86
  if (isa == PeakIsa::avx512f) return sum_avx512(x, n);
  if (isa == PeakIsa::avx2_fma) return sum_avx2(x, n);
#endif
  return sum_generic(x, n);
}

}  // namespace read_detail

// GB/s of one thread reading a `bytes` working set (a multiple of 256 bytes is used): each
// timing reads at least 64 MiB (the set repeated), best of 5 after one warm pass.
inline double read_gbs(size_t bytes, PeakIsa isa) {
  const size_t floats = std::max<size_t>(64, bytes / sizeof(float) / 64 * 64);
  float* x = static_cast<float*>(std::aligned_alloc(64, floats * sizeof(float)));
  if (!x) return 0;
  for (size_t i = 0; i < floats; ++i) x[i] = 1.0f;
  const size_t passes = std::max<size_t>(1, (size_t(64) << 20) / (floats * sizeof(float)));
  float total = 0;
  auto run = [&] {
    for (size_t p = 0; p < passes; ++p) total += read_detail::sum(isa, x, floats);
  };
  run();
  const double best = best_seconds(run);
  volatile float sink = total;
  (void)sink;
  std::free(x);
  return double(passes) * double(floats * sizeof(float)) / best / 1e9;
}

// Read rates at working sets from 256 KiB to 64 MiB (doubling) and 256 MiB (DRAM on any
// current CPU). limit_for(bytes): the rate of the smallest set at least `bytes` large.
struct ReadLadder {
  std::vector<std::pair<size_t, double>> points;  // (bytes, GB/s), ascending bytes

  static ReadLadder measure(PeakIsa isa) {
    ReadLadder ladder;
    for (size_t bytes = size_t(256) << 10; bytes <= (size_t(64) << 20); bytes *= 2)
      ladder.points.emplace_back(bytes, read_gbs(bytes, isa));
    ladder.points.emplace_back(size_t(256) << 20, read_gbs(size_t(256) << 20, isa));
    return ladder;
  }
  // The better of two measurements per point (a burst of load during one does not lower it).
  void keep_best(const ReadLadder& other) {
    for (size_t i = 0; i < points.size() && i < other.points.size(); ++i)
      points[i].second = std::max(points[i].second, other.points[i].second);
  }
  double limit_for(double bytes) const {
    for (const auto& [size, gbs] : points)
      if (double(size) >= bytes) return gbs;
    return points.empty() ? 0 : points.back().second;
  }
  std::string text() const {
    std::string out;
    for (const auto& [size, gbs] : points) {
      char item[48];
      if (size >= (size_t(1) << 20))
        std::snprintf(item, sizeof item, "%s%zu MiB %.0f", out.empty() ? "" : ", ", size >> 20, gbs);
      else
        std::snprintf(item, sizeof item, "%s%zu KiB %.0f", out.empty() ? "" : ", ", size >> 10, gbs);
      out += item;
    }
    return out + " GB/s";
  }
};

// The clock /proc/cpuinfo reports for the first CPU (MHz; 0 when unknown). Under a hypervisor
// or with turbo it is the nominal clock, not necessarily the one the cores run at.
inline double cpuinfo_mhz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("cpu MHz", 0) == 0) return std::atof(line.substr(line.find(':') + 1).c_str());
  return 0;
}

}  // namespace ckv::bench
