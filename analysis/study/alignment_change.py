"""Alignment before and after training, at the chosen layer: per probe corpus × English–xx pair × trained method,
the change from the pre-trained encoder and, for a robust method, from its reference.

Every comparison is the seed-aware bootstrap (seeds, then sentences), so its interval covers training noise; at
the last layers the seeds of one method can differ by more than the methods do, so each comparison also
records its per-seed differences, and a claim about a method needs the one rule (``seed_aware_claim``:
significant after Holm, at least 3 matched seeds, every seed of one sign). Runs that collapsed
to one predicted class (:func:`analysis.study.aggregate.collapsed`) did not learn the task; they are left out of
the comparison with the reference, as in the transfer control and the link, so that "kept more alignment" never
means "did not train". Pure functions of the loaded unit records."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.study.aggregate import (
    REFERENCE,
    Results,
    bits,
    learned_seeds,
    matched_seeds,
    seeds_of,
    stack_seeds,
)
from xalign.metrics.significance import hierarchical_bootstrap, holm, seed_aware_claim


def p1_items(rec: dict[str, Any], corpus: str, pair: str, layer: int) -> np.ndarray | None:
    """Per parallel sentence: CSLS P@1 at ``layer``, the mean of both directions (0, 0.5 or 1)."""
    p = rec.get("alignment", {}).get(corpus, {}).get("pairs", {}).get(pair)
    if not p or "correct" not in p["p1_fwd"] or "correct" not in p["p1_bwd"]:
        return None
    return (bits(p["p1_fwd"]["correct"][layer]) + bits(p["p1_bwd"]["correct"][layer])) / 2


def _layer_value(rec: dict[str, Any], corpus: str, path: tuple[str, ...], layer: int) -> float | None:
    node: Any = rec.get("alignment", {}).get(corpus, {})
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return None if not node else float(node["value"][layer])


def _vs_reference(results: Results, task: str, method: str, fn, n_boot: int, seed: int) -> dict[str, Any] | None:
    """``method`` − its reference over the matched seeds where neither run collapsed, with the per-seed
    differences of mean P@1 (``seed_deltas``, in ``seeds`` order) and the collapsed seeds left out."""
    ref = REFERENCE.get(method)
    if not ref:
        return None
    matched, seeds = matched_seeds(results, task, method, ref), learned_seeds(results, task, method, ref)
    a, b = stack_seeds(results, task, method, seeds, fn), stack_seeds(results, task, ref, seeds, fn)
    if a is None or b is None or a.shape != b.shape:
        return None
    return {"reference": ref, "seeds": seeds, "collapsed_seeds": [s for s in matched if s not in seeds],
            "seed_deltas": [float(d) for d in a.mean(axis=1) - b.mean(axis=1)],
            **hierarchical_bootstrap(a, b, n_boot=n_boot, seed=seed).to_dict()}


def alignment_rows(results: Results, task: str, layer: int, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """At ``layer``, per probe corpus × English–xx pair × trained method: seed-mean CSLS P@1 (both directions),
    its change from the pre-trained encoder (every seed) and, for a robust method, from its reference (the
    matched seeds where neither run collapsed), each a paired bootstrap over sentences × matched seeds with
    Holm per method × corpus; linear CKA (en–xx) and model×model CKA (trained vs pre-trained, the xx sentences)
    as seed means with their per-seed range."""
    pre = results.get((task, "pretrained", None))
    if pre is None:
        return []
    methods = sorted({m for (t, m, s) in results if t == task and s is not None})
    rows = []
    for corpus, block in pre.get("alignment", {}).items():
        for pair in block["pairs"]:
            lang = pair.split("-", 1)[1]
            fn = (lambda r, c=corpus, pr=pair: p1_items(r, c, pr, layer))
            p0 = fn(pre)
            for method in methods:
                seeds = seeds_of(results, task, method)
                mat = stack_seeds(results, task, method, seeds, fn)
                if mat is None or p0 is None or mat.shape[1] != p0.size:
                    continue
                cka = [_layer_value(results[(task, method, s)], corpus, ("pairs", pair, "cka"), layer) for s in seeds]
                moved = [_layer_value(results[(task, method, s)], corpus, ("model_cka", lang), layer) for s in seeds]
                row = {"corpus": corpus, "lang": lang, "method": method, "seeds": seeds, "n_items": int(mat.shape[1]),
                       "p1_pretrained": float(p0.mean()), "p1": float(mat.mean()),
                       "cka_pretrained": _layer_value(pre, corpus, ("pairs", pair, "cka"), layer),
                       "vs_pretrained": hierarchical_bootstrap(mat, np.tile(p0, (len(seeds), 1)), n_boot=n_boot,
                                                               seed=seed).to_dict()}
                for name, vals in (("cka", cka), ("model_cka", moved)):
                    if all(v is not None for v in vals):
                        row[name], row[name + "_range"] = float(np.mean(vals)), [min(vals), max(vals)]
                ref = _vs_reference(results, task, method, fn, n_boot, seed)
                if ref:
                    row["vs_reference"] = ref
                rows.append(row)
    for key in {(r["method"], r["corpus"]) for r in rows if "vs_reference" in r}:
        group = [r["vs_reference"] for r in rows if (r["method"], r["corpus"]) == key and "vs_reference" in r]
        for t, p in zip(group, holm([t["p_value"] for t in group])):
            t["p_holm"] = float(p)
            t["claim"], t["claim_reason"] = seed_aware_claim(t["p_holm"], t["seed_deltas"])
    return rows


def method_alignment_tests(results: Results, task: str, layer: int, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Per robust method: CSLS P@1 at ``layer`` on the task's dev parallel sentences, every English–xx pair's
    sentences pooled (one item = one sentence of one pair), against the reference over the matched seeds where
    neither run collapsed; seed-aware bootstrap, Holm over the methods, and the claim rule. The one alignment
    test a claim about a method reads."""
    corpus = f"{task}-dev"
    pre = results.get((task, "pretrained", None))
    if pre is None or corpus not in pre.get("alignment", {}):
        return []
    pairs = list(pre["alignment"][corpus]["pairs"])

    def pooled(rec: dict[str, Any]) -> np.ndarray | None:
        parts = [p1_items(rec, corpus, pair, layer) for pair in pairs]
        return None if any(p is None for p in parts) else np.concatenate(parts)

    out = []
    for method in sorted({m for (t, m, s) in results if t == task and s is not None and m in REFERENCE}):
        ref = _vs_reference(results, task, method, pooled, n_boot, seed)
        if ref and len(ref["seeds"]):
            out.append({"task": task, "method": method, "column": f"{corpus} P@1 layer {layer}", **ref})
    for t, p in zip(out, holm([t["p_value"] for t in out])):
        t["p_holm"] = float(p)
        t["claim"], t["claim_reason"] = seed_aware_claim(t["p_holm"], t["seed_deltas"])
    return out


def seed_agreement(tests: list[dict[str, Any]]) -> tuple[list[float], bool]:
    """Per matched seed, the mean over language pairs of the ``vs_reference`` differences, and whether at least
    two seeds exist and all of them share one sign (the rule a claim about a method's alignment must pass)."""
    if not tests or len({len(t["seed_deltas"]) for t in tests}) != 1:
        return [], False
    per_seed = [float(v) for v in np.mean([t["seed_deltas"] for t in tests], axis=0)]
    agree = len(per_seed) >= 2 and (all(v > 0 for v in per_seed) or all(v < 0 for v in per_seed))
    return per_seed, agree
