// Test-side names of the kernels' enums, so data-driven loops can stay over the names the sweep
// files use ("full", "entropy_qi", ...); a name the kernels do not have fails the test. And the
// typed parameters of a configuration given as JSON, for tests that call a method's stages.
#pragma once
#include <stdexcept>
#include <string>

#include "kernels/circuitkv_neumann/circuitkv_neumann.hpp"
#include "kernels/circuitkv_walk/circuitkv_walk.hpp"
#include "kernels/registry.hpp"
#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/postprocess.hpp"

namespace ckv_test {

inline ckv::circuitkv::GraphKind graph_kind(const std::string& name) {
  if (name == "window_prefix") return ckv::circuitkv::GraphKind::window_prefix;
  if (name == "full") return ckv::circuitkv::GraphKind::full;
  throw std::invalid_argument("graph " + name);
}

inline ckv::circuitkv::HeadReduce head_reduce(const std::string& name) {
  using ckv::circuitkv::HeadReduce;
  if (name == "max") return HeadReduce::max;
  if (name == "mean") return HeadReduce::mean;
  if (name == "entropy_qi") return HeadReduce::entropy_qi;
  if (name == "entropy_hi") return HeadReduce::entropy_hi;
  throw std::invalid_argument("head reduction " + name);
}

inline ckv::circuitkv::Smoothing smoothing(const std::string& name) {
  using ckv::circuitkv::Smoothing;
  if (name == "gaussian") return Smoothing::gaussian;
  if (name == "boxcar") return Smoothing::boxcar;
  if (name == "none") return Smoothing::none;
  throw std::invalid_argument("smoothing " + name);
}

inline ckv::circuitkv::WalkSource walk_source(const std::string& name) {
  if (name == "query") return ckv::circuitkv::WalkSource::query;
  if (name == "window") return ckv::circuitkv::WalkSource::window;
  throw std::invalid_argument("source " + name);
}

inline ckv::circuitkv::WalkCombination walk_combination(const std::string& name) {
  using ckv::circuitkv::WalkCombination;
  if (name == "max") return WalkCombination::max;
  if (name == "walk") return WalkCombination::walk;
  if (name == "h2o") return WalkCombination::h2o;
  if (name == "product") return WalkCombination::product;
  if (name == "calibrated") return WalkCombination::calibrated;
  throw std::invalid_argument("combination " + name);
}

// The typed parameters of a configuration given as JSON (defaults filled in, checked).
inline ckv::circuitkv::WalkParams walk_params_of(const ckv::json& given) {
  return ckv::parse_params(ckv::method_named("circuitkv_walk"), given).as<ckv::circuitkv::WalkParams>();
}
inline ckv::circuitkv::NeumannParams neumann_params_of(const ckv::json& given) {
  return ckv::parse_params(ckv::method_named("circuitkv_neumann"), given)
      .as<ckv::circuitkv::NeumannParams>();
}

}  // namespace ckv_test
