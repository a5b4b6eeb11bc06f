// On synthetic caches with a planted multi-hop chain (answer/window queries -> bridge
// span -> evidence span; docs/spec/DATA.md), an absorbing walk on the full attention graph reaches the
// evidence through the bridge, which H2O's column sums barely see (the evidence is attended by
// the bridge rows only). The thresholds are properties of the planted structure, not tuned
// method settings: the walk must keep the whole bridge and the whole evidence span, H2O must
// keep strictly less evidence on average.
#include <catch2/catch.hpp>

#include <filesystem>

#include "cache/cache_index.hpp"
#include "cache/sample_cache.hpp"
#include "cache/synthetic.hpp"
#include "kernels/numerics.hpp"
#include "worker/evaluator.hpp"

using namespace ckv;

namespace {

double span_share_kept(const std::vector<int>& keep, std::pair<int, int> span) {
  int kept = 0;
  for (int j : keep) kept += (j >= span.first && j < span.second);
  return double(kept) / (span.second - span.first);
}

json walk_config(const std::string& estimator, int layer) {
  return {{"method", "circuitkv_walk"},
          {"params", {{"graph", "full"}, {"combination", "walk"}, {"estimator", estimator}, {"budget", 128}}},
          {"eval", {{"layers", {layer}}, {"topk", 32}, {"numerics", kNumericsVersion}}}};
}

}  // namespace

TEST_CASE("walks on the full graph reach the planted evidence through the bridge; H2O does not") {
  const auto dir = std::filesystem::temp_directory_path() / "ckv_test_multihop_bridge";
  std::filesystem::remove_all(dir);
  SynthOptions options;
  options.out_dir = dir.string();
  options.tasks = {"synth-multihop"};
  options.samples_per_task = 3;
  options.tokens = 1024;
  REQUIRE(generate_synthetic_cache(options) == 3);

  double walk_evidence = 0, h2o_evidence = 0;
  int cases = 0;
  for (const auto& entry : read_cache_index(dir.string())) {
    const std::string path = (dir / entry.path).string();
    const SampleMeta meta = SampleCache::open(path).meta();
    REQUIRE(meta.planted.count("bridge"));
    const auto bridge = meta.planted.at("bridge").at(0);
    const auto evidence = meta.evidence.at(0);
    for (int layer : meta.layers) {
      for (const std::string estimator : {"exact", "monte_carlo"}) {
        InspectResult walk = inspect_layer(path, layer, walk_config(estimator, layer));
        INFO(entry.id << " layer " << layer << " estimator " << estimator);
        CHECK(span_share_kept(walk.keep[0], bridge) == 1.0);
        CHECK(span_share_kept(walk.keep[0], evidence) == 1.0);
        if (estimator == "exact") walk_evidence += *walk.metrics.at("evidence_recall");
      }
      json h2o = {{"method", "h2o"}, {"params", {{"budget", 128}}}, {"eval", {{"layers", {layer}}, {"topk", 32}, {"numerics", kNumericsVersion}}}};
      InspectResult baseline = inspect_layer(path, layer, h2o);
      h2o_evidence += *baseline.metrics.at("evidence_recall");
      ++cases;
    }
  }
  walk_evidence /= cases;
  h2o_evidence /= cases;
  WARN("mean evidence_recall at B = 128 over " << cases << " sample-layers: walk(full) "
                                               << walk_evidence << ", h2o " << h2o_evidence);
  CHECK(walk_evidence == Approx(1.0));
  CHECK(h2o_evidence < 0.75);
  std::filesystem::remove_all(dir);
}
