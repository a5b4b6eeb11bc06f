#include "scheduler/signals.hpp"

#include <csignal>
#include <initializer_list>

namespace ckv {

namespace {
volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_count = 0;
extern "C" void on_drain_signal(int signal) {
  if (g_signal == 0) g_signal = signal;
  if (g_count < 2) g_count = g_count + 1;
}
}  // namespace

void install_drain_handlers() {
  struct sigaction action {};
  action.sa_handler = on_drain_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGUSR1, SIGUSR2, SIGINT}) sigaction(s, &action, nullptr);
}

bool drain_requested() { return g_signal != 0; }
int drain_signal() { return g_signal; }
bool stop_now_requested() { return g_count >= 2; }
void reset_drain_state() {
  g_signal = 0;
  g_count = 0;
}

}  // namespace ckv
