"""The embedding map: 2-D projections of both languages' sentence embeddings, one layer at a time.

Sentence text is stored once (as escaped hover text on the base traces); each layer is a plotly
frame holding only the coordinates, selected with a slider. Hovering a sentence highlights its
translation: the page's script (see :mod:`xalign.report.page`) reads ``layout.meta`` to find the two
language traces and the highlight trace. A third trace joins translation pairs (hidden until
toggled in the legend).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from xalign.report.escaping import hover_text, plotly_text
from xalign.report.projection import PairProjection
from xalign.report.style import TEMPLATE

from xalign.errors import ConfigError
__all__ = ["embedding_map", "MAP_ROLE"]

MAP_ROLE = "embedding-map"
_SRC, _TGT, _LINES, _HIGHLIGHT = 0, 1, 2, 3


def _pair_lines(src_xy: np.ndarray, tgt_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of segments src→tgt separated by NaN gaps: [x_s, x_t, NaN, ...]."""
    m = src_xy.shape[0]
    xs = np.full(3 * m, np.nan, dtype=np.float32)
    ys = np.full(3 * m, np.nan, dtype=np.float32)
    xs[0::3], xs[1::3] = src_xy[:, 0], tgt_xy[:, 0]
    ys[0::3], ys[1::3] = src_xy[:, 1], tgt_xy[:, 1]
    return xs, ys


def _q(values: np.ndarray) -> list[float | None]:
    """Coordinates rounded to 4 decimals as a plain list (NaN → None, a gap).

    Plain JSON numbers rather than base64 typed arrays: the page's hover handler reads the
    partner's coordinates from ``gd.data``, where plotly.js keeps typed-array specs undecoded.
    """
    rounded = np.round(np.asarray(values, dtype=np.float64), 4)
    return [None if np.isnan(v) else float(v) for v in rounded.tolist()]


def _caption(method: str, n: int, joint: int) -> str:
    if joint > 1:  # side-by-side maps are narrow: the short form
        return f"{method.upper()} of {n} pairs, one fit for the {joint} models' maps; hover: its translation"
    hint = " (--projection umap: UMAP)" if method == "pca" else ""
    return f"{method.upper()} of {n} pairs{hint}; hover a sentence to see its translation"


def embedding_map(projection: PairProjection, src_texts: list[str], tgt_texts: list[str], *, src_lang: str,
                  tgt_lang: str, initial_layer: int | None = None, title: str = "",
                  height: int = 560, joint: int = 1) -> go.Figure:
    """Scatter of the projected sentences of both languages with a layer slider.

    ``src_texts``/``tgt_texts`` are the full corpus sides; ``projection.index`` selects the shown
    sentences. ``customdata`` of each point is its sentence index in the corpus. ``joint``: how many
    models' maps share this projection (said in the caption).
    """
    index = np.asarray(projection.index)
    if len(src_texts) != len(tgt_texts):
        raise ConfigError(f"{len(src_texts)} source texts but {len(tgt_texts)} target texts")
    if index.size and int(index.max()) >= len(src_texts):
        raise ConfigError(f"projection shows sentence {int(index.max())} of a {len(src_texts)}-sentence corpus")
    layers = list(projection.layers)
    if not layers:
        raise ConfigError("projection has no layers")
    active = layers.index(initial_layer) if initial_layer in layers else len(layers) // 2
    s_xy, t_xy = projection.src_xy[active], projection.tgt_xy[active]
    src_name, tgt_name = plotly_text(src_lang), plotly_text(tgt_lang)
    ids = index.astype(np.int32)

    def lang_trace(xy: np.ndarray, texts: list[str], name: str, color: str, symbol: str) -> go.Scatter:
        return go.Scatter(
            x=_q(xy[:, 0]), y=_q(xy[:, 1]), mode="markers", name=name,
            marker={"size": 6, "color": color, "opacity": 0.75, "symbol": symbol},
            hovertext=[hover_text(texts[i]) for i in index], customdata=ids,
            hovertemplate=f"%{{hovertext}}<extra>{name} #%{{customdata}}</extra>",
            meta={"role": "language"})

    lx, ly = _pair_lines(s_xy, t_xy)
    fig = go.Figure([
        lang_trace(s_xy, src_texts, src_name, "#1f77b4", "circle"),
        lang_trace(t_xy, tgt_texts, tgt_name, "#e4572e", "diamond"),
        go.Scatter(x=_q(lx), y=_q(ly), mode="lines", name="translation pairs", visible="legendonly",
                   line={"color": "rgba(90,90,90,0.35)", "width": 1}, hoverinfo="skip", meta={"role": "lines"}),
        go.Scatter(x=[], y=[], mode="lines+markers", name="hovered pair", showlegend=False, hoverinfo="skip",
                   line={"color": "black", "width": 2},
                   marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"color": "black", "width": 2.5}},
                   meta={"role": "highlight"}),
    ])
    frames = []
    for li, layer in enumerate(layers):
        fx, fy = _pair_lines(projection.src_xy[li], projection.tgt_xy[li])
        frames.append(go.Frame(name=str(layer), traces=[_SRC, _TGT, _LINES], data=[
            go.Scatter(x=_q(projection.src_xy[li][:, 0]), y=_q(projection.src_xy[li][:, 1])),
            go.Scatter(x=_q(projection.tgt_xy[li][:, 0]), y=_q(projection.tgt_xy[li][:, 1])),
            go.Scatter(x=_q(fx), y=_q(fy)),
        ]))
    fig.frames = frames
    steps = [{"method": "animate", "label": str(layer),
              "args": [[str(layer)], {"mode": "immediate", "frame": {"duration": 0, "redraw": False},
                                      "transition": {"duration": 0}}]} for layer in layers]
    axis = {"range": [-1.08, 1.08], "showticklabels": False, "showgrid": False, "zeroline": False, "ticks": "",
            "title": {"text": ""}}
    fig.update_layout(
        template=TEMPLATE, height=height, title={"text": plotly_text(title)}, hovermode="closest",
        xaxis=axis, yaxis={**axis, "scaleanchor": "x"}, legend={"x": 1.01, "y": 1, "xanchor": "left"},
        sliders=[{"active": active, "steps": steps, "currentvalue": {"prefix": "layer "}, "pad": {"t": 30}}],
        meta={"role": MAP_ROLE, "src_trace": _SRC, "tgt_trace": _TGT, "highlight_trace": _HIGHLIGHT,
              "method": projection.method, "layers": layers},
        annotations=[{"text": _caption(projection.method, len(index), joint), "xref": "paper", "yref": "paper", "x": 0, "y": -0.02,
                      "showarrow": False, "font": {"size": 11, "color": "#666"}, "yanchor": "top"}],
    )
    return fig
