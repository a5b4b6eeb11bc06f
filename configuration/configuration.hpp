// A configuration (R2, docs/spec/MISSION.md): one method's fully resolved parameters plus the
// evaluation settings, written as the canonical JSON document {"method", "params", "eval"} whose
// SHA-256 is its identity in the database. This module is the only place that builds, parses,
// defaults or hashes that document: the sweep specs, the worker, `inspect`, `export-keep` and
// the benchmarks all call it, so the same point always has the same hash.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/canonical_json.hpp"
#include "kernels/method.hpp"

namespace ckv {

// The evaluation part of a configuration: which captured layers its metrics cover, and k of
// topk_recall (docs/spec/METRICS.md). Part of the identity.
struct EvalSettings {
  static constexpr int kDefaultTopk = 32;
  static constexpr int kMaxTopk = 1000000;

  std::optional<std::vector<int>> layers;  // sorted, distinct; nullopt: every captured layer
  int topk = kDefaultTopk;

  // {"layers": "all" | [sorted layers], "topk": k}
  json to_json() const;
  // Missing keys take their defaults; an unknown key, a bad type, a negative or repeated layer or
  // a topk out of [1, 1000000] throws ckv::Error naming it. Layer order is not part of what is
  // measured: lists are sorted.
  static EvalSettings from_json(const json& eval);
  // The layers of a sample that captured `captured` ("all": all of them).
  std::vector<int> layers_of(const std::vector<int>& captured) const;
};

// Built only by the factories below; the members are read-only by convention.
struct Configuration {
  const MethodDef* method = nullptr;
  Params params;       // canonical JSON of the typed parameters (every declared parameter)
  MethodParams typed;  // the same, typed, parsed once
  EvalSettings eval;
  json document;          // {"method", "params", "eval"}
  std::string canonical;  // canonical_json(document)
  std::string hash;       // SHA-256 of `canonical`, hex

  // The method's parameters from `given` (defaults filled in, every value and cross-parameter
  // rule checked) plus `eval`. Throws ckv::Error naming the method and the problem.
  static Configuration make(const MethodDef& method, const json& given_params,
                            const EvalSettings& eval = {});
  static Configuration make(const std::string& method, const json& given_params,
                            const EvalSettings& eval = {});
  // From a document as stored in configurations.canonical_json (or written by hand): "params"
  // and "eval" may be partial. A parameter with a legacy value that the document leaves out
  // takes that value (the canonical form omits it then, docs/database.md); the others take
  // their defaults. A stored document comes back unchanged.
  static Configuration from_document(const json& document);

  // Configurations with equal score keys share one scoring pass (parameters declared
  // affects_scores = false left out).
  std::string score_key() const;
  const SelectionParams& selection() const { return method->selection(typed); }
};

}  // namespace ckv
