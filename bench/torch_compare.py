#!/usr/bin/env python3
"""A plain PyTorch yardstick for bench_kernels' CPU rows (docs/benchmarks.md "PyTorch yardstick").

Each row of bench/bench_kernels.cpp, written the way a user would write it in PyTorch: fp32,
one thread (torch.set_num_threads(1)), batched matmuls, softmax, topk, dense matrices where
that is the obvious way, vectorised walkers (searchsorted on row CDFs, multinomial). It is a
yardstick of the time such code takes on the same shapes, not a port: tie-breaking, random
streams and the inputs' random values differ from the C++ (same distributions), so results are
not compared, only times.

    .venv/bin/python bench/torch_compare.py [--shapes small,qwen-2k] [--only snapkv,metrics]
        [--min-time 0.5] [--max-gflop 40] [--max-dense-n 16384] [--format table|csv]
        [--ckv-csv FILE]

--ckv-csv FILE joins with `bench_kernels --cpu-only --format csv` output and prints the
comparison table (bench/torch-compare.sh runs both). --ckv-csv A1,A2,... --torch-csv B1,B2,...
joins rounds measured earlier (bench/torch-compare.sh --rounds N): medians over the rounds, and
the range of the rounds' own ratios.
"""
import argparse
import csv
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {  # name: (H, G, d, n), as kShapes in bench_kernels.cpp
    "small": (8, 2, 64, 512),
    "qwen-2k": (28, 4, 128, 2048),
    "qwen-8k": (28, 4, 128, 8192),
    "qwen-32k": (28, 4, 128, 32768),
}
WINDOW = 64  # w
ANSWER_TOKENS = 64  # m of the metrics rows
TOPK = 32  # the metrics' topk
BLOCK = 256  # query rows per block where all n rows are needed (never n x n attention)
INF = float("inf")


class Layer:
    """A random layer like bench_kernels' BenchLayer: unit-normal K, V; Q scaled by 1.5."""

    def __init__(self, H, G, d, n):
        gen = torch.Generator().manual_seed(7)
        randn = lambda *size: torch.randn(*size, generator=gen)
        self.H, self.G, self.d, self.n = H, G, d, n
        self.q, self.k, self.v = 1.5 * randn(H, n, d), randn(G, n, d), randn(G, n, d)
        m = ANSWER_TOKENS
        self.qa, self.ka, self.va = 1.5 * randn(H, m, d), randn(G, m, d), randn(G, m, d)
        self.text = f"H{H} G{G} d{d} n{n}"


def budget_of(n):  # the method rows' budget: 2048, or n/2 when n <= 2048
    return 2048 if n > 2048 else n // 2


def grouped(x, y):
    """Per KV head: x [H, r, c] (query heads in G groups) @ y [G, c, e] -> [H, r, e]."""
    H, r, c = x.shape
    G = y.shape[0]
    return (x.reshape(G, H // G * r, c) @ y).reshape(H, r, -1)


def attention(L, lo, hi):
    """Causal attention rows lo..hi-1 of every head: [H, hi-lo, n]."""
    logits = grouped(L.q[:, lo:hi], L.k.transpose(1, 2)) / math.sqrt(L.d)
    future = torch.arange(L.n)[None, :] > torch.arange(lo, hi)[:, None]
    return torch.softmax(logits.masked_fill(future, -INF), dim=-1)


def window_attention(L, w=WINDOW):
    return attention(L, L.n - min(w, L.n), L.n)


def column_sums(L, lo=0):
    """Sum over rows lo..n-1 of the causal attention, per head, in row blocks: [H, n]."""
    sums = torch.zeros(L.H, L.n)
    for start in range(lo, L.n, BLOCK):
        sums += attention(L, start, min(start + BLOCK, L.n)).sum(1)
    return sums


def per_kv_head(x, G):  # [H, n] -> [G, n], the GQA mean
    return x.reshape(G, -1, x.shape[-1]).mean(1)


def select(scores, budget, sink, window=WINDOW):
    """Keep-sets [S, budget]: sinks, window, then the top scores (docs/spec/METHODS.md)."""
    n = scores.shape[-1]
    if n <= budget:
        return torch.arange(n).expand(scores.shape[0], n)
    s = scores.clone()
    s[:, :sink] = INF
    s[:, max(sink, n - window):] = INF
    return s.topk(budget, dim=-1).indices.sort(dim=-1).values


def rank(x):  # rank(x)/(n-1), ties by position
    return x.argsort(stable=True).argsort().float() / max(x.numel() - 1, 1)


def smooth(x, kernel, sigma):  # Gaussian, zero padding k//2
    t = torch.arange(kernel) - (kernel - 1) / 2
    weights = torch.exp(-t * t / (2 * sigma * sigma))
    weights = (weights / weights.sum())[None, None]
    return F.conv1d(x[None, None], weights, padding=kernel // 2)[0, 0, : x.numel()]


# ---- the shared stages ---------------------------------------------------------------------


def snapkv_scores(L, kernel=7):
    w = min(WINDOW, L.n)
    votes = window_attention(L)[:, :, : L.n - w].mean(1)  # [H, prefix]
    pooled = F.max_pool1d(votes[:, None], kernel, stride=1, padding=kernel // 2)[:, 0]
    return F.pad(per_kv_head(pooled, L.G), (0, w))  # window positions score 0


def knorm_scores(L):
    return -L.k.norm(dim=-1)  # [G, n]


# ---- the CircuitKV graphs (docs/spec/METHODS.md "CircuitKV: Neumann" steps 1-2) -------------


def head_statistics(win, sink):
    p = win.clamp_min(1e-8)
    entropy = -(p * p.log()).sum(-1).mean(-1)  # mean window-row entropy per head
    transient = win[..., sink:].sum(-1).mean(-1)  # mean mass on non-sink tokens
    return entropy, transient


def window_prefix(rows):
    """Dense F [n, n]: the reduced window rows [w, n] last, synthetic prefix rows before."""
    w, n = rows.shape
    h = rows.sum(0).clamp_min(1e-6)
    before = torch.cumsum(h, 0) - h  # sum over k < i of h[k]
    graph = torch.tril(h.expand(n, n), diagonal=-1) / (before[:, None] + 1e-8)
    graph[n - w :] = rows
    return graph


def row_normalize(m):
    return m / m.sum(1, keepdim=True).clamp_min(1e-8)


def neumann(P, x, sink, K=10):  # sum_{k<=K} (Q^T)^k x on the transient block, sinks 0.01·sum
    Q, v = P[sink:, sink:], x[sink:]
    total = v.clone()
    for _ in range(K):
        v = Q.T @ v
        total += v
    out = torch.cat([torch.full((sink,), 0.01 * total.sum().item()), total])
    return out / out.max()


def walk_visits(cdf, starts, steps, sink):
    """Visits of walkers stepping by inverse CDF; a walker landing on a sink is absorbed."""
    n = cdf.shape[1]
    visits = torch.zeros(n)
    pos = starts
    for _ in range(steps):
        rows = cdf[pos]
        u = torch.rand(len(pos), 1) * rows[:, -1:]
        pos = torch.searchsorted(rows, u).squeeze(1).clamp_max(n - 1)
        pos = pos[pos >= sink]
        visits += torch.bincount(pos, minlength=n)
    return visits


# ---- the rows ------------------------------------------------------------------------------


def row_window_attention(L):
    return window_attention(L)


def row_h2o_column_sums(L):
    return column_sums(L)


def row_snapkv_score(L):
    return snapkv_scores(L)


def row_knorm_score(L):
    return knorm_scores(L)


def method_full(L):
    return torch.arange(L.n).expand(L.G, L.n)


def method_random(L):
    scores = torch.rand(L.n, generator=torch.Generator().manual_seed(0))
    return select(scores.expand(L.G, L.n), budget_of(L.n), 0)


def method_streaming_llm(L):
    return select(torch.arange(L.n, dtype=torch.float32).expand(L.G, L.n), budget_of(L.n), 4)


def method_h2o(L):
    return select(per_kv_head(column_sums(L), L.G), budget_of(L.n), 0)


def method_snapkv(L):
    return select(snapkv_scores(L), budget_of(L.n), 0)


def method_tova(L):
    last = attention(L, L.n - 1, L.n)[:, 0].mean(0)  # the last row, mean over all heads
    return select(last.expand(L.G, L.n), budget_of(L.n), 0)


def method_knorm(L):
    return select(knorm_scores(L), budget_of(L.n), 0)


def method_circuitkv_neumann(L, sink=4):
    win = window_attention(L)
    entropy, transient = head_statistics(win, sink)
    qi_heads = entropy.argsort(stable=True)[:10]
    hi_heads = transient >= 0.5
    if not hi_heads.any():
        hi_heads[:] = True
    P_qi = row_normalize(window_prefix(win[qi_heads].amax(0)))
    P_hi = row_normalize(window_prefix(win[hi_heads].mean(0)))
    query = torch.zeros(L.n)
    query[-1] = 1
    qi = neumann(P_qi, query, sink)
    hi = neumann(P_hi, torch.full((L.n,), 1 / (L.n - sink)), sink)
    score = torch.maximum(rank(smooth(qi, 3, 0.5)), rank(smooth(hi, 5, 1.0)))
    return select(score[None], budget_of(L.n), sink)


def method_circuitkv_walk(L, sink=4, walkers=10000, steps=10):
    win = window_attention(L)
    entropy, _ = head_statistics(win, sink)
    rows = win[entropy.argsort(stable=True)[:10]].amax(0)  # the QI graph's window rows
    cdf = row_normalize(window_prefix(rows)).cumsum(1)
    visits = walk_visits(cdf, torch.full((walkers,), L.n - 1), steps, sink)
    score = torch.maximum(rank(visits / walkers), rank(rows.sum(0)))  # with the H2O signal
    return select(score[None], budget_of(L.n), sink)


def method_circuitkv_influence(L, sink=4, walkers=10000, steps=50):
    A = window_prefix(window_attention(L).amax(0))
    n = L.n
    allowed = torch.tril(torch.ones(n, n, dtype=torch.bool)) & (torch.arange(n) >= sink)
    half = walkers // 2  # from the query; the rest from uniform positions in [s, q]
    starts = torch.cat([torch.full((half,), n - 1), torch.randint(sink, n, (walkers - half,))])
    explore = int(0.3 * walkers)  # the last walkers explore at T = 10, the others walk at T = 2
    visits = torch.zeros(n)
    for T, group in ((2.0, starts[: walkers - explore]), (10.0, starts[walkers - explore :])):
        cdf = torch.where(allowed, A.clamp_min(1e-10) ** (1 / T), 0.0).cumsum(1)
        visits += walk_visits(cdf, group, steps, 0)  # nothing absorbs
    adjusted = visits / torch.sqrt(n - torch.arange(n) + 1.0)
    score = adjusted / adjusted[sink:].max()
    score[:sink] = 1.0
    combined = torch.maximum(rank(score), rank(A.sum(0)))  # with the H2O column sums of A
    return select(combined[None], budget_of(n), sink)


def method_rc(L, sink=4, top_k=32, sources=8, walkers=256, steps=100):
    n = L.n
    weights, targets, h2o = torch.zeros(n, top_k), torch.zeros(n, top_k, dtype=torch.long), torch.zeros(n)
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        a = attention(L, lo, hi).mean(0)  # heads merged by the mean
        earlier = a.masked_fill(torch.arange(n)[None, :] >= torch.arange(lo, hi)[:, None], -1.0)
        top = earlier.topk(min(top_k, n), dim=1)
        weights[lo:hi, : top.values.shape[1]] = top.values.clamp_min(0)
        targets[lo:hi, : top.indices.shape[1]] = top.indices
        h2o += a[max(n - sources - lo, 0) :].sum(0)  # the last W rows' column sums
    pos = torch.arange(n - sources, n).repeat_interleave(walkers)
    visits = torch.bincount(pos, minlength=n).float()  # the start is recorded
    for _ in range(steps - 1):
        pos = pos[(pos >= sink) & (weights[pos].sum(1) > 0)]  # absorbed, or no way on
        if len(pos) == 0:
            break
        pos = targets[pos, torch.multinomial(weights[pos], 1).squeeze(1)]
        visits += torch.bincount(pos, minlength=n)
    score = torch.maximum(h2o / h2o.max().clamp_min(1e-8), visits / visits.max())
    return select(score[None], budget_of(n), sink)


def method_rwr(L, sink=4, window=128, topk=32, alpha=0.2, steps=4):
    n = L.n
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    band, far = (i - j).abs() <= window, j < i - window
    restart = torch.zeros(n)
    restart[-1] = 1
    score = torch.zeros(n)
    for h in range(L.H):  # one cosine graph per query head
        cos = F.normalize(L.q[h], dim=-1) @ F.normalize(L.k[h * L.G // L.H], dim=-1).T
        top = cos.masked_fill(~far, -INF).topk(min(topk, n), dim=1)
        far_edges = torch.zeros_like(cos).scatter_(1, top.indices, top.values.clamp_min(0))
        W = torch.where(band, cos, 0.0) + far_edges
        P = row_normalize(W.clamp_min(0))  # edges need cosine > 0
        r = x = restart
        for _ in range(steps):
            x = (1 - alpha) * (P.T @ x)
            r = r + x
        score += alpha * r / L.H
    return select(score[None], budget_of(n), sink)


def spread_keep(L):  # the metrics rows' keep-set: min(2048, n/2) positions spread evenly
    budget = min(2048, L.n // 2)
    return (torch.arange(budget) * L.n // budget).expand(L.G, budget)


def proxy_metrics(L, keep):
    """docs/spec/METRICS.md for one layer: attention of the m answer tokens over prompt + answer."""
    n, m = L.n, ANSWER_TOKENS
    keys, values = torch.cat([L.k, L.ka], 1), torch.cat([L.v, L.va], 1)
    logits = grouped(L.qa, keys.transpose(1, 2)) / math.sqrt(L.d)  # [H, m, n + m]
    later = torch.arange(m)[None, :] > torch.arange(m)[:, None]
    logits[..., n:] = logits[..., n:].masked_fill(later, -INF)
    a = torch.softmax(logits, dim=-1)
    o = grouped(a, values)
    kept = torch.zeros(L.G, n + m, dtype=torch.bool)
    kept[:, n:] = True
    kept.scatter_(1, keep, True)
    kept = kept.repeat_interleave(L.H // L.G, 0)[:, None, :]  # [H, 1, n + m]
    a_kept = a * kept
    o_kept = grouped(a_kept / a_kept.sum(-1, keepdim=True), values)
    prompt = a[..., :n]
    attn_recall = (prompt * kept[..., :n]).sum(-1) / prompt.sum(-1)
    output_error = (o_kept - o).norm(dim=-1) / o.norm(dim=-1)
    top = prompt.topk(min(TOPK, n), dim=-1).indices
    topk_recall = kept[..., :n].expand(-1, m, -1).gather(-1, top).float().mean(-1)
    evidence_recall = kept[:, 0, : n // 8].float().mean(-1)  # evidence [0, n/8)
    return torch.stack([attn_recall.mean(), output_error.mean(), topk_recall.mean(), evidence_recall.mean()])


def row_metrics(L):
    return proxy_metrics(L, spread_keep(L))


def row_unit_snapkv(L):  # scores, selection and every metric over 4 layers (the same layer)
    return [proxy_metrics(L, select(snapkv_scores(L), budget_of(L.n), 0)) for _ in range(4)]


ROWS = {  # bench_kernels' row names, in its order
    "window_attention": row_window_attention,
    "h2o_column_sums": row_h2o_column_sums,
    "snapkv_score": row_snapkv_score,
    "knorm_score": row_knorm_score,
    "full": method_full,
    "random": method_random,
    "streaming_llm": method_streaming_llm,
    "h2o": method_h2o,
    "snapkv": method_snapkv,
    "pyramidkv": method_snapkv,  # the same scores; one layer of budgets is uniform
    "tova": method_tova,
    "knorm": method_knorm,
    "circuitkv_neumann": method_circuitkv_neumann,
    "circuitkv_walk": method_circuitkv_walk,
    "circuitkv_influence": method_circuitkv_influence,
    "rc": method_rc,
    "rwr": method_rwr,
    "metrics": row_metrics,
    "unit:snapkv x4 layers": row_unit_snapkv,
}
DENSE = {"circuitkv_neumann", "circuitkv_walk", "circuitkv_influence", "rwr"}  # n x n matrices


def work_gflop(kernel, H, G, d, n):
    """bench_kernels.cpp's flop counts, here only for its skip rule (--max-gflop)."""
    w = min(WINDOW, n)
    window = H * (w * (n - w) + w * (w + 1) / 2) * (2 * d + 5)
    pairs = n * (n + 1) / 2
    metrics = H * ANSWER_TOKENS * (n + ANSWER_TOKENS / 2) * 4 * d
    snapkv = window + H * n * (w + 7)
    return {
        "h2o_column_sums": H * pairs * (2 * d + 6),
        "h2o": H * pairs * (2 * d + 5),
        "rc": H * pairs * (2 * d + 5),
        "rwr": H * pairs * 2 * d,
        "metrics": metrics,
        "unit:snapkv x4 layers": 4 * (snapkv + metrics),
    }.get(kernel, window) / 1e9


def time_calls(call, min_seconds, max_iterations=100, single_run_seconds=2.0):
    """bench/harness.hpp's time_calls: one warm-up, then at least 3 calls; the median. After a
    warm-up longer than single_run_seconds, one more call is timed, once."""
    start = time.perf_counter()
    call()
    warmup = time.perf_counter() - start
    if warmup > single_run_seconds:
        start = time.perf_counter()
        call()
        return 1, time.perf_counter() - start, True
    times = []
    while len(times) < max_iterations and (len(times) < 3 or sum(times) < min_seconds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return len(times), statistics.median(times), False


def run_rows(args):
    records = []
    for shape in args.shapes:
        H, G, d, n = SHAPES[shape]
        layer = Layer(H, G, d, n)
        for name, function in ROWS.items():
            kernel = name
            if args.only and kernel not in args.only:
                continue
            record = {"kernel": kernel, "shape": layer.text, "iters": "", "timed_once": "", "median_ms": ""}
            gflop = work_gflop(kernel, H, G, d, n)
            if gflop > args.max_gflop:
                record["status"] = f"skipped: {gflop:.0f} GFLOP > --max-gflop {args.max_gflop:g}"
            elif kernel in DENSE and n > args.max_dense_n:
                record["status"] = f"skipped: dense n x n at n {n} > --max-dense-n {args.max_dense_n}"
            else:
                torch.manual_seed(0)
                iters, median, once = time_calls(lambda: function(layer), args.min_time)
                record.update(iters=iters, timed_once=int(once), median_ms=f"{median * 1e3:.6g}", status="ok")
            print(f"  torch {kernel} {layer.text}: {record['status'].split(':')[0]}", file=sys.stderr)
            records.append(record)
    return records


def print_records(records, form):
    fields = ["kernel", "shape", "iters", "timed_once", "median_ms", "status"]
    if form == "csv":
        writer = csv.DictWriter(sys.stdout, fields)
        writer.writeheader()
        writer.writerows(records)
        return
    print(f"{'kernel':<22} {'shape':<22} {'iters':>5} {'median_ms':>11}  status")
    for r in records:
        iters = f"{r['iters']}{'*' if r['timed_once'] == 1 else ''}" if r["iters"] != "" else "-"
        median = f"{float(r['median_ms']):.3f}" if r["median_ms"] != "" else "-"
        print(f"{r['kernel']:<22} {r['shape']:<22} {iters:>5} {median:>11}  {r['status']}")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def print_comparison(torch_runs, ckv_paths):
    """The joined table: ckv ms, torch ms, torch/ckv (> 1: ckv is faster). With several rounds
    (bench/torch-compare.sh --rounds: the two programs alternating), each side's median over the
    rounds, their ratio, and the range of the rounds' own ratios (the machine's noise)."""
    ckv_runs = [[r for r in read_csv(path) if r["dev"] == "cpu"] for path in ckv_paths]
    keys = []
    for run in ckv_runs + torch_runs:
        keys += [(r["kernel"], r["shape"]) for r in run if (r["kernel"], r["shape"]) not in keys]

    def ms(rows, key):
        row = next((r for r in rows if (r["kernel"], r["shape"]) == key), None)
        return float(row["median_ms"]) if row and row.get("median_ms") not in (None, "") else None

    def roofline_ms(key):
        """bench_kernels' bytes at its per-row read limit and flops at the FMA peak: no row can
        run faster than the larger of the two (the limits of the first round that has them)."""
        for run in ckv_runs:
            row = next((r for r in run if (r["kernel"], r["shape"]) == key), None)
            if not row:
                continue
            value = lambda name: float(row[name]) if row.get(name) not in (None, "") else 0.0
            times = [value("bytes") / value("bw_limit_gbs") / 1e6 if value("bw_limit_gbs") else 0.0,
                     value("flops") / value("flop_limit_gflops") / 1e6 if value("flop_limit_gflops") else 0.0]
            return max(times) if max(times) > 0 else None
        return None

    rounds = max(len(ckv_runs), len(torch_runs))
    spread = rounds > 1
    header = f"{'kernel':<22} {'shape':<22} {'ckv ms':>11} {'torch ms':>11} {'torch/ckv':>9}"
    print(header + (f" {'rounds':>13}" if spread else "") + f" {'roofline ms':>11} {'2x needs':>8}")
    below, compared = [], 0
    cell = lambda x, form: form.format(x) if x is not None else "-"
    for key in keys:
        a_runs = [x for x in (ms(run, key) for run in ckv_runs) if x]
        b_runs = [x for x in (ms(run, key) for run in torch_runs) if x]
        a = statistics.median(a_runs) if a_runs else None
        b = statistics.median(b_runs) if b_runs else None
        ratio = b / a if a and b else None
        line = f"{key[0]:<22} {key[1]:<22} {cell(a, '{:.3f}'):>11} {cell(b, '{:.3f}'):>11} {cell(ratio, '{:.2f}'):>9}"
        if spread:
            own = [y / x for x, y in zip((ms(r, key) for r in ckv_runs), (ms(r, key) for r in torch_runs)) if x and y]
            line += f" {f'{min(own):.2f}-{max(own):.2f}' if own else '-':>13}"
        # 2x needs: the roofline as a share of half PyTorch's time, the efficiency a 2x row must
        # reach (above 100 %: no code on this machine can be 2x faster than PyTorch here).
        floor = roofline_ms(key)
        needs = floor / (b / 2) if floor and b else None
        line += f" {cell(floor, '{:.3f}'):>11} {cell(needs and 100 * needs, '{:.0f}%'):>8}"
        print(line)
        if ratio is not None:
            compared += 1
            if ratio < 2:
                below.append(f"{key[0]} {key[1]} ({ratio:.2f})")
    listed = ": " + "; ".join(below) if below else ""
    what = f"the ratio of the medians over {rounds} rounds" if spread else "torch/ckv"
    print("# roofline ms: bench_kernels' bytes at the row's read limit or its flops at the FMA peak, "
          "the larger; 2x needs: that floor over half PyTorch's time")
    print(f"# rows with {what} below 2x: {len(below)} of {compared} compared{listed}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="small,qwen-2k,qwen-8k")
    parser.add_argument("--only", default="", help="kernel names, comma-separated (bench_kernels' row names)")
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--max-gflop", type=float, default=40, help="as bench_kernels --cpu-max-gflop")
    parser.add_argument("--max-dense-n", type=int, default=16384, help="skip n x n dense rows above this n")
    parser.add_argument("--format", choices=["table", "csv"], default="table")
    parser.add_argument("--ckv-csv", help="bench_kernels --cpu-only --format csv output to join with "
                        "(comma-separated files: one per round)")
    parser.add_argument("--torch-csv", help="this program's --format csv output, one file per round "
                        "(comma-separated): join those instead of running the rows")
    args = parser.parse_args()
    args.shapes = [s for s in args.shapes.split(",") if s]
    args.only = [s for s in args.only.split(",") if s]
    unknown = [s for s in args.shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
    if any(k not in ROWS for k in args.only):
        parser.error(f"unknown row(s) {', '.join(k for k in args.only if k not in ROWS)}")

    if args.torch_csv:
        if not args.ckv_csv:
            parser.error("--torch-csv joins with --ckv-csv")
        torch_runs = [read_csv(path) for path in args.torch_csv.split(",") if path]
        print_comparison(torch_runs, [p for p in args.ckv_csv.split(",") if p])
        return
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread, fp32; "
          f"median after one warm-up call, --min-time {args.min_time:g} s", file=sys.stderr)
    with torch.inference_mode():
        records = run_rows(args)
    if args.ckv_csv:
        print_comparison([records], [p for p in args.ckv_csv.split(",") if p])
    else:
        print_records(records, args.format)


if __name__ == "__main__":
    main()
