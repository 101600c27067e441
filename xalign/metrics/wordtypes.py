"""Word vectors: the one subword pooler (:func:`pool_subwords`) and the one word-type averager.

The averager turns contextual vectors of word *occurrences* into one vector per word *type*.

Both the streaming probe path (:func:`xalign.embed.vocab.embed_with_vocabulary`) and the array API
(:func:`xalign.metrics.bli.vocabulary_vectors`) use :class:`WordTypeAverager`, so one corpus gives one
vocabulary: the same normalisation (:func:`normalize_word`), the same counts, the same order.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch


def normalize_word(word: str, *, lowercase: bool = True) -> str:
    """Strip surrounding punctuation/symbols (Unicode categories P*, S*) and optionally lowercase."""
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] in "PS":
        end -= 1
    word = word[start:end]
    return word.lower() if lowercase else word


class WordTypeAverager:
    """Running mean of vectors per normalised word type.

    ``add(words, vectors)`` takes one sentence's words and their ``[..., n_words, d]`` vectors (any
    leading axes, e.g. layers); words that normalise to ``""`` or fall outside ``vocabulary`` (when
    given, compared after normalisation) are skipped. :meth:`result` orders words by descending count,
    ties alphabetically, so the order does not depend on the order sentences arrive in (the streaming path
    sees them in length-sorted batches).
    """

    def __init__(self, *, lowercase: bool = True, vocabulary: Collection[str] | None = None) -> None:
        self.lowercase = lowercase
        self.keep = None if vocabulary is None else {normalize_word(w, lowercase=lowercase) for w in vocabulary}
        self._index: dict[str, int] = {}
        self._sums: list[np.ndarray] = []
        self._counts: list[int] = []
        self._tail: tuple[int, ...] | None = None

    def wanted(self, words: Sequence[str]) -> list[tuple[int, str]]:
        """``(position, normalised word)`` of the words this averager keeps."""
        out = []
        for i, word in enumerate(words):
            key = normalize_word(word, lowercase=self.lowercase)
            if key and (self.keep is None or key in self.keep):
                out.append((i, key))
        return out

    def add(self, words: Sequence[str], vectors: Any, *, where: str = "sentence") -> None:
        """Add one sentence's word vectors (``vectors[..., i, :]`` belongs to ``words[i]``)."""
        v = np.asarray(vectors, dtype=np.float64)
        if v.ndim not in (2, 3) or v.shape[-2] != len(words):
            raise ValueError(f"{where}: expected [n_words, d] or [L, n_words, d] with n_words = {len(words)}, "
                             f"got shape {v.shape}")
        self.add_selected(self.wanted(words), v, where=where)

    def add_selected(self, picked: Sequence[tuple[int, str]], vectors: np.ndarray, *, where: str = "sentence") -> None:
        """Add rows ``vectors[..., i, :]`` under the normalised words ``picked = [(i, word), …]``."""
        tail = vectors.shape[:-2] + vectors.shape[-1:]
        if self._tail is None:
            self._tail = tail
        elif tail != self._tail:
            raise ValueError(f"{where}: vectors shaped {vectors.shape} do not match earlier sentences ({self._tail})")
        for i, key in picked:
            slot = self._index.setdefault(key, len(self._sums))
            if slot == len(self._sums):
                self._sums.append(np.zeros(tail, dtype=np.float64))
                self._counts.append(0)
            self._sums[slot] += vectors[..., i, :]
            self._counts[slot] += 1

    def result(self, *, min_count: int = 1, tail: tuple[int, ...] | None = None
               ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(words, mean vectors [..., V, d] float64, counts [V])`` of the types seen ``min_count`` times.

        ``tail`` (leading axes + dim) shapes the empty matrix when nothing was added."""
        if min_count < 1:
            raise ValueError(f"min_count: expected >= 1, got {min_count}")
        keys = list(self._index)
        order = sorted((i for i, c in enumerate(self._counts) if c >= min_count), key=lambda i: (-self._counts[i], keys[i]))
        words = [keys[i] for i in order]
        counts = np.asarray([self._counts[i] for i in order], dtype=np.int64)
        shape = self._tail or tail
        if not order:
            if shape is None:
                raise ValueError("no word vectors were added and no shape was given")
            return words, np.zeros(shape[:-1] + (0, shape[-1])), counts
        matrix = np.stack([self._sums[i] / self._counts[i] for i in order], axis=-2)
        return words, matrix, counts


def pool_subwords(hidden: "torch.Tensor", word_ids: Sequence[int | None], n_words: int, *,
                  first: bool = False) -> "torch.Tensor":
    """The one subword → word pooler: word vectors ``[..., n_words, d]`` from token states ``[..., tokens, d]``.

    ``word_ids[t]`` is the word of token ``t`` (``None`` or a negative value for special tokens, e.g. a fast
    tokenizer's ``word_ids()``). A word is the mean of its tokens (``first=False``) or its first token.
    The truncation rule, one for every caller: a word with no surviving token (cut by ``max_length``) gets
    a zero vector. float64 input stays float64; anything else is pooled in float32.
    """
    import torch

    ids = [-1 if w is None else int(w) for w in word_ids]
    if len(ids) != hidden.shape[-2]:
        raise ValueError(f"word_ids: expected {hidden.shape[-2]} word ids (one per token), got {len(ids)}")
    if any(w >= n_words for w in ids):
        raise ValueError(f"word_ids: word {max(ids)} is past n_words = {n_words}")
    dtype = torch.float64 if hidden.dtype == torch.float64 else torch.float32
    out = hidden.new_zeros(hidden.shape[:-2] + (n_words, hidden.shape[-1]), dtype=dtype)
    pairs = [(t, w) for t, w in enumerate(ids) if w >= 0]
    if not pairs:
        return out
    tok = torch.tensor([t for t, _ in pairs], device=hidden.device)
    wid = torch.tensor([w for _, w in pairs], device=hidden.device)
    states = hidden[..., tok, :].to(dtype)
    if first:
        is_first = torch.ones_like(wid, dtype=torch.bool)
        is_first[1:] = wid[1:] != wid[:-1]
        out[..., wid[is_first], :] = states[..., is_first, :]
        return out
    out.index_add_(out.dim() - 2, wid, states)
    counts = torch.zeros(n_words, device=hidden.device, dtype=dtype).index_add_(
        0, wid, torch.ones(wid.shape[0], device=hidden.device, dtype=dtype))
    return out / counts.clamp_min(1.0)[:, None]
