"""Type-level word vectors for bilingual lexicon induction.

* :func:`embed_with_vocabulary`: one pass over a corpus yields sentence vectors *and* contextual
  word vectors of every layer, averaged over each word's occurrences (restricted to a vocabulary,
  e.g. a dictionary's words, so memory stays small).
* :func:`static_word_vectors`: context-free vectors from the input-embedding matrix (average of a
  word's subword rows).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from xalign.embed.extract import (DEFAULT_BATCH_SIZE, DEFAULT_MAX_TOKENS, ExtractionStats, _check_texts,
                                  _word_spans, iter_batches, resolve_layers)
from xalign.embed.pooling import Pooling, pool_sentences, pool_words
from xalign.metrics.wordtypes import WordTypeAverager, normalize_word  # noqa: F401  (normalize_word re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from xalign.encoders import Encoder


@dataclass
class VocabularyVectors:
    """Average contextual vectors of words: ``vectors`` is ``[layers, len(words), hidden]``."""

    words: list[str]
    vectors: np.ndarray
    counts: np.ndarray
    layers: list[int]


def embed_with_vocabulary(
    encoder: "Encoder",
    texts: Sequence[str],
    *,
    vocabulary: Collection[str] | None,
    layers: "str | Sequence[int]" = "all",
    pooling: str = "mean",
    lowercase: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    prefix: str | None = None,
    progress: bool = False,
    stats: ExtractionStats | None = None,
) -> tuple[np.ndarray, VocabularyVectors]:
    """Sentence vectors ``[layers, n, hidden]`` plus averaged word vectors, from one forward pass.

    Words are the tokenizer's pre-tokenizer words (by character offsets); each word vector is the mean
    of its subwords (``word_ids()``), averaged over all occurrences by the one word-type averager
    (:class:`xalign.metrics.wordtypes.WordTypeAverager`, the same normalisation and order as
    :func:`xalign.metrics.bli.vocabulary_vectors`). Only words in ``vocabulary`` are kept (all when None).
    """
    texts = _check_texts(texts, pretokenized=False)
    mode = Pooling.parse(pooling)
    chosen = resolve_layers(layers, encoder.num_layers)
    stats = stats if stats is not None else ExtractionStats()
    averager = WordTypeAverager(lowercase=lowercase, vocabulary=vocabulary)
    sentences = np.zeros((len(chosen), len(texts), encoder.hidden_size), dtype=np.float32)
    for idx, (mask, special, encodings, _), hidden in iter_batches(
            encoder, texts, layers=chosen, batch_size=batch_size, max_tokens=max_tokens, prefix=prefix,
            pretokenized=False, precision="auto", progress=progress, stats=stats, desc="vocabulary"):
        sentences[:, idx, :] = pool_sentences(hidden, mask, special, mode).cpu().numpy()
        for b, i in enumerate(idx):
            i = int(i)
            picked = averager.wanted(_word_spans(encodings, i, texts[i], False))
            if not picked:
                continue
            column = {w: col for col, (w, _) in enumerate(picked)}  # pool only the wanted words
            word_ids = [column.get(w) if w is not None else None for w in encodings.word_ids(i)]
            n_tok = int(mask[b].sum())
            vecs = pool_words(hidden[:, b, :n_tok, :], word_ids, len(picked), first=False).cpu().numpy()
            averager.add_selected([(col, key) for col, (_, key) in enumerate(picked)], vecs.astype(np.float64))
    words, matrix, counts = averager.result(tail=(len(chosen), encoder.hidden_size))
    return sentences, VocabularyVectors(words=words, vectors=matrix.astype(np.float32), counts=counts, layers=chosen)


def static_word_vectors(encoder: "Encoder", words: Sequence[str]) -> np.ndarray:
    """``[len(words), hidden]``: the mean of each word's subword rows in the input-embedding matrix
    (no context, no position embeddings). Words are tokenized alone, without special tokens."""
    import torch

    table = encoder.model.get_input_embeddings().weight
    out = np.zeros((len(words), table.shape[1]), dtype=np.float32)
    if not words:  # a corpus without any dictionary word: nothing to look up (the tokenizer refuses [])
        return out
    ids = encoder.tokenizer(list(words), add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        for i, row in enumerate(ids):
            if row:
                out[i] = table[torch.tensor(row, device=table.device)].float().mean(0).cpu().numpy()
    return out
