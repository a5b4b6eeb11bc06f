// `ckv-sweep [run] SPEC.toml`: run or resume a campaign. The same command line on every rank;
// scheduler/run_setup.hpp decides embedded or MPI.
#include <fmt/format.h>

#include "common/exit_codes.hpp"
#include "scheduler/run_setup.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int run_command(int argc, char** argv) {
  po::options_description options("run options");
  std::string progress = "auto", device = "auto";
  RunRequest request;
  RunOptions& run = request.options;
  options.add_options()("spec", po::value(&request.spec_path)->required(), "the campaign file (TOML)")("threads,j", po::value(&request.threads), "embedded worker threads (default: [run] threads, 0 = all cores)")("device", po::value(&device)->default_value("auto"),
                                                                                                                                                                                                                    "auto (a GPU when one is visible) | cpu | cuda; workers share the visible GPUs round-robin")("retry-failed", po::bool_switch(&run.retry_failed), "also rerun units that failed before")("retry-lost", po::bool_switch(&run.retry_lost), "also rerun lost units whose [run] max_attempts are used up")("redefine", po::bool_switch(&request.redefine),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "let this spec redefine a campaign of the same name that another spec file defined")("trust-recorded-digests", po::bool_switch(&request.plan.trust_recorded_digests),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                               "identify samples by the content_sha256 their metadata records instead of hashing their data (workers still verify)")("progress", po::value(&progress)->default_value("auto"), "auto | bar | lines | off")("progress-interval", po::value(&run.progress_interval)->default_value(30.0), "seconds between progress lines when not on a terminal")("drain-grace", po::value(&run.drain_grace)->default_value(30.0), "seconds to collect in-flight work after SIGTERM/SIGUSR1/SIGUSR2")("commit-retry", po::value(&request.commit_retry)->default_value(60.0),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    "seconds a failing commit (a lock held by another program, a full disk) is retried before the run stops with exit 3");
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep [run] SPEC.toml [options]", options, positional, vm)) return kExitOk;
  run.progress = Progress::parse_mode(progress);
  request.device = parse_device_choice(device);
  // Bounded like [run] threads: a thread count the machine cannot start is refused here, not
  // discovered as a crash when the threads are created.
  usage_check(!vm.count("threads") || (request.threads >= 0 && request.threads <= kMaxWorkerThreads), "run",
              fmt::format("--threads must be between 0 (all cores) and {} (got {})", kMaxWorkerThreads, request.threads));
  usage_check(run.drain_grace >= 0, "run", fmt::format("--drain-grace must be 0 or more seconds (got {})", run.drain_grace));
  usage_check(request.commit_retry >= 0, "run",
              fmt::format("--commit-retry must be 0 or more seconds (got {})", request.commit_retry));
  usage_check(run.progress_interval > 0, "run",
              fmt::format("--progress-interval must be more than 0 seconds (got {})", run.progress_interval));
  return run_campaign_command(request);
}

}  // namespace ckv::cli
