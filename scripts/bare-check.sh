#!/usr/bin/env bash
# The check to run before a release: the README's quick start on a bare Debian 12 root, as a new
# user would meet it. Builds a Debian 12 root with debootstrap (minbase plus git, python3 and
# ca-certificates, nothing else), clones the repository into it at HEAD, and runs there, as root,
#   1. scripts/demo.sh
#   2. CI=true bash .ci/run        (scripts/test.sh as CI runs it: capture and Slurm tests must run)
# then prints each command's exit status and wall time, the ctest summary and every "command not
# found" seen. Every program the scripts and tests call must be installed by the setup scripts;
# this is where a missing one shows.
#
#   scripts/bare-check.sh [--dir DIR] [--fresh] [--no-cache] [--net private|host] [REPO]
#   scripts/bare-check.sh [--dir DIR] --enter [COMMAND]
#
# REPO        the repository to clone (default: this one); its HEAD commit is checked.
# --dir DIR   where the roots, caches and logs live (default /var/tmp/ckv-bare-check):
#             DIR/base   the debootstrap stage, made once and reused by later runs (--fresh remakes it)
#             DIR/root   this run's root: a copy of DIR/base, replaced by the next run
#             DIR/logs   demo.log, test.log, ctest's LastTest.log, summary.txt
#             DIR/cache  pip's and apt's download caches, bind-mounted into the root so a rerun
#                        need not download again (pip keeps only what the server's cache headers
#                        allow); --no-cache runs without them (a true first install)
# --net       private (default): the root gets its own network namespace with user-mode NAT
#             (slirp4netns) and its own hostname, so its Slurm daemons (ports 6817/6818) and MPI
#             meet nothing of this machine's; host: share this machine's network (the host's
#             Slurm ports must then be free).
# --enter     a shell (or COMMAND, run in the clone) in the root the last check left, with the
#             same mounts and namespaces: to look into a failure or rerun one test.
#
# Needs root on a Debian/Ubuntu host (installs debootstrap and slirp4netns when missing) and about
# 10 GB free in DIR (the root ends at ~8 GB: the build, and .venv with torch). Isolation: everything runs in private mount, PID and UTS namespaces
# (unshare): /proc, /dev, /sys, /run and the cache binds are mounted inside it only, so nothing
# is visible outside, nothing outside can be removed through the root, and every process started
# in the root (munged, slurmctld, slurmd, MPI jobs) ends with the check. The host's CA
# certificates and pip configuration (files and PIP_* variables) are copied in, as on every new
# machine here; without them PyPI is unreachable from the root. The root also sees this
# machine's cgroup hierarchy read-only (slurmd does not start without /sys/fs/cgroup).
# Takes ~20 min on 2 cores with a fast network (debootstrap 2-3 min, once; the demo ~5 min; the
# test command ~10 min: the rest of the build, the Python environment, ~4 min of tests).
# Exit status: 0 when both commands passed.
set -euo pipefail

die() { echo "bare-check: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)

# ---- inside the namespaces (the script calls itself) ------------------------------------------
if [[ ${1:-} == --inside ]]; then
  root=$2 logs=$3 cache=$4 net=$5 mode=$6; shift 6
  # The root a mount point of its own, as / is on a machine (unshare -m in the tests needs it);
  # /proc of the new PID namespace; a sysfs of its own (writable like a machine's, where creating
  # a file fails with EACCES, not EROFS: test_db_schema relies on it); this machine's cgroup
  # hierarchy read-only (slurmd refuses to start without /sys/fs/cgroup); a /dev of a few bound
  # nodes (nothing else of the host's /dev); tmpfs on /dev/shm (MPI) and /run (munge, Slurm).
  mount --bind "$root" "$root"
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount -t sysfs -o nosuid,nodev,noexec sysfs "$root/sys" 2>/dev/null || mount --rbind /sys "$root/sys"
  if mountpoint -q /sys/fs/cgroup && ! mountpoint -q "$root/sys/fs/cgroup"; then
    mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"
    grep -o " $root/sys/fs/cgroup[^ ]*" /proc/self/mounts | while read -r m; do mount -o remount,bind,ro "$m"; done
  fi
  mount -t tmpfs -o mode=755,nosuid dev "$root/dev"
  for n in null zero full random urandom tty; do
    touch "$root/dev/$n" && mount --bind "/dev/$n" "$root/dev/$n"
  done
  mkdir -p "$root/dev/pts" "$root/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts" 2>/dev/null \
    && ln -s pts/ptmx "$root/dev/ptmx"
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"; ln -s /proc/self/fd/1 "$root/dev/stdout"; ln -s /proc/self/fd/2 "$root/dev/stderr"
  mount -t tmpfs -o mode=755,nosuid,nodev run "$root/run"
  mkdir -m 1777 "$root/run/lock"
  if [[ $cache != none ]]; then
    mkdir -p "$root/root/.cache/pip" "$root/var/cache/apt/archives"
    mount --bind "$cache/pip" "$root/root/.cache/pip"
    mount --bind "$cache/apt" "$root/var/cache/apt/archives"
  fi
  # pip's find-links directories of this machine's configuration (read-only): as on every machine here.
  for d in ${PIP_FIND_LINKS:-}; do
    if [[ $d == /* && -d $d ]]; then mkdir -p "$root$d" && mount --bind -o ro "$d" "$root$d"; fi
  done
  hostname ckv-bare
  if [[ $net == private ]]; then
    for ((i = 0; i < 100; i++)); do ip -o -4 addr show tap0 2>/dev/null | grep -q inet && break; sleep 0.1; done
    ip -o -4 addr show tap0 | grep -q inet || { echo "bare-check: the root's network (slirp4netns) did not come up"; exit 1; }
    ip link set lo up
  fi
  # A clean environment: what a login on a new machine has, plus this site's CA and pip settings.
  env_vars=(HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  while IFS= read -r v; do env_vars+=("$v"); done < <(env | grep -E '^(PIP_[A-Z_]*|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|GIT_SSL_CAINFO)=' || true)
  if [[ $mode == enter ]]; then  # --enter: a shell (or the command given) in the root as it is
    ((${#} == 0)) && exec chroot "$root" /usr/bin/env -i "${env_vars[@]}" TERM="${TERM:-dumb}" bash -l
    exec chroot "$root" /usr/bin/env -i "${env_vars[@]}" bash -lc "cd /root/ckv-sweep && $*"
  fi
  run_step() {  # NAME COMMAND: runs COMMAND in the root's clone, output to LOGS/NAME.log and the terminal
    local name=$1 command=$2 start=$SECONDS rc=0
    echo "== bare-check: [$name] $command"
    # A file, not a pipe: a daemon the command leaves running (munged, slurmd) may hold its output.
    chroot "$root" /usr/bin/env -i "${env_vars[@]}" bash -c "cd /root/ckv-sweep && $command" \
      </dev/null >"$logs/$name.log" 2>&1 &
    local pid=$!
    tail -n +1 -f --pid="$pid" "$logs/$name.log" &
    local follower=$!
    wait "$pid" || rc=$?
    wait "$follower" || true
    echo "$name $rc $((SECONDS - start))" >>"$logs/steps"
    echo "== bare-check: [$name] exit $rc after $((SECONDS - start)) s"
  }
  : >"$logs/steps"
  run_step demo "scripts/demo.sh"
  run_step test "CI=true bash .ci/run"
  cp "$root/root/ckv-sweep/build/Testing/Temporary/LastTest.log" "$logs/LastTest.log" 2>/dev/null || true
  exit 0   # as PID 1 of the namespace: every process left in the root ends here
fi

# ---- on the host ------------------------------------------------------------------------------
dir=/var/tmp/ckv-bare-check fresh=0 use_cache=1 net=private repo=$here enter=0
while (($#)); do
  case $1 in
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --no-cache) use_cache=0; shift ;;
    --net) net=${2:?--net needs private or host}; shift 2 ;;
    --enter) enter=1; shift; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) repo=$1; shift ;;
  esac
done
[[ $net == private || $net == host ]] || die "--net is private or host, not '$net'"
[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot, namespaces)"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
r=$dir/root
exec 9>"$dir/lock"
flock -n 9 || die "another bare-check is using $dir"
started=$SECONDS
say() { echo "== bare-check: $*"; }

# Host tools.
need=(debootstrap)
[[ $net == private ]] && need+=(slirp4netns iproute2)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing on this machine: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if ((enter)); then
  [[ -d $r/root/ckv-sweep ]] || die "no root in $dir to enter: run the check first"
else
  repo=$(cd "$repo" && git rev-parse --show-toplevel) || die "$repo is not a git repository"
  commit=$(git -C "$repo" rev-parse HEAD)

  # The Debian mirrors this machine uses (deb.debian.org when none is found).
  uri() { grep -hsE "^URIs:.*/$1/?\$" /etc/apt/sources.list.d/*.sources | head -n 1 | awk '{print $2}' || true; }
  mirror=$(uri debian); mirror=${mirror:-http://deb.debian.org/debian}
  security=$(uri debian-security); security=${security:-http://deb.debian.org/debian-security}

  # 1. The debootstrap stage, once: minbase + git, python3, ca-certificates. Its own mount
  #    namespace, so whatever debootstrap mounts inside the target is never seen outside.
  if ((fresh)) || [[ ! -f $dir/base/.ckv-bare-base ]]; then
    rm -rf "$dir/base" "$dir/base.tmp"
    say "debootstrap bookworm minbase + git python3 ca-certificates from $mirror (usually 2-5 min)"
    t=$SECONDS
    unshare --mount --propagation private \
      debootstrap --variant=minbase --include=git,python3,ca-certificates bookworm "$dir/base.tmp" "$mirror" \
      >"$dir/debootstrap.log" 2>&1 || { tail -n 30 "$dir/debootstrap.log"; die "debootstrap failed (log: $dir/debootstrap.log)"; }
    touch "$dir/base.tmp/.ckv-bare-base"
    mv "$dir/base.tmp" "$dir/base"
    say "debootstrap stage ready in $((SECONDS - t)) s"
  else
    say "reusing the debootstrap stage $dir/base (--fresh remakes it)"
  fi

  # 2. This run's root: a copy of the stage (no mount of an earlier run exists out here: they
  #    lived in that run's namespace only).
  say "copying the stage to $r"
  rm -rf "$r"
  cp -a "$dir/base" "$r"
  # What every new machine here has: the site's CA certificates (the bundle, and the local CAs so
  # a later update-ca-certificates keeps them) and pip's configuration.
  if [[ -d /usr/local/share/ca-certificates ]]; then cp -a /usr/local/share/ca-certificates/. "$r/usr/local/share/ca-certificates/"; fi
  cp -L /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
  for f in /etc/pip.conf /etc/xdg/pip/pip.conf; do
    if [[ -f $f ]]; then mkdir -p "$r$(dirname "$f")"; cp "$f" "$r$f"; fi
  done
  for f in "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf"; do
    if [[ -f $f ]]; then dest=$r/root/${f#"$HOME"/}; mkdir -p "$(dirname "$dest")"; cp "$f" "$dest"; fi
  done
  # The mirror with bookworm-updates and security, as a Debian 12 installation has them.
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$mirror" "$mirror" "$security" >"$r/etc/apt/sources.list"
  # A machine has a name that resolves; DNS: this machine's servers (through the NAT, unless they
  # are loopback addresses, which slirp4netns answers at 10.0.2.3).
  echo ckv-bare >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tckv-bare\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
  if [[ $net == private ]] && grep -qE '^nameserver[[:space:]]+(127\.|::1)' /etc/resolv.conf; then
    echo "nameserver 10.0.2.3" >"$r/etc/resolv.conf"
  else
    cp -L /etc/resolv.conf "$r/etc/resolv.conf"
  fi

  # 3. The clone, at HEAD.
  git clone -q --no-hardlinks "$repo" "$r/root/ckv-sweep"
  git -C "$r/root/ckv-sweep" checkout -q "$commit"
  say "cloned $repo at $(git -C "$repo" log -1 --format='%h %s' "$commit" | cut -c1-90)"
  rm -rf "$dir/logs"
fi

# 4. The two commands (or --enter's shell), inside private mount, PID and UTS (and network)
#    namespaces; the root's network comes up when slirp4netns attaches to the namespace.
mkdir -p "$dir/logs"
cache=none
if ((use_cache)); then
  cache=$dir/cache; mkdir -p "$cache/pip" "$cache/apt/partial"
  ((enter)) || say "download caches: pip $(du -sh "$cache/pip" | cut -f1), apt $(du -sh "$cache/apt" | cut -f1) (--no-cache for a true first install)"
fi
ns=(unshare --mount --propagation private --pid --fork --kill-child --uts)
[[ $net == private ]] && ns+=(--net)
mode=check; ((enter)) && mode=enter
exec 3<&0  # --enter's shell reads the terminal
"${ns[@]}" bash "$0" --inside "$r" "$dir/logs" "$cache" "$net" "$mode" "$@" <&3 &
inner=$!
slirp=""
if [[ $net == private ]]; then
  sleep 0.5
  slirp4netns --configure --mtu=65520 --disable-host-loopback "$inner" tap0 >"$dir/logs/slirp4netns.log" 2>&1 &
  slirp=$!
fi
rc=0; wait "$inner" || rc=$?
if [[ -n $slirp ]]; then kill "$slirp" 2>/dev/null || true; wait "$slirp" 2>/dev/null || true; fi
((enter)) && exit "$rc"
((rc == 0)) || echo "bare-check: the namespace exited $rc"

# 5. The summary.
{
  echo
  echo "== bare-check summary: $(git -C "$repo" log -1 --format='%h %s' "$commit" | cut -c1-90)"
  echo "   Debian 12 minbase + git python3 ca-certificates in $r ($(nproc) cores; network: $net; caches: $([[ $cache == none ]] && echo none || echo "$cache"))"
  while read -r name code seconds; do
    case $name in demo) what="scripts/demo.sh" ;; test) what="CI=true bash .ci/run" ;; *) what=$name ;; esac
    printf '   %-22s exit %-3s %4d min %02d s\n' "$what" "$code" $((seconds / 60)) $((seconds % 60))
  done < <(cat "$dir/logs/steps" 2>/dev/null)
  if [[ -f $dir/logs/test.log ]]; then
    grep -E "tests passed|Total Test time" "$dir/logs/test.log" | sed 's/^/   ctest: /' \
      || echo "   ctest: no summary (the suite did not run: see $dir/logs/test.log)"
    echo "   ctest: $(grep -cE '\*\*\*Skipped' "$dir/logs/test.log" || true) skipped"
    awk '/The following tests (did not run|FAILED):/ {p = 1; print "   " $0; next} p && /^[ \t]+[0-9]+ - / {print "   " $0; next} {p = 0}' "$dir/logs/test.log"
  fi
  missing=$(cat "$dir"/logs/*.log 2>/dev/null | grep -E "command not found|: not found$" | sort | uniq -c || true)
  if [[ -n $missing ]]; then echo "   programs not found:"; echo "$missing" | sed 's/^/     /'; else echo "   no 'command not found' in the logs"; fi
  echo "   total $(( (SECONDS - started) / 60 )) min; logs in $dir/logs"
} | tee "$dir/logs/summary.txt"
failed=$(awk '$2 != 0' "$dir/logs/steps" 2>/dev/null | wc -l)
steps=$(wc -l <"$dir/logs/steps" 2>/dev/null || echo 0)
((rc == 0 && steps == 2 && failed == 0))
