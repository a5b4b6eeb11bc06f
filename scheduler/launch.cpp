#include "scheduler/launch.hpp"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "common/error.hpp"

namespace ckv {

namespace {
int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  try {
    return std::stoi(value);
  } catch (...) {
    return fallback;
  }
}
}  // namespace

LaunchContext detect_launch() {
  LaunchContext launch;
  launch.slurm_ntasks = env_int("SLURM_NTASKS", 0);
  // A heterogeneous step (slurm/ckv-sweep.sbatch: rank 0 alone in component 0, the GPU workers
  // in component 1) is one MPI world over all components; count their tasks together.
  if (const int components = env_int("SLURM_HET_SIZE", 0); components > 1) {
    int total = 0;
    for (int i = 0; i < components && total >= 0; ++i) {
      const int n = env_int(fmt::format("SLURM_NTASKS_HET_GROUP_{}", i).c_str(), -1);
      total = n < 0 ? -1 : total + n;
    }
    if (total > 0) launch.slurm_ntasks = total;
  }
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) {
    // mpirun, or srun with PMIx feeding Open MPI (it sets OMPI_COMM_WORLD_* too).
    launch.world_size = env_int("OMPI_COMM_WORLD_SIZE", 1);
    launch.rank = env_int("OMPI_COMM_WORLD_RANK", 0);
    launch.launcher = std::getenv("SLURM_STEP_ID") ? "srun" : "mpirun";
  } else if (std::getenv("PMIX_RANK") || std::getenv("PMI_RANK")) {
    launch.launcher = std::getenv("SLURM_STEP_ID") ? "srun" : "mpirun";
    launch.rank = env_int("PMIX_RANK", env_int("PMI_RANK", 0));
    launch.world_size = env_int("PMI_SIZE", std::max(1, env_int("SLURM_NTASKS", 1)));
  } else if (std::getenv("SLURM_STEP_ID") && env_int("SLURM_NTASKS", 1) > 1) {
    // srun started several tasks but no MPI environment reached us.
    launch.launcher = "srun";
    launch.rank = env_int("SLURM_PROCID", 0);
    launch.world_size = env_int("SLURM_NTASKS", 1);
  } else {
    launch.launcher = "none";
  }
  return launch;
}

#ifndef CKV_HAVE_MPI
int run_distributed(const LaunchContext& launch, const RunRequest&) {
  CKV_FAIL(
      "started by {} as one of {} ranks, but this ckv-sweep was built without MPI "
      "(rebuild with libopenmpi-dev installed and -DCKV_MPI=ON)",
      launch.launcher, launch.world_size);
}
#endif

}  // namespace ckv
