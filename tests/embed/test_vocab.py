"""Corpus-averaged word vectors equal a naive average of embed_words over occurrences."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from xalign.embed import embed, embed_words
from xalign.embed.vocab import embed_with_vocabulary, normalize_word, static_word_vectors

TEXTS = ["The cat sat. The dog ran!", "A cat, a dog and the bird.", "Birds sing; the cat sleeps."]


def test_normalize_word():
    assert normalize_word("«Cat!»") == "cat"
    assert normalize_word("don't") == "don't"
    assert normalize_word("...") == ""
    assert normalize_word("Dog", lowercase=False) == "Dog"


def test_vocabulary_vectors_match_naive_average(tiny_encoder):
    sentences, vocab = embed_with_vocabulary(tiny_encoder, TEXTS, vocabulary={"cat", "the", "dog", "missing"},
                                             batch_size=2)
    np.testing.assert_allclose(sentences, embed(tiny_encoder, TEXTS), atol=1e-5)
    words = embed_words(tiny_encoder, TEXTS)
    sums, counts = defaultdict(float), defaultdict(int)
    for item in words:
        for w, word in enumerate(item.words):
            key = normalize_word(word)
            if key in {"cat", "the", "dog"}:
                sums[key] = sums[key] + item.vectors[:, w].astype(np.float64)
                counts[key] += 1
    assert sorted(vocab.words) == ["cat", "dog", "the"]
    for i, word in enumerate(vocab.words):
        assert vocab.counts[i] == counts[word]
        np.testing.assert_allclose(vocab.vectors[:, i], sums[word] / counts[word], atol=1e-5)


def test_static_vectors_average_input_rows(tiny_encoder):
    table = tiny_encoder.model.get_input_embeddings().weight.detach().numpy()
    vecs = static_word_vectors(tiny_encoder, ["cat", "unbelievable"])
    for word, vec in zip(["cat", "unbelievable"], vecs):
        ids = tiny_encoder.tokenizer(word, add_special_tokens=False)["input_ids"]
        np.testing.assert_allclose(vec, table[ids].mean(0), atol=1e-6)


def test_streaming_and_array_averagers_build_the_same_vocabulary(tiny_encoder):
    """The probe's streaming path and metrics.bli.vocabulary_vectors are one averager: same words
    (punctuation stripped, case merged), same order, same vectors."""
    from xalign.metrics.bli import vocabulary_vectors

    _, streamed = embed_with_vocabulary(tiny_encoder, TEXTS, vocabulary=None, batch_size=2)
    items = embed_words(tiny_encoder, TEXTS)
    words, matrix = vocabulary_vectors([it.vectors for it in items], [it.words for it in items])
    assert words == streamed.words
    assert "cat" in words and "cat," not in words and "the" in words and "The" not in words
    np.testing.assert_allclose(matrix, streamed.vectors, atol=1e-5)
