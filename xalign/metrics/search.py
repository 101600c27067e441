"""The one nearest-neighbour kernel of xalign and the exact scoring scan built on it.

* :func:`topk_search` is the only top-k search in the project: maximum inner product on
  float32 with faiss (exact ``IndexFlatIP``, or an approximate ``IndexIVFFlat`` for very
  large key sets), a faiss GPU index when faiss sees GPUs, and a chunked torch
  matmul + ``topk`` on CUDA when torch sees a GPU but the installed faiss is CPU-only.
  Queries are searched in chunks so memory stays bounded.
* :func:`neighbourhood_similarity` (``r`` of CSLS / ratio margin) and :func:`csls_topk` are
  written on top of it. CSLS top-k is exact from two searches: candidates by cosine with a
  bound proving they contain the CSLS top-k, and, for queries where the bound fails, a search on
  augmented vectors (``2 cos(x, y) - r_S(y)`` is the inner product of ``[2x, -1]`` and ``[y, r_S(y)]``).
* :func:`scan` computes the full score matrix in row chunks (torch, on the chosen device)
  and reduces every chunk at once to the exact rank of each query's gold target, the
  row-wise best target and, optionally, the column-wise best query. It is what makes
  ranks/MRR exact for CSLS and ratio margin (whose ranking is not an inner product);
  it costs one ``n_queries x n_keys x d`` product, fine up to ~50k x 50k on a CPU.

Rows are compared by inner product; callers pass L2-normalised rows for cosine
(see :func:`prepare`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

INDEX_KINDS = ("flat", "ivf")
BACKENDS = ("auto", "faiss", "torch")
SCORE_METHODS = ("cosine", "csls", "margin")
DEFAULT_K = {"cosine": None, "csls": 10, "margin": 4}
# Elements of one score block held at once by the scan and the torch backend (64 MB float32).
_BLOCK_ELEMENTS = 16 * 1024 * 1024


def as_matrix(x: Any, name: str) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor or nested list) as a C-contiguous float32 2-D array.

    Raises ``TypeError`` for non-numeric input and ``ValueError`` for a wrong shape, an empty
    matrix or non-finite values.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().float().numpy()
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [n, dim], got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty [n, dim] array, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ValueError(f"{name}: row {bad} contains NaN or infinite values")
    return arr


def prepare(x: Any, name: str, *, center: bool = False) -> np.ndarray:
    """Validate, optionally centre (subtract the set's own mean) and L2-normalise rows (float32).

    Centring follows Libovický et al. (2020): each language's mean over the evaluation set is
    removed before normalising. A row with zero norm raises ``ValueError``.
    """
    arr = as_matrix(x, name)
    if center:
        arr64 = arr.astype(np.float64)
        arr = (arr64 - arr64.mean(axis=0, keepdims=True)).astype(np.float32)
    norms = np.linalg.norm(arr, axis=1)
    tiny = np.flatnonzero(norms <= 1e-12)
    if tiny.size:
        what = "after centring " if center else ""
        raise ValueError(f"{name}: row {int(tiny[0])} has zero norm {what}(cannot normalise; "
                         f"{tiny.size} such rows)")
    return np.ascontiguousarray(arr / norms[:, None], dtype=np.float32)


def resolve_device(device: Any = None) -> str:
    """``None`` -> ``"cpu"``; strings/``torch.device`` pass through. Metrics never pick a GPU by
    themselves: the pipeline decides the device once (the encoder's) and passes it down."""
    return "cpu" if device is None else str(device)


def _check_k(k: Any, n_keys: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(k).__name__}")
    if not 1 <= int(k) <= n_keys:
        raise ValueError(f"{name}: expected 1 <= {name} <= number of keys ({n_keys}), got {k}")
    return int(k)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a dependency
        raise ImportError("topk_search needs faiss: pip install faiss-cpu (or 'xalign[gpu]')") from exc
    return faiss


def topk_search(
    queries: Any,
    keys: Any,
    k: int,
    *,
    chunk_size: int = 16384,
    device: Any = None,
    index: str = "flat",
    backend: str = "auto",
    nlist: int | None = None,
    nprobe: int | None = None,
    seed: int = 0,
    metric: str = "ip",
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` keys by inner product (or cosine) for every query.

    Args:
        queries: ``[n_queries, dim]`` array (searched in float32).
        keys: ``[n_keys, dim]`` array.
        k: neighbours per query, ``1 <= k <= n_keys``.
        metric: ``"ip"`` (inner product of the rows as given) or ``"cosine"`` (rows are
            L2-normalised first; a zero row raises ``ValueError``).
        chunk_size: queries searched per call, bounding the memory of results and score blocks.
        device: ``None`` (the CPU), ``"cpu"`` or ``"cuda[:i]"``.
        index: ``"flat"`` (exact) or ``"ivf"`` (approximate inverted file, for >= ~1M keys).
        backend: ``"auto"`` (faiss, except torch on CUDA when faiss has no GPU), ``"faiss"``
            or ``"torch"`` (chunked matmul + ``torch.topk``; exact only).
        nlist: IVF cells (default ``4 * sqrt(n_keys)``, at most ``n_keys // 39``).
        nprobe: IVF cells visited per query (default ``min(nlist, 32)``).
        seed: seed of the IVF training sample.

    Returns:
        ``(scores, indices)``: float32 and int64 arrays ``[n_queries, k]``, best first.
    """
    q, kb, k, dev, backend = _check_search(queries, keys, k, metric=metric, index=index, backend=backend,
                                           chunk_size=chunk_size, device=device)
    if backend == "torch":
        return _torch_topk(q, kb, k, chunk_size=chunk_size, device=dev)
    search_index = _faiss_index(kb, index=index, device=dev, nlist=nlist, nprobe=nprobe, seed=seed)
    search_index.add(kb)
    scores = np.empty((q.shape[0], k), dtype=np.float32)
    indices = np.empty((q.shape[0], k), dtype=np.int64)
    for start in range(0, q.shape[0], chunk_size):
        stop = min(start + chunk_size, q.shape[0])
        scores[start:stop], indices[start:stop] = search_index.search(q[start:stop], k)
    if (indices < 0).any():
        raise ValueError("the IVF index returned fewer than k neighbours for some queries; "
                         "raise nprobe or use index='flat'")
    return scores, indices


def _check_search(queries: Any, keys: Any, k: int, *, metric: str, index: str, backend: str, chunk_size: int,
                  device: Any) -> tuple[np.ndarray, np.ndarray, int, str, str]:
    """Validated ``(queries, keys, k, device, backend)`` of a search; ``backend="auto"`` resolved."""
    if metric not in ("ip", "cosine"):
        raise ValueError(f"metric: expected 'ip' or 'cosine', got {metric!r}")
    prep = (lambda x, name: prepare(x, name)) if metric == "cosine" else as_matrix
    q = prep(queries, "queries")
    kb = prep(keys, "keys")
    if q.shape[1] != kb.shape[1]:
        raise ValueError(f"queries have dim {q.shape[1]} but keys have dim {kb.shape[1]}")
    k = _check_k(k, kb.shape[0])
    if index not in INDEX_KINDS:
        raise ValueError(f"index: expected one of {INDEX_KINDS}, got {index!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected a positive int, got {chunk_size}")
    dev = resolve_device(device)
    if backend == "torch" and index != "flat":
        raise ValueError("backend='torch' is exact only: use index='flat'")
    if backend == "auto":
        backend = "faiss"
        if dev.startswith("cuda") and index == "flat" and _faiss().get_num_gpus() == 0:
            backend = "torch"
    return q, kb, k, dev, backend


def _faiss_index(kb: np.ndarray, *, index: str, device: str, nlist: int | None, nprobe: int | None,
                 seed: int) -> Any:
    """An empty faiss inner-product index for ``kb`` (IVF trained on a seeded sample), on the GPU when
    ``device`` is CUDA and faiss has GPU support."""
    faiss = _faiss()
    d = kb.shape[1]
    if index == "flat":
        cpu_index = faiss.IndexFlatIP(d)
    else:
        nlist = nlist or max(1, min(int(4 * np.sqrt(kb.shape[0])), kb.shape[0] // 39))
        if not 1 <= nlist <= kb.shape[0]:
            raise ValueError(f"nlist: expected 1 <= nlist <= number of keys ({kb.shape[0]}), got {nlist}")
        cpu_index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, int(nlist), faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        n_train = min(kb.shape[0], 256 * int(nlist))
        train = kb if n_train == kb.shape[0] else kb[np.sort(rng.choice(kb.shape[0], n_train, replace=False))]
        cpu_index.train(train)
        cpu_index.nprobe = int(nprobe or min(int(nlist), 32))
    if device.startswith("cuda") and faiss.get_num_gpus() > 0:
        gpu_id = int(device.split(":")[1]) if ":" in device else 0
        resources = faiss.StandardGpuResources()
        gpu_index = faiss.index_cpu_to_gpu(resources, gpu_id, cpu_index)
        gpu_index.xalign_resources = resources  # the resources must outlive the index
        return gpu_index
    if device.startswith("cuda"):
        logger.info("faiss has no GPU support here; the %s index searches on the CPU", index)
    return cpu_index


def _torch_topk(q: np.ndarray, kb: np.ndarray, k: int, *, chunk_size: int,
                device: str) -> tuple[np.ndarray, np.ndarray]:
    import torch

    keys_t = torch.from_numpy(kb).to(device)
    rows = max(1, min(chunk_size, _BLOCK_ELEMENTS // kb.shape[0]))
    scores = np.empty((q.shape[0], k), dtype=np.float32)
    indices = np.empty((q.shape[0], k), dtype=np.int64)
    with torch.no_grad():
        for start in range(0, q.shape[0], rows):
            block = torch.from_numpy(q[start:start + rows]).to(device) @ keys_t.T
            top = torch.topk(block, k, dim=1)
            scores[start:start + rows] = top.values.cpu().numpy()
            indices[start:start + rows] = top.indices.cpu().numpy()
    return scores, indices


def neighbourhood_similarity(queries: np.ndarray, keys: np.ndarray, k: int, **search_kw: Any) -> np.ndarray:
    """Mean inner product of each query with its ``k`` nearest keys (CSLS/margin ``r``), float64 [n_queries]."""
    k = _check_k(k, keys.shape[0], "neighbourhood k")
    scores, _ = topk_search(queries, keys, k, **search_kw)
    return scores.astype(np.float64).mean(axis=1)


def csls_topk(
    queries: Any,
    keys: Any,
    k: int = 10,
    *,
    neighbourhood: int = 10,
    query_pool: Any = None,
    center: bool = False,
    candidates: int | None = None,
    **search_kw: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` keys by CSLS (Conneau et al. 2018) for every query.

    ``CSLS(x, y) = 2 cos(x, y) - r_T(x) - r_S(y)``, where ``r_T(x)`` is the mean cosine of x's
    ``neighbourhood`` nearest keys and ``r_S(y)`` the mean cosine of y's nearest rows of
    ``query_pool`` (default: the queries themselves; BLI passes the whole source vocabulary).
    Rows are L2-normalised here (after centring if ``center``).

    Two full :func:`topk_search` passes: the keys' neighbourhoods, and each query's
    ``candidates`` (default ``max(64, 4k)``) nearest keys by cosine, which also give ``r_T``.
    The CSLS top-k among the candidates is provably the exact top-k when its k-th score beats
    ``2 cos_K(x) - min_y r_S(y)``, the best score any non-candidate can reach; the few queries
    where that bound fails are searched again exactly on augmented vectors
    (``[2x, -1] . [y, r_S(y)] = 2cos - r_S(y)``). With ``index="ivf"`` all queries take the
    augmented search (approximate, as the index).

    Returns:
        ``(scores, indices)`` ``[n_queries, k]``, CSLS scores (float32) best first.
    """
    q = prepare(queries, "queries", center=center)
    kb = prepare(keys, "keys", center=center)
    pool = q if query_pool is None else prepare(query_pool, "query_pool", center=center)
    if q.shape[1] != kb.shape[1] or pool.shape[1] != kb.shape[1]:
        raise ValueError(f"dims differ: queries {q.shape[1]}, keys {kb.shape[1]}, query_pool {pool.shape[1]}")
    k = _check_k(k, kb.shape[0])
    nb = _check_k(neighbourhood, min(kb.shape[0], pool.shape[0]), "neighbourhood")
    n_cand = min(kb.shape[0], max(candidates or 64, 4 * k, nb))
    r_k = neighbourhood_similarity(kb, pool, nb, **search_kw)
    cos, cand = topk_search(q, kb, n_cand, **search_kw)
    cos64 = cos.astype(np.float64)
    r_q = cos64[:, :nb].mean(axis=1)
    rescored = 2.0 * cos64 - r_k[cand]  # 2cos - r_S(y) of every candidate
    order = np.argsort(-rescored, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(rescored, order, 1)
    indices = np.take_along_axis(cand, order, 1)
    if n_cand < kb.shape[0] or search_kw.get("index", "flat") != "flat":
        outside_best = 2.0 * cos64[:, -1] - float(r_k.min())
        redo = np.flatnonzero(~(scores[:, -1] > outside_best + 1e-5) | (search_kw.get("index", "flat") != "flat"))
        logger.debug("csls_topk: %d of %d queries need the exact augmented search", redo.size, q.shape[0])
        if redo.size:
            q_aug = np.hstack([2.0 * q[redo], -np.ones((redo.size, 1), dtype=np.float32)])
            k_aug = np.hstack([kb, r_k.astype(np.float32)[:, None]])
            s_aug, i_aug = topk_search(q_aug, k_aug, k, **search_kw)
            scores[redo], indices[redo] = s_aug, i_aug
    return (scores - r_q[:, None]).astype(np.float32), indices


@dataclass(frozen=True)
class ScanResult:
    """What one pass over the full score matrix of one method found (arrays indexed by query/key)."""

    method: str
    top1: np.ndarray  # [n_queries] int64, best key per query (first on ties)
    top1_score: np.ndarray  # [n_queries] float64
    ranks: np.ndarray | None  # [n_queries] int64, keys scoring strictly above the gold key
    col_top1: np.ndarray | None  # [n_keys] int64, best query per key
    col_top1_score: np.ndarray | None  # [n_keys] float64


def scan(
    queries: np.ndarray,
    keys: np.ndarray,
    methods: tuple[str, ...],
    *,
    r_queries: dict[str, np.ndarray] | None = None,
    r_keys: dict[str, np.ndarray] | None = None,
    gold: np.ndarray | None = None,
    columns: bool = False,
    device: Any = None,
) -> dict[str, ScanResult]:
    """Exact full-matrix reductions for each scoring method, one matmul per row chunk.

    ``queries``/``keys`` must already be normalised (see :func:`prepare`). ``r_queries`` /
    ``r_keys`` map "csls"/"margin" to neighbourhood similarities. The rank of query i is the
    number of keys whose score is strictly greater than that of ``gold[i]`` (0 = top; ties are
    resolved in the query's favour). Scores are float32 products, reduced in float32.
    """
    import torch

    dev = resolve_device(device)
    r_queries, r_keys = r_queries or {}, r_keys or {}
    for m in methods:
        if m not in SCORE_METHODS:
            raise ValueError(f"method: expected one of {SCORE_METHODS}, got {m!r}")
        if m != "cosine" and (m not in r_queries or m not in r_keys):
            raise ValueError(f"method {m!r} needs neighbourhood similarities for queries and keys")
        if m == "margin" and float(np.min(r_queries[m]) + np.min(r_keys[m])) <= 0.0:
            raise ValueError("ratio margin needs positive neighbourhood similarities "
                             f"(min r_x + min r_y = {np.min(r_queries[m]) + np.min(r_keys[m]):.4g}); use csls")
    nq, nk = queries.shape[0], keys.shape[0]
    rows = max(1, _BLOCK_ELEMENTS // nk)
    keys_t = torch.from_numpy(keys).to(dev)
    rk_t = {m: torch.from_numpy(np.asarray(r_keys[m], dtype=np.float32)).to(dev) for m in methods if m != "cosine"}
    out: dict[str, dict[str, Any]] = {
        m: {"top1": np.empty(nq, np.int64), "top1_score": np.empty(nq, np.float64),
            "ranks": np.empty(nq, np.int64) if gold is not None else None,
            "col_score": torch.full((nk,), -float("inf"), device=dev),
            "col_idx": torch.zeros(nk, dtype=torch.int64, device=dev)}
        for m in methods
    }
    with torch.no_grad():
        for start in range(0, nq, rows):
            stop = min(start + rows, nq)
            cos = torch.from_numpy(queries[start:stop]).to(dev) @ keys_t.T
            for m in methods:
                if m == "cosine":
                    block = cos
                else:
                    rq = torch.from_numpy(np.asarray(r_queries[m][start:stop], dtype=np.float32)).to(dev)
                    if m == "csls":  # one new block, then in place: 2cos - r_T(x) - r_S(y)
                        block = torch.mul(cos, 2.0)
                        block.sub_(rq[:, None]).sub_(rk_t[m][None, :])
                    else:  # cos / ((r_T(x) + r_S(y)) / 2)
                        block = rq[:, None] + rk_t[m][None, :]
                        torch.div(cos, block.mul_(0.5), out=block)
                res = out[m]
                best = torch.max(block, dim=1)
                res["top1"][start:stop] = best.indices.cpu().numpy()
                res["top1_score"][start:stop] = best.values.double().cpu().numpy()
                if gold is not None:
                    g = torch.from_numpy(gold[start:stop]).to(dev)
                    gold_scores = block.gather(1, g[:, None])
                    res["ranks"][start:stop] = (block > gold_scores).sum(dim=1).cpu().numpy()
                if columns:
                    col = torch.max(block, dim=0)
                    better = col.values > res["col_score"]  # strict: earlier rows win ties
                    res["col_score"] = torch.where(better, col.values, res["col_score"])
                    res["col_idx"] = torch.where(better, col.indices + start, res["col_idx"])
    return {
        m: ScanResult(
            method=m, top1=res["top1"], top1_score=res["top1_score"], ranks=res["ranks"],
            col_top1=res["col_idx"].cpu().numpy() if columns else None,
            col_top1_score=res["col_score"].double().cpu().numpy() if columns else None,
        )
        for m, res in out.items()
    }
