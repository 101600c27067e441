"""Shared look of all figures: a small plotly template (the default one adds ~8 kB to every figure),
colours per scoring rule/model, and helpers for reading nested result dicts."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["TEMPLATE", "RULE_COLORS", "PALETTE", "color_for", "dig", "finite"]

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


def dig(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...`` or None where any level is missing or not a dict."""
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


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
