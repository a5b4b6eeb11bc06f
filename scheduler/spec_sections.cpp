// The plain sections of a sweep file: [campaign], [data], [data.synthetic], [metrics], [run].
#include "scheduler/spec_sections.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/tasks.hpp"

namespace ckv::spec_detail {

namespace {

SynthOptions read_synthetic(const TomlReader& in, const toml::table& table, const toml::table& data_table,
                            const DataSpec& data) {
  in.check_keys(table,
                {"tasks", "samples_per_task", "tokens", "heads", "kv_heads", "head_dim", "layers",
                 "num_layers_model", "answer_tokens", "query_rows", "seed", "dtype"},
                "[data.synthetic]");
  SynthOptions o;
  o.out_dir = data.cache_dir;
  auto get = [&](const char* key) { return table.get(key); };
  auto name = [](const char* key) { return fmt::format("data.synthetic.{}", key); };
  // Defaults follow [data] so a campaign that only says [data.synthetic] gets the cache it reads.
  if (data.samples_per_task > 0) o.samples_per_task = data.samples_per_task;
  if (!data.layers.empty()) o.layers = data.layers;
  o.tasks = data.tasks;
  if (auto n = get("samples_per_task")) o.samples_per_task = int(in.int_value(*n, name("samples_per_task"), 1, 1000000));
  if (auto n = get("tokens")) o.tokens = int(in.int_value(*n, name("tokens"), 1, 10000000));
  if (auto n = get("heads")) o.heads = int(in.int_value(*n, name("heads"), 1, 4096));
  if (auto n = get("kv_heads")) o.kv_heads = int(in.int_value(*n, name("kv_heads"), 1, 4096));
  if (auto n = get("head_dim")) o.head_dim = int(in.int_value(*n, name("head_dim"), 1, 4096));
  if (auto n = get("num_layers_model")) o.num_layers_model = int(in.int_value(*n, name("num_layers_model"), 1, 100000));
  if (auto n = get("answer_tokens")) o.answer_tokens = int(in.int_value(*n, name("answer_tokens"), 1, 100000));
  if (auto n = get("query_rows")) o.query_rows = int(in.int_value(*n, name("query_rows"), 0, 10000000));
  if (auto n = get("seed")) o.seed = uint64_t(in.int_value(*n, name("seed"), 0));
  if (auto n = get("dtype")) {
    std::string d = in.string_value(*n, name("dtype"));
    if (d == "f16") o.dtype = DType::F16;
    else if (d == "bf16") o.dtype = DType::BF16;
    else if (d == "f32") o.dtype = DType::F32;
    else in.fail(*n, fmt::format("'data.synthetic.dtype' = \"{}\" is not one of: f16, bf16, f32", d));
  }
  if (o.heads % o.kv_heads != 0) {
    const toml::node* n = get("kv_heads") ? get("kv_heads") : get("heads");
    in.fail(n ? in.at(*n) : in.at(table), fmt::format("'data.synthetic.kv_heads' = {} must divide heads = {}",
                                                      o.kv_heads, o.heads));
  }
  // Every task the generator is asked for must be a synthetic one; say where the name came from.
  const std::vector<std::string> synthetic = synthetic_task_names();
  const toml::node* tasks_node = get("tasks");
  if (tasks_node) o.tasks = in.string_list(*tasks_node, name("tasks"));
  else tasks_node = data_table.get("tasks");
  if (tasks_node) {
    const toml::array& list = *tasks_node->as_array();
    for (size_t i = 0; i < list.size(); ++i)
      if (!contains(synthetic, o.tasks[i]))
        in.fail(*list.get(i), fmt::format("'{}' is not a synthetic task, so [data.synthetic] cannot generate it (synthetic tasks: {})", o.tasks[i],
                                          join(synthetic)));
  }
  const toml::node* layers_node = get("layers");
  const bool own_layers = layers_node != nullptr;
  if (own_layers) o.layers = in.layer_list(*layers_node, name("layers"));
  else layers_node = data_table.get("layers");
  for (size_t i = 0; i < o.layers.size(); ++i)
    if (o.layers[i] >= o.num_layers_model) {
      SourceLocation where = layers_node ? in.at(*layers_node->as_array()->get(i)) : in.at(table);
      in.fail(where, fmt::format("synthetic layer {} is not below num_layers_model = {}", o.layers[i],
                                 o.num_layers_model));
    }
  // The campaign reads [data] layers from the cache it generates: they must be generated.
  if (own_layers && !data.layers.empty()) {
    const toml::array& list = *data_table.get("layers")->as_array();
    for (size_t i = 0; i < data.layers.size(); ++i)
      if (std::find(o.layers.begin(), o.layers.end(), data.layers[i]) == o.layers.end())
        in.fail(*list.get(i), fmt::format("layer {} is not among the synthetic layers [{}]", data.layers[i],
                                          fmt::join(o.layers, ", ")));
  }
  return o;
}

}  // namespace

void read_campaign(const TomlReader& in, const toml::table& table, CampaignSpec& spec) {
  in.check_keys(table, {"name", "database", "description"}, "[campaign]");
  const toml::node* name = in.required(table, "name", "[campaign]");
  spec.name = in.string_value(*name, "campaign.name");
  if (!is_valid_name(spec.name))
    in.fail(*name, fmt::format("campaign name '{}' may only contain letters, digits, '_', '.' and '-'",
                               spec.name));
  const toml::node* database = in.required(table, "database", "[campaign]");
  spec.database = in.string_value(*database, "campaign.database");
  if (spec.database.empty()) in.fail(*database, "'campaign.database' must not be empty");
  if (const toml::node* d = table.get("description"))
    spec.description = in.string_value(*d, "campaign.description");
}

void read_data(const TomlReader& in, const toml::table& table, DataSpec& data) {
  in.check_keys(table, {"cache", "tasks", "samples_per_task", "layers", "synthetic"}, "[data]");
  const toml::node* cache = in.required(table, "cache", "[data]");
  data.cache_dir = in.string_value(*cache, "data.cache");
  if (data.cache_dir.empty()) in.fail(*cache, "'data.cache' must not be empty");
  if (const toml::node* tasks = table.get("tasks")) {
    data.tasks = in.string_list(*tasks, "data.tasks");
    if (data.tasks.empty()) in.fail(*tasks, "'data.tasks' must not be empty (leave it out for all tasks)");
  }
  if (const toml::node* n = table.get("samples_per_task"))
    data.samples_per_task = int(in.int_value(*n, "data.samples_per_task", 0, 1000000000));
  if (const toml::node* layers = table.get("layers")) data.layers = in.layer_list(*layers, "data.layers");
  if (const toml::table* synth = in.optional_table(table, "synthetic", "data."))
    data.synthetic = read_synthetic(in, *synth, table, data);
}

void read_metrics(const TomlReader& in, const toml::table& table, CampaignSpec& spec) {
  in.check_keys(table, {"topk"}, "[metrics]");
  if (const toml::node* n = table.get("topk")) spec.topk = int(in.int_value(*n, "metrics.topk", 1, EvalSettings::kMaxTopk));
}

void read_run(const TomlReader& in, const toml::table& table, RunSpec& run) {
  in.check_keys(table, {"threads", "batch_units", "max_attempts", "unit_timeout", "commit_interval"},
                "[run]");
  if (auto n = table.get("threads")) run.threads = int(in.int_value(*n, "run.threads", 0, 4096));
  if (auto n = table.get("batch_units")) run.batch_units = int(in.int_value(*n, "run.batch_units", 1, 1000000));
  if (auto n = table.get("max_attempts")) run.max_attempts = int(in.int_value(*n, "run.max_attempts", 1, 1000));
  if (auto n = table.get("unit_timeout")) run.unit_timeout = in.positive_float_value(*n, "run.unit_timeout");
  if (auto n = table.get("commit_interval"))
    run.commit_interval = in.positive_float_value(*n, "run.commit_interval");
}

}  // namespace ckv::spec_detail
