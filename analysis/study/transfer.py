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
* **Retained share above chance**: ``(acc_xx − chance) / (acc_en − chance)``, chance = 1 / number of labels
  (a uniform guess, not the majority-class rate);
  the share of the model's above-chance English accuracy that survives in the other languages. It divides the
  floor effect out; its bootstrap resamples items (seed-averaged ``[xx, en]`` rows) and recomputes the ratio.

A run that collapsed to one predicted class (:func:`analysis.study.aggregate.collapsed`) has a gap of 0 by
construction; such seeds are left out of the control on both sides (listed under ``collapsed_seeds``).

Holm: over the methods of a task within each reading; per-language gap tests within each method."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.study.aggregate import (
    REFERENCE,
    Results,
    learned_seeds,
    matched_seeds,
    reported,
    split_correct,
    stack_seeds,
)
from xalign.data.tasks import task_spec
from xalign.metrics.significance import holm, paired_item_seed_bootstrap
from xalign.metrics.stats import paired_bootstrap

READINGS = {"gap": "transfer gap (xx − en, same items)", "retained": "retained share above chance"}


def chance(task: str) -> float:
    """Accuracy of a uniform guess: 1 / number of labels of the task."""
    return 1.0 / len(task_spec(task).labels)


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
                   seed: int) -> dict[str, Any] | None:
    c = chance(task)
    a = [_pairs(results[(task, method, s)], task, "zero-shot") for s in seeds]
    b = [_pairs(results[(task, ref, s)], task, "zero-shot") for s in seeds]
    if any(x is None for x in a + b) or len({x.shape for x in a + b}) != 1:
        return None
    ma, mb = np.mean(a, axis=0), np.mean(b, axis=0)  # seed-averaged [n_items, 2]
    if min(ma[:, 1].mean(), mb[:, 1].mean()) - c < 0.05:  # English near chance: the ratio is not defined
        return None
    res = paired_bootstrap(ma, mb, statistic=lambda x: retained_share(x, c), n_boot=n_boot, seed=seed)
    return {"delta": res.delta, "ci95": list(res.ci95), "p_value": res.p_value, "mean_a": retained_share(ma, c),
            "mean_b": retained_share(mb, c), "n_items": int(ma.shape[0]), "n_seeds": len(seeds), "n_boot": n_boot,
            "chance": c}


def transfer_tests(results: Results, task: str, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Each method vs its reference: the zero-shot transfer gap and retained share (families ``gap`` and
    ``retained``, Holm over methods) and the per-language gap (family ``gap-languages:<method>``)."""
    out = []
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
            res = paired_item_seed_bootstrap(a, b, n_boot=n_boot, seed=seed).to_dict()
            family = "gap" if col == "zero-shot" else f"gap-languages:{method}"
            out.append({**common, "reading": "gap", "column": col, "family": family, **res})
        ret = _retained_test(results, task, method, ref, seeds, n_boot=n_boot, seed=seed)
        if ret:
            out.append({**common, "reading": "retained", "column": "zero-shot", "family": "retained", **ret})
    for fam in {t["family"] for t in out}:
        group = [t for t in out if t["family"] == fam]
        for t, p in zip(group, holm([t["p_value"] for t in group])):
            t["p_holm"] = float(p)
    return out


def _fmt(t: dict[str, Any]) -> str:
    return f"{t['delta']:+.3f} [{t['ci95'][0]:+.3f}, {t['ci95'][1]:+.3f}] (Holm p {t['p_holm']:.3f})"


def transfer_table(tests: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: method − reference, reading, column, method's value, reference's value, Δ [CI], p, Holm p."""
    if not tests:
        return ["No method has finished beside its reference yet."]
    lines = ["| method − reference | reading | column | method | reference | Δ [95% CI] | p | p (Holm) | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for t in tests:
        lines.append(f"| {t['method']} − {t['reference']} | {READINGS[t['reading']]} | {t['column']} | "
                     f"{t['mean_a']:+.3f} | {t['mean_b']:+.3f} | {t['delta']:+.3f} [{t['ci95'][0]:+.3f}, "
                     f"{t['ci95'][1]:+.3f}] | {t['p_value']:.4f} | {t['p_holm']:.4f} | {len(t['seeds'])} |")
    return lines


def transfer_answer(tests: list[dict[str, Any]], primary: list[dict[str, Any]], low_resource: tuple[str, ...],
                    tests_en: list[dict[str, Any]] = ()) -> list[str]:
    """One sentence per method: its zero-shot Δ beside the two control readings, and what follows by a stated
    rule (significant = Holm p < 0.05 in the reading's family). ``tests_en``: each method's English accuracy
    test against its reference (per-language family); a zero-shot deficit is put down to the English task
    learned less only when English is significantly lower too and neither control reading is significant."""
    lines = []
    for method in dict.fromkeys(t["method"] for t in tests):
        gap = next((t for t in tests if t["method"] == method and t["family"] == "gap"), None)
        ret = next((t for t in tests if t["method"] == method and t["family"] == "retained"), None)
        zs = next((t for t in primary if t["method"] == method and t["column"] == "zero-shot"), None)
        if gap is None:
            continue
        sig = [t for t in (gap, ret) if t and t["p_holm"] < 0.05]
        if not sig:
            english = next((t for t in tests_en if t["method"] == method), None)
            learned_less = (zs and zs["p_holm"] < 0.05 and zs["delta"] < 0 and english is not None
                            and english["p_holm"] < 0.05 and english["delta"] < 0)
            reading = ("neither reading is significant after Holm: "
                       + (f"its zero-shot deficit goes with English accuracy lower by {-english['delta']:.3f} (significant), "
                          "so it is accounted for by the English task learned less in the same steps; a transfer "
                          "change within the CIs is not excluded" if learned_less else
                          "no change in transfer is detected (one within the CIs is not excluded)"))
        elif all(t["delta"] > 0 for t in sig):
            reading = "it keeps more of its English accuracy in the other languages (better transfer)"
        elif all(t["delta"] < 0 for t in sig):
            reading = "it keeps less of its English accuracy in the other languages (worse transfer)"
        else:
            reading = "the two readings disagree in sign, so no conclusion about transfer is drawn"
        low = [t for t in tests if t["method"] == method and t["family"].startswith("gap-languages")
               and t["column"].split(":")[-1] in low_resource]
        low_words = "".join(f"; {t['column'].split(':')[-1]} gap {_fmt(t)}" for t in low)
        ret_words = f", retained share {_fmt(ret)} ({ret['mean_a']:.2f} vs {ret['mean_b']:.2f})" if ret else ""
        left = (f" (seeds {gap['seeds']}; collapsed seed(s) {gap['collapsed_seeds']} left out)"
                if gap.get("collapsed_seeds") else "")
        lines.append(f"  Transfer control, {method} − {gap['reference']}{left}: zero-shot gap {_fmt(gap)}{ret_words}"
                     f"{low_words}: {reading}.")
    return lines
