// The worker computes only configurations of this build's numerics version (kernels/numerics.hpp,
// docs/database.md "Numerics versions"): a numerics-1 document, as a scheduler of an earlier build
// sends it, fails its unit with a message saying why and what to do, instead of storing this
// build's numbers under the old identity. The other units of the batch are computed.
#include <catch2/catch.hpp>

#include <string>

#include "cache/cache_index.hpp"
#include "cache/synthetic.hpp"
#include "configuration/configuration.hpp"
#include "kernels/numerics.hpp"
#include "support/temp_dir.hpp"
#include "worker/evaluator.hpp"

using namespace ckv;
using Catch::Matchers::Contains;

TEST_CASE("the worker refuses a configuration of another numerics version", "[worker]") {
  ckv_test::MkdtempDir dir("ckv-numerics");
  SynthOptions options;
  options.out_dir = dir.path.string();
  options.tasks = {"synth-needle"};
  options.samples_per_task = 1;
  options.tokens = 256;
  options.layers = {0};
  REQUIRE(generate_synthetic_cache(options) == 1);
  const IndexEntry entry = read_cache_index(options.out_dir).at(0);

  const Configuration current = Configuration::make("h2o", {{"budget", 64}});
  json legacy = current.document;
  legacy["eval"].erase("numerics");  // as a build before numerics 2 stored and sent it
  const std::string legacy_hash = sha256_hex(canonical_json(legacy));
  json newer = current.document;
  newer["eval"]["numerics"] = kNumericsVersion + 1;  // from a later build

  Batch batch;
  batch.batch_id = 1;
  batch.sample_path = (dir.path / entry.path).string();
  batch.sample_label = entry.task + "/" + entry.id;
  batch.units = {UnitTask{1, current.document}, UnitTask{2, legacy}, UnitTask{3, newer}};
  const BatchResult result = evaluate_batch(batch, EvaluatorOptions{});
  REQUIRE(result.units.size() == 3);

  CHECK(result.units[0].ok);
  CHECK(result.units[0].metrics.count("attn_recall") == 1);

  CHECK_FALSE(result.units[1].ok);
  CHECK_THAT(result.units[1].error,
             Contains(batch.sample_label + ": configuration " + legacy_hash.substr(0, 12) +
                      ": computed under numerics 1 (the kernels up to 0.1: ") &&
                 Contains(std::string("this build computes numerics 2 (") + numerics_description(2) + ")") &&
                 Contains("its results cannot be reproduced — rerun the spec to compute numerics-2 units"));
  CHECK(result.units[1].metrics.empty());

  CHECK_FALSE(result.units[2].ok);
  CHECK_THAT(result.units[2].error, Contains("eval.numerics 3 is newer than this ckv-sweep knows"));
}
