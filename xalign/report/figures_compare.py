"""Compare figures (typed :class:`~xalign.results.PairComparison` in): before/after layer curves with
per-layer deltas and CIs, model × model CKA."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from xalign.errors import ConfigError
from xalign.report.escaping import plotly_text
from xalign.report.style import PALETTE, TEMPLATE, finite, format_delta, format_p
from xalign.results.registry import metric_label
from xalign.results.types import LayerComparison, PairComparison

__all__ = ["compare_metric_keys", "compare_curves", "model_cka_heatmaps", "default_key"]

#: how each model's line is drawn: the first ("before") wide and pale underneath, later ones narrower and
#: dashed on top, so that equal values show both lines instead of hiding one
_MODEL_LINES = ({"width": 5, "dash": "solid"}, {"width": 2, "dash": "dash"}, {"width": 2, "dash": "dot"},
                {"width": 2, "dash": "dashdot"})
_MODEL_MARKERS = ("circle", "diamond", "square", "triangle-up")


def compare_metric_keys(pair: PairComparison) -> list[str]:
    """Metric keys in ``compare.json`` order of first appearance across layers."""
    keys: dict[str, None] = {}
    for entry in pair.layers:
        keys.update(dict.fromkeys(entry.metrics))
    return list(keys)


def default_key(keys: list[str]) -> str:
    """The metric a comparison shows first: CSLS, else cosine, else any retrieval P@1, else the first key."""
    for pattern in (".csls.", ".cosine.", "."):
        for key in keys:
            if key.startswith("retrieval.") and pattern in key and key.endswith("p@1"):
                return key
    return keys[0]


def _value_trace(layers: list[LayerComparison], key: str, label: str, mi: int, visible: bool) -> go.Scatter:
    ys = [finite(e.metrics[key].values.get(label)) if key in e.metrics else None for e in layers]
    name, metric = plotly_text(label), plotly_text(metric_label(key))
    line = _MODEL_LINES[min(mi, len(_MODEL_LINES) - 1)]
    color = PALETTE[mi % len(PALETTE)]
    return go.Scatter(x=[e.layer for e in layers], y=ys, mode="lines+markers", name=name, visible=visible,
                      legendgroup=label, opacity=0.55 if mi == 0 else 1.0, line={"color": color, **line},
                      marker={"symbol": _MODEL_MARKERS[mi % len(_MODEL_MARKERS)], "size": 9 if mi == 0 else 6},
                      hovertemplate=f"{name}: %{{y:.3f}}<extra>{metric}</extra>",
                      meta={"key": key, "model": label, "role": "value"})


def _delta_traces(layers: list[LayerComparison], key: str, label: str, color: str, visible: bool) -> list[go.Scatter]:
    deltas = [e.metrics[key].deltas.get(label) if key in e.metrics else None for e in layers]
    name, metric = plotly_text(label), plotly_text(metric_label(key))
    out = []
    cis = {e.layer: d.ci95 for e, d in zip(layers, deltas) if d is not None and d.ci95 is not None}
    if cis:
        cx = sorted(cis)
        out.append(go.Scatter(
            x=cx + cx[::-1], y=[cis[c][1] for c in cx] + [cis[c][0] for c in cx[::-1]], fill="toself",
            mode="lines", line={"width": 0, "color": color}, fillcolor=color, opacity=0.18, hoverinfo="skip",
            showlegend=False, legendgroup=label, visible=visible, name=f"{name} 95% CI",
            meta={"key": key, "model": label, "role": "ci95"}))
    text = [f"{format_delta(d.value)} ({format_p(d.p_value) or 'no test'})" if d is not None else "" for d in deltas]
    out.append(go.Scatter(
        x=[e.layer for e in layers], y=[d.value if d is not None else None for d in deltas], mode="lines+markers",
        name=f"Δ {name}", visible=visible, legendgroup=label, showlegend=False, line={"color": color, "width": 2},
        customdata=[d.p_value if d is not None and d.p_value is not None else float("nan") for d in deltas],
        text=text, hovertemplate=f"Δ {name}: %{{text}}<extra>{metric}</extra>",
        meta={"key": key, "model": label, "role": "delta"}))
    return out


def compare_curves(pair: PairComparison, labels: list[str], *, title: str = "",
                   initial_key: str | None = None) -> go.Figure:
    """For one metric at a time (dropdown of human labels): each model's value per layer (top) and each
    after-model's delta vs the first model with its 95% CI band and p-value in the hover (bottom)."""
    if len(labels) < 2:
        raise ConfigError(f"compare needs at least two model labels, got {labels}")
    layers = sorted(pair.layers, key=lambda e: e.layer)
    keys = compare_metric_keys(pair)
    if not keys:
        raise ConfigError(f"{title or 'pair'}: no per-layer metrics to compare")
    before, afters = labels[0], labels[1:]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.58, 0.42],
                        subplot_titles=["value per layer", f"delta vs {plotly_text(before)} (95% CI)"])
    owner: list[str] = []  # metric key of each trace, for the dropdown's visibility lists
    active_key = initial_key if initial_key in keys else default_key(keys)
    for key in keys:
        visible = key == active_key
        for mi, label in enumerate(labels):
            fig.add_trace(_value_trace(layers, key, label, mi, visible), row=1, col=1)
            owner.append(key)
        for ai, label in enumerate(afters):
            for trace in _delta_traces(layers, key, label, PALETTE[(ai + 1) % len(PALETTE)], visible):
                fig.add_trace(trace, row=2, col=1)
                owner.append(key)
    buttons = [{"label": plotly_text(metric_label(key)), "method": "update",
                "args": [{"visible": [k == key for k in owner]}]} for key in keys]
    fig.add_hline(y=0, line={"color": "#999", "width": 1}, row=2, col=1)
    fig.update_xaxes(dtick=1, showticklabels=True)
    fig.update_xaxes(title_text="layer", row=2, col=1)
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
