// One owner of a configuration's identity (configuration/configuration.hpp): the same point
// built by a sweep spec, by `ckv-sweep inspect`, by `ckv-sweep export-keep` (from flags and from
// a stored document) and by the benchmarks' harness has one hash. If two of them drifted (a
// default filled in one place only, layers not sorted, topk written differently), a database
// would silently recompute done units under a new identity.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/harness.hpp"
#include "kernels/numerics.hpp"
#include "scheduler/spec.hpp"
#include "support/temp_dir.hpp"

using namespace ckv;

namespace {

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (size_t got = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, got);
  REQUIRE(pclose(pipe) == 0);
  return out;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  REQUIRE(std::getline(in, line));
  return line;
}

}  // namespace

TEST_CASE("spec, inspect, export-keep and the benchmarks give one point one hash", "[spec]") {
  ckv_test::MkdtempDir dir("ckv-identity");
  const std::string exe = CKV_SWEEP_EXE, cache = dir.file("cache");
  run(exe + " synth --out " + cache + " --tasks synth-multihop --samples 1 --tokens 256 2>&1");

  // The point: snapkv, budget 96, avg pooling (other parameters default), layer 1, topk 16.
  // Layers written out of order and a default written out must not change it.
  const CampaignSpec spec = parse_spec(R"(
[campaign]
name = "identity"
database = "unused.sqlite"
[data]
cache = ")" + cache + R"("
layers = [1]
[metrics]
topk = 16
[[methods]]
name = "snapkv"
pool = "avg"
budget = 96
kernel = 7
)",
                                       "identity.toml");
  const auto points = expand_grid(spec);
  REQUIRE(points.size() == 1);
  const std::string hash = points[0].hash;

  EvalSettings eval;
  eval.layers = std::vector<int>{1};
  eval.topk = 16;
  CHECK(bench::bench_configuration("snapkv", {{"budget", 96}, {"pool", "avg"}}, eval).hash == hash);

  const json inspected = json::parse(run(exe + " inspect --cache " + cache +
                                         " --sample synth-multihop-0 --layer 1 --method snapkv"
                                         " --budget 96 --set pool=avg --topk 16"));
  CHECK(inspected.at("config_hash") == hash);

  const std::string from_flags = dir.file("flags.jsonl");
  run(exe + " export-keep --cache " + cache + " --method snapkv --set budget=96 --set pool=avg" +
      " --layers '[1]' --topk 16 --allow-missing-layers --out " + from_flags + " 2>&1");
  CHECK(json::parse(first_line(from_flags)).at("config_hash") == hash);

  // The stored document itself, and a hand-written partial one (defaults left out; the numerics
  // version is not a default: a document without it is a numerics-1 configuration).
  for (const json& document :
       {points[0].document,
        json{{"method", "snapkv"}, {"params", {{"pool", "avg"}, {"budget", 96}}}, {"eval", {{"layers", {1}}, {"topk", 16}, {"numerics", kNumericsVersion}}}}}) {
    const std::string config = dir.file("config.json"), out = dir.file("config.jsonl");
    std::ofstream(config) << document.dump();
    run(exe + " export-keep --cache " + cache + " --config " + config +
        " --allow-missing-layers --out " + out + " 2>&1");
    CHECK(json::parse(first_line(out)).at("config_hash") == hash);
  }

  // A different point is a different hash (the check above is not vacuous).
  CHECK(bench::bench_configuration("snapkv", {{"budget", 97}, {"pool", "avg"}}, eval).hash != hash);
}
