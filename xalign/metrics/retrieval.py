"""Sentence retrieval between two languages: cosine, CSLS, ratio margin; P@k, MRR, hubness; presets.

Every score here is computed exactly. The neighbourhood terms ``r`` of CSLS/margin come from
:func:`~xalign.metrics.search.topk_search` (faiss); the ranks, top-1 and P@k come from one
row-chunked pass over the full score matrix (:func:`~xalign.metrics.search.scan`), so the
rank of the gold target is exact for all three methods, not estimated from a candidate list.
That pass costs one ``n_src x n_tgt x dim`` product per direction (seconds at 50k x 50k on a
CPU). For top-k lists without ranks use :func:`topk_search` / :func:`csls_topk` directly.

Definitions (protocols.md): ``CSLS(x, y) = 2cos(x, y) - r_T(x) - r_S(y)`` with ``r`` the mean
cosine of the k = 10 nearest neighbours in the other language; ratio margin
``cos(x, y) / (r_T(x)/2 + r_S(y)/2)`` with k = 4 (Artetxe & Schwenk 2019); centring subtracts
each side's own mean before normalising (Libovický et al. 2020).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from xalign.metrics.mining import MiningResult, best_f1_threshold, bitext_mining, mteb_bitext_scores
from xalign.metrics.search import (
    DEFAULT_K,
    SCORE_METHODS,
    ScanResult,
    csls_topk,
    neighbourhood_similarity,
    prepare,
    scan,
    topk_search,
)

__all__ = [
    "PRESETS",
    "MiningResult",
    "RetrievalPreset",
    "RetrievalResult",
    "best_f1_threshold",
    "bidirectional_retrieval",
    "layer_retrieval",
    "LayerRetrieval",
    "bitext_mining",
    "csls_topk",
    "hubness",
    "k_occurrence",
    "mteb_bitext_scores",
    "retrieval_scores",
    "topk_search",
]

DEFAULT_KS = (1, 5, 10)


@dataclass(frozen=True)
class RetrievalResult:
    """Retrieval quality of one method in one direction.

    ``ranks[i]`` is the 0-based rank of query i's gold target (0 = retrieved first), ``top1[i]``
    the index of the best-scoring target and ``top1_score[i]`` its score, ``p_at[k]`` the fraction
    of queries whose gold is in the top k, ``mrr`` the mean of ``1 / (rank + 1)``.
    """

    method: str
    k: int | None
    center: bool
    ranks: np.ndarray
    top1: np.ndarray
    top1_score: np.ndarray
    p_at: dict[int, float]
    mrr: float
    n_queries: int

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """Plain JSON-able dict; per-query arrays only when ``arrays`` is true."""
        out = {"method": self.method, "k": self.k, "center": self.center, "n_queries": self.n_queries,
               "mrr": self.mrr, "p_at": {int(k): float(v) for k, v in self.p_at.items()}}
        if arrays:
            out["ranks"] = self.ranks.tolist()
            out["top1"] = self.top1.tolist()
            out["top1_score"] = self.top1_score.tolist()
        return out


def _check_method(method: str) -> str:
    if method not in SCORE_METHODS:
        raise ValueError(f"method: expected one of {SCORE_METHODS}, got {method!r}")
    return method


def _method_k(method: str, k: int | None, n_src: int, n_tgt: int) -> int | None:
    if method == "cosine":
        return None
    k = DEFAULT_K[method] if k is None else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive int for {method}, got {k!r}")
    return int(min(k, n_src, n_tgt))


def _gold(gold: Any, n_src: int, n_tgt: int) -> np.ndarray:
    if gold is None:
        if n_src > n_tgt:
            raise ValueError(f"default gold pairs query i with target i, but there are {n_src} queries "
                             f"and only {n_tgt} targets; pass gold=")
        return np.arange(n_src, dtype=np.int64)
    g = np.asarray(gold)
    if g.shape != (n_src,) or not np.issubdtype(g.dtype, np.integer):
        raise ValueError(f"gold: expected {n_src} integer target indices, got shape {g.shape} dtype {g.dtype}")
    if g.min() < 0 or g.max() >= n_tgt:
        raise ValueError(f"gold: target indices must lie in [0, {n_tgt}), got range [{g.min()}, {g.max()}]")
    return g.astype(np.int64)


def _summarise(method: str, k: int | None, center: bool, scanned: ScanResult, ks: Sequence[int]) -> RetrievalResult:
    ranks = np.asarray(scanned.ranks, dtype=np.int64)  # scan() was given gold, so ranks exist
    p_at = {int(kk): float(np.mean(ranks < kk)) for kk in ks}
    mrr = float(np.mean(1.0 / (ranks + 1.0)))
    return RetrievalResult(method=method, k=k, center=center, ranks=ranks, top1=scanned.top1,
                           top1_score=scanned.top1_score, p_at=p_at, mrr=mrr, n_queries=int(ranks.shape[0]))


def _r_from_neighbours(scores: np.ndarray, k: int) -> np.ndarray:
    """``r`` of CSLS/margin from one top-k search: mean of the first ``k`` (best-first) scores."""
    return scores[:, :k].astype(np.float64).mean(axis=1)


def _directional(src: np.ndarray, tgt: np.ndarray, methods: Sequence[str], k: int | None, center: bool,
                 gold: np.ndarray, ks: Sequence[int], device: Any, names: tuple[str, str] = ("src", "tgt"),
                 r_cache: dict[tuple[str, int], np.ndarray] | None = None,
                 neighbours: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> dict[str, RetrievalResult]:
    """Scores of several methods with one scan.

    ``neighbours[name]`` is one top-k search of the rows of set ``name`` in the other set (k at
    least every method's neighbourhood); ``r`` of every method and both directions is read from
    it, so each direction costs one :func:`topk_search` whatever the methods. Without it, ``r_cache``
    memoises per-``k`` searches.
    """
    r_cache = {} if r_cache is None else r_cache
    r_q: dict[str, np.ndarray] = {}
    r_k: dict[str, np.ndarray] = {}
    method_k = {m: _method_k(m, k, src.shape[0], tgt.shape[0]) for m in methods}
    for m in methods:
        if method_k[m] is None:
            continue
        kk = method_k[m]
        for side, own, other, store in ((names[0], src, tgt, r_q), (names[1], tgt, src, r_k)):
            if neighbours is not None and side in neighbours and neighbours[side][0].shape[1] >= kk:
                store[m] = _r_from_neighbours(neighbours[side][0], kk)
                continue
            if (side, kk) not in r_cache:
                r_cache[(side, kk)] = neighbourhood_similarity(own, other, kk, device=device)
            store[m] = r_cache[(side, kk)]
    scanned = scan(src, tgt, tuple(methods), r_queries=r_q, r_keys=r_k, gold=gold, device=device)
    return {m: _summarise(m, method_k[m], center, scanned[m], ks) for m in methods}


def retrieval_scores(
    src: Any,
    tgt: Any,
    *,
    method: str = "cosine",
    k: int | None = None,
    center: bool = False,
    gold: Any = None,
    ks: Sequence[int] = DEFAULT_KS,
    device: Any = None,
) -> RetrievalResult:
    """Retrieve targets for source queries and score against the gold target of each query.

    Args:
        src: ``[n_src, dim]`` query vectors (any scale; rows are L2-normalised here).
        tgt: ``[n_tgt, dim]`` target vectors.
        method: ``"cosine"``, ``"csls"`` or ``"margin"`` (ratio margin).
        k: neighbourhood size for CSLS/margin (default 10 / 4; capped at the set sizes).
        center: subtract each side's own mean first (language centring).
        gold: ``[n_src]`` gold target index per query; default query i -> target i.
        ks: cut-offs for P@k.
        device: torch/faiss device; ``None`` is the CPU (the pipeline passes the encoder's).
    """
    _check_method(method)
    s = prepare(src, "src", center=center)
    t = prepare(tgt, "tgt", center=center)
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"src has dim {s.shape[1]} but tgt has dim {t.shape[1]}")
    g = _gold(gold, s.shape[0], t.shape[0])
    return _directional(s, t, [method], k, center, g, ks, device)[method]


@dataclass(frozen=True)
class LayerRetrieval:
    """Both directions of one layer: ``results["a->b"][method]``, and the one cosine top-``k`` search
    per direction it was computed from (``neighbours["a->b"]`` = ``(scores, indices)`` best first)
    that also gives hubness."""

    results: dict[str, dict[str, RetrievalResult]]
    neighbours: dict[str, tuple[np.ndarray, np.ndarray]]
    k: int


def bidirectional_retrieval(
    a: Any,
    b: Any,
    *,
    methods: Sequence[str] = SCORE_METHODS,
    k: int | None = None,
    center: bool = False,
    ks: Sequence[int] = DEFAULT_KS,
    device: Any = None,
    neighbours_k: int = 10,
) -> dict[str, dict[str, RetrievalResult]]:
    """Both directions for parallel sets (row i of ``a`` translates row i of ``b``).

    Returns ``{"a->b": {method: RetrievalResult}, "b->a": {...}}``. See :func:`layer_retrieval`.
    """
    return layer_retrieval(a, b, methods=methods, k=k, center=center, ks=ks, device=device,
                           neighbours_k=neighbours_k).results


def layer_retrieval(
    a: Any,
    b: Any,
    *,
    methods: Sequence[str] = SCORE_METHODS,
    k: int | None = None,
    center: bool = False,
    ks: Sequence[int] = DEFAULT_KS,
    device: Any = None,
    neighbours_k: int = 10,
) -> LayerRetrieval:
    """Every method, both directions, of parallel sets, from shared work: normalisation once, one
    top-``max(neighbours_k, method k)`` search per direction (the CSLS/margin ``r`` of every method
    and the neighbours for :func:`hubness`), and one scan per direction for all methods."""
    for m in methods:
        _check_method(m)
    x = prepare(a, "a", center=center)
    y = prepare(b, "b", center=center)
    if x.shape != y.shape:
        raise ValueError(f"a and b must be parallel sets of equal shape, got {x.shape} and {y.shape}")
    n = x.shape[0]
    need = [kk for m in methods if (kk := _method_k(m, k, n, n)) is not None]
    kmax = min(n, max([neighbours_k, *need]))
    neighbours = {"a": topk_search(x, y, kmax, device=device), "b": topk_search(y, x, kmax, device=device)}
    g = np.arange(n, dtype=np.int64)
    results = {
        "a->b": _directional(x, y, list(methods), k, center, g, ks, device, ("a", "b"), neighbours=neighbours),
        "b->a": _directional(y, x, list(methods), k, center, g, ks, device, ("b", "a"), neighbours=neighbours),
    }
    return LayerRetrieval(results=results, neighbours={"a->b": neighbours["a"], "b->a": neighbours["b"]}, k=kmax)


def k_occurrence(neighbours: Any, n_targets: int, k: int = 10) -> np.ndarray:
    """How often each target appears among the first ``k`` neighbours of all queries, int64 [n_targets]."""
    nb = np.asarray(neighbours)
    if nb.ndim != 2 or not np.issubdtype(nb.dtype, np.integer):
        raise ValueError(f"neighbours: expected an integer array [n_queries, >=k], got shape {nb.shape} "
                         f"dtype {nb.dtype}")
    if not 1 <= k <= nb.shape[1]:
        raise ValueError(f"k: expected 1 <= k <= {nb.shape[1]} (columns of neighbours), got {k}")
    first = nb[:, :k].ravel()
    if first.size and (first.min() < 0 or first.max() >= n_targets):
        raise ValueError(f"neighbours: indices must lie in [0, {n_targets}), got [{first.min()}, {first.max()}]")
    return np.bincount(first, minlength=n_targets).astype(np.int64)


def hubness(neighbours: Any, n_targets: int, k: int = 10) -> float:
    """Skewness of the k-occurrence distribution (Radovanović et al. 2010); 0 = no hubs.

    ``neighbours`` is ``[n_queries, >= k]`` target indices, best first (e.g. from
    :func:`topk_search`). Population skewness ``m3 / m2**1.5`` as ``scipy.stats.skew``;
    returns 0.0 when every target occurs equally often (skewness undefined).
    """
    counts = k_occurrence(neighbours, n_targets, k).astype(np.float64)
    centred = counts - counts.mean()
    m2 = float(np.mean(centred**2))
    if m2 <= 0.0:
        return 0.0
    return float(np.mean(centred**3) / m2**1.5)


@dataclass(frozen=True)
class RetrievalPreset:
    """A published retrieval protocol, recorded next to results so readers know which one ran.

    ``layer`` counts ``hidden_states`` (0 = embedding output); ``None`` means every layer.
    ``direction`` is ``"en->xx"`` (English queries, other language indexed), ``"src->tgt"`` or
    ``"both"``.
    """

    name: str
    pooling: str
    layer: int | None
    direction: str
    methods: tuple[str, ...]
    k: int | None
    center: bool
    metrics: tuple[str, ...]
    reference: str = ""
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for m in self.methods:
            _check_method(m)
        if self.pooling not in ("mean", "mean_all", "cls"):
            raise ValueError(f"pooling: expected mean, mean_all or cls, got {self.pooling!r}")
        if self.direction not in ("en->xx", "src->tgt", "both"):
            raise ValueError(f"direction: expected 'en->xx', 'src->tgt' or 'both', got {self.direction!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for manifests."""
        out = asdict(self)
        out["methods"] = list(self.methods)
        out["metrics"] = list(self.metrics)
        return out


PRESETS: dict[str, RetrievalPreset] = {
    "xtreme-tatoeba": RetrievalPreset(
        name="xtreme-tatoeba", pooling="mean_all", layer=8, direction="en->xx", methods=("cosine",),
        k=None, center=False, metrics=("p@1",), reference="Hu et al. 2020 (XTREME), Tatoeba",
        notes="mean over all tokens incl. special tokens, hidden_states[8] (XTREME specific_layer=7), "
              "L2-normalised, English queries against the non-English index, 1-NN accuracy",
    ),
    "mteb": RetrievalPreset(
        name="mteb", pooling="mean", layer=-1, direction="src->tgt", methods=("cosine",), k=None,
        center=False, metrics=("accuracy", "precision", "recall", "f1"),
        reference="Muennighoff et al. 2023 (MTEB), BitextMining",
        notes="cosine top-1; accuracy and weighted precision/recall/F1, main score F1; "
              "last layer with the model's own pooling",
    ),
    "default": RetrievalPreset(
        name="default", pooling="mean", layer=None, direction="both", methods=SCORE_METHODS, k=None,
        center=False, metrics=("p@1", "p@5", "p@10", "mrr"),
        reference="protocols.md: every layer, both directions, cosine/CSLS(k=10)/margin(k=4)",
    ),
}
