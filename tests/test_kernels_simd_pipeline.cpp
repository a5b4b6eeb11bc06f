// Numerics versions 2 and 3 (docs/numerics.md): a whole layer's attention stages and every registry
// method's scores are the same bits at every SIMD level this CPU runs and for any thread count,
// and the blocked attention rows agree with a double-precision softmax.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/layer_context.hpp"
#include "kernels/registry.hpp"
#include "kernels/simd/simd.hpp"
#include "kernels/stages/threads.hpp"
#include "support/simd_levels.hpp"

using namespace ckv;

namespace {

struct Layer {
  std::vector<float> q, k, v;
  LayerInput input;
};

// Every query row captured (r = n), so full-row methods (h2o over all rows, rc, rwr, the full
// graph) run too; peaky attention (scaled queries) like a real model's.
Layer random_layer(int H, int G, int d, int n, unsigned seed) {
  Layer l;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  l.q.resize(size_t(H) * n * d);
  l.k.resize(size_t(G) * n * d);
  l.v.resize(size_t(G) * n * d);
  for (float& x : l.q) x = 2.0f * normal(rng);
  for (float& x : l.k) x = normal(rng);
  for (float& x : l.v) x = normal(rng);
  LayerInput& in = l.input;
  in.H = H, in.G = G, in.d = d, in.n = n, in.r = n, in.m = 0;
  in.q = l.q.data(), in.k = l.k.data(), in.v = l.v.data();
  in.layer = 3, in.num_layers_model = 8;
  in.sample = "test/simd";
  return l;
}

struct Run {
  std::vector<float> window;
  std::vector<std::vector<double>> sums;
  std::vector<std::vector<std::vector<float>>> scores;  // per method: per selection head
};

Run run_all(const LayerInput& in) {
  Run out;
  LayerContext context(in);
  const Tensor3& win = context.window_attention(32);
  out.window.assign(win.data.begin(), win.data.end());
  out.sums = context.column_sums(in.n, "test");
  for (const MethodDef& method : method_registry()) {
    LayerContext fresh(in);  // no stage shared between methods: each computes its own
    const Scores s = method.score_cpu(fresh, method.parse(resolve_params(method, json::object())));
    out.scores.push_back(s.heads);
  }
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace

TEST_CASE("every registry method's scores are bit-identical at every SIMD level and thread count",
          "[simd]") {
  Layer l = random_layer(4, 2, 64, 333, 5u);
  std::vector<Run> runs;
  std::vector<std::string> labels;
  testing::for_each_level_and_threads({1, 2, 3}, [&](simd::Level level, int threads) {
    runs.push_back(run_all(l.input));
    labels.push_back(std::string(simd::level_name(level)) + " x" + std::to_string(threads));
  });

  const auto& registry = method_registry();
  REQUIRE(runs[0].scores.size() == registry.size());
  for (size_t r = 1; r < runs.size(); ++r) {
    INFO(labels[r] << " against " << labels[0]);
    CHECK(same_bits(runs[r].window, runs[0].window));
    for (int h = 0; h < l.input.H; ++h) CHECK(same_bits(runs[r].sums[h], runs[0].sums[h]));
    for (size_t m = 0; m < registry.size(); ++m) {
      INFO("method " << registry[m].name);
      REQUIRE(runs[r].scores[m].size() == runs[0].scores[m].size());
      for (size_t h = 0; h < runs[0].scores[m].size(); ++h) CHECK(same_bits(runs[r].scores[m][h], runs[0].scores[m][h]));
    }
  }
}

TEST_CASE("blocked attention rows match a double-precision softmax; a row does not depend on its block",
          "[simd]") {
  Layer l = random_layer(2, 1, 128, 200, 8u);
  const LayerInput& in = l.input;
  LayerContext context(in);
  std::vector<float> block(size_t(100) * in.n), single(in.n);
  context.attention_rows(1, 100, 200, block.data(), in.n);
  double worst = 0.0;
  for (int i = 100; i < 200; ++i) {
    context.attention_row(1, i, single.data());
    REQUIRE(std::memcmp(single.data(), block.data() + size_t(i - 100) * in.n, sizeof(float) * in.n) == 0);
    std::vector<double> exact(i + 1);
    double mx = -INFINITY, total = 0.0;
    for (int j = 0; j <= i; ++j) {
      double dot = 0.0;
      for (int c = 0; c < in.d; ++c) dot += double(in.query(1, i)[c]) * in.key(0, j)[c];
      mx = std::max(mx, exact[j] = dot / std::sqrt(double(in.d)));
    }
    for (double& x : exact) total += (x = std::exp(x - mx));
    for (int j = 0; j <= i; ++j) worst = std::max(worst, std::abs(single[j] - exact[j] / total));
    for (int j = i + 1; j < in.n; ++j) REQUIRE(single[j] == 0.0f);
  }
  CHECK(worst < 1e-6);
}

TEST_CASE(
    "one row of every head without the layer's packed keys equals attention_row, at every "
    "level and thread count",
    "[simd]") {
  // 7 query heads per KV head (Qwen's grouping), n not a multiple of 16, rows in the first panel,
  // on panel and chunk boundaries (256 keys) and the last one.
  Layer l = random_layer(14, 2, 64, 600, 21u);
  const LayerInput& in = l.input;
  testing::for_each_level_and_threads({1, 2, 3}, [&](simd::Level level, int threads) {
    LayerContext streamed(in), packed(in);
    std::vector<float> all(size_t(in.H) * (in.n + 5), -1.0f), one(in.n);
    for (int i : {0, 5, 15, 16, 255, 256, 257, 511, 599}) {
      INFO(simd::level_name(level) << ", " << threads << " threads, row " << i);
      streamed.attention_row_all_heads(i, all.data(), in.n + 5);
      for (int h = 0; h < in.H; ++h) {
        packed.attention_row(h, i, one.data());
        REQUIRE(std::memcmp(one.data(), all.data() + size_t(h) * (in.n + 5), sizeof(float) * in.n) == 0);
        // Past n (the stride's slack) nothing is written.
        for (int j = in.n; j < in.n + 5; ++j) REQUIRE(all[size_t(h) * (in.n + 5) + j] == -1.0f);
      }
    }
  });
}

TEST_CASE("knorm is minus the key norm summed key by key in double, bit for bit", "[simd]") {
  Layer l = random_layer(4, 2, 64, 333, 13u);
  const LayerInput& in = l.input;
  const MethodDef* knorm = find_method("knorm");
  REQUIRE(knorm != nullptr);
  LayerContext context(in);
  const Scores s = knorm->score_cpu(context, knorm->parse(resolve_params(*knorm, json::object())));
  REQUIRE(int(s.heads.size()) == in.G);
  for (int g = 0; g < in.G; ++g)
    for (int j = 0; j < in.n; ++j) {
      double sq = 0.0;
      for (int c = 0; c < in.d; ++c) sq += double(in.key(g, j)[c]) * double(in.key(g, j)[c]);
      INFO("KV head " << g << ", key " << j);
      REQUIRE(s.heads[g][j] == float(-std::sqrt(sq)));
    }
}
