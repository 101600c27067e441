"""analysis/study_report.html: the figures of the verdict, drawn from the aggregate RESULTS.md is written from,
as one self-contained offline page (:func:`xalign.report.page.render_page`: plotly.js inlined, no network).

Figures: per task, each method's Δ against its reference with seed-aware 95% CIs (zero-shot, generalized,
English); the generalized control (mixed − same language on the same items, per method and per gold class);
the Δalignment–Δaccuracy points of the finished tasks; per-layer alignment curves. The SIB-200 figures (the
205-language map of Δaccuracy and Δalignment, the link scatter over ~200 languages) are placeholders that say
so until SIB-200 units exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.study.aggregate import Results, layer_scores

COLUMNS = (("zero-shot", "zero-shot"), ("generalized", "generalized (mixed cells)"), ("english", "English"),
           ("mixed-same", "generalized control: mixed − same"))


def _err(rows: list[dict[str, Any]], key: str = "delta") -> dict[str, Any]:
    return {"type": "data", "symmetric": False, "array": [r["ci95"][1] - r[key] for r in rows],
            "arrayminus": [r[key] - r["ci95"][0] for r in rows]}


def delta_figure(task: str, block: dict[str, Any]) -> Any:
    """Per method − reference: Δ with its seed-aware 95% CI for zero-shot, generalized and English accuracy and
    for the generalized control (mixed − same language on the same items)."""
    import plotly.graph_objects as go

    from analysis.study.verdict import _find
    from xalign.report.escaping import plotly_text as esc

    fig = go.Figure()
    methods = list(dict.fromkeys(t["method"] for t in block["tests"]))
    for col, name in COLUMNS:
        rows = [(m, _find(block, m, col)) for m in methods]
        rows = [(m, t) for m, t in rows if t is not None]
        if rows:
            fig.add_scatter(name=esc(name), mode="markers", x=[esc(f"{m} − {t['reference']}") for m, t in rows],
                            y=[t["delta"] for _, t in rows], error_y=_err([t for _, t in rows]),
                            text=[esc(f"per seed {', '.join(f'{v:+.3f}' for v in t['seed_deltas'])}; "
                                      f"claim {t['claim']:+d} ({t['claim_reason']})") for _, t in rows])
    fig.add_hline(y=0, line_dash="dot")
    fig.update_layout(title=esc(f"{task}: Δ accuracy vs reference (seed-aware 95% CI: seeds, then items)"),
                      yaxis_title="Δ accuracy", height=420, scattermode="group")
    return fig


def generalized_figure(task: str, block: dict[str, Any]) -> Any:
    """Mixed − same-language accuracy per method, overall and per gold class (seed means)."""
    import plotly.graph_objects as go

    from xalign.report.escaping import plotly_text as esc

    rows = block.get("generalized_readout", [])
    fig = go.Figure()
    fig.add_bar(name="all items", x=[esc(r["method"]) for r in rows], y=[r["diff"] for r in rows])
    classes = list(dict.fromkeys(c["class"] for r in rows for c in r.get("by_class", [])))
    for cls in classes:
        fig.add_bar(name=esc(f"gold {cls}"), x=[esc(r["method"]) for r in rows],
                    y=[next((c["diff"] for c in r.get("by_class", []) if c["class"] == cls), None) for r in rows])
    fig.update_layout(title=esc(f"{task}: generalized control — mixed- minus same-language accuracy, same items "
                                "(seed mean; per gold class = recall difference)"), barmode="group",
                      yaxis_title="mixed − same", height=420)
    return fig


def link_figure(task: str, block: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    from xalign.report.escaping import plotly_text as esc

    sc = go.Figure()
    for m in dict.fromkeys(p["method"] for p in block["link_points"]):
        pts = [p for p in block["link_points"] if p["method"] == m]
        sc.add_scatter(name=esc(m), mode="markers", x=[p["d_align"] for p in pts], y=[p["d_acc"] for p in pts],
                       text=[esc(f"{p['lang']} seed {p['seed']}") for p in pts])
    sc.update_layout(title=esc(f"{task}: Δalignment (layer {block['layer']}) vs Δzero-shot accuracy, per language × "
                               "seed"), xaxis_title="Δ CSLS P@1", yaxis_title="Δ accuracy", height=420)
    return sc


def curves_figure(task: str, results: Results) -> Any:
    import plotly.graph_objects as go

    from xalign.report.escaping import plotly_text as esc

    corpus = f"{task}-dev"
    fig = go.Figure()
    for (t, m, s), rec in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2] or -1)):
        if t == task and corpus in rec.get("alignment", {}):
            fig.add_scatter(name=esc(f"{m} {s if s is not None else ''}"),
                            y=[float(v) for v in np.asarray(layer_scores(rec, corpus))])
    fig.update_layout(title=esc(f"{task}: CSLS P@1 per layer (mean of both directions and all en–xx pairs)"),
                      xaxis_title="layer", height=420)
    return fig


def report_html(results: Results, agg: dict[str, Any], *, missing: list[tuple] = ()) -> str:
    """The page (a string; the caller writes it). Every label goes through ``plotly_text``/``html_text``; the
    page writer numbers the figures, so the same units rebuild a byte-identical page."""
    from xalign.report.page import Section, render_page
    from xalign.report.tables import note

    sections = [Section("Verdict figures", [note(
        "Each Δ is method − reference on the same items; error bars are seed-aware 95% intervals (seeds, then "
        "items). Claims follow the rule in RESULTS.md (Holm p < 0.05, at least 3 seeds, all of one sign); hover a "
        "point for its per-seed differences.")])]
    if missing:
        sections[0].blocks.append(note(f"{len(missing)} unit(s) of the design are missing; figures use finished units."))
    for task, block in agg.items():
        blocks: list[Any] = []
        if block["tests"]:
            blocks.append(delta_figure(task, block))
        if block.get("generalized_readout"):
            blocks.append(generalized_figure(task, block))
        if block.get("link_points"):
            blocks.append(link_figure(task, block))
        blocks.append(curves_figure(task, results))
        sections.append(Section(task, blocks))
    have_sib = "sib200" in agg
    if not have_sib:
        sections.append(Section("SIB-200 (205 languages)", [note(
            "Placeholder: no SIB-200 unit is committed yet, so the 205-language map of Δaccuracy and Δalignment and "
            "the Δalignment–Δaccuracy scatter over ~200 languages are not drawn. The units are listed by "
            "`python -m analysis.study --plan` (they need the sib200 task).", cls="warn")]))
    return render_page("Robust cross-lingual fine-tuning: the study's figures", sections,
                       subtitle="rebuilt from analysis/results/ by python -m analysis.study --rewrite-results")
