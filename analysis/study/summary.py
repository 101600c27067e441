"""The answer's first paragraph: one plain-words sentence group per task, written by stated rules from the
aggregated block (significant = Holm-adjusted p < 0.05 in the test's family), so it stays true as units land."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.study.alignment_change import seed_agreement


def _names(tests: list[dict[str, Any]], column: bool = False) -> str:
    return ", ".join(f"{t['method']}{' on ' + t['column'] if column else ''} ({t['delta']:+.3f})" for t in tests)


def _english_lower(block: dict[str, Any]) -> set[str]:
    """Methods whose English accuracy is significantly lower than their reference's (Holm, per-language family)."""
    return {t["method"] for t in block["tests"] if t["family"].startswith("languages:")
            and t["column"].endswith(":en") and t["p_holm"] < 0.05 and t["delta"] < 0}


def _moved(method: str, readings: list[dict[str, Any]]) -> str:
    """One method's significant transfer-control readings, with the direction they agree on (> 0: keeps more)."""
    values = ", ".join(f"{'gap' if t['family'] == 'gap' else 'retained share'} {t['delta']:+.3f}" for t in readings)
    signs = {t["delta"] > 0 for t in readings}
    verdict = "" if len(signs) > 1 else ": better transfer" if signs == {True} else ": worse transfer"
    single = "; one seed that learned the task, so training noise is unmeasured" if all(
        len(t.get("seeds", ())) == 1 for t in readings) else ""
    return f"{method} ({values}{verdict}{single})"


def _accuracy_words(block: dict[str, Any]) -> str:
    prim = [t for t in block["tests"] if t["family"] == "primary"]
    up = [t for t in prim if t["p_holm"] < 0.05 and t["delta"] > 0]
    down = [t for t in prim if t["p_holm"] < 0.05 and t["delta"] < 0]
    words = (f"robust training raised accuracy significantly for {_names(up, True)}" if up else
             "no robust method raised zero-shot or generalized accuracy significantly")
    if down:
        words += f"; it lowered it for {_names(down, True)}"
    control = [t for t in block.get("transfer", []) if t["family"] in ("gap", "retained")]
    lowered = {t["method"] for t in down if t["column"] == "zero-shot"}
    failed = sorted(lowered & {m for m, _ in block.get("collapsed", [])} - {t["method"] for t in control})
    if failed:  # every matched seed answered one class: the control has nothing to compare
        words += (f" ({', '.join(failed)}: every run collapsed to one predicted class, so this measures a failure "
                  "to learn the task, and no transfer control is possible)")
        lowered -= set(failed)
    if lowered and control:
        moved = [t for t in control if t["method"] in lowered and t["p_holm"] < 0.05]
        english = _english_lower(block)
        moved_methods = list(dict.fromkeys(t["method"] for t in moved))
        slower = sorted(m for m in lowered - set(moved_methods) if m in english)
        still = sorted(lowered - set(moved_methods) - english)
        if slower and not moved and not still:
            words += (" — and relative to each method's own English accuracy (the transfer control) none of these "
                      "detectably transfers a different share, while English itself is significantly lower, so the "
                      "deficit is accounted for by the English task learned less in the same steps")
        elif still and not moved and not slower:
            words += " — the transfer control detects no change in transfer for these methods (see below)"
        elif moved:
            parts = ["the transfer control moves for " + ", ".join(
                _moved(m, [t for t in moved if t["method"] == m]) for m in moved_methods)]
            if slower:
                parts.append(f"for {', '.join(slower)} it detects no change in transfer while English itself is "
                             "significantly lower, so that deficit is accounted for by the English task learned less")
            if still:
                parts.append(f"for {', '.join(still)} it detects no change in transfer")
            words += " — " + "; ".join(parts) + " (see below)"
        else:  # no reading moved: some lowered methods learned English less, the others did not
            words += (f" — the transfer control detects no change in transfer for {', '.join(slower + still)}; "
                      f"for {', '.join(slower)} English itself is significantly lower, so that deficit is accounted "
                      "for by the English task learned less (see below)")
    return words


def _low_resource_words(block: dict[str, Any], low_resource: tuple[str, ...]) -> str | None:
    per_lang = [t for t in block["tests"] if t["family"].startswith("languages:")
                and t["column"].split(":")[-1] in low_resource]
    if not per_lang:
        return None
    sig = [t for t in per_lang if t["p_holm"] < 0.05]
    parts = []
    for lang in low_resource:
        mine = [t for t in per_lang if t["column"].split(":")[-1] == lang]
        if mine:
            best = max(mine, key=lambda t: t["delta"])
            parts.append(f"{lang}: best {best['method']} {best['delta']:+.3f} [{best['ci95'][0]:+.3f}, "
                         f"{best['ci95'][1]:+.3f}]")
    gains = [t for t in sig if t["delta"] > 0]
    losses = [t for t in sig if t["delta"] < 0]
    words = (f"For the low-resource languages ({', '.join(low_resource)}), "
             + (f"significant gains after Holm: {_names(gains, True)}" if gains else "no method gains significantly after Holm")
             + (f"; significant losses: {_names(losses, True)}" if losses else "")
             + f" (largest point estimates: {'; '.join(parts)})")
    gen = [t for t in block["tests"] if t["family"].startswith("generalized-languages:")
           and t["column"].split(":")[-1] in low_resource]
    if gen:
        gsig = [t for t in gen if t["p_holm"] < 0.05]
        words += ("; in the generalized cells with one sentence in " + "/".join(low_resource) + ", "
                  + (f"significant after Holm: {_names(gsig, True)}" if gsig else "no change is significant after Holm")
                  + f" (largest: {_names([max(gen, key=lambda t: t['delta'])], True)})")
    return words


def _alignment_words(block: dict[str, Any]) -> str | None:
    rows = [r for r in block.get("alignment", []) if r["corpus"].endswith("-dev")]
    base = [r["vs_pretrained"]["delta"] for r in rows if r["method"] == "baseline"]
    if not base:
        return None
    move = float(np.mean(base))
    words = (f"Fine-tuning the baseline {'lowered' if move < 0 else 'raised'} cross-lingual alignment (CSLS P@1 at "
             f"layer {block['layer']}, mean over {len(base)} language pairs) by {abs(move):.3f} from the pre-trained "
             "encoder")
    kept, lost, split, single = [], [], [], []
    for method in dict.fromkeys(r["method"] for r in rows if "vs_reference" in r):
        ref = [r["vs_reference"] for r in rows if r["method"] == method and "vs_reference" in r]
        mean = f"{method} {np.mean([t['delta'] for t in ref]):+.3f}"
        per_seed, agree = seed_agreement(ref)
        for group, sign in ((kept, 1), (lost, -1)):
            if all(t.get("p_holm", 1) < 0.05 and t["delta"] * sign > 0 for t in ref):
                if agree:
                    group.append((method, mean))
                elif len(per_seed) < 2:
                    single.append((method, mean))
                else:
                    split.append((method, f"{mean} (per matched seed "
                                  + ", ".join(f"{v:+.3f}" for v in per_seed) + ")"))
    prim = [t for t in block["tests"] if t["family"] == "primary"]
    english = _english_lower(block)
    for group, verb in ((kept, "more"), (lost, "less")):
        if not group:
            continue
        rose = [m for m, _ in group if any(t["method"] == m and t["p_holm"] < 0.05 and t["delta"] > 0 for t in prim)]
        follow = ("yet none of them raised accuracy significantly" if not rose else
                  f"and {', '.join(rose)} also raised accuracy significantly")
        slow = [m for m, _ in group if m in english]
        if verb == "more" and slow:  # an encoder that learned less may simply have moved less from pre-trained
            follow += (f" ({', '.join(slow)} also learned English significantly less in the same steps, so "
                       "keeping alignment may only mean an encoder that moved less from its pre-trained state)")
        words += (f"; {', '.join(w for _, w in group)} kept significantly {verb} of it than the reference in every "
                  f"language pair and in every matched seed{', ' + follow if verb == 'more' else ''}")
    if split:
        words += (f"; for {', '.join(w for _, w in split)} every language pair differs significantly but the "
                  "matched seeds disagree in sign, so training noise, not the method, may carry the difference: "
                  "no claim")
    if single:
        verb = "rests" if len(single) == 1 else "rest"
        words += (f"; {', '.join(w for _, w in single)} {verb} on one matched seed that learned the task, so training "
                  "noise is unmeasured: no claim")
    return words + "."


def collapse_words(block: dict[str, Any]) -> str | None:
    """Per method, how many of its finished runs collapsed to one predicted class (seeds named), with the
    reference methods' counts beside them; None when no run collapsed."""
    if not block.get("collapsed"):
        return None
    runs: dict[str, list[int]] = {}
    for r in block.get("selection", []):
        runs.setdefault(r["method"], []).append(r["seed"])
    bad: dict[str, list[int]] = {}
    for m, sd in block["collapsed"]:
        bad.setdefault(m, []).append(sd)
    return ", ".join(f"{m} {len(bad.get(m, []))} of {len(seeds)} run(s)"
                     + (f" (seed {', '.join(map(str, sorted(bad[m])))})" if m in bad else "")
                     for m, seeds in sorted(runs.items()))


def in_short(agg: dict[str, Any], low_resource: tuple[str, ...]) -> list[str]:
    """``**In short.**`` lines, one per task that has a comparison."""
    lines = []
    for task, block in agg.items():
        prim = [t for t in block["tests"] if t["family"] == "primary"]
        if not prim:
            continue
        seeds = max(len(t["seeds"]) for t in prim)
        noise = "; one seed: the CIs cover item sampling, not training noise" if seeds == 1 else ""
        parts = [f"**In short, {task}** (up to {seeds} seed(s) per method{noise}): {_accuracy_words(block)}."]
        low = _low_resource_words(block, low_resource)
        if low:
            parts.append(low + ".")
        if block.get("collapsed"):
            parts.append(f"Runs that did not learn {task} at all (one predicted class at the end of training): "
                         f"{collapse_words(block)}.")
        align = _alignment_words(block)
        if align:
            parts.append(align)
        lines.append("- " + " ".join(parts))
    return lines
