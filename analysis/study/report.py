"""analysis/study_report.html: the study's figures, drawn from the aggregate RESULTS.md is written from."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.study.aggregate import Results, layer_scores


def _layer_mean(rec: dict[str, Any], corpus: str, kind: str) -> list[float] | None:
    """Per layer: linear CKA over the en–xx pairs (``cka``) or model×model CKA over languages (``moved``)."""
    block = rec.get("alignment", {}).get(corpus, {})
    vals = ([p["cka"]["value"] for p in block.get("pairs", {}).values() if "cka" in p] if kind == "cka"
            else [v["value"] for v in block.get("model_cka", {}).values()])
    return [float(x) for x in np.mean(vals, axis=0)] if vals else None


def report_html(results: Results, agg: dict[str, Any]) -> str:
    """From the loaded units and their aggregate (:func:`analysis.study.render.full_aggregate`): accuracy per
    language with CIs, the transfer control per language (Δgap vs reference with CIs), Δalignment vs Δaccuracy,
    per-layer alignment curves per method (CSLS P@1, linear CKA, model×model CKA). Every label goes through
    :func:`xalign.report.escaping.plotly_text`; plotly.js is loaded from its CDN so the committed page stays
    small, and the figures' ids are fixed so that a rebuild from the same units is byte-identical."""
    import plotly.graph_objects as go

    from xalign.report.escaping import html_text
    from xalign.report.escaping import plotly_text as esc

    figs = []
    for task, block in agg.items():
        fig = go.Figure()
        for m in dict.fromkeys(r["method"] for r in block["accuracy"]):
            rows = [r for r in block["accuracy"] if r["method"] == m]
            fig.add_bar(name=esc(m), x=[esc(f"{r['split']}:{r['lang']}") for r in rows], y=[r["accuracy"] for r in rows],
                        error_y={"type": "data", "symmetric": False, "array": [r["ci95"][1] - r["accuracy"] for r in rows],
                                 "arrayminus": [r["accuracy"] - r["ci95"][0] for r in rows]})
        fig.update_layout(title=esc(f"{task}: accuracy per language (95% CI)"), barmode="group")
        figs.append(fig)
        gaps = [t for t in block.get("transfer", []) if t["family"].startswith("gap-languages:")]
        if gaps:
            gf = go.Figure()
            for m in dict.fromkeys(t["method"] for t in gaps):
                rows = [t for t in gaps if t["method"] == m]
                gf.add_bar(name=esc(f"{m} − {rows[0]['reference']}"), x=[esc(t["column"]) for t in rows],
                           y=[t["delta"] for t in rows],
                           error_y={"type": "data", "symmetric": False, "array": [t["ci95"][1] - t["delta"] for t in rows],
                                    "arrayminus": [t["delta"] - t["ci95"][0] for t in rows]})
            gf.update_layout(title=esc(f"{task}: transfer control — Δ(xx − en) vs reference, same items (95% CI; "
                                       "> 0: loses less from English)"), barmode="group", yaxis_title="Δ gap")
            figs.append(gf)
        if block.get("link_points"):
            sc = go.Figure()
            for m in dict.fromkeys(p["method"] for p in block["link_points"]):
                pts = [p for p in block["link_points"] if p["method"] == m]
                sc.add_scatter(name=esc(m), mode="markers", x=[p["d_align"] for p in pts], y=[p["d_acc"] for p in pts],
                               text=[esc(f"{p['lang']} seed {p['seed']}") for p in pts])
            sc.update_layout(title=esc(f"{task}: Δalignment (layer {block['layer']}) vs Δzero-shot accuracy"),
                             xaxis_title="Δ CSLS P@1", yaxis_title="Δ accuracy")
            figs.append(sc)
        corpus = f"{task}-dev"
        for kind, title, fn in (("p1", "CSLS P@1 per layer (mean of both directions and all en–xx pairs)",
                                 lambda r: layer_scores(r, corpus).tolist()),
                                ("cka", "linear CKA en–xx per layer (mean over pairs)",
                                 lambda r: _layer_mean(r, corpus, "cka")),
                                ("moved", "model×model CKA per layer, trained vs pre-trained (1 = unmoved)",
                                 lambda r: _layer_mean(r, corpus, "moved"))):
            curves = go.Figure()
            for (t, m, s), rec in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2] or -1)):
                y = fn(rec) if t == task and corpus in rec.get("alignment", {}) else None
                if y:
                    curves.add_scatter(name=esc(f"{m} {s if s is not None else ''}"), y=y)
            curves.update_layout(title=esc(f"{task}: {title}"), xaxis_title="layer")
            figs.append(curves)
    body = "".join(f.to_html(full_html=False, include_plotlyjs="cdn" if i == 0 else False, div_id=f"study-figure-{i}")
                   for i, f in enumerate(figs))  # fixed ids: the same units rebuild a byte-identical page
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html_text('Study report')}</title></head>"
            f"<body>{body}</body></html>")
