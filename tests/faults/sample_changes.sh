#!/usr/bin/env bash
# A sample's identity is its content, checked where the worker opens it: a same-size
# change inside a file is a new sample whose units run again (with or without a recorded digest),
# a file modified behind its recorded digest fails its units, a file replaced or truncated while
# a campaign runs fails only its own units (never a SIGBUS, never another sample's numbers), and
# NaN in a tensor never gives a done unit. Usage: sample_changes.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
cd "$work"
edit() { python3 "$src/tests/faults/safetensors_edit.py" "$@"; }
run() {  # LOG EXPECTED_CODE ARGS...: runs the campaign, checks the exit code
  local log=$1 want=$2; shift 2
  set +e; "$sweep" "$@" --progress off >"$log" 2>&1; local got=$?; set -e
  [[ $got -eq $want ]] || fail "$* exited $got, expected $want: $(tail -5 "$log")"
}
done_units() { sql "$1" "select count(*) from campaign_units cu join campaigns c on c.id=cu.campaign_id join units u on u.id=cu.unit_id where c.name='$2' and u.state='done'"; }
campaign_rows() {  # DB CAMPAIGN TASK KEY STATE: units of one sample of the campaign in STATE
  sql "$1" "select count(*) from campaign_units cu join campaigns c on c.id=cu.campaign_id join units u on u.id=cu.unit_id
            join samples s on s.id=u.sample_id where c.name='$2' and s.task='$3' and s.sample_key='$4' and u.state='$5'"
}

# --- 1. a layer recaptured in place (same size, digest rewritten as a capture tool would) ---------
mkdir one && cd one
cp "$src/tests/data/faults/samples.toml" .
run run1.log 0 samples.toml
victim=cache/synth-needle/synth-needle-1.safetensors
(( $(stat -c %s $victim) > 327680 )) || fail "samples are too small to test a change in their middle"
size=$(stat -c %s $victim)
edit flip $victim layers.1.k --fix-digest
[[ $(stat -c %s $victim) -eq $size ]] || fail "the edit changed the size"
"$sweep" plan samples.toml >plan.log 2>&1
grep -q "to run:          4" plan.log || fail "plan after a same-size recapture must run that sample's 4 units: $(cat plan.log)"
run run2.log 0 samples.toml
grep -q "4 run now (4 done" run2.log || fail "the changed sample was not run again: $(tail -3 run2.log)"
grep -q "1 sample(s) of campaign 'samples' are in the database under another content fingerprint (synth-needle/synth-needle-1)" run2.log \
  || fail "the rerun did not say which sample changed: $(cat run2.log)"
expect_sql samples.sqlite "select count(*) from samples where task='synth-needle' and sample_key='synth-needle-1'" 2  # old rows kept
[[ $(done_units samples.sqlite samples) -eq 24 ]] || fail "campaign not complete after the rerun"
cd ..

# --- 2. no recorded digest (a foreign writer); two bytes changed in the middle of the file -------
mkdir two && cd two
cp "$src/tests/data/faults/samples.toml" .
"$sweep" synth --out cache --tasks synth-multihop synth-needle --samples 3 --tokens 1024 --heads 4 --kv-heads 2 \
  --head-dim 64 --layers 0 1 --num-layers-model 4 --answer-tokens 4 --seed 13 >/dev/null
for f in cache/*/*.safetensors; do edit strip-digest "$f"; done
python3 - <<'PY'  # the index's file sizes follow the rewritten files
import json, os
lines = [json.loads(l) for l in open("cache/index.jsonl")]
for l in lines: l["file_size"] = os.path.getsize(os.path.join("cache", l["path"]))
open("cache/index.jsonl", "w").write("".join(json.dumps(l) + "\n" for l in lines))
PY
run run1.log 0 samples.toml
edit middle cache/synth-multihop/synth-multihop-2.safetensors
"$sweep" plan samples.toml | grep -q "to run:          4" || fail "a change in the middle of a file without a digest went unnoticed"
run run2.log 0 samples.toml
grep -q "4 run now (4 done" run2.log || fail "the changed sample was not run again: $(tail -3 run2.log)"
cd ..

# --- 3. modified behind its recorded digest: a damaged file, its units fail --------------------
mkdir three && cd three
cp "$src/tests/data/faults/samples.toml" .
run run1.log 0 samples.toml
edit flip cache/synth-multihop/synth-multihop-0.safetensors layers.0.v   # digest left stale
run run2.log 3 samples.toml
grep -q "synth-multihop/synth-multihop-0.*does not match the content_sha256 recorded in its metadata" run2.log \
  || fail "planning did not warn about the stale digest: $(cat run2.log)"
[[ $(campaign_rows samples.sqlite samples synth-multihop synth-multihop-0 failed) -eq 4 ]] || fail "the damaged sample's units did not fail"
[[ $(campaign_rows samples.sqlite samples synth-multihop synth-multihop-0 done) -eq 0 ]] || fail "a damaged sample has done units in the campaign"
sql samples.sqlite "select last_error from units where state='failed' limit 1" | grep -q "synth-multihop/synth-multihop-0: .*synth-multihop-0.safetensors: the tensor data does not match" \
  || fail "failure message does not name the sample and the problem: $(sql samples.sqlite "select last_error from units where state='failed' limit 1")"
cd ..

# --- 4. NaN in a tensor (digest rewritten: a capture that produced it) --------------------------
mkdir four && cd four
cp "$src/tests/data/faults/samples.toml" .
"$sweep" synth --out cache --tasks synth-multihop synth-needle --samples 3 --tokens 1024 --heads 4 --kv-heads 2 \
  --head-dim 64 --layers 0 1 --num-layers-model 4 --answer-tokens 4 --seed 13 >/dev/null
edit nan cache/synth-needle/synth-needle-2.safetensors layers.1.q_answer --fix-digest
run run1.log 3 samples.toml
[[ $(campaign_rows samples.sqlite samples synth-needle synth-needle-2 done) -eq 0 ]] || fail "NaN gave done units"
[[ $(campaign_rows samples.sqlite samples synth-needle synth-needle-2 failed) -eq 4 ]] || fail "NaN did not fail the sample's units"
[[ $(done_units samples.sqlite samples) -eq 20 ]] || fail "the other samples did not finish"
sql samples.sqlite "select distinct last_error from units where state='failed'" | \
  grep -q "sample synth-needle/synth-needle-2 layer 1: tensor 'layers.1.q_answer' holds NaN at \[0, 0, 0\]" \
  || fail "NaN message: $(sql samples.sqlite "select distinct last_error from units where state='failed'")"
cd ..

# --- 5. files replaced and truncated while the campaign runs -----------------------------------
mkdir five && cd five
cp "$src/tests/data/faults/long.toml" long.toml
"$sweep" long.toml --progress off >run1.log 2>&1 &
pid=$!
wait_for_done long.sqlite 30 60 "$pid"
# The last two samples are dispatched last (batches go out in sample order). The run is held
# still while they change (a stopped process keeps its state), so that the edits, a Python start
# among them, cannot lose a race with a fast campaign; it continues afterwards, and on any exit.
kill -STOP "$pid"
trap 'kill -CONT "$pid" 2>/dev/null || true' EXIT
cp cache/synth-needle/synth-needle-8.safetensors needle-8.backup
edit flip cache/synth-needle/synth-needle-9.safetensors layers.2.q --fix-digest  # a recapture ...
cp cache/synth-needle/synth-needle-9.safetensors new-9 && mv new-9 cache/synth-needle/synth-needle-9.safetensors  # ... moved into place
truncate -s 4096 cache/synth-needle/synth-needle-8.safetensors  # truncated in place
kill -CONT "$pid"
set +e; wait "$pid"; code=$?; set -e
((code == 3)) || fail "a run whose samples changed under it must exit 3 (a signal would be $((code - 128))), got $code: $(tail -5 run1.log)"
expect_sql long.sqlite "pragma integrity_check" ok
for id in 8 9; do
  n=$(campaign_rows long.sqlite long synth-needle synth-needle-$id failed)
  ((n == 12)) || fail "synth-needle-$id: $n of 12 units failed"
done
sql long.sqlite "select last_error from units u join samples s on s.id=u.sample_id where s.sample_key='synth-needle-9' limit 1" | \
  grep -q "synth-needle/synth-needle-9: .*synth-needle-9.safetensors: the file changed since the campaign was planned" \
  || fail "replaced-file message: $(sql long.sqlite "select last_error from units where state='failed' limit 1")"
expect_sql long.sqlite "select count(*) from units where state='done'" 744
# The next run plans the files as they are now: the recapture runs, the truncated file fails.
run run2.log 3 long.toml
[[ $(campaign_rows long.sqlite long synth-needle synth-needle-9 done) -eq 12 ]] || fail "the recaptured sample did not run"
[[ $(campaign_rows long.sqlite long synth-needle synth-needle-8 failed) -eq 12 ]] || fail "the truncated sample did not fail"
# Restored, it is the planned sample again; its units failed (file changed), so --retry-failed.
cp needle-8.backup cache/synth-needle/synth-needle-8.safetensors
run run3.log 0 long.toml --retry-failed
expect_complete_once long.sqlite long
# --- 6. a sample file that is gone: its units fail naming it, the others finish -------------------
cd "$work" && mkdir six && cd six
cp "$src/tests/data/faults/samples.toml" .
cp -r "$work/four/cache" cache
rm cache/synth-needle/synth-needle-2.safetensors  # the NaN one of case 4: gone now
run run1.log 3 samples.toml
[[ $(campaign_rows samples.sqlite samples synth-needle synth-needle-2 failed) -eq 4 ]] || fail "a missing file did not fail its units"
[[ $(done_units samples.sqlite samples) -eq 20 ]] || fail "the other samples did not finish"
sql samples.sqlite "select distinct last_error from units where state='failed'" | \
  grep -q "synth-needle/synth-needle-2: .*synth-needle-2.safetensors: cannot open: No such file or directory" \
  || fail "missing-file message: $(sql samples.sqlite "select distinct last_error from units where state='failed'")"
cd ..
echo "sample_changes: all checks passed"
