// The proxy metrics' CUDA twin (worker/metrics_kernels.hpp) against the CPU reference
// (worker/metrics.cpp), as tests/test_cuda_twins.cpp does for the methods: random layers of
// several shapes (GQA and MHA, d 64/80/128, n not a multiple of the block), keep-sets per KV head
// and per query head (empty, one token, random, everything). Checks: the keep-set independent
// part (attention rows, outputs, masses) to 1e-5 relative, top-k lists equal up to keys tied
// within rounding at the k-th place, every metric to 1e-5 relative (topk_recall up to such
// ties), no NaN/Inf, and bit-identical repeated device runs. The twin computes in double (the
// definition of numerics 1); the CPU computes numerics 4 (fp32 logits and blocked fp32 products,
// kernels/numerics.hpp), which is within 1e-5 of double precision — so the twin is not used by
// workers until it computes numerics 4 itself (worker/layer_evaluator.hpp).
// Main: tests/cuda_main.cpp (SKIPPED without a CUDA device).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "kernels/cuda/device.hpp"
#include "worker/metrics.hpp"
#ifdef CKV_HAVE_CUDA
#include "worker/metrics_kernels.hpp"
#endif

using namespace ckv;

#ifdef CKV_HAVE_CUDA
namespace {

struct Shape {
  int H, G, d, n, m;
};

// Q_ans, K, V, K_ans, V_ans with normal entries (logits of standard deviation ~1.5).
struct AnswerLayer {
  std::vector<float> k, v, q_answer, k_answer, v_answer;
  LayerInput input;
  AnswerLayer(const Shape& s, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto fill = [&](std::vector<float>& x, size_t count, float scale) {
      x.resize(count);
      for (float& e : x) e = scale * normal(rng);
    };
    fill(k, size_t(s.G) * s.n * s.d, 1.0f);
    fill(v, size_t(s.G) * s.n * s.d, 1.0f);
    fill(q_answer, size_t(s.H) * s.m * s.d, 1.5f);
    fill(k_answer, size_t(s.G) * s.m * s.d, 1.0f);
    fill(v_answer, size_t(s.G) * s.m * s.d, 1.0f);
    input.H = s.H, input.G = s.G, input.d = s.d, input.n = s.n, input.r = 0, input.m = s.m;
    input.k = k.data(), input.v = v.data();
    input.q_answer = q_answer.data(), input.k_answer = k_answer.data(), input.v_answer = v_answer.data();
    input.sample = "test/metrics_" + std::to_string(seed);
  }
};

double relative(double a, double b) {
  const double scale = std::max({std::abs(a), std::abs(b), 1e-300});
  return std::abs(a - b) / scale;
}

std::vector<std::vector<int>> random_sets(int sets, int n, double keep_share, std::mt19937& rng) {
  std::bernoulli_distribution keep(keep_share);
  std::vector<std::vector<int>> out(sets);
  for (auto& set : out)
    for (int j = 0; j < n; ++j)
      if (keep(rng)) set.push_back(j);
  return out;
}

const std::vector<Shape> kShapes = {
    {8, 2, 64, 1000, 5}, {4, 4, 80, 517, 3}, {28, 4, 128, 2049, 8}, {2, 1, 128, 33, 2}};

}  // namespace

TEST_CASE("metrics twin: keep-set independent part equals the CPU's") {
  for (const Shape& s : kShapes) {
    for (int topk : {1, 32}) {
      AnswerLayer layer(s, 11u + unsigned(s.n));
      const LayerInput& in = layer.input;
      INFO("H " << s.H << " G " << s.G << " d " << s.d << " n " << s.n << " m " << s.m << " topk " << topk);
      const AnswerAttention cpu = AnswerAttention::compute(in, topk);
      cuda::AnswerAttentionDevice device(cuda::answer_layer_view(in, topk));
      const auto got = device.download();
      REQUIRE(got.attention.size() == cpu.weight.size());
      double worst = 0.0;
      const size_t width = size_t(s.n) + s.m;
      for (size_t row = 0; row < cpu.total.size(); ++row)
        for (size_t j = 0; j < width; ++j) {
          const size_t i = row * width + j;
          REQUIRE(std::isfinite(got.attention[i]));
          // Entries past the row's last answer key are 0 on both sides.
          worst = std::max(worst, relative(got.attention[i], double(cpu.weight[i]) / cpu.total[row]));
        }
      // The full output: the CPU forms it per keep-set (add_layer, numerics 4), so here from
      // its weights in double: o = (Σ_j e_j v_j + the answer keys' sum) / total.
      for (size_t i = 0; i < cpu.answer_sum.size(); ++i) {
        const size_t row = i / s.d;
        const int h = int(row / s.m), c = int(i % s.d);
        double prompt = 0.0;
        for (int j = 0; j < s.n; ++j)
          prompt += double(cpu.weight[row * width + j]) * double(in.value(in.kv_head(h), j)[c]);
        REQUIRE(std::isfinite(got.output[i]));
        worst = std::max(worst, relative(got.output[i], (prompt + cpu.answer_sum[i]) / cpu.total[row]));
        worst = std::max(worst, relative(got.answer_output[i], cpu.answer_sum[i] / cpu.total[row]));
      }
      for (size_t i = 0; i < cpu.prompt_mass.size(); ++i) {
        worst = std::max(worst, relative(got.prompt_mass[i], cpu.prompt_mass[i]));
        worst = std::max(worst, relative(got.answer_mass[i], cpu.answer_mass[i]));
      }
      CHECK(worst < 1e-5);
      // The top-k lists agree except where two keys are within rounding of each other at the
      // k-th place (the device's a_t is double, the CPU's fp32 logits round to 1e-6): any key in
      // one list and not the other must be tied, to 1e-5, with the CPU's k-th key.
      const int k = cpu.k;
      for (size_t row = 0; row < cpu.prompt_mass.size(); ++row) {
        const int* want = cpu.top.data() + row * k;
        const int* have = got.top.data() + row * k;
        const float* a = cpu.weight.data() + row * (s.n + s.m);
        const double kth = a[want[k - 1]];
        for (int i = 0; i < k; ++i) {
          if (std::find(want, want + k, have[i]) != want + k) continue;
          INFO("row " << row << ": key " << have[i] << " in the device's top-k only");
          CHECK(std::abs(a[have[i]] - kth) <= 1e-5 * kth);
        }
      }
    }
  }
}

TEST_CASE("metrics twin: every metric equals the CPU's, repeated runs bit-identical") {
  std::mt19937 rng(5);
  for (const Shape& s : kShapes) {
    AnswerLayer layer(s, 101u + unsigned(s.d));
    const LayerInput& in = layer.input;
    const int topk = 16;
    const AnswerAttention cpu_answers = AnswerAttention::compute(in, topk);
    cuda::AnswerAttentionDevice device(cuda::answer_layer_view(in, topk));
    for (int sets : {s.G, s.H}) {
      std::vector<std::vector<std::vector<int>>> cases;
      cases.push_back(std::vector<std::vector<int>>(sets));  // nothing kept
      cases.push_back(std::vector<std::vector<int>>(sets, std::vector<int>{s.n - 1}));
      cases.push_back(random_sets(sets, s.n, 0.2, rng));
      cases.push_back(random_sets(sets, s.n, 1.0, rng));  // everything: recall 1, error ~0
      for (const auto& keep : cases) {
        INFO("H " << s.H << " G " << s.G << " d " << s.d << " n " << s.n << " sets " << sets
                  << " kept " << keep[0].size());
        const std::vector<std::pair<int, int>> evidence = {{s.n / 3, s.n / 2}};
        MetricAccumulator cpu, gpu;
        cpu.add_layer(in, cpu_answers, keep, evidence);
        const auto rows = device.rows(keep);
        gpu.add_layer_rows(in, rows, std::min(topk, s.n), keep, evidence);
        const auto a = cpu.finish(), b = gpu.finish();
        for (const auto& [name, value] : a) {
          INFO(name);
          REQUIRE(b.at(name).has_value() == value.has_value());
          if (!value) continue;
          REQUIRE(std::isfinite(*b.at(name)));
          // The device computes in double, the CPU under numerics 4 (fp32 logits, within 1e-5
          // of double precision); output_error is ~1e-16 when everything is kept: compare it
          // absolutely there. topk_recall may differ by ties at the k-th key (one key of k).
          const double tolerance = name == "topk_recall" ? 2.0 / (16.0 * s.H * s.m) : 1e-5;
          CHECK(std::abs(*b.at(name) - *value) <= tolerance * std::max(1.0, std::abs(*value)));
        }
        const auto again = device.rows(keep);
        REQUIRE(again.size() == rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
          CHECK(again[i].recall == rows[i].recall);
          CHECK(again[i].error == rows[i].error);
          CHECK(again[i].top_hit == rows[i].top_hit);
        }
      }
    }
  }
}
#endif
