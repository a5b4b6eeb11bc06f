// The exit codes of every ckv-sweep command: one table, used by the command line and by the
// run (embedded and MPI). README.md and docs/architecture.md list it for users.
#pragma once

namespace ckv {

constexpr int kExitOk = 0;          // done: the campaign is complete, or the command succeeded
constexpr int kExitError = 1;       // an error stopped the command; a run wrote nothing, or only whole transactions
constexpr int kExitUsage = 2;       // the command line is wrong (unknown option, bad value, missing argument)
constexpr int kExitIncomplete = 3;  // the run stopped short (drained, units failed or lost, commits failed): what to do is printed

}  // namespace ckv
