"""Extraction checked against a hand-written reference computed from raw ``hidden_states``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xalign.embed import ExtractionStats, embed, embed_words
from xalign.embed.batching import plan_batches
from xalign.embed.extract import resolve_layers

from ..conftest import CORPUS


def _reference_states(encoder, text):
    """One text, one forward pass, no padding: tokens, hidden [L+1, T, H], special mask."""
    enc = encoder.tokenizer(text, return_special_tokens_mask=True, return_tensors="pt")
    special = enc.pop("special_tokens_mask")[0].bool()
    with torch.no_grad():
        out = encoder.model(**enc, output_hidden_states=True)
    return enc, torch.stack(out.hidden_states)[:, 0].numpy(), special.numpy()


@pytest.mark.parametrize("pooling", ["mean", "mean_all", "cls"])
def test_sentence_pooling_matches_reference(tiny_encoder, pooling):
    got = embed(tiny_encoder, CORPUS, pooling=pooling, batch_size=4)
    assert got.shape == (tiny_encoder.num_layers + 1, len(CORPUS), tiny_encoder.hidden_size)
    for i, text in enumerate(CORPUS):
        _, hidden, special = _reference_states(tiny_encoder, text)
        if pooling == "mean":
            ref = hidden[:, ~special].mean(1)
        elif pooling == "mean_all":
            ref = hidden.mean(1)
        else:
            ref = hidden[:, 0]
        np.testing.assert_allclose(got[:, i], ref, atol=1e-5, rtol=1e-4)


def test_specials_found_by_tokenizer_not_position(tiny_encoder):
    # the reference mask must flag exactly the first and last token for single sentences
    _, _, special = _reference_states(tiny_encoder, CORPUS[0])
    assert special[0] and special[-1] and not special[1:-1].any()


def test_invariant_to_batch_size_and_order(tiny_encoder):
    base = embed(tiny_encoder, CORPUS, batch_size=1, max_tokens=None)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(CORPUS))
    for bs, budget in [(2, None), (5, 40), (64, 10**6)]:
        shuffled = embed(tiny_encoder, [CORPUS[i] for i in perm], batch_size=bs, max_tokens=budget)
        np.testing.assert_allclose(shuffled[:, np.argsort(perm)], base, atol=1e-5)


def test_layer_selection_and_negative_index(tiny_encoder):
    full = embed(tiny_encoder, CORPUS[:3])
    last = embed(tiny_encoder, CORPUS[:3], layers=[-1, 0])
    np.testing.assert_allclose(last[0], full[-1], atol=1e-6)
    np.testing.assert_allclose(last[1], full[0], atol=1e-6)
    assert resolve_layers("all", 2) == [0, 1, 2]
    assert resolve_layers("0,2", 2) == [0, 2]
    with pytest.raises(ValueError, match="out of range"):
        resolve_layers([5], 2)


def test_prefix_is_opt_in(tiny_encoder):
    plain = embed(tiny_encoder, CORPUS[:2], layers=[-1])
    prefixed = embed(tiny_encoder, CORPUS[:2], layers=[-1], prefix="query: ")
    manual = embed(tiny_encoder, ["query: " + t for t in CORPUS[:2]], layers=[-1])
    np.testing.assert_allclose(prefixed, manual, atol=1e-6)
    assert not np.allclose(plain, prefixed)


def test_truncation_is_counted(tiny_encoder):
    long_text = " ".join(["word"] * 500)
    stats = ExtractionStats()
    out = embed(tiny_encoder, [CORPUS[0], long_text], stats=stats)
    assert stats.n_truncated == 1 and stats.truncated_indices == [1]
    assert np.isfinite(out).all()


def test_bad_input_types(tiny_encoder):
    with pytest.raises(TypeError, match="single string"):
        embed(tiny_encoder, "just one string")
    with pytest.raises(TypeError, match="item 1"):
        embed(tiny_encoder, ["ok", 3])
    with pytest.raises(ValueError, match="pooling"):
        embed(tiny_encoder, ["ok"], pooling="max")


@pytest.mark.parametrize("first", [False, True])
def test_word_vectors_match_reference(tiny_encoder, first):
    words = [s.split() for s in CORPUS[:6]]
    got = embed_words(tiny_encoder, words, pretokenized=True, word_pooling="first" if first else "mean", batch_size=2)
    for sent, item in zip(words, got):
        assert item.words == sent
        enc = tiny_encoder.tokenizer(sent, is_split_into_words=True, return_tensors="pt")
        word_ids = enc.word_ids(0)
        with torch.no_grad():
            hidden = torch.stack(tiny_encoder.model(**enc, output_hidden_states=True).hidden_states)[:, 0].numpy()
        for w in range(len(sent)):
            toks = [t for t, wid in enumerate(word_ids) if wid == w]
            ref = hidden[:, toks[0]] if first else hidden[:, toks].mean(1)
            np.testing.assert_allclose(item.vectors[:, w], ref, atol=1e-5)


def test_subwords_cover_every_word_and_skip_specials(tiny_encoder):
    words = [s.split() for s in CORPUS[:4]]
    got = embed_words(tiny_encoder, words, pretokenized=True, subwords=True, layers=[1])
    pooled = embed_words(tiny_encoder, words, pretokenized=True, layers=[1])
    for item, ref in zip(got, pooled):
        assert sorted(set(item.word_ids.tolist())) == list(range(len(item.words)))
        assert item.vectors.shape[1] == len(item.word_ids) == len(item.tokens)
        means = np.stack([item.vectors[0, item.word_ids == w].mean(0) for w in range(len(item.words))])
        np.testing.assert_allclose(means, ref.vectors[0], atol=1e-5)


def test_raw_text_words_from_offsets(tiny_encoder):
    got = embed_words(tiny_encoder, ["The cat sits on the mat."], layers=[0])[0]
    joined = "".join(got.words)
    assert joined.replace(" ", "") == "Thecatsitsonthemat."
    assert got.vectors.shape[1] == len(got.words)


def test_plan_batches_budget_and_cover():
    lengths = [5, 50, 7, 12, 3, 50, 9]
    batches = plan_batches(lengths, batch_size=3, max_tokens=60)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 60
    with pytest.raises(ValueError):
        plan_batches(lengths, batch_size=0, max_tokens=None)


def test_xalign_embed_is_callable_after_the_subpackage_is_imported(tiny_bert_dir):
    import xalign
    import xalign.embed.store  # noqa: F401 - rebinds the attribute xalign.embed to the subpackage
    from xalign.embed.extract import embed as embed_fn

    enc = xalign.load_encoder(str(tiny_bert_dir), device="cpu")
    texts = ["The cat sits on the mat.", "Paka ameketi kwenye mkeka."]
    np.testing.assert_array_equal(xalign.embed(enc, texts, layers=[0, 1]), embed_fn(enc, texts, layers=[0, 1]))


def test_one_subword_pooler_for_embed_and_metrics():
    """embed's torch pooler and metrics' array pooler are one kernel: same means, same truncation rule."""
    import torch

    from xalign.embed.pooling import pool_words
    from xalign.metrics.wordalign import average_subwords

    states = torch.tensor([[[9.0, 9.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [9.0, 9.0]]])  # [1 layer, 5 tokens, 2]
    ids = [None, 0, 0, 1, None]
    # word 2 was cut by truncation: zero, in both
    expected = np.array([[[2.0, 3.0], [5.0, 6.0], [0.0, 0.0]]])
    np.testing.assert_allclose(pool_words(states, ids, 3, first=False).numpy(), expected)
    np.testing.assert_allclose(average_subwords(states.numpy(), ids, n_words=3), expected)
    np.testing.assert_allclose(pool_words(states, ids, 2, first=True).numpy(), [[[1.0, 2.0], [5.0, 6.0]]])
