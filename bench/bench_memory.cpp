// Peak host memory of one unit of one method (docs/spec/MISSION.md R12; issue 11's bound: any
// method at n = 32k with Qwen2.5-7B shapes in 8 GB on the CPU path): a random layer of
// H 28, G 4, d 128 and n tokens (all query rows, or the window's only), m = 64 answer tokens,
// then the method's scores, its selection and every proxy metric, as the worker runs them.
// Prints the inputs' size, the peak resident set (getrusage) and the time. One method per
// process, so each peak is that method's own (bench/memory.sh runs them all).
//
//   bench_memory --method NAME [--set key=value]... [--n 32768] [--window-rows]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/harness.hpp"
#include "common/heap.hpp"
#include "kernels/registry.hpp"
#include "worker/metrics.hpp"

using namespace ckv;

namespace {

double peak_rss_gib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) * 1024.0 / (1024.0 * 1024.0 * 1024.0);  // ru_maxrss is KiB
}

[[noreturn]] void usage(int code) {
  std::fprintf(stderr,
               "usage: bench_memory --method NAME [--set key=value]... [--n 32768] "
               "[--window-rows]\n");
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  ckv::configure_heap();  // the worker's heap policy (common/heap.hpp)
  std::string method;
  std::vector<std::string> settings;
  int n = 32768;
  bool window_rows = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (a == "--method") {
      method = value();
    } else if (a == "--set") {
      settings.push_back(value());
    } else if (a == "--n") {
      n = std::atoi(value().c_str());
    } else if (a == "--window-rows") {
      window_rows = true;
    } else {
      usage(a == "--help" ? 0 : 2);
    }
  }
  if (method.empty() || n < 128) usage(2);
  json given;
  try {
    given = parse_settings(settings, method);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_memory: %s\n", e.what());
    usage(2);
  }
  const int H = 28, G = 4, d = 128, m = 64, w = 64;
  const int r = window_rows ? w : n;
  const Configuration config = [&] {
    json params = given;
    if (method_named(method).uses_selection && !params.contains("budget")) params["budget"] = 2048;
    return bench::bench_configuration(method, params);
  }();

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](std::vector<float>& x, size_t count, float scale) {
    x.resize(count);
    for (float& v : x) v = scale * normal(rng);
  };
  std::vector<float> q, k, v, qa, ka, va;
  fill(q, size_t(H) * r * d, 1.5f);
  fill(k, size_t(G) * n * d, 1.0f);
  fill(v, size_t(G) * n * d, 1.0f);
  fill(qa, size_t(H) * m * d, 1.5f);
  fill(ka, size_t(G) * m * d, 1.0f);
  fill(va, size_t(G) * m * d, 1.0f);
  LayerInput in;
  in.H = H, in.G = G, in.d = d, in.n = n, in.r = r, in.m = m;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  in.q_answer = qa.data(), in.k_answer = ka.data(), in.v_answer = va.data();
  in.num_layers_model = 28;
  in.sample = "bench/memory";
  const double inputs_gib =
      4.0 * (q.size() + k.size() + v.size() + qa.size() + ka.size() + va.size()) / double(1 << 30);
  const double before = peak_rss_gib();

  const auto start = std::chrono::steady_clock::now();
  LayerContext ctx(in);
  const Scores scores = config.method->score_cpu(ctx, config.typed);
  std::vector<std::vector<int>> keep;
  if (config.method->uses_selection && !scores.keep_all) {
    keep = select_keep(scores, config.selection(), n, G, 0, 28, H);
  } else {
    std::vector<int> all(n);
    for (int j = 0; j < n; ++j) all[j] = j;
    keep.assign(G, all);
  }
  MetricAccumulator metrics;
  metrics.add_layer(in, keep, {{0, n / 8}}, config.eval.topk);
  const auto finished = metrics.finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%-20s %-40s n=%-6d rows=%-6d inputs %.2f GiB  peak RSS %.2f GiB (%.2f before "
      "scoring)  %.1f s  attn_recall %.4f\n",
      method.c_str(), given.dump().c_str(), n, r, inputs_gib, peak_rss_gib(), before,
      seconds, finished.at("attn_recall").value_or(-1.0));
  return 0;
}
