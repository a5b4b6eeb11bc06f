// How this process was started: alone (embedded) or as one rank of an MPI job (mpirun, srun).
#pragma once
#include <string>

namespace ckv {

struct RunRequest;

struct LaunchContext {
  int world_size = 1;  // from the launcher's environment, before MPI_Init
  int rank = 0;
  std::string launcher;  // "none", "mpirun", "srun"
  int slurm_ntasks = 0;  // SLURM_NTASKS, 0 when not under Slurm
};

// Reads OMPI_COMM_WORLD_SIZE / PMIX_SIZE-like variables and SLURM_* without initialising MPI.
LaunchContext detect_launch();

// World size > 1: rank 0 schedules and writes the database (schedule_campaign), ranks >= 1 are
// workers (scheduler/mpi/). Returns the process exit code.
int run_distributed(const LaunchContext& launch, const RunRequest& request);

}  // namespace ckv
