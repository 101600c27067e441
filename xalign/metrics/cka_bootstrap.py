"""Bootstrap distributions of linear CKA without re-materialising resampled data.

A bootstrap resample of ``n`` rows is a count vector ``w`` (``sum(w) = n``). Biased linear HSIC of
the resampled rows equals ``Σ_ij w_i w_j Kc_ij L_ij`` with ``K = X Xᵀ``, ``L = Y Yᵀ`` and ``Kc`` centred
with the *weighted* row means, which expands to

    wᵀ (K∘L) w − 2 Σ_i w_i r_i (L w)_i + m · wᵀ L w,   r = K w / n,  m = wᵀ K w / n²,

so a whole batch of resamples is a handful of ``[B, n] @ [n, n]`` products. Replicate ``b`` equals
``linear_cka(x[idx_b], y[idx_b])`` for the index draw ``idx_b`` of :func:`bootstrap_indices`, so two
calls with the same seed and ``n`` give *paired* replicates (used for before/after deltas).
"""

from __future__ import annotations

import numpy as np


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, n]`` row indices drawn with replacement from a seeded generator."""
    if n < 1 or n_boot < 1:
        raise ValueError(f"need n >= 1 and n_boot >= 1, got n={n}, n_boot={n_boot}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _weighted_hsic(wa, wb, prod, weights, n):
    """Batched ``Σ_ij w_i w_j Kc_ij L_ij`` given ``wa = W K``, ``wb = W L`` and ``prod = K∘L``."""
    term1 = ((weights @ prod) * weights).sum(1)
    term2 = 2.0 * (weights * (wa / n) * wb).sum(1)
    term3 = (wa * weights).sum(1) / n**2 * (wb * weights).sum(1)
    return term1 - term2 + term3


def linear_cka_bootstrap(x: np.ndarray, y: np.ndarray, *, n_boot: int = 200, seed: int = 0,
                         batch: int = 128, max_gram: int = 4096) -> np.ndarray:
    """``n_boot`` bootstrap replicates of biased linear CKA (float64, paired across calls by ``seed``).

    Up to ``max_gram`` rows the n×n Gram form above is used; beyond it, each replicate is computed in
    the O(n·d²) feature form with per-row weights (same values, more time, bounded memory)."""
    import torch

    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected x [n, d1] and y [n, d2] with the same n, got {x.shape} and {y.shape}")
    n = x.shape[0]
    idx = bootstrap_indices(n, n_boot, seed)
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
        vals = torch.where(denom > 0, hkl / denom.clamp_min(1e-300), torch.zeros_like(hkl))
        out[start:start + len(rows)] = vals.numpy()
    return out


def _feature_form_replicates(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    import torch

    tx = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    ty = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))
    n = tx.shape[0]
    out = np.empty(len(idx))
    for b, rows in enumerate(idx):
        w = torch.bincount(torch.from_numpy(rows), minlength=n).to(torch.float64)[:, None]
        xc = tx - (w * tx).sum(0) / n
        yc = ty - (w * ty).sum(0) / n
        xy = torch.linalg.matrix_norm(yc.T @ (w * xc)) ** 2
        xx = torch.linalg.matrix_norm(xc.T @ (w * xc))
        yy = torch.linalg.matrix_norm(yc.T @ (w * yc))
        out[b] = float(xy / (xx * yy)) if float(xx * yy) > 0 else 0.0
    return out


def bootstrap_linear_cka(x: np.ndarray, y: np.ndarray, *, n_boot: int = 200, seed: int = 0,
                         alpha: float = 0.05) -> tuple[float, float]:
    """Percentile ``1 - alpha`` bootstrap interval of biased linear CKA (resampling rows)."""
    reps = linear_cka_bootstrap(x, y, n_boot=n_boot, seed=seed)
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
