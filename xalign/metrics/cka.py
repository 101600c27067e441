"""Centered kernel alignment (Kornblith et al. 2019): linear, RBF, debiased, minibatch, grids.

Numerics: inputs are centred and multiplied in float64 with torch (MKL), never through
numpy's ``x @ x.T`` (protocols.md: OpenBLAS 0.3.31 crashes there for n >= ~16k). Linear CKA
uses the feature form ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)``: O(n d^2) time and
O(d^2) memory, no n x n matrix. RBF CKA needs the n x n Gram matrices (O(n^2) memory).

Debiased CKA replaces HSIC by the unbiased estimator of Song et al. (2012); for the linear
kernel it is evaluated in feature form (Kornblith's ``feature_space_linear_cka``):
``HSIC_u * n(n-3) = tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1`` with
``K~ = K - diag(K)``; every term reduces to d x d products and row norms. It needs n >= 4
and can be negative (reported as is).

Degenerate inputs never produce a silent NaN: a representation without variance (all rows
equal), or whose debiased self-HSIC is not positive, raises ``ValueError`` naming the input.
:class:`MinibatchCKA` follows Nguyen et al. (2021): accumulate per-batch HSIC terms and
normalise once at the end (not an average of per-batch CKA values).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def _resolve(device: Any) -> Any:
    """``None`` is the CPU: the pipeline decides the device once and passes it down."""
    import torch

    return torch.device("cpu" if device is None else device)


def _tensor(x: Any, name: str, device: Any, ndim: int = 2) -> Any:
    """Validated float64 torch tensor on ``device``, always a fresh copy (callers centre it in place)."""
    import torch

    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        arr = np.asarray(x)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim != ndim:
        shape = "[n, dim]" if ndim == 2 else "[layers, n, dim]"
        raise ValueError(f"{name}: expected a {ndim}-D array {shape}, got shape {tuple(t.shape)}")
    t = t.to(device=device, dtype=torch.float64, copy=True)  # private copy: centred in place later
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t


def _check_n(n_x: int, n_y: int, debiased: bool) -> int:
    if n_x != n_y:
        raise ValueError(f"x and y must describe the same examples: got {n_x} and {n_y} rows")
    minimum = 4 if debiased else 2
    if n_x < minimum:
        kind = "debiased (unbiased HSIC needs n >= 4)" if debiased else "biased"
        raise ValueError(f"{kind} CKA needs at least {minimum} examples, got {n_x}")
    return n_x


class _Stats:
    """Per-representation terms of the feature-form HSIC (centred features, row norms, self-HSIC)."""

    def __init__(self, x: Any, name: str, debiased: bool, *, check: bool = True) -> None:
        import torch

        self.name = name
        self.n = x.shape[0]
        raw_sq = float(torch.linalg.vector_norm(x)) ** 2
        self.x = x.sub_(x.mean(dim=0, keepdim=True))  # x is a private copy (see _tensor)
        self.row_sq = torch.linalg.vector_norm(self.x, dim=1) ** 2  # diag of K
        self.total_sq = self.row_sq.sum()  # trace of K
        self.debiased = debiased
        self.self_hsic = float(_hsic(self, self))
        if not check:
            return
        # relative test: centring rows that are equal up to rounding leaves ~1e-16 noise, not variance
        if float(self.total_sq) <= 1e-12 * raw_sq or float(self.total_sq) == 0.0:
            raise ValueError(f"{name} has no variance (all rows equal): CKA is undefined; "
                             "drop constant representations")
        if not self.self_hsic > 0.0:
            raise ValueError(f"{name} has a non-positive debiased self-HSIC ({self.self_hsic:.3g}; too few or "
                             "near-identical examples): debiased CKA is undefined; use more examples")


def _hsic(a: _Stats, b: _Stats) -> Any:
    """Scaled HSIC of two centred representations (n(n-3) HSIC_u when debiased, (n-1)^2 HSIC otherwise)."""
    xty = a.x.T @ b.x
    dot = (xty * xty).sum()
    if not a.debiased:
        return dot
    n = a.n
    # tr(K~L~) = ||X'Y||^2 - sum_i |x_i|^2 |y_i|^2 ; for centred data 1'K~1 = -tr K and
    # 1'K~L~1 = sum_i (x_i . 1'X - |x_i|^2)(y_i . 1'Y - |y_i|^2) = sum_i |x_i|^2 |y_i|^2.
    return (dot - n / (n - 2.0) * (a.row_sq @ b.row_sq)
            + a.total_sq * b.total_sq / ((n - 1.0) * (n - 2.0)))


def _cka(a: _Stats, b: _Stats) -> float:
    return float(_hsic(a, b)) / float(np.sqrt(a.self_hsic * b.self_hsic))


def linear_cka(x: Any, y: Any, *, debiased: bool = False, device: Any = None) -> float:
    """Linear CKA of two representations of the same ``n`` examples (feature form, float64).

    Args:
        x: ``[n, d1]`` array or tensor.
        y: ``[n, d2]`` array or tensor.
        debiased: use the unbiased HSIC estimator (Song et al. 2012); needs n >= 4.
        device: torch device (``None``: the CPU).
    """
    dev = _resolve(device)
    tx, ty = _tensor(x, "x", dev), _tensor(y, "y", dev)
    _check_n(tx.shape[0], ty.shape[0], debiased)
    return _cka(_Stats(tx, "x", debiased), _Stats(ty, "y", debiased))


def _rbf_gram(x: Any, sigma_scale: float, median_includes_diagonal: bool, name: str) -> Any:
    import torch

    sq = (x * x).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).clamp_min_(0.0)
    d2.fill_diagonal_(0.0)
    flat = d2.cpu().numpy()
    values = flat.ravel() if median_includes_diagonal else flat[np.triu_indices(flat.shape[0], 1)]
    median = float(np.median(values))  # numpy's median (mean of the middle two), as Kornblith's code
    if not median > 0.0:
        raise ValueError(f"{name}: median squared distance is 0 (most rows equal); the RBF bandwidth is undefined")
    return torch.exp(-d2 / (2.0 * sigma_scale**2 * median))


def hsic_gram(k: Any, m: Any, *, debiased: bool = False) -> float:
    """HSIC of two ``n x n`` kernel matrices K, M: biased ``tr(KHMH)/(n-1)^2`` or unbiased (Song et al. 2012)."""
    n = k.shape[0]
    if debiased:
        kt = k.clone()
        lt = m.clone()
        kt.fill_diagonal_(0.0)
        lt.fill_diagonal_(0.0)
        k_sum, l_sum = kt.sum(), lt.sum()
        value = ((kt * lt).sum() + k_sum * l_sum / ((n - 1) * (n - 2))
                 - 2.0 / (n - 2) * (kt.sum(dim=0) @ lt.sum(dim=0)))
        return float(value) / (n * (n - 3))
    kc = k - k.mean(dim=0, keepdim=True)
    kc = kc - kc.mean(dim=1, keepdim=True)
    lc = m - m.mean(dim=0, keepdim=True)
    lc = lc - lc.mean(dim=1, keepdim=True)
    return float((kc * lc).sum()) / (n - 1) ** 2


def rbf_cka(
    x: Any,
    y: Any,
    *,
    sigma_scale: float = 1.0,
    median_includes_diagonal: bool = True,
    debiased: bool = False,
    device: Any = None,
) -> float:
    """RBF-kernel CKA: ``k(a, b) = exp(-|a-b|^2 / (2 sigma^2))``, ``sigma = sigma_scale * sqrt(median |a-b|^2)``.

    The median is over all n^2 squared distances including the zero diagonal when
    ``median_includes_diagonal`` (Kornblith's ``gram_rbf``; his demo uses ``sigma_scale=0.5``),
    else over the n(n-1)/2 distinct pairs. Builds n x n matrices: O(n^2) memory.
    """
    if not sigma_scale > 0:
        raise ValueError(f"sigma_scale: expected a positive number, got {sigma_scale}")
    dev = _resolve(device)
    tx, ty = _tensor(x, "x", dev), _tensor(y, "y", dev)
    _check_n(tx.shape[0], ty.shape[0], debiased)
    kx = _rbf_gram(tx, sigma_scale, median_includes_diagonal, "x")
    ky = _rbf_gram(ty, sigma_scale, median_includes_diagonal, "y")
    hxx, hyy = hsic_gram(kx, kx, debiased=debiased), hsic_gram(ky, ky, debiased=debiased)
    for name, value in (("x", hxx), ("y", hyy)):
        if not value > 0.0:
            raise ValueError(f"{name}: self-HSIC is {value:.3g} (not positive); RBF CKA is undefined")
    return hsic_gram(kx, ky, debiased=debiased) / float(np.sqrt(hxx * hyy))


def _layers(xs: Any, name: str, dev: Any) -> list[Any]:
    if isinstance(xs, (list, tuple)):
        if not xs:
            raise ValueError(f"{name}: expected at least one layer")
        return [_tensor(x, f"{name}[{i}]", dev) for i, x in enumerate(xs)]
    t = _tensor(xs, name, dev, ndim=3)
    return [t[i] for i in range(t.shape[0])]


def cka_grid(xs: Sequence[Any] | Any, ys: Sequence[Any] | Any | None = None, *, debiased: bool = False,
             device: Any = None) -> np.ndarray:
    """Linear CKA between every layer of ``xs`` and every layer of ``ys`` -> ``[L, L']`` float64.

    ``xs``/``ys`` are ``[L, n, d]`` arrays or sequences of ``[n, d]`` arrays (dims may differ
    by layer). With ``ys=None`` the grid of ``xs`` with itself is computed, using symmetry.
    Centred features and self-HSIC are computed once per layer; each cell then costs one
    ``d x d'`` product.
    """
    dev = _resolve(device)
    if ys is xs:
        ys = None
    lx = _layers(xs, "xs", dev)
    ly = lx if ys is None else _layers(ys, "ys", dev)
    n = lx[0].shape[0]
    for t in list(lx) + list(ly):
        _check_n(n, t.shape[0], debiased)
    sx = [_Stats(t, f"xs[{i}]", debiased) for i, t in enumerate(lx)]
    sy = sx if ys is None else [_Stats(t, f"ys[{i}]", debiased) for i, t in enumerate(ly)]
    grid = np.empty((len(sx), len(sy)), dtype=np.float64)
    for i, a in enumerate(sx):
        for j, b in enumerate(sy):
            if ys is None and j < i:
                grid[i, j] = grid[j, i]
            elif ys is None and j == i:
                grid[i, j] = 1.0  # CKA(X, X), exactly
            else:
                grid[i, j] = _cka(a, b)
    return grid


def cross_lingual_cka(a: Any, b: Any, *, debiased: bool = False, device: Any = None) -> np.ndarray:
    """Per-layer linear CKA of parallel representations ``a``/``b`` ``[L, n, d]`` -> ``[L]`` float64."""
    dev = _resolve(device)
    la, lb = _layers(a, "a", dev), _layers(b, "b", dev)
    if len(la) != len(lb):
        raise ValueError(f"a and b must have the same number of layers, got {len(la)} and {len(lb)}")
    return np.array([linear_cka(x, y, debiased=debiased, device=dev) for x, y in zip(la, lb)], dtype=np.float64)


class MinibatchCKA:
    """Streaming linear CKA (Nguyen et al. 2021): per-batch HSIC summed, normalised once.

    ``update(x, y)`` takes a batch ``[b, d]`` (or a stack of layers ``[L, b, d]`` /
    ``[L', b, d']`` for a grid); ``compute()`` returns ``sum HSIC(x, y) / sqrt(sum HSIC(x, x)
    sum HSIC(y, y))`` as a float (or ``[L, L']`` array). Per-batch HSIC is the unbiased
    estimator by default (``debiased=True``, batches need >= 4 rows), as in the official code.
    With a single batch holding all data this equals :func:`linear_cka`.
    """

    def __init__(self, *, debiased: bool = True, device: Any = None) -> None:
        self.debiased = debiased
        self.device = _resolve(device)
        self._xy: np.ndarray | None = None
        self._xx: np.ndarray | None = None
        self._yy: np.ndarray | None = None
        self._grid: bool | None = None
        self.n_batches = 0
        self.n_examples = 0

    def update(self, x: Any, y: Any) -> None:
        """Add one batch of paired representations."""
        grid = (x.ndim if hasattr(x, "ndim") else np.ndim(x)) == 3
        if self._grid is not None and grid != self._grid:
            raise ValueError("MinibatchCKA: every batch must have the same layout ([b, d] or [L, b, d])")
        lx = _layers(x, "x", self.device) if grid else [_tensor(x, "x", self.device)]
        ly = _layers(y, "y", self.device) if grid else [_tensor(y, "y", self.device)]
        b = lx[0].shape[0]
        for t in lx + ly:
            _check_n(b, t.shape[0], self.debiased)
        scale = b * (b - 3.0) if self.debiased else (b - 1.0) ** 2
        sx = [_Stats(t, "x", self.debiased, check=False) for t in lx]
        sy = [_Stats(t, "y", self.debiased, check=False) for t in ly]
        xy = np.array([[float(_hsic(a, c)) / scale for c in sy] for a in sx])
        xx = np.array([a.self_hsic / scale for a in sx])
        yy = np.array([c.self_hsic / scale for c in sy])
        if self._xy is None:
            self._xy, self._xx, self._yy, self._grid = xy, xx, yy, grid
        else:
            if xy.shape != self._xy.shape:
                raise ValueError(f"MinibatchCKA: batch has {xy.shape} layer pairs, earlier batches {self._xy.shape}")
            self._xy, self._xx, self._yy = self._xy + xy, self._xx + xx, self._yy + yy
        self.n_batches += 1
        self.n_examples += b

    def compute(self) -> float | np.ndarray:
        """CKA from the accumulated terms (raises ``ValueError`` before any update or if undefined)."""
        if self._xy is None or self._xx is None or self._yy is None:
            raise ValueError("MinibatchCKA.compute() called before any update()")
        if not ((self._xx > 0).all() and (self._yy > 0).all()):
            raise ValueError("MinibatchCKA: accumulated self-HSIC is not positive for some layer "
                             "(constant representation or too few examples)")
        out = self._xy / np.sqrt(np.outer(self._xx, self._yy))
        return float(out[0, 0]) if not self._grid else out

    def reset(self) -> None:
        """Forget all accumulated batches."""
        self._xy = self._xx = self._yy = None
        self._grid = None
        self.n_batches = 0
        self.n_examples = 0
