// `ckv-sweep import-predictions DB`: score LongBench predictions of one configuration with
// LongBench's own metrics and store them beside the proxy results (docs/e2e.md).
#include <iostream>

#include <fmt/format.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "e2e/prediction_import.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int import_predictions_command(int argc, char** argv) {
  po::options_description options("import-predictions options");
  std::string db_path, fuzz = "difflib";
  e2e::ImportOptions import;
  options.add_options()("db", po::value(&db_path)->required(), "database file")("campaign,c", po::value(&import.campaign)->required(), "campaign name")("config", po::value(&import.configuration)->required(), "configuration hash (or a unique prefix)")("predictions", po::value(&import.prediction_files)->multitoken()->required(),
                                                                                                                                                                                                                                                           "predictions JSONL file(s), one task each")("task", po::value(&import.task), "task of the predictions (default: the file name, as pred/<model>/<task>.jsonl)")("longbench", po::value(&import.longbench)->multitoken()->required(),
                                                                                                                                                                                                                                                                                                                                                                                                                          "LongBench data: directory holding <task>.jsonl, or JSONL files")("fuzz", po::value(&fuzz)->default_value("difflib"),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "code_sim matcher: difflib (LongBench's requirements) | levenshtein (with python-Levenshtein)");
  po::positional_options_description positional;
  positional.add("db", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "ckv-sweep import-predictions DB --campaign C --config HASH --predictions FILE.jsonl... "
                     "--longbench DIR|FILE... [--task T]",
                     options, positional, vm))
    return kExitOk;
  usage_check(fuzz == "difflib" || fuzz == "levenshtein", "import-predictions",
              "--fuzz must be difflib or levenshtein (got '" + fuzz + "')");
  import.backend = fuzz == "difflib" ? e2e::FuzzBackend::Difflib : e2e::FuzzBackend::Levenshtein;
  CKV_CHECK(import.task.empty() || import.prediction_files.size() == 1,
            "--task names the task of a single predictions file; name the files <task>.jsonl instead");

  Database db = Database::open(db_path, Database::Mode::Writer);
  for (const auto& t : e2e::import_predictions(db, import))
    fmt::print("{}: {} {} = {:.2f} over {} sample(s)\n", t.file, t.task, t.metric, t.score, t.count);
  return kExitOk;
}

}  // namespace ckv::cli
