"""Word alignment from embedding similarities (SimAlign, awesome-align) and its scoring (AER/P/R/F1).

Methods (protocols.md; SimAlign 0.4 ``simalign.py`` and awesome-align, read from their code):

* ``argmax``: mutual argmax of the similarity matrix (SimAlign "inter"); ties go to the first index.
* ``itermax``: SimAlign's ``iter_max``. ``itermax_rounds`` is SimAlign's ``max_count``
  (default 2): the argmax round plus ``itermax_rounds - 1`` extra rounds, in which similarities
  are multiplied by ``alpha`` (0.9) where the row or the column is already aligned and zeroed
  where both are; a round stops early when every row or every column is aligned, and sentences
  with ``min(m, n) <= 2`` get no extra round.
* ``match``: maximum-weight bipartite matching (``scipy.optimize.linear_sum_assignment``,
  maximising; SimAlign's networkx max-cardinality matching gives the same optimum).
* ``softmax``: awesome-align: softmax over target words and over source words of (dot-product)
  similarities, keep links above ``softmax_threshold`` (1e-3) in both.

Similarities are SimAlign's ``(cos + 1) / 2`` (``kind="cosine01"``) or awesome-align's raw dot
product (``kind="dot"``). :func:`align_batch` pads many sentence pairs into one 3-D array and
vectorises argmax/itermax/softmax (``match`` runs scipy per pair).

Scores (protocols.md): precision = |A n P| / |A|, recall = |A n S| / |S|,
AER = 1 - (|A n S| + |A n P|) / (|A| + |S|), summed over the corpus, with P taken as
``possible | sure``. Precision is 0 when nothing is predicted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from xalign.metrics.wordtypes import pool_subwords

ALIGN_METHODS = ("argmax", "itermax", "match", "softmax")
SIMILARITY_KINDS = ("cosine01", "dot")
_BATCH_ELEMENTS = 4 * 1024 * 1024  # padded similarity entries handled per vectorised step


def similarity(src_vecs: Any, tgt_vecs: Any, kind: str = "cosine01") -> np.ndarray:
    """Similarity matrix ``[m, n]`` (float64) of source and target token vectors ``[m, d]``, ``[n, d]``."""
    if kind not in SIMILARITY_KINDS:
        raise ValueError(f"kind: expected one of {SIMILARITY_KINDS}, got {kind!r}")
    a, b = np.asarray(src_vecs, dtype=np.float64), np.asarray(tgt_vecs, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected [m, d] and [n, d] vectors, got shapes {a.shape} and {b.shape}")
    dot = a @ b.T  # token counts are small: no large-n BLAS concern here
    if kind == "dot":
        return dot
    na = np.sqrt(np.einsum("ij,ij->i", a, a))
    nb = np.sqrt(np.einsum("ij,ij->i", b, b))
    if not (na.all() and nb.all()):
        raise ValueError("a token vector has zero norm; cosine similarity is undefined")
    dot /= na[:, None]
    dot /= nb[None, :]
    dot += 1.0
    dot *= 0.5
    return dot


def _check_sim(sim: Any, i: int) -> np.ndarray:
    s = np.asarray(sim, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"sims[{i}]: expected a non-empty [m, n] matrix, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"sims[{i}]: contains NaN or infinite values")
    return s


def _mutual_argmax(sim: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[B, M, N] bool links where the row argmax and the column argmax agree (pads are -inf)."""
    fwd = sim.argmax(axis=2)  # [B, M]
    bwd = sim.argmax(axis=1)  # [B, N]
    cols = np.arange(sim.shape[2])
    rows = np.arange(sim.shape[1])
    return (fwd[:, :, None] == cols[None, None, :]) & (bwd[:, None, :] == rows[None, :, None]) & valid


def _itermax(sim: np.ndarray, valid: np.ndarray, row_ok: np.ndarray, col_ok: np.ndarray, rounds: int,
             alpha: float, lengths: np.ndarray) -> np.ndarray:
    inter = _mutual_argmax(sim, valid)
    extra = lengths.min(axis=1) > 2  # SimAlign: no extra rounds when min(m, n) <= 2
    for _ in range(1, rounds):
        mask_x = (row_ok & ~inter.any(axis=2)).astype(np.float64)  # unaligned real rows
        mask_y = (col_ok & ~inter.any(axis=1)).astype(np.float64)
        active = extra & (mask_x.sum(axis=1) >= 1.0) & (mask_y.sum(axis=1) >= 1.0)
        if not active.any():
            break
        mask = np.clip(alpha * mask_x[:, :, None] + alpha * mask_y[:, None, :], 0.0, 1.0)
        zeros_ok = (mask_x[:, :, None] > 0) | (mask_y[:, None, :] > 0)
        new_sim = np.where(valid, np.where(valid, sim, 0.0) * mask, -np.inf)
        new = _mutual_argmax(new_sim, valid) & zeros_ok & active[:, None, None]
        if not new.any():
            break
        inter |= new
    return inter


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(x - top)
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def _align_padded(sims: list[np.ndarray], method: str, rounds: int, alpha: float, threshold: float) -> list[np.ndarray]:
    lengths = np.array([s.shape for s in sims])
    b, big_m, big_n = len(sims), int(lengths[:, 0].max()), int(lengths[:, 1].max())
    sim = np.full((b, big_m, big_n), -np.inf)
    for i, s in enumerate(sims):
        sim[i, : s.shape[0], : s.shape[1]] = s
    row_ok = np.arange(big_m)[None, :] < lengths[:, :1]
    col_ok = np.arange(big_n)[None, :] < lengths[:, 1:]
    valid = row_ok[:, :, None] & col_ok[:, None, :]
    if method == "argmax":
        links = _mutual_argmax(sim, valid)
    elif method == "itermax":
        links = _itermax(sim, valid, row_ok, col_ok, rounds, alpha, lengths)
    else:
        links = (_softmax(sim, 2) > threshold) & (_softmax(sim, 1) > threshold) & valid
    return [links[i, : m, : n].copy() for i, (m, n) in enumerate(lengths)]


def _match(sim: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(sim, maximize=True)
    out = np.zeros(sim.shape, dtype=bool)
    out[rows, cols] = True
    return out


def _check_params(method: str, itermax_rounds: int, alpha: float, softmax_threshold: float) -> None:
    if method not in ALIGN_METHODS:
        raise ValueError(f"method: expected one of {ALIGN_METHODS}, got {method!r}")
    if isinstance(itermax_rounds, bool) or not isinstance(itermax_rounds, (int, np.integer)) or itermax_rounds < 1:
        raise ValueError(f"itermax_rounds: expected an int >= 1, got {itermax_rounds!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a value in [0, 1], got {alpha}")
    if not 0.0 <= softmax_threshold < 1.0:
        raise ValueError(f"softmax_threshold: expected a value in [0, 1), got {softmax_threshold}")


def align_batch(
    sims: Sequence[Any],
    method: str = "itermax",
    *,
    itermax_rounds: int = 2,
    alpha: float = 0.9,
    softmax_threshold: float = 1e-3,
) -> list[np.ndarray]:
    """Align many sentence pairs; returns one bool ``[m_i, n_i]`` link matrix per similarity matrix.

    Pairs are grouped by size and padded into 3-D arrays (at most ~4M entries each) so argmax,
    itermax and softmax run vectorised; results equal :func:`align` pair by pair.
    """
    _check_params(method, itermax_rounds, alpha, softmax_threshold)
    checked = [_check_sim(s, i) for i, s in enumerate(sims)]
    if method == "match":
        return [_match(s) for s in checked]
    out: list[np.ndarray | None] = [None] * len(checked)
    order = sorted(range(len(checked)), key=lambda i: (max(checked[i].shape), checked[i].shape))
    start = 0
    while start < len(order):
        m, n = checked[order[start]].shape
        stop = start + 1
        while stop < len(order):
            m2, n2 = checked[order[stop]].shape
            big_m, big_n = max(m, m2), max(n, n2)
            if (stop - start + 1) * big_m * big_n > _BATCH_ELEMENTS:
                break
            m, n, stop = big_m, big_n, stop + 1
        group = order[start:stop]
        for i, links in zip(group, _align_padded([checked[i] for i in group], method, int(itermax_rounds),
                                                   float(alpha), float(softmax_threshold))):
            out[i] = links
        start = stop
    return out  # type: ignore[return-value]


def align(
    sim: Any,
    method: str = "itermax",
    *,
    itermax_rounds: int = 2,
    alpha: float = 0.9,
    softmax_threshold: float = 1e-3,
) -> np.ndarray:
    """Bool link matrix ``[m, n]`` for one similarity matrix (see the module docstring for methods)."""
    return align_batch([sim], method, itermax_rounds=itermax_rounds, alpha=alpha,
                       softmax_threshold=softmax_threshold)[0]


def _word_id_array(word_ids: Any, n: int, name: str) -> np.ndarray:
    if isinstance(word_ids, np.ndarray) and np.issubdtype(word_ids.dtype, np.integer):
        ids = word_ids.astype(np.int64, copy=False).ravel()
    else:
        ids = np.array([-1 if w is None else int(w) for w in word_ids], dtype=np.int64)
    if ids.shape[0] != n:
        raise ValueError(f"{name}: expected {n} word ids (one per subword), got {ids.shape[0]}")
    return ids


def subword_to_word(links_sub: Any, src_word_ids: Sequence[int | None],
                    tgt_word_ids: Sequence[int | None]) -> set[tuple[int, int]]:
    """Word links from subword links: words i, j are linked if any of their subwords are.

    ``*_word_ids`` give the word of every subword row/column (``None`` or a negative value for
    special tokens, which are ignored), e.g. from a fast tokenizer's ``word_ids()``.
    """
    links = np.asarray(links_sub, dtype=bool)
    if links.ndim != 2:
        raise ValueError(f"links_sub: expected a 2-D [m, n] matrix, got shape {links.shape}")
    s = _word_id_array(src_word_ids, links.shape[0], "src_word_ids")
    t = _word_id_array(tgt_word_ids, links.shape[1], "tgt_word_ids")
    rows, cols = np.nonzero(links)
    ws, wt = s[rows], t[cols]
    keep = (ws >= 0) & (wt >= 0)
    return set(zip(ws[keep].tolist(), wt[keep].tolist()))


def average_subwords(vecs: Any, word_ids: Sequence[int | None], n_words: int | None = None) -> np.ndarray:
    """Average subword vectors ``[..., n_sub, d]`` into word vectors ``[..., n_words, d]`` (float64).

    The one subword pooler (:func:`xalign.metrics.wordtypes.pool_subwords`) on arrays: ``n_words`` defaults
    to ``max(word_id) + 1``; a word with no subword (cut by truncation) gets a zero vector.
    """
    import torch

    v = np.asarray(vecs, dtype=np.float64)
    if v.ndim < 2:
        raise ValueError(f"vecs: expected [..., n_subwords, dim], got shape {v.shape}")
    ids = _word_id_array(word_ids, v.shape[-2], "word_ids")
    real = ids[ids >= 0]
    if real.size == 0:
        raise ValueError("word_ids: no subword belongs to a word")
    n = int(real.max()) + 1 if n_words is None else int(n_words)
    return pool_subwords(torch.from_numpy(v), ids.tolist(), n).numpy()


@dataclass(frozen=True)
class AlignmentScores:
    """Corpus-level alignment quality (counts summed over sentences)."""

    precision: float
    recall: float
    f1: float
    aer: float
    n_pred: int
    n_sure: int
    n_possible: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def _as_link_set(x: Any, where: str) -> set[tuple[int, int]]:
    if isinstance(x, np.ndarray) and x.dtype == bool:
        return {(int(i), int(j)) for i, j in zip(*np.nonzero(x))}
    try:
        return {(int(i), int(j)) for i, j in x}
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: expected a set of (i, j) links or a bool matrix") from exc


def per_sentence_counts(pred: Sequence[Iterable], sure: Sequence[Iterable],
                        possible: Sequence[Iterable] | None = None) -> np.ndarray:
    """``[n_sentences, 4]`` int64 counts ``|A|, |S|, |A n S|, |A n P|`` (P = possible | sure)."""
    if len(pred) != len(sure) or (possible is not None and len(possible) != len(sure)):
        lp = "None" if possible is None else len(possible)
        raise ValueError("pred, sure and possible must have one entry per sentence: "
                         f"got {len(pred)}, {len(sure)}, {lp}")
    out = np.zeros((len(pred), 4), dtype=np.int64)
    for i in range(len(pred)):
        a = _as_link_set(pred[i], f"pred[{i}]")
        s = _as_link_set(sure[i], f"sure[{i}]")
        p = s if possible is None else s | _as_link_set(possible[i], f"possible[{i}]")
        out[i] = (len(a), len(s), len(a & s), len(a & p))
    return out


def scores_from_counts(counts: Any, n_possible: int | None = None) -> AlignmentScores:
    """Corpus-level scores from summed :func:`per_sentence_counts` rows (used for bootstrap CIs)."""
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim != 2 or c.shape[1] != 4:
        raise ValueError(f"counts: expected an [n, 4] array, got shape {c.shape}")
    n_a, n_s, a_s, a_p = (int(v) for v in c.sum(axis=0))
    if n_s == 0:
        raise ValueError("there are no sure gold links: recall and AER are undefined")
    precision = a_p / n_a if n_a else 0.0
    recall = a_s / n_s
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    aer = 1.0 - (a_s + a_p) / (n_a + n_s)
    return AlignmentScores(precision=precision, recall=recall, f1=f1, aer=aer, n_pred=n_a, n_sure=n_s,
                           n_possible=int(n_possible) if n_possible is not None else -1)


def alignment_scores(pred: Sequence[Iterable], sure: Sequence[Iterable],
                     possible: Sequence[Iterable] | None = None) -> AlignmentScores:
    """Corpus-level precision, recall, F1 and AER of predicted links against gold sure/possible links."""
    counts = per_sentence_counts(pred, sure, possible)
    if possible is None:
        n_possible = int(counts[:, 1].sum())
    else:
        n_possible = sum(len(_as_link_set(s, "sure") | _as_link_set(p, "possible")) for s, p in zip(sure, possible))
    return scores_from_counts(counts, n_possible)
