#!/usr/bin/env python3
"""Expected scores and keep-sets of the reference behaviours ckv-sweep claims to reproduce
(docs/reference-implementations.md), for tests/test_kernels_reference.cpp.

Each case is computed here from the published definition, in float64 numpy, independently of
ckv-sweep's code:
  - kvpress SnapKVPress / ObservedAttentionPress (NVIDIA/kvpress presses/*.py),
  - KVCache-Factory SnapKVCluster / H2OKVCluster with repeat_kv (per query head),
  - the public CircuitKV per-head path (docs/spec/METHODS.md "CircuitKV: Neumann" step 7) and
    union path (no smoothing), and the influence walker's window_prefix matrix (v1.0.8).
The layer's Q and K are written into the JSON (float32 values), so the C++ test replays
exactly these inputs. Ranked vectors are checked here to have no near-ties, so fp32 against
fp64 rounding cannot reorder them. Run with any Python that has numpy to regenerate
reference_vectors.json.
"""
import json
import math
import os

import numpy as np

N, H, G, D = 32, 4, 2, 8
GROUP = H // G
BUDGET = 16
rng = np.random.default_rng(20261201)
q = (rng.standard_normal((H, N, D)) * 1.5).astype(np.float32)
k = rng.standard_normal((G, N, D)).astype(np.float32)


def attention():
    """A[h, i, j] = softmax_j(q_i . k_j / sqrt(d)) over j <= i (docs/spec/METHODS.md)."""
    a = np.zeros((H, N, N))
    for h in range(H):
        logits = q[h].astype(np.float64) @ k[h // GROUP].astype(np.float64).T / math.sqrt(D)
        for i in range(N):
            row = logits[i, : i + 1]
            e = np.exp(row - row.max())
            a[h, i, : i + 1] = e / e.sum()
    return a


A = attention()


def no_near_ties(x, what):
    s = np.sort(np.asarray(x, dtype=np.float64))
    gaps = np.diff(s)
    scale = max(abs(s).max(), 1e-30)
    assert gaps.min() > 1e-5 * scale, f"{what}: near-tie {gaps.min()} (pick another seed)"


def fill_order(score, taken):
    """Free positions by score descending, ties to the lower position."""
    free = [j for j in range(len(score)) if not taken[j]]
    return sorted(free, key=lambda j: (-score[j], j))


def keep_set(score, sink, window, budget):
    """Sinks [0, s) and window [max(s, n-w), n) always kept, the best of the rest fill B."""
    taken = [False] * N
    for j in range(min(sink, N)):
        taken[j] = True
    for j in range(max(sink, N - window), N):
        taken[j] = True
    slots = budget - sum(taken)
    for j in fill_order(score, taken)[:slots]:
        taken[j] = True
    return [j for j in range(N) if taken[j]]


def avg_pool(x, kernel):
    """F.avg_pool1d(kernel, stride 1, padding kernel//2), count_include_pad=True."""
    pad = kernel // 2
    return np.array([sum(x[t] for t in range(j - pad, j + pad + 1) if 0 <= t < len(x)) / kernel
                     for j in range(len(x))])


def max_pool(x, kernel):
    """F.max_pool1d(kernel, stride 1, padding kernel//2): padding never wins."""
    pad = kernel // 2
    return np.array([max(x[max(0, j - pad): min(len(x), j + pad + 1)]) for j in range(len(x))])


cases = []

# kvpress SnapKVPress (window overridden to 8, kernel 5, mean of the window rows over the
# prefix, avg pooling, mean over each GQA group; the window is kept through its max padding).
w = 8
prefix = N - w
votes = A[:, N - w:, :prefix].mean(axis=1)                        # [H, prefix]
pooled = np.stack([avg_pool(votes[h], 5) for h in range(H)])
per_kv = pooled.reshape(G, GROUP, prefix).mean(axis=1)            # [G, prefix]
for g in range(G):
    no_near_ties(per_kv[g], f"snapkv kvpress kv head {g}")
cases.append({
    "name": "snapkv_kvpress", "method": "snapkv",
    "params": {"convention": "kvpress", "window": w, "budget": BUDGET},
    "score_scale": 1.0, "compare_prefix": prefix,
    "scores": per_kv.tolist(),
    "keep": [keep_set(list(per_kv[g]) + [0.0] * w, 0, w, BUDGET) for g in range(G)],
})

# KVCache-Factory SnapKVCluster via its LongBench runner: window 8, kernel 7, max pooling, the
# window rows *summed*, repeat_kv (one set per query head), no sinks. ckv-sweep averages the
# window rows: its scores are these divided by w.
summed = A[:, N - w:, :prefix].sum(axis=1)
pooled = np.stack([max_pool(summed[h], 7) for h in range(H)])
cases.append({
    "name": "snapkv_kvcache_factory", "method": "snapkv",
    "params": {"convention": "kvcache_factory", "budget": BUDGET},
    "score_scale": float(w), "compare_prefix": prefix,
    "scores": pooled.tolist(),
    # max pooling makes plateaus: ties go to the lower position, as in ckv-sweep's selection.
    "keep": [keep_set(list(pooled[h]) + [0.0] * w, 0, w, BUDGET) for h in range(H)],
})

# kvpress ObservedAttentionPress: column sums over all rows divided by n - j (the rows that see
# j), mean over each GQA group; ckv-sweep forces the last token (window 1).
col = A.sum(axis=1) / np.array([N - j for j in range(N)])          # [H, n]
per_kv = col.reshape(G, GROUP, N).mean(axis=1)
for g in range(G):
    no_near_ties(per_kv[g], f"h2o kvpress kv head {g}")
cases.append({
    "name": "h2o_kvpress", "method": "h2o",
    "params": {"convention": "kvpress", "budget": BUDGET},
    "score_scale": 1.0, "compare_prefix": N,
    "scores": per_kv.tolist(),
    "keep": [keep_set(list(per_kv[g]), 0, 1, BUDGET) for g in range(G)],
})

# KVCache-Factory H2OKVCluster: raw column sums over all rows, per query head, window 8 kept.
col = A.sum(axis=1)
for h in range(H):
    no_near_ties(col[h][:prefix], f"h2o kvcache_factory head {h}")
cases.append({
    "name": "h2o_kvcache_factory", "method": "h2o",
    "params": {"convention": "kvcache_factory", "budget": BUDGET},
    "score_scale": 1.0, "compare_prefix": prefix,
    "scores": col.tolist(),
    "keep": [keep_set(list(col[h]), 0, w, BUDGET) for h in range(H)],
})


def gaussian(kernel, sigma):
    x = np.arange(kernel) - (kernel - 1) / 2
    weights = np.exp(-x * x / (2 * sigma * sigma))
    return weights / weights.sum()


def conv_same(x, weights):
    """torch conv1d(x, weights, padding=k//2)[:n] with zero padding."""
    pad = len(weights) // 2
    return np.array([sum(weights[t] * x[j - pad + t] for t in range(len(weights))
                         if 0 <= j - pad + t < len(x)) for j in range(len(x))])


def ranks(x):
    """rank(x)/(L-1), ties by position (a stable ascending argsort)."""
    order = np.argsort(np.asarray(x, dtype=np.float64), kind="stable")
    out = np.empty(len(x))
    out[order] = np.arange(len(x)) / (len(x) - 1)
    return out


# The public per-head path (docs/spec/METHODS.md step 7): per query head, a = the
# query's own row; QI two-hop, HI positional (true_hub_hi false); sinks 0.01*sum then
# max-normalised; cut to the prefix [0, n-w); one Gaussian kernel max(3, 5) = 5 with sigma 1 for
# both; ranks over the prefix; qw from the entropy of the last row; one set per query head.
s, K, gamma = 2, 6, 0.8
hop = gamma ** (K / 2)
n_t = N - s
L = N - w
weights = gaussian(5, 1.0)
qi_s, hi_s, entropy = [], [], []
for h in range(H):
    a = A[h, N - 1]
    qi = a + hop * sum(a[N - w + r] * A[h, N - w + r] for r in range(w))
    hi = a * (1 + hop * (n_t - (np.arange(N) - s)) / n_t)
    for v in (qi, hi):
        v[:s] = 0.01 * v[s:].sum()
        v /= max(v.max(), 1e-8)
    qi_s.append(conv_same(qi[:L], weights))
    hi_s.append(conv_same(hi[:L], weights))
    p = np.maximum(a, 1e-8)
    entropy.append(float(-(p * np.log(p)).sum()))
e_min, e_max = min(entropy), max(entropy)
scores, keeps = [], []
for h in range(H):
    no_near_ties(qi_s[h], f"per_head qi {h}")
    no_near_ties(hi_s[h], f"per_head hi {h}")
    qw = 1 - (entropy[h] - e_min) / (e_max - e_min)
    score = qw * ranks(qi_s[h]) + (1 - qw) * ranks(hi_s[h])
    full = list(score) + [0.0] * w
    scores.append(full)
    keeps.append(keep_set(full, s, w, BUDGET))
cases.append({
    "name": "neumann_per_head_public", "method": "circuitkv_neumann",
    "params": {"per_head": True, "budget": BUDGET, "window": w, "sink_size": s,
               "iterations": K, "gamma": gamma},
    "score_scale": 1.0, "compare_prefix": L,
    "scores": scores, "keep": keeps,
})


# The public union path: QI and HI of the Neumann series on the window_prefix graph (head
# reduction max over all heads here), sinks 0.01*sum, max-normalised, no smoothing; QI fills
# floor(0.5 * slots) free positions, HI the rest in its order.
def window_prefix_matrix(merge, window):
    """The synthetic window_prefix matrix F (before row normalisation)."""
    ws = N - window
    rows = A[:, ws:, :]
    reduced = rows.max(axis=0) if merge == "max" else rows.mean(axis=0)   # [w, n]
    F = np.zeros((N, N))
    F[ws:, :] = reduced
    hub = np.maximum(reduced.sum(axis=0), 1e-6)
    for i in range(1, ws):
        F[i, :i] = hub[:i] / (hub[:i].sum() + 1e-8)
    return F


F = window_prefix_matrix("max", w)
P = F / np.maximum(F.sum(axis=1, keepdims=True), 1e-8)
Q = P[s:, s:]
term_qi = np.zeros(N - s)
term_qi[-1] = 1.0
term_hi = np.full(N - s, 1.0 / (N - s))
qi, hi = term_qi.copy(), term_hi.copy()
for _ in range(10):
    term_qi, term_hi = Q.T @ term_qi, Q.T @ term_hi
    qi += term_qi
    hi += term_hi
    if abs(term_qi).max() < 1e-8 and abs(term_hi).max() < 1e-8:
        break
signals = []
for v in (qi, hi):
    full = np.concatenate([np.full(s, 0.01 * v.sum()), v])
    signals.append(full / full.max())
qi, hi = signals
taken = [j < s or j >= N - w for j in range(N)]
slots = BUDGET - sum(taken)
for x, what in ((qi, "union qi"), (hi, "union hi")):
    no_near_ties([x[j] for j in range(N) if not taken[j]], what)
chosen = []
for j in fill_order(qi, taken)[: int(math.floor(0.5 * slots))]:
    chosen.append(j)
for j in fill_order(hi, taken):
    if len(chosen) >= slots:
        break
    if j not in chosen:
        chosen.append(j)
union_keep = sorted([j for j in range(N) if taken[j]] + chosen)
cases.append({
    "name": "neumann_union_public", "method": "circuitkv_neumann",
    "params": {"combination": "union", "head_reduce": "max", "budget": BUDGET, "window": w,
               "sink_size": s},
    "keep": [union_keep] * G,
})

# The influence walker's matrix (public v1.0.8): window_prefix with max over heads, and its H2O
# term, the column sums of that matrix over all rows.
cases_matrix = {
    "influence_window_prefix": {
        "window": w,
        "matrix": [F[i, : i + 1].tolist() for i in range(N)],
        "h2o": F.sum(axis=0).tolist(),
    }
}

out = {
    "n": N, "H": H, "G": G, "d": D,
    "q": q.astype(np.float64).tolist(), "k": k.astype(np.float64).tolist(),
    "cases": cases,
    "matrices": cases_matrix,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_vectors.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {path}: {len(cases)} cases")
