"""Typed results: a metric value with its CI and p-value, a layer's values, a pair's result, a probe,
and a comparison. Computation returns these; :mod:`xalign.results.json_io` writes and reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xalign.results.registry import metric_spec

__all__ = ["MetricValue", "LayerValues", "BestLayer", "PairMetrics", "ProbeMetrics", "MetricComparison",
           "LayerComparison", "PairComparison", "Comparison", "best_layers"]


@dataclass(frozen=True)
class MetricValue:
    """One number, with its 95% interval and (for a difference) its two-sided p-value when known, and that
    p-value Holm-adjusted across the languages of a many-language compare (``p_holm``)."""

    value: float
    ci95: tuple[float, float] | None = None
    p_value: float | None = None
    p_holm: float | None = None


@dataclass
class LayerValues:
    """Every metric of one layer, by metric key (see :mod:`xalign.results.registry`); ``info`` holds
    the non-numeric facts of the layer (e.g. ``word_alignment.method``)."""

    layer: int
    values: dict[str, MetricValue] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)

    def value(self, key: str) -> float | None:
        mv = self.values.get(key)
        return None if mv is None else mv.value


@dataclass(frozen=True)
class BestLayer:
    layer: int
    value: float


def best_layers(layers: list[LayerValues]) -> dict[str, BestLayer]:
    """Best layer of every metric the registry marks ``best`` (lowest where lower is better; first on ties)."""
    best: dict[str, BestLayer] = {}
    for entry in layers:
        for key, mv in entry.values.items():
            spec = metric_spec(key)
            if not spec.best:
                continue
            cur = best.get(key)
            better = cur is None or (mv.value > cur.value if spec.higher_is_better else mv.value < cur.value)
            if better:
                best[key] = BestLayer(entry.layer, mv.value)
    return best


@dataclass
class PairMetrics:
    """A pair's probe result: per-layer values, best layers, and notes (caveats such as P@k with k ≥ n)."""

    pair: str
    src_lang: str
    tgt_lang: str
    n: int
    layers: list[LayerValues]
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> dict[str, BestLayer]:
        return best_layers(self.layers)

    def layer(self, layer: int) -> LayerValues | None:
        return next((e for e in self.layers if e.layer == layer), None)


@dataclass
class ProbeMetrics:
    """The content of ``metrics.json``: the run manifest and one :class:`PairMetrics` per pair."""

    manifest: dict[str, Any]
    pairs: dict[str, PairMetrics]


@dataclass
class MetricComparison:
    """One metric at one layer across models: each model's value, and per after-model its difference to
    the first model (a :class:`MetricValue` with CI and p-value when a paired test ran)."""

    values: dict[str, float | None]
    deltas: dict[str, MetricValue] = field(default_factory=dict)


@dataclass
class LayerComparison:
    layer: int
    metrics: dict[str, MetricComparison]


@dataclass
class PairComparison:
    pair: str
    src_lang: str
    tgt_lang: str
    n: int
    layers: list[LayerComparison]
    model_cka: dict[str, list[list[float]]] = field(default_factory=dict)


@dataclass
class Comparison:
    """The content of ``compare.json``; ``languages`` (a many-language compare) names the languages whose
    headline metric gained or lost significantly after Holm's correction."""

    manifest: dict[str, Any]
    models: list[dict[str, Any]]
    pairs: dict[str, PairComparison]
    languages: dict[str, Any] | None = None
