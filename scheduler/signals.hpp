// SIGTERM, SIGUSR1, SIGUSR2 (and SIGINT) ask rank 0 to drain (docs/spec/MISSION.md R8): stop dispatching, collect
// in-flight results for a grace period, commit, exit with kExitIncomplete.
#pragma once

namespace ckv {

void install_drain_handlers();
bool drain_requested();
int drain_signal();  // the signal received, 0 if none
void reset_drain_state();  // for tests

}  // namespace ckv
