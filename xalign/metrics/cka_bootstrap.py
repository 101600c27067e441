"""Bootstrap distributions of linear CKA without re-materialising resampled data.

A bootstrap resample of ``n`` rows is a count vector ``w`` (``sum(w) = n``). Biased linear HSIC of
the resampled rows equals ``Σ_ij w_i w_j Kc_ij L_ij`` with ``K = X Xᵀ``, ``L = Y Yᵀ`` and ``Kc`` centred
with the *weighted* row means, which expands to

    wᵀ (K∘L) w − 2 Σ_i w_i r_i (L w)_i + m · wᵀ L w,   r = K w / n,  m = wᵀ K w / n²,

so a whole batch of resamples is a handful of ``[B, n] @ [n, n]`` products. Replicate ``b`` equals
``linear_cka(x[idx_b], y[idx_b])`` (:func:`xalign.metrics.cka.linear_cka`, the one CKA kernel, which
also gives the point estimate and, above ``max_gram`` rows, each replicate) for the index draw
``idx_b`` of :func:`xalign.metrics.stats.bootstrap_index_batches` (the one bootstrap draw), so two
calls with the same seed and ``n`` give *paired* replicates (used for before/after deltas); the
p-value of a difference is :func:`xalign.metrics.stats.bootstrap_p_value`.
"""

from __future__ import annotations

import numpy as np

from xalign.metrics.cka import linear_cka
from xalign.metrics.stats import bootstrap_index_batches, bootstrap_p_value


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, n]`` row indices of :func:`~xalign.metrics.stats.bootstrap_index_batches`."""
    if n < 1 or n_boot < 1:
        raise ValueError(f"need n >= 1 and n_boot >= 1, got n={n}, n_boot={n_boot}")
    return np.concatenate(list(bootstrap_index_batches(n, n_boot, seed)))


def _weighted_hsic(wa, wb, prod, weights, n):
    """Batched ``Σ_ij w_i w_j Kc_ij L_ij`` given ``wa = W K``, ``wb = W L`` and ``prod = K∘L``."""
    term1 = ((weights @ prod) * weights).sum(1)
    term2 = 2.0 * (weights * (wa / n) * wb).sum(1)
    term3 = (wa * weights).sum(1) / n**2 * (wb * weights).sum(1)
    return term1 - term2 + term3


def linear_cka_bootstrap(x: np.ndarray, y: np.ndarray, *, n_boot: int = 200, seed: int = 0,
                         batch: int = 128, max_gram: int = 4096, _identity: bool = False) -> np.ndarray:
    """``n_boot`` bootstrap replicates of biased linear CKA (float64, paired across calls by ``seed``).

    Up to ``max_gram`` rows the n×n Gram form above is used; beyond it, each replicate is computed in
    the O(n·d²) feature form with per-row weights (same values, more time, bounded memory)."""
    import torch

    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected x [n, d1] and y [n, d2] with the same n, got {x.shape} and {y.shape}")
    n = x.shape[0]
    idx = np.arange(n)[None, :] if _identity else bootstrap_indices(n, n_boot, seed)
    if n > max_gram:
        return _feature_form_replicates(x, y, idx)
    tx = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    ty = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))
    k = tx @ tx.T
    l_ = ty @ ty.T
    kl, kk, ll = k * l_, k * k, l_ * l_
    out = np.empty(n_boot)
    for start in range(0, n_boot, batch):
        rows = idx[start:start + batch]
        w = torch.zeros((len(rows), n), dtype=torch.float64)
        w.scatter_add_(1, torch.from_numpy(rows), torch.ones(rows.shape, dtype=torch.float64))
        wk, wl = w @ k, w @ l_
        hkl = _weighted_hsic(wk, wl, kl, w, n)
        hkk = _weighted_hsic(wk, wk, kk, w, n)
        hll = _weighted_hsic(wl, wl, ll, w, n)
        denom = torch.sqrt(hkk.clamp_min(0) * hll.clamp_min(0))
        bad = torch.nonzero(denom <= 0)
        if bad.numel():  # as linear_cka: a resample without variance has no CKA
            raise ValueError(f"bootstrap resample {start + int(bad[0, 0])} has no variance in x or y (too few "
                             f"distinct rows, n = {n}): CKA is undefined; use more examples")
        out[start:start + len(rows)] = (hkl / denom).numpy()
    return out


def _feature_form_replicates(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Each replicate with :func:`linear_cka` itself on the resampled rows (bounded memory)."""
    return np.array([linear_cka(x[rows], y[rows]) for rows in idx], dtype=np.float64)


def bootstrap_linear_cka(x: np.ndarray, y: np.ndarray, *, n_boot: int = 200, seed: int = 0,
                         alpha: float = 0.05) -> tuple[float, float]:
    """Bias-shifted percentile bootstrap interval of biased linear CKA, resampling rows.

    Resampling with replacement duplicates rows, which inflates biased CKA (the replicates sit
    above the estimate, most visibly for small n), so the plain percentile interval can miss the
    estimate altogether. The replicates are therefore shifted by the bootstrap bias estimate
    ``mean(θ*) − θ`` before taking percentiles: the interval keeps the bootstrap's width and is
    centred on the reported estimate.
    """
    theta = linear_cka(x, y)
    reps = linear_cka_bootstrap(x, y, n_boot=n_boot, seed=seed)
    reps = reps - (reps.mean() - theta)
    q_lo, q_hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(q_lo), float(q_hi)


def paired_cka_difference(x_a: np.ndarray, y_a: np.ndarray, x_b: np.ndarray, y_b: np.ndarray, *,
                          n_boot: int = 200, seed: int = 0, alpha: float = 0.05) -> tuple[float, tuple[float, float], float]:
    """``CKA(x_a, y_a) − CKA(x_b, y_b)`` on the same items, with a paired, bias-shifted percentile
    bootstrap interval (see :func:`bootstrap_linear_cka`) and the two-sided bootstrap p-value of
    :func:`~xalign.metrics.stats.bootstrap_p_value` (the same definition as every other paired test)."""
    theta_a = linear_cka(x_a, y_a)
    theta_b = linear_cka(x_b, y_b)
    delta = theta_a - theta_b
    diffs = (linear_cka_bootstrap(x_a, y_a, n_boot=n_boot, seed=seed)
             - linear_cka_bootstrap(x_b, y_b, n_boot=n_boot, seed=seed))
    centred = diffs - diffs.mean()
    q_lo, q_hi = np.quantile(centred + delta, [alpha / 2, 1 - alpha / 2])
    return delta, (float(q_lo), float(q_hi)), bootstrap_p_value(diffs)
