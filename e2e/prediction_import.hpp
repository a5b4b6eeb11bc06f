// Import of end-to-end predictions (docs/spec/MISSION.md R11): LongBench-style JSONL predictions of one task per file
// ({"_id" or "id", "pred", ...}) scored against the gold answers of the LongBench JSONL with
// LongBench's own scoring, stored in e2e_predictions / e2e_tasks (docs/database.md).
#pragma once
#include <string>
#include <vector>

#include "db/database.hpp"
#include "e2e/longbench_scoring.hpp"

namespace ckv::e2e {

struct ImportOptions {
  std::string campaign;       // must exist in the database
  std::string configuration;  // configuration hash, or a prefix of exactly one
  std::vector<std::string> prediction_files;
  std::string task;  // "" = each file's name without .jsonl (LongBench's pred/<model>/<task>.jsonl)
  // LongBench data: directories (DIR/<task>.jsonl) or JSONL files (samples matched by _id).
  std::vector<std::string> longbench;
  FuzzBackend backend = FuzzBackend::Difflib;
};

struct ImportedTask {
  std::string task, metric, file;
  size_t count = 0;
  double score = 0;  // round(100 * mean, 2)
};

// Reads and scores everything first: a malformed line (FILE:LINE), an id missing from the
// LongBench data, an unknown task, campaign or configuration throw ckv::InputError / ckv::Error
// before anything is written. Then one transaction replaces the (campaign, configuration, task)
// rows of every file: all of the import or none of it.
std::vector<ImportedTask> import_predictions(Database& db, const ImportOptions& options);

}  // namespace ckv::e2e
