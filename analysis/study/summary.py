"""Short rule-based readings under the verdict: the alignment–accuracy link, the distance analysis and the
low-resource languages. A reading is drawn only where its rule holds: a positive or negative link needs a CI
that excludes 0 over enough languages; "no link" needs a CI that lies inside ±:data:`NULL_BOUND` (a null with
a wide CI is *inconclusive*, never "in line with" a published null); "gains grow with distance" is tested
only when some method gains by the claim rule."""

from __future__ import annotations

from typing import Any

import numpy as np

GASCHI = ("Gaschi et al. (Findings of ACL 2023), who report alignment significantly correlated with transfer "
          "across languages, models and seeds")
VEITSMAN = ("Veitsman et al. (arXiv 2603.18863, 2026), who report embedding distances to be unreliable predictors "
            "of transfer")
MIN_CLUSTERS = 8  # fewer languages: the cluster bootstrap has too few distinct resamples to decide anything
NULL_BOUND = 0.2  # a null reads as "no link" only when the whole CI lies inside ±NULL_BOUND
FEW = "; with so few languages the cluster bootstrap has few distinct resamples, so this interval is not trusted"


def _ci(x: float, ci: list[float]) -> str:
    return f"{x:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]"


def link_reading(ci95: list[float], n_groups: int | None = None) -> str:
    """Which published reading a within-run link CI supports (the words after the colon)."""
    if any(np.isnan(c) for c in ci95):
        return "undefined (a variable is constant across the points): no reading is drawn"
    if n_groups is not None and n_groups < MIN_CLUSTERS:
        return (f"too few languages ({n_groups}) for the cluster interval to decide (it needs {MIN_CLUSTERS} or "
                "more): no reading is drawn")
    if ci95[0] > 0:
        return f"a positive link (the CI excludes 0), in line with {GASCHI}, not with Veitsman et al. (2026)"
    if ci95[1] < 0:
        return ("a negative link (the CI excludes 0: languages whose alignment rose more gained less), which "
                "neither published reading predicts")
    if -NULL_BOUND <= ci95[0] and ci95[1] <= NULL_BOUND:
        return (f"no link beyond ±{NULL_BOUND} (the whole CI lies inside it), in line with {VEITSMAN}, not with "
                "Gaschi et al. (2023)")
    return (f"inconclusive: the CI holds 0 but also links beyond ±{NULL_BOUND}, so it supports neither published "
            "reading")


def any_gain(block: dict[str, Any]) -> bool:
    """Whether some method gains on zero-shot accuracy (or in some language) by the claim rule."""
    return any(t["claim"] > 0 for t in block["tests"] if t["family"] == "primary" or t["family"].startswith("languages:"))


def typology_reading(typ: dict[str, Any], gains: bool) -> str:
    if not gains:
        return "not tested: no method gains by the rule, so there are no gains that could grow with distance"
    if (typ.get("n_groups") or 0) < MIN_CLUSTERS:
        return f"cannot be tested with {typ.get('n_groups')} languages"
    if typ["ci95"][0] > 0:
        return "the change in accuracy grows with distance here (the CI excludes 0)"
    return "not supported: the CI holds 0 or lies below it"


def link_lines(agg: dict[str, Any]) -> list[str]:
    lines = []
    for task, block in agg.items():
        link = block.get("link", {}).get("zero-shot", {}).get("within")
        if link:
            lines.append(f"- {task}: ρ(Δalignment, Δzero-shot accuracy) within runs = {_ci(link['rho'], link['ci95'])} "
                         f"over {link.get('n_groups')} languages ({link['n']} points, cluster bootstrap): "
                         f"{link_reading(link['ci95'], link.get('n_groups'))}.")
        typ = block.get("typology", {}).get("syntax_knn", {}).get("zero-shot", {}).get("within")
        if typ:
            lines.append(f"- {task}: Δzero-shot accuracy vs URIEL syntactic distance from English, ρ = "
                         f"{_ci(typ['rho'], typ['ci95'])}; gains growing with distance: "
                         f"{typology_reading(typ, any_gain(block))}.")
    return lines


def low_resource_lines(agg: dict[str, Any], low: tuple[str, ...]) -> list[str]:
    """Per task × method, the per-language tests of the low-resource languages with the rule's verdict."""
    lines = []
    for task, block in agg.items():
        tests = [t for t in block["tests"] if t["family"].startswith("languages:") and t["column"].split(":")[-1] in low]
        for method in dict.fromkeys(t["method"] for t in tests):
            words = "; ".join(f"{t['column'].split(':')[-1]} {_ci(t['delta'], t['ci95'])} "
                              f"({ {1: 'higher', -1: 'lower'}.get(t['claim'], 'no claim: ' + t['claim_reason']) })"
                              for t in tests if t["method"] == method)
            ref = next(t["reference"] for t in tests if t["method"] == method)
            lines.append(f"- {task} {method} − {ref}: {words}.")
    return lines
