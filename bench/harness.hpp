// A tiny benchmark harness (nccl-tests' common.cu in spirit): warm-up, repeated timing,
// correctness check and one table line per case, with achieved GB/s and GFLOP/s next to the
// measured limits of the device. Header-only so that every bench_*.cpp can use it.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/cpu_peak.hpp"
#include "common/clock.hpp"
#include "configuration/configuration.hpp"

namespace ckv::bench {

// The configurations the benchmarks run: built by the configuration module like every other
// place (tests/test_spec_identity.cpp checks the hash against spec, inspect and export-keep).
// `budget` is left out for methods that evict nothing.
inline Configuration bench_configuration(const std::string& method, json given = json::object(),
                                         const EvalSettings& eval = {}) {
  return Configuration::make(method, given, eval);
}

struct Timing {
  int iterations = 0;
  double mean_s = 0, min_s = 0, median_s = 0;
  bool warmup_timed = false;  // the warm-up took long: one call after it was timed, once
};

// The clock time_calls reads: wall time, or with CKV_BENCH_CLOCK=cpu the process's CPU time
// (user + system of all its threads), which other processes on a shared machine inflate much
// less; with CKV_KERNEL_THREADS=1 a row's CPU time is its one core's time.
inline double bench_seconds() {
  static const bool cpu = [] {
    const char* clock = std::getenv("CKV_BENCH_CLOCK");
    return clock && std::string(clock) == "cpu";
  }();
  if (!cpu) return monotonic_seconds();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// One warm-up call, then calls until `min_seconds` have passed (at least 3, at most
// `max_iterations`). After a warm-up longer than `single_run_seconds`, one more call is the only
// timed iteration instead of repeating a multi-second run (flagged in the table): the first
// call can be dominated by the first touch of fresh memory (on the development VM, a 32k
// window row's 300 MB took 2.3-2.9 s the first time and 0.15 s after), which a campaign's worker
// pays once, not per layer.
inline Timing time_calls(const std::function<void()>& call, double min_seconds = 0.5,
                         int max_iterations = 100, double single_run_seconds = 2.0) {
  Timing t;
  double start = bench_seconds();
  call();
  const double warmup = bench_seconds() - start;
  if (warmup > single_run_seconds) {
    start = bench_seconds();
    call();
    t.iterations = 1;
    t.mean_s = t.min_s = t.median_s = bench_seconds() - start;
    t.warmup_timed = true;
    return t;
  }
  double total = 0;
  std::vector<double> times;
  while (t.iterations < max_iterations && (t.iterations < 3 || total < min_seconds)) {
    start = bench_seconds();
    call();
    const double s = bench_seconds() - start;
    total += s;
    times.push_back(s);
    ++t.iterations;
  }
  std::sort(times.begin(), times.end());
  t.mean_s = total / t.iterations;
  t.min_s = times.front();
  t.median_s = times.size() % 2 ? times[times.size() / 2]
                                : 0.5 * (times[times.size() / 2 - 1] + times[times.size() / 2]);
  return t;
}

// ---- CPU limits, measured at startup (STREAM triad here; FMA peak: bench/cpu_peak.hpp) ----

struct CpuLimits {
  int threads = 1;
  double triad_gbs = 0;   // STREAM triad a = b + s·c, 24 bytes per element (STREAM's count)
  double fma_gflops = 0;  // fp32 FMA peak of `isa`'s microkernel, 2 flops per lane per FMA
  PeakIsa isa = PeakIsa::generic;
};

// STREAM triad over `elements` doubles per array, split over `threads`; best of 5.
inline double stream_triad_gbs(int threads, size_t elements) {
  std::vector<double> a(elements, 0.0), b(elements, 1.0), c(elements, 2.0);
  auto run = [&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t lo = elements * t / threads, hi = elements * (t + 1) / threads;
        double* __restrict pa = a.data();
        const double* __restrict pb = b.data();
        const double* __restrict pc = c.data();
        for (size_t i = lo; i < hi; ++i) pa[i] = pb[i] + 3.0 * pc[i];
      });
    for (auto& th : pool) th.join();
  };
  run();
  const double best = best_seconds(run);
  volatile double sink = a[elements / 2];
  (void)sink;
  return 24.0 * double(elements) / best / 1e9;
}

// STREAM triad and the fp32 multiply-add peak of `isa`'s microkernel (bench/cpu_peak.hpp;
// best_isa() is the widest the CPU offers) on `threads` threads.
inline CpuLimits measure_cpu_limits(int threads, PeakIsa isa, size_t triad_elements = size_t(1) << 24) {
  CpuLimits l;
  l.threads = threads;
  l.isa = isa;
  l.triad_gbs = stream_triad_gbs(threads, triad_elements);
  l.fma_gflops = fma_peak_gflops(isa, threads);
  return l;
}

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// ---- the table ----------------------------------------------------------------------------

struct Row {
  std::string device, kernel, shape;
  Timing timing;
  double bytes = 0, flops = 0;
  double bandwidth_limit_gbs = 0, flop_limit_gflops = 0;
  std::string check;  // "ok (...)", "FAIL (...)" or why it was skipped
  bool skipped = false;
};

inline void print_header() {
  std::printf("%-5s %-22s %-22s %5s %11s %9s %6s %10s %6s  %s\n", "dev", "kernel", "shape", "iters",
              "median_ms", "GB/s", "%bw", "GFLOP/s", "%flop", "check");
}

inline void print_row(const Row& r) {
  if (r.skipped) {
    std::printf("%-5s %-22s %-22s %5s %11s %9s %6s %10s %6s  %s\n", r.device.c_str(),
                r.kernel.c_str(), r.shape.c_str(), "-", "-", "-", "-", "-", "-", r.check.c_str());
    return;
  }
  const double s = r.timing.median_s;
  const double gbs = r.bytes / s / 1e9, gflops = r.flops / s / 1e9;
  // No byte or flop count (walkers, trivial methods): the rate columns are "-".
  auto rate = [](double count, double value, const char* format) {
    char buffer[32];
    if (count > 0) std::snprintf(buffer, sizeof buffer, format, value);
    else std::snprintf(buffer, sizeof buffer, "-");
    return std::string(buffer);
  };
  std::printf("%-5s %-22s %-22s %4d%s %11.3f %9s %6s %10s %6s  %s\n", r.device.c_str(),
              r.kernel.c_str(), r.shape.c_str(), r.timing.iterations,
              r.timing.warmup_timed ? "*" : " ", s * 1e3, rate(r.bytes, gbs, "%.2f").c_str(),
              rate(r.bytes * r.bandwidth_limit_gbs, 100.0 * gbs / r.bandwidth_limit_gbs, "%.1f%%").c_str(),
              rate(r.flops, gflops, "%.2f").c_str(),
              rate(r.flops * r.flop_limit_gflops, 100.0 * gflops / r.flop_limit_gflops, "%.1f%%").c_str(),
              r.check.c_str());
  std::fflush(stdout);
}

// ---- machine-readable rows (bench_kernels --format csv|json) ------------------------------
// One record per (device, kernel, shape); a rate or ratio without a count is empty (csv) or
// null (json), a skipped row has no timing. `status` is ok, FAIL or skipped.

inline std::string row_status(const Row& r) {
  if (r.skipped) return "skipped";
  return r.check.rfind("ok", 0) == 0 ? "ok" : "FAIL";
}

inline std::string csv_field(const std::string& text) {  // RFC 4180 quoting when needed
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

inline const char* csv_header() {
  return "dev,kernel,shape,iters,timed_once,median_ms,min_ms,mean_ms,bytes,flops,gbs,pct_bw,"
         "gflops,pct_flop,bw_limit_gbs,flop_limit_gflops,status,check";
}

inline std::string csv_line(const Row& r) {
  auto number = [](bool present, double value) {
    if (!present) return std::string();
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%.10g", value);
    return std::string(buffer);
  };
  const bool timed = !r.skipped;
  const double s = r.timing.median_s;
  const double gbs = timed ? r.bytes / s / 1e9 : 0, gflops = timed ? r.flops / s / 1e9 : 0;
  std::string line = csv_field(r.device) + "," + csv_field(r.kernel) + "," + csv_field(r.shape);
  for (const std::string& cell :
       {number(timed, r.timing.iterations), number(timed, r.timing.warmup_timed ? 1 : 0),
        number(timed, s * 1e3), number(timed, r.timing.min_s * 1e3), number(timed, r.timing.mean_s * 1e3),
        number(r.bytes > 0, r.bytes), number(r.flops > 0, r.flops), number(timed && r.bytes > 0, gbs),
        number(timed && r.bytes > 0 && r.bandwidth_limit_gbs > 0, 100.0 * gbs / r.bandwidth_limit_gbs),
        number(timed && r.flops > 0, gflops),
        number(timed && r.flops > 0 && r.flop_limit_gflops > 0, 100.0 * gflops / r.flop_limit_gflops),
        number(r.bandwidth_limit_gbs > 0, r.bandwidth_limit_gbs),
        number(r.flop_limit_gflops > 0, r.flop_limit_gflops), row_status(r), csv_field(r.check)})
    line += "," + cell;
  return line;
}

inline json row_json(const Row& r) {
  json out = {{"dev", r.device}, {"kernel", r.kernel}, {"shape", r.shape}, {"status", row_status(r)}, {"check", r.check}};
  auto put = [&](const char* key, bool present, double value) {
    out[key] = present ? json(value) : json(nullptr);
  };
  const bool timed = !r.skipped;
  const double s = r.timing.median_s;
  const double gbs = timed ? r.bytes / s / 1e9 : 0, gflops = timed ? r.flops / s / 1e9 : 0;
  out["iters"] = timed ? json(r.timing.iterations) : json(nullptr);
  out["timed_once"] = timed && r.timing.warmup_timed;
  put("median_ms", timed, s * 1e3);
  put("min_ms", timed, r.timing.min_s * 1e3);
  put("mean_ms", timed, r.timing.mean_s * 1e3);
  put("bytes", r.bytes > 0, r.bytes);
  put("flops", r.flops > 0, r.flops);
  put("gbs", timed && r.bytes > 0, gbs);
  put("pct_bw", timed && r.bytes > 0 && r.bandwidth_limit_gbs > 0, 100.0 * gbs / r.bandwidth_limit_gbs);
  put("gflops", timed && r.flops > 0, gflops);
  put("pct_flop", timed && r.flops > 0 && r.flop_limit_gflops > 0, 100.0 * gflops / r.flop_limit_gflops);
  put("bw_limit_gbs", r.bandwidth_limit_gbs > 0, r.bandwidth_limit_gbs);
  put("flop_limit_gflops", r.flop_limit_gflops > 0, r.flop_limit_gflops);
  return out;
}

// Normalised mean squared error of `x` against the reference `ref` (llama.cpp's NMSE).
inline double nmse(const std::vector<double>& ref, const std::vector<double>& x) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size() && i < x.size(); ++i) {
    num += (x[i] - ref[i]) * (x[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? num / den : num;
}

}  // namespace ckv::bench
