"""What a report shows first and how maps are drawn (:class:`ReportOptions`), and the small helpers every
section builder shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from xalign.errors import ConfigError
from xalign.report import tables
from xalign.report.page import Block
from xalign.results.types import PairComparison, PairMetrics

logger = logging.getLogger(__name__)

__all__ = ["ReportOptions", "TaskAccuracy", "PROJECTIONS", "safe", "layers_of", "check_layer", "run_seed"]

PROJECTIONS = ("auto", "umap", "pca")


@dataclass(frozen=True)
class ReportOptions:
    """What the page shows first and how maps are drawn.

    ``layer``: the layer shown first by sliders and summary tables (None: the best CSLS/cosine P@1
    layer of each pair); ``max_points``: sentences per language in an embedding map;
    ``projection``: auto (PCA: instant), umap or pca; ``seed``: subsampling and UMAP seed (None: the
    run manifest's seed, else 0); ``cache``: read/write projections in the run folder's ``report_cache/``.
    """

    layer: int | None = None
    max_points: int = 1000
    projection: str = "auto"
    cache: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.layer is not None and (isinstance(self.layer, bool) or not isinstance(self.layer, int)):
            raise TypeError(f"layer must be an int or None, got {type(self.layer).__name__}")
        if self.layer is not None and self.layer < 0:
            raise ConfigError(f"layer must be >= 0, got {self.layer}")
        if isinstance(self.max_points, bool) or not isinstance(self.max_points, int):
            raise TypeError(f"max_points must be an int, got {type(self.max_points).__name__}")
        if self.max_points < 1:
            raise ConfigError(f"max_points must be >= 1, got {self.max_points}")
        if self.projection not in PROJECTIONS:
            raise ConfigError(f"projection must be one of {list(PROJECTIONS)}, got {self.projection!r}")


@dataclass(frozen=True)
class TaskAccuracy:
    """A train run's per-language accuracy (its ``eval`` block) to draw against a probe's alignment."""

    eval: dict[str, Any]
    chance: float | None
    source: str


def safe(what: str, build: Callable[..., Any], *args: Any, **kwargs: Any) -> Block:
    try:
        return build(*args, **kwargs)
    except ValueError as exc:
        logger.warning("report: %s skipped: %s", what, exc)
        return tables.note(f"{what} could not be drawn: {exc}", cls="warn")


def layers_of(pair: PairMetrics | PairComparison) -> list[int]:
    return [e.layer for e in pair.layers]


def check_layer(requested: int | None, available: list[int], where: str) -> None:
    """Reject a ``--layer`` that no pair of the run has."""
    if requested is not None and requested not in available:
        raise ConfigError(f"layer {requested} is not in {where}; its layers are {sorted(set(available))}")


def run_seed(opts: ReportOptions, manifest: dict[str, Any]) -> int:
    if opts.seed is not None:
        return opts.seed
    seed = manifest.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
