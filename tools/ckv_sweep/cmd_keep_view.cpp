// `ckv-sweep keep-view`: which prompt tokens two configurations A and B keep, on one sample (a
// self-contained HTML page) or over every sample of a task (where and on which kinds of tokens
// they differ: markdown or csv on stdout, optionally an HTML page). docs/user-guide.md.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cache/cache_index.hpp"
#include "cache/sample_cache.hpp"
#include "common/error.hpp"
#include "configuration/configuration.hpp"
#include "kernels/registry.hpp"
#include "report/keep_view.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"
#include "worker/evaluator.hpp"

namespace ckv::cli {

namespace {

// A configuration as the user names it: a configuration JSON file ({"method", "params", "eval"},
// as export-keep --config takes it) or "METHOD key=value ..." (as inspect --method/--set).
Configuration parse_config_spec(const std::string& spec, int topk, const char* which) {
  if (spec.size() > 5 && spec.ends_with(".json") && std::filesystem::exists(spec)) {
    std::ifstream in(spec);
    CKV_CHECK(in, "{}: cannot read the configuration file", spec);
    json given = json::parse(in, nullptr, /*allow_exceptions=*/false);
    CKV_CHECK(!given.is_discarded(), "{}: not valid JSON", spec);
    try {
      return Configuration::from_document(given);
    } catch (const Error& e) {
      CKV_FAIL("{}: {}", spec, e.what());
    }
  }
  std::istringstream words(spec);
  std::string method, word;
  words >> method;
  CKV_CHECK(!method.empty(), "--{} is empty: give \"METHOD key=value ...\" or a configuration .json file", which);
  std::vector<std::string> settings;
  while (words >> word) {
    try {
      parse_settings({word}, "");  // the syntax only, word by word, to name the bad one
    } catch (const Error&) {
      CKV_FAIL("--{} '{}': '{}' is not key=value", which, spec, word);
    }
    settings.push_back(word);
  }
  const json params = parse_settings(settings, method);
  try {
    return Configuration::make(method, params, EvalSettings::from_json({{"topk", topk}}));
  } catch (const Error& e) {
    CKV_FAIL("--{} '{}': {}", which, spec, e.what());
  }
}

// A configuration's name on the page when none is given: the spec as given, its parameters under
// their current names (a former name given in "METHOD key=value ..." shows the parameter's name).
std::string default_label(const std::string& spec) {
  if (spec.ends_with(".json")) return spec;
  std::istringstream words(spec);
  std::string method, word;
  words >> method;
  std::string label = method;
  while (words >> word) {
    const auto eq = word.find('=');
    label += " " + (eq == std::string::npos ? word : param_display_name(method, word.substr(0, eq)) + word.substr(eq));
  }
  return label;
}

keepview::SampleView load_view(const std::string& path, int layer, const Configuration& a, const Configuration& b) {
  const SampleCache sample = SampleCache::open(path);
  const SampleMeta& meta = sample.meta();
  CKV_CHECK(sample.has_layer(layer), "{}: sample {}/{}: layer {} was not captured (captured layers: {})", path,
            meta.task, meta.id, layer, json(meta.layers).dump());
  keepview::SampleView view;
  view.task = meta.task;
  view.id = meta.id;
  view.model = meta.model;
  view.layer = layer;
  view.n = meta.n_tokens;
  view.texts = meta.token_texts;
  view.evidence = meta.evidence;
  view.question = meta.question_span;
  view.planted = meta.planted;
  const InspectResult ra = inspect_layer(path, layer, a.document);
  const InspectResult rb = inspect_layer(path, layer, b.document);
  view.H = ra.H;
  view.G = ra.G;
  view.keep_a = ra.keep;
  view.keep_b = rb.keep;
  return view;
}

void write_file(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary);
    CKV_CHECK(out && (out << text) && (out.flush()), "{}: cannot write", temp);
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  CKV_CHECK(!ec, "{}: cannot rename {} into place: {}", path, temp, ec.message());
}

}  // namespace

int keep_view_command(int argc, char** argv) {
  po::options_description options("keep-view options");
  std::string cache_dir, sample_id, task, spec_a, spec_b, label_a, label_b, out_path, format = "markdown";
  int layer = 0, bins = 10, topk = EvalSettings::kDefaultTopk;
  options.add_options()("cache", po::value(&cache_dir)->required(), "cache directory")("sample", po::value(&sample_id), "one sample (its id in index.jsonl): an HTML page (-o)")("task", po::value(&task), "every sample of this task: where A and B differ (a table)")("layer", po::value(&layer)->required(), "model layer")("a", po::value(&spec_a)->required(), "configuration A: \"METHOD key=value ...\" or a configuration .json file")("b", po::value(&spec_b)->required(), "configuration B, the same way")("a-label", po::value(&label_a), "A's name on the page (default: --a as given)")("b-label", po::value(&label_b), "B's name on the page (default: --b as given)")("topk", po::value(&topk)->default_value(EvalSettings::kDefaultTopk), "eval topk (part of the hashes shown)")("bins", po::value(&bins)->default_value(10), "with --task: relative position bins")("format,f", po::value(&format)->default_value("markdown"), "with --task: markdown | csv on stdout")("output,o", po::value(&out_path), "the HTML page (required with --sample; with --task: the table as a page)");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "ckv-sweep keep-view --cache DIR (--sample ID -o FILE.html | --task T [-o FILE.html]) "
                     "--layer L --a CONFIG --b CONFIG",
                     options, positional, vm))
    return kExitOk;
  usage_check(sample_id.empty() != task.empty(), "keep-view", "give exactly one of --sample and --task");
  usage_check(task.empty() || (format == "markdown" || format == "csv"), "keep-view",
              "--format must be markdown or csv (got '" + format + "')");
  usage_check(!sample_id.empty() ? !out_path.empty() : true, "keep-view", "--sample needs -o FILE.html");
  usage_check(bins >= 1 && bins <= 1000, "keep-view", fmt::format("--bins must be between 1 and 1000 (got {})", bins));

  const Configuration a = parse_config_spec(spec_a, topk, "a");
  const Configuration b = parse_config_spec(spec_b, topk, "b");
  const keepview::Labels labels{label_a.empty() ? default_label(spec_a) : label_a,
                                label_b.empty() ? default_label(spec_b) : label_b, a.hash, b.hash};
  const std::vector<IndexEntry> entries = read_cache_index(cache_dir);

  if (!sample_id.empty()) {
    std::string path;
    for (const auto& e : entries)
      if (e.id == sample_id) path = cache_dir + "/" + e.path;
    CKV_CHECK(!path.empty(), "{}/index.jsonl: no sample with id '{}'", cache_dir, sample_id);
    const keepview::SampleView view = load_view(path, layer, a, b);
    write_file(out_path, keepview::render_sample_page(view, labels));
    fmt::print(stderr, "{}: keep-sets of {}/{} layer {}, A {} against B {}\n", out_path, view.task, view.id, layer,
               a.hash.substr(0, 12), b.hash.substr(0, 12));
    return kExitOk;
  }

  keepview::Summary summary(bins);
  for (const auto& e : entries) {
    if (e.task != task) continue;
    summary.add(load_view(cache_dir + "/" + e.path, layer, a, b));
  }
  CKV_CHECK(summary.samples > 0, "{}/index.jsonl: no sample of task '{}'", cache_dir, task);
  std::cout << keepview::render_summary(summary, labels, task, layer, format);
  if (!out_path.empty()) {
    write_file(out_path, keepview::render_summary_page(summary, labels, task, layer));
    fmt::print(stderr, "{}: where A and B differ over {} samples of {}\n", out_path, summary.samples, task);
  }
  return kExitOk;
}

}  // namespace ckv::cli
