// What docs/spec/METHODS.md asks of every method, checked over the whole registry (never a hand
// list of names), so a method added without meeting a contract fails here:
//   - keep-sets: sinks and window kept, exactly min(B, n) tokens, sorted and distinct;
//   - full-row needs declared: a configuration scores on a window-row capture exactly when
//     MethodDef::full_rows_reason is empty (planning refuses the others by that declaration);
//   - one vocabulary: a parameter name shared by several methods is one of the reviewed shared
//     meanings below, and a renamed parameter's former name is not another of its method's names.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "kernels/registry.hpp"
#include "kernels/stages/selection.hpp"
#include "support/tiny_layer.hpp"

using namespace ckv;

namespace {

constexpr int kN = 24, kH = 4, kG = 2, kD = 8;

// The selection knobs every evicting method shares, small enough for a 24-token layer.
json small_selection(int budget, const char* selection) {
  return {{"budget", budget}, {"window", 2}, {"sink_size", 1}, {"selection", selection}, {"budget_mode", "uniform"}};
}

}  // namespace

TEST_CASE("every evicting method keeps sinks, window and exactly min(B, n) tokens") {
  ckv_test::OwnedLayer layer = ckv_test::normal_layer(kN, kH, kG, kD, kN, 11, 1.0, "test/contract");
  int evicting = 0;
  for (const MethodDef& m : method_registry()) {
    if (!m.uses_selection) continue;
    ++evicting;
    for (const char* selection : {"shared", "per_kv_head"})
      for (int budget : {3, 5, 8, 20, 30}) {
        INFO(m.name << " " << selection << " B = " << budget);
        LayerContext ctx(layer.input);
        const MethodParams p = parse_params(m, small_selection(budget, selection));
        const auto keep = select_keep(m.score_cpu(ctx, p), m.selection(p), kN, kG, 0, 1);
        REQUIRE(keep.size() == size_t(kG));
        for (const auto& k : keep) {
          CHECK(int(k.size()) == std::min(budget, kN));
          CHECK(std::is_sorted(k.begin(), k.end()));
          CHECK(std::set<int>(k.begin(), k.end()).size() == k.size());
          CHECK(k.front() == 0);             // the sink
          CHECK(k[k.size() - 2] == kN - 2);  // the window
          CHECK(k.back() == kN - 1);
        }
      }
  }
  CHECK(evicting == int(method_registry().size()) - 1);  // all but `full`
}

TEST_CASE("every method declares whether it reads every attention row") {
  // Each method's defaults, and each choice of each of its choice parameters, scored on a capture
  // of the last 4 rows: it must fail (for want of query rows) exactly when full_rows_reason says so.
  ckv_test::OwnedLayer window_rows = ckv_test::normal_layer(kN, kH, kG, kD, 4, 12, 1.0, "test/window-rows");
  int declared = 0, window_only = 0;
  for (const MethodDef& m : method_registry()) {
    std::vector<json> variants = {m.uses_selection ? small_selection(8, "shared") : json::object()};
    for (const ParamSpec& p : m.params)
      if (p.type == ParamType::String && !p.is_preset())
        for (const std::string& choice : p.choices) {
          json v = variants.front();
          v[p.name] = choice;
          variants.push_back(v);
        }
    for (const json& given : variants) {
      MethodParams params;
      try {
        params = parse_params(m, given);
      } catch (const Error&) {
        continue;  // a choice that needs other parameters set too (cross-parameter rules)
      }
      INFO(m.name << " " << given.dump());
      const std::string reason = m.full_rows_reason(params);
      LayerContext ctx(window_rows.input);
      if (reason.empty()) {
        ++window_only;
        CHECK_NOTHROW(m.score_cpu(ctx, params));
      } else {
        ++declared;
        CHECK_THROWS_WITH(m.score_cpu(ctx, params), Catch::Contains("query rows"));
      }
    }
  }
  CHECK(declared > 0);
  CHECK(window_only > 0);
}

TEST_CASE("one vocabulary: a shared parameter name has one reviewed meaning") {
  // Every name that two or more methods declare, with the one thing it means in all of them.
  // A new method reusing a name for something else must rename it (ParamSchema::renamed_from
  // keeps hashes of a renamed parameter) or add a name here after checking the meaning.
  const std::map<std::string, std::string> shared = {
      {"budget", "tokens kept per layer"},
      {"window", "most recent tokens always kept"},
      {"sink_size", "first tokens always kept"},
      {"selection", "one keep-set per layer or per KV head"},
      {"budget_mode", "uniform or pyramid budgets over layers"},
      {"pyramid_rounding", "rounding of pyramid budgets"},
      {"compression_ratio", "fraction of each prompt removed (a budget per sample)"},
      {"convention", "a reference implementation's settings"},
      {"temperature", "T of transition weights w^(1/T)"},
      {"seed", "Philox key of the method's draws"},
      {"head_reduce", "how attention heads are merged"},
      {"walkers", "number of walkers (all sources together)"},
      {"max_steps", "most transitions per walker"},
      {"graph", "window_prefix rows or every attention row"},
      {"top_k_heads", "lowest-entropy heads kept"},
      {"pool", "pooling of window votes over positions"},
      {"kernel", "pooling kernel size"},
      {"normalize", "normalisation of the raw scores"},
      {"hi_mass_threshold", "transient-mass threshold of HI heads"},
      {"combination", "how the method's signals are combined"},
  };
  std::map<std::string, std::vector<std::string>> users;
  for (const MethodDef& m : method_registry())
    for (const ParamSpec& p : m.params) users[p.name].push_back(m.name);
  for (const auto& [name, methods] : users) {
    INFO(name << " declared by " << methods.size() << " methods");
    if (methods.size() > 1) CHECK(shared.count(name) == 1);
  }
  for (const auto& [name, meaning] : shared) {
    INFO(name);
    CHECK(users[name].size() > 1);  // no stale entry
  }
  // A former name (still read with a warning) is never another parameter of the same method.
  int renamed = 0;
  for (const MethodDef& m : method_registry())
    for (const ParamSpec& p : m.params)
      if (p.renamed()) {
        ++renamed;
        CHECK(m.find_param(p.stored_as) == nullptr);
        CHECK(m.find_renamed_param(p.stored_as) == &p);
      }
  CHECK(renamed == 3);
}
