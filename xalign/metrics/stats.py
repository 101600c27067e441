"""Uncertainty for metrics: percentile bootstrap CIs, paired bootstrap tests, Wilson intervals.

Items (sentences, sentence pairs, queries) are resampled with replacement. A statistic is
either the mean of a per-item array or any function of the resampled item indices, so
corpus-level quantities (AER from summed counts, CKA of resampled rows) get honest intervals.
Draws come from ``numpy.random.default_rng(seed)``: ``rng.integers(0, n, (n_boot, n))`` as
``scipy.stats.bootstrap`` does, so for ``n_boot * n <= 2**24`` the percentile interval of the
mean equals scipy's ``method="percentile"`` with the same seed (larger problems draw in
chunks to bound memory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

_MAX_DRAW = 1 << 24  # index entries drawn at once


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimate and percentile bootstrap interval ``[low, high]`` at level ``1 - alpha``.

    Unpacks as the interval: ``low, high = bootstrap_ci(...)``.
    """

    estimate: float
    low: float
    high: float
    alpha: float
    n_boot: int
    std_error: float

    def __iter__(self) -> Iterator[float]:
        return iter((self.low, self.high))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of two systems on the same items: ``delta = stat(a) - stat(b)``.

    ``ci95`` is the percentile interval of the bootstrap deltas at level ``1 - alpha`` (95% by
    default); ``p_value`` is two-sided from the bootstrap distribution of the difference.
    """

    delta: float
    ci95: tuple[float, float]
    p_value: float
    alpha: float
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        out = asdict(self)
        out["ci95"] = list(self.ci95)
        return out


def _check_common(n_boot: int, alpha: float, seed: Any) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot: expected a positive int, got {n_boot!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a value in (0, 1), got {alpha}")
    if seed is None:
        raise ValueError("seed: pass an explicit int seed (results must be reproducible)")


def bootstrap_index_batches(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """The one bootstrap index draw of xalign: ``[b, n]`` resampling index arrays, ``n_boot`` rows in
    total, from ``numpy.random.default_rng(seed)`` (two calls with the same seed and ``n`` give the
    same, i.e. paired, resamples)."""
    rng = np.random.default_rng(seed)
    rows = max(1, _MAX_DRAW // max(n, 1))
    if rows >= n_boot:
        yield rng.integers(0, n, (n_boot, n), dtype=np.int64)
        return
    for start in range(0, n_boot, rows):
        yield rng.integers(0, n, (min(rows, n_boot - start), n), dtype=np.int64)


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise ValueError(f"{what} returned NaN or infinite values on some bootstrap resamples")
    return values


def bootstrap_distribution(values_or_fn: Any, *, n_items: int | None = None, n_boot: int = 1000,
                           seed: int = 0) -> tuple[float, np.ndarray]:
    """``(estimate, [n_boot] resampled statistics)`` for a per-item array (mean) or a function of indices."""
    if callable(values_or_fn):
        if n_items is None or n_items < 1:
            raise ValueError("n_items: pass the number of items when giving a statistic function")
        fn: Callable[[np.ndarray], float] = values_or_fn
        estimate = float(fn(np.arange(n_items)))
        stats = np.array([float(fn(idx)) for batch in bootstrap_index_batches(n_items, n_boot, seed)
                          for idx in batch])
        return estimate, _finite(stats, "the statistic")
    values = np.asarray(values_or_fn, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values: expected a non-empty 1-D per-item array, got shape {values.shape}; "
                         "pass a function of resampled indices for other statistics")
    if not np.isfinite(values).all():
        raise ValueError("values: contains NaN or infinite values")
    if n_items is not None and n_items != values.size:
        raise ValueError(f"n_items={n_items} does not match {values.size} values")
    stats = np.concatenate([values[batch].mean(axis=1)
                            for batch in bootstrap_index_batches(values.size, n_boot, seed)])
    return float(values.mean()), stats


def bootstrap_ci(values_or_fn: Any, *, n_items: int | None = None, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> BootstrapResult:
    """Percentile bootstrap confidence interval.

    Args:
        values_or_fn: a per-item array (statistic: the mean) or a function taking an int array
            of resampled item indices and returning a float (e.g. corpus AER from summed counts).
        n_items: number of items (required with a function).
        n_boot: bootstrap resamples.
        seed: seed of ``numpy.random.default_rng``.
        alpha: 1 - confidence level.
    """
    _check_common(n_boot, alpha, seed)
    estimate, stats = bootstrap_distribution(values_or_fn, n_items=n_items, n_boot=n_boot, seed=seed)
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    std = float(np.std(stats, ddof=1)) if stats.size > 1 else 0.0
    return BootstrapResult(estimate=estimate, low=float(low), high=float(high), alpha=alpha, n_boot=int(n_boot),
                           std_error=std)


def _mean0(x: np.ndarray) -> float:
    return float(np.mean(x))


def paired_bootstrap(
    a: Any,
    b: Any,
    *,
    statistic: Callable[[np.ndarray], float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> PairedResult:
    """Paired bootstrap of ``statistic(a) - statistic(b)`` over shared items.

    ``a`` and ``b`` hold one row per item for two systems (e.g. per-query correctness ``[n]``, or
    per-sentence alignment counts ``[n, 4]`` with ``statistic`` computing corpus AER). The same
    resampled items are used for both. The two-sided p-value is
    ``min(1, 2 min((#{d* <= 0} + 1) / (B + 1), (#{d* >= 0} + 1) / (B + 1)))`` over the bootstrap
    deltas ``d*``; identical systems give ``delta = 0`` and ``p = 1``.
    """
    _check_common(n_boot, alpha, seed)
    xa, xb = np.asarray(a), np.asarray(b)
    if xa.shape != xb.shape or xa.ndim == 0 or xa.shape[0] == 0:
        raise ValueError(f"a and b must hold one row per item with equal shapes, got {xa.shape} and {xb.shape}")
    stat = statistic or _mean0
    delta = float(stat(xa)) - float(stat(xb))
    deltas = np.array([float(stat(xa[idx])) - float(stat(xb[idx]))
                       for batch in bootstrap_index_batches(xa.shape[0], n_boot, seed) for idx in batch])
    _finite(deltas, "the statistic")
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return PairedResult(delta=delta, ci95=(float(low), float(high)), p_value=bootstrap_p_value(deltas), alpha=alpha,
                        n_boot=int(n_boot))


def bootstrap_p_value(deltas: Any) -> float:
    """The one two-sided p-value of a bootstrap difference in xalign:
    ``min(1, 2 min((#{d* <= 0} + 1) / (B + 1), (#{d* >= 0} + 1) / (B + 1)))`` over the ``B``
    bootstrap deltas ``d*`` (identical systems give 1)."""
    d = np.asarray(deltas, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"deltas: expected a non-empty 1-D array of bootstrap differences, got shape {d.shape}")
    below = (np.sum(d <= 0) + 1) / (d.size + 1)
    above = (np.sum(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def wilson_interval(successes: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n`` (e.g. P@1 over n queries)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"expected 0 <= successes <= n and n >= 1, got successes={successes}, n={n}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a value in (0, 1), got {alpha}")
    z = NormalDist().inv_cdf(1 - alpha / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact bounds where rounding would blur them
    high = 1.0 if successes == n else min(1.0, centre + half)
    return float(low), float(high)
