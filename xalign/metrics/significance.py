"""Significance for studies: paired bootstrap over items × seeds, the seed-aware (hierarchical) bootstrap and
per-seed tests, the claim rule, Holm–Bonferroni, Spearman with a CI, the smallest detectable effect.

The paired item × seed bootstrap (one definition, used everywhere in xalign):

* ``a`` and ``b`` hold per-item scores of two systems, shaped ``[n_seeds, n_items]`` (0/1 correctness or
  any per-item value). Row ``s`` of ``a`` and row ``s`` of ``b`` share a seed index (seeds matched by index),
  and column ``i`` is the same evaluation item in both.
* Each system's per-item score is averaged over its seeds, ``ā_i = mean_s a[s, i]`` (likewise ``b̄_i``), and
  the observed difference is ``Δ = mean_i ā_i − mean_i b̄_i`` (the difference of seed-averaged accuracies).
* One resample draws ``n_items`` item indices with replacement (``numpy.random.default_rng(seed)``,
  ``rng.integers(0, n, (n_boot, n))``) and recomputes ``Δ*`` on those items. Seeds are not resampled: with
  the 3–5 seeds a study affords, a seed bootstrap is too coarse; the interval covers item sampling given
  these seeds, and the seeds enter through the average.
* 95% interval: the 2.5th and 97.5th percentiles of ``Δ*``. Two-sided p-value:
  ``min(1, 2 · min((#{Δ* ≤ 0} + 1) / (B + 1), (#{Δ* ≥ 0} + 1) / (B + 1)))``.

This is :func:`xalign.metrics.stats.paired_bootstrap` applied to the seed-averaged per-item arrays, so the two
share one resampling kernel. Wilson intervals live in :mod:`xalign.metrics.stats` (``wilson_interval``).

The seed-aware test (:func:`hierarchical_bootstrap`, the one every claim of the study uses) covers training noise
too: a resample first draws seeds, then items within each drawn seed (see its docstring for the exact RNG
stream); it also reports the per-seed differences, their sign agreement, a one-sample t-test and an exact
sign-flip test on them. :func:`seed_aware_claim` is the one rule that turns such a result into a claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from xalign.metrics.stats import bootstrap_p_value, paired_bootstrap

__all__ = ["ItemSeedResult", "SeedAwareResult", "SpearmanResult", "hierarchical_bootstrap", "holm",
           "minimum_detectable_effect", "paired_item_seed_bootstrap", "seed_aware_claim", "sign_flip_p",
           "spearman_ci"]


@dataclass(frozen=True)
class ItemSeedResult:
    """Paired item × seed bootstrap of ``mean(a) − mean(b)`` (see the module docstring)."""

    delta: float
    ci95: tuple[float, float]
    p_value: float
    mean_a: float
    mean_b: float
    n_items: int
    n_seeds: int
    n_boot: int
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (``ci95`` as a list)."""
        out = asdict(self)
        out["ci95"] = list(self.ci95)
        return out


def _as_seed_item(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected per-item scores shaped [n_seeds, n_items], got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def paired_item_seed_bootstrap(a: Any, b: Any, *, n_boot: int = 2000, seed: int = 0,
                               alpha: float = 0.05) -> ItemSeedResult:
    """Paired bootstrap over items of the seed-averaged difference ``mean(a) − mean(b)``.

    Args:
        a: ``[n_seeds, n_items]`` per-item scores of the system under test (a 1-D array is one seed).
        b: the reference system on the same items, with the same number of seeds (matched by index).
        n_boot: bootstrap resamples of the items.
        seed: seed of ``numpy.random.default_rng`` (explicit, so results regenerate).
        alpha: 1 − confidence level of the percentile interval.
    """
    xa, xb = _as_seed_item(a, "a"), _as_seed_item(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"a and b must have the same [n_seeds, n_items] shape (seeds matched by index, same "
                         f"items), got {xa.shape} and {xb.shape}")
    ma, mb = xa.mean(axis=0), xb.mean(axis=0)
    res = paired_bootstrap(ma, mb, n_boot=n_boot, seed=seed, alpha=alpha)
    return ItemSeedResult(delta=res.delta, ci95=res.ci95, p_value=res.p_value, mean_a=float(ma.mean()),
                          mean_b=float(mb.mean()), n_items=int(xa.shape[1]), n_seeds=int(xa.shape[0]),
                          n_boot=int(n_boot), alpha=alpha)


@dataclass(frozen=True)
class SeedAwareResult:
    """Seed-aware comparison of ``stat(a) − stat(b)`` (:func:`hierarchical_bootstrap`)."""

    delta: float
    ci95: tuple[float, float]
    p_value: float  # two-sided, from the hierarchical bootstrap (seeds, then items)
    std_error: float  # standard deviation of the bootstrap differences (ddof 1)
    seed_deltas: tuple[float, ...]  # stat(a[s]) − stat(b[s]) per seed index s
    seeds_agree: bool  # at least 2 seeds and every seed difference of one strict sign
    t_p_value: float  # one-sample t-test of the seed differences against 0 (NaN: < 2 seeds or no spread)
    sign_flip_p: float  # exact sign-flip test of the seed differences (:func:`sign_flip_p`)
    mean_a: float
    mean_b: float
    n_items: int
    n_seeds: int
    n_boot: int
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (``ci95`` and ``seed_deltas`` as lists)."""
        out = asdict(self)
        out["ci95"], out["seed_deltas"] = list(self.ci95), list(self.seed_deltas)
        return out


def _mean(x: np.ndarray) -> float:
    return float(x.mean())


def sign_flip_p(deltas: Sequence[float] | np.ndarray) -> float:
    """Exact two-sided sign-flip (permutation) p-value of per-seed differences against 0: the share of the
    ``2^S`` sign patterns ``e`` with ``|mean(e · d)| ≥ |mean(d)|`` (3 seeds of one sign: 2/8 = 0.25, the
    smallest p three seeds can give). NaN without a seed."""
    d = np.asarray(deltas, dtype=np.float64)
    if d.size == 0:
        return float("nan")
    signs = np.array(np.meshgrid(*[[1.0, -1.0]] * d.size, indexing="ij")).reshape(d.size, -1).T
    observed = abs(d.mean())
    return float(np.mean(np.abs(signs @ d / d.size) >= observed - 1e-12))


def _t_p(d: np.ndarray) -> float:
    if d.size < 2 or np.ptp(d) <= 1e-12 * max(1.0, float(np.abs(d).max())):  # no spread: t undefined
        return float("nan")
    from scipy.stats import ttest_1samp

    return float(ttest_1samp(d, 0.0).pvalue)


def hierarchical_bootstrap(a: Any, b: Any, *, statistic: Any = None, n_boot: int = 1000, seed: int = 0,
                           alpha: float = 0.05) -> SeedAwareResult:
    """Paired two-stage bootstrap of ``statistic(a) − statistic(b)``: seeds, then items within each seed.

    ``a`` and ``b`` are ``[n_seeds, n_items, ...]`` per-item values of two systems; seeds are matched by index
    and items by position (the same evaluation items under every seed). ``statistic`` maps such an array to a
    number (default: the mean of everything, i.e. the mean over seeds of each seed's mean). One replicate, with
    ``rng = numpy.random.default_rng(seed)`` and the replicates drawn in turn: ``s = rng.integers(0, S, S)``
    (seeds with replacement), then ``i = rng.integers(0, N, (S, N))`` (items with replacement, independently for
    each drawn seed); both systems take the same rows ``a[s[k], i[k]]``. The interval is the percentile
    interval of the replicate differences; the p-value is :func:`xalign.metrics.stats.bootstrap_p_value`.
    With one seed it is the item bootstrap of that seed; with 3 seeds a seed draw has 10 distinct multisets,
    so the interval is wide, which is the honest width of a 3-seed study.
    """
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if xa.ndim < 2 or xa.shape != xb.shape or min(xa.shape[:2]) < 1:
        raise ValueError(f"a and b: expected equal shapes [n_seeds, n_items, ...] (seeds matched by index, same "
                         f"items), got {xa.shape} and {xb.shape}")
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        raise ValueError("a and b: contain NaN or infinite values")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot: expected an int >= 2, got {n_boot!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a value in (0, 1), got {alpha}")
    stat = statistic or _mean
    n_seeds, n_items = xa.shape[:2]
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    diff = xa - xb if statistic is None else None  # the mean of the paired differences: an exact 0 stays 0
    for k in range(n_boot):
        s = rng.integers(0, n_seeds, n_seeds)
        i = rng.integers(0, n_items, (n_seeds, n_items))
        reps[k] = diff[s[:, None], i].mean() if diff is not None else stat(xa[s[:, None], i]) - stat(xb[s[:, None], i])
    per_seed = np.array([stat(xa[[s]]) - stat(xb[[s]]) for s in range(n_seeds)])
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    agree = bool(n_seeds >= 2 and (np.all(per_seed > 0) or np.all(per_seed < 0)))
    return SeedAwareResult(delta=float(stat(xa) - stat(xb)), ci95=(float(lo), float(hi)),
                           p_value=bootstrap_p_value(reps), std_error=float(reps.std(ddof=1)),
                           seed_deltas=tuple(float(v) for v in per_seed), seeds_agree=agree, t_p_value=_t_p(per_seed),
                           sign_flip_p=sign_flip_p(per_seed), mean_a=float(stat(xa)), mean_b=float(stat(xb)),
                           n_items=int(n_items), n_seeds=int(n_seeds), n_boot=int(n_boot), alpha=alpha)


MIN_SEEDS = 3  # a claim needs at least this many matched seeds (issue 25: "at least 3")


def seed_aware_claim(p: float, seed_deltas: Sequence[float], *, level: float = 0.05,
                     min_seeds: int = MIN_SEEDS) -> tuple[int, str]:
    """The one rule for every accuracy and alignment claim: ``(direction, reason)`` with direction +1 / −1 when
    the seed-aware p-value ``p`` (Holm-adjusted where a family applies) is below ``level``, at least
    ``min_seeds`` seeds were compared and every seed's difference has the sign of their mean; else 0 and the
    first rule that failed."""
    d = [float(v) for v in seed_deltas]
    if len(d) < min_seeds:
        return 0, f"{len(d)} seed(s), fewer than {min_seeds}"
    if not (p < level):
        return 0, "not significant"
    if not (all(v > 0 for v in d) or all(v < 0 for v in d)):
        return 0, "seeds disagree in sign"
    return (1 if d[0] > 0 else -1), "significant, every seed agrees"


def minimum_detectable_effect(std_error: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference a two-sided test at ``alpha`` detects with probability ``power``, for an
    estimate with standard error ``std_error`` (normal approximation): ``(z_{1−α/2} + z_power) · SE``
    (2.80 SE at α = 0.05 and 80% power)."""
    from statistics import NormalDist

    z = NormalDist()
    return float((z.inv_cdf(1 - alpha / 2) + z.inv_cdf(power)) * std_error)


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, in the input order.

    With the ``m`` p-values sorted ascending, ``p̃_(k) = max_{j ≤ k} min(1, (m − j + 1) p_(j))``
    (the step-down formula of ``statsmodels.stats.multitest.multipletests(method="holm")``). Reject at
    family-wise level α where ``p̃ ≤ α``. Ties keep their input order (the adjusted values are equal anyway).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values: expected a 1-D sequence, got shape {p.shape}")
    if p.size == 0:
        return p.copy()
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p_values: expected values in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty(m)
    out[order] = adjusted_sorted
    return out


@dataclass(frozen=True)
class SpearmanResult:
    """Spearman's ρ with scipy's p-value and a percentile bootstrap interval over units (rows)."""

    rho: float
    p_value: float
    ci95: tuple[float, float]
    n: int
    n_boot: int
    n_boot_valid: int  # resamples where ρ was defined (not all ranks tied)
    alpha: float
    n_groups: int | None = None  # clusters resampled (``groups``); None: units resampled one by one

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (``ci95`` as a list)."""
        out = asdict(self)
        out["ci95"] = list(self.ci95)
        return out


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    import warnings

    from scipy.stats import spearmanr

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def _centred(v: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``v`` minus the mean of the entries that share its label."""
    sums = np.bincount(labels, weights=v)
    counts = np.bincount(labels)
    return v - (sums / np.maximum(counts, 1))[labels]


def spearman_ci(x: Any, y: Any, *, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05,
                groups: Any | None = None, centre: Any | None = None) -> SpearmanResult:
    """Spearman rank correlation of paired observations with a bootstrap CI over the units.

    ``x[i]`` and ``y[i]`` belong to one unit (e.g. one language × seed). ρ and its p-value come from
    ``scipy.stats.spearmanr`` (average ranks for ties; the p-value is scipy's t approximation, which assumes
    independent units). The interval resamples units with replacement (``numpy.random.default_rng(seed)``)
    and takes percentiles of ρ*, skipping resamples in which either variable is constant (ρ undefined;
    their number is ``n_boot − n_boot_valid``). Undefined ρ (fewer than 3 units or a constant variable)
    gives NaN.

    ``groups`` (one label per unit) makes it a cluster bootstrap: each resample draws as many groups as there
    are, with replacement (``rng.integers(0, n_groups, (n_boot, n_groups))`` over the sorted distinct labels),
    and takes every unit of each drawn group, so that units sharing a group (the seeds and methods of one
    language) are never treated as independent. With one unit per group it equals the plain bootstrap.

    ``centre`` (one label per unit, e.g. the trained run a point comes from) makes ρ a *within* correlation:
    ``x`` and ``y`` are each centred on the mean of their label's units before ranking, and every resample
    re-centres on the means of the units it drew (a drawn unit counted as often as it was drawn), so the
    interval is the bootstrap of the same statistic as the estimate.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ValueError(f"x and y: expected 1-D arrays of equal length, got shapes {xs.shape} and {ys.shape}")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError("x and y: contain NaN or infinite values")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot: expected a positive int, got {n_boot!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a value in (0, 1), got {alpha}")
    n = xs.size
    nan = float("nan")
    if n < 3:
        return SpearmanResult(nan, nan, (nan, nan), n, int(n_boot), 0, alpha)
    rng = np.random.default_rng(seed)
    n_groups = None
    if groups is None:
        draws = list(rng.integers(0, n, (n_boot, n)))
    else:
        g = np.asarray(groups)
        if g.shape != xs.shape:
            raise ValueError(f"groups: expected one label per unit ({xs.shape}), got shape {g.shape}")
        _, inverse = np.unique(g, return_inverse=True)
        members = [np.flatnonzero(inverse == k) for k in range(int(inverse.max()) + 1)]
        n_groups = len(members)
        draws = [np.concatenate([members[k] for k in row]) for row in rng.integers(0, n_groups, (n_boot, n_groups))]
    if centre is None:
        rho, p = _spearman(xs, ys)
        reps = np.array([_spearman(xs[row], ys[row])[0] for row in draws])
    else:
        c = np.asarray(centre)
        if c.shape != xs.shape:
            raise ValueError(f"centre: expected one label per unit ({xs.shape}), got shape {c.shape}")
        _, run = np.unique(c, return_inverse=True)
        rho, p = _spearman(_centred(xs, run), _centred(ys, run))
        reps = np.array([_spearman(_centred(xs[row], run[row]), _centred(ys[row], run[row]))[0] for row in draws])
    valid = reps[np.isfinite(reps)]
    if valid.size:
        lo, hi = np.quantile(valid, [alpha / 2, 1 - alpha / 2])
        ci = (float(lo), float(hi))
    else:
        ci = (nan, nan)
    return SpearmanResult(rho, p, ci, n, int(n_boot), int(valid.size), alpha, n_groups)
