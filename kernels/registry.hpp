// The method registry: the single list of implemented methods. A method that is not
// implemented is absent here, never faked.
#pragma once
#include <string>
#include <vector>

#include "kernels/method.hpp"

namespace ckv {

const std::vector<MethodDef>& method_registry();
const MethodDef* find_method(const std::string& name);
// The method of that name; throws ckv::Error listing the valid names when there is none.
const MethodDef& method_named(const std::string& name);
std::vector<std::string> method_names();

// Fills defaults and checks every given parameter (unknown names, types, ranges) and the
// method's cross-parameter rules. Throws ckv::Error with a message naming the method and
// parameter (and listing valid names for an unknown one). Returns the canonical JSON of the
// typed parameters (every declared parameter).
Params resolve_params(const MethodDef& method, const json& given);
// The same, parsed into the method's typed parameters.
MethodParams parse_params(const MethodDef& method, const json& given);

// One vocabulary, shown: a renamed parameter keeps its former name as its key in the canonical
// JSON (ParamSpec::stored_as, so hashes stay), and every reader shows it under its current name.
// The name `key` of `method`'s parameters is shown under: the parameter's current name when `key`
// is a former name, otherwise `key` itself (also for a method this build does not know).
std::string param_display_name(const std::string& method, const std::string& key);
// `params` (a canonical parameter object of `method`) with every key under its display name.
json display_params(const std::string& method, const json& params);
// A configuration document {"method", "params", "eval"} with its params under their display names.
json display_document(const json& document);
// The warning for a parameter given under its former name, without a location: "'walkers' is
// the former name of rc's parameter 'walkers_per_source'; read as ..." (sweep files and --set).
std::string former_name_warning(const MethodDef& method, const ParamSpec& param);

// The parameters that change scores (drops affects_scores = false ones): configurations
// with equal score keys share one scoring pass.
std::string score_key(const MethodDef& method, const Params& resolved);

}  // namespace ckv
