#!/usr/bin/env python3
"""Expected baseline scores for tests/test_kernels_baselines.cpp, in exact fractions.

The layer is built so attention is rational: head h (KV head g = h // 2) has the unit query
e_{h % 2} on every row, and K[g, j] = sqrt(2) * (ln c[g][0][j], ln c[g][1][j]), so with
d = 2, q.k / sqrt(d) = ln c[g][h % 2][j] and the causal softmax is
A[h, i, j] = c_j / sum_{k <= i} c_k (docs/spec/METHODS.md "Attention inputs").
Every expected vector follows docs/spec/METHODS.md "Baselines" literally; run this script to
regenerate baselines_tiny.json.
"""
import json
import math
from fractions import Fraction as F

n, H, G, window, kernel = 8, 4, 2, 3, 3
c = [  # c[g][component][j]
    [[4, 1, 2, 8, 1, 1, 2, 1], [1, 3, 1, 1, 6, 2, 1, 1]],
    [[1, 1, 1, 1, 1, 1, 1, 1], [2, 1, 5, 1, 1, 3, 1, 2]],
]

def weights(h):
    return c[h // 2][h % 2]

def attention(h, i):
    w = weights(h)
    total = sum(w[: i + 1])
    return [F(w[j], total) if j <= i else F(0) for j in range(n)]

def group_mean(per_head):
    return [[sum(per_head[h][j] for h in range(2 * g, 2 * g + 2)) / 2 for j in range(n)]
            for g in range(G)]

def all_mean(per_head):
    return [sum(per_head[h][j] for h in range(H)) / H for j in range(n)]

def column_sums(rows):
    return [[sum(attention(h, i)[j] for i in range(n - rows, n)) for j in range(n)]
            for h in range(H)]

def count_normalize(sums, rows):
    return [[s[j] / (n - max(j, n - rows)) for j in range(n)] for s in sums]

def pool(x, k, kind):
    pad = k // 2
    out = []
    for j in range(len(x)):
        idx = [t for t in range(j - pad, j + pad + 1) if 0 <= t < len(x)]
        if kind == "max":
            out.append(max(x[t] for t in idx))   # padding is -inf for max_pool1d
        else:
            out.append(sum(x[t] for t in idx) / k)  # zeros counted (count_include_pad)
    return out

def snapkv(kind):
    prefix = n - window
    per_head = []
    for h in range(H):
        votes = [sum(attention(h, i)[j] for i in range(n - window, n)) / window
                 for j in range(prefix)]
        per_head.append(pool(votes, kernel, kind) + [F(0)] * window)
    return per_head

def fl(v):
    return [float(x) for x in v]

sums_all, sums_win = column_sums(n), column_sums(window)
tova = all_mean([attention(h, n - 1) for h in range(H)])
knorm = [[-2.0 ** 0.5 * math.hypot(math.log(c[g][0][j]), math.log(c[g][1][j])) for j in range(n)]
         for g in range(G)]
out = {
    "n": n, "H": H, "G": G, "d": 2, "window": window, "kernel": kernel, "c": c,
    "h2o_all_per_kv_head": [fl(v) for v in group_mean(sums_all)],
    "h2o_all_shared": fl(all_mean(sums_all)),
    "h2o_all_count_per_kv_head": [fl(v) for v in group_mean(count_normalize(sums_all, n))],
    "h2o_window_per_kv_head": [fl(v) for v in group_mean(sums_win)],
    "h2o_window_count_per_kv_head": [fl(v) for v in group_mean(count_normalize(sums_win, window))],
    "snapkv_max_per_kv_head": [fl(v) for v in group_mean(snapkv("max"))],
    "snapkv_avg_per_kv_head": [fl(v) for v in group_mean(snapkv("avg"))],
    "snapkv_max_shared": fl(all_mean(snapkv("max"))),
    "tova": fl(tova),
    "knorm_per_kv_head": knorm,
    "knorm_shared": [(knorm[0][j] + knorm[1][j]) / 2 for j in range(n)],
}
with open(__file__.replace("make_baselines_tiny.py", "baselines_tiny.json"), "w") as f:
    # One key per line, vectors kept on one line, so a diff shows which vector changed.
    f.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in out.items())
            + "\n}\n")
