// The worker computes only configurations of this build's numerics version (kernels/numerics.hpp,
// docs/database.md "Numerics versions"): a numerics-1 document, as a scheduler of an earlier build
// sends it, fails its unit with a message saying why and what to do, instead of storing this
// build's numbers under the old identity. The other units of the batch are computed.
#include <catch2/catch.hpp>

#include <string>

#include "configuration/configuration.hpp"
#include "kernels/numerics.hpp"
#include "support/synthetic_cache.hpp"
#include "worker/evaluator.hpp"

using namespace ckv;
using Catch::Matchers::Contains;

TEST_CASE("the worker refuses a configuration of another numerics version", "[worker]") {
  const ckv_test::SyntheticCache cache("ckv-numerics", ckv_test::needle_samples(1, 256, {0}));

  const Configuration current = Configuration::make("h2o", {{"budget", 64}});
  json legacy = current.document;
  legacy["eval"].erase("numerics");  // as a build before numerics 2 stored and sent it
  const std::string legacy_hash = sha256_hex(canonical_json(legacy));
  json newer = current.document;
  newer["eval"]["numerics"] = kNumericsVersion + 1;  // from a later build

  const Batch batch = cache.batch(cache.entries.at(0), {current.document, legacy, newer});
  const BatchResult result = evaluate_batch(batch, EvaluatorOptions{});
  REQUIRE(result.units.size() == 3);

  CHECK(result.units[0].ok);
  CHECK(result.units[0].metrics.count("attn_recall") == 1);

  CHECK_FALSE(result.units[1].ok);
  CHECK_THAT(result.units[1].error,
             Contains(batch.sample_label + ": configuration " + legacy_hash.substr(0, 12) +
                      ": computed under numerics 1 (the kernels up to 0.1: ") &&
                 Contains("this build computes numerics " + std::to_string(kNumericsVersion) + " (" +
                          numerics_description(kNumericsVersion) + ")") &&
                 Contains("its results cannot be reproduced — rerun the spec to compute numerics-" +
                          std::to_string(kNumericsVersion) + " units"));
  CHECK(result.units[1].metrics.empty());

  CHECK_FALSE(result.units[2].ok);
  CHECK_THAT(result.units[2].error, Contains("eval.numerics " + std::to_string(kNumericsVersion + 1) + " is newer than this ckv-sweep knows"));
}
