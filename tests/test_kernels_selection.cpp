// Selection rules shared by every method (docs/spec/METHODS.md "Selection") and PyramidKV budgets.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include "kernels/stages/selection.hpp"

using namespace ckv;

namespace {

SelectionParams make_sel(int budget, int window, int sink, bool shared = true) {
  SelectionParams sel;
  sel.budget = budget;
  sel.window = window;
  sel.sink = sink;
  sel.granularity = shared ? SelectionGranularity::shared : SelectionGranularity::per_kv_head;
  return sel;
}

Scores one_vector(std::vector<float> x) {
  Scores s;
  s.heads.push_back(std::move(x));
  return s;
}

SelectionParams selection_params(int budget, int window, int sink) {
  return make_sel(budget, window, sink);
}

}  // namespace

TEST_CASE("selection keeps sinks, window and the best of the rest, ties to the lower position") {
  // n = 10, s = 1, w = 2, B = 6: sinks {0}, window {8, 9}, 3 slots among 1..7.
  // Scores at 1..7: 5, 9, 5, 1, 9, 5, 0 -> 2 and 5 (9), then the first 5 at position 1.
  // Window tokens score lowest, sink too: they are kept anyway.
  Scores s = one_vector({-1, 5, 9, 5, 1, 9, 5, 0, -3, -3});
  auto keep = select_keep(s, make_sel(6, 2, 1), 10, 1, 0, 1);
  REQUIRE(keep.size() == 1);
  CHECK(keep[0] == std::vector<int>{0, 1, 2, 5, 8, 9});
}

namespace {

// The definition, independently: sinks and window, then the candidates sorted by (score
// descending with NaN lowest and -0 = +0, position ascending), the first slots kept.
std::vector<int> reference_keep(const std::vector<float>& x, int budget, int window, int sink) {
  const int n = int(x.size());
  std::vector<int> keep;
  if (n <= budget) {
    keep.resize(n);
    std::iota(keep.begin(), keep.end(), 0);
    return keep;
  }
  const int s = std::min(sink, n), e = std::max(s, n - window);
  std::vector<int> order(e - s);
  std::iota(order.begin(), order.end(), s);
  auto value = [&](int j) { return std::isnan(x[j]) ? -INFINITY : x[j]; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return value(a) > value(b); });
  order.resize(std::min<size_t>(order.size(), size_t(std::max(0, budget - s - (n - e)))));
  for (int j = 0; j < s; ++j) keep.push_back(j);
  keep.insert(keep.end(), order.begin(), order.end());
  for (int j = e; j < n; ++j) keep.push_back(j);
  std::sort(keep.begin(), keep.end());
  return keep;
}

}  // namespace

TEST_CASE("selection equals a full sort on adversarial scores (narrow ranges, ties, NaN, signed zeros)") {
  std::mt19937 rng(11);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Each generator fills a score vector of length n with one kind of distribution.
  const std::vector<std::pair<const char*, std::function<float(int, int)>>> kinds = {
      {"uniform", [&](int, int) { return std::uniform_real_distribution<float>(0, 1)(rng); }},
      {"narrow negative (knorm-like)",
       [&](int, int) { return -11.3f + std::normal_distribution<float>(0, 0.01f)(rng); }},
      {"adjacent floats",
       [&](int, int) { return std::nextafter(1.0f, 2.0f * float(std::uniform_int_distribution<int>(0, 3)(rng))); }},
      {"few values", [&](int, int) { return float(std::uniform_int_distribution<int>(0, 4)(rng)); }},
      {"all equal", [&](int, int) { return 0.25f; }},
      {"positions", [&](int j, int) { return float(j); }},
      {"reversed", [&](int j, int n) { return float(n - j); }},
      {"signed zeros, NaN, infinities", [&](int, int) {
         const float pick[] = {0.0f, -0.0f, nan, INFINITY, -INFINITY, 1e-45f, -1e-45f, 3.0f};
         return pick[std::uniform_int_distribution<int>(0, 7)(rng)];
       }},
      {"huge range", [&](int, int) {
         return std::ldexp(std::uniform_real_distribution<float>(-1, 1)(rng),
                           std::uniform_int_distribution<int>(-120, 120)(rng));
       }},
  };
  for (const auto& [name, draw] : kinds)
    for (int n : {7, 100, 1000, 5000}) {
      std::vector<float> x(n);
      for (int j = 0; j < n; ++j) x[j] = draw(j, n);
      for (int budget : {n / 10 + 6, n / 2 + 3, n - 1})
        for (auto [sink, window] : {std::pair{0, 1}, std::pair{4, 5}}) {
          if (budget < sink + window) continue;
          INFO(name << " n " << n << " B " << budget << " s " << sink << " w " << window);
          const auto keep = select_keep(one_vector(x), make_sel(budget, window, sink), n, 1, 0, 1);
          CHECK(keep[0] == reference_keep(x, budget, window, sink));
        }
    }
}

TEST_CASE("per_kv_head heads with equal scores share one keep-set; differing heads do not") {
  std::mt19937 rng(5);
  std::vector<float> a(300), b(300);
  for (float& v : a) v = std::uniform_real_distribution<float>(0, 1)(rng);
  for (float& v : b) v = std::uniform_real_distribution<float>(0, 1)(rng);
  Scores scores;
  scores.heads = {a, a, b, a};
  const auto keep = select_keep(scores, make_sel(60, 4, 2, false), 300, 4, 0, 1);
  REQUIRE(keep.size() == 4);
  CHECK(keep[0] == reference_keep(a, 60, 4, 2));
  CHECK(keep[1] == keep[0]);
  CHECK(keep[2] == reference_keep(b, 60, 4, 2));
  CHECK(keep[3] == keep[0]);
}

TEST_CASE("selection keeps everything when n <= B, with exactly min(B, n) otherwise") {
  Scores s = one_vector({3, 1, 2, 0, 5});
  auto all = select_keep(s, make_sel(5, 1, 1), 5, 1, 0, 1);
  CHECK(all[0] == std::vector<int>{0, 1, 2, 3, 4});
  auto bigger = select_keep(s, make_sel(100, 1, 1), 5, 1, 0, 1);
  CHECK(bigger[0] == std::vector<int>{0, 1, 2, 3, 4});
  // B = 3 = s + w: no free slot, only sink 0 and window 4.
  auto tight = select_keep(s, make_sel(2, 1, 1), 5, 1, 0, 1);
  CHECK(tight[0] == std::vector<int>{0, 4});
  auto three = select_keep(s, make_sel(3, 1, 1), 5, 1, 0, 1);
  CHECK(three[0] == std::vector<int>{0, 2, 4});  // 2 (score 2) beats 1 (1) and 3 (0)
}

TEST_CASE("per_kv_head selection gives one set per KV head; shared copies one set") {
  // n = 6, s = 0, w = 1, B = 3: two slots among 0..4.
  Scores per;
  per.heads = {{9, 8, 0, 0, 0, 0}, {0, 0, 0, 8, 9, 0}};
  auto keep = select_keep(per, make_sel(3, 1, 0, false), 6, 2, 0, 1);
  REQUIRE(keep.size() == 2);
  CHECK(keep[0] == std::vector<int>{0, 1, 5});
  CHECK(keep[1] == std::vector<int>{3, 4, 5});

  Scores shared = one_vector({0, 0, 7, 0, 7, 0});
  auto same = select_keep(shared, make_sel(3, 1, 0, true), 6, 3, 0, 1);
  REQUIRE(same.size() == 3);
  for (const auto& k : same) CHECK(k == std::vector<int>{2, 4, 5});

  // A score vector count that does not match the selection is an error, not a guess.
  CHECK_THROWS_AS(select_keep(per, make_sel(3, 1, 0, true), 6, 2, 0, 1), ckv::Error);
  CHECK_THROWS_AS(select_keep(shared, make_sel(3, 1, 0, false), 6, 2, 0, 1), ckv::Error);
}

TEST_CASE("keep_all keeps every token of every KV head") {
  Scores s;
  s.keep_all = true;
  auto keep = select_keep(s, make_sel(2, 1, 0, false), 4, 2, 0, 1);
  REQUIRE(keep.size() == 2);
  for (const auto& k : keep) CHECK(k == std::vector<int>{0, 1, 2, 3});
}

namespace {

// Offers tokens in a fixed order, skipping taken ones, and records the slot counts it saw.
class FixedOrderFill : public CustomFill {
 public:
  explicit FixedOrderFill(std::vector<int> order) : order_(std::move(order)) {}
  std::vector<int> fill(int head, int slots, const std::vector<unsigned char>& taken) const override {
    seen_slots.push_back(slots);
    std::vector<int> out;
    for (int j : order_)
      if (!taken[j] && int(out.size()) < slots) out.push_back(j);
    return out;
  }
  mutable std::vector<int> seen_slots;

 private:
  std::vector<int> order_;
};

}  // namespace

TEST_CASE("custom_fill decides the fill order when set") {
  auto fill = std::make_shared<FixedOrderFill>(std::vector<int>{0, 6, 1, 3, 2});
  Scores s;
  s.custom_fill = fill;
  // n = 8, s = 1, w = 2, B = 5: sink 0 and window 6, 7 taken; two slots: 1, 3 (0, 6 taken).
  auto keep = select_keep(s, make_sel(5, 2, 1), 8, 1, 0, 1);
  CHECK(keep[0] == std::vector<int>{0, 1, 3, 6, 7});
  CHECK(fill->seen_slots == std::vector<int>{2});
}

TEST_CASE("SelectionParams::validate refuses a budget below sink_size + window") {
  CHECK(selection_params(68, 64, 4).validate().empty());
  CHECK(selection_params(67, 64, 4).validate() ==
        "budget 67 is below sink_size + window = 68");
}

TEST_CASE("selection_schema declares the common parameters") {
  auto specs = selection_schema(4, SelectionGranularity::shared).specs();
  std::vector<std::string> names;
  names.reserve(specs.size());
  for (const auto& p : specs) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"budget", "window", "sink_size", "selection",
                                          "budget_mode", "pyramid_rounding", "compression_ratio"});
  for (const auto& p : specs) {
    CHECK_FALSE(p.help.empty());
    if (p.name == "budget" || p.name == "budget_mode" || p.name == "pyramid_rounding" ||
        p.name == "compression_ratio")
      CHECK_FALSE(p.affects_scores);
    else
      CHECK(p.affects_scores);
  }
  CHECK(specs[0].default_value == 2048);
  CHECK(specs[1].default_value == 64);
  CHECK(specs[2].default_value == 4);
  CHECK(specs[3].default_value == "shared");
  CHECK(selection_schema(0, SelectionGranularity::per_kv_head).specs()[2].default_value == 0);
}

TEST_CASE("compression_ratio: the budget of each sample is round((1 - r) n), half to even") {
  auto ratio = [](double r, int window = 2, int sink = 0) {
    SelectionParams sel = make_sel(2048, window, sink);
    sel.compression_ratio = {std::nullopt, r};
    return sel;
  };
  // By hand: (1 - r) n, then Python's round (ties to the even neighbour).
  CHECK(sample_budget(ratio(0.5), 1024) == 512);
  CHECK(sample_budget(ratio(0.5), 1025) == 512);           // 512.5 -> 512
  CHECK(sample_budget(ratio(0.5), 1027) == 514);           // 513.5 -> 514
  CHECK(sample_budget(ratio(0.9), 1000) == 100);           // (1 - 0.9) 1000 = 99.99999999999997 -> 100
  CHECK(sample_budget(ratio(0.75), 10) == 2);              // 2.5 -> 2
  CHECK(sample_budget(ratio(0.25), 10) == 8);              // 7.5 -> 8
  CHECK(sample_budget(ratio(0.0), 777) == 777);            // nothing removed
  CHECK(sample_budget(ratio(0.95, 64, 4), 100) == 68);     // 5 is raised to sink + window
  CHECK(sample_budget(make_sel(300, 2, 0), 1000) == 300);  // no ratio: the fixed budget
  // The keep-set has exactly that many tokens (0.7 n: 14, 14.7, 25.9, 44.8, 70.7 -> 14, 15, 26, 45, 71).
  for (int n : {20, 21, 37, 64, 101}) {
    std::vector<float> x(n);
    for (int j = 0; j < n; ++j) x[j] = float((j * 7) % 11);
    const auto keep = select_keep(one_vector(x), ratio(0.3), n, 1, 0, 1);
    CHECK(int(keep[0].size()) == std::map<int, int>{{20, 14}, {21, 15}, {37, 26}, {64, 45}, {101, 71}}.at(n));
  }
  // PyramidKV allocates the sample's budget as it would a fixed one.
  SelectionParams pyramid = ratio(0.5, 8, 4);
  pyramid.budget_mode = BudgetMode::pyramid;
  SelectionParams fixed = make_sel(1500, 8, 4);
  fixed.budget_mode = BudgetMode::pyramid;
  for (int layer : {0, 5, 31}) CHECK(layer_budget(pyramid, layer, 32, 3000) == layer_budget(fixed, layer, 32, 3000));
  CHECK(layer_budget(pyramid, 0, 32, 3000) > 1500);
  // validate: r < 1.
  CHECK(ratio(0.99).validate().empty());
  CHECK(ratio(1.0).validate() == "compression_ratio 1 removes the whole prompt: it must be below 1 (0 <= r < 1)");
}

TEST_CASE("pyramid budgets, integer rounding (KVCache-Factory)") {
  SelectionParams sel = make_sel(30, 4, 0);
  sel.budget_mode = BudgetMode::pyramid;
  sel.pyramid_rounding = PyramidRounding::integer;
  // n = 100, L = 4: base = 26, min = 26 // 20 = 1, max = 52 - 1 = 51 (< n - w = 96),
  // steps = 50 // 3 = 16: selected 51, 35, 19, 3 plus the window 4.
  std::vector<int> got;
  got.reserve(4);
  for (int l = 0; l < 4; ++l) got.push_back(layer_budget(sel, l, 4, 100));
  CHECK(got == std::vector<int>{55, 39, 23, 7});
  // n = 54: max 51 >= 50 -> max = 50, min = 52 - 50 = 2, steps = 48 // 3 = 16.
  got.clear();
  for (int l = 0; l < 4; ++l) got.push_back(layer_budget(sel, l, 4, 54));
  CHECK(got == std::vector<int>{54, 38, 22, 6});
  // n = 50 < 2 (B - w) = 52: KVCache-Factory's uniform branch.
  for (int l = 0; l < 4; ++l) CHECK(layer_budget(sel, l, 4, 50) == 30);
  // n <= B: nothing evicted, and the uniform mode ignores the layer.
  CHECK(layer_budget(sel, 3, 4, 30) == 30);
  sel.budget_mode = BudgetMode::uniform;
  CHECK(layer_budget(sel, 3, 4, 100) == 30);
}

TEST_CASE("pyramid budgets, float rounding (kvpress), half to even") {
  SelectionParams sel = make_sel(60, 2, 0);
  sel.budget_mode = BudgetMode::pyramid;
  sel.pyramid_rounding = PyramidRounding::real;
  // n = 200, L = 5: min = 60/20 = 3, max = 120 - 3 = 117 (< 198), steps = 114/4 = 28.5:
  // 117, 88.5 -> 88, 60, 31.5 -> 32, 3 (Python round: half to even).
  std::vector<int> got;
  got.reserve(5);
  for (int l = 0; l < 5; ++l) got.push_back(layer_budget(sel, l, 5, 200));
  CHECK(got == std::vector<int>{117, 88, 60, 32, 3});
  // n = 110: max 117 >= 108 -> max = 108, min = 120 - 108 = 12, steps = 24.
  got.clear();
  for (int l = 0; l < 5; ++l) got.push_back(layer_budget(sel, l, 5, 110));
  CHECK(got == std::vector<int>{108, 84, 60, 36, 12});
  // min = B/20 < w: kvpress falls back to the uniform budget.
  SelectionParams small = make_sel(60, 4, 0);
  small.budget_mode = BudgetMode::pyramid;
  small.pyramid_rounding = PyramidRounding::real;
  for (int l = 0; l < 5; ++l) CHECK(layer_budget(small, l, 5, 200) == 60);
}

TEST_CASE("a pyramid layer budget below sinks + window is raised to sinks + window") {
  SelectionParams sel = make_sel(60, 2, 4);  // float case above: layer 4 would keep 3 < 6
  sel.budget_mode = BudgetMode::pyramid;
  sel.pyramid_rounding = PyramidRounding::real;
  CHECK(layer_budget(sel, 4, 5, 200) == 6);
  std::vector<float> x(200);
  for (int j = 0; j < 200; ++j) x[j] = float(j % 7);
  auto keep = select_keep(one_vector(x), sel, 200, 1, 4, 5);
  CHECK(keep[0] == std::vector<int>{0, 1, 2, 3, 198, 199});
  auto layer0 = select_keep(one_vector(x), sel, 200, 1, 0, 5);
  CHECK(layer0[0].size() == 117);
}

TEST_CASE("rank_normalize: rank/(n-1), equal values ranked by position") {
  // Ascending: 1 (pos 1) -> 0, 2 (pos 3) -> 1, 3 (pos 0) -> 2, 3 (pos 2) -> 3.
  auto r = rank_normalize({3, 1, 3, 2});
  REQUIRE(r.size() == 4);
  CHECK(r[0] == Approx(2.0 / 3));
  CHECK(r[1] == 0.0f);
  CHECK(r[2] == 1.0f);
  CHECK(r[3] == Approx(1.0 / 3));
  CHECK(rank_normalize({5}) == std::vector<float>{0.0f});
  CHECK(rank_normalize({}).empty());
}
