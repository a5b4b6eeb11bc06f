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

// The parameters that change scores (drops affects_scores = false ones): configurations
// with equal score keys share one scoring pass.
std::string score_key(const MethodDef& method, const Params& resolved);

}  // namespace ckv
