"""Word alignment extraction on hand-made similarity matrices, SimAlign's own algorithm, and AER."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.reference.simalign import iter_max as simalign_iter_max

from xalign.metrics.wordalign import (
    align,
    align_batch,
    alignment_scores,
    average_subwords,
    per_sentence_counts,
    scores_from_counts,
    similarity,
    subword_to_word,
)

HAND = np.array([[0.9, 0.1, 0.2],
                 [0.8, 0.3, 0.1],
                 [0.1, 0.2, 0.7]])


def _links(mask):
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(mask))}


def test_similarity_by_hand():
    src = np.array([[1.0, 0.0], [0.0, 2.0]])
    tgt = np.array([[3.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_allclose(similarity(src, tgt), [[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(similarity(src, tgt, kind="dot"), [[3.0, -1.0], [0.0, 0.0]])


def test_argmax_by_hand():
    # row argmax: 0->0, 1->0, 2->2; column argmax: 0->0, 1->1, 2->2; mutual: (0,0), (2,2)
    assert _links(align(HAND, "argmax")) == {(0, 0), (2, 2)}


def test_itermax_adds_a_link_by_hand():
    # round 2: row 1 and column 1 are unaligned; mask 0.9 on row 1 / column 1, 1.0 at (1,1), 0 elsewhere:
    # [[0, .09, 0], [.72, .3, .09], [0, .18, 0]] -> row 1 argmax col 0, col 0 argmax row 1: add (1, 0)
    assert _links(align(HAND, "itermax")) == {(0, 0), (1, 0), (2, 2)}
    assert _links(align(HAND, "itermax", itermax_rounds=1)) == {(0, 0), (2, 2)}


def test_itermax_skips_extra_rounds_for_two_token_sentences():
    sim = np.array([[0.9, 0.8, 0.1], [0.85, 0.2, 0.3]])  # min(m, n) = 2
    assert _links(align(sim, "itermax")) == _links(align(sim, "argmax")) == {(0, 0)}


def test_match_by_hand():
    # best permutation: identity 0.9 + 0.3 + 0.7 = 1.9 (next best 0.1 + 0.8 + 0.7 = 1.6)
    assert _links(align(HAND, "match")) == {(0, 0), (1, 1), (2, 2)}
    rect = np.array([[0.2, 0.9, 0.5], [0.6, 0.8, 0.1]])  # 2 links: (0,1)+(1,0) = 1.5 beats (0,2)+(1,1) = 1.3
    assert _links(align(rect, "match")) == {(0, 1), (1, 0)}


def test_softmax_by_hand():
    sim = np.array([[2.0, 0.0], [0.0, 0.0]])
    # rows: [e^2/(e^2+1), 1/(e^2+1)] = [.881, .119], [.5, .5]; columns the same by symmetry
    assert _links(align(sim, "softmax", softmax_threshold=0.2)) == {(0, 0), (1, 1)}
    assert _links(align(sim, "softmax")) == {(0, 0), (0, 1), (1, 0), (1, 1)}  # all > 1e-3


# ---- SimAlign 0.4's iter_max: the shared verbatim reference (tests/reference/simalign.py) ----

_simalign_iter_max = simalign_iter_max


def _awesome_softmax(sim, threshold):
    def softmax(x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    return (softmax(sim, 1) > threshold) & (softmax(sim, 0) > threshold)


@pytest.fixture(scope="module")
def random_sims():
    rng = np.random.default_rng(0)
    sims = []
    for _ in range(60):
        m, n = rng.integers(1, 14, size=2)
        vs, vt = rng.standard_normal((m, 8)), rng.standard_normal((n, 8))
        vt[: min(m, n)] += vs[: min(m, n)]  # some structure, like translations
        sims.append(similarity(vs, vt) if rng.random() < 0.7 else similarity(vs, vt, kind="dot"))
    return sims


@pytest.mark.parametrize("rounds", [1, 2, 3, 5])
def test_batched_itermax_equals_simalign(random_sims, rounds):
    got = align_batch(random_sims, "itermax", itermax_rounds=rounds)
    for sim, mask in zip(random_sims, got):
        np.testing.assert_array_equal(mask, _simalign_iter_max(sim, max_count=rounds) > 0)


def test_batched_argmax_softmax_equal_per_pair(random_sims):
    for sim, mask in zip(random_sims, align_batch(random_sims, "argmax")):
        np.testing.assert_array_equal(mask, _simalign_iter_max(sim, max_count=1) > 0)
        np.testing.assert_array_equal(mask, align(sim, "argmax"))
    for sim, mask in zip(random_sims, align_batch(random_sims, "softmax", softmax_threshold=0.05)):
        np.testing.assert_array_equal(mask, _awesome_softmax(sim, 0.05))


def test_match_is_a_maximum_weight_matching(random_sims):
    for sim in random_sims[:25]:
        m, n = sim.shape
        if max(m, n) > 7:
            continue
        small, large = (m, n) if m <= n else (n, m)
        s = sim if m <= n else sim.T
        best = max(sum(s[i, p[i]] for i in range(small)) for p in itertools.permutations(range(large), small))
        mask = align(sim, "match")
        assert mask.sum() == small
        assert sim[mask].sum() == pytest.approx(best)


def test_subword_to_word_and_average_subwords():
    links = np.zeros((5, 4), dtype=bool)
    links[1, 1] = links[2, 1] = links[3, 2] = links[0, 0] = links[4, 3] = True  # rows/cols 0 and 4/3 are specials
    src_ids = [None, 0, 0, 1, None]
    tgt_ids = [-1, 0, 1, None]
    assert subword_to_word(links, src_ids, tgt_ids) == {(0, 0), (1, 1)}
    vecs = np.array([[9.0, 9.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [9.0, 9.0]])
    np.testing.assert_allclose(average_subwords(vecs, src_ids), [[2.0, 3.0], [5.0, 6.0]])
    stacked = np.stack([vecs, 2 * vecs])  # [layers, subwords, dim]
    np.testing.assert_allclose(average_subwords(stacked, src_ids)[1], [[4.0, 6.0], [10.0, 12.0]])
    # the one truncation rule (shared with embed's pooler): a word with no subword is a zero vector
    np.testing.assert_allclose(average_subwords(vecs, [0, 0, 2, 2, None]), [[5.0, 5.5], [0.0, 0.0], [4.0, 5.0]])
    np.testing.assert_allclose(average_subwords(vecs, src_ids, n_words=3), [[2.0, 3.0], [5.0, 6.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="expected 5 word ids"):
        subword_to_word(links, [0, 1], tgt_ids)


def test_alignment_scores_hand_computed():
    pred = [{(0, 0), (1, 1), (2, 3)}, {(0, 1)}]
    sure = [{(0, 0), (1, 2)}, {(0, 1), (1, 0)}]
    possible = [{(1, 1)}, set()]  # possible-only marks; P = possible | sure
    # sentence 1: |A| 3, |S| 2, |A n S| 1, |A n P| 2; sentence 2: 1, 2, 1, 1
    counts = per_sentence_counts(pred, sure, possible)
    assert counts.tolist() == [[3, 2, 1, 2], [1, 2, 1, 1]]
    res = alignment_scores(pred, sure, possible)
    # corpus: |A| 4, |S| 4, |A n S| 2, |A n P| 3 -> P 3/4, R 2/4, AER 1 - 5/8, F1 2*.75*.5/1.25
    assert res.precision == pytest.approx(0.75)
    assert res.recall == pytest.approx(0.5)
    assert res.aer == pytest.approx(0.375)
    assert res.f1 == pytest.approx(0.6)
    assert (res.n_pred, res.n_sure, res.n_possible) == (4, 4, 5)
    assert scores_from_counts(counts).aer == pytest.approx(0.375)
    perfect = alignment_scores([{(0, 0)}], [{(0, 0)}])
    assert (perfect.precision, perfect.recall, perfect.aer) == (1.0, 1.0, 0.0)
    # bool matrices are accepted as predictions
    assert alignment_scores([align(HAND, "match")], [{(0, 0), (1, 1), (2, 2)}]).f1 == 1.0


def test_alignment_scores_errors():
    with pytest.raises(ValueError, match="one entry per sentence"):
        alignment_scores([set()], [set(), set()])
    with pytest.raises(ValueError, match="no sure gold links"):
        alignment_scores([{(0, 0)}], [set()])
    assert alignment_scores([set()], [{(0, 0)}]).precision == 0.0  # nothing predicted
    with pytest.raises(ValueError, match="method"):
        align(HAND, "mwmf")
    with pytest.raises(ValueError, match="NaN"):
        align(np.array([[np.nan]]))
