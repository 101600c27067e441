"""Compare figures: before/after layer curves with per-layer deltas and CIs, model × model CKA."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from xalign.report.escaping import plotly_text
from xalign.report.style import PALETTE, TEMPLATE, ci_pair, dig, finite

from xalign.errors import ConfigError
__all__ = ["compare_metric_keys", "compare_curves", "model_cka_heatmaps"]


def compare_metric_keys(pair_block: dict[str, Any]) -> list[str]:
    """Metric keys in ``compare.json`` order of first appearance across layers."""
    keys: list[str] = []
    for entry in pair_block.get("layers") or []:
        for key in (entry.get("metrics") or {}):
            if key not in keys:
                keys.append(key)
    return keys


def _default_key(keys: list[str]) -> str:
    for pattern in (".csls.", ".cosine.", "p@1"):
        for key in keys:
            if key.startswith("retrieval.") and pattern in key and key.endswith("p@1"):
                return key
    return keys[0]


def compare_curves(pair_block: dict[str, Any], labels: list[str], *, title: str = "",
                   initial_key: str | None = None) -> go.Figure:
    """For one metric at a time (dropdown): each model's value per layer (top) and each after-model's
    delta vs the first model with its 95% CI band and p-value in the hover (bottom)."""
    if len(labels) < 2:
        raise ConfigError(f"compare needs at least two model labels, got {labels}")
    layers = sorted(pair_block.get("layers") or [], key=lambda e: e["layer"])
    keys = compare_metric_keys(pair_block)
    if not keys:
        raise ConfigError(f"{title or 'pair'}: no per-layer metrics to compare")
    before, afters = labels[0], labels[1:]
    xs = [int(e["layer"]) for e in layers]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.58, 0.42],
                        subplot_titles=["value per layer", f"delta vs {plotly_text(before)} (95% CI)"])
    owner: list[str] = []  # metric key of each trace, for the dropdown's visibility lists
    active_key = initial_key if initial_key in keys else _default_key(keys)
    for key in keys:
        visible = key == active_key
        name_key = plotly_text(key)
        for mi, label in enumerate(labels):
            ys = [finite(dig(e, "metrics", key, label)) for e in layers]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=plotly_text(label), visible=visible,
                                     legendgroup=label, line={"color": PALETTE[mi % len(PALETTE)], "width": 2},
                                     hovertemplate=f"{plotly_text(label)}: %{{y:.3f}}<extra>{name_key}</extra>",
                                     meta={"key": key, "model": label, "role": "value"}), row=1, col=1)
            owner.append(key)
        for ai, label in enumerate(afters):
            color = PALETTE[(ai + 1) % len(PALETTE)]
            deltas = [finite(dig(e, "metrics", key, "delta", label)) for e in layers]
            pvals = [finite(dig(e, "metrics", key, "p_value", label)) for e in layers]
            cis = {int(e["layer"]): ci for e in layers if (ci := ci_pair(dig(e, "metrics", key, "ci95", label)))}
            if cis:
                cx = sorted(cis)
                fig.add_trace(go.Scatter(
                    x=cx + cx[::-1], y=[cis[c][1] for c in cx] + [cis[c][0] for c in cx[::-1]], fill="toself",
                    mode="lines", line={"width": 0, "color": color}, fillcolor=color, opacity=0.18,
                    hoverinfo="skip", showlegend=False, legendgroup=label, visible=visible,
                    name=f"{plotly_text(label)} 95% CI", meta={"key": key, "model": label, "role": "ci95"}),
                    row=2, col=1)
                owner.append(key)
            fig.add_trace(go.Scatter(
                x=xs, y=deltas, mode="lines+markers", name=f"Δ {plotly_text(label)}", visible=visible,
                legendgroup=label, showlegend=False, line={"color": color, "width": 2},
                customdata=[p if p is not None else float("nan") for p in pvals],
                hovertemplate=f"Δ {plotly_text(label)}: %{{y:+.3f}} (p=%{{customdata:.3g}})<extra>{name_key}</extra>",
                meta={"key": key, "model": label, "role": "delta"}), row=2, col=1)
            owner.append(key)
    buttons = [{"label": plotly_text(key), "method": "update",
                "args": [{"visible": [k == key for k in owner]}]} for key in keys]
    fig.add_hline(y=0, line={"color": "#999", "width": 1}, row=2, col=1)
    fig.update_xaxes(title_text="layer", dtick=1, row=2, col=1)
    fig.update_layout(template=TEMPLATE, height=640, title={"text": plotly_text(title)}, hovermode="x unified",
                      updatemenus=[{"buttons": buttons, "active": keys.index(active_key), "x": 1.0, "xanchor": "right",
                                    "y": 1.13, "yanchor": "bottom", "direction": "down"}],
                      margin={"t": 110}, meta={"keys": keys})
    return fig


def model_cka_heatmaps(model_cka: dict[str, Any], before_label: str, *, layers: list[int] | None = None,
                       title: str = "") -> go.Figure:
    """Layer × layer linear CKA of each after-model (columns) against the before model (rows)."""
    labels = [label for label, m in model_cka.items() if m is not None]
    if not labels:
        raise ConfigError("model_cka: no matrix")
    fig = make_subplots(rows=1, cols=len(labels), horizontal_spacing=0.1,
                        subplot_titles=[f"{plotly_text(before_label)} vs {plotly_text(lab)}" for lab in labels])
    for i, label in enumerate(labels):
        z = np.asarray(model_cka[label], dtype=np.float64)
        if z.ndim != 2 or z.size == 0:
            raise ConfigError(f"model_cka[{label!r}]: expected a matrix, got shape {z.shape}")
        rows = [int(x) for x in (layers if layers is not None and len(layers) == z.shape[0] else range(z.shape[0]))]
        cols = [int(x) for x in (layers if layers is not None and len(layers) == z.shape[1] else range(z.shape[1]))]
        fig.add_trace(go.Heatmap(
            z=z.astype(np.float32), x=cols, y=rows, colorscale="Viridis", zmin=0, zmax=1, showscale=i == 0,
            name=plotly_text(label), meta={"key": f"model_cka.{label}"},
            hovertemplate=(f"{plotly_text(before_label)} layer %{{y}} / {plotly_text(label)} layer %{{x}}: "
                           "%{z:.3f}<extra></extra>")), row=1, col=i + 1)
        fig.update_xaxes(title_text=f"{plotly_text(label)} layer", dtick=1 if len(cols) <= 16 else 2, row=1, col=i + 1)
        fig.update_yaxes(title_text=f"{plotly_text(before_label)} layer", dtick=1 if len(rows) <= 16 else 2,
                         autorange="reversed", row=1, col=i + 1)
    fig.update_layout(template=TEMPLATE, height=460, title={"text": plotly_text(title)})
    return fig
