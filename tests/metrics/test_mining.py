"""BUCC-style mining and MTEB bitext scores against hand-computed values and naive references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from xalign.metrics.mining import best_f1_threshold, bitext_mining, mteb_bitext_scores, weighted_prf


def test_best_threshold_hand_computed():
    # cut after 1: P 1, R 1/3 (F1 .5); after 2: P 1, R 2/3 (F1 .8); after 3: .667/.667; after 4: .5/.667
    res = best_f1_threshold([0.9, 0.8, 0.7, 0.6], [True, True, False, False], n_gold=3)
    assert (res.precision, res.recall, res.n_selected) == (1.0, pytest.approx(2 / 3), 2)
    assert res.f1 == pytest.approx(0.8)
    assert res.threshold == pytest.approx(0.75)  # midpoint of 0.8 and 0.7
    # all kept is best: P 3/4, R 3/4; the threshold is the last score
    res = best_f1_threshold([0.6, 0.9, 0.7, 0.8], [True, True, True, False], n_gold=4)
    assert (res.f1, res.threshold, res.n_selected) == (pytest.approx(0.75), 0.6, 4)


def test_best_threshold_never_splits_ties():
    # cutting after 2 would need a threshold between two equal 0.8 scores; after 3: P 2/3, R 1
    res = best_f1_threshold([0.9, 0.8, 0.8, 0.5], [True, True, False, False], n_gold=2)
    assert res.n_selected == 3 and res.f1 == pytest.approx(0.8)
    assert res.threshold == pytest.approx(0.65)


def _naive_mining(src, tgt, gold, k=4):
    """LASER 'max' mining with ratio margin, then XTREME's bucc_optimize, written plainly."""
    a = src / np.linalg.norm(src, axis=1, keepdims=True)
    b = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    cos = a @ b.T
    r_a = np.sort(cos, 1)[:, -k:].mean(1)
    r_b = np.sort(cos, 0)[-k:, :].mean(0)
    margin = cos / (r_a[:, None] / 2 + r_b[None, :] / 2)
    fwd, bwd = margin.argmax(1), margin.argmax(0)
    cands = [((i, int(fwd[i])), margin[i, fwd[i]]) for i in range(len(a))]
    cands += [((int(bwd[j]), j), margin[bwd[j], j]) for j in range(len(b))]
    cands.sort(key=lambda c: -c[1])
    seen_s, seen_t, kept = set(), set(), []
    for (i, j), s in cands:
        if i not in seen_s and j not in seen_t:
            seen_s.add(i)
            seen_t.add(j)
            kept.append(((i, j), s))
    best, n_correct = 0.0, 0
    for n, (pair, _) in enumerate(kept, 1):
        n_correct += pair in gold
        if n_correct:
            p, r = n_correct / n, n_correct / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def test_bitext_mining_matches_naive_laser_and_finds_planted_pairs():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, 16))
    src = np.vstack([base, rng.standard_normal((20, 16))])  # 40 with a translation, 20 without
    perm = rng.permutation(60)
    tgt_unshuffled = np.vstack([base + 0.5 * rng.standard_normal((40, 16)), rng.standard_normal((20, 16))])
    tgt = tgt_unshuffled[perm]
    where = np.argsort(perm)
    gold = {(i, int(where[i])) for i in range(40)}
    res = bitext_mining(src, tgt, sorted(gold), device="cpu")
    assert res.f1 == pytest.approx(_naive_mining(src, tgt, gold))
    assert res.f1 > 0.9 and res.n_gold == 40
    assert bitext_mining(src, tgt, sorted(gold), method="cosine", mode="intersect", device="cpu").f1 > 0.8
    with pytest.raises(ValueError, match="gold_pairs"):
        bitext_mining(src, tgt, [(0, 99)])


def test_weighted_prf_equals_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 30, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 40, 200))
    ours = weighted_prf(y, p)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, p))
    for name, fn in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        assert ours[name] == pytest.approx(fn(y, p, average="weighted", zero_division=0)), name


def test_mteb_bitext_scores_against_brute_force_argmax():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((100, 12))
    b = a + 1.2 * rng.standard_normal((100, 12))
    cos = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    pred = cos.argmax(1)
    out = mteb_bitext_scores(a, b, device="cpu")
    assert out["accuracy"] == pytest.approx(np.mean(pred == np.arange(100)))
    assert out["f1"] == pytest.approx(f1_score(np.arange(100), pred, average="weighted", zero_division=0))
    assert out["main_score"] == out["f1"]
    assert 0.2 < out["accuracy"] < 1.0
