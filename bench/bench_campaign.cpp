// Campaign throughput per worker and what sharing saves (docs/spec/MISSION.md R12): the worker path
// (evaluate_batch: load a sample once, share attention stages and budget-independent scores)
// on a synthetic cache, one thread. For each method it times
//   one point            a batch with one configuration (budget B0)
//   5 points, separate   five batches of one configuration each (budgets B0..B4): no sharing
//   5 points, shared     one batch with the five configurations: scored once, selected 5 times
// and prints units/s per worker for the shared batch. A 5-point budget sweep must cost far
// less than five single points.
//   build/bench/bench_campaign [--tokens 2048] [--repeats 3] [--methods a,b,...]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "bench/harness.hpp"
#include "cache/cache_index.hpp"
#include "cache/synthetic.hpp"
#include "common/error.hpp"
#include "common/heap.hpp"
#include "kernels/registry.hpp"
#include "worker/evaluator.hpp"

namespace fs = std::filesystem;
using namespace ckv;
using namespace ckv::bench;

namespace {

double seconds_of(const std::function<void()>& run, int repeats) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

Batch make_batch(const std::string& path, const std::string& method, const std::vector<int>& budgets) {
  Batch batch;
  batch.sample_path = path;
  batch.sample_label = path;
  const MethodDef& def = method_named(method);
  for (int b : budgets) {
    json params = def.uses_selection ? json{{"budget", b}} : json::object();
    batch.units.push_back(UnitTask{int64_t(batch.units.size() + 1),
                                   bench_configuration(method, params).document});
  }
  return batch;
}

void check_ok(const BatchResult& result) {
  for (const auto& u : result.units) CKV_CHECK(u.ok, "benchmark unit failed: {}", u.error);
}

}  // namespace

int main(int argc, char** argv) {
  ckv::configure_heap();  // the worker's heap policy (common/heap.hpp)
  int tokens = 2048, repeats = 3;
  std::vector<std::string> methods = {"h2o", "snapkv", "pyramidkv", "tova", "circuitkv_neumann",
                                      "circuitkv_walk", "circuitkv_influence", "rc", "rwr"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tokens" && i + 1 < argc) tokens = std::stoi(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::stoi(argv[++i]);
    else if (a == "--methods" && i + 1 < argc) {
      methods.clear();
      std::string list = argv[++i];
      for (size_t p = 0, q; p <= list.size(); p = q + 1) {
        q = list.find(',', p);
        if (q == std::string::npos) q = list.size();
        if (q > p) methods.push_back(list.substr(p, q - p));
      }
    } else {
      fmt::print(stderr, "usage: bench_campaign [--tokens N] [--repeats R] [--methods a,b,...]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  // Kernels that thread their walkers use one thread, like one embedded worker thread.
  setenv("CKV_KERNEL_THREADS", "1", 1);

  const fs::path dir = fs::temp_directory_path() / fmt::format("ckv_bench_campaign_{}", tokens);
  if (!fs::exists(dir / "index.jsonl")) {
    SynthOptions options;
    options.out_dir = dir.string();
    options.tasks = {"synth-multihop"};
    options.samples_per_task = 1;
    options.tokens = tokens;
    generate_synthetic_cache(options);
  }
  const auto entries = read_cache_index(dir.string());
  const std::string path = (dir / entries.at(0).path).string();
  const int n = entries.at(0).n_tokens;
  const std::vector<int> budgets = {n / 16 + 68, n / 8 + 68, n / 4 + 68, n / 3 + 68, n / 2 + 68};

  fmt::print(
      "# bench_campaign: one worker thread, sample {} (n = {}, H = 8, G = 2, d = 32, 2 layers), "
      "budgets {}, best of {}\n",
      entries.at(0).id, n, fmt::join(budgets, "/"), repeats);
  fmt::print("{:<22} {:>12} {:>16} {:>14} {:>16} {:>14}\n", "method", "1 point ms", "5 separate ms",
             "5 shared ms", "shared/1 point", "units/s/worker");
  for (const auto& method : methods) {
    const Batch single = make_batch(path, method, {budgets[0]});
    std::vector<Batch> separate;
    for (int b : budgets) separate.push_back(make_batch(path, method, {b}));
    const Batch shared = make_batch(path, method, budgets);
    const double t1 = seconds_of([&] { check_ok(evaluate_batch(single, {})); }, repeats);
    const double t5 = seconds_of([&] { for (const auto& b : separate) check_ok(evaluate_batch(b, {})); }, repeats);
    const double ts = seconds_of([&] { check_ok(evaluate_batch(shared, {})); }, repeats);
    fmt::print("{:<22} {:>12.1f} {:>16.1f} {:>14.1f} {:>16.2f} {:>14.1f}\n", method, 1e3 * t1, 1e3 * t5,
               1e3 * ts, ts / t1, 5.0 / ts);
  }
  return 0;
}
