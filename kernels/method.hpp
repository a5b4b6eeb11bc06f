// The method contract (one method, one folder, one registry line; docs/spec/STYLE.md).
// A method is a typed parameter struct P with its schema (kernels/params.hpp), plus score() for
// the CPU and, where it has one, a CUDA twin with the same result. score() returns per-token
// scores; the shared selection (kernels/stages/selection.hpp) turns them into keep-sets, so
// every method obeys "sinks and window kept, exactly min(B, n) kept".
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include "kernels/layer_context.hpp"
#include "kernels/params.hpp"
#include "kernels/scores.hpp"
#include "kernels/stages/selection.hpp"

namespace ckv {

using Params = json;  // resolved parameters as JSON: every declared parameter, checked

// A method's typed parameters, parsed once from resolved JSON and shared read-only by every
// place that scores with them. as<P>() checks the type.
class MethodParams {
 public:
  MethodParams() = default;
  template <class P>
  static MethodParams of(P value) {
    MethodParams m;
    m.value_ = std::make_shared<const P>(std::move(value));
    m.type_ = std::type_index(typeid(P));
    return m;
  }
  template <class P>
  const P& as() const {
    CKV_CHECK(value_ && type_ == std::type_index(typeid(P)),
              "method parameters of another method (internal error)");
    return *static_cast<const P*>(value_.get());
  }
  bool empty() const { return !value_; }

 private:
  std::shared_ptr<const void> value_;
  std::type_index type_ = std::type_index(typeid(void));
};

template <class P>
using ScoreFunction = Scores (*)(LayerContext&, const P&);

struct MethodDef {
  std::string name;
  std::string summary;  // one line for --help and docs
  std::string source;   // where it comes from (seed / paper)
  std::vector<ParamSpec> params;
  bool uses_selection = true;  // false for `full`
  bool has_cuda = false;       // a CUDA twin is built into this binary

  const ParamSpec* find_param(const std::string& name) const;
  // The parameter that was called `former` before a rename (ParamSpec::stored_as), or nullptr.
  const ParamSpec* find_renamed_param(const std::string& former) const;

  // Why these parameters read every attention row (n query rows), "" when the window rows are
  // enough: planning refuses such a configuration on a cache that holds window rows only.
  std::string full_rows_reason(const MethodParams& params) const;

  // Typed parameters from resolved JSON (every declared parameter present and checked).
  MethodParams parse(const Params& resolved) const { return parse_(resolved); }
  // The canonical JSON of typed parameters (the configuration's identity, docs/spec/MISSION.md R2).
  Params to_json(const MethodParams& params) const { return to_json_(params); }
  // Cross-parameter rules: "" or the error.
  std::string validate(const MethodParams& params) const { return validate_(params); }
  // The selection parameters (methods with uses_selection only).
  const SelectionParams& selection(const MethodParams& params) const { return selection_(params); }

  // Scores on the context's device: the CUDA twin when the context is on a GPU and the method
  // has one, the CPU reference otherwise.
  Scores score(LayerContext& context, const MethodParams& params) const;
  Scores score_cpu(LayerContext& context, const MethodParams& params) const {
    return cpu_(context, params);
  }
  // Requires has_cuda (the twin test compares it with score_cpu).
  Scores score_cuda(LayerContext& context, const MethodParams& params) const;

  std::function<MethodParams(const Params&)> parse_;
  std::function<Params(const MethodParams&)> to_json_;
  std::function<std::string(const MethodParams&)> validate_;
  std::function<const SelectionParams&(const MethodParams&)> selection_;
  std::function<std::string(const MethodParams&)> full_rows_reason_;
  std::function<Scores(LayerContext&, const MethodParams&)> cpu_, cuda_;
};

// A method P: `P::selection` (SelectionParams) when it evicts, optional
// `std::string P::validate() const` for cross-parameter rules beyond the selection's, optional
// `std::string P::full_rows_reason() const` when some parameters read every attention row.
template <class P>
MethodDef define_method(std::string name, std::string summary, std::string source,
                        ParamSchema<P> schema, ScoreFunction<P> cpu,
                        ScoreFunction<P> cuda = nullptr) {
  MethodDef m;
  m.name = std::move(name);
  m.summary = std::move(summary);
  m.source = std::move(source);
  m.params = schema.specs();
  m.has_cuda = cuda != nullptr;
  auto shared_schema = std::make_shared<const ParamSchema<P>>(std::move(schema));
  m.parse_ = [shared_schema](const Params& resolved) {
    return MethodParams::of(shared_schema->parse(resolved));
  };
  m.to_json_ = [shared_schema](const MethodParams& p) { return shared_schema->to_json(p.as<P>()); };
  constexpr bool kSelects = requires(const P& p) { p.selection; };
  m.uses_selection = kSelects;
  m.validate_ = [](const MethodParams& mp) -> std::string {
    const P& p = mp.as<P>();
    if constexpr (kSelects) {
      std::string error = p.selection.validate();
      if (!error.empty()) return error;
    }
    if constexpr (requires(const P& x) { x.validate(); }) return p.validate();
    return "";
  };
  m.selection_ = [name = m.name](const MethodParams& mp) -> const SelectionParams& {
    if constexpr (kSelects) {
      return mp.as<P>().selection;
    } else {
      CKV_FAIL("method '{}' evicts nothing: it has no selection parameters", name);
    }
  };
  if constexpr (requires(const P& x) { x.full_rows_reason(); })
    m.full_rows_reason_ = [](const MethodParams& mp) -> std::string { return mp.as<P>().full_rows_reason(); };
  m.cpu_ = [cpu](LayerContext& c, const MethodParams& p) { return cpu(c, p.as<P>()); };
  if (cuda) m.cuda_ = [cuda](LayerContext& c, const MethodParams& p) { return cuda(c, p.as<P>()); };
  return m;
}

}  // namespace ckv

// The CUDA twin of a method in builds with CUDA, nullptr otherwise (the twin's .cpp/.cu files
// are compiled only with CUDA).
#ifdef CKV_HAVE_CUDA
#define CKV_CUDA_TWIN(function) (function)
#else
#define CKV_CUDA_TWIN(function) nullptr
#endif
