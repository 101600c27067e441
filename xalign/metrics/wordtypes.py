"""The one word-type averager: contextual vectors of word *occurrences* → one vector per word *type*.

Both the streaming probe path (:func:`xalign.embed.vocab.embed_with_vocabulary`) and the array API
(:func:`xalign.metrics.bli.vocabulary_vectors`) use :class:`WordTypeAverager`, so one corpus gives one
vocabulary: the same normalisation (:func:`normalize_word`), the same counts, the same order.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np


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
