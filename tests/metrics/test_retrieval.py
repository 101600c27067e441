"""Retrieval scores against brute-force numpy, hand-computed CSLS/margin, planted ranks, hubness."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from xalign.metrics.retrieval import (
    PRESETS,
    RetrievalPreset,
    bidirectional_retrieval,
    hubness,
    k_occurrence,
    retrieval_scores,
)
from xalign.metrics.search import csls_topk, topk_search


def _normalise(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32).astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _reference_scores(src: np.ndarray, tgt: np.ndarray, method: str, k: int) -> np.ndarray:
    """Full score matrix in float64, written from the definitions."""
    cos = _normalise(src) @ _normalise(tgt).T
    if method == "cosine":
        return cos
    r_src = np.sort(cos, axis=1)[:, -k:].mean(axis=1)  # mean cos of each source's k nearest targets
    r_tgt = np.sort(cos, axis=0)[-k:, :].mean(axis=0)  # mean cos of each target's k nearest sources
    if method == "csls":
        return 2 * cos - r_src[:, None] - r_tgt[None, :]
    return cos / (r_src[:, None] / 2 + r_tgt[None, :] / 2)


@pytest.fixture(scope="module")
def parallel():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((150, 20))
    b = a + 0.9 * rng.standard_normal((150, 20))
    return a, b


@pytest.mark.parametrize("method, k", [("cosine", 0), ("csls", 10), ("margin", 4), ("csls", 3)])
def test_ranks_equal_brute_force(parallel, method, k):
    a, b = parallel
    ref = _reference_scores(a, b, method, k)
    gold_scores = np.diag(ref)
    gaps = np.abs(ref - gold_scores[:, None])
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 1e-5, "reference must be free of near-ties"
    ref_ranks = (ref > gold_scores[:, None]).sum(axis=1)
    res = retrieval_scores(a, b, method=method, k=k or None, device="cpu")
    np.testing.assert_array_equal(res.ranks, ref_ranks)
    np.testing.assert_array_equal(res.top1, ref.argmax(axis=1))
    np.testing.assert_allclose(res.top1_score, ref.max(axis=1), atol=1e-5)
    assert res.p_at[1] == pytest.approx(np.mean(ref_ranks == 0))
    assert res.mrr == pytest.approx(np.mean(1 / (ref_ranks + 1)))
    assert 0.3 < res.p_at[1] < 1.0  # the data are neither trivial nor hopeless


@pytest.mark.parametrize("method", ["cosine", "csls", "margin"])
def test_invariant_to_corpus_order(parallel, method):
    a, b = parallel
    perm = np.random.default_rng(1).permutation(len(b))
    base = retrieval_scores(a, b, method=method, device="cpu")
    shuffled = retrieval_scores(a, b[perm], method=method, gold=np.argsort(perm), device="cpu")
    np.testing.assert_array_equal(shuffled.ranks, base.ranks)
    np.testing.assert_array_equal(perm[shuffled.top1], base.top1)


def _tiny_hub():
    """x1 = e1, x2 = e2; cos matrix [[0.5, 0.3], [0.4, 0.35]] (target y1 is a hub)."""
    src = np.eye(3)[:2]
    tgt = np.array([[0.5, 0.4, np.sqrt(1 - 0.25 - 0.16)], [0.3, 0.35, np.sqrt(1 - 0.09 - 0.1225)]])
    return src, tgt


def test_hand_computed_csls_and_margin():
    src, tgt = _tiny_hub()
    # cosine: x2 prefers the hub y1 (0.4 > 0.35), so its gold y2 has rank 1
    cos = retrieval_scores(src, tgt, method="cosine", device="cpu")
    assert cos.ranks.tolist() == [0, 1] and cos.p_at[1] == 0.5
    # k = 1: r_T(x1) = 0.5, r_T(x2) = 0.4, r_S(y1) = max(0.5, 0.4) = 0.5, r_S(y2) = max(0.3, 0.35) = 0.35
    # CSLS(x1, y1) = 1.0 - 0.5 - 0.5 = 0;  CSLS(x1, y2) = 0.6 - 0.5 - 0.35 = -0.25
    # CSLS(x2, y1) = 0.8 - 0.4 - 0.5 = -0.1; CSLS(x2, y2) = 0.7 - 0.4 - 0.35 = -0.05  -> y2 wins
    csls = retrieval_scores(src, tgt, method="csls", k=1, device="cpu")
    assert csls.ranks.tolist() == [0, 0] and csls.top1.tolist() == [0, 1]
    np.testing.assert_allclose(csls.top1_score, [0.0, -0.05], atol=1e-6)
    s, i = csls_topk(src, tgt, 2, neighbourhood=1, device="cpu")
    np.testing.assert_array_equal(i, [[0, 1], [1, 0]])
    np.testing.assert_allclose(s, [[0.0, -0.25], [-0.05, -0.1]], atol=1e-6)
    # margin: x1: 0.5 / ((0.5 + 0.5) / 2) = 1.0 vs 0.3 / 0.425 = 0.70588
    #         x2: 0.4 / ((0.4 + 0.5) / 2) = 0.88889 vs 0.35 / ((0.4 + 0.35) / 2) = 0.93333
    margin = retrieval_scores(src, tgt, method="margin", k=1, device="cpu")
    assert margin.ranks.tolist() == [0, 0]
    np.testing.assert_allclose(margin.top1_score, [1.0, 0.35 / 0.375], atol=1e-6)


def test_centring_uses_each_sides_own_mean():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((80, 16))
    a = base + 4.0 * rng.standard_normal(16)  # one large language-specific offset per side
    b = base + 0.8 * rng.standard_normal((80, 16)) + 4.0 * rng.standard_normal(16)
    centred = retrieval_scores(a, b, center=True, device="cpu")
    manual = retrieval_scores(a - a.mean(0), b - b.mean(0), device="cpu")
    np.testing.assert_array_equal(centred.ranks, manual.ranks)
    assert centred.center and not manual.center
    raw = retrieval_scores(a, b, device="cpu")
    assert centred.p_at[1] > raw.p_at[1] + 0.2


def test_planted_ranks_give_hand_computed_p_at_k_and_mrr():
    # queries e_i and keys whose cosines with e_i are exactly M[i, j]; gold of query i is key i
    planted = [0, 0, 1, 2, 4, 5, 7, 3]
    n = len(planted)
    values = np.linspace(0.3, 0.05, n)  # distinct, best first
    rng = np.random.default_rng(4)
    m = np.zeros((n, n))
    for i, r in enumerate(planted):
        others = rng.permutation([j for j in range(n) if j != i])
        order = list(others[:r]) + [i] + list(others[r:])
        m[i, order] = values
    keys = np.hstack([m.T, np.sqrt(1 - (m.T**2).sum(1, keepdims=True))])
    queries = np.eye(n + 1)[:n]
    res = retrieval_scores(queries, keys, device="cpu")
    assert res.ranks.tolist() == planted
    assert res.p_at == {1: 0.25, 5: 0.75, 10: 1.0}
    # (1 + 1 + 1/2 + 1/3 + 1/5 + 1/6 + 1/8 + 1/4) / 8 = 3.575 / 8
    assert res.mrr == pytest.approx(0.446875)


def test_bidirectional_shares_work_and_matches_single_direction(parallel):
    a, b = parallel
    both = bidirectional_retrieval(a, b, methods=("cosine", "csls", "margin"), device="cpu")
    assert set(both) == {"a->b", "b->a"}
    for m in ("cosine", "csls", "margin"):
        np.testing.assert_array_equal(both["a->b"][m].ranks, retrieval_scores(a, b, method=m, device="cpu").ranks)
        np.testing.assert_array_equal(both["b->a"][m].ranks, retrieval_scores(b, a, method=m, device="cpu").ranks)
    assert both["a->b"]["csls"].k == 10 and both["a->b"]["margin"].k == 4


def test_hubness_equals_scipy_skew_of_naive_count():
    rng = np.random.default_rng(5)
    q, keys = rng.standard_normal((200, 8)), rng.standard_normal((100, 8))
    _, nb = topk_search(q, keys, 10, metric="cosine", device="cpu")
    counts = [0] * 100
    for row in nb:
        for j in row[:10]:
            counts[j] += 1
    assert k_occurrence(nb, 100, 10).tolist() == counts
    assert hubness(nb, 100, k=10) == pytest.approx(scipy.stats.skew(counts))
    assert hubness(nb, 100, k=3) == pytest.approx(scipy.stats.skew(np.bincount(nb[:, :3].ravel(), minlength=100)))
    assert hubness(np.array([[0, 1], [1, 0]]), 2, k=2) == 0.0  # uniform occurrence: no skew


def test_input_validation(parallel):
    a, b = parallel
    with pytest.raises(ValueError, match="method"):
        retrieval_scores(a, b, method="euclid")
    with pytest.raises(ValueError, match="pass gold"):
        retrieval_scores(a, b[:10])
    with pytest.raises(ValueError, match="gold"):
        retrieval_scores(a, b, gold=np.arange(150) + 1)
    with pytest.raises(ValueError, match="dim"):
        retrieval_scores(a, b[:, :4])
    with pytest.raises(ValueError, match="equal shape"):
        bidirectional_retrieval(a, b[:20])
    with pytest.raises(ValueError, match="indices"):
        hubness(np.array([[0, 5]]), 3, k=2)


def test_presets_record_the_published_protocols():
    tatoeba = PRESETS["xtreme-tatoeba"]
    expected = ("mean_all", 8, "en->xx", ("cosine",))
    assert (tatoeba.pooling, tatoeba.layer, tatoeba.direction, tatoeba.methods) == expected
    assert PRESETS["mteb"].metrics == ("accuracy", "precision", "recall", "f1")
    assert PRESETS["default"].to_dict()["methods"] == ["cosine", "csls", "margin"]
    with pytest.raises(ValueError, match="pooling"):
        RetrievalPreset(name="x", pooling="max", layer=1, direction="both", methods=("cosine",), k=None,
                        center=False, metrics=())
