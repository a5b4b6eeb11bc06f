// Kernel benchmark (docs/spec/MISSION.md R12): per kernel and shape, time, achieved GB/s and GFLOP/s, and the ratio
// to the limits measured at startup (CPU: STREAM triad, the one-thread read rate by working set
// from 256 KiB to 256 MiB (a row's %bw is against the set its bytes fit in), and the fp32 FMA
// peak of the widest SIMD instruction set the CPU offers, measured by a microkernel written for
// it (bench/cpu_peak.hpp), single thread and all threads; GPU: datasheet bandwidth from the device attributes, a measured
// device-to-device copy and an FMA loop). Between the peak and the kernels, the header gives the
// single-thread rate of a tuned matrix product (OpenBLAS sgemm) on the attention's shapes
// (bench/matrix_product.hpp). CPU always; CUDA when built with it and a device is visible.
// One table row per kernel: a CircuitKV kernel is one more entry in kernel_cases().
//
//   bench_kernels [--shapes small,qwen-2k,qwen-8k,qwen-32k] [--cpu-max-gflop 40]
//                 [--min-time 0.5] [--cpu-only] [--cuda-only] [--only NAME,...]
//                 [--format table|csv|json] [--peak-isa avx512f|avx2|sse]
//
// --format csv|json: one record per (dev, kernel, shape) on stdout (median_ms and the rest), the
// header lines on stderr, so that a script can join rows (bench/torch-compare.sh does).
// --peak-isa measures the FMA peak with a narrower instruction set than the widest.
//
// Rows: the shared stages (window attention, column sums, SnapKV votes, key norms), then every
// registry method (its default configuration: scores plus selection at B = 2048, or n/2 when
// n <= 2048), the proxy metrics of one layer (m = 64 answer tokens), and a whole window-method
// unit (snapkv: scores, selection and every metric over 4 layers). Time is the median of the
// timed calls after one warm-up call. %flop of CPU rows is against the 1-thread FMA peak; the
// header says how many threads the kernels may use (CKV_KERNEL_THREADS). CKV_BENCH_CLOCK=cpu
// times the rows in process CPU time instead of wall time (for a machine others are loading).
//
// Bytes are what must move at least: Q/K reads and the outputs. FLOPs: 2·d per q·k dot plus 5
// per attention entry for the softmax (scale, max subtract, exp, sum, normalise), plus the
// method's own reductions; the GPU column sums recompute each dot twice (row statistics, then
// sums), which the counts do not include (algorithmic work, as nccl-tests' algbw).
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness.hpp"
#include "bench/matrix_product.hpp"
#include "common/heap.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/registry.hpp"
#include "kernels/stages/threads.hpp"
#include "worker/metrics.hpp"
#ifdef CKV_HAVE_CUDA
#include "kernels/cuda/device_limits.hpp"
#include "kernels/knorm/knorm_kernels.hpp"
#include "kernels/snapkv/snapkv_kernels.hpp"
#include "kernels/stages/attention_kernels.hpp"
#include "worker/metrics_kernels.hpp"
#endif

using namespace ckv;
using namespace ckv::bench;

namespace {

struct Shape {
  std::string name;
  int H, G, d, n, w;
  std::string text() const {
    return "H" + std::to_string(H) + " G" + std::to_string(G) + " d" + std::to_string(d) + " n" +
           std::to_string(n);
  }
};

const std::vector<Shape> kShapes = {
    {"small", 8, 2, 64, 512, 64},
    {"qwen-2k", 28, 4, 128, 2048, 64},  // Qwen2.5-7B-like layer
    {"qwen-8k", 28, 4, 128, 8192, 64},
    {"qwen-32k", 28, 4, 128, 32768, 64},
};

constexpr int kAnswerTokens = 64;

// A random layer (unit-normal K and V, Q of logit spread ~1.5), full capture, with m answer
// tokens for the metrics.
struct BenchLayer {
  std::vector<float> q, k, v, q_answer, k_answer, v_answer;
  LayerInput input;
  explicit BenchLayer(const Shape& s) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    q.resize(size_t(s.H) * s.n * s.d);
    k.resize(size_t(s.G) * s.n * s.d);
    v.resize(size_t(s.G) * s.n * s.d);
    q_answer.resize(size_t(s.H) * kAnswerTokens * s.d);
    k_answer.resize(size_t(s.G) * kAnswerTokens * s.d);
    v_answer.resize(size_t(s.G) * kAnswerTokens * s.d);
    for (float& x : q) x = 1.5f * normal(rng);
    for (float& x : k) x = normal(rng);
    for (float& x : v) x = normal(rng);
    for (float& x : q_answer) x = 1.5f * normal(rng);
    for (float& x : k_answer) x = normal(rng);
    for (float& x : v_answer) x = normal(rng);
    input.m = kAnswerTokens;
    input.q_answer = q_answer.data();
    input.k_answer = k_answer.data();
    input.v_answer = v_answer.data();
    input.num_layers_model = 28;
    input.H = s.H;
    input.G = s.G;
    input.d = s.d;
    input.n = s.n;
    input.r = s.n;
    input.q = q.data();
    input.k = k.data();
    input.v = v.data();
    input.sample = "bench/" + s.name;
  }
};

double window_pairs(const Shape& s) {  // Σ over the window rows of the keys each row sees
  const double w = std::min(s.w, s.n);
  return w * (s.n - w) + w * (w + 1) / 2;
}
double attention_flops(const Shape& s, double pairs) { return s.H * pairs * (2.0 * s.d + 5); }
double qk_bytes(const Shape& s, int rows) { return 4.0 * (double(s.H) * rows * s.d + double(s.G) * s.n * s.d); }

struct Check {
  bool ok = true;
  std::string text;
};

using Deferred = std::function<std::vector<double>()>;
Deferred ready(std::vector<double> values) {
  return [values = std::move(values)] { return values; };
}

struct KernelCase {
  std::string name;
  std::function<double(const Shape&)> bytes, flops;
  // One call on a fresh LayerContext (so nothing is memoised), the timed part; it returns the
  // conversion of its result to doubles for the check, run after the timing (a sum or copy of
  // 3.7 million window entries took a quarter of the window row's time at n = 2048).
  std::function<Deferred(const LayerInput&, const Shape&)> cpu;
  std::function<Check(const Shape&, const std::vector<double>&)> check;  // invariants
#ifdef CKV_HAVE_CUDA
  std::function<void(cuda::LayerKernels&, const Shape&)> cuda_run;  // recompute, stay on device
  std::function<std::vector<double>(cuda::LayerKernels&, const Shape&)> cuda_result;
#endif
  // A method row on the device: the whole scoring call on a context bound to GPU 0 (the twin's
  // host glue and copies included), for methods that have a CUDA twin.
  std::function<std::vector<double>(const LayerInput&, const Shape&)> device_method;
};

// The metrics rows' keep-set: min(2048, n/2) positions spread evenly over the prompt.
std::vector<int> spread_keep(const Shape& s) {
  const int budget = std::min(2048, s.n / 2);
  std::vector<int> keep;
  keep.reserve(budget);
  for (int j = 0; j < budget; ++j) keep.push_back(int((long long)j * s.n / budget));
  return keep;
}

// A finished accumulator as one row of values (-1 where a metric is undefined).
std::vector<double> metric_values(const MetricAccumulator& acc) {
  std::vector<double> out;
  for (const auto& [name, value] : acc.finish()) out.push_back(value ? *value : -1.0);
  return out;
}

std::vector<double> flatten(const std::vector<std::vector<double>>& x) {
  std::vector<double> out;
  for (const auto& v : x) out.insert(out.end(), v.begin(), v.end());
  return out;
}
std::vector<double> flatten(const std::vector<std::vector<float>>& x) {
  std::vector<double> out;
  for (const auto& v : x) out.insert(out.end(), v.begin(), v.end());
  return out;
}

// A method's configuration for the `given` parameters, built once per (method, parameters) and
// kept, as a campaign builds it once, not per layer: no timed call parses one.
const Configuration& configuration_once(const std::string& method, const json& given = json::object()) {
  static std::map<std::string, Configuration> configs;
  const std::string key = method + given.dump();
  auto it = configs.find(key);
  if (it == configs.end()) it = configs.emplace(key, bench_configuration(method, given)).first;
  return it->second;
}

// The scores of the method's default configuration.
Scores score_defaults(const char* method, LayerContext& ctx) {
  const Configuration& config = configuration_once(method);
  return config.method->score_cpu(ctx, config.typed);
}

std::string sci(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1e", x);
  return buffer;
}

json method_budget(const std::string& method, const Shape& s) {
  if (!method_named(method).uses_selection) return json::object();
  return json{{"budget", s.n > 2048 ? 2048 : s.n / 2}};
}

// Algorithmic work of a method's default configuration (docs/benchmarks.md "What the counts
// are"): the attention entries it computes (2d + 5 flops each, Q rows and K read once) plus its
// own passes; 0 where the work is not arithmetic (walkers: table lookups and searches), shown
// as "-" in the table.
double all_pairs(const Shape& s) { return double(s.n) * (s.n + 1) / 2; }
double method_bytes(const std::string& m, const Shape& s) {
  if (m == "h2o" || m == "rc" || m == "rwr") return qk_bytes(s, s.n);
  if (m == "knorm") return 4.0 * s.G * s.n * s.d;
  if (m == "tova") return qk_bytes(s, 1);
  if (m == "snapkv" || m == "pyramidkv" || m == "circuitkv_neumann" || m == "circuitkv_walk" ||
      m == "circuitkv_influence")
    return qk_bytes(s, s.w);
  return 0;
}
double method_flops(const std::string& m, const Shape& s) {
  const double window = attention_flops(s, window_pairs(s));
  if (m == "h2o" || m == "rc") return attention_flops(s, all_pairs(s));
  if (m == "rwr") return double(s.H) * all_pairs(s) * 2.0 * s.d;  // cosines to every earlier key
  if (m == "snapkv" || m == "pyramidkv") return window + double(s.H) * s.n * (s.w + 7);
  if (m == "tova") return attention_flops(s, s.n);
  if (m == "knorm") return double(s.G) * s.n * 2.0 * s.d;
  // K = 10 iterations of O(n·w) on two graphs, plus the window rows and their entropies.
  if (m == "circuitkv_neumann") return window + 2.0 * 10 * 2.0 * s.n * s.w + 3.0 * s.H * s.w * s.n;
  if (m == "circuitkv_walk" || m == "circuitkv_influence") return window;
  return 0;
}

std::vector<KernelCase> kernel_cases() {
  std::vector<KernelCase> cases;

  KernelCase window;
  window.name = "window_attention";
  window.bytes = [](const Shape& s) { return qk_bytes(s, s.w) + 4.0 * s.H * s.w * s.n; };
  window.flops = [](const Shape& s) { return attention_flops(s, window_pairs(s)); };
  // The check reads the row sums, not a double copy of the H·w·n rows.
  window.cpu = [](const LayerInput& in, const Shape& s) -> Deferred {
    auto ctx = std::make_shared<LayerContext>(in);
    ctx->window_attention(s.w);
    return [ctx, s] {
      const Tensor3& a = ctx->window_attention(s.w);  // memoised: the rows computed above
      std::vector<double> sums(size_t(a.shape[0]) * a.shape[1], 0.0);
      for (size_t row = 0; row < sums.size(); ++row)
        for (int j = 0; j < s.n; ++j) sums[row] += a.data[row * s.n + j];
      return sums;
    };
  };
  window.check = [](const Shape& s, const std::vector<double>& sums) {
    double worst = 0;  // every row is a distribution
    for (double sum : sums) worst = std::max(worst, std::abs(sum - 1.0));
    return Check{worst < 1e-4, "max|rowsum-1| " + sci(worst)};
  };
#ifdef CKV_HAVE_CUDA
  window.cuda_run = [](cuda::LayerKernels& k, const Shape& s) { k.run_window_attention(s.w); };
  window.cuda_result = [](cuda::LayerKernels& k, const Shape& s) {  // row sums, as the CPU row
    const auto a = k.window_attention(s.w);
    std::vector<double> sums(a.size() / s.n, 0.0);
    for (size_t row = 0; row < sums.size(); ++row)
      for (int j = 0; j < s.n; ++j) sums[row] += a[row * s.n + j];
    return sums;
  };
#endif
  cases.push_back(window);

  KernelCase h2o;
  h2o.name = "h2o_column_sums";
  h2o.bytes = [](const Shape& s) { return qk_bytes(s, s.n) + 8.0 * s.H * s.n; };
  h2o.flops = [](const Shape& s) {
    return s.H * (double(s.n) * (s.n + 1) / 2) * (2.0 * s.d + 6);  // + 1 add into the column
  };
  h2o.cpu = [](const LayerInput& in, const Shape& s) -> Deferred {
    LayerContext ctx(in);
    return [sums = ctx.column_sums(s.n, "bench")] { return flatten(sums); };
  };
  h2o.check = [](const Shape& s, const std::vector<double>& sums) {
    double worst = 0;  // all n rows sum to 1, so each head's column sums total n
    for (int h = 0; h < s.H; ++h) {
      double total = 0;
      for (int j = 0; j < s.n; ++j) total += sums[size_t(h) * s.n + j];
      worst = std::max(worst, std::abs(total - s.n) / s.n);
    }
    return Check{worst < 1e-5, "max|total/n-1| " + sci(worst)};
  };
#ifdef CKV_HAVE_CUDA
  h2o.cuda_run = [](cuda::LayerKernels& k, const Shape& s) { k.run_column_sums(s.n); };
  h2o.cuda_result = [](cuda::LayerKernels& k, const Shape& s) { return flatten(k.column_sums(s.n)); };
#endif
  cases.push_back(h2o);

  KernelCase snapkv;  // defaults: window 64, max pooling, kernel 7, per-KV-head selection
  snapkv.name = "snapkv_score";
  snapkv.bytes = [](const Shape& s) { return qk_bytes(s, s.w) + 4.0 * s.G * s.n; };
  snapkv.flops = [](const Shape& s) {
    const double prefix = s.n - std::min(s.w, s.n);
    return attention_flops(s, window_pairs(s)) + s.H * prefix * (s.w + 7) + double(s.H) * s.n;
  };
  snapkv.cpu = [](const LayerInput& in, const Shape&) -> Deferred {
    LayerContext ctx(in);
    return [scores = score_defaults("snapkv", ctx)] { return flatten(scores.heads); };
  };
  snapkv.check = [](const Shape&, const std::vector<double>& x) {
    bool ok = true;  // mean attention votes, max-pooled: within [0, 1]
    for (double v : x) ok = ok && std::isfinite(v) && v >= 0 && v <= 1;
    return Check{ok, ok ? "in [0,1]" : "out of [0,1]"};
  };
#ifdef CKV_HAVE_CUDA
  snapkv.cuda_run = [](cuda::LayerKernels& k, const Shape& s) { cuda::run_snapkv_device(k, s.w, 7, true, s.G); };
  snapkv.cuda_result = [](cuda::LayerKernels& k, const Shape& s) {
    return flatten(cuda::snapkv_device_scores(k, s.w, 7, true, s.G));
  };
#endif
  cases.push_back(snapkv);

  KernelCase knorm;
  knorm.name = "knorm_score";  // the stage; the method row below is "knorm"
  knorm.bytes = [](const Shape& s) { return 4.0 * s.G * s.n * s.d + 8.0 * s.G * s.n; };
  knorm.flops = [](const Shape& s) { return double(s.G) * s.n * 2.0 * s.d; };
  knorm.cpu = [](const LayerInput& in, const Shape&) -> Deferred {
    LayerContext ctx(in);
    return [scores = score_defaults("knorm", ctx)] { return flatten(scores.heads); };
  };
  knorm.check = [](const Shape& s, const std::vector<double>& x) {
    bool ok = true;  // -‖k‖ of unit-normal keys: about -√d
    for (double v : x) ok = ok && std::isfinite(v) && v < 0 && v > -4.0 * std::sqrt(s.d);
    return Check{ok, ok ? "in (-4sqrt(d),0)" : "out of range"};
  };
#ifdef CKV_HAVE_CUDA
  knorm.cuda_run = [](cuda::LayerKernels& k, const Shape&) { cuda::run_knorm_device(k); };
  knorm.cuda_result = [](cuda::LayerKernels& k, const Shape&) {
    return flatten(cuda::knorm_device_scores(k));
  };
#endif
  cases.push_back(knorm);

  // Every registry method with its default configuration: scores and the selection.
  for (const MethodDef& m : method_registry()) {
    KernelCase c;
    c.name = m.name;
    const std::string name = m.name;
    c.bytes = [name](const Shape& s) { return method_bytes(name, s); };
    c.flops = [name](const Shape& s) { return method_flops(name, s); };
    c.cpu = [name](const LayerInput& in, const Shape& s) -> Deferred {
      const Configuration& config = configuration_once(name, method_budget(name, s));
      LayerContext ctx(in);
      Scores scores = config.method->score_cpu(ctx, config.typed);
      std::vector<std::vector<int>> keep;
      if (config.method->uses_selection)
        keep = select_keep(scores, config.selection(), in.n, in.G, 0, 1, in.H);
      return [scores = std::move(scores), keep = std::move(keep)] {
        std::vector<double> out = flatten(scores.heads);
        for (const auto& k : keep) out.push_back(double(k.size()));
        return out;
      };
    };
    if (m.has_cuda)
      c.device_method = [name](const LayerInput& in, const Shape& s) {
        const Configuration& config = configuration_once(name, method_budget(name, s));
        LayerContext ctx(in, Device::gpu(0));
        return flatten(config.method->score(ctx, config.typed).heads);
      };
    c.check = [name](const Shape& s, const std::vector<double>& x) {
      bool finite = true;
      for (double v : x) finite = finite && std::isfinite(v);
      return Check{finite, finite ? "finite" : "NaN/Inf in the scores"};
    };
    cases.push_back(c);
  }

  // The proxy metrics of one layer for one keep-set (the worker's per-layer cost).
  KernelCase metrics;
  metrics.name = "metrics";
  metrics.bytes = [](const Shape& s) { return 4.0 * 2 * s.G * s.n * s.d; };  // K and V read
  metrics.flops = [](const Shape& s) {                                       // q·k and a·v per (head, answer token, key)
    return double(s.H) * kAnswerTokens * (s.n + kAnswerTokens / 2.0) * 4.0 * s.d;
  };
  metrics.cpu = [](const LayerInput& in, const Shape& s) {
    MetricAccumulator acc;
    acc.add_layer(in, std::vector<std::vector<int>>(in.G, spread_keep(s)), {{0, s.n / 8}}, 32);
    return ready(metric_values(acc));
  };
#ifdef CKV_HAVE_CUDA
  // The metrics' twin (worker/metrics_kernels.hpp): the layer's answer attention on the device,
  // then the one keep-set; only the per-(head, answer token) terms come back.
  metrics.device_method = [](const LayerInput& in, const Shape& s) {
    const std::vector<std::vector<int>> keeps(in.G, spread_keep(s));
    cuda::AnswerAttentionDevice answers(cuda::answer_layer_view(in, 32));
    MetricAccumulator acc;
    acc.add_layer_rows(in, answers.rows(keeps), std::min(32, in.n), keeps, {{0, s.n / 8}});
    return metric_values(acc);
  };
#endif
  metrics.check = [](const Shape&, const std::vector<double>& x) {
    bool ok = true;
    for (double v : x) ok = ok && std::isfinite(v);
    return Check{ok, ok ? "finite" : "NaN/Inf"};
  };
  cases.push_back(metrics);

  // A whole window-method unit: snapkv's scores, selection and every metric over 4 layers
  // (the same layer four times, each on a fresh context: nothing is shared between layers).
  KernelCase unit;
  unit.name = "unit:snapkv x4 layers";
  unit.bytes = [](const Shape& s) { return 4 * (method_bytes("snapkv", s) + 4.0 * 2 * s.G * s.n * s.d); };
  unit.flops = [](const Shape& s) {
    return 4 * (method_flops("snapkv", s) +
                double(s.H) * kAnswerTokens * (s.n + kAnswerTokens / 2.0) * 4.0 * s.d);
  };
  unit.cpu = [](const LayerInput& in, const Shape& s) {
    const Configuration& config = configuration_once("snapkv", method_budget("snapkv", s));
    MetricAccumulator acc;
    for (int layer = 0; layer < 4; ++layer) {
      LayerContext ctx(in);
      const Scores scores = config.method->score_cpu(ctx, config.typed);
      const auto keep = select_keep(scores, config.selection(), in.n, in.G, layer, 28, in.H);
      acc.add_layer(in, keep, {{0, s.n / 8}}, 32);
    }
    return ready(metric_values(acc));
  };
#ifdef CKV_HAVE_CUDA
  unit.device_method = [](const LayerInput& in, const Shape& s) {
    const Configuration& config = configuration_once("snapkv", method_budget("snapkv", s));
    MetricAccumulator acc;
    for (int layer = 0; layer < 4; ++layer) {
      LayerContext ctx(in, Device::gpu(0));
      const Scores scores = config.method->score(ctx, config.typed);
      const auto keep = select_keep(scores, config.selection(), in.n, in.G, layer, 28, in.H);
      cuda::AnswerAttentionDevice answers(cuda::answer_layer_view(in, 32));
      acc.add_layer_rows(in, answers.rows(keep), std::min(32, in.n), keep, {{0, s.n / 8}});
    }
    return metric_values(acc);
  };
#endif
  unit.check = metrics.check;
  cases.push_back(unit);
  return cases;
}

struct Options {
  std::vector<std::string> shapes = {"small", "qwen-2k", "qwen-8k"};
  std::vector<std::string> only;  // kernel names; empty: every row
  double cpu_max_gflop = 40;
  double min_time = 0.5;
  bool cpu = true, cuda = true;
  std::string format = "table";  // table | csv | json
  PeakIsa peak_isa = best_isa();
  bool peak_isa_forced = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_kernels: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--shapes") {
      o.shapes.clear();
      std::stringstream list(value());
      for (std::string item; std::getline(list, item, ',');) o.shapes.push_back(item);
    } else if (a == "--cpu-max-gflop") {
      o.cpu_max_gflop = std::atof(value().c_str());
    } else if (a == "--min-time") {
      o.min_time = std::atof(value().c_str());
    } else if (a == "--only") {
      std::stringstream list(value());
      for (std::string item; std::getline(list, item, ',');) o.only.push_back(item);
    } else if (a == "--cpu-only") {
      o.cuda = false;
    } else if (a == "--cuda-only") {
      o.cpu = false;
    } else if (a == "--format") {
      o.format = value();
      if (o.format != "table" && o.format != "csv" && o.format != "json") {
        std::fprintf(stderr, "bench_kernels: --format must be table, csv or json, got '%s'\n",
                     o.format.c_str());
        std::exit(2);
      }
    } else if (a == "--peak-isa") {
      const std::string name = value();
      if (!parse_isa(name, o.peak_isa) || !isa_supported(o.peak_isa)) {
        std::fprintf(stderr,
                     "bench_kernels: --peak-isa '%s' is unknown or not supported by this "
                     "CPU (best: %s)\n",
                     name.c_str(), isa_name(best_isa()));
        std::exit(2);
      }
      o.peak_isa_forced = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench_kernels [--shapes small,qwen-2k,qwen-8k,qwen-32k] "
                   "[--cpu-max-gflop G] [--min-time S] [--cpu-only] [--cuda-only] "
                   "[--only KERNEL,...] [--format table|csv|json] [--peak-isa avx512f|avx2|sse]\n");
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  return o;
}

// The header lines: on stdout with the table; on stderr when stdout carries csv or json records.
FILE* g_notes = stdout;

void note(const char* format, ...) __attribute__((format(printf, 1, 2)));
void note(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(g_notes, format, args);
  va_end(args);
}

std::string peak_text(const CpuLimits& l) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "FMA peak (%s, %d thread%s) %.2f GFLOP/s", isa_name(l.isa),
                l.threads, l.threads == 1 ? "" : "s", l.fma_gflops);
  return buffer;
}

// Ideal fp32 flops per cycle per core, for the plausibility line: two FMA ports (AVX-512 and
// AVX2 on server cores), or two multiply and two add pipes for SSE and scalar code (Zen; one
// multiply-add pair per cycle on Intel cores, half of this).
int ideal_flop_per_cycle(PeakIsa isa) { return 2 * 2 * isa_lanes(isa); }
const char* ideal_ports(PeakIsa isa) {
  return isa == PeakIsa::avx512f || isa == PeakIsa::avx2_fma ? "2 FMA ports" : "2 mul + 2 add pipes";
}

}  // namespace

int main(int argc, char** argv) {
  ckv::configure_heap();  // the worker's heap policy (common/heap.hpp)
  const Options options = parse(argc, argv);
  for (const std::string& name : options.shapes)
    if (std::none_of(kShapes.begin(), kShapes.end(), [&](const Shape& s) { return s.name == name; })) {
      std::fprintf(stderr, "bench_kernels: unknown shape '%s'\n", name.c_str());
      return 2;
    }
  g_notes = options.format == "table" ? stdout : stderr;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  note("# ckv-sweep kernel benchmark\n# CPU: %s, %d hardware threads; widest SIMD: %s%s\n",
       cpu_model().c_str(), cores, isa_name(best_isa()),
       options.peak_isa_forced ? (std::string("; FMA peak measured with --peak-isa ") +
                                  isa_name(options.peak_isa))
                                     .c_str()
                               : "");
  // Measured before and after the cases; the ratios use the better of the two, so a burst of
  // load from other processes during one measurement does not inflate the percentages.
  CpuLimits one = options.cpu ? measure_cpu_limits(1, options.peak_isa) : CpuLimits{};
  const CpuLimits all = options.cpu ? measure_cpu_limits(cores, options.peak_isa) : CpuLimits{};
  std::vector<ProductRate> products;
  ReadLadder reads;
  if (options.cpu) {
    note("# CPU limits at start: STREAM triad 1 thread %.2f GB/s, %d threads %.2f GB/s; %s, %s\n",
         one.triad_gbs, cores, all.triad_gbs, peak_text(one).c_str(), peak_text(all).c_str());
    reads = ReadLadder::measure(options.peak_isa);
    // Matrix-product yardstick: what tuned code reaches on one core between the peak and the
    // kernels, measured here and printed with the end limits. The project's own blockwise
    // product kernel joins as one more implementation in bench/matrix_product.hpp.
    products = measure_product_rates();
    const char* env = std::getenv("CKV_KERNEL_THREADS");
    note(
        "# CPU kernels: up to %d thread%s each (%s); the rows' %%flop is against the 1-thread "
        "FMA peak\n",
        kernel_threads(), kernel_threads() == 1 ? "" : "s",
        env ? "CKV_KERNEL_THREADS" : "all hardware threads; CKV_KERNEL_THREADS=1 for one");
  }
  std::fflush(g_notes);

  [[maybe_unused]] int cuda_devices = 0;
#ifdef CKV_HAVE_CUDA
  cuda_devices = options.cuda ? cuda_device_count() : 0;
  cuda::DeviceLimits gpu;
  if (cuda_devices > 0) {
    gpu = cuda::measure_device_limits();
    note(
        "# GPU %d: %s (sm_%d%d, %d SMs, %.1f GiB): peak bandwidth %.0f GB/s (memory clock "
        "x bus width x 2), D2D copy %.0f GB/s (measured), FP32 peak %.0f GFLOP/s, FMA "
        "loop %.0f GFLOP/s (measured); %%bw and %%flop are against the measured figures\n",
        gpu.device, gpu.name.c_str(), gpu.major, gpu.minor, gpu.sm_count, gpu.memory_gib,
        gpu.peak_bandwidth_gbs, gpu.copy_bandwidth_gbs, gpu.peak_fp32_gflops, gpu.fma_gflops);
  } else if (options.cuda) {
    note("# CUDA: built with CUDA, no CUDA device visible: CPU rows only\n");
  }
#else
  note("# CUDA: not in this build (-DCKV_CUDA=OFF or no toolkit): CPU rows only\n");
#endif
  std::fflush(g_notes);

  const std::vector<KernelCase> cases = kernel_cases();
  std::vector<Row> rows;
  auto progress = [](const Row& row) {
    std::fprintf(stderr, "  %s %s %s: %s\n", row.device.c_str(), row.kernel.c_str(),
                 row.shape.c_str(), row.skipped ? "skipped" : "done");
  };
  bool all_ok = true;
  for (const std::string& shape_name : options.shapes) {
    const Shape* shape = nullptr;
    for (const Shape& s : kShapes)
      if (s.name == shape_name) shape = &s;
    if (!shape) {
      std::fprintf(stderr, "bench_kernels: unknown shape '%s'\n", shape_name.c_str());
      return 2;
    }
    const BenchLayer layer(*shape);
#ifdef CKV_HAVE_CUDA
    std::unique_ptr<cuda::LayerKernels> device;
    if (cuda_devices > 0)
      device = std::make_unique<cuda::LayerKernels>(
          cuda::LayerShape{shape->H, shape->G, shape->d, shape->n, shape->n}, layer.q.data(),
          layer.k.data());
#endif
    for (const KernelCase& c : cases) {
      if (!options.only.empty() &&
          std::find(options.only.begin(), options.only.end(), c.name) == options.only.end())
        continue;
      std::vector<double> cpu_result;
      if (options.cpu) {
        Row row;
        row.device = "cpu";
        row.kernel = c.name;
        row.shape = shape->text();
        row.bytes = c.bytes(*shape);
        row.flops = c.flops(*shape);
        if (row.flops > options.cpu_max_gflop * 1e9) {
          row.skipped = true;
          row.check = "skipped: " + std::to_string(int(row.flops / 1e9)) +
                      " GFLOP > --cpu-max-gflop " + std::to_string(int(options.cpu_max_gflop));
        } else {
          // The previous call's result is released first, as a worker's previous layer is (its
          // large buffers return to the pool the next call draws from).
          Deferred pending;
          row.timing = time_calls([&] {
            pending = nullptr;
            pending = c.cpu(layer.input, *shape);
          },
                                  options.min_time);
          cpu_result = pending();
          const Check check = c.check(*shape, cpu_result);
          row.check = (check.ok ? "ok " : "FAIL ") + check.text;
          all_ok = all_ok && check.ok;
        }
        progress(row);
        rows.push_back(row);
      }
#ifdef CKV_HAVE_CUDA
      if (device && !c.cuda_run && c.device_method) {
        Row row;
        row.device = "cuda";
        row.kernel = c.name;
        row.shape = shape->text();
        row.bytes = c.bytes(*shape);
        row.flops = c.flops(*shape);
        row.bandwidth_limit_gbs = gpu.copy_bandwidth_gbs;
        row.flop_limit_gflops = gpu.fma_gflops;
        std::vector<double> result;
        row.timing = time_calls([&] { result = c.device_method(layer.input, *shape); }, options.min_time);
        Check check = c.check(*shape, result);
        if (!cpu_result.empty()) check.text += ", NMSE vs cpu " + sci(nmse(cpu_result, result));
        row.check = (check.ok ? "ok " : "FAIL ") + check.text;
        all_ok = all_ok && check.ok;
        progress(row);
        rows.push_back(row);
      }
      if (device && c.cuda_run) {
        Row row;
        row.device = "cuda";
        row.kernel = c.name;
        row.shape = shape->text();
        row.bytes = c.bytes(*shape);
        row.flops = c.flops(*shape);
        row.bandwidth_limit_gbs = gpu.copy_bandwidth_gbs;
        row.flop_limit_gflops = gpu.fma_gflops;
        row.timing = time_calls([&] { c.cuda_run(*device, *shape); }, options.min_time, 1000);
        const std::vector<double> result = c.cuda_result(*device, *shape);
        Check check = c.check(*shape, result);
        if (!cpu_result.empty()) {
          const double e = nmse(cpu_result, result);
          check.ok = check.ok && e < 1e-10;
          check.text += ", NMSE vs cpu " + sci(e);
        }
        row.check = (check.ok ? "ok " : "FAIL ") + check.text;
        all_ok = all_ok && check.ok;
        progress(row);
        rows.push_back(row);
      }
#endif
    }
  }
  if (options.cpu) {
    const CpuLimits end = measure_cpu_limits(1, options.peak_isa);
    note("# CPU limits at end:   STREAM triad 1 thread %.2f GB/s; %s\n", end.triad_gbs,
         peak_text(end).c_str());
    one.triad_gbs = std::max(one.triad_gbs, end.triad_gbs);
    one.fma_gflops = std::max(one.fma_gflops, end.fma_gflops);
    reads.keep_best(ReadLadder::measure(options.peak_isa));
    note("# read bandwidth (1 thread, %s loads, the better of start and end) by working set: %s\n",
         isa_name(options.peak_isa), reads.text().c_str());
    if (const double mhz = cpuinfo_mhz(); mhz > 0) {
      int flop_per_cycle = ideal_flop_per_cycle(one.isa);
      std::string ports = ideal_ports(one.isa);
      // Some AVX-512 cores have 256-bit FMA units (Zen 4 issues a 512-bit FMA as two halves;
      // some Xeons have one 512-bit port): there AVX-512 runs at AVX2's rate, and the ideal is
      // AVX2's 32 flop per cycle, not 64.
      if (one.isa == PeakIsa::avx512f) {
        const double avx2 = fma_peak_gflops(PeakIsa::avx2_fma, 1);
        if (one.fma_gflops < 1.3 * avx2) {
          flop_per_cycle = ideal_flop_per_cycle(PeakIsa::avx2_fma);
          char text[160];
          std::snprintf(text, sizeof text,
                        "2 FMA ports of 256 bits: avx2+fma measured %.2f GFLOP/s, 512-bit FMAs run at its rate",
                        avx2);
          ports = text;
        }
      }
      note(
          "# FMA peak check: %.2f GFLOP/s = %d flop/cycle (%s, %s) x %.2f GHz; "
          "/proc/cpuinfo reports %.0f MHz (turbo runs above it; a clock implied far below it "
          "means fewer FMA ports or a busy core)\n",
          one.fma_gflops, flop_per_cycle, isa_name(one.isa), ports.c_str(), one.fma_gflops / flop_per_cycle,
          mhz);
    }
    if (products.empty()) {
      note(
          "# matrix product: no tuned library found (libopenblas.so.0 not installed: Debian "
          "libopenblas-dev, scripts/setup.sh)\n");
    } else {
      std::string current;
      for (const ProductRate& p : products) {
        if (p.implementation != current) {
          note("%s# matrix product (%s):", current.empty() ? "" : "\n", p.implementation.c_str());
          current = p.implementation;
        } else {
          note(",");
        }
        note(" %s %.2f GFLOP/s (%.0f%% of the FMA peak)", p.shape.c_str(), p.gflops,
             100.0 * p.gflops / one.fma_gflops);
      }
      note("\n");
    }
    note(
        "# CPU rows: %%bw against the read rate of the smallest working set above holding the row's "
        "bytes (a row in cache is not judged by DRAM's rate), %%flop against the better 1-thread FMA "
        "peak (%s) %.2f GFLOP/s\n",
        isa_name(one.isa), one.fma_gflops);
  }
  note(
      "# median_ms = median over iters after one warm-up call (* = a warm-up longer than 2 s: "
      "one more call timed, no repeat)\n");
  if (const char* clock = std::getenv("CKV_BENCH_CLOCK"); clock && std::string(clock) == "cpu")
    note("# CKV_BENCH_CLOCK=cpu: times are the process's CPU time (user + system), not wall time\n");
  std::fflush(g_notes);
  for (Row& row : rows)
    if (row.device == "cpu") {
      row.bandwidth_limit_gbs = reads.limit_for(row.bytes);
      row.flop_limit_gflops = one.fma_gflops;
    }
  if (options.format == "csv") {
    std::printf("%s\n", csv_header());
    for (const Row& row : rows) std::printf("%s\n", csv_line(row).c_str());
  } else if (options.format == "json") {
    json doc;
    doc["cpu"] = {{"model", cpu_model()},
                  {"hardware_threads", cores},
                  {"kernel_threads", kernel_threads()},
                  {"peak_isa", isa_name(one.isa)},
                  {"fma_peak_gflops_1_thread", one.fma_gflops},
                  {"fma_peak_gflops_all_threads", all.fma_gflops},
                  {"triad_gbs_1_thread", one.triad_gbs},
                  {"triad_gbs_all_threads", all.triad_gbs}};
    json ladder = json::array();
    for (const auto& [size, gbs] : reads.points) ladder.push_back({{"bytes", size}, {"gbs", gbs}});
    doc["cpu"]["read_gbs_1_thread"] = ladder;
    json product_list = json::array();
    for (const ProductRate& p : products)
      product_list.push_back({{"implementation", p.implementation}, {"shape", p.shape}, {"gflops", p.gflops}});
    doc["cpu"]["matrix_product"] = product_list;
    doc["rows"] = json::array();
    for (const Row& row : rows) doc["rows"].push_back(row_json(row));
    std::printf("%s\n", doc.dump(1).c_str());
  } else {
    print_header();
    for (const Row& row : rows) print_row(row);
  }
  return all_ok ? 0 : 1;
}
