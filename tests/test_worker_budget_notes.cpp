// The run log's "nothing is evicted" notes name the budget the sweep file gives, also under
// budget_mode = pyramid, whose lower layers get more than that budget (and may keep a whole
// prompt that is longer than it): the note says which layers, never a per-layer budget as if it
// were the configured one.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "cache/cache_index.hpp"
#include "cache/synthetic.hpp"
#include "configuration/configuration.hpp"
#include "kernels/stages/selection.hpp"
#include "support/temp_dir.hpp"
#include "worker/evaluator.hpp"

using namespace ckv;
using Catch::Matchers::Contains;

TEST_CASE("the pyramid note names the configured budget and the layers that keep everything", "[worker]") {
  ckv_test::MkdtempDir dir("ckv-budget-notes");
  SynthOptions options;
  options.out_dir = dir.path.string();
  options.tasks = {"synth-needle"};
  options.samples_per_task = 1;
  options.tokens = 256;
  options.layers = {0, 1};
  options.num_layers_model = 4;
  REQUIRE(generate_synthetic_cache(options) == 1);
  const IndexEntry entry = read_cache_index(options.out_dir).at(0);
  const int n = entry.n_tokens;
  // KVCache-Factory's allocation with w = 8 and B - w = floor(n / 2): max_num = 2 (B - w) - (B - w) // 20
  // reaches n - w, so layer 0 gets n - w + w = n tokens (all of them), layer 1 fewer.
  const int budget = n / 2 + 8;
  const Configuration pyramid =
      Configuration::make("pyramidkv", {{"budget", budget}, {"window", 8}, {"sink_size", 0}});
  REQUIRE(layer_budget(pyramid.selection(), 0, 4, n) == n);
  REQUIRE(layer_budget(pyramid.selection(), 1, 4, n) < n);
  const Configuration whole = Configuration::make("snapkv", {{"budget", n + 10}, {"window", 8}});

  Batch batch;
  batch.batch_id = 1;
  batch.sample_path = (dir.path / entry.path).string();
  batch.sample_label = entry.task + "/" + entry.id;
  batch.units = {UnitTask{1, pyramid.document}, UnitTask{2, whole.document}};
  const BatchResult result = evaluate_batch(batch, EvaluatorOptions{});
  REQUIRE(result.units.size() == 2);
  CHECK(result.units[0].ok);
  REQUIRE(result.notes.size() == 2);
  CHECK(result.notes[0] ==
        fmt::format("{}: n = {} tokens <= budget {}: nothing is evicted (kept = n)", batch.sample_label, n, n + 10));
  CHECK(result.notes[1] == fmt::format("{}: n = {} tokens, budget {} with budget_mode = pyramid: layer 0 keeps every "
                                       "token (PyramidKV gives it a budget >= n)",
                                       batch.sample_label, n, budget));
  // kept: layer 0 keeps n, layer 1 its pyramid budget; the mean is over both (and above the budget).
  const double kept = result.units[0].metrics.at("kept").value();
  CHECK(kept == Approx((n + layer_budget(pyramid.selection(), 1, 4, n)) / 2.0));
  CHECK(kept > budget);
}

TEST_CASE("compression_ratio: the worker keeps round((1 - r) n) tokens of each sample", "[worker]") {
  ckv_test::MkdtempDir dir("ckv-ratio");
  SynthOptions options;
  options.out_dir = dir.path.string();
  options.tasks = {"synth-needle"};
  options.samples_per_task = 3;
  options.tokens = 300;
  options.layers = {0};
  REQUIRE(generate_synthetic_cache(options) == 3);
  for (const IndexEntry& entry : read_cache_index(options.out_dir)) {
    const Configuration ratio = Configuration::make("snapkv", {{"compression_ratio", 0.75}, {"window", 8}});
    Batch batch;
    batch.batch_id = 1;
    batch.sample_path = (dir.path / entry.path).string();
    batch.sample_label = entry.task + "/" + entry.id;
    batch.units = {UnitTask{1, ratio.document}};
    const BatchResult result = evaluate_batch(batch, EvaluatorOptions{});
    REQUIRE(result.units.at(0).ok);
    // round((1 - 0.75) n) = round(n / 4), half to even: n = 4q + 2 is a tie, which goes to the even of q, q + 1.
    const int q = entry.n_tokens / 4, rem = entry.n_tokens % 4;
    const double expected = rem < 2 ? q : rem == 3 ? q + 1
                                      : q % 2 == 0 ? q
                                                   : q + 1;
    INFO("n = " << entry.n_tokens);
    CHECK(result.units[0].metrics.at("kept").value() == expected);
  }
}
