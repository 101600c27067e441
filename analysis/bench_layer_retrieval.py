"""The probe's retrieval work per layer: separate calls (the old probe) vs one shared pass (issue 15).

The old probe called ``retrieval_scores`` once per rule and direction (cosine, CSLS, margin, centred cosine ×
2 directions), each re-normalising and re-searching its own neighbourhoods, and ``topk_search`` again for
hubness. :func:`xalign.metrics.retrieval.layer_retrieval` normalises once, runs one top-k search per direction
for the CSLS/margin neighbourhoods and hubness, and one scan per direction for the rules (centred cosine is
its own call, as in the probe). Both paths run on the same planted-alignment vectors (``tgt = src + noise``)
for every layer; P@1/P@5/P@10/MRR and hubness must agree exactly, and the table gives the time ratio.

    python analysis/bench_layer_retrieval.py                   # n = 4000 pairs, 13 layers, d = 384
    python analysis/bench_layer_retrieval.py --n 1004 --layers 13

Measured (2 busy CPU cores, 2026-12-02; interleaved rounds, best kept; all values identical):

| n pairs × 13 layers, d = 384 | old probe | shared per layer | ratio |
|---|---|---|---|
| 1,004 (the demo probe), best of 3 | 7.78 s | 3.50 s | 2.22× |
| 2,000, best of 2 | 20.03 s | 8.80 s | 2.28× |

A whole ``xalign probe`` also embeds every sentence with every layer, which this does not time.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def old_probe(src, tgt):
    from xalign.metrics.retrieval import hubness, retrieval_scores, topk_search

    out = {}
    for method in ("cosine", "csls", "margin", "cosine_centered"):
        base, centered = method.removesuffix("_centered"), method.endswith("_centered")
        for name, (q, k) in {"a->b": (src, tgt), "b->a": (tgt, src)}.items():
            res = retrieval_scores(q, k, method=base, center=centered)
            out[(method, name)] = (res.p_at[1], res.p_at[5], res.p_at[10], res.mrr)
            if method == "cosine":
                _, idx = topk_search(q, k, 10, metric="cosine")
                out[("hubness", name)] = hubness(idx, len(k), k=10)
    return out


def new_probe(src, tgt):
    from xalign.metrics.retrieval import hubness, layer_retrieval

    out = {}
    shared = layer_retrieval(src, tgt, methods=("cosine", "csls", "margin"))
    centred = layer_retrieval(src, tgt, methods=("cosine",), center=True, neighbours_k=1)
    for name in ("a->b", "b->a"):
        for method, res in shared.results[name].items():
            out[(method, name)] = (res.p_at[1], res.p_at[5], res.p_at[10], res.mrr)
        res = centred.results[name]["cosine"]
        out[("cosine_centered", name)] = (res.p_at[1], res.p_at[5], res.p_at[10], res.mrr)
        _, idx = shared.neighbours[name]
        out[("hubness", name)] = hubness(idx, src.shape[0], k=10)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=4000)
    p.add_argument("--layers", type=int, default=13)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    layers = []
    for i in range(args.layers):
        src = rng.standard_normal((args.n, args.dim)).astype(np.float32)
        noise = (0.5 + 0.1 * i) * rng.standard_normal((args.n, args.dim)).astype(np.float32)
        layers.append((src, src + noise))
    times = {"old": [], "new": []}
    for _ in range(args.rounds):  # interleaved, so machine load hits both alike
        for name, fn in (("old", old_probe), ("new", new_probe)):
            t0 = time.perf_counter()
            results = [fn(s, t) for s, t in layers]
            times[name].append(time.perf_counter() - t0)
            if name == "old":
                reference = results
            else:
                for layer, (a, b) in enumerate(zip(reference, results)):
                    for key in a:
                        if not np.allclose(a[key], b[key], rtol=0, atol=1e-12):
                            raise AssertionError(f"layer {layer} {key}: old {a[key]} != new {b[key]}")
    old, new = min(times["old"]), min(times["new"])
    print(f"| n = {args.n}, {args.layers} layers, d = {args.dim} | seconds (best of {args.rounds}) |\n|---|---|")
    print(f"| separate calls per rule and direction (old probe) | {old:.2f} |")
    print(f"| layer_retrieval, shared per layer (new probe) | {new:.2f} |")
    print(f"| ratio old / new | {old / new:.2f}× |  (P@1/5/10, MRR and hubness identical)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
