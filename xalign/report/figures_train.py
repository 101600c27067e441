"""Train figures: loss (and learning rate) curve, per-language accuracy bars, generalized l1 × l2 heatmap."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from xalign.report.escaping import plotly_text
from xalign.report.style import PALETTE, TEMPLATE, finite

from xalign.errors import ConfigError
__all__ = ["loss_curve", "accuracy_bars", "generalized_heatmap", "wilson_from_correct"]


def loss_curve(history: list[dict[str, Any]], *, select_curve: list[dict[str, Any]] | None = None,
               best_step: int | None = None, title: str = "") -> go.Figure:
    """Training loss per step (and clean/adversarial parts when logged), learning rate on a second
    axis, the model-selection accuracy curve (``select.curve``) and the selected step."""
    rows = sorted((h for h in history if isinstance(h, dict) and finite(h.get("step")) is not None),
                  key=lambda h: h["step"])
    fig = make_subplots(specs=[[{"secondary_y": True}]])

    def series(items: list[dict[str, Any]], name: str) -> tuple[list[float], list[float]]:
        pts = [(float(h["step"]), v) for h in items if (v := finite(h.get(name))) is not None]
        return [p[0] for p in pts], [p[1] for p in pts]

    curves = [(rows, "loss", "loss", PALETTE[0], False, "lines", "solid"),
              (rows, "clean_loss", "clean loss", PALETTE[5], False, "lines", "dash"),
              (rows, "adv_loss", "adversarial loss", PALETTE[1], False, "lines", "dash"),
              (rows, "eval_en_accuracy", "eval accuracy (en)", PALETTE[2], False, "lines+markers", "solid"),
              ([c for c in select_curve or [] if isinstance(c, dict) and finite(c.get("step")) is not None], "value",
               "selection accuracy", PALETTE[2], False, "lines+markers", "solid"),
              (rows, "lr", "learning rate", PALETTE[8], True, "lines", "dot")]
    drawn = False
    for items, name, label, color, secondary, mode, dash in curves:
        xs, ys = series(items, name)
        if xs:
            drawn = True
            key = "select.curve" if name == "value" else f"history.{name}"
            few = len(xs) < 3  # a tiny run: points big enough to see, not a lone dot on an empty axis
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if few else mode, name=label,
                                     line={"color": color, "dash": dash}, marker={"size": 10 if few else 6},
                                     meta={"key": key}), secondary_y=secondary)
    if not drawn:
        raise ConfigError("history: no loss, lr or accuracy values with a step")
    if isinstance(best_step, int) and not isinstance(best_step, bool):
        fig.add_vline(x=best_step, line={"color": "#2ca02c", "dash": "dash", "width": 1},
                      annotation_text=f"selected step {best_step}", annotation_position="top left")
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss / accuracy", secondary_y=False)
    fig.update_yaxes(title_text="learning rate", secondary_y=True, showgrid=False, exponentformat="e")
    fig.update_layout(template=TEMPLATE, height=400, title={"text": plotly_text(title)}, hovermode="x unified")
    return fig


def _lang_values(block: Any) -> dict[str, float]:
    if not isinstance(block, dict):
        return {}
    return {str(k): v for k, raw in block.items() if (v := finite(raw)) is not None}


def wilson_from_correct(correct: Any) -> dict[str, tuple[float, float]]:
    """95% Wilson interval per language from the per-item correctness strings (``eval.correct``)."""
    from xalign.metrics.stats import wilson_interval

    out: dict[str, tuple[float, float]] = {}
    if not isinstance(correct, dict):
        return out
    for lang, bits in correct.items():
        if isinstance(bits, str) and bits and set(bits) <= {"0", "1"}:
            out[str(lang)] = wilson_interval(bits.count("1"), len(bits))
    return out


def accuracy_bars(eval_block: dict[str, Any], *, chance: float | None = None, title: str = "") -> go.Figure:
    """Accuracy per evaluation language (``eval.accuracy``) with 95% Wilson intervals from the per-item
    results (``eval.correct``), beside ``eval.smoothed_accuracy`` when present; a dashed line at ``chance``."""
    groups = [(name, _lang_values(eval_block.get(key))) for key, name in
              (("accuracy", "accuracy"), ("smoothed_accuracy", "smoothed (majority-vote) accuracy"))]
    groups = [(name, vals) for name, vals in groups if vals]
    if not groups:
        raise ConfigError("eval: no per-language accuracy values")
    langs: list[str] = []
    for _, vals in groups:
        langs += [lang for lang in vals if lang not in langs]
    fig = go.Figure()
    cis = wilson_from_correct(eval_block.get("correct"))
    for gi, (name, vals) in enumerate(groups):
        ys = [vals.get(lang) for lang in langs]
        error_y = None
        if name == "accuracy" and any(lang in cis for lang in langs):
            up = [cis[lang][1] - y if lang in cis and y is not None else 0.0 for lang, y in zip(langs, ys)]
            down = [y - cis[lang][0] if lang in cis and y is not None else 0.0 for lang, y in zip(langs, ys)]
            error_y = {"type": "data", "symmetric": False, "array": up, "arrayminus": down, "color": "#444",
                       "thickness": 1.2, "width": 4}
        fig.add_trace(go.Bar(x=[plotly_text(lang) for lang in langs], y=ys, name=name, error_y=error_y,
                             marker={"color": PALETTE[gi]}, text=[f"{y:.3f}" if y is not None else "" for y in ys],
                             textposition="outside", meta={"key": f"eval.{name}"},
                             hovertemplate=f"{name} %{{x}}: %{{y:.4f}}<extra></extra>"))
    if chance is not None:
        fig.add_hline(y=chance, line={"color": "#444", "dash": "dash", "width": 1},
                      annotation_text=f"chance {chance:.3f}", annotation_position="top right")
    many = len(langs) > 30
    fig.update_traces(textposition="none" if many else "outside")
    fig.update_layout(template=TEMPLATE, barmode="group", height=380, title={"text": plotly_text(title)},
                      yaxis={"range": [0, 1.08], "title": {"text": "accuracy"}},
                      xaxis={"title": {"text": "language"}, "tickfont": {"size": 8 if many else 12}})
    return fig


def generalized_heatmap(generalized: dict[str, Any], *, chance: float | None = None, title: str = "") -> go.Figure:
    """Generalized cross-lingual accuracy: rows = language of the first segment (l1), columns = l2.

    With ``chance`` known the colours are centred on it (a diverging scale: white = chance, blue above,
    red below, at least ±0.1 wide) so that noise around chance does not look like signal."""
    langs = [str(x) for x in generalized.get("languages") or []]
    z = np.asarray(generalized.get("matrix"), dtype=np.float64)
    if z.ndim != 2 or z.shape != (len(langs), len(langs)) or not langs:
        raise ConfigError(f"eval.generalized: {len(langs)} languages for a matrix of shape {z.shape}")
    labels = [plotly_text(x) for x in langs]
    scale: dict[str, Any] = {"colorscale": "Viridis", "zmin": 0.0, "zmax": 1.0}
    if chance is not None:
        spread = max(0.1, float(np.nanmax(np.abs(z - chance))) if z.size else 0.1)
        scale = {"colorscale": "RdBu", "zmid": chance, "zmin": chance - spread, "zmax": chance + spread,
                 "colorbar": {"tickvals": [chance - spread, chance, chance + spread],
                              "ticktext": [f"{chance - spread:.2f}", f"chance {chance:.2f}", f"{chance + spread:.2f}"]}}
    fig = go.Figure(go.Heatmap(
        z=z.astype(np.float32), x=list(range(len(langs))), y=list(range(len(langs))), **scale,
        text=np.vectorize(lambda v: f"{v:.3f}")(z), texttemplate="%{text}", meta={"key": "eval.generalized"},
        customdata=[[f"{a} / {b}" for b in labels] for a in labels],
        hovertemplate="l1 / l2 = %{customdata}: %{z:.4f}<extra></extra>"))
    ticks = {"tickmode": "array", "tickvals": list(range(len(langs))), "ticktext": labels}
    fig.update_layout(template=TEMPLATE, height=420, width=520, title={"text": plotly_text(title)},
                      xaxis={**ticks, "title": {"text": "l2 (second segment)"}, "constrain": "domain"},
                      yaxis={**ticks, "title": {"text": "l1 (first segment)"}, "autorange": "reversed",
                             "scaleanchor": "x"})
    return fig
