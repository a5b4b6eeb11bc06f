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
#include "kernels/numerics.hpp"

namespace ckv {

// The evaluation part of a configuration: which captured layers its metrics cover, k of
// topk_recall (docs/spec/METRICS.md), and the numerics version its numbers are computed under
// (kernels/numerics.hpp). Part of the identity.
struct EvalSettings {
  static constexpr int kDefaultTopk = 32;
  static constexpr int kMaxTopk = 1000000;

  std::optional<std::vector<int>> layers;  // sorted, distinct; nullopt: every captured layer
  int topk = kDefaultTopk;
  int numerics = kNumericsVersion;  // what this build computes, unless read from a document

  // {"layers": "all" | [sorted layers], "numerics": N, "topk": k}. "numerics" is left out while
  // it is kLegacyNumerics, so a document stored before the numerics version existed keeps its
  // canonical form and hash (docs/database.md, "Identity across versions").
  json to_json() const;
  // Missing keys take their defaults, except "numerics": a document without it was stored before
  // the numerics version existed and reads as kLegacyNumerics. An unknown key, a bad type, a
  // negative or repeated layer, a topk out of [1, 1000000] or a numerics version this build does
  // not know throws ckv::Error naming it. Layer order is not part of what is measured: lists are
  // sorted.
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

  // A configuration of this build: the method's parameters from `given` (defaults filled in,
  // every value and cross-parameter rule checked) plus `eval`, whose numerics is always
  // kNumericsVersion (what this build computes), whatever `eval.numerics` says. Throws
  // ckv::Error naming the method and the problem.
  static Configuration make(const MethodDef& method, const json& given_params,
                            const EvalSettings& eval = {});
  static Configuration make(const std::string& method, const json& given_params,
                            const EvalSettings& eval = {});
  // From a document as stored in configurations.canonical_json (or written by hand): "params"
  // and "eval" may be partial. A parameter with a legacy value that the document leaves out
  // takes that value (the canonical form omits it then, docs/database.md); the others take
  // their defaults; "eval" without "numerics" is kLegacyNumerics. A stored document comes back
  // unchanged, with the numerics it names (check it against kNumericsVersion before computing).
  static Configuration from_document(const json& document);

  int numerics() const { return eval.numerics; }
  // The hash of this configuration under another numerics version: the same document with
  // "eval"."numerics" = version (left out for kLegacyNumerics). Finds the units the same point
  // has under an earlier numerics (`plan`'s recompute count).
  std::string hash_under_numerics(int version) const;

  // Configurations with equal score keys share one scoring pass (parameters declared
  // affects_scores = false left out).
  std::string score_key() const;
  const SelectionParams& selection() const { return method->selection(typed); }

 private:
  static Configuration build(const MethodDef& method, const json& given_params, const EvalSettings& eval);
};

// "numerics 2 (blockwise fp32 SIMD kernels: ...)"; a version this build does not know is named as such.
std::string numerics_label(int version);

// Parameters given on a command line as "key=value" (`--set`, repeatable): the value is read as
// JSON when it is valid JSON (numbers, true, [5,15]), otherwise taken as a string (pool=max).
// A later key replaces an earlier one. Throws ckv::Error for text without "key=". A renamed
// parameter of `method` given under its former name is read under its current name, with one
// warning per former name as sweep files give it ("walkers=8: 'walkers' is the former name of
// rc's parameter 'walkers_per_source'; ...") on stderr, or appended to `warnings` when given. A
// method the registry does not know leaves the keys as given (Configuration::make names it).
json parse_settings(const std::vector<std::string>& settings, const std::string& method,
                    std::vector<std::string>* warnings = nullptr);

}  // namespace ckv
