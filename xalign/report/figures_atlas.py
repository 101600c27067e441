"""Atlas figures: one metric over many languages (the 205 of SIB-200 / FLORES-200).

* :func:`language_layer_heatmap`: languages × layers, with buttons that re-sort the rows by score, family,
  script or seen/unseen in pre-training (a relayout of the category order: no data is duplicated), a metric
  dropdown, and each language's name, script and family on hover;
* :func:`ranked_languages`: one value per language at one layer with its 95% CI, best first, coloured by
  whether the language is in the encoder's pre-training data;
* :func:`group_curves`: the mean per layer of languages seen and unseen in pre-training;
* :func:`ranked_deltas`: compare's per-language Δ with CIs, coloured by Holm-adjusted significance;
* :func:`accuracy_vs_alignment`: a train run's accuracy against a probe's alignment, one point per language.

Inputs are :class:`AtlasGrid` objects built by :mod:`xalign.report.build_atlas` from typed results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from xalign.errors import ConfigError
from xalign.report.escaping import plotly_text
from xalign.report.langmeta import LangMeta
from xalign.report.style import TEMPLATE, format_ci, format_delta, format_p

__all__ = ["AtlasGrid", "language_layer_heatmap", "ranked_languages", "ranked_deltas", "accuracy_vs_alignment",
           "group_curves", "SORTS", "sort_orders"]

#: the row orders the heatmap offers, in button order
SORTS = ("score", "family", "script", "pre-training", "code")
_SEEN_COLORS = {True: "#1f77b4", False: "#ff7f0e", None: "#9a9a9a"}
_SEEN_NAMES = {True: "in CC-100 (seen in pre-training)", False: "not in CC-100 (unseen)", None: "unknown"}
_SIG_COLORS = {"gain": "#2ca02c", "loss": "#d62728", "n.s.": "#9a9a9a"}


@dataclass
class AtlasGrid:
    """One metric for every language × layer: ``values``/``lo``/``hi`` are [languages, layers] (NaN where
    absent); ``p``/``p_holm`` the p-values of a difference (compare), Holm-adjusted across languages."""

    metric: str  # a human label, e.g. "CSLS P@1 en→xx"
    langs: list[LangMeta]
    layers: list[int]
    values: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p: np.ndarray | None = None
    p_holm: np.ndarray | None = None

    def column(self, layer: int) -> int:
        if layer not in self.layers:
            raise ConfigError(f"layer {layer} is not in the atlas; its layers are {self.layers}")
        return self.layers.index(layer)


def _ranked(values: np.ndarray) -> list[int]:
    """Indices best first; NaN last; ties by input order."""
    key = np.where(np.isnan(values), np.inf, -values)
    return list(np.argsort(key, kind="stable"))


def sort_orders(grid: AtlasGrid, layer: int) -> dict[str, list[str]]:
    """Language codes in each :data:`SORTS` order, top row first (score = value at ``layer``, best first;
    families and scripts largest group first, seen before unseen; within a group by score; unknown last)."""
    col = grid.values[:, grid.column(layer)]
    by_score = _ranked(col)
    codes = [m.code for m in grid.langs]

    def grouped(attr: str) -> list[str]:
        groups: dict[object, list[int]] = {}
        for i in by_score:
            groups.setdefault(getattr(grid.langs[i], attr), []).append(i)
        keys = sorted(groups, key=lambda g: (g is None, -len(groups[g]) if attr != "seen" else (g is not True), str(g)))
        return [codes[i] for g in keys for i in groups[g]]

    return {"score": [codes[i] for i in by_score], "family": grouped("family"), "script": grouped("script"),
            "pre-training": grouped("seen"), "code": sorted(codes)}


def _hover(langs: list[LangMeta]) -> list[str]:
    return [plotly_text(m.describe()) for m in langs]


def language_layer_heatmap(grids: list[AtlasGrid], *, layer: int, title: str = "", diverging: bool = False
                           ) -> go.Figure:
    """Languages (rows) × layers (columns) of ``grids[0]``, a dropdown for the other grids' metrics, and
    buttons re-sorting the rows (orders from ``grids[0]`` at ``layer``); ``diverging`` centres colours on 0."""
    if not grids or not grids[0].langs:
        raise ConfigError("atlas heatmap: no languages")
    g0 = grids[0]
    codes = [plotly_text(m.code) for m in g0.langs]
    hover = _hover(g0.langs)
    custom = [[h] * len(g0.layers) for h in hover]
    scale = {"colorscale": "RdBu", "zmid": 0.0} if diverging else {"colorscale": "Viridis", "zmin": 0.0, "zmax": 1.0}
    fig = go.Figure(go.Heatmap(
        z=np.round(g0.values, 4).tolist(), x=[str(x) for x in g0.layers], y=codes, customdata=custom, **scale,
        colorbar={"title": {"text": "Δ" if diverging else "value"}}, xgap=1, ygap=0,
        hovertemplate="%{customdata}<br>layer %{x}: %{z:.3f}<extra>%{y}</extra>", meta={"key": "atlas.heatmap"}))
    orders = sort_orders(g0, layer)
    sort_buttons = [{"label": f"sort: {name}", "method": "relayout",
                     "args": [{"yaxis.categoryorder": "array", "yaxis.categoryarray": [plotly_text(c) for c in
                                                                                       orders[name]][::-1]}]}
                    for name in SORTS]
    n = len(codes)
    height, top, bottom = max(460, 12 * n + 230), 170, 30
    above_ticks = 1 + 42 / (height - top - bottom)  # menus sit between the title and the layer ticks on top
    menus = [{"type": "buttons", "direction": "right", "buttons": sort_buttons, "x": 0, "xanchor": "left",
              "y": above_ticks, "yanchor": "bottom", "showactive": True, "active": 0}]
    if len(grids) > 1:
        menus.append({"buttons": [{"label": plotly_text(g.metric), "method": "restyle",
                                   "args": [{"z": [np.round(g.values, 4).tolist()]}, [0]]} for g in grids],
                      "x": 1.0, "xanchor": "right", "y": above_ticks, "yanchor": "bottom",
                      "direction": "down", "active": 0})
    fig.update_layout(
        template=TEMPLATE, title={"text": plotly_text(title), "y": 1 - 20 / height, "yanchor": "top"}, height=height,
        updatemenus=menus, margin={"t": top, "b": bottom, "l": 90},
        meta={"sorts": list(SORTS), "orders": orders, "metrics": [g.metric for g in grids]},
        annotations=[{"text": plotly_text(f"rows: score = {g0.metric} at layer {layer}; groups (family, script, "
                                          "pre-training) largest first, by score inside; hover a cell for the "
                                          "language"), "xref": "paper", "yref": "paper", "x": 0,
                      "y": above_ticks + 40 / (height - top - bottom), "yanchor": "bottom", "showarrow": False,
                      "font": {"size": 11, "color": "#666"}, "align": "left"}],
        xaxis={"title": {"text": "layer"}, "side": "top", "type": "category"},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": [plotly_text(c) for c in
                                                                             orders["score"]][::-1],
               "tickfont": {"size": 9 if n > 40 else 11}, "automargin": True})
    return fig


def _chance_line(fig: go.Figure, chance: float | None, label: str) -> None:
    if chance is not None:
        fig.add_hline(y=chance, line={"color": "#444", "dash": "dash", "width": 1}, annotation_text=label,
                      annotation_position="top right")


def ranked_languages(grid: AtlasGrid, *, layer: int, chance: float | None = None, title: str = "") -> go.Figure:
    """The value of every language at ``layer`` with its 95% CI, best first, coloured by pre-training."""
    col = grid.column(layer)
    order = [i for i in _ranked(grid.values[:, col]) if not np.isnan(grid.values[i, col])]
    if not order:
        raise ConfigError(f"atlas: no language has {grid.metric} at layer {layer}")
    codes = [plotly_text(grid.langs[i].code) for i in order]
    fig = go.Figure()
    for seen in (True, False, None):
        idx = [i for i in order if grid.langs[i].seen is seen]
        if not idx:
            continue
        v, lo, hi = grid.values[idx, col], grid.lo[idx, col], grid.hi[idx, col]
        fig.add_trace(go.Scatter(
            x=[plotly_text(grid.langs[i].code) for i in idx], y=v.tolist(), mode="markers", name=_SEEN_NAMES[seen],
            marker={"color": _SEEN_COLORS[seen], "size": 6},
            error_y={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - v).tolist(),
                     "arrayminus": np.nan_to_num(v - lo).tolist(), "thickness": 1, "width": 0,
                     "color": _SEEN_COLORS[seen]},
            customdata=[plotly_text(f"{grid.langs[i].describe()} · 95% CI "
                                    f"{format_ci((float(grid.lo[i, col]), float(grid.hi[i, col])))}") for i in idx],
            hovertemplate="%{customdata}<br>%{y:.3f}<extra>%{x}</extra>",
            meta={"key": "atlas.ranked", "seen": seen}))
    _chance_line(fig, chance, f"chance {chance:.3f}" if chance is not None else "")
    return _language_axis(fig, codes, title, f"{grid.metric}, layer {layer}")


def _language_axis(fig: go.Figure, codes: list[str], title: str, y_title: str) -> go.Figure:
    """The layout of a one-bar-per-language chart: languages in ``codes`` order on a category axis (small,
    vertical labels past 40 languages), the legend above."""
    many = len(codes) > 40
    fig.update_layout(template=TEMPLATE, title={"text": plotly_text(title)}, height=460,
                      yaxis={"title": {"text": plotly_text(y_title)}},
                      xaxis={"type": "category", "categoryorder": "array", "categoryarray": codes,
                             "tickfont": {"size": 7 if many else 11}, "tickangle": -90 if many else -45},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
                      meta={"order": codes})
    return fig


def group_curves(grid: AtlasGrid, *, title: str = "") -> go.Figure:
    """Mean of ``grid`` per layer for languages seen / unseen in pre-training (and unknown), with the
    interquartile range as a band: where in the network the long tail falls behind."""
    fig = go.Figure()
    for seen in (True, False, None):
        idx = [i for i, m in enumerate(grid.langs) if m.seen is seen]
        if not idx:
            continue
        v = grid.values[idx]
        ok = np.isfinite(v).any(axis=0)
        xs = [layer for layer, good in zip(grid.layers, ok) if good]
        if not xs:
            continue
        with np.errstate(all="ignore"):
            mean = np.nanmean(v[:, ok], axis=0)
            q1, q3 = np.nanpercentile(v[:, ok], 25, axis=0), np.nanpercentile(v[:, ok], 75, axis=0)
        color = _SEEN_COLORS[seen]
        name = f"{_SEEN_NAMES[seen]}: {len(idx)} languages"
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=q3.tolist() + q1[::-1].tolist(), fill="toself", mode="lines",
                                 line={"width": 0, "color": color}, fillcolor=color, opacity=0.15, hoverinfo="skip",
                                 showlegend=False, legendgroup=str(seen), meta={"key": "atlas.group_iqr", "seen": seen}))
        fig.add_trace(go.Scatter(x=xs, y=mean.tolist(), mode="lines+markers", name=plotly_text(name),
                                 legendgroup=str(seen), line={"color": color, "width": 2},
                                 hovertemplate=f"{plotly_text(name)}<br>layer %{{x}}: mean %{{y:.3f}}<extra></extra>",
                                 meta={"key": "atlas.group_mean", "seen": seen}))
    if not fig.data:
        raise ConfigError(f"atlas: no values of {grid.metric}")
    fig.update_layout(template=TEMPLATE, title={"text": plotly_text(title)}, height=420,
                      xaxis={"title": {"text": "layer (0 = embeddings)"}, "dtick": 1},
                      yaxis={"title": {"text": plotly_text(f"{grid.metric}: mean, band = 25–75%")}})
    return fig


def significance(delta: float, p_holm: float | None, alpha: float = 0.05) -> str:
    """``"gain"``/``"loss"`` when the Holm-adjusted p-value is at most ``alpha``, else ``"n.s."``."""
    if p_holm is None or not np.isfinite(p_holm) or p_holm > alpha:
        return "n.s."
    return "gain" if delta > 0 else "loss"


def ranked_deltas(grid: AtlasGrid, *, layer: int, title: str = "", alpha: float = 0.05) -> go.Figure:
    """Per-language Δ at ``layer`` with its 95% CI, largest gain first, coloured by Holm-adjusted significance."""
    col = grid.column(layer)
    order = [i for i in _ranked(grid.values[:, col]) if not np.isnan(grid.values[i, col])]
    if not order:
        raise ConfigError(f"atlas: no language has a Δ of {grid.metric} at layer {layer}")
    p = grid.p[:, col] if grid.p is not None else np.full(len(grid.langs), np.nan)
    ph = grid.p_holm[:, col] if grid.p_holm is not None else np.full(len(grid.langs), np.nan)
    codes = [plotly_text(grid.langs[i].code) for i in order]
    fig = go.Figure()
    for sig in ("gain", "loss", "n.s."):
        idx = [i for i in order if significance(float(grid.values[i, col]), float(ph[i]), alpha) == sig]
        if not idx:
            continue
        v, lo, hi = grid.values[idx, col], grid.lo[idx, col], grid.hi[idx, col]
        text = [plotly_text(grid.langs[i].describe()) + "<br>" + plotly_text(
            f"Δ {format_delta(float(grid.values[i, col]))} "
            f"{format_ci((float(grid.lo[i, col]), float(grid.hi[i, col])), delta=True)}, "
            f"{format_p(float(p[i])) if np.isfinite(p[i]) else 'no test'}"
            f"{', Holm-adjusted ' + format_p(float(ph[i])) if np.isfinite(ph[i]) else ''}") for i in idx]
        fig.add_trace(go.Scatter(
            x=[plotly_text(grid.langs[i].code) for i in idx], y=v.tolist(), mode="markers",
            name={"gain": f"significant gain (Holm α = {alpha})", "loss": f"significant loss (Holm α = {alpha})",
                  "n.s.": "not significant"}[sig],
            marker={"color": _SIG_COLORS[sig], "size": 6},
            error_y={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - v).tolist(),
                     "arrayminus": np.nan_to_num(v - lo).tolist(), "thickness": 1, "width": 0,
                     "color": _SIG_COLORS[sig]},
            customdata=text, hovertemplate="%{customdata}<extra>%{x}</extra>", meta={"key": "atlas.delta", "sig": sig}))
    fig.add_hline(y=0, line={"color": "#444", "width": 1})
    return _language_axis(fig, codes, title, f"Δ {grid.metric}, layer {layer}")


def accuracy_vs_alignment(langs: list[LangMeta], alignment: list[float], accuracy: list[float], *,
                          x_label: str, chance: float | None = None, title: str = "") -> go.Figure:
    """One point per language: alignment (x) against task accuracy (y), coloured by pre-training."""
    if not (len(langs) == len(alignment) == len(accuracy)) or not langs:
        raise ConfigError(f"accuracy vs alignment: {len(langs)} languages, {len(alignment)} alignment values, "
                          f"{len(accuracy)} accuracies")
    fig = go.Figure()
    for seen in (True, False, None):
        idx = [i for i, m in enumerate(langs) if m.seen is seen]
        if idx:
            fig.add_trace(go.Scatter(
                x=[alignment[i] for i in idx], y=[accuracy[i] for i in idx], mode="markers", name=_SEEN_NAMES[seen],
                marker={"color": _SEEN_COLORS[seen], "size": 7, "opacity": 0.85},
                text=[plotly_text(langs[i].code) for i in idx], customdata=_hover([langs[i] for i in idx]),
                hovertemplate="%{customdata}<br>alignment %{x:.3f}, accuracy %{y:.3f}<extra>%{text}</extra>",
                meta={"key": "atlas.accuracy_vs_alignment", "seen": seen}))
    _chance_line(fig, chance, f"chance accuracy {chance:.3f}" if chance is not None else "")
    fig.update_layout(template=TEMPLATE, title={"text": plotly_text(title)}, height=480,
                      xaxis={"title": {"text": plotly_text(x_label)}}, yaxis={"title": {"text": "accuracy"}},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    return fig
