"""Aggregation over ``analysis/results/`` alone: accuracy with CIs, paired tests vs baseline with Holm, the
alignment–accuracy link and the typology test. Pure functions of the loaded unit records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from analysis.study.units import unit_path
from xalign.metrics.significance import hierarchical_bootstrap, holm, seed_aware_claim, spearman_ci

Results = dict[tuple[str, str, "int | None"], dict[str, Any]]
REFERENCE = {"rs-rp": "baseline", "rs-da": "baseline", "adv": "baseline", "rs-da-offline": "baseline-long"}


def load_results(results_dir: Path) -> Results:
    """Every unit JSON under ``results_dir`` keyed by ``(task, method, seed)`` (seed None: pre-trained)."""
    from xalign.data.tasks import task_names

    out: Results = {}
    for path in sorted(Path(results_dir).glob("*/*/*.json")):
        if path.relative_to(results_dir).parts[0] not in task_names():  # tuning/, full/… hold other records
            continue
        rec = json.loads(path.read_text(encoding="utf-8"))
        u = rec["unit"]
        out[(u["task"], u["method"], u["seed"])] = rec
    return out


class DesignMismatch(ValueError):
    """A unit JSON was produced under settings other than the design being aggregated."""


# Keys a unit may differ in: which seeds a run listed, the device, the prose notes, and the other task's entry.
_FREE_KEYS = ("seeds", "offline_seeds", "device", "tasks", "notes")


def design_mismatches(rec: dict[str, Any], design: dict[str, Any]) -> list[str]:
    """The settings in which ``rec`` (one unit) was run differently from ``design`` (``Design.to_dict()``):
    every global setting but the seed lists and the device, and the unit's own task entry."""
    task = rec["unit"]["task"]
    recorded = rec.get("design", {})
    diffs = [f"{k}: recorded {recorded.get(k)!r}, design {v!r}" for k, v in design.items()
             if k not in _FREE_KEYS and recorded.get(k) != v]
    mine, theirs = design["tasks"].get(task, {}), recorded.get("tasks", {}).get(task, {})
    diffs += [f"tasks.{task}.{k}: recorded {theirs.get(k)!r}, design {v!r}" for k, v in mine.items()
              if theirs.get(k) != v]
    return diffs


def check_design(results: Results, design: dict[str, Any], results_dir: Path) -> None:
    """Refuse to mix units of different designs (a silently wrong comparison); the message names the file."""
    for (task, method, seed), rec in results.items():
        diffs = design_mismatches(rec, design)
        if diffs:
            raise DesignMismatch(f"{unit_path(results_dir, task, method, seed)}: run under another design ({'; '.join(diffs[:3])}"
                                 f"{'; …' if len(diffs) > 3 else ''}); move it out of the results folder or "
                                 "rerun with the design it records")
    seen: dict[tuple, tuple[tuple, Any]] = {}
    for key, rec in results.items():
        data = rec.get("data", {})
        found = [(("eval", split), h.get("sha256")) for split, h in data.get("eval", {}).items() if isinstance(h, dict)]
        found += [(("probe", name), h.get("sha256")) for name, h in data.get("probe", {}).items()]
        found += [(("train file",), data.get("train_file_sha256"))] if data.get("train_file_sha256") else []
        for what, digest in found:
            first = seen.setdefault((key[0], *what), (key, digest))
            if first[1] != digest:
                raise DesignMismatch(f"{unit_path(results_dir, *key)}: read other {' '.join(what)} data than "
                                     f"{unit_path(results_dir, *first[0])} (SHA-256 differ), so their items cannot "
                                     "be paired; rerun one of them on the same data")


def bits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")


def split_correct(rec: dict[str, Any], split: str, lang: str) -> np.ndarray | None:
    ev = rec.get("eval", {})
    block = ev.get("splits", {}).get(split)
    if block and lang in block.get("correct", {}):
        return bits(block["correct"][lang]).astype(float)
    if ev.get("split", "test") == split and lang in ev.get("correct", {}):
        return bits(ev["correct"][lang]).astype(float)
    return None


def generalized_scores(rec: dict[str, Any], lang: str | None = None) -> np.ndarray | None:
    """Per item: the share of off-diagonal generalized cells (l1 ≠ l2) classified correctly; with ``lang``,
    only the cells in which one sentence is in ``lang``."""
    gen = rec.get("eval", {}).get("generalized")
    if not gen or "correct" not in gen:
        return None
    langs = gen["languages"]
    cells = [bits(gen["correct"][i][j]) for i in range(len(langs)) for j in range(len(langs))
             if i != j and (lang is None or lang in (langs[i], langs[j]))]
    return np.mean(cells, axis=0) if cells else None


def mixed_minus_same(rec: dict[str, Any]) -> np.ndarray | None:
    """Per generalized item: mean correctness over the mixed-language cells (l1 ≠ l2) minus the mean over the
    same-language cells (l1 = l2), on the same items."""
    gen = rec.get("eval", {}).get("generalized")
    if not gen or "correct" not in gen:
        return None
    k = len(gen["languages"])
    cells = [[bits(gen["correct"][i][j]).astype(float) for j in range(k)] for i in range(k)]
    return (np.mean([cells[i][j] for i in range(k) for j in range(k) if i != j], axis=0)
            - np.mean([cells[i][i] for i in range(k)], axis=0))


def reported(rec: dict[str, Any], task: str) -> dict[str, list[str]]:
    """``{split: languages}`` the unit's design reports for ``task``."""
    return rec["design"]["tasks"][task]["report"]


def seeds_of(results: Results, task: str, method: str) -> list[int]:
    return sorted(s for (t, m, s) in results if t == task and m == method and s is not None)


def stack_seeds(results: Results, task: str, method: str, seeds: list[int], fn) -> np.ndarray | None:
    """``[n_seeds, n_items]``: ``fn(unit record)`` per seed; None when a seed lacks it or item counts differ."""
    rows = [fn(results[(task, method, s)]) for s in seeds]
    if not rows or any(r is None for r in rows) or len({r.size for r in rows}) != 1:
        return None
    return np.vstack(rows)


def zero_shot_scores(rec: dict[str, Any], task: str) -> np.ndarray | None:
    """Per item: mean correctness over the reported non-English languages of a split; items of different
    splits are concatenated (they are different items)."""
    parts = []
    for split, langs in reported(rec, task).items():
        rows = [split_correct(rec, split, lang) for lang in langs if lang != "en"]
        if any(r is None for r in rows):
            return None  # a reported language is missing: a mean over fewer languages would not be comparable
        if rows:
            parts.append(np.mean(rows, axis=0))
    return np.concatenate(parts) if parts else None


def accuracy_rows(results: Results, task: str, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Seed-averaged accuracy per method × (split, language) with a seed-aware bootstrap CI (seeds, then items)."""
    rows = []
    methods = sorted({m for (t, m, s) in results if t == task and s is not None})
    for method in methods:
        seeds = seeds_of(results, task, method)
        report = reported(results[(task, method, seeds[0])], task)
        cols = [(split, lang) for split, langs in report.items() for lang in langs] + [("generalized", "l1≠l2")]
        for split, lang in cols:
            fn = (lambda r: generalized_scores(r)) if split == "generalized" else \
                (lambda r, s=split, lg=lang: split_correct(r, s, lg))
            mat = stack_seeds(results, task, method, seeds, fn)
            if mat is None:
                continue
            ci = hierarchical_bootstrap(mat, np.zeros_like(mat), n_boot=n_boot, seed=seed)  # seeds, then items
            rows.append({"task": task, "method": method, "split": split, "lang": lang, "accuracy": ci.delta,
                         "ci95": list(ci.ci95), "per_seed": mat.mean(axis=1).tolist(), "seeds": seeds,
                         "n_items": int(mat.shape[1])})
    return rows


def _test(results, task, method, ref, seeds, fn, n_boot, seed) -> dict[str, Any] | None:
    a, b = stack_seeds(results, task, method, seeds, fn), stack_seeds(results, task, ref, seeds, fn)
    if a is None or b is None or a.shape != b.shape:
        return None
    return hierarchical_bootstrap(a, b, n_boot=n_boot, seed=seed).to_dict()


def holm_and_claims(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Holm within each ``family``, then the one claim rule (:func:`seed_aware_claim`: Holm p < 0.05, at least
    3 matched seeds, every seed's difference of one sign) as ``claim`` (+1, −1, 0) and ``claim_reason``."""
    for fam in sorted({t["family"] for t in tests}):
        group = [t for t in tests if t["family"] == fam]
        for t, p in zip(group, holm([t["p_value"] for t in group])):
            t["p_holm"] = float(p)
            t["claim"], t["claim_reason"] = seed_aware_claim(t["p_holm"], t.get("seed_deltas", ()))
    return tests


def paired_tests(results: Results, task: str, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Each method vs its reference (baseline; rs-da-offline vs baseline-long): the seed-aware bootstrap
    (seeds, then items; :func:`xalign.metrics.significance.hierarchical_bootstrap`) over the matched seeds.

    Families for Holm: (1) per task, the primary tests — every method on zero-shot (non-English reported
    languages, items pooled) and generalized accuracy; (2) per task and method, the per-language tests;
    (3) per task and method, the generalized cells (l1 ≠ l2) in which one sentence is in a given non-English
    language (column ``generalized:<lang>``)."""
    out = []
    for method, ref in REFERENCE.items():
        seeds = sorted(set(seeds_of(results, task, method)) & set(seeds_of(results, task, ref)))
        if not seeds:
            continue
        report = reported(results[(task, method, seeds[0])], task)
        prim = {"zero-shot": lambda r: zero_shot_scores(r, task), "generalized": lambda r: generalized_scores(r),
                "mixed-same": lambda r: mixed_minus_same(r)}
        for col, fn in prim.items():  # mixed − same: a collapsed run has 0 by construction, so it is left out
            use = learned_seeds(results, task, method, ref) if col == "mixed-same" else seeds
            res = _test(results, task, method, ref, use, fn, n_boot, seed) if use else None
            if res:
                fam = "primary" if col != "mixed-same" else "generalized-control"
                out.append({"task": task, "method": method, "reference": ref, "column": col, "family": fam,
                            "seeds": use, "collapsed_seeds": [x for x in seeds if x not in use], **res})
        for split, langs in report.items():
            for lang in langs:
                res = _test(results, task, method, ref, seeds, lambda r, s=split, lg=lang: split_correct(r, s, lg),
                            n_boot, seed)
                if res:
                    out.append({"task": task, "method": method, "reference": ref, "column": f"{split}:{lang}",
                                "family": f"languages:{method}", "seeds": seeds, **res})
        gen = results[(task, method, seeds[0])].get("eval", {}).get("generalized") or {}
        for lang in [lg for lg in gen.get("languages", []) if lg != "en"]:
            res = _test(results, task, method, ref, seeds, lambda r, lg=lang: generalized_scores(r, lg), n_boot, seed)
            if res:
                out.append({"task": task, "method": method, "reference": ref, "column": f"generalized:{lang}",
                            "family": f"generalized-languages:{method}", "seeds": seeds, **res})
    return holm_and_claims(out)


# --------------------------------------------------------------------------- alignment
def layer_scores(rec: dict[str, Any], corpus: str) -> np.ndarray:
    """Per layer: mean CSLS P@1 over both directions and every English–xx pair of ``corpus``."""
    pairs = rec["alignment"][corpus]["pairs"].values()
    return np.mean([(np.array(p["p1_fwd"]["value"]) + np.array(p["p1_bwd"]["value"])) / 2 for p in pairs], axis=0)


def chosen_layer(results: Results, task: str) -> int | None:
    """The stated rule: the layer with the best pre-trained CSLS P@1 (both directions, mean over the task's
    languages) on the task's dev parallel sentences — fixed before any accuracy is looked at."""
    rec = results.get((task, "pretrained", None))
    if rec is None:
        return None
    return int(np.argmax(layer_scores(rec, f"{task}-dev")))


def pair_alignment(rec: dict[str, Any], corpus: str, lang: str, layer: int) -> float:
    p = rec["alignment"][corpus]["pairs"][f"en-{lang}"]
    return (p["p1_fwd"]["value"][layer] + p["p1_bwd"]["value"][layer]) / 2


def _lang_accuracy(rec: dict[str, Any], task: str, lang: str) -> float | None:
    for split, langs in reported(rec, task).items():
        if lang in langs:
            c = split_correct(rec, split, lang)
            return None if c is None else float(c.mean())
    return None


def collapsed(rec: dict[str, Any]) -> bool:
    """True when a trained run answers every item the same way in every language of every evaluation split
    (identical per-item correctness strings): with item-aligned labels that is one predicted class, a run that
    did not learn the task. Its Δ(xx − en) is 0 by construction, so it must not enter the transfer control
    or the alignment–accuracy link, where it would read as perfect transfer."""
    splits = [b.get("correct", {}) for b in rec.get("eval", {}).get("splits", {}).values()]
    splits = [c for c in splits if len(c) > 1]
    return bool(splits) and all(len(set(c.values())) == 1 for c in splits)


def matched_seeds(results: Results, task: str, method: str, ref: str) -> list[int]:
    """The seeds both ``method`` and ``ref`` finished."""
    return sorted(set(seeds_of(results, task, method)) & set(seeds_of(results, task, ref)))


def learned_seeds(results: Results, task: str, method: str, ref: str) -> list[int]:
    """:func:`matched_seeds` minus those where either run collapsed."""
    return [s for s in matched_seeds(results, task, method, ref)
            if not collapsed(results[(task, method, s)]) and not collapsed(results[(task, ref, s)])]


def link_points(results: Results, task: str, layer: int) -> list[dict[str, Any]]:
    """One point per method × non-English language × matched seed (collapsed runs left out, see
    :func:`collapsed`): Δalignment (CSLS P@1 at ``layer``) and Δaccuracy (zero-shot; generalized where the
    language is in the generalized subset), method − reference."""
    corpus = f"{task}-dev"
    points = []
    for method, ref in REFERENCE.items():
        for s in learned_seeds(results, task, method, ref):
            a, b = results[(task, method, s)], results[(task, ref, s)]
            for pair in a["alignment"][corpus]["pairs"]:
                lang = pair.split("-", 1)[1]
                acc_a, acc_b = _lang_accuracy(a, task, lang), _lang_accuracy(b, task, lang)
                if acc_a is None or acc_b is None:
                    continue
                ga, gb = generalized_scores(a, lang), generalized_scores(b, lang)
                points.append({"method": method, "lang": lang, "seed": s,
                               "d_align": pair_alignment(a, corpus, lang, layer) - pair_alignment(b, corpus, lang, layer),
                               "d_acc": acc_a - acc_b,
                               "d_gen": None if ga is None or gb is None else float(ga.mean() - gb.mean())})
    return points


def correlations(points: list[dict[str, Any]], x: str, y: str, *, n_boot: int, seed: int) -> dict[str, Any]:
    """Spearman ρ of ``x`` vs ``y`` per method, pooled, and ``within`` (pooled after centring each method ×
    seed run), points = language × seed (× method); the CI is a cluster bootstrap over
    languages (a language's seeds and methods are resampled together). Pooled points mix differences
    between methods (one that trains less moves alignment less and scores lower everywhere) with
    differences between languages; ``within`` keeps only the latter and is the one the answer reads: each
    point is centred on the mean of its (method, seed) run, in the estimate and in every resample
    (``spearman_ci(centre=...)``), so a method or seed better or worse everywhere cannot make the correlation."""
    out = {}
    for method in sorted({p["method"] for p in points}) + ["pooled", "within"]:
        sel = [p for p in points if (method in ("pooled", "within") or p["method"] == method) and p[x] is not None
               and p[y] is not None]
        runs = [f"{p['method']}/{p['seed']}" for p in sel] if method == "within" else None
        if len(sel) >= 3:
            out[method] = spearman_ci([p[x] for p in sel], [p[y] for p in sel], n_boot=n_boot, seed=seed,
                                      groups=[p["lang"] for p in sel], centre=runs).to_dict()
    return out


def typology(points: list[dict[str, Any]], *, n_boot: int, seed: int) -> dict[str, Any]:
    """Δaccuracy vs URIEL distance from English (syntax_knn; genetic ``fam`` as a second reading)."""
    from analysis.study.typology import distances_from_english

    langs = sorted({p["lang"] for p in points})
    out: dict[str, Any] = {}
    for fs in ("syntax_knn", "fam"):
        dist = distances_from_english(langs, fs)
        pts = [{**p, "distance": dist[p["lang"]]} for p in points]
        out[fs] = {"distances": dist, "zero-shot": correlations(pts, "distance", "d_acc", n_boot=n_boot, seed=seed)}
    return out


def selection_rows(results: Results, task: str) -> list[dict[str, Any]]:
    """Per trained unit: the English dev (selection) curve, the selected step and its accuracy."""
    rows = []
    for (t, m, s), rec in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2] or -1)):
        if t == task and s is not None and rec.get("select"):
            sel = rec["select"]
            rows.append({"method": m, "seed": s, "curve": [(c["step"], c["value"]) for c in sel.get("curve", [])],
                         "best_step": sel.get("best_step"), "accuracy": sel.get("accuracy"),
                         "steps": rec.get("steps"), "train_s": rec.get("timings", {}).get("train_s"),
                         "n_select": (rec.get("train_data") or {}).get("n_select"),
                         "unit_s": rec.get("timings", {}).get("unit_s")})
    return rows


def aggregate(results: Results, *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Everything RESULTS.md and the HTML report show, per task."""
    out: dict[str, Any] = {}
    for task in sorted({t for (t, _, _) in results}):
        block: dict[str, Any] = {"collapsed": [(m, sd) for (t, m, sd), rec in sorted(results.items(), key=str)
                                               if t == task and sd is not None and collapsed(rec)],
                                 "accuracy": accuracy_rows(results, task, n_boot=n_boot, seed=seed),
                                 "tests": paired_tests(results, task, n_boot=n_boot, seed=seed),
                                 "selection": selection_rows(results, task)}
        layer = chosen_layer(results, task)
        block["layer"] = layer
        if layer is not None:
            pts = link_points(results, task, layer)
            block["link_points"] = pts
            block["link"] = {"zero-shot": correlations(pts, "d_align", "d_acc", n_boot=n_boot, seed=seed),
                             "generalized": correlations(pts, "d_align", "d_gen", n_boot=n_boot, seed=seed)}
            block["typology"] = typology(pts, n_boot=n_boot, seed=seed) if pts else {}  # no lang2vec: an error
        out[task] = block
    return out
