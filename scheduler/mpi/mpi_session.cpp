#include "scheduler/mpi/mpi_session.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"

namespace ckv {

namespace {
// For messages from mpi_check, which has no session at hand.
std::string g_where = "rank ?";
}  // namespace

void mpi_check(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) fmt::format_to_n(text, sizeof text - 1, "error code {}", code);
  throw Error(fmt::format("{}: {} failed ({}:{}): {}", g_where, call, file, line, text));
}

MpiSession::MpiSession() {
  host_ = hostname();
  int provided = 0;
  // Before MPI_Init succeeds no error handler applies; its return code is all there is.
  const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  if (code != MPI_SUCCESS) throw Error(fmt::format("{}: MPI_Init_thread failed with code {}", host_, code));
  CKV_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  CKV_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  CKV_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  g_where = where();
  if (provided < MPI_THREAD_FUNNELED)
    throw Error(fmt::format("{}: MPI provides thread level {}, ckv-sweep needs MPI_THREAD_FUNNELED",
                            where(), provided));
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();  // errors here cannot be reported to anyone who could act
}

std::string MpiSession::where() const { return fmt::format("{} rank {}", host_, rank_); }

void MpiSession::check_world(const LaunchContext& launch) const {
  if (launch.world_size > 1 && size_ == 1)
    CKV_FAIL(
        "{}: {} started this process as rank {} of {}, but MPI_Init made it a world of 1: "
        "each task is an MPI singleton. The MPI library does not talk to the launcher: under "
        "srun use --mpi=pmix (Debian's Open MPI has no PMI2 support) or an MPI built with "
        "Slurm support; make sure ckv-sweep is linked against the MPI of the mpirun used",
        host_, launch.launcher, launch.rank, launch.world_size);
  if (launch.launcher == "srun" && launch.slurm_ntasks > 0 && launch.slurm_ntasks != size_)
    CKV_FAIL(
        "{}: srun started SLURM_NTASKS={} tasks but the MPI world has {} ranks: the tasks "
        "did not join one MPI job (check srun --mpi=pmix and the MPI ckv-sweep is linked with)",
        where(), launch.slurm_ntasks, size_);
  if (launch.world_size > 1 && launch.world_size != size_)
    CKV_FAIL("{}: the launcher announced {} ranks but the MPI world has {}", where(),
             launch.world_size, size_);
}

std::pair<int, int> MpiSession::node_worker_index() const {
  MPI_Comm node = MPI_COMM_NULL;
  CKV_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  int node_size = 0;
  CKV_MPI_CHECK(MPI_Comm_size(node, &node_size));
  std::vector<int> ranks(node_size);
  CKV_MPI_CHECK(MPI_Allgather(&rank_, 1, MPI_INT, ranks.data(), 1, MPI_INT, node));
  CKV_MPI_CHECK(MPI_Comm_free(&node));
  int index = 0, workers = 0;
  for (int r : ranks) {
    if (r == 0) continue;  // the scheduler takes no GPU
    ++workers;
    if (r < rank_) ++index;
  }
  return {index, workers};
}

void MpiSession::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort should not return; if it does, do not finalise a broken job
}

}  // namespace ckv
