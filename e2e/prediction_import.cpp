#include "e2e/prediction_import.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cache/longbench.hpp"
#include "common/canonical_json.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/tasks.hpp"
#include "db/e2e_store.hpp"

namespace ckv::e2e {

namespace {

namespace fs = std::filesystem;

struct ScoredLine {
  std::string id, prediction, source;
  double score = 0;
};

struct ScoredFile {
  std::string file, task;
  Metric metric = Metric::QaF1;
  std::vector<ScoredLine> lines;
};

[[noreturn]] void fail_at(const std::string& where, const std::string& message) {
  throw InputError(fmt::format("{}: {}", where, message));
}

std::string task_of(const std::string& file, const ImportOptions& options) {
  if (!options.task.empty()) return options.task;
  std::string name = fs::path(file).filename().string();
  const std::string suffix = ".jsonl";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    name.resize(name.size() - suffix.size());
  return name;
}

// The LongBench samples of `task`, by _id: DIR/<task>.jsonl of each directory given, and every
// line of each file given.
std::map<std::string, LongBenchSample> gold_samples(const ImportOptions& options, const std::string& task,
                                                    std::string& described) {
  std::map<std::string, LongBenchSample> out;
  std::vector<std::string> files;
  for (const std::string& source : options.longbench) {
    if (fs::is_directory(source)) {
      const std::string path = (fs::path(source) / (task + ".jsonl")).string();
      if (fs::exists(path)) files.push_back(path);
    } else {
      CKV_CHECK(fs::exists(source), "{}: no such LongBench file or directory", source);
      files.push_back(source);
    }
  }
  CKV_CHECK(!files.empty(), "no LongBench data for task '{}' (looked for {}.jsonl in {})", task, task,
            fmt::format("{}", fmt::join(options.longbench, ", ")));
  described = fmt::format("{}", fmt::join(files, ", "));
  for (const std::string& file : files)
    for (LongBenchSample& s : read_longbench_jsonl(file)) {
      std::string id = s.id;
      out.emplace(std::move(id), std::move(s));
    }
  return out;
}

ScoredFile score_file(const std::string& file, const ImportOptions& options) {
  ScoredFile out;
  out.file = file;
  out.task = task_of(file, options);
  auto metric = task_metric(out.task);
  if (!metric) {
    std::vector<std::string> valid;
    for (const TaskInfo& t : known_tasks())
      if (!t.e2e_metric.empty()) valid.push_back(t.name);
    CKV_FAIL("{}: task '{}' has no LongBench scoring (valid: {}); name it with --task", file, out.task,
             fmt::format("{}", fmt::join(valid, ", ")));
  }
  out.metric = *metric;
  std::string gold_files;
  const auto gold = gold_samples(options, out.task, gold_files);

  std::ifstream in(file);
  CKV_CHECK(in, "{}: cannot read the predictions file", file);
  std::set<std::string> seen;
  std::string text;
  for (int line_number = 1; std::getline(in, text); ++line_number) {
    const std::string where = fmt::format("{}:{}", file, line_number);
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded()) fail_at(where, "not a JSON object (malformed JSON)");
    if (!line.is_object()) fail_at(where, "not a JSON object");
    const json* id = line.contains("_id") ? &line["_id"] : line.contains("id") ? &line["id"]
                                                                               : nullptr;
    if (!id) fail_at(where, "no \"_id\" or \"id\" field");
    if (!id->is_string()) fail_at(where, fmt::format("the id must be a string, got {}", id->dump()));
    if (!line.contains("pred") || !line["pred"].is_string())
      fail_at(where, "no string field \"pred\"");
    ScoredLine scored;
    scored.id = id->get<std::string>();
    scored.prediction = line["pred"].get<std::string>();
    scored.source = where;
    if (!seen.insert(scored.id).second) fail_at(where, fmt::format("id '{}' appears twice", scored.id));
    auto sample = gold.find(scored.id);
    if (sample == gold.end())
      fail_at(where, fmt::format("id '{}' is not in the LongBench data ({})", scored.id, gold_files));
    try {
      scored.score = sample_score(out.task, out.metric, scored.prediction, sample->second.answers,
                                  sample->second.all_classes, options.backend);
    } catch (const Error& e) {
      fail_at(where, e.what());
    }
    out.lines.push_back(std::move(scored));
  }
  CKV_CHECK(!in.bad(), "{}: read error", file);
  CKV_CHECK(!out.lines.empty(), "{}: no predictions", file);
  return out;
}

}  // namespace

std::vector<ImportedTask> import_predictions(Database& db, const ImportOptions& options) {
  CKV_CHECK(!options.prediction_files.empty(), "no predictions file given");
  CKV_CHECK(!options.longbench.empty(), "no LongBench data given (--longbench DIR or FILE)");
  const int64_t campaign = e2e_campaign_id(db, options.campaign);
  const int64_t configuration = configuration_id_by_prefix(db, options.configuration);
  check_configuration_in_campaign(db, campaign, configuration);

  std::vector<ScoredFile> files;
  std::set<std::string> tasks;
  for (const std::string& file : options.prediction_files) {
    files.push_back(score_file(file, options));
    CKV_CHECK(tasks.insert(files.back().task).second, "{}: task '{}' is given by two predictions files",
              file, files.back().task);
  }

  std::vector<ImportedTask> out;
  std::vector<E2eTaskRows> rows;
  for (const ScoredFile& f : files) {
    E2eTaskRows task{f.task, metric_name(f.metric), f.file, 0, {}};
    std::vector<double> scores;
    for (const ScoredLine& line : f.lines) {
      task.predictions.push_back({line.id, line.prediction, line.source, line.score});
      scores.push_back(line.score);
    }
    task.score = task_score(scores);
    out.push_back(ImportedTask{task.task, task.metric, task.file, scores.size(), task.score});
    rows.push_back(std::move(task));
  }
  replace_e2e_tasks(db, campaign, configuration, rows, now_seconds());
  return out;
}

}  // namespace ckv::e2e
