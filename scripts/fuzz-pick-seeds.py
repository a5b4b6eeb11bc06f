#!/usr/bin/env python3
"""Picks the few inputs of a fuzz run that are worth keeping as seeds (docs/ci.md, "Fuzzing").

libFuzzer's own -merge=1 keeps every input that adds a feature (hundreds after a 5-minute run,
most adding one or two coverage edges). This reads the control file of an edge-only merge and
keeps, by a greedy set cover, the inputs that each add at least MIN_EDGES edges not yet reached
by the seeds or by the inputs picked before them:

  t=sweep_file; mkdir -p /tmp/empty
  build-sanitize/fuzz/fuzz_$t -merge=1 -use_counters=0 -merge_control_file=/tmp/ctl-$t \
      /tmp/empty fuzz/corpus/$t build-sanitize/fuzz-corpus/$t
  scripts/fuzz-pick-seeds.py /tmp/ctl-$t fuzz/corpus/$t 10     # copies the picks into the seeds

The control file lists the candidate files, then for each a COV line with the edges it reached
first in the merge's order (so the cover is greedy over that order: small, not minimal).
"""
import os
import shutil
import sys


def main() -> None:
    control, seed_dir, min_edges = sys.argv[1], sys.argv[2].rstrip("/"), int(sys.argv[3])
    lines = open(control).read().split("\n")
    n = int(lines[0])
    files = lines[2 : 2 + n]
    cov = {}
    for line in lines[2 + n :]:
        parts = line.split()
        if parts and parts[0] == "COV":
            cov[int(parts[1])] = set(parts[2:])
    seeds = {i for i, f in enumerate(files) if f.startswith(seed_dir + "/")}
    covered = set().union(*(cov.get(i, set()) for i in seeds))
    candidates = {i for i in cov if i not in seeds}
    picked = []
    while candidates:
        best = max(candidates, key=lambda i: (len(cov[i] - covered), -os.path.getsize(files[i])))
        gain = len(cov[best] - covered)
        if gain < min_edges:
            break
        picked.append(best)
        covered |= cov[best]
        candidates.discard(best)
    for i in picked:
        shutil.copy(files[i], os.path.join(seed_dir, os.path.basename(files[i])))
    total = set().union(*cov.values()) if cov else set()
    print(f"{len(picked)} input(s) copied to {seed_dir}; {len(covered)} of {len(total)} edges reached")


if __name__ == "__main__":
    main()
