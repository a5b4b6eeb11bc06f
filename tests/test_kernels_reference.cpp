// The reference behaviours ckv-sweep claims to reproduce (docs/reference-implementations.md),
// pinned by vectors computed from the published definitions in float64 numpy, independently of
// this code (tests/data/kernels/make_reference_vectors.py): kvpress's and KVCache-Factory's
// SnapKV and H2O through `convention`, per-query-head selection, the public CircuitKV per-head
// and union paths, and the public influence walker's window_prefix matrix.
#include <catch2/catch.hpp>

#include <fstream>

#include "kernels/registry.hpp"
#include "kernels/stages/reduced_attention.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;

namespace {

json load_cases() {
  std::ifstream in(std::string(CKV_TEST_DATA_DIR) + "/kernels/reference_vectors.json");
  REQUIRE(in.good());
  return json::parse(in);
}

ckv_test::OwnedLayer layer_of(const json& data) {
  ckv_test::OwnedLayer t;
  const int n = data["n"], H = data["H"], G = data["G"], d = data["d"];
  for (const auto& head : data["q"])
    for (const auto& row : head)
      for (const auto& x : row) t.q.push_back(x.get<float>());
  for (const auto& head : data["k"])
    for (const auto& row : head)
      for (const auto& x : row) t.k.push_back(x.get<float>());
  t.v.assign(size_t(G) * n * d, 0.0f);
  t.bind(H, G, d, n, n, "test/reference");
  return t;
}

}  // namespace

TEST_CASE("reference behaviours: scores and keep-sets from the published definitions") {
  const json data = load_cases();
  ckv_test::OwnedLayer t = layer_of(data);
  const int n = data["n"];
  for (const json& c : data["cases"]) {
    INFO(c["name"].get<std::string>());
    const MethodDef& method = method_named(c["method"]);
    const MethodParams params = parse_params(method, c["params"]);
    LayerContext ctx(t.input);
    const Scores scores = method.score_cpu(ctx, params);
    if (c.contains("scores")) {
      REQUIRE(scores.heads.size() == c["scores"].size());
      const double scale = c["score_scale"];
      const int prefix = c["compare_prefix"];
      for (size_t h = 0; h < scores.heads.size(); ++h)
        for (int j = 0; j < prefix; ++j) {
          INFO("selection head " << h << " position " << j);
          CHECK(scores.heads[h][j] * scale ==
                Approx(c["scores"][h][j].get<double>()).epsilon(1e-5).margin(1e-9));
        }
    }
    const auto keep = select_keep(scores, method.selection(params), n, t.input.G, 0, 1, t.input.H);
    REQUIRE(keep.size() == c["keep"].size());
    for (size_t h = 0; h < keep.size(); ++h) {
      INFO("selection head " << h);
      CHECK(keep[h] == c["keep"][h].get<std::vector<int>>());
    }
  }
}

TEST_CASE("conventions set the knobs of their reference; given parameters win") {
  const MethodDef& snap = method_named("snapkv");
  const json kvpress = resolve_params(snap, {{"convention", "kvpress"}});
  CHECK(kvpress["window"] == 64);
  CHECK(kvpress["kernel"] == 5);
  CHECK(kvpress["pool"] == "avg");
  CHECK(kvpress["selection"] == "per_kv_head");
  CHECK_FALSE(kvpress.contains("convention"));  // never part of the identity
  const json factory = resolve_params(snap, {{"convention", "kvcache_factory"}, {"kernel", 3}});
  CHECK(factory["window"] == 8);
  CHECK(factory["kernel"] == 3);
  CHECK(factory["selection"] == "per_query_head");
  // Written knob by knob, the same configuration.
  CHECK(resolve_params(snap, {{"convention", "kvpress"}}) ==
        resolve_params(snap, {{"window", 64}, {"kernel", 5}, {"pool", "avg"}, {"selection", "per_kv_head"}, {"sink_size", 0}}));
  CHECK(resolve_params(method_named("pyramidkv"), {{"convention", "kvpress"}})["pyramid_rounding"] ==
        "float");
  CHECK_THROWS_WITH(resolve_params(snap, {{"convention", "vllm"}}), Catch::Contains("convention"));
}

TEST_CASE("the public influence walker's window_prefix matrix and its H2O term") {
  const json data = load_cases();
  ckv_test::OwnedLayer t = layer_of(data);
  const json& want = data["matrices"]["influence_window_prefix"];
  LayerContext ctx(t.input);
  const auto& f = walkers::window_prefix_attention(ctx, walkers::HeadMerge::max, want["window"], "test");
  const int n = data["n"];
  REQUIRE(f.n == n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) {
      INFO("F[" << i << ", " << j << "]");
      CHECK(f.row(i)[j] == Approx(want["matrix"][i][j].get<double>()).epsilon(1e-5).margin(1e-12));
    }
  const auto h2o = walkers::reduced_column_sums(f, n);
  for (int j = 0; j < n; ++j) CHECK(h2o[j] == Approx(want["h2o"][j].get<double>()).epsilon(1e-5));
}

TEST_CASE("identity across versions: legacy values are left out and read back") {
  const MethodDef& influence = method_named("circuitkv_influence");
  // The `graph` parameter was added later: its legacy value "full" is left out of the canonical form...
  const json legacy = resolve_params(influence, {{"graph", "full"}});
  CHECK_FALSE(legacy.contains("graph"));
  CHECK(legacy["head_reduce"] == "mean");
  // ... and the new default is written, so its identity differs.
  const json current = resolve_params(influence, json::object());
  CHECK(current["graph"] == "window_prefix");
  CHECK(current["head_reduce"] == "max");
  // The per-head knobs appear only where the public defaults apply.
  const MethodDef& neumann = method_named("circuitkv_neumann");
  const json dis = resolve_params(neumann, json::object());
  for (const char* knob : {"per_head_entropy", "per_head_smoothing", "per_head_sink_score",
                           "per_head_range", "per_head_mix"})
    CHECK_FALSE(dis.contains(knob));
  CHECK(dis["true_hub_hi"] == true);
  CHECK(dis["selection"] == "shared");
  CHECK(dis["smoothing"] == "gaussian");
  const json per_head = resolve_params(neumann, {{"per_head", true}});
  CHECK(per_head["per_head_range"] == "prefix");
  CHECK(per_head["true_hub_hi"] == false);
  CHECK(per_head["selection"] == "per_query_head");
  CHECK(resolve_params(neumann, {{"combination", "union"}})["smoothing"] == "none");
}
