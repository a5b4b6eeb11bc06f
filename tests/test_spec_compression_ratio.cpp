// compression_ratio in sweep files (kvpress's convention, the fraction of each prompt removed):
// an alternative to `budget`, a new configuration with a hash of its own, while every budget
// configuration keeps the canonical JSON (and hash) it had before the parameter existed.
#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "configuration/configuration.hpp"
#include "scheduler/spec.hpp"

using namespace ckv;
using Catch::Matchers::Contains;

namespace {

const char* kHeader = R"(
[campaign]
name = "ratio"
database = "results/test.sqlite"

[data]
cache = "cache/test"
)";

std::vector<GridPoint> expand(const std::string& body) { return expand_grid(parse_spec(kHeader + body, "ratio.toml")); }

}  // namespace

TEST_CASE("compression_ratio is a configuration of its own; budget configurations are unchanged", "[spec]") {
  const auto budget = expand("[[methods]]\nname = \"snapkv\"\nbudget = 512\n");
  REQUIRE(budget.size() == 1);
  // The parameter is left out while it holds "none": the document is the one from before.
  CHECK(budget[0].canonical.find("compression_ratio") == std::string::npos);
  CHECK(budget[0].hash == Configuration::make("snapkv", json{{"budget", 512}}).hash);

  const auto ratios = expand("[[methods]]\nname = \"snapkv\"\n[[grid]]\ncompression_ratio = [0, 0.5, 0.9]\n");
  REQUIRE(ratios.size() == 3);
  CHECK(ratios[1].params.at("compression_ratio") == 0.5);
  CHECK(ratios[0].params.at("compression_ratio").is_number_float());  // 0 is written 0.0
  CHECK(ratios[1].canonical.find("\"compression_ratio\":0.5") != std::string::npos);
  CHECK(ratios[0].hash != ratios[1].hash);
  for (const auto& r : ratios) CHECK(r.hash != budget[0].hash);
  // "none" is the same configuration as not giving the parameter.
  CHECK(expand("[[methods]]\nname = \"snapkv\"\nbudget = 512\ncompression_ratio = \"none\"\n")[0].hash == budget[0].hash);
  // The stored document reads back to the same configuration.
  CHECK(Configuration::from_document(ratios[1].document).hash == ratios[1].hash);
  CHECK(Configuration::from_document(ratios[1].document).selection().compression_ratio.number == 0.5);
}

TEST_CASE("compression_ratio: 0 <= r < 1, and not together with budget", "[spec]") {
  CHECK_THROWS_WITH(expand("[[methods]]\nname = \"snapkv\"\ncompression_ratio = 1.0\n"),
                    Contains("compression_ratio 1 removes the whole prompt: it must be below 1"));
  CHECK_THROWS_WITH(expand("[[methods]]\nname = \"snapkv\"\ncompression_ratio = -0.1\n"),
                    Contains("compression_ratio") && Contains("out of range"));
  CHECK_THROWS_WITH(expand("[[methods]]\nname = \"snapkv\"\nbudget = 512\ncompression_ratio = 0.5\n"),
                    Contains("give budget or compression_ratio, not both"));
  CHECK_THROWS_WITH(expand("[[methods]]\nname = \"snapkv\"\nbudget = 512\n[[grid]]\ncompression_ratio = [0.5]\n"),
                    Contains("give budget or compression_ratio, not both"));
}
