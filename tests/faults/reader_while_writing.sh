#!/usr/bin/env bash
# Readers never fail nor stall the writer (docs/spec/MISSION.md R7): `ckv-sweep status` and `query` poll the
# database as fast as they can while rank 0 of an mpirun job (or the embedded scheduler when
# there is no MPI) commits; every read succeeds within seconds, successive reads see the work
# progress, and the run finishes complete. Usage: reader_while_writing.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
cd "$work"
long_campaign long.toml 96  # seconds of writing, for many reads
"$sweep" plan long.toml >/dev/null  # generates the cache, so the run starts writing at once

if [[ "${CKV_HAVE_MPI:-ON}" == "ON" ]] && command -v mpirun >/dev/null; then
  need_mpi
  "${MPIRUN[@]}" -np 3 "$sweep" long.toml --progress off >run.log 2>&1 &
else
  "$sweep" long.toml --progress off >run.log 2>&1 &
fi
writer=$!
# Readers start once the database exists for them: its file and its schema (the writer creates the
# file a moment before it commits the schema; a read in between is refused as "not a ckv-sweep
# database").
for ((i = 0; i < 600; i++)); do sql long.sqlite "select count(*) from schema_version" >/dev/null 2>&1 && break; sleep 0.05; done

reads=0; seen=()
while kill -0 "$writer" 2>/dev/null; do
  timeout 10 "$sweep" status long.sqlite >status.out 2>&1 || fail "status failed or took over 10s while the writer ran: $(cat status.out)"
  done=$(timeout 10 "$sweep" query long.sqlite "select count(*) from units where state='done'" --format csv 2>query.err | tail -n 1) \
    || fail "query failed or took over 10s while the writer ran: $(cat query.err)"
  seen+=("$done"); reads=$((reads + 1))
done
wait "$writer" || fail "the writer exited $? with readers polling: $(tail -5 run.log)"
grep -qi "locked\|busy" run.log && fail "the writer reported lock contention: $(grep -i 'locked\|busy' run.log)"
expect_complete_once long.sqlite long
((reads >= 5)) || fail "only $reads reads during the run"
distinct=$(printf '%s\n' "${seen[@]}" | sort -un | wc -l)
((distinct >= 3)) || fail "readers saw no progress (${seen[*]}): were they blocked?"
sorted=$(printf '%s\n' "${seen[@]}" | sort -n | tr '\n' ' '); actual=$(printf '%s\n' "${seen[@]}" | tr '\n' ' ')
[[ "$sorted" == "$actual" ]] || fail "done counts went backwards: $actual"
echo "reader_while_writing: $reads reads, $distinct distinct progress values; all checks passed"
