"""Per-class recall and the generalized (mixed-language) readout, from per-item correctness and gold labels.

* Per-class recall of class c: accuracy on the items whose gold label is c (exact from correctness alone).
* A run **collapsed** when it answers one class everywhere (:func:`analysis.study.aggregate.collapsed`); it
  **partially collapsed** when, pooled over every evaluation language, some class's recall is below
  :data:`PARTIAL_RECALL` (the model almost never predicts that class where it should) without a full collapse.
* The generalized readout: per item, the mean correctness over the mixed-language cells (sentence 1 and
  sentence 2 in different languages) minus the mean over the same-language cells (the diagonal), on the same
  items; and the same per gold class, so that a "gain" carried by one class's prior is visible.
Pure functions of unit records and label blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.study.aggregate import bits, collapsed, mixed_minus_same  # noqa: F401  (re-exported)

PARTIAL_RECALL = 0.10  # a class found on fewer than 1 in 10 of its items, in every language pooled


def labels_array(text: str) -> np.ndarray:
    return bits(text).astype(int)


def class_recall(correct: np.ndarray, labels: np.ndarray, n_classes: int) -> list[float]:
    """Recall per class (NaN for a class with no item)."""
    return [float(correct[labels == c].mean()) if (labels == c).any() else float("nan") for c in range(n_classes)]


def _split_rows(rec: dict[str, Any], labels: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    corr, labs = [], []
    for split, block in rec.get("eval", {}).get("splits", {}).items():
        gold = labels.get("splits", {}).get(split)
        if gold is None:
            continue
        y = labels_array(gold["labels"])
        for text in block.get("correct", {}).values():
            corr.append(bits(text).astype(float))
            labs.append(y)
    return corr, labs


def pooled_recall(rec: dict[str, Any], labels: dict[str, Any]) -> list[float] | None:
    """Per-class recall pooled over every evaluation split and language of the unit."""
    corr, labs = _split_rows(rec, labels)
    if not corr:
        return None
    return class_recall(np.concatenate(corr), np.concatenate(labs), len(labels["label_names"]))


def run_state(rec: dict[str, Any], labels: dict[str, Any] | None) -> str:
    """``collapsed``, ``partial`` (a class's pooled recall < :data:`PARTIAL_RECALL`) or ``learned``;
    ``unknown`` for a partial check without labels."""
    if collapsed(rec):
        return "collapsed"
    rec_ = None if labels is None else pooled_recall(rec, labels)
    if rec_ is None:
        return "unknown"
    return "partial" if min(r for r in rec_ if not np.isnan(r)) < PARTIAL_RECALL else "learned"


def generalized_cells(rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per item: mean correctness over the mixed-language cells (l1 ≠ l2) and over the same-language cells."""
    gen = rec.get("eval", {}).get("generalized")
    if not gen or "correct" not in gen:
        return None
    k = len(gen["languages"])
    cells = [[bits(gen["correct"][i][j]).astype(float) for j in range(k)] for i in range(k)]
    mixed = np.mean([cells[i][j] for i in range(k) for j in range(k) if i != j], axis=0)
    same = np.mean([cells[i][i] for i in range(k)], axis=0)
    return mixed, same


def generalized_by_class(rec: dict[str, Any], labels: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """Per gold class: recall in the mixed-language cells, in the same-language cells, and their difference."""
    pair = generalized_cells(rec)
    gold = None if labels is None else labels.get("generalized")
    if pair is None or gold is None:
        return None
    y = labels_array(gold["labels"])
    names = labels["label_names"]
    return [{"class": names[c], "n": int((y == c).sum()), "mixed": float(pair[0][y == c].mean()),
             "same": float(pair[1][y == c].mean()), "diff": float((pair[0] - pair[1])[y == c].mean())}
            for c in range(len(names)) if (y == c).any()]


def generalized_readout(results: dict, task: str, labels: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per trained method (seed means): mixed-language and same-language accuracy on the generalized items,
    their difference, and the same per gold class (``by_class``, when labels are known)."""
    out = []
    for method in sorted({m for (t, m, s) in results if t == task and s is not None}):
        recs = [rec for (t, m, s), rec in sorted(results.items(), key=str) if t == task and m == method
                and s is not None and generalized_cells(rec) is not None]
        if not recs:
            continue
        cells = [generalized_cells(r) for r in recs]
        row: dict[str, Any] = {"method": method, "n_seeds": len(recs), "n_items": int(cells[0][0].size),
                               "mixed": float(np.mean([c[0].mean() for c in cells])),
                               "same": float(np.mean([c[1].mean() for c in cells]))}
        row["diff"] = row["mixed"] - row["same"]
        per = [generalized_by_class(r, labels) for r in recs]
        if all(p is not None for p in per):
            row["by_class"] = [{"class": per[0][c]["class"], "n": per[0][c]["n"],
                                **{k: float(np.mean([p[c][k] for p in per])) for k in ("mixed", "same", "diff")}}
                               for c in range(len(per[0]))]
        out.append(row)
    return out


def run_states(results: dict, task: str, label_files: dict[str, Any]) -> dict[str, dict[int, str]]:
    """``{method: {seed: state}}`` (:func:`run_state`) of the task's trained units."""
    from analysis.study.labels import labels_for

    out: dict[str, dict[int, str]] = {}
    for (t, m, s), rec in sorted(results.items(), key=str):
        if t == task and s is not None:
            out.setdefault(m, {})[s] = run_state(rec, labels_for(rec, label_files))
    return out


def weakest_class(results: dict, task: str, method: str, label_files: dict[str, Any]) -> tuple[str, float] | None:
    """The class with the lowest pooled recall, seed-averaged, for ``method`` (None without labels)."""
    from analysis.study.labels import labels_for

    recalls, names = [], None
    for (t, m, s), rec in sorted(results.items(), key=str):
        lab = labels_for(rec, label_files) if t == task and m == method and s is not None else None
        r = None if lab is None else pooled_recall(rec, lab)
        if r is not None:
            recalls.append(r)
            names = lab["label_names"]
    if not recalls:
        return None
    mean = np.nanmean(recalls, axis=0)
    c = int(np.nanargmin(mean))
    return names[c], float(mean[c])
