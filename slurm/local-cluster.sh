#!/usr/bin/env bash
# A single-node Slurm cluster on this Debian 12 machine, for tests (docs/spec/MISSION.md R9): `srun ckv-sweep …` then
# runs for real. Needs root. Installs slurmctld, slurmd, slurm-client and munge when missing.
#   slurm/local-cluster.sh start    install if needed, configure, start munged/slurmctld/slurmd,
#                                   wait until the node is idle
#   slurm/local-cluster.sh stop     stop the three daemons (by their pid files)
#   slurm/local-cluster.sh status   daemons and sinfo
# The configuration is written to /etc/slurm/slurm.conf only when that file is absent or was
# written by this script (marker line), so a real cluster's configuration is never touched.
set -euo pipefail

marker="# written by ckv-sweep slurm/local-cluster.sh"
conf=/etc/slurm/slurm.conf
state=/var/lib/slurm-local
logs=/var/log/slurm-local
node=$(hostname -s)

die() { echo "local-cluster: $*" >&2; exit 1; }
running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  # policy-rc.d-less containers would try to start the services; the script starts them itself.
  source "$(dirname "$0")/../scripts/common.bash"
  ckv_apt_install "Slurm and munge for the local cluster" slurmctld slurmd slurm-client munge
}

start_munge() {
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile=/etc/munge/munge.key --force
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  if ! running /run/munge/munged.pid; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  fi
  munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
}

write_config() {
  if [[ -f "$conf" ]] && ! grep -qF "$marker" "$conf"; then
    echo "local-cluster: $conf exists and was not written by this script; using it as it is"
    return 0
  fi
  mkdir -p /etc/slurm "$state/ctld" "$state/d" "$logs"
  cat >"$conf" <<CONF
$marker
ClusterName=ckv-local
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
# Debian's Open MPI speaks PMIx, not PMI2: srun must default to pmix.
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=10
# The real core count; srun -O (overcommit) starts more tasks than cores for tests.
NodeName=$node CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
}

wait_idle() {
  local i s
  for ((i = 0; i < 60; i++)); do
    s=$(sinfo -h -n "$node" -o %t 2>/dev/null | head -n 1 || true)
    case "$s" in
      idle|mix|alloc) echo "local-cluster: node $node is $s"; return 0 ;;
      down*|drain*|drng*) scontrol update nodename="$node" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
  done
  die "node $node did not become idle within 60s (state '${s:-none}'; see $logs/)"
}

start() {
  [[ $(id -u) -eq 0 ]] || die "start needs root (it installs packages and starts daemons)"
  install_packages
  start_munge
  write_config
  running /run/slurmctld.pid || slurmctld || die "slurmctld did not start (see $logs/slurmctld.log)"
  running /run/slurmd.pid || slurmd || die "slurmd did not start (see $logs/slurmd.log)"
  wait_idle
}

stop() {
  local f
  for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    if running "$f"; then kill "$(cat "$f")"; fi
  done
  echo "local-cluster: stopped"
}

status() {
  local f
  for f in /run/munge/munged.pid /run/slurmctld.pid /run/slurmd.pid; do
    if running "$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$f"))"; else echo "$(basename "$f" .pid): stopped"; fi
  done
  command -v sinfo >/dev/null && sinfo 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
