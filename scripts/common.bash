# Shared by scripts/*.sh (sourced; not a command itself): finding the CUDA toolkit and a GPU,
# installing Debian packages, and running a long step with a progress line every 20 s.

# ckv_nvcc: prints the CUDA compiler CMake would find (CUDACXX, nvcc on PATH, or
# /usr/local/cuda/bin/nvcc, which CMakeLists.txt also tries); fails when there is none.
ckv_nvcc() {
  local c
  for c in "${CUDACXX:-}" "$(command -v nvcc 2>/dev/null || true)" /usr/local/cuda/bin/nvcc; do
    [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
  done
  return 1
}

# ckv_gpu_visible: true when nvidia-smi lists at least one GPU.
ckv_gpu_visible() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}

# ckv_progress LABEL USUAL LOG PATTERN CMD...: runs CMD with its output in LOG; says what runs and
# how long it usually takes, then every CKV_PROGRESS_EVERY seconds (default 20) the time so far and
# the last line of LOG matching the extended regex PATTERN; at the end the time it took. Returns
# CMD's exit status (the caller shows the log on failure).
ckv_progress() {
  local label=$1 usual=$2 log=$3 pattern=$4; shift 4
  local every=${CKV_PROGRESS_EVERY:-20} start=$SECONDS rc=0 next line
  echo "== $label (usually $usual; log: $log)"
  "$@" >"$log" 2>&1 &
  local pid=$!
  next=$((SECONDS + every))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS >= next)); then
      next=$((SECONDS + every))
      line=$(grep -E "$pattern" "$log" 2>/dev/null | tail -n 1 | cut -c1-110 || true)
      echo "   ... $((SECONDS - start)) s${line:+: $line}"
    fi
  done
  wait "$pid" || rc=$?
  if ((rc == 0)); then echo "   done in $((SECONDS - start)) s"; else echo "   FAILED after $((SECONDS - start)) s (exit $rc)"; fi
  return "$rc"
}

# ckv_apt_install WHAT PACKAGE...: installs the packages that are not installed yet (as root, or
# through sudo), with progress; WHAT names them in the messages.
ckv_apt_install() {
  local what=$1; shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local log
  log=$(mktemp -t ckv-apt.XXXXXX.log)
  echo "== installing $what: ${missing[*]}"
  if ! ckv_progress "apt-get install of ${#missing[@]} package(s)" \
         "0.5-3 min, most of it downloading on a first install" "$log" \
         '^(Get:|Unpacking|Setting up)' _ckv_apt_get "${missing[@]}"; then
    tail -n 30 "$log"; rm -f "$log"; return 1
  fi
  rm -f "$log"
}
_ckv_apt_get() {
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -q || return
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}
