// The eight baselines (docs/spec/METHODS.md "Baselines") on a tiny layer whose attention is rational;
// expected vectors come from tests/data/kernels/make_baselines_tiny.py (exact fractions).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <set>

#include "common/philox.hpp"
#include "kernels/registry.hpp"
#include "kernels/snapkv/snapkv.hpp"
#include "kernels/stages/selection.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;

namespace {

json load_json(const std::string& name) {
  std::ifstream in(std::string(CKV_TEST_DATA_DIR) + "/kernels/" + name);
  REQUIRE(in.good());
  return json::parse(in);
}

using TinyLayer = ckv_test::OwnedLayer;

// The layer of make_baselines_tiny.py: head h (KV head h / 2) queries e_{h % 2} on every row;
// K[g, j] = √2 (ln c[g][0][j], ln c[g][1][j]), so A[h, i, j] = c_j / Σ_{k≤i} c_k.
TinyLayer tiny_layer(const json& data, int rows_captured = -1) {
  TinyLayer t;
  const int n = data["n"], H = data["H"], G = data["G"], d = data["d"];
  const int r = rows_captured < 0 ? n : rows_captured;
  t.q.assign(size_t(H) * r * d, 0.0f);
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < r; ++i) t.q[(size_t(h) * r + i) * d + h % 2] = 1.0f;
  t.k.resize(size_t(G) * n * d);
  t.v.assign(size_t(G) * n * d, 0.0f);
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < n; ++j)
      for (int c = 0; c < d; ++c)
        t.k[(size_t(g) * n + j) * d + c] =
            float(std::sqrt(2.0) * std::log(data["c"][g][c][j].get<double>()));
  t.bind(H, G, d, n, r, "test/tiny");
  return t;
}

Scores score(const std::string& method, LayerContext& ctx, const json& given) {
  const MethodDef* m = find_method(method);
  REQUIRE(m != nullptr);
  return m->score_cpu(ctx, parse_params(*m, given));
}

void check_vector(const std::vector<float>& got, const json& want) {
  REQUIRE(got.size() == want.size());
  for (size_t j = 0; j < got.size(); ++j) {
    INFO("position " << j);
    CHECK(got[j] == Approx(want[j].get<double>()).epsilon(1e-5).margin(1e-7));
  }
}

void check_heads(const Scores& s, const json& want) {
  REQUIRE(s.heads.size() == want.size());
  for (size_t g = 0; g < want.size(); ++g) {
    INFO("selection head " << g);
    check_vector(s.heads[g], want[g]);
  }
}

// Small budgets that fit the tiny layer: B = 6 >= s + w = 0 + 3.
json tiny_params(json extra = json::object()) {
  json p = {{"budget", 6}, {"window", 3}};
  for (auto& [k, v] : extra.items()) p[k] = v;
  return p;
}

}  // namespace

TEST_CASE("h2o: column sums of causal attention, all or window rows, count normalisation") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  check_heads(score("h2o", ctx, tiny_params()), data["h2o_all_per_kv_head"]);
  check_heads(score("h2o", ctx, tiny_params({{"selection", "shared"}})),
              json::array({data["h2o_all_shared"]}));
  check_heads(score("h2o", ctx, tiny_params({{"normalize", "count"}})),
              data["h2o_all_count_per_kv_head"]);
  check_heads(score("h2o", ctx, tiny_params({{"rows", "window"}})), data["h2o_window_per_kv_head"]);
  check_heads(score("h2o", ctx, tiny_params({{"rows", "window"}, {"normalize", "count"}})),
              data["h2o_window_count_per_kv_head"]);
  // By hand: the last column is reached by row 7 only; head 0 gives c_7 / Σc = 1/20, head 1
  // 1/16, so the KV-head-0 mean is (1/20 + 1/16)/2 = 0.05625.
  CHECK(score("h2o", ctx, tiny_params()).heads[0][7] == Approx(0.05625));
}

TEST_CASE("h2o with rows = all refuses a cache without every query row") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data, 3);
  LayerContext ctx(t.input);
  try {
    score("h2o", ctx, tiny_params());
    FAIL("expected an error");
  } catch (const ckv::Error& e) {
    std::string what = e.what();
    CHECK(what.find("test/tiny") != std::string::npos);
    CHECK(what.find("h2o") != std::string::npos);
  }
  // The last `window` rows are enough for rows = "window".
  check_heads(score("h2o", ctx, tiny_params({{"rows", "window"}})), data["h2o_window_per_kv_head"]);
}

TEST_CASE("snapkv: window votes over the prefix, max and avg pooling with padding, GQA mean") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  json pool3 = {{"kernel", 3}};
  check_heads(score("snapkv", ctx, tiny_params(pool3)), data["snapkv_max_per_kv_head"]);
  check_heads(score("snapkv", ctx, tiny_params({{"kernel", 3}, {"pool", "avg"}})),
              data["snapkv_avg_per_kv_head"]);
  check_heads(score("snapkv", ctx, tiny_params({{"kernel", 3}, {"selection", "shared"}})),
              json::array({data["snapkv_max_shared"]}));
  // pyramidkv scores are snapkv's.
  check_heads(score("pyramidkv", ctx, tiny_params(pool3)), data["snapkv_max_per_kv_head"]);
}

TEST_CASE("pool_1d follows torch max_pool1d / avg_pool1d (count_include_pad) with padding k/2") {
  std::vector<double> x = {1, 4, 2, 0, 3};
  CHECK(pool_1d(x, 3, true) == std::vector<double>{4, 4, 4, 3, 3});
  auto avg = pool_1d(x, 3, false);  // zero padding counted: edges divided by 3 too
  std::vector<double> want = {5.0 / 3, 7.0 / 3, 6.0 / 3, 5.0 / 3, 3.0 / 3};
  for (size_t j = 0; j < x.size(); ++j) CHECK(avg[j] == Approx(want[j]));
  CHECK(pool_1d(x, 1, true) == x);
  CHECK(pool_1d({-2, -5}, 5, true) == std::vector<double>{-2, -2});  // padding never wins
}

// The window of position j folded in ascending t, written out per position: pool_1d's passes
// over offsets must give these bits (the avg sum's order is visible in the last bits).
TEST_CASE("pool_1d gives the per-position window folds bit for bit, kernels wider than x included") {
  std::mt19937 rng(5);
  for (int len : {1, 2, 6, 7, 100, 1001})
    for (int kernel : {1, 3, 5, 7, 63, 2 * len + 1}) {
      std::vector<double> x(static_cast<size_t>(len));
      for (double& v : x) v = std::uniform_real_distribution<double>(0.0, 1.0)(rng) * std::pow(10.0, double(rng() % 9) - 4);
      for (bool max_pool : {true, false}) {
        std::vector<double> want(static_cast<size_t>(len));
        const int pad = kernel / 2;
        for (int j = 0; j < len; ++j) {
          double acc = max_pool ? -INFINITY : 0.0;
          for (int t = std::max(0, j - pad); t <= std::min(len - 1, j + pad); ++t)
            acc = max_pool ? std::max(acc, x[t]) : acc + x[t];
          want[j] = max_pool ? acc : acc / double(kernel);
        }
        INFO("len " << len << " kernel " << kernel << (max_pool ? " max" : " avg"));
        const std::vector<double> got = pool_1d(x, kernel, max_pool);
        CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(double)) == 0);
      }
    }
}

TEST_CASE("tova: last query row, mean over all heads, replicated per KV head") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  Scores s = score("tova", ctx, tiny_params());
  REQUIRE(s.heads.size() == 2);
  check_vector(s.heads[0], data["tova"]);
  check_vector(s.heads[1], data["tova"]);
  // By hand, position 0: (4/20 + 1/16 + 1/8 + 2/16) / 4 = 0.128125.
  CHECK(s.heads[0][0] == Approx(0.128125));
  Scores shared = score("tova", ctx, tiny_params({{"selection", "shared"}}));
  REQUIRE(shared.heads.size() == 1);
  check_vector(shared.heads[0], data["tova"]);
}

TEST_CASE("knorm: minus the key L2 norm, per KV head or averaged") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  check_heads(score("knorm", ctx, tiny_params()), data["knorm_per_kv_head"]);
  check_heads(score("knorm", ctx, tiny_params({{"selection", "shared"}})),
              json::array({data["knorm_shared"]}));
  // KV head 1, position 0: K = √2 (ln 1, ln 2), norm √2 ln 2.
  CHECK(score("knorm", ctx, tiny_params()).heads[1][0] == Approx(-std::sqrt(2.0) * std::log(2.0)));
}

TEST_CASE("streaming_llm keeps the sinks and the most recent tokens") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  const MethodDef* m = find_method("streaming_llm");
  REQUIRE(m != nullptr);
  MethodParams p = parse_params(*m, {{"budget", 5}, {"window", 1}, {"sink_size", 2}});
  auto keep = select_keep(m->score_cpu(ctx, p), m->selection(p), 8, 2, 0, 1);
  for (const auto& k : keep) CHECK(k == std::vector<int>{0, 1, 5, 6, 7});
  CHECK(m->find_param("sink_size")->default_value == 4);
}

TEST_CASE("random: reproducible for a seed, different across seeds, uniform in [0, 1)") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  Scores a = score("random", ctx, tiny_params({{"seed", 7}}));
  Scores b = score("random", ctx, tiny_params({{"seed", 7}}));
  Scores c = score("random", ctx, tiny_params({{"seed", 8}}));
  REQUIRE(a.heads.size() == 2);
  CHECK(a.heads == b.heads);
  CHECK(a.heads[0] != c.heads[0]);
  for (float x : a.heads[0]) {
    CHECK(x >= 0.0f);
    CHECK(x < 1.0f);
  }
  // Keyed by position only: a longer prompt starts with the same draws.
  TinyLayer longer = tiny_layer(data);
  longer.input.n = 4;
  LayerContext ctx4(longer.input);
  Scores prefix = score("random", ctx4, tiny_params({{"seed", 7}, {"budget", 3}, {"window", 1}}));
  for (int j = 0; j < 4; ++j) CHECK(prefix.heads[0][j] == a.heads[0][j]);
  // Roughly uniform over many positions: the mean of 4096 draws is 0.5 ± 0.02 (σ ≈ 0.0045).
  std::vector<float> zeros(4096 * 2, 0.0f);
  LayerInput big = t.input;
  big.n = 4096;
  big.r = 0;
  big.k = zeros.data();
  LayerContext ctx_big(big);
  Scores many = score("random", ctx_big, {{"seed", 1}});
  double sum = 0;
  for (float x : many.heads[0]) sum += x;
  CHECK(sum / 4096 == Approx(0.5).margin(0.02));
  // Each score is the Philox draw of its position (stream "RAND"), whether it was drawn in a
  // batch of 16 side by side or one at a time in the tail: n = 4096 + 7 has both.
  std::vector<float> zeros_tail(4103 * 2, 0.0f);
  big.n = 4103;
  big.k = zeros_tail.data();
  LayerContext ctx_tail(big);
  Scores tail = score("random", ctx_tail, {{"seed", 0x89ABCDEFull}});
  for (int j = 0; j < big.n; ++j) {
    INFO("position " << j);
    REQUIRE(tail.heads[0][j] == float(philox_walk_draw(0x89ABCDEFull, 0x52414E44u, uint32_t(j), 0u).u0));
  }
}

TEST_CASE("full keeps everything and has no parameters") {
  const MethodDef* m = find_method("full");
  REQUIRE(m != nullptr);
  CHECK(m->params.empty());
  CHECK_FALSE(m->uses_selection);
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  Scores s = score("full", ctx, json::object());
  CHECK(s.keep_all);
  CHECK_THROWS_AS(resolve_params(*m, {{"budget", 5}}), ckv::Error);
}

// Sinks, window and exactly min(B, n) kept: for every method of the registry in
// test_kernels_registry_contracts.cpp.

TEST_CASE("per_kv_head selections differ when the KV heads' scores differ") {
  json data = load_json("baselines_tiny.json");
  TinyLayer t = tiny_layer(data);
  LayerContext ctx(t.input);
  const MethodDef* m = find_method("h2o");
  MethodParams p = parse_params(*m, {{"budget", 4}, {"window", 1}, {"normalize", "count"}});
  auto keep = select_keep(m->score_cpu(ctx, p), m->selection(p), 8, 2, 0, 1);
  // Count-normalised sums (baselines_tiny.json): KV head 0 best 0, 3, 4; KV head 1 best 0, 2, 1.
  CHECK(keep[0] == std::vector<int>{0, 3, 4, 7});
  CHECK(keep[1] == std::vector<int>{0, 1, 2, 7});
}

TEST_CASE("baseline schemas: defaults, help, validation") {
  for (const char* name : {"random", "streaming_llm", "h2o", "snapkv", "pyramidkv", "tova", "knorm"}) {
    INFO(name);
    const MethodDef* m = find_method(name);
    REQUIRE(m != nullptr);
    CHECK_FALSE(m->summary.empty());
    CHECK_FALSE(m->source.empty());
    CHECK(m->find_param("selection")->default_value == "per_kv_head");
    CHECK(m->find_param("window")->default_value == 64);
    if (std::string(name) != "streaming_llm") CHECK(m->find_param("sink_size")->default_value == 0);
    for (const auto& p : m->params) {
      CHECK_FALSE(p.help.empty());
      std::string error;
      CHECK(check_param_value(p, p.default_value, error).has_value());
    }
    Params defaults = resolve_params(*m, json::object());
    CHECK(defaults["budget"] == 2048);
    CHECK_THROWS_WITH(resolve_params(*m, {{"budget", 10}}),
                      Catch::Contains("budget 10 is below sink_size + window"));
  }
  CHECK(find_method("pyramidkv")->find_param("budget_mode")->default_value == "pyramid");
  CHECK(find_method("snapkv")->find_param("budget_mode")->default_value == "uniform");
  CHECK_THROWS_WITH(resolve_params(*find_method("snapkv"), {{"kernel", 4}}),
                    Catch::Contains("kernel 4 must be odd"));
  // Budgets share one scoring pass; the window does not.
  const MethodDef& snap = *find_method("snapkv");
  CHECK(score_key(snap, resolve_params(snap, {{"budget", 256}})) ==
        score_key(snap, resolve_params(snap, {{"budget", 1024}})));
  CHECK(score_key(snap, resolve_params(snap, {{"window", 8}})) !=
        score_key(snap, resolve_params(snap, {{"window", 16}})));
}
