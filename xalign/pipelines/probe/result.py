"""The probe's typed results: :class:`PairResult` (a pair's metrics with the per-query correctness, vectors and
report details) and :class:`ProbeResult` (the run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xalign.results.json_io import probe_to_json
from xalign.results.types import PairMetrics, ProbeMetrics

__all__ = ["PairResult", "ProbeResult"]


@dataclass
class PairResult:
    """A pair's typed metrics plus what the run directory and compare need: vectors, texts, the
    per-query correctness of every P@1 (``correct[key][layer position]``) and report details."""

    metrics: PairMetrics
    details: dict[str, Any]
    src_vectors: np.ndarray = field(repr=False)
    tgt_vectors: np.ndarray = field(repr=False)
    src_texts: list[str] = field(repr=False, default_factory=list)
    tgt_texts: list[str] = field(repr=False, default_factory=list)
    correct: dict[str, list[np.ndarray]] = field(repr=False, default_factory=dict)

    pair = property(lambda self: self.metrics.pair)
    src_lang = property(lambda self: self.metrics.src_lang)
    tgt_lang = property(lambda self: self.metrics.tgt_lang)
    n = property(lambda self: self.metrics.n)
    layers = property(lambda self: self.metrics.layers)
    best = property(lambda self: self.metrics.best)

    def correctness(self, key: str, layer: int) -> np.ndarray:
        """Per-query 0/1 correctness of ``key`` (e.g. ``retrieval.csls.en->sw.p@1``) at hidden-state ``layer``,
        one entry per sentence pair in corpus order; its mean is the reported value."""
        positions = [e.layer for e in self.layers]
        if key not in self.correct or layer not in positions:
            raise KeyError(f"no per-query correctness for {key!r} at layer {layer}; keys: {sorted(self.correct)}, "
                           f"layers: {positions}")
        return np.asarray(self.correct[key][positions.index(layer)])


@dataclass
class ProbeResult:
    manifest: dict[str, Any]
    pairs: dict[str, PairResult]
    language_cka: dict[str, Any] | None = None

    @property
    def typed(self) -> ProbeMetrics:
        return ProbeMetrics(manifest=self.manifest, pairs={k: v.metrics for k, v in self.pairs.items()})

    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` document."""
        return probe_to_json(self.typed)

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pairs": {k: v.details for k, v in self.pairs.items()}}
        if self.language_cka is not None:
            out["language_cka"] = self.language_cka
        return out
