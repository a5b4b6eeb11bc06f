// SIGTERM, SIGUSR1, SIGUSR2 (and SIGINT) ask rank 0 to drain (docs/spec/MISSION.md R8): stop dispatching, collect
// in-flight results for a grace period, commit, exit with kExitIncomplete. A second of these
// signals stops at once: what is done is committed, what is in flight is lost (rerun next time).
#pragma once

namespace ckv {

void install_drain_handlers();
bool drain_requested();
int drain_signal();         // the first signal received, 0 if none
bool stop_now_requested();  // a second signal arrived
void reset_drain_state();   // for tests

}  // namespace ckv
