"""Probe figures: one small function per figure, typed results (:mod:`xalign.results`) or the plain
``details.json`` lists in, ``plotly.graph_objects.Figure`` out.

Values are drawn exactly as stored in ``metrics.json``/``details.json``; nothing is recomputed.
Every trace carries ``meta={"key": ...}`` naming the metric it draws, so tests and readers can
find it. Text from the run (tokens, language codes) is escaped with :mod:`xalign.report.escaping`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from xalign.errors import ConfigError
from xalign.report.escaping import plotly_text
from xalign.report.style import TEMPLATE, color_for, finite
from xalign.results.registry import metric_label
from xalign.results.types import BestLayer, LayerValues, PairMetrics

__all__ = ["layer_curves", "cka_layer_heatmaps", "language_cka_heatmap", "similarity_distributions",
           "word_alignment_example", "curve_series"]

_DASHES = ("solid", "dash", "dot", "dashdot")
#: scoring rules drawn at first; the others start hidden ("legendonly": one click in the legend shows them)
_SHOWN_RULES = ("cosine", "csls")
_WORD_COLORS = {"cosine": "#1f77b4", "csls": "#d62728", "f1": "#e377c2", "aer": "#17becf"}


def _band(x: list[int], lo: list[float], hi: list[float], *, name: str, color: str, group: str,
          key: str) -> go.Scatter:
    """A filled 95% CI band: upper edge left→right, lower edge right→left."""
    return go.Scatter(x=list(x) + list(x)[::-1], y=list(hi) + list(lo)[::-1], fill="toself", mode="lines",
                      line={"width": 0, "color": color}, fillcolor=color, opacity=0.18, hoverinfo="skip",
                      name=name, legendgroup=group, showlegend=False, meta={"key": key, "role": "ci95"})


def curve_series(layers: list[LayerValues], key: str
                 ) -> tuple[list[int], list[float | None], dict[int, tuple[float, float]]]:
    """Per-layer values of metric ``key`` (None where missing) and the ``{layer: (lo, hi)}`` CIs stored with them."""
    xs = [e.layer for e in layers]
    ys = [finite(e.value(key)) for e in layers]
    cis = {e.layer: e.values[key].ci95 for e in layers if key in e.values and e.values[key].ci95 is not None}
    return xs, ys, cis  # type: ignore[return-value]


def _add_curve(fig: go.Figure, layers: list[LayerValues], key: str, *, name: str, color: str,
               dash: str, row: int, visible: bool | str = True) -> bool:
    xs, ys, cis = curve_series(layers, key)
    if all(v is None for v in ys):
        return False
    if cis:
        cx = sorted(cis)
        fig.add_trace(_band(cx, [cis[c][0] for c in cx], [cis[c][1] for c in cx], name=f"{name} 95% CI",
                            color=color, group=key, key=key).update(visible=visible), row=row, col=1)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, legendgroup=key, visible=visible,
                             line={"color": color, "dash": dash, "width": 2}, marker={"size": 5},
                             hovertemplate=f"{name}: %{{y:.3f}}<extra></extra>", meta={"key": key, "role": "value"}),
                  row=row, col=1)
    return True


def _keys(layers: list[LayerValues]) -> list[str]:
    """Metric keys in order of first appearance across layers."""
    seen: dict[str, None] = {}
    for e in layers:
        seen.update(dict.fromkeys(e.values))
    return list(seen)


def _retrieval_rules(keys: list[str]) -> tuple[list[str], list[str]]:
    """Scoring rules and directions with a P@1 (``retrieval.<rule>.<direction>.p@1``), in order of appearance."""
    rules: list[str] = []
    directions: list[str] = []
    for key in keys:
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "retrieval" and parts[3] == "p@1":
            rules += [parts[1]] if parts[1] not in rules else []
            directions += [parts[2]] if parts[2] not in directions else []
    return rules, directions


def _word_keys(keys: list[str]) -> list[str]:
    """BLI P@1 per scoring rule, then word-alignment F1 and AER."""
    bli = [k for k in keys if k.startswith("bli.") and k.endswith(".p@1")]
    return bli + [k for k in ("word_alignment.f1", "word_alignment.aer") if k in keys]


def layer_curves(pair: PairMetrics, *, title: str = "") -> go.Figure:
    """P@1 per layer for every scoring rule and direction with 95% CI bands; cross-lingual CKA per
    layer in a second panel; BLI / word alignment in a third when present; best layers starred."""
    layers = sorted(pair.layers, key=lambda e: e.layer)
    keys = _keys(layers)
    rules, directions = _retrieval_rules(keys)
    cka_keys = [k for k in keys if k.startswith("cka.")]
    word_keys = _word_keys(keys)
    panels = [p for p, present in (("retrieval", bool(rules)), ("cka", bool(cka_keys)), ("word", bool(word_keys)))
              if present]
    if not panels:
        raise ConfigError(f"{title or 'pair'}: no retrieval, CKA or word-level values in any layer")
    subtitles = {"retrieval": "sentence retrieval P@1 (95% CI)", "cka": "cross-lingual CKA", "word": "word level"}
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[subtitles[p] for p in panels])
    row_of = {p: i + 1 for i, p in enumerate(panels)}
    drawn: dict[str, int] = {}
    first = [r for r in rules if r in _SHOWN_RULES] or rules  # a run with only other rules shows those
    for ri, rule in enumerate(rules):
        for di, direction in enumerate(directions):
            key, shown = f"retrieval.{rule}.{direction}.p@1", rule in first
            if _add_curve(fig, layers, key, name=plotly_text(metric_label(key)), color=color_for(rule, ri),
                          dash=_DASHES[di % len(_DASHES)], row=row_of["retrieval"],
                          visible=True if shown else "legendonly") and shown:
                drawn[key] = row_of["retrieval"]  # stars only on curves shown at first
    for ci, key in enumerate(cka_keys):
        leaf = key.split(".")[-1]
        if _add_curve(fig, layers, key, name=plotly_text(metric_label(key)), color=color_for(leaf, ci + 4),
                      dash="solid" if leaf == "linear" else "dash", row=row_of["cka"]):
            drawn[key] = row_of["cka"]
    for key in word_keys:
        parts = key.split(".")
        color = _WORD_COLORS.get(parts[1] if parts[0] == "bli" else parts[-1], "#7f7f7f")
        if _add_curve(fig, layers, key, name=plotly_text(metric_label(key)), color=color,
                      dash="dot" if parts[0] == "bli" else "solid", row=row_of["word"]):
            drawn[key] = row_of["word"]
    _mark_best(fig, pair.best, drawn)
    if "retrieval" in row_of:
        fig.update_yaxes(range=[0, 1.02], title_text="P@1", row=row_of["retrieval"], col=1)
    fig.update_xaxes(dtick=1, showticklabels=True)  # every panel keeps its layer ticks
    fig.update_xaxes(title_text="layer (0 = embeddings)", row=len(panels), col=1)
    fig.update_layout(template=TEMPLATE, title={"text": plotly_text(title)}, height=320 * len(panels) + 80,
                      hovermode="x unified", legend={"groupclick": "togglegroup"})
    return fig


def _mark_best(fig: go.Figure, best: dict[str, BestLayer], drawn: dict[str, int]) -> None:
    by_row: dict[int, list[tuple[int, float, str]]] = {}
    for key, spec in best.items():
        if key in drawn and finite(spec.value) is not None:
            by_row.setdefault(drawn[key], []).append((spec.layer, spec.value, key))
    for i, (row, points) in enumerate(sorted(by_row.items())):
        fig.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name="best layer",
            legendgroup="best", showlegend=i == 0,
            marker={"symbol": "star", "size": 13, "color": "gold", "line": {"color": "black", "width": 1}},
            customdata=[plotly_text(metric_label(p[2])) for p in points],
            hovertemplate="best %{customdata}: layer %{x}, %{y:.3f}<extra></extra>",
            meta={"key": "best", "role": "best", "keys": [p[2] for p in points]}), row=row, col=1)


def _square(matrix: Any, where: str) -> np.ndarray:
    z = np.asarray(matrix, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != z.shape[1] or z.shape[0] == 0:
        raise ConfigError(f"{where}: expected a square matrix, got shape {z.shape}")
    return z


def _heatmap(z: np.ndarray, labels: list[str], *, name: str, key: str, zmin: float | None = None,
             zmax: float | None = None, showscale: bool = True, xlabels: list[str] | None = None) -> go.Heatmap:
    xl = xlabels if xlabels is not None else labels
    return go.Heatmap(z=z.astype(np.float32), x=list(range(len(xl))), y=list(range(len(labels))),
                      colorscale="Viridis", zmin=zmin, zmax=zmax, showscale=showscale, name=name,
                      customdata=[[f"{a} / {b}" for b in xl] for a in labels],
                      hovertemplate="%{customdata}: %{z:.3f}<extra></extra>", meta={"key": key})


def _ticks(fig: go.Figure, labels: list[str], *, axis: str) -> None:
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(tickmode="array", tickvals=list(range(len(labels))), ticktext=labels)


def cka_layer_heatmaps(cka_layers: dict[str, Any], layers: list[int] | None = None, *,
                       title: str = "") -> go.Figure:
    """Layer × layer linear CKA within the model, one heatmap per language (``details.cka_layers``)."""
    langs = [lang for lang, m in cka_layers.items() if m is not None]
    if not langs:
        raise ConfigError("cka_layers: no matrix")
    mats = [_square(cka_layers[lang], f"cka_layers[{lang!r}]") for lang in langs]
    size = mats[0].shape[0]
    ticks = [int(x) for x in (layers if layers is not None and len(layers) == size else range(size))]
    fig = make_subplots(rows=1, cols=len(langs), subplot_titles=[plotly_text(lang) for lang in langs],
                        horizontal_spacing=0.08)
    for i, (lang, z) in enumerate(zip(langs, mats)):
        if z.shape[0] != size:
            raise ConfigError(f"cka_layers[{lang!r}] is {z.shape[0]}x{z.shape[0]}, expected {size}x{size}")
        fig.add_trace(go.Heatmap(z=z.astype(np.float32), x=ticks, y=ticks, colorscale="Viridis", zmin=0, zmax=1,
                                 showscale=i == 0, name=plotly_text(lang), meta={"key": f"cka_layers.{lang}"},
                                 hovertemplate="layer %{y} / layer %{x}: %{z:.3f}<extra></extra>"),
                      row=1, col=i + 1)
        fig.update_xaxes(title_text="layer", dtick=1 if size <= 16 else 2, constrain="domain", row=1, col=i + 1)
        fig.update_yaxes(title_text="layer", dtick=1 if size <= 16 else 2, autorange="reversed",
                         scaleanchor=f"x{i + 1 if i else ''}", row=1, col=i + 1)
    fig.update_layout(template=TEMPLATE, title={"text": plotly_text(title)}, height=460)
    return fig


def language_cka_heatmap(language_cka: dict[str, Any], *, title: str = "") -> go.Figure:
    """Language × language linear CKA at one layer (``details.language_cka``)."""
    langs = [str(x) for x in language_cka.get("languages") or []]
    z = _square(language_cka.get("matrix"), "language_cka.matrix")
    if len(langs) != z.shape[0]:
        raise ConfigError(f"language_cka: {len(langs)} languages for a {z.shape[0]}x{z.shape[0]} matrix")
    labels = [plotly_text(x) for x in langs]
    fig = go.Figure(_heatmap(z, labels, name="language CKA", key="language_cka", zmax=1))
    _ticks(fig, labels, axis="x")
    _ticks(fig, labels, axis="y")
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    fig.update_xaxes(constrain="domain")
    layer = language_cka.get("layer")
    fig.update_layout(template=TEMPLATE, height=420, width=520,
                      title={"text": plotly_text(title or f"language × language CKA (layer {layer})")})
    return fig


def similarity_distributions(similarity: list[dict[str, Any]], *, initial_layer: int | None = None,
                             title: str = "") -> go.Figure:
    """Histograms of cosine(true translation pair) vs cosine(random pair), one layer at a time (slider)."""
    entries = sorted((e for e in similarity if isinstance(e, dict) and "layer" in e), key=lambda e: e["layer"])
    if not entries:
        raise ConfigError("similarity: no per-layer entries")
    layers = [int(e["layer"]) for e in entries]
    active = layers.index(initial_layer) if initial_layer in layers else len(layers) // 2
    fig = go.Figure()
    for li, e in enumerate(entries):
        true = np.asarray(e.get("true") or [], dtype=np.float32)
        rand = np.asarray(e.get("random") or [], dtype=np.float32)
        both = np.concatenate([true, rand])
        lo, hi = (float(both.min()), float(both.max())) if both.size else (-1.0, 1.0)
        bins = {"start": lo, "end": hi + 1e-6, "size": max((hi - lo) / 60, 1e-4)}
        for kind, values, color in (("true", true, "#2ca02c"), ("random", rand, "#7f7f7f")):
            fig.add_trace(go.Histogram(
                x=values, xbins=bins, histnorm="probability density", name=f"{kind} pairs",
                marker={"color": color}, opacity=0.6, visible=li == active, legendgroup=kind,
                hovertemplate=f"{kind} pairs, cos %{{x}}: density %{{y:.2f}}<extra>layer {layers[li]}</extra>",
                meta={"key": f"similarity.{layers[li]}.{kind}", "layer": layers[li]}))
    steps = []
    for li, layer in enumerate(layers):
        visible = [i // 2 == li for i in range(2 * len(layers))]
        steps.append({"method": "restyle", "label": str(layer), "args": [{"visible": visible}]})
    fig.update_layout(template=TEMPLATE, barmode="overlay", height=420, title={"text": plotly_text(title)},
                      xaxis_title="cosine similarity", yaxis_title="density",
                      sliders=[{"active": active, "steps": steps, "currentvalue": {"prefix": "layer "},
                                "pad": {"t": 50}}])
    return fig


def word_alignment_example(example: dict[str, Any], *, title: str = "") -> go.Figure:
    """Similarity heatmap of one sentence pair with predicted links (circles) and gold sure (squares)
    / possible-only (diamonds) links overlaid."""
    src = [str(t) for t in example.get("src_tokens") or []]
    tgt = [str(t) for t in example.get("tgt_tokens") or []]
    z = np.asarray(example.get("similarity"), dtype=np.float64)
    if z.shape != (len(src), len(tgt)) or z.size == 0:
        raise ConfigError(f"word alignment example: similarity is {z.shape}, expected "
                         f"({len(src)} src tokens, {len(tgt)} tgt tokens)")
    ys, xs = [plotly_text(t) for t in src], [plotly_text(t) for t in tgt]
    fig = go.Figure(_heatmap(z, ys, name="similarity", key="similarity", xlabels=xs).update(colorscale="Blues"))

    def links(name: str) -> list[tuple[int, int]]:
        out = []
        for link in example.get(name) or []:
            i, j = int(link[0]), int(link[1])
            if not (0 <= i < len(src) and 0 <= j < len(tgt)):
                raise ConfigError(f"word alignment example: {name} link {i}-{j} outside {len(src)}x{len(tgt)} tokens")
            out.append((i, j))
        return out

    sure = links("gold_sure")
    possible = [p for p in links("gold_possible") if p not in set(sure)]
    marks = (("gold sure", sure, {"symbol": "square-open", "size": 20, "color": "#00c853", "line": {"width": 3}}),
             ("gold possible", possible, {"symbol": "diamond-open", "size": 16, "color": "#ff9800",
                                          "line": {"width": 2.5}}),
             ("predicted", links("pred"), {"symbol": "circle", "size": 9, "color": "#d50000",
                                           "line": {"color": "white", "width": 1}}))
    for name, pts, marker in marks:
        fig.add_trace(go.Scatter(x=[j for _, j in pts], y=[i for i, _ in pts], mode="markers", name=name,
                                 marker=marker, customdata=[f"{ys[i]} / {xs[j]}" for i, j in pts],
                                 hovertemplate=f"{name}: %{{customdata}}<extra></extra>",
                                 meta={"key": name.replace(" ", "_")}))
    _ticks(fig, xs, axis="x")
    _ticks(fig, ys, axis="y")
    fig.update_xaxes(tickangle=-45 if max(map(len, tgt)) > 6 else 0, automargin=True, showgrid=False)
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False)
    fig.update_layout(template=TEMPLATE, title={"text": plotly_text(title)}, height=max(320, 26 * len(src) + 220),
                      legend={"x": 1.12, "y": 1, "xanchor": "left"})
    return fig
