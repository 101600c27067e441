"""The atlas report: a probe or compare run over many languages that share one pivot (``en-ace_Arab``,
``en-swh_Latn`` … up to the 205 of SIB-200) is drawn as languages × layers instead of one set of figures
per pair.

From the typed long-format results (the same metrics per pair and layer) it builds :class:`AtlasGrid`
objects — one per metric — and from them: the languages × layers heatmap (sortable by score, family,
script, seen/unseen in pre-training), the ranked per-language chart with CIs, compare's per-language Δ
coloured by Holm-adjusted significance, and a train run's accuracy against alignment. Holm's adjustment
and Spearman's ρ are display statistics computed here with the :mod:`xalign.metrics.significance` kernels.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np

from xalign.report import figures, figures_atlas, tables
from xalign.report.figures_atlas import AtlasGrid
from xalign.report.langmeta import lang_id, language_meta
from xalign.report.loaders import CompareRun, ProbeRun
from xalign.report.options import ReportOptions, safe
from xalign.report.page import Block, Section
from xalign.report.style import format_ci, format_delta, format_p
from xalign.results.registry import RETRIEVAL_RULES, RULE_LABELS
from xalign.results.types import Comparison, PairComparison, PairMetrics, ProbeMetrics

logger = logging.getLogger(__name__)

__all__ = ["ATLAS_MIN_PAIRS", "is_atlas", "pivot_of", "probe_grids", "compare_grids", "atlas_layer",
           "atlas_sections", "compare_atlas_sections", "accuracy_alignment_block", "models_table"]

#: from this many pairs sharing one language, a run is drawn as an atlas
ATLAS_MIN_PAIRS = 8
ALPHA = 0.05


def pivot_of(pairs: dict[str, PairMetrics] | dict[str, PairComparison]) -> str | None:
    """The language every pair shares (``en`` in ``en-xx`` pairs, either side), or None."""
    items = list(pairs.values())
    if not items:
        return None
    for side in ("src_lang", "tgt_lang"):
        first = getattr(items[0], side)
        if first and all(getattr(p, side) == first for p in items):
            return first
    return None


def is_atlas(result: ProbeMetrics | Comparison) -> bool:
    """At least :data:`ATLAS_MIN_PAIRS` pairs, all sharing one language."""
    return len(result.pairs) >= ATLAS_MIN_PAIRS and pivot_of(result.pairs) is not None


def _other(pair: PairMetrics | PairComparison, pivot: str) -> str:
    return pair.tgt_lang if pair.src_lang == pivot else pair.src_lang


def _metric_ids(keys: set[str], pivot: str, other: str) -> list[tuple[str, str, str]]:
    """``(id, label, key template)`` of the atlas metrics present: retrieval P@1 per rule both ways, CKA."""
    out = []
    for rule in ("csls", "cosine", *[r for r in RETRIEVAL_RULES if r not in ("csls", "cosine")]):
        for way, (a, b) in (("fwd", (pivot, other)), ("bwd", (other, pivot))):
            if f"retrieval.{rule}.{a}->{b}.p@1" in keys:
                arrow = f"{pivot}→xx" if way == "fwd" else f"xx→{pivot}"
                out.append((f"{rule}.{way}", f"{RULE_LABELS.get(rule, rule)} P@1 {arrow}", f"retrieval.{rule}.{way}.p@1"))
    out += [(k, label, k) for k, label in (("cka.linear", "linear CKA"),) if k in keys]
    return out


def _key(template: str, pivot: str, other: str) -> str:
    return template.replace(".fwd.", f".{pivot}->{other}.").replace(".bwd.", f".{other}->{pivot}.")


def _empty(n: int, m: int) -> np.ndarray:
    return np.full((n, m), np.nan)


def _layers(pairs: dict[str, Any]) -> list[int]:
    return sorted({e.layer for p in pairs.values() for e in p.layers})


def probe_grids(result: ProbeMetrics) -> list[AtlasGrid]:
    """One grid per atlas metric of a probe (headline first: CSLS, else cosine, P@1 pivot→xx)."""
    pivot = pivot_of(result.pairs) or ""
    pairs = list(result.pairs.values())
    layers = _layers(result.pairs)
    first = pairs[0]
    ids = _metric_ids({k for e in first.layers for k in e.values}, pivot, _other(first, pivot))
    langs = [language_meta(_other(p, pivot)) for p in pairs]
    grids = []
    for _, label, template in ids:
        v, lo, hi = (_empty(len(pairs), len(layers)) for _ in range(3))
        for i, pair in enumerate(pairs):
            key = _key(template, pivot, _other(pair, pivot))
            for e in pair.layers:
                mv = e.values.get(key)
                if mv is not None:
                    j = layers.index(e.layer)
                    v[i, j] = mv.value
                    lo[i, j], hi[i, j] = mv.ci95 if mv.ci95 is not None else (mv.value, mv.value)
        grids.append(AtlasGrid(metric=label, langs=langs, layers=layers, values=v, lo=lo, hi=hi))
    return grids


def _holm_columns(p: np.ndarray) -> np.ndarray:
    """Holm across languages, separately for each layer (languages without a p-value are not counted)."""
    from xalign.metrics.significance import holm

    out = np.full_like(p, np.nan)
    for j in range(p.shape[1]):
        ok = np.isfinite(p[:, j])
        if ok.any():
            out[ok, j] = holm(np.clip(p[ok, j], 0.0, 1.0))
    return out


def compare_grids(result: Comparison, label: str) -> tuple[list[AtlasGrid], list[AtlasGrid]]:
    """Per atlas metric: the first model's values, and ``label``'s Δ with CI, p and Holm-adjusted p."""
    pivot = pivot_of(result.pairs) or ""
    pairs = list(result.pairs.values())
    layers = _layers(result.pairs)
    before = str(result.models[0]["label"])
    first = pairs[0]
    ids = _metric_ids({k for e in first.layers for k in e.metrics}, pivot, _other(first, pivot))
    langs = [language_meta(_other(p, pivot)) for p in pairs]
    values, deltas = [], []
    for _, name, template in ids:
        base, d, lo, hi, p = (_empty(len(pairs), len(layers)) for _ in range(5))
        for i, pair in enumerate(pairs):
            key = _key(template, pivot, _other(pair, pivot))
            for e in pair.layers:
                mc, j = e.metrics.get(key), layers.index(e.layer)
                if mc is None:
                    continue
                base[i, j] = np.nan if mc.values.get(before) is None else mc.values[before]
                dv = mc.deltas.get(label)
                if dv is not None:
                    d[i, j] = dv.value
                    lo[i, j], hi[i, j] = dv.ci95 if dv.ci95 is not None else (dv.value, dv.value)
                    p[i, j] = np.nan if dv.p_value is None else dv.p_value
        values.append(AtlasGrid(metric=name, langs=langs, layers=layers, values=base, lo=base, hi=base))
        deltas.append(AtlasGrid(metric=name, langs=langs, layers=layers, values=d, lo=lo, hi=hi, p=p,
                                p_holm=_holm_columns(p)))
    return values, deltas


def atlas_layer(grid: AtlasGrid, requested: int | None) -> tuple[int, str]:
    """The layer the ranked charts show: ``requested``, else the highest mean of ``grid`` across languages."""
    if requested is not None and requested in grid.layers:
        return requested, f"Layer {requested} is shown because it was asked for (--layer {requested})."
    counts = np.isfinite(grid.values).sum(axis=0)
    means = np.where(counts > 0, np.nansum(grid.values, axis=0) / np.maximum(counts, 1), -np.inf)
    j = int(np.argmax(means)) if np.isfinite(means).any() else len(grid.layers) // 2
    mean = float(means[j])
    return grid.layers[j], (f"Layer {grid.layers[j]} is shown: it has the highest {grid.metric} averaged over the "
                            f"{len(grid.langs)} languages ({mean:.3f}); `xalign report --layer N` shows another.")


def _chance(pairs: dict[str, PairMetrics]) -> float | None:
    ns = [p.n for p in pairs.values() if p.n > 0]
    return 1.0 / float(np.median(ns)) if ns else None


def _notes(pairs: dict[str, PairMetrics]) -> Block:
    counts = Counter(text for p in pairs.values() for text in p.notes)
    return tables.Html("".join(tables.note(f"{text} ({n} pair{'s' if n > 1 else ''})", cls="warn")
                               for text, n in counts.items()))


def _language_table(run: ProbeRun, grid: AtlasGrid, template: str, layer: int) -> Block:
    pivot = pivot_of(run.pairs) or ""
    col = grid.column(layer)
    rows = []
    for i, (name, pair) in enumerate(run.pairs.items()):
        meta = grid.langs[i]
        best = pair.best.get(_key(template, pivot, meta.code))
        last = grid.values[i, -1]
        rows.append((meta.code, meta.name or "", meta.script or "", meta.family or "",
                     {True: "yes", False: "no"}.get(meta.seen, "?"), "" if best is None else best.layer,
                     "" if best is None else f"{best.value:.3f}",
                     "" if np.isnan(grid.values[i, col]) else
                     f"{grid.values[i, col]:.3f} {format_ci((float(grid.lo[i, col]), float(grid.hi[i, col])))}",
                     "" if np.isnan(last) else f"{last:.3f}"))
    header = ["code", "language", "script", "family", "in CC-100", "best layer", "at best layer",
              f"at layer {layer} (95% CI)", f"at last layer ({grid.layers[-1]})"]
    return tables.collapsible(f"{grid.metric} for each of the {len(rows)} languages",
                              tables.table(header, rows, caption=f"{grid.metric} per language", cls="summary"))


def _unknown_note(grid: AtlasGrid) -> list[Block]:
    missing = [m.code for m in grid.langs if m.family is None or m.seen is None]
    if not missing:
        return []
    return [tables.note(f"{len(missing)} of {len(grid.langs)} languages are not in xalign's language table "
                        f"(e.g. {', '.join(missing[:5])}): their family and pre-training status show as unknown.")]


def atlas_sections(run: ProbeRun, opts: ReportOptions, *, manifest_title: str = "Summary") -> list[Section]:
    """Summary (with the per-language table), the languages × layers heatmap, the ranked chart, language CKA."""
    grids = probe_grids(run.metrics)
    pivot = pivot_of(run.pairs) or ""
    if not grids:
        return [Section(manifest_title, [tables.note("no retrieval or CKA values to draw an atlas from")])]
    first = next(iter(run.pairs.values()))
    template = _metric_ids({k for e in first.layers for k in e.values}, pivot, _other(first, pivot))[0][2]
    layer, why = atlas_layer(grids[0], opts.layer)
    summary: list[Block] = [
        tables.note(f"{len(run.pairs)} language pairs with {pivot}: one row per language. {why}"),
        *_unknown_note(grids[0]), _notes(run.pairs), _language_table(run, grids[0], template, layer)]
    chance = _chance(run.pairs) if grids[0].metric.startswith(tuple(RULE_LABELS.values())) else None
    figs: list[Block] = [
        safe("atlas heatmap", figures_atlas.language_layer_heatmap, grids, layer=layer,
             title=f"{grids[0].metric} per language and layer (menu: other metrics; buttons: row order)"),
        safe("ranked languages", figures_atlas.ranked_languages, grids[0], layer=layer, chance=chance,
             title=f"{grids[0].metric} at layer {layer}, best first (95% CI)"),
        safe("group curves", figures_atlas.group_curves, grids[0],
             title=f"{grids[0].metric} per layer: languages seen vs unseen in pre-training")]
    sections = [Section(manifest_title, summary), Section("Languages × layers", figs)]
    lang_cka = run.details.get("language_cka")
    if isinstance(lang_cka, dict):
        sections.append(Section("CKA", [safe("language CKA", figures.language_cka_heatmap, lang_cka)]))
    sections.append(Section("Run details", [
        tables.note("Per-pair figures (layer curves, embedding maps, similarity) are left out of an atlas of "
                    f"{len(run.pairs)} pairs; metrics.csv holds every value."),
        tables.collapsible("run manifest", tables.manifest_table(run.manifest))]))
    return sections


def _delta_rows(grid: AtlasGrid, layer: int) -> list[tuple[str, ...]]:
    """One row per language with a Δ at ``layer``, largest first: significance, code, name, family, CC-100, Δ,
    its CI, p and Holm-adjusted p."""
    col = grid.column(layer)
    rows = []
    for i in np.argsort(-np.nan_to_num(grid.values[:, col], nan=-np.inf), kind="stable"):
        if np.isnan(grid.values[i, col]):
            continue
        ph = float(grid.p_holm[i, col]) if grid.p_holm is not None else float("nan")
        m = grid.langs[i]
        rows.append((figures_atlas.significance(float(grid.values[i, col]), ph, ALPHA), m.code, m.name or "",
                     m.family or "", {True: "yes", False: "no"}.get(m.seen, "?"),
                     format_delta(float(grid.values[i, col])),
                     format_ci((float(grid.lo[i, col]), float(grid.hi[i, col])), delta=True),
                     format_p(float(grid.p[i, col])) if grid.p is not None else "", format_p(ph)))
    return rows


def _significant_table(grid: AtlasGrid, layer: int, label: str) -> Block:
    """The count of languages that gained / lost significantly, those languages, and every language collapsed."""
    rows = _delta_rows(grid, layer)
    changed = [r for r in rows if r[0] != "n.s."]
    gains = sum(r[0] == "gain" for r in changed)
    tested = int(np.isfinite(grid.p[:, grid.column(layer)]).sum()) if grid.p is not None else 0
    text = (f"{label} vs the first model, {grid.metric} at layer {layer}: {gains} language(s) gained and "
            f"{len(changed) - gains} lost significantly (Holm across the {tested} tested languages, α = {ALPHA}).")
    header = ["", "code", "language", "family", "in CC-100", "Δ", "Δ 95% CI", "p", "Holm-adjusted p"]
    out = tables.note(text)
    if changed:
        out += tables.table(header, changed, caption="languages that changed significantly", cls="summary")
    out += tables.collapsible(f"Δ for each of the {len(rows)} languages",
                              tables.table(header, rows, caption=f"Δ {grid.metric} at layer {layer}", cls="summary"))
    return tables.Html(out)


def models_table(run: CompareRun) -> Block:
    """The compared models: label, name, revision and run folder."""
    rows = []
    for m in run.comparison.models:
        sub = run.models.get(str(m["label"]))
        model = (sub.manifest.get("model") if sub is not None else None) or {}
        rows.append((m["label"], m.get("name", model.get("name", "")), m.get("revision", model.get("revision", "")),
                     m.get("run_dir", "")))
    return tables.table(["label", "model", "revision", "run dir"], rows, caption="models")


def compare_atlas_sections(run: CompareRun, opts: ReportOptions) -> list[Section]:
    """Models, per-language Δ with CIs coloured by Holm-adjusted significance, Δ per language × layer."""
    labels = run.labels
    summary: list[Block] = [models_table(run)]
    figs: list[Block] = []
    for label in labels[1:]:
        values, deltas = compare_grids(run.comparison, label)
        if not deltas:
            summary.append(tables.note(f"{label}: no retrieval or CKA differences to draw an atlas from"))
            continue
        layer, why = atlas_layer(values[0], opts.layer)
        summary += [tables.note(f"{len(run.comparison.pairs)} language pairs; {label}. {why} (first model's values)"),
                    _significant_table(deltas[0], layer, label)]
        figs += [safe("ranked deltas", figures_atlas.ranked_deltas, deltas[0], layer=layer, alpha=ALPHA,
                      title=f"{label}: Δ {deltas[0].metric} per language at layer {layer} (95% CI)"),
                 safe("delta heatmap", figures_atlas.language_layer_heatmap, deltas, layer=layer, diverging=True,
                      title=f"{label}: Δ per language and layer (menu: other metrics; buttons: row order)"),
                 safe("delta group curves", figures_atlas.group_curves, deltas[0],
                      title=f"{label}: Δ {deltas[0].metric} per layer, languages seen vs unseen in pre-training")]
    sections = [Section("Summary", summary)]
    if figs:
        sections.append(Section("Languages × layers", figs))
    sections.append(Section("Run details", [tables.collapsible("run manifest", tables.manifest_table(run.manifest))]))
    return sections


def accuracy_alignment_block(probe: ProbeRun, eval_block: dict[str, Any], *, chance: float | None) -> Block | None:
    """Accuracy (a train run's ``eval.accuracy``) against alignment (the probe's headline metric at its atlas
    layer), one point per language both have; None when fewer than 3 languages match."""
    grids = probe_grids(probe.metrics) if pivot_of(probe.pairs) is not None else []
    if not grids:
        return None
    grid = grids[0]
    layer, _ = atlas_layer(grid, None)
    col = grid.column(layer)
    accuracy = {lang_id(str(k)): float(v) for k, v in eval_block["accuracy"].items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)}
    idx = [i for i, m in enumerate(grid.langs) if lang_id(m.code) in accuracy and np.isfinite(grid.values[i, col])]
    if len(idx) < 3:
        return None
    x = [float(grid.values[i, col]) for i in idx]
    y = [accuracy[lang_id(grid.langs[i].code)] for i in idx]
    from xalign.metrics.significance import spearman_ci

    rho = spearman_ci(x, y, n_boot=1000, seed=0)
    stat = (f"Spearman ρ = {rho.rho:.2f} {format_ci(rho.ci95)}, n = {rho.n}" if np.isfinite(rho.rho)
            else f"n = {len(idx)}")
    return safe("accuracy vs alignment", figures_atlas.accuracy_vs_alignment, [grid.langs[i] for i in idx], x, y,
                x_label=f"{grid.metric} at layer {layer}", chance=chance,
                title=f"accuracy against alignment per language ({stat})")
