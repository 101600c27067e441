"""Bitext mining: BUCC-style F1-optimal threshold and MTEB's bitext-mining scores.

* :func:`bitext_mining` follows LASER/XTREME BUCC (Artetxe & Schwenk 2019): score every
  source-target pair (ratio margin by default, exact best candidates from a full scan), build
  candidate pairs (``"max"``: forward and backward best candidates, taken greedily by score so
  each sentence is used once), then pick the threshold that maximises F1 against the gold pairs
  (:func:`best_f1_threshold`, XTREME's ``bucc_optimize``).
* :func:`mteb_bitext_scores` reproduces MTEB's ``BitextMiningEvaluator``: cosine top-1 of each
  query, accuracy and support-weighted precision/recall/F1 (sklearn ``average="weighted"``,
  ``zero_division=0``) with the gold target index as the class label; main score F1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from xalign.metrics.search import DEFAULT_K, SCORE_METHODS, neighbourhood_similarity, prepare, scan, topk_search

MINING_MODES = ("forward", "backward", "intersect", "max")


@dataclass(frozen=True)
class MiningResult:
    """Precision/recall/F1 of the candidates scoring at least ``threshold``."""

    precision: float
    recall: float
    f1: float
    threshold: float
    n_selected: int
    n_candidates: int
    n_gold: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def best_f1_threshold(scores: Any, correct: Any, n_gold: int) -> MiningResult:
    """The threshold on candidate scores that maximises F1 (XTREME's ``bucc_optimize``).

    Candidates are sorted by score, best first; cutting after candidate i keeps i + 1 of them.
    Only cuts between two different scores are considered (a threshold cannot split ties).
    The returned threshold is the midpoint between the last kept and the first dropped score
    (the last score itself when all are kept), so "keep scores >= threshold" reproduces it.

    Args:
        scores: ``[n_candidates]`` candidate scores.
        correct: ``[n_candidates]`` bools, whether each candidate is a gold pair.
        n_gold: number of gold pairs (the recall denominator, >= correct.sum()).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    c = np.asarray(correct, dtype=bool).ravel()
    if s.shape != c.shape:
        raise ValueError(f"scores and correct must have the same length, got {s.shape[0]} and {c.shape[0]}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    if n_gold < max(1, int(c.sum())):
        raise ValueError(f"n_gold must be >= 1 and >= the number of correct candidates ({int(c.sum())}), got {n_gold}")
    if s.size == 0:
        return MiningResult(0.0, 0.0, 0.0, float("inf"), 0, 0, int(n_gold))
    order = np.argsort(-s, kind="stable")
    s, c = s[order], c[order]
    tp = np.cumsum(c)
    kept = np.arange(1, s.size + 1)
    precision = tp / kept
    recall = tp / n_gold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    valid = np.ones(s.size, dtype=bool)
    valid[:-1] = s[:-1] > s[1:]
    f1_valid = np.where(valid, f1, -1.0)
    i = int(np.argmax(f1_valid))
    if f1_valid[i] <= 0.0:
        return MiningResult(0.0, 0.0, 0.0, float("inf"), 0, int(s.size), int(n_gold))
    threshold = (s[i] + s[i + 1]) / 2.0 if i + 1 < s.size else s[i]
    return MiningResult(precision=float(precision[i]), recall=float(recall[i]), f1=float(f1[i]),
                        threshold=float(threshold), n_selected=int(i + 1), n_candidates=int(s.size),
                        n_gold=int(n_gold))


def _pairs(gold_pairs: Any, n_src: int, n_tgt: int) -> set[tuple[int, int]]:
    arr = np.asarray(list(gold_pairs) if not isinstance(gold_pairs, np.ndarray) else gold_pairs)
    if arr.size == 0:
        raise ValueError("gold_pairs: expected at least one (src, tgt) pair")
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"gold_pairs: expected integer (src, tgt) pairs, got shape {arr.shape} dtype {arr.dtype}")
    if arr[:, 0].min() < 0 or arr[:, 0].max() >= n_src or arr[:, 1].min() < 0 or arr[:, 1].max() >= n_tgt:
        raise ValueError(f"gold_pairs: indices must lie in [0, {n_src}) x [0, {n_tgt})")
    return {(int(i), int(j)) for i, j in arr}


def mining_candidates(fwd_idx: np.ndarray, fwd_score: np.ndarray, bwd_idx: np.ndarray, bwd_score: np.ndarray,
                      mode: str = "max") -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs ``[m, 2]`` and scores ``[m]`` from forward (src->tgt) and backward best matches.

    ``"max"`` is LASER's: both directions' best pairs sorted by score, taken greedily while
    neither sentence is used yet. ``"intersect"`` keeps mutual best pairs.
    """
    if mode not in MINING_MODES:
        raise ValueError(f"mode: expected one of {MINING_MODES}, got {mode!r}")
    n_src, n_tgt = fwd_idx.shape[0], bwd_idx.shape[0]
    src_ids, tgt_ids = np.arange(n_src), np.arange(n_tgt)
    if mode == "forward":
        return np.stack([src_ids, fwd_idx], 1), fwd_score.astype(np.float64)
    if mode == "backward":
        return np.stack([bwd_idx, tgt_ids], 1), bwd_score.astype(np.float64)
    if mode == "intersect":
        mutual = bwd_idx[fwd_idx] == src_ids
        return np.stack([src_ids[mutual], fwd_idx[mutual]], 1), fwd_score[mutual].astype(np.float64)
    pairs = np.concatenate([np.stack([src_ids, fwd_idx], 1), np.stack([bwd_idx, tgt_ids], 1)])
    scores = np.concatenate([fwd_score, bwd_score]).astype(np.float64)
    seen_src, seen_tgt = np.zeros(n_src, bool), np.zeros(n_tgt, bool)
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        a, b = pairs[i]
        if not seen_src[a] and not seen_tgt[b]:
            seen_src[a] = seen_tgt[b] = True
            keep.append(i)
    keep_arr = np.asarray(keep, dtype=np.int64)
    return pairs[keep_arr], scores[keep_arr]


def bitext_mining(
    src: Any,
    tgt: Any,
    gold_pairs: Iterable[tuple[int, int]] | np.ndarray,
    *,
    method: str = "margin",
    k: int | None = None,
    center: bool = False,
    mode: str = "max",
    device: Any = None,
) -> MiningResult:
    """Mine parallel pairs between two sets and score them at the F1-optimal threshold (BUCC).

    Args:
        src, tgt: ``[n_src, dim]`` / ``[n_tgt, dim]`` sentence vectors (normalised here).
        gold_pairs: the true ``(src_index, tgt_index)`` pairs.
        method: ``"margin"`` (ratio margin, k = 4), ``"csls"`` (k = 10) or ``"cosine"``.
        mode: ``"max"`` (LASER), ``"intersect"``, ``"forward"`` or ``"backward"``.
    """
    if method not in SCORE_METHODS:
        raise ValueError(f"method: expected one of {SCORE_METHODS}, got {method!r}")
    s = prepare(src, "src", center=center)
    t = prepare(tgt, "tgt", center=center)
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"src has dim {s.shape[1]} but tgt has dim {t.shape[1]}")
    gold = _pairs(gold_pairs, s.shape[0], t.shape[0])
    r_q: dict[str, np.ndarray] = {}
    r_k: dict[str, np.ndarray] = {}
    if method != "cosine":
        kk = int(min(DEFAULT_K[method] if k is None else k, s.shape[0], t.shape[0]))
        r_q[method] = neighbourhood_similarity(s, t, kk, device=device)
        r_k[method] = neighbourhood_similarity(t, s, kk, device=device)
    res = scan(s, t, (method,), r_queries=r_q, r_keys=r_k, columns=True, device=device)[method]
    pairs, scores = mining_candidates(res.top1, res.top1_score, res.col_top1, res.col_top1_score, mode)
    correct = np.fromiter(((int(a), int(b)) in gold for a, b in pairs), dtype=bool, count=pairs.shape[0])
    return best_f1_threshold(scores, correct, len(gold))


def weighted_prf(labels: Any, predictions: Any) -> dict[str, float]:
    """Accuracy and support-weighted precision/recall/F1, as sklearn with ``zero_division=0``."""
    y = np.asarray(labels, dtype=np.int64).ravel()
    p = np.asarray(predictions, dtype=np.int64).ravel()
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"labels and predictions must be equal-length and non-empty, got {y.shape} and {p.shape}")
    if y.min() < 0 or p.min() < 0:
        raise ValueError("labels and predictions must be non-negative class indices")
    n_cls = int(max(y.max(), p.max())) + 1
    support = np.bincount(y, minlength=n_cls).astype(np.float64)
    predicted = np.bincount(p, minlength=n_cls).astype(np.float64)
    tp = np.bincount(y[y == p], minlength=n_cls).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(predicted > 0, tp / predicted, 0.0)
        rec = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    w = support / support.sum()
    return {"accuracy": float(np.mean(y == p)), "precision": float(w @ prec), "recall": float(w @ rec),
            "f1": float(w @ f1)}


def mteb_bitext_scores(src: Any, tgt: Any, *, gold: Any = None, device: Any = None) -> dict[str, float]:
    """MTEB bitext mining: cosine top-1 of each ``src`` row among ``tgt``; accuracy, weighted P/R/F1.

    ``gold[i]`` is the target index of query i (default ``i``). Adds ``main_score`` (= F1).
    """
    s = prepare(src, "src")
    t = prepare(tgt, "tgt")
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"src has dim {s.shape[1]} but tgt has dim {t.shape[1]}")
    labels = np.arange(s.shape[0]) if gold is None else np.asarray(gold, dtype=np.int64)
    if labels.shape != (s.shape[0],) or labels.min() < 0 or labels.max() >= t.shape[0]:
        raise ValueError(f"gold: expected {s.shape[0]} target indices in [0, {t.shape[0]})")
    _, idx = topk_search(s, t, 1, device=device)
    out = weighted_prf(labels, idx[:, 0])
    out["main_score"] = out["f1"]
    return out
