"""2-D projections of sentence embeddings for display: PCA by default (instant), UMAP on request (a fixed
seed; about 1 s per layer of 2,000 points after a ~10 s numba start, hence cached by
:mod:`xalign.report.cache`).

This is drawing, not measuring: nothing here feeds a metric. Each layer is projected on its own;
consecutive layers are rotated/reflected onto each other (orthogonal Procrustes) and scaled into
[-1, 1] so that a layer slider moves points smoothly inside fixed axes.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from xalign.errors import ConfigError, DependencyError

logger = logging.getLogger(__name__)

__all__ = ["PairProjection", "subsample", "project_2d", "project_pair_layers", "project_joint", "resolve_method",
           "MIN_UMAP_POINTS"]

#: below this many points (both languages together) "auto" uses PCA: UMAP's neighbourhood graph is meaningless.
MIN_UMAP_POINTS = 40
_UMAP_SMALL_DATA = 4096  # umap-learn computes exact neighbours below this many points
_METHODS = ("auto", "umap", "pca")


@dataclass(frozen=True)
class PairProjection:
    """Per-layer 2-D coordinates of ``index`` (positions into the corpus) in both languages."""

    index: np.ndarray  # [m] sorted sentence indices shown
    layers: list[int]
    src_xy: np.ndarray  # [n_layers, m, 2] float32 in [-1, 1]
    tgt_xy: np.ndarray  # [n_layers, m, 2]
    method: str  # "umap" or "pca"


def subsample(n: int, max_points: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of ``range(n)``, drawn without replacement with ``seed``."""
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    if max_points is None or n <= max_points:
        return np.arange(n)
    if max_points < 1:
        raise ConfigError(f"max_points must be >= 1, got {max_points}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _principal_scores(centred: np.ndarray, k: int) -> np.ndarray:
    """Scores of the top-``k`` principal components of centred rows (eigh of the smaller Gram/covariance
    matrix: much faster than a full SVD for [2000, 384]); axes beyond the rank are zero."""
    n, d = centred.shape
    out = np.zeros((n, k))
    if n < 2:
        return out
    with _one_blas_thread():  # tiny eigenproblems: multi-threaded BLAS only spins (100x slower on a busy box)
        scores = _scores(centred, k)
    out[:, : scores.shape[1]] = scores
    return out


def _one_blas_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits  # installed with umap-learn/scikit-learn
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _scores(centred: np.ndarray, k: int) -> np.ndarray:
    n, d = centred.shape
    if d <= n:
        vals, vecs = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(vals)[::-1][:k]
        scores = centred @ vecs[:, order]
    else:
        vals, vecs = np.linalg.eigh(centred @ np.ascontiguousarray(centred.T))
        order = np.argsort(vals)[::-1][:k]
        scores = vecs[:, order] * np.sqrt(np.clip(vals[order], 0, None))
    return scores


def _pca_2d(x: np.ndarray) -> np.ndarray:
    out = _principal_scores(x - x.mean(axis=0, keepdims=True), 2)
    # deterministic sign: the largest-magnitude coordinate of each axis is positive
    for j in range(2):
        if out.shape[0] and out[np.argmax(np.abs(out[:, j])), j] < 0:
            out[:, j] *= -1
    return out


def _distances(z: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance matrix of the rows of ``z`` (numpy, so UMAP skips its per-pair Python loop)."""
    with _one_blas_thread():
        sq = np.einsum("ij,ij->i", z, z)
        d = sq[:, None] + sq[None, :] - 2.0 * (z @ np.ascontiguousarray(z.T))
    np.maximum(d, 0.0, out=d)
    np.fill_diagonal(d, 0.0)
    return np.sqrt(d)


def _umap_2d(x: np.ndarray, seed: int) -> np.ndarray:
    import umap  # lazy: heavy import (numba)

    n = x.shape[0]
    n_neighbors = int(min(15, max(2, n - 1)))
    # below UMAP's own small-data threshold it computes all distances by calling a numba metric once per
    # pair from Python (~10 s for 2,000 points); handing it the matrix is exact, identical and ~3x faster
    precomputed = n < _UMAP_SMALL_DATA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs/random_state and precomputed-metric chatter
        reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1,
                            metric="precomputed" if precomputed else "euclidean", n_epochs=200,
                            random_state=seed, n_jobs=1, init="spectral" if n > n_neighbors + 2 else "random")
        return np.asarray(reducer.fit_transform(_distances(x) if precomputed else x), dtype=np.float64)


def resolve_method(method: str, n_points: int) -> str:
    """``"umap"`` or ``"pca"`` for ``method`` in auto/umap/pca and ``n_points`` to project.

    "auto" is PCA: a report is drawn at the end of every probe, and UMAP's numba start alone (~10 s)
    would exceed its time budget (≤ 15% of a default probe); "umap" asks for it (PCA below
    :data:`MIN_UMAP_POINTS` points, where UMAP's neighbourhood graph is meaningless)."""
    if method not in _METHODS:
        raise ConfigError(f"projection method must be one of {list(_METHODS)}, got {method!r}")
    if method in ("pca", "auto"):
        return "pca"
    if n_points < MIN_UMAP_POINTS:
        logger.info("only %d points: PCA instead of UMAP", n_points)
        return "pca"
    try:
        import umap  # noqa: F401
    except ImportError:
        raise DependencyError("projection 'umap' needs umap-learn (pip install umap-learn)") from None
    return "umap"


def project_2d(x: np.ndarray, *, seed: int = 0, method: str = "auto") -> tuple[np.ndarray, str]:
    """Project the rows of ``x`` [n, d] to 2-D after L2 normalisation (cosine geometry).

    Returns ``(coords [n, 2] float64, method used)``: PCA for "auto" and "pca", and for "umap" when
    ``n`` < :data:`MIN_UMAP_POINTS`.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ConfigError(f"expected a [n, dim] array, got shape {x.shape}")
    used = resolve_method(method, x.shape[0])
    z = _normalize_rows(x)
    if used == "umap":
        # PCA to <= 50 dimensions first: the usual denoising step, and faster neighbour search
        if z.shape[1] > 50:
            z = _principal_scores(z - z.mean(axis=0, keepdims=True), 50)
        return _umap_2d(z, seed), used
    return _pca_2d(z), used


def _fit_box(xy: np.ndarray) -> np.ndarray:
    centred = xy - xy.mean(axis=0, keepdims=True) if len(xy) else xy
    scale = float(np.abs(centred).max()) if centred.size else 0.0
    return centred / scale if scale > 0 else centred


def _procrustes_onto(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Rotate/reflect centred ``moving`` [m, 2] onto centred ``fixed`` (orthogonal Procrustes)."""
    u, _, vt = np.linalg.svd(moving.T @ fixed)
    return moving @ (u @ vt)


def project_pair_layers(src: np.ndarray, tgt: np.ndarray, layers: list[int], *, max_points: int | None = 1000,
                        seed: int = 0, method: str = "auto") -> PairProjection:
    """Project both languages of each layer jointly (same subsample of sentence pairs in every layer).

    ``src``/``tgt`` are [n_layers, n, hidden]; at most ``max_points`` sentences per language are
    kept (drawn with ``seed``); coordinates of each layer are aligned to the previous layer and
    scaled into [-1, 1].
    """
    return project_joint([(src, tgt)], layers, max_points=max_points, seed=seed, method=method)[0]


def _check_groups(groups: list[tuple[np.ndarray, np.ndarray]], layers: list[int]) -> None:
    if not groups:
        raise ConfigError("nothing to project: no (src, tgt) arrays")
    for src, tgt in groups:
        if src.ndim != 3 or src.shape != tgt.shape:
            raise ConfigError(f"expected two [layers, n, hidden] arrays of one shape, got {src.shape} and {tgt.shape}")
        if len(layers) != src.shape[0]:
            raise ConfigError(f"{len(layers)} layer numbers for {src.shape[0]} stored layers")
        if src.shape[:2] != groups[0][0].shape[:2]:
            raise ConfigError(f"joint projection needs the same layers and sentences in every model, got "
                              f"{groups[0][0].shape[:2]} and {src.shape[:2]}")


def project_joint(groups: list[tuple[np.ndarray, np.ndarray]], layers: list[int], *, max_points: int | None = 1000,
                  seed: int = 0, method: str = "auto") -> list[PairProjection]:
    """Project several models' embeddings of the same sentence pairs with ONE fit per layer, so their maps
    share coordinates and can be compared point by point (compare's side-by-side maps).

    ``groups`` holds one ``(src, tgt)`` pair of [n_layers, n, hidden] arrays per model (one hidden size);
    the same subsample of ``max_points`` sentences (drawn with ``seed``) is used for every model and layer.
    Each layer is rotated onto the previous one (orthogonal Procrustes) and scaled into [-1, 1] as a whole.
    """
    _check_groups(groups, layers)
    index = subsample(groups[0][0].shape[1], max_points, seed)
    m, g = len(index), len(groups)
    used = resolve_method(method, 2 * m * g)
    out = [(np.zeros((len(layers), m, 2), dtype=np.float32), np.zeros((len(layers), m, 2), dtype=np.float32))
           for _ in groups]
    previous: np.ndarray | None = None
    for li in range(len(layers)):
        parts = [np.asarray(side[li][index]) for src, tgt in groups for side in (src, tgt)]
        xy, _ = project_2d(np.concatenate(parts, axis=0), seed=seed, method=used)
        xy = xy - xy.mean(axis=0, keepdims=True)
        if previous is not None and m > 0:
            xy = _procrustes_onto(xy, previous)
        xy = _fit_box(xy)
        previous = xy
        for gi, (src_xy, tgt_xy) in enumerate(out):
            src_xy[li], tgt_xy[li] = xy[2 * gi * m:(2 * gi + 1) * m], xy[(2 * gi + 1) * m:(2 * gi + 2) * m]
    logger.info("projected %d layers x %d pairs x %d model(s) with %s", len(layers), m, g, used)
    return [PairProjection(index=index, layers=list(layers), src_xy=s, tgt_xy=t, method=used) for s, t in out]
