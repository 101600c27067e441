"""BLI with planted translations and hand-made neighbourhoods; vocabulary averaging by hand."""

from __future__ import annotations

import numpy as np
import pytest

from xalign.metrics.bli import bli_scores, vocabulary_vectors


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    src = rng.standard_normal((60, 16))
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    perm = rng.permutation(60)
    tgt = (src @ q + 0.05 * rng.standard_normal((60, 16)))[perm]  # a rotated, shuffled, noisy copy
    src_words = [f"s{i}" for i in range(60)]
    tgt_words = [None] * 60
    for i, p in enumerate(perm):
        tgt_words[i] = f"t{p}"
    return src, src_words, tgt, tgt_words, q


def test_planted_translations_are_found_after_mapping(planted):
    src, src_words, tgt, tgt_words, q = planted
    dictionary = [(f"s{i}", f"t{i}") for i in range(40)] + [("s0", "t59"), ("unknown", "t1"), ("s41", "nope")]
    for method in ("cosine", "csls"):
        res = bli_scores(src @ q, src_words, tgt, tgt_words, dictionary, method=method, ks=(1, 5), device="cpu")
        assert res.p_at == {1: 1.0, 5: 1.0}, method
        # s0..s39 are queries (s0 has a second, wrong gold "t59"); "unknown" is not in the source
        # vocabulary and the only translation of "s41" is not in the target one: 2 missing
        assert (res.n_queries, res.n_missing) == (40, 2)


def test_hand_made_neighbourhood_and_multiple_gold():
    # targets on the unit circle; query "a" is closest to "x", then "y"; its gold is "y" -> rank 2
    src_words, tgt_words = ["a", "b", "c"], ["x", "y", "z"]
    ang = np.deg2rad([0.0, 30.0, 120.0])
    tgt = np.stack([np.cos(ang), np.sin(ang)], 1)
    src = np.stack([np.cos(np.deg2rad([10.0, 35.0, 118.0])), np.sin(np.deg2rad([10.0, 35.0, 118.0]))], 1)
    dictionary = [("a", "y"), ("b", "y"), ("c", "z")]
    res = bli_scores(src, src_words, tgt, tgt_words, dictionary, ks=(1, 2), device="cpu")
    assert res.p_at == {1: pytest.approx(2 / 3), 2: 1.0}
    # a second gold translation for "a" ("x") makes it correct at rank 1
    res = bli_scores(src, src_words, tgt, tgt_words, dictionary + [("a", "x")], ks=(1,), device="cpu")
    assert res.p_at == {1: 1.0}


def test_csls_matches_brute_force_reference():
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal((50, 8)), rng.standard_normal((45, 8))
    tgt[:30] += 1.5 * src[:30]
    src_words, tgt_words = [f"s{i}" for i in range(50)], [f"t{i}" for i in range(45)]
    dictionary = [(f"s{i}", f"t{i}") for i in range(0, 45, 2)]
    a = src / np.linalg.norm(src, axis=1, keepdims=True)
    b = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    cos = a @ b.T
    r_t = np.sort(cos, 1)[:, -5:].mean(1)  # over all target words
    r_s = np.sort(cos, 0)[-5:, :].mean(0)  # over the whole source vocabulary, not just queries
    csls = 2 * cos - r_t[:, None] - r_s[None, :]
    queries = list(range(0, 45, 2))
    rank = [(csls[i] > csls[i, i]).sum() for i in queries]
    res = bli_scores(src, src_words, tgt, tgt_words, dictionary, method="csls", k=5, ks=(1, 5), device="cpu")
    assert res.p_at[1] == pytest.approx(np.mean(np.array(rank) < 1))
    assert res.p_at[5] == pytest.approx(np.mean(np.array(rank) < 5))


def test_bli_errors(planted):
    src, src_words, tgt, tgt_words, _ = planted
    with pytest.raises(ValueError, match="unique"):
        bli_scores(src, ["w"] * 60, tgt, tgt_words, [("w", "t0")])
    with pytest.raises(ValueError, match="one per vector row"):
        bli_scores(src, src_words[:5], tgt, tgt_words, [("s0", "t0")])
    with pytest.raises(ValueError, match="method"):
        bli_scores(src, src_words, tgt, tgt_words, [("s0", "t0")], method="margin")
    res = bli_scores(src, src_words, tgt, tgt_words, [("zz", "t0")], device="cpu")
    assert res.n_queries == 0 and res.n_missing == 1 and res.p_at[1] == 0.0


def test_vocabulary_vectors_by_hand():
    vecs = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[3.0, 0.0], [5.0, 5.0], [0.0, 3.0]])]
    words = [["The", "cat"], ["the", "dog", "cat"]]
    out_words, matrix = vocabulary_vectors(vecs, words)
    assert out_words == ["cat", "the", "dog"]  # by count, ties alphabetically
    np.testing.assert_allclose(matrix, [[0.0, 2.0], [2.0, 0.0], [5.0, 5.0]])
    out_words, matrix = vocabulary_vectors(vecs, words, lowercase=False, min_count=2)
    assert out_words == ["cat"] and matrix.shape == (1, 2)
    layered = [np.stack([v, 10 * v]) for v in vecs]  # [L, n_words, d]
    _, m3 = vocabulary_vectors(layered, words)
    assert m3.shape == (2, 3, 2)
    np.testing.assert_allclose(m3[1, 1], [20.0, 0.0])
    with pytest.raises(ValueError, match="n_words = 2"):
        vocabulary_vectors([np.zeros((3, 2))], [["a", "b"]])


def test_word_type_averager_hand_values():
    from xalign.metrics.wordtypes import WordTypeAverager

    avg = WordTypeAverager(vocabulary={"Cat", "dog"})
    avg.add(["The", "cat!", "dog"], np.array([[9.0, 9.0], [1.0, 2.0], [4.0, 0.0]]))
    avg.add(["«Cat»", "..."], np.array([[3.0, 4.0], [7.0, 7.0]]))
    words, matrix, counts = avg.result()
    # "cat" twice (1,2) and (3,4) → (2,3); "dog" once; "the" is outside the vocabulary; "..." normalises to ""
    assert words == ["cat", "dog"] and counts.tolist() == [2, 1]
    np.testing.assert_allclose(matrix, [[2.0, 3.0], [4.0, 0.0]])
    assert avg.result(min_count=2)[0] == ["cat"]
