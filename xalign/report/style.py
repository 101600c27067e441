"""Shared look of all figures: a small plotly template (the default one adds ~8 kB to every figure),
colours per scoring rule/model, and the one way the report writes a p-value and a difference."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["TEMPLATE", "RULE_COLORS", "PALETTE", "color_for", "finite", "ci_pair", "format_p", "format_delta",
           "format_ci"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")
RULE_COLORS = {"cosine": "#1f77b4", "csls": "#d62728", "margin": "#2ca02c", "cosine_centered": "#9467bd",
               "linear": "#ff7f0e", "linear_debiased": "#8c564b", "rbf": "#17becf"}

TEMPLATE: dict[str, Any] = {
    "layout": {
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(PALETTE),
        "hoverlabel": {"align": "left"},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "xaxis": {"showgrid": True, "gridcolor": "#eee", "zeroline": False, "linecolor": "#999", "ticks": "outside"},
        "yaxis": {"showgrid": True, "gridcolor": "#eee", "zeroline": False, "linecolor": "#999", "ticks": "outside"},
    }
}


def color_for(name: str, index: int) -> str:
    """The fixed colour of a known rule, else the ``index``-th palette colour."""
    return RULE_COLORS.get(name, PALETTE[index % len(PALETTE)])


def finite(value: Any) -> float | None:
    """``float(value)`` when it is a finite real number (bools excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def ci_pair(value: Any) -> tuple[float, float] | None:
    """``(lo, hi)`` from a two-number list, else None."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = finite(value[0]), finite(value[1])
        if lo is not None and hi is not None:
            return lo, hi
    return None


def format_p(p: float | None) -> str:
    """A p-value, written one way everywhere: ``p < 0.001`` below 0.001, else three decimals (``p = 0.010``)."""
    v = finite(p)
    if v is None:
        return ""
    return "p < 0.001" if v < 0.001 else f"p = {v:.3f}"


def format_delta(d: float | None) -> str:
    """A signed difference with three decimals; one that would print as ``+0.000`` without being zero gets
    two significant digits (``+0.00031``), so a tiny but significant change never reads as no change."""
    v = finite(d)
    if v is None:
        return ""
    if v == 0 or abs(v) >= 0.0005:
        return f"{v:+.3f}"
    digits = 1 - math.floor(math.log10(abs(v)))
    return f"{v:+.{digits}f}" if digits <= 8 else f"{v:+.1e}"


def format_ci(ci: tuple[float, float] | None, *, delta: bool = False) -> str:
    """``[lo, hi]`` with three decimals (signed, with the same small-value rule, for a difference)."""
    if ci is None:
        return ""
    if delta:
        return f"[{format_delta(ci[0])}, {format_delta(ci[1])}]"
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"
