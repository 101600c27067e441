"""Bilingual lexicon induction (word translation retrieval) from word vectors.

:func:`vocabulary_vectors` turns contextual word vectors (one array per sentence) into one
vector per word type by averaging over its occurrences. :func:`bli_scores` retrieves target
words for each dictionary source word by cosine or CSLS (MUSE protocol: ``r_S`` over the whole
source vocabulary) with the shared top-k kernel, and counts a query correct when any of its
gold translations is among the top k (P@k).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from xalign.metrics.search import csls_topk, prepare, topk_search
from xalign.metrics.wordtypes import WordTypeAverager

BLI_METHODS = ("cosine", "csls")


@dataclass(frozen=True)
class BLIResult:
    """P@k over dictionary source words present in the vocabulary.

    ``n_missing`` counts distinct dictionary source words without any usable entry (the source
    word or all of its translations are missing from the vocabularies).
    """

    p_at: dict[int, float]
    n_queries: int
    n_missing: int
    method: str = "cosine"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        out = asdict(self)
        out["p_at"] = {int(k): float(v) for k, v in self.p_at.items()}
        return out


def _vocab_index(words: Sequence[str], n_rows: int, name: str) -> dict[str, int]:
    if len(words) != n_rows:
        raise ValueError(f"{name}: expected {n_rows} words (one per vector row), got {len(words)}")
    index: dict[str, int] = {}
    for i, w in enumerate(words):
        if w in index:
            raise ValueError(f"{name}: word {w!r} appears twice (rows {index[w]} and {i}); words must be unique")
        index[w] = i
    return index


def bli_scores(
    src_vecs: Any,
    src_words: Sequence[str],
    tgt_vecs: Any,
    tgt_words: Sequence[str],
    dictionary: Iterable[tuple[str, str]],
    *,
    method: str = "cosine",
    k: int = 10,
    ks: Sequence[int] = (1, 5),
    center: bool = False,
    device: Any = None,
) -> BLIResult:
    """P@k of word translation retrieval.

    Args:
        src_vecs, tgt_vecs: ``[V_src, d]`` / ``[V_tgt, d]`` word vectors.
        src_words, tgt_words: the word of each row (unique).
        dictionary: gold ``(source word, target word)`` entries; a source word may have several.
        method: ``"cosine"`` or ``"csls"``.
        k: CSLS neighbourhood size.
        ks: cut-offs for P@k (each at most ``V_tgt``).
    """
    if method not in BLI_METHODS:
        raise ValueError(f"method: expected one of {BLI_METHODS}, got {method!r}")
    src = prepare(src_vecs, "src_vecs", center=center)
    tgt = prepare(tgt_vecs, "tgt_vecs", center=center)
    if src.shape[1] != tgt.shape[1]:
        raise ValueError(f"src_vecs have dim {src.shape[1]} but tgt_vecs have dim {tgt.shape[1]}")
    s_index = _vocab_index(src_words, src.shape[0], "src_words")
    t_index = _vocab_index(tgt_words, tgt.shape[0], "tgt_words")
    ks = tuple(int(kk) for kk in ks)
    if not ks or min(ks) < 1 or max(ks) > tgt.shape[0]:
        raise ValueError(f"ks: expected cut-offs in [1, {tgt.shape[0]}], got {ks}")

    gold: dict[str, set[int]] = defaultdict(set)
    dict_sources: set[str] = set()
    for entry in dictionary:
        if len(entry) != 2:
            raise ValueError(f"dictionary: expected (source, target) pairs, got {entry!r}")
        s_word, t_word = entry
        dict_sources.add(s_word)
        if s_word in s_index and t_word in t_index:
            gold[s_word].add(t_index[t_word])
    if not dict_sources:
        raise ValueError("dictionary is empty")
    queries = sorted(gold, key=lambda w: s_index[w])
    n_missing = len(dict_sources) - len(queries)
    if not queries:
        return BLIResult(p_at={kk: 0.0 for kk in ks}, n_queries=0, n_missing=n_missing, method=method)

    q_rows = np.array([s_index[w] for w in queries], dtype=np.int64)
    top = max(ks)
    if method == "cosine":
        _, idx = topk_search(src[q_rows], tgt, top, device=device)
    else:
        kk = int(min(k, src.shape[0], tgt.shape[0]))
        _, idx = csls_topk(src[q_rows], tgt, top, neighbourhood=kk, query_pool=src, device=device)
    # first position at which any gold translation appears (top = not found)
    first = np.full(len(queries), top, dtype=np.int64)
    for qi, w in enumerate(queries):
        hits = np.flatnonzero(np.isin(idx[qi], list(gold[w])))
        if hits.size:
            first[qi] = hits[0]
    p_at = {kk: float(np.mean(first < kk)) for kk in ks}
    return BLIResult(p_at=p_at, n_queries=len(queries), n_missing=n_missing, method=method)


def vocabulary_vectors(
    word_vectors_per_sentence: Sequence[Any],
    words_per_sentence: Sequence[Sequence[str]],
    *,
    min_count: int = 1,
    lowercase: bool = True,
) -> tuple[list[str], np.ndarray]:
    """Average contextual word vectors over all occurrences of each word type.

    The one averager (:class:`xalign.metrics.wordtypes.WordTypeAverager`): words are normalised by
    :func:`~xalign.metrics.wordtypes.normalize_word` (surrounding punctuation stripped, lowercased when
    ``lowercase``) exactly as the probe's streaming path does; words that normalise to nothing are dropped.

    Args:
        word_vectors_per_sentence: per sentence a ``[n_words, d]`` array (or ``[L, n_words, d]``
            for several layers at once).
        words_per_sentence: the words of each sentence, aligned with the vector rows.
        min_count: drop words seen fewer times.
        lowercase: merge case variants.

    Returns:
        ``(words, matrix)``: words by descending count (ties: alphabetical), and their mean
        vectors ``[V, d]`` (or ``[L, V, d]``), float64.
    """
    if len(word_vectors_per_sentence) != len(words_per_sentence):
        raise ValueError(f"got {len(word_vectors_per_sentence)} vector arrays but {len(words_per_sentence)} word lists")
    if min_count < 1:
        raise ValueError(f"min_count: expected >= 1, got {min_count}")
    if not words_per_sentence:
        raise ValueError("no sentences given")
    averager = WordTypeAverager(lowercase=lowercase)
    for si, (vecs, words) in enumerate(zip(word_vectors_per_sentence, words_per_sentence)):
        averager.add(words, vecs, where=f"sentence {si}")
    words, matrix, _ = averager.result(min_count=min_count)
    return words, matrix
