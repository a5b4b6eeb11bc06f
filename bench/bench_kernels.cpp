// Kernel benchmark (docs/spec/MISSION.md R12): per kernel and shape, time, achieved GB/s and GFLOP/s, and the ratio
// to the limits measured at startup (CPU: STREAM triad and an FMA loop, single thread and all
// threads; GPU: datasheet bandwidth from the device attributes, a measured device-to-device
// copy and an FMA loop). CPU always; CUDA when built with it and a device is visible.
// One table row per kernel: a CircuitKV kernel is one more entry in kernel_cases().
//
//   bench_kernels [--shapes small,qwen-2k,qwen-8k,qwen-32k] [--cpu-max-gflop 40]
//                 [--min-time 0.5] [--cpu-only] [--cuda-only] [--only NAME,...]
//
// Rows: the shared stages (window attention, column sums, SnapKV votes, key norms), then every
// registry method (its default configuration: scores plus selection at B = 2048, or n/2 when
// n <= 2048), the proxy metrics of one layer (m = 64 answer tokens), and a whole window-method
// unit (snapkv: scores, selection and every metric over 4 layers). Time is the median of the
// timed calls after one warm-up call.
//
// Bytes are what must move at least: Q/K reads and the outputs. FLOPs: 2·d per q·k dot plus 5
// per attention entry for the softmax (scale, max subtract, exp, sum, normalise), plus the
// method's own reductions; the GPU column sums recompute each dot twice (row statistics, then
// sums), which the counts do not include (algorithmic work, as nccl-tests' algbw).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/registry.hpp"
#include "worker/metrics.hpp"
#ifdef CKV_HAVE_CUDA
#include "kernels/cuda/device_limits.hpp"
#include "kernels/knorm/knorm_kernels.hpp"
#include "kernels/snapkv/snapkv_kernels.hpp"
#include "kernels/stages/attention_cuda.hpp"
#include "worker/metrics_cuda.hpp"
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

struct KernelCase {
  std::string name;
  std::function<double(const Shape&)> bytes, flops;
  // One call on a fresh LayerContext (so nothing is memoised); returns the result, flattened.
  std::function<std::vector<double>(const LayerInput&, const Shape&)> cpu;
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

Scores score_defaults(const char* method, LayerContext& ctx) {
  const Configuration c = bench_configuration(method);
  return c.method->score_cpu(ctx, c.typed);
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
  window.cpu = [](const LayerInput& in, const Shape& s) {
    LayerContext ctx(in);
    const Tensor3& a = ctx.window_attention(s.w);
    return std::vector<double>(a.data.begin(), a.data.end());
  };
  window.check = [](const Shape& s, const std::vector<double>& a) {
    double worst = 0;  // every row is a distribution
    for (size_t row = 0; row * s.n < a.size(); ++row) {
      double sum = 0;
      for (int j = 0; j < s.n; ++j) sum += a[row * s.n + j];
      worst = std::max(worst, std::abs(sum - 1.0));
    }
    return Check{worst < 1e-4, "max|rowsum-1| " + sci(worst)};
  };
#ifdef CKV_HAVE_CUDA
  window.cuda_run = [](cuda::LayerKernels& k, const Shape& s) { k.run_window_attention(s.w); };
  window.cuda_result = [](cuda::LayerKernels& k, const Shape& s) {
    const auto a = k.window_attention(s.w);
    return std::vector<double>(a.begin(), a.end());
  };
#endif
  cases.push_back(window);

  KernelCase h2o;
  h2o.name = "h2o_column_sums";
  h2o.bytes = [](const Shape& s) { return qk_bytes(s, s.n) + 8.0 * s.H * s.n; };
  h2o.flops = [](const Shape& s) {
    return s.H * (double(s.n) * (s.n + 1) / 2) * (2.0 * s.d + 6);  // + 1 add into the column
  };
  h2o.cpu = [](const LayerInput& in, const Shape& s) {
    LayerContext ctx(in);
    return flatten(ctx.column_sums(s.n, "bench"));
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
  snapkv.cpu = [](const LayerInput& in, const Shape&) {
    LayerContext ctx(in);
    return flatten(score_defaults("snapkv", ctx).heads);
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
  knorm.name = "knorm";
  knorm.bytes = [](const Shape& s) { return 4.0 * s.G * s.n * s.d + 8.0 * s.G * s.n; };
  knorm.flops = [](const Shape& s) { return double(s.G) * s.n * 2.0 * s.d; };
  knorm.cpu = [](const LayerInput& in, const Shape&) {
    LayerContext ctx(in);
    return flatten(score_defaults("knorm", ctx).heads);
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
    c.cpu = [name](const LayerInput& in, const Shape& s) {
      const Configuration config = bench_configuration(name, method_budget(name, s));
      LayerContext ctx(in);
      const Scores scores = config.method->score_cpu(ctx, config.typed);
      std::vector<double> out = flatten(scores.heads);
      if (config.method->uses_selection)
        for (const auto& keep : select_keep(scores, config.selection(), in.n, in.G, 0, 1, in.H))
          out.push_back(double(keep.size()));
      return out;
    };
    if (m.has_cuda)
      c.device_method = [name](const LayerInput& in, const Shape& s) {
        const Configuration config = bench_configuration(name, method_budget(name, s));
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
  metrics.flops = [](const Shape& s) {  // q·k and a·v per (head, answer token, key)
    return double(s.H) * kAnswerTokens * (s.n + kAnswerTokens / 2.0) * 4.0 * s.d;
  };
  metrics.cpu = [](const LayerInput& in, const Shape& s) {
    MetricAccumulator acc;
    acc.add_layer(in, std::vector<std::vector<int>>(in.G, spread_keep(s)), {{0, s.n / 8}}, 32);
    return metric_values(acc);
  };
#ifdef CKV_HAVE_CUDA
  // The metrics' twin (worker/metrics_cuda.hpp): the layer's answer attention on the device,
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
    const Configuration config = bench_configuration("snapkv", method_budget("snapkv", s));
    MetricAccumulator acc;
    for (int layer = 0; layer < 4; ++layer) {
      LayerContext ctx(in);
      const Scores scores = config.method->score_cpu(ctx, config.typed);
      const auto keep = select_keep(scores, config.selection(), in.n, in.G, layer, 28, in.H);
      acc.add_layer(in, keep, {{0, s.n / 8}}, 32);
    }
    return metric_values(acc);
  };
#ifdef CKV_HAVE_CUDA
  unit.device_method = [](const LayerInput& in, const Shape& s) {
    const Configuration config = bench_configuration("snapkv", method_budget("snapkv", s));
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
    } else {
      std::fprintf(stderr,
                   "usage: bench_kernels [--shapes small,qwen-2k,qwen-8k,qwen-32k] "
                   "[--cpu-max-gflop G] [--min-time S] [--cpu-only] [--cuda-only] "
                   "[--only KERNEL,...]\n");
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("# ckv-sweep kernel benchmark\n# CPU: %s, %d hardware threads\n", cpu_model().c_str(), cores);
  // Measured before and after the cases; the ratios use the better of the two, so a burst of
  // load from other processes during one measurement does not inflate the percentages.
  CpuLimits one = options.cpu ? measure_cpu_limits(1) : CpuLimits{};
  const CpuLimits all = options.cpu ? measure_cpu_limits(cores) : CpuLimits{};
  if (options.cpu)
    std::printf("# CPU limits at start: 1 thread: triad %.2f GB/s, FMA loop %.2f GFLOP/s; %d "
                "threads: triad %.2f GB/s, FMA loop %.2f GFLOP/s\n",
                one.triad_gbs, one.fma_gflops, cores, all.triad_gbs, all.fma_gflops);

  [[maybe_unused]] int cuda_devices = 0;
#ifdef CKV_HAVE_CUDA
  cuda_devices = options.cuda ? cuda_device_count() : 0;
  cuda::DeviceLimits gpu;
  if (cuda_devices > 0) {
    gpu = cuda::measure_device_limits();
    std::printf("# GPU %d: %s (sm_%d%d, %d SMs, %.1f GiB): peak bandwidth %.0f GB/s (memory clock "
                "x bus width x 2), D2D copy %.0f GB/s (measured), FP32 peak %.0f GFLOP/s, FMA "
                "loop %.0f GFLOP/s (measured); %%bw and %%flop are against the measured figures\n",
                gpu.device, gpu.name.c_str(), gpu.major, gpu.minor, gpu.sm_count, gpu.memory_gib,
                gpu.peak_bandwidth_gbs, gpu.copy_bandwidth_gbs, gpu.peak_fp32_gflops, gpu.fma_gflops);
  } else if (options.cuda) {
    std::printf("# CUDA: built with CUDA, no CUDA device visible: CPU rows only\n");
  }
#else
  std::printf("# CUDA: not in this build (-DCKV_CUDA=OFF or no toolkit): CPU rows only\n");
#endif
  std::fflush(stdout);

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
          row.timing = time_calls([&] { cpu_result = c.cpu(layer.input, *shape); }, options.min_time);
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
    const CpuLimits end = measure_cpu_limits(1);
    std::printf("# CPU limits at end:   1 thread: triad %.2f GB/s, FMA loop %.2f GFLOP/s\n",
                end.triad_gbs, end.fma_gflops);
    one.triad_gbs = std::max(one.triad_gbs, end.triad_gbs);
    one.fma_gflops = std::max(one.fma_gflops, end.fma_gflops);
    std::printf("# CPU kernels are single-threaded (one LayerContext per worker thread): %%bw and "
                "%%flop are against the better 1-thread figures (triad %.2f GB/s, FMA %.2f "
                "GFLOP/s)\n",
                one.triad_gbs, one.fma_gflops);
  }
  std::printf("# median_ms = median over iters after one warm-up call (* = one run longer than "
              "2 s, timed once, no repeat)\n");
  print_header();
  for (Row& row : rows) {
    if (row.device == "cpu") {
      row.bandwidth_limit_gbs = one.triad_gbs;
      row.flop_limit_gflops = one.fma_gflops;
    }
    print_row(row);
  }
  return all_ok ? 0 : 1;
}
