// `ckv-sweep [run] SPEC.toml`: run or resume a campaign. With no MPI launcher (world size 1)
// the scheduler and worker threads share this process.
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "db/database.hpp"
#include "db/result_store.hpp"
#include "kernels/stages/threads.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/embedded_transport.hpp"
#include "scheduler/launch.hpp"
#include "scheduler/runner.hpp"
#include "scheduler/signals.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int run_command(int argc, char** argv) {
  po::options_description options("run options");
  std::string spec_path, progress = "auto";
  RunOptions run;
  int threads = -1;
  options.add_options()
      ("spec", po::value(&spec_path)->required(), "the campaign file (TOML)")
      ("threads,j", po::value(&threads), "embedded worker threads (default: [run] threads, 0 = all cores)")
      ("retry-failed", po::bool_switch(&run.retry_failed), "also rerun units that failed before")
      ("progress", po::value(&progress)->default_value("auto"), "auto | bar | lines | off")
      ("progress-interval", po::value(&run.progress_interval)->default_value(30.0), "seconds between progress lines when not on a terminal")
      ("drain-grace", po::value(&run.drain_grace)->default_value(30.0), "seconds to collect in-flight work after SIGTERM/SIGUSR1/SIGUSR2");
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep [run] SPEC.toml [options]", options, positional, vm)) return kExitOk;
  run.progress = Progress::parse_mode(progress);

  LaunchContext launch = detect_launch();
  if (launch.world_size > 1) return run_distributed(launch, spec_path, run);

  CampaignSpec spec = load_spec(spec_path);
  if (threads >= 0) spec.run.threads = threads;
  install_drain_handlers();
  CampaignPlan plan = prepare_campaign(spec);  // validates and plans before anything is written
  Database db = Database::open(spec.database, Database::Mode::Writer);
  ResultStore store(db, spec.run.commit_interval);
  register_campaign(spec, plan, store);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = spec.run.threads > 0 ? spec.run.threads : cores;
  // Worker threads x kernel threads ~ cores (walkers split over threads within a configuration).
  set_default_kernel_threads(cores / workers);
  spdlog::info("campaign '{}': {} configurations x {} samples = {} units; {} worker threads (embedded, CPU)",
               spec.name, plan.configurations.size(), plan.samples.size(), plan.units.size(), workers);
  RunSummary summary;
  {
    EmbeddedTransport transport(workers, EvaluatorOptions{});
    summary = run_campaign(spec, plan, store, transport, run);
    transport.stop();
  }
  return report_run_summary(spec, summary);
}

}  // namespace ckv::cli
