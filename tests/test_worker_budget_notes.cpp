// The run log's "nothing is evicted" notes name the budget the sweep file gives, also under
// budget_mode = pyramid, whose lower layers get more than that budget (and may keep a whole
// prompt that is longer than it): the note says which layers, never a per-layer budget as if it
// were the configured one.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "configuration/configuration.hpp"
#include "kernels/stages/selection.hpp"
#include "support/synthetic_cache.hpp"
#include "worker/evaluator.hpp"

using namespace ckv;
using Catch::Matchers::Contains;

TEST_CASE("the pyramid note names the configured budget and the layers that keep everything", "[worker]") {
  const ckv_test::SyntheticCache cache("ckv-budget-notes", ckv_test::needle_samples(1, 256, {0, 1}));
  const IndexEntry entry = cache.entries.at(0);
  const int n = entry.n_tokens;
  // KVCache-Factory's allocation with w = 8 and B - w = floor(n / 2): max_num = 2 (B - w) - (B - w) // 20
  // reaches n - w, so layer 0 gets n - w + w = n tokens (all of them), layer 1 fewer.
  const int budget = n / 2 + 8;
  const Configuration pyramid =
      Configuration::make("pyramidkv", {{"budget", budget}, {"window", 8}, {"sink_size", 0}});
  REQUIRE(layer_budget(pyramid.selection(), 0, 4, n) == n);
  REQUIRE(layer_budget(pyramid.selection(), 1, 4, n) < n);
  const Configuration whole = Configuration::make("snapkv", {{"budget", n + 10}, {"window", 8}});

  const Batch batch = cache.batch(entry, {pyramid.document, whole.document});
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
  const ckv_test::SyntheticCache cache("ckv-ratio", ckv_test::needle_samples(3, 300, {0}));
  for (const IndexEntry& entry : cache.entries) {
    const Configuration ratio = Configuration::make("snapkv", {{"compression_ratio", 0.75}, {"window", 8}});
    const BatchResult result = evaluate_batch(cache.batch(entry, {ratio.document}), EvaluatorOptions{});
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
