// `ckv-sweep export-keep`: a configuration's keep-sets on every sample of a cache, as JSON lines
// for a generation harness (docs/e2e.md).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "common/error.hpp"
#include "configuration/configuration.hpp"
#include "e2e/keep_export.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int export_keep_command(int argc, char** argv) {
  po::options_description options("export-keep options");
  std::string cache_dir, config_path, method_name, out_path, layers_text;
  std::vector<std::string> settings, tasks;
  int topk = EvalSettings::kDefaultTopk;
  bool allow_missing_layers = false;
  options.add_options()("cache", po::value(&cache_dir)->required(), "cache directory")("config", po::value(&config_path),
                                                                                       "configuration JSON file ({\"method\", \"params\", \"eval\"}, "
                                                                                       "as in configurations.canonical_json)")("method", po::value(&method_name), "registry name (instead of --config)")("set", po::value(&settings)->composing(), "parameter key=value (repeatable, with --method)")("layers", po::value(&layers_text), "with --method: eval layers as a JSON list (default: all)")("topk", po::value(&topk)->default_value(EvalSettings::kDefaultTopk), "with --method: eval topk (part of the hash)")("tasks", po::value(&tasks)->multitoken(), "only these tasks")("allow-missing-layers", po::bool_switch(&allow_missing_layers),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "export even when the keep-sets do not cover every layer of the model (for analysis: "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "ckv-generate refuses them)")("out", po::value(&out_path)->required(), "output JSONL file");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "ckv-sweep export-keep --cache DIR (--config CONFIG.json | --method NAME [--set k=v]...) "
                     "--out FILE.jsonl [--tasks T...]",
                     options, positional, vm))
    return kExitOk;
  CKV_CHECK(config_path.empty() != method_name.empty(), "give exactly one of --config and --method");

  std::optional<Configuration> config;
  if (!config_path.empty()) {
    std::ifstream in(config_path);
    CKV_CHECK(in, "{}: cannot read the configuration file", config_path);
    json given = json::parse(in, nullptr, /*allow_exceptions=*/false);
    CKV_CHECK(!given.is_discarded(), "{}: not valid JSON", config_path);
    try {
      config = Configuration::from_document(given);
    } catch (const Error& e) {
      CKV_FAIL("{}: {}", config_path, e.what());
    }
    // Keep-sets come from this build's kernels: labelled with an older numerics' hash they would
    // claim numbers they were not computed with (docs/database.md, "Numerics versions").
    CKV_CHECK(config->numerics() == kNumericsVersion,
              "{}: configuration {} is computed under {}; this build computes {} and cannot reproduce its "
              "keep-sets. To export this build's keep-sets of the same point, add \"numerics\": {} to its \"eval\" "
              "(configuration {})",
              config_path, config->hash.substr(0, 12), numerics_label(config->numerics()),
              numerics_label(kNumericsVersion), kNumericsVersion,
              config->hash_under_numerics(kNumericsVersion).substr(0, 12));
  } else {
    const json params = parse_settings(settings, method_name);
    json eval = {{"topk", topk}};
    if (!layers_text.empty()) {
      json layers = json::parse(layers_text, nullptr, /*allow_exceptions=*/false);
      CKV_CHECK(!layers.is_discarded(), "--layers expects a JSON list such as [0,8,16], got '{}'", layers_text);
      eval["layers"] = layers;
    }
    config = Configuration::make(method_name, params, EvalSettings::from_json(eval));
  }

  // Written beside --out and renamed at the end: a refused export (missing layers, a corrupt
  // sample) leaves no empty or partial keep-set file that a harness could take for a whole one.
  // The output's folder is made when missing; a file that cannot be opened says why.
  const std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    CKV_CHECK(!ec, "{}: cannot create the folder {}: {}", out_path, parent.string(), ec.message());
  }
  const std::string temp_path = out_path + ".tmp";
  errno = 0;
  std::ofstream out(temp_path);
  CKV_CHECK(out, "{}: cannot open for writing: {}", temp_path,
            errno ? std::strerror(errno) : "unknown error");
  size_t lines = 0;
  try {
    lines = e2e::export_keep_sets(cache_dir, *config, tasks, out, allow_missing_layers);
    out.close();
    CKV_CHECK(out, "{}: cannot write the keep-sets", temp_path);
  } catch (...) {
    out.close();
    std::filesystem::remove(temp_path);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(temp_path, out_path, ec);
  CKV_CHECK(!ec, "{}: cannot rename {} into place: {}", out_path, temp_path, ec.message());
  fmt::print(stderr, "{}: keep-sets of {} sample(s), configuration {}\n", out_path, lines,
             config->hash);
  return kExitOk;
}

}  // namespace ckv::cli
