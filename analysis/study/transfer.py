"""The transfer-gap control: does a robust method keep more of what it learned in English when it is tested in
other languages, or does it only learn English more slowly?

A method that learns the English task less in the same steps scores lower in every language, so a zero-shot
deficit alone cannot say whether transfer got worse. Two readings separate the two, each a paired test against
the method's reference over items × matched seeds (the evaluation items are the same rows in every language):

* **Transfer gap** (XTREME's cross-lingual transfer gap, Hu et al. 2020): per item, correctness in xx minus
  correctness of the same item in English (zero-shot: the mean over the reported non-English languages of a
  split minus English of that split; splits concatenated). Δgap > 0: the method loses less from English to
  the other languages than its reference. A model near chance in English has little left to lose, so this
  reading favours a method that learned less (a floor effect).
* **Retained share above the majority-class rate**: ``(acc_xx − m) / (acc_en − m)``, m = the share of the most
  frequent gold class among the evaluation items (PAWS-X 0.57, not the uniform 0.5: a model that answers the
  majority class everywhere retains 0, not a positive share); 1 / number of labels only where the labels are
  unknown. The share of the model's English accuracy above that rate that survives in the other languages.

Every test is the seed-aware bootstrap (seeds, then items; ``hierarchical_bootstrap``) with per-seed
differences, and a reading is claimed only by the one rule (``seed_aware_claim``: Holm p < 0.05, at least 3
matched seeds, every seed of one sign). No reading is drawn from a test that does not pass it: a control that
does not move says only that no change as large as its smallest detectable effect was seen.

A run that collapsed to one predicted class (:func:`analysis.study.aggregate.collapsed`) has a gap of 0 by
construction; such seeds are left out of the control on both sides (listed under ``collapsed_seeds``).

Holm: over the methods of a task within each reading; per-language gap tests within each method."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.study.aggregate import (
    REFERENCE,
    Results,
    holm_and_claims,
    learned_seeds,
    matched_seeds,
    reported,
    split_correct,
    stack_seeds,
)
from xalign.data.tasks import task_spec
from xalign.metrics.significance import hierarchical_bootstrap, minimum_detectable_effect

READINGS = {"gap": "transfer gap (xx − en, same items)", "retained": "retained share above the majority rate"}


def majority_rate(task: str, labels: dict[str, Any] | None) -> float:
    """The share of the most frequent gold class over the items of the zero-shot splits (``labels``: the
    task's labels block); 1 / number of labels when the labels are unknown."""
    if not labels:
        return 1.0 / len(task_spec(task).labels)
    ys = "".join(b["labels"] for b in labels.get("splits", {}).values())
    return max(ys.count(c) for c in set(ys)) / len(ys)


def chance(task: str) -> float:
    """Accuracy of a uniform guess: 1 / number of labels of the task (the fallback of :func:`majority_rate`)."""
    return majority_rate(task, None)


def gap_scores(rec: dict[str, Any], task: str, column: str = "zero-shot") -> np.ndarray | None:
    """Per item: correctness in xx minus correctness in English on the same item. ``column`` is
    ``"split:lang"`` or ``"zero-shot"`` (each split's reported non-English languages averaged, splits
    concatenated)."""
    pairs = _pairs(rec, task, column)
    return None if pairs is None else pairs[:, 0] - pairs[:, 1]


def _pairs(rec: dict[str, Any], task: str, column: str) -> np.ndarray | None:
    """``[n_items, 2]``: per item, (xx correctness or zero-shot mean, English correctness)."""
    if column != "zero-shot":
        split, lang = column.split(":", 1)
        xx, en = split_correct(rec, split, lang), split_correct(rec, split, "en")
        return None if xx is None or en is None or xx.size != en.size else np.stack([xx, en], axis=1)
    parts = []
    for split, langs in reported(rec, task).items():
        en = split_correct(rec, split, "en")
        rows = [split_correct(rec, split, lang) for lang in langs if lang != "en"]
        if not rows:
            continue
        if en is None or any(r is None or r.size != en.size for r in rows):
            return None  # a language or English missing on these items: no comparable gap
        parts.append(np.stack([np.mean(rows, axis=0), en], axis=1))
    return np.concatenate(parts) if parts else None


def retained_share(pairs: np.ndarray, chance_rate: float) -> float:
    """``(mean xx − chance) / (mean en − chance)`` of ``[n_items, 2]`` rows."""
    return float((pairs[:, 0].mean() - chance_rate) / (pairs[:, 1].mean() - chance_rate))


def _retained_test(results: Results, task: str, method: str, ref: str, seeds: list[int], *, n_boot: int,
                   seed: int, rate: float) -> dict[str, Any] | None:
    a = [_pairs(results[(task, method, s)], task, "zero-shot") for s in seeds]
    b = [_pairs(results[(task, ref, s)], task, "zero-shot") for s in seeds]
    if any(x is None for x in a + b) or len({x.shape for x in a + b}) != 1:
        return None
    xa, xb = np.stack(a), np.stack(b)  # [seeds, items, (xx, en)]
    if min(xa[..., 1].mean(), xb[..., 1].mean()) - rate < 0.05:  # English near the majority rate: no ratio
        return None
    res = hierarchical_bootstrap(xa, xb, statistic=lambda x: retained_share(x.reshape(-1, 2), rate),
                                 n_boot=n_boot, seed=seed).to_dict()
    return {**res, "chance": rate, "mde": minimum_detectable_effect(res["std_error"])}


def transfer_tests(results: Results, task: str, *, n_boot: int, seed: int,
                   labels: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each method vs its reference: the zero-shot transfer gap and retained share (families ``gap`` and
    ``retained``, Holm over methods) and the per-language gap (family ``gap-languages:<method>``); each with
    the seed-aware bootstrap and the claim rule (``claim``, ``claim_reason``)."""
    out = []
    rate = majority_rate(task, labels)
    for method, ref in REFERENCE.items():
        seeds = learned_seeds(results, task, method, ref)
        if not seeds:
            continue
        dropped = [s for s in matched_seeds(results, task, method, ref) if s not in seeds]
        common = {"task": task, "method": method, "reference": ref, "seeds": seeds, "collapsed_seeds": dropped}
        cols = ["zero-shot"] + [f"{split}:{lang}" for split, langs in reported(results[(task, method, seeds[0])],
                                                                                task).items()
                                for lang in langs if lang != "en"]
        for col in cols:
            a = stack_seeds(results, task, method, seeds, lambda r, c=col: gap_scores(r, task, c))
            b = stack_seeds(results, task, ref, seeds, lambda r, c=col: gap_scores(r, task, c))
            if a is None or b is None or a.shape != b.shape:
                continue
            res = hierarchical_bootstrap(a, b, n_boot=n_boot, seed=seed).to_dict()
            family = "gap" if col == "zero-shot" else f"gap-languages:{method}"
            out.append({**common, "reading": "gap", "column": col, "family": family, **res,
                        "mde": minimum_detectable_effect(res["std_error"])})
        ret = _retained_test(results, task, method, ref, seeds, n_boot=n_boot, seed=seed, rate=rate)
        if ret:
            out.append({**common, "reading": "retained", "column": "zero-shot", "family": "retained", **ret})
    return holm_and_claims(out)


def _fmt(t: dict[str, Any]) -> str:
    return f"{t['delta']:+.3f} [{t['ci95'][0]:+.3f}, {t['ci95'][1]:+.3f}] (Holm p {t['p_holm']:.3f})"


def transfer_table(tests: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: method − reference, reading, column, each side's value, Δ [CI], Holm p, per-seed Δ, claim."""
    if not tests:
        return ["No method has finished beside its reference yet."]
    lines = ["| method − reference | reading | column | method | reference | Δ [95% CI] | p (Holm) | Δ per seed | "
             "claim (rule) |", "|---|---|---|---|---|---|---|---|---|"]
    for t in tests:
        lines.append(f"| {t['method']} − {t['reference']} | {READINGS[t['reading']]} | {t['column']} | "
                     f"{t['mean_a']:+.3f} | {t['mean_b']:+.3f} | {t['delta']:+.3f} [{t['ci95'][0]:+.3f}, "
                     f"{t['ci95'][1]:+.3f}] | {t['p_holm']:.4f} | {', '.join(f'{v:+.3f}' for v in t['seed_deltas'])} "
                     f"| {claim_word(t)} |")
    return lines


def claim_word(t: dict[str, Any]) -> str:
    """``higher`` / ``lower`` where the rule claims a direction, else ``no claim (reason)``."""
    return {1: "higher", -1: "lower"}.get(t["claim"], f"no claim ({t['claim_reason']})")


def transfer_answer(tests: list[dict[str, Any]]) -> list[str]:
    """One line per method: both control readings and what the claim rule allows. Nothing is inferred from a
    reading that does not pass it (no "accounted for by" from a null): a null says only that no change as large
    as its smallest detectable effect was seen."""
    lines = []
    for method in dict.fromkeys(t["method"] for t in tests):
        gap = next((t for t in tests if t["method"] == method and t["family"] == "gap"), None)
        ret = next((t for t in tests if t["method"] == method and t["family"] == "retained"), None)
        if gap is None:
            continue
        claimed = [t for t in (gap, ret) if t and t["claim"]]
        if not claimed:
            reading = (f"no reading passes the rule (gap: {gap['claim_reason']}); a gap change smaller than "
                       f"{gap['mde']:.3f} would go undetected, so transfer is neither shown to change nor to stay")
        elif all(t["claim"] > 0 for t in claimed):
            reading = "it keeps more of its English accuracy in the other languages (better transfer, by the rule)"
        elif all(t["claim"] < 0 for t in claimed):
            reading = "it keeps less of its English accuracy in the other languages (worse transfer, by the rule)"
        else:
            reading = "the two readings disagree in sign: no claim"
        ret_words = (f"; retained share above the majority rate {ret['chance']:.2f}: {_fmt(ret)} "
                     f"({ret['mean_a']:.2f} vs {ret['mean_b']:.2f})" if ret else "")
        left = f"; collapsed seed(s) {gap['collapsed_seeds']} left out" if gap.get("collapsed_seeds") else ""
        lines.append(f"- {gap['task']} {method} − {gap['reference']} transfer control (seeds {gap['seeds']}{left}): gap {_fmt(gap)}{ret_words}: "
                     f"{reading}.")
    return lines
