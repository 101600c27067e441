"""Paired item × seed bootstrap, Holm and Spearman against hand-computed values and naive references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import rankdata

from xalign.metrics.significance import (
    hierarchical_bootstrap,
    holm,
    minimum_detectable_effect,
    paired_item_seed_bootstrap,
    seed_aware_claim,
    sign_flip_p,
    spearman_ci,
)

# 4 items, 2 seeds. Seed-averaged correctness: a -> [1, .5, .5, 1] (0.75), b -> [.5, 0, .5, 1] (0.5);
# per-item differences d = [.5, .5, 0, 0], so delta = 0.25 and a resample's delta is K/8, K ~ Bin(4, 1/2).
A = np.array([[1, 0, 1, 1], [1, 1, 0, 1]])
B = np.array([[0, 0, 1, 1], [1, 0, 0, 1]])


def test_item_seed_delta_by_hand_and_the_exact_bootstrap_distribution():
    res = paired_item_seed_bootstrap(A, B, n_boot=20000, seed=0)
    assert res.delta == pytest.approx(0.25)
    assert (res.mean_a, res.mean_b, res.n_items, res.n_seeds) == (pytest.approx(0.75), pytest.approx(0.5), 4, 2)
    # all 4^4 = 256 resamples, enumerated: P(delta* <= 0) = P(K = 0) = 1/16, P(delta* >= 0) = 1
    d = np.array([0.5, 0.5, 0.0, 0.0])
    exact = np.array([d[list(idx)].mean() for idx in itertools.product(range(4), repeat=4)])
    assert np.mean(exact <= 0) == pytest.approx(1 / 16)
    assert res.p_value == pytest.approx(2 / 16, abs=0.01)  # 2 * min(1/16, 1)
    # percentiles of the exact distribution {0, 1/8, ..., 1/2} with weights 1, 4, 6, 4, 1 (/16)
    assert res.ci95 == (0.0, 0.5)


def test_item_seed_bootstrap_equals_a_naive_loop_over_the_same_draws():
    rng = np.random.default_rng(5)
    a, b = (rng.random((3, 25)) < 0.6).astype(float), (rng.random((3, 25)) < 0.5).astype(float)
    res = paired_item_seed_bootstrap(a, b, n_boot=300, seed=11)
    draws = np.random.default_rng(11).integers(0, 25, (300, 25))
    deltas = []
    for idx in draws:  # per resample: each method's per-item correctness averaged over its seeds
        deltas.append(np.mean([a[:, i].mean() for i in idx]) - np.mean([b[:, i].mean() for i in idx]))
    deltas = np.array(deltas)
    assert res.delta == pytest.approx(a.mean() - b.mean())
    assert res.ci95 == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])))
    below, above = (np.sum(deltas <= 0) + 1) / 301, (np.sum(deltas >= 0) + 1) / 301
    assert res.p_value == pytest.approx(min(1.0, 2 * min(below, above)))


def test_item_seed_bootstrap_rejects_mismatched_inputs_and_identical_systems_give_p_one():
    with pytest.raises(ValueError, match="same"):
        paired_item_seed_bootstrap(A, B[:1])
    with pytest.raises(ValueError, match="NaN"):
        paired_item_seed_bootstrap([[np.nan, 1.0]], [[0.0, 1.0]])
    same = paired_item_seed_bootstrap(A, A, n_boot=100, seed=0)
    assert same.delta == 0.0 and same.p_value == 1.0


def _holm_statsmodels_formula(p):
    """statsmodels.stats.multitest.multipletests(method='holm'), written out."""
    p = np.asarray(p, float)
    order = np.argsort(p)
    ntests = p.size
    corrected_sorted = np.maximum.accumulate((ntests - np.arange(ntests)) * p[order])
    corrected_sorted = np.minimum(corrected_sorted, 1)
    out = np.empty_like(corrected_sorted)
    out[order] = corrected_sorted
    return out


def test_holm_by_hand_and_against_the_statsmodels_formula():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*.005=.02, 3*.01=.03, 2*.03=.06, 1*.04=.04 -> running max .02 .03 .06 .06
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # clipped at 1
    assert holm([0.2]) == pytest.approx([0.2])
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.random(rng.integers(1, 12)) ** 3
        assert holm(q) == pytest.approx(_holm_statsmodels_formula(q))
    assert holm([]).size == 0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.5])


def _naive_rank_correlations(x, y, draws) -> list[float]:
    """Pearson correlation of the ranks on each resample (index list), skipping resamples with a constant."""
    xs, ys = np.array(x, float), np.array(y, float)
    reps = []
    for idx in draws:
        rx, ry = rankdata(xs[idx]), rankdata(ys[idx])
        if np.ptp(rx) == 0 or np.ptp(ry) == 0:
            continue
        reps.append(np.corrcoef(rx, ry)[0, 1])
    return reps


def test_spearman_exact_values_and_bootstrap_against_a_naive_rank_correlation():
    # d = rank differences [1, 1, 1, 1, 0]: rho = 1 - 6 * 4 / (5 * 24) = 0.8
    x, y = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    res = spearman_ci(x, y, n_boot=400, seed=3)
    assert res.rho == pytest.approx(0.8)
    assert spearman_ci([1, 2, 3, 4], [1, 3, 2, 4], n_boot=10).rho == pytest.approx(0.8)  # 1 - 6*2/60
    assert spearman_ci([1, 2, 3], [3, 2, 1], n_boot=10).rho == pytest.approx(-1.0)
    reps = _naive_rank_correlations(x, y, np.random.default_rng(3).integers(0, 5, (400, 5)))
    assert res.n_boot_valid == len(reps)
    assert res.ci95 == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))


def test_spearman_cluster_bootstrap_against_a_naive_group_resampling():
    # 3 languages × 2 seeds: each resample draws 3 languages with replacement and keeps both of their seeds
    x = [0.1, 0.2, 0.5, 0.4, 0.9, 0.7]
    y = [0.0, 0.3, 0.2, 0.6, 0.8, 0.5]
    langs = ["sw", "sw", "de", "de", "ur", "ur"]
    res = spearman_ci(x, y, n_boot=300, seed=5, groups=langs)
    assert res.n_groups == 3 and res.n == 6
    assert res.rho == pytest.approx(spearman_ci(x, y, n_boot=5).rho)  # ρ itself does not depend on the groups
    by_lang = {"de": [2, 3], "sw": [0, 1], "ur": [4, 5]}  # sorted labels: de, sw, ur
    order = sorted(by_lang)
    draws = [[i for k in row for i in by_lang[order[k]]] for row in np.random.default_rng(5).integers(0, 3, (300, 3))]
    reps = _naive_rank_correlations(x, y, draws)
    assert res.n_boot_valid == len(reps)
    assert res.ci95 == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
    # one unit per group is the plain unit bootstrap, draw for draw
    plain = spearman_ci(x, y, n_boot=200, seed=2)
    single = spearman_ci(x, y, n_boot=200, seed=2, groups=list(range(6)))
    assert single.ci95 == plain.ci95 and plain.n_groups is None and single.n_groups == 6
    with pytest.raises(ValueError, match="one label per unit"):
        spearman_ci(x, y, groups=langs[:5])


def test_spearman_undefined_cases_are_nan_not_errors():
    assert np.isnan(spearman_ci([1, 2], [2, 1]).rho)
    assert np.isnan(spearman_ci([1, 1, 1], [1, 2, 3], n_boot=5).rho)
    with pytest.raises(ValueError, match="equal length"):
        spearman_ci([1, 2, 3], [1, 2])


def test_spearman_within_runs_recentres_every_resample_against_a_naive_loop():
    # 2 runs × 3 languages; run "b" is shifted by +1 in both variables (a method better everywhere)
    x = [0.1, 0.5, 0.3, 1.2, 1.4, 1.0]
    y = [0.2, 0.1, 0.4, 1.1, 1.5, 1.3]
    runs = ["a", "a", "a", "b", "b", "b"]
    langs = ["sw", "de", "ur", "sw", "de", "ur"]

    def centred(idx, v):
        out = []
        for i in idx:
            same = [j for j in idx if runs[j] == runs[i]]  # the drawn units of i's run, repeats included
            out.append(v[i] - np.mean([v[j] for j in same]))
        return out

    res = spearman_ci(x, y, n_boot=200, seed=4, groups=langs, centre=runs)
    everything = list(range(6))
    assert res.rho == pytest.approx(spearman_ci(centred(everything, x), centred(everything, y), n_boot=5).rho)
    by_lang = {"de": [1, 4], "sw": [0, 3], "ur": [2, 5]}
    order = sorted(by_lang)
    draws = [[i for k in row for i in by_lang[order[k]]] for row in np.random.default_rng(4).integers(0, 3, (200, 3))]
    reps = []
    for d in draws:  # Pearson correlation of the ranks of the re-centred resample
        rx, ry = rankdata(centred(d, x)), rankdata(centred(d, y))
        if np.ptp(rx) > 0 and np.ptp(ry) > 0:
            reps.append(np.corrcoef(rx, ry)[0, 1])
    assert res.n_boot_valid == len(reps)
    assert res.ci95 == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
    # uncentred, the shift between the runs dominates: ρ is high; centred it is not
    assert spearman_ci(x, y, n_boot=5).rho > 0.7 > res.rho
    with pytest.raises(ValueError, match="centre: expected one label per unit"):
        spearman_ci(x, y, centre=runs[:5])


# --------------------------------------------------------------------------- seed-aware (hierarchical) bootstrap
def test_hierarchical_bootstrap_by_hand_when_only_the_seed_draw_matters():
    # every item of seed 0 differs by 0.5, seed 1 by 0: a replicate's delta is the mean of its two drawn seeds'
    # differences, so delta* = 0.5 (seeds {0,0}, prob 1/4), 0.25 ({0,1} either order, 1/2), 0 ({1,1}, 1/4)
    a = np.array([[1.0, 0.5, 0.5], [0.2, 0.2, 0.2]])
    b = np.array([[0.5, 0.0, 0.0], [0.2, 0.2, 0.2]])
    res = hierarchical_bootstrap(a, b, n_boot=4000, seed=1)
    assert res.delta == pytest.approx(0.25) and res.seed_deltas == pytest.approx((0.5, 0.0))
    assert res.ci95 == (0.0, 0.5)
    assert res.p_value == pytest.approx(2 * 0.25, abs=0.04)  # 2 * P(delta* <= 0)
    assert res.seeds_agree is False  # a seed difference of exactly 0 has no sign
    assert (res.mean_a, res.mean_b, res.n_seeds, res.n_items) == (pytest.approx(13 / 30), pytest.approx(11 / 60), 2, 3)


def test_hierarchical_bootstrap_equals_a_naive_two_stage_loop_on_the_same_rng_stream():
    rng = np.random.default_rng(2)
    a, b = (rng.random((3, 20)) < 0.6).astype(float), (rng.random((3, 20)) < 0.5).astype(float)
    res = hierarchical_bootstrap(a, b, n_boot=250, seed=9)
    draw = np.random.default_rng(9)
    deltas = []
    for _ in range(250):  # per replicate: the seeds, then each drawn seed's items
        seeds = draw.integers(0, 3, 3)
        items = draw.integers(0, 20, (3, 20))
        drawn = [a[s, i] - b[s, i] for k, s in enumerate(seeds) for i in items[k]]
        deltas.append(np.mean(drawn))  # every seed has 20 items: the mean of the seeds' means
    deltas = np.array(deltas)
    assert res.delta == pytest.approx(a.mean() - b.mean())
    assert res.ci95 == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])))
    below, above = (np.sum(deltas <= 0) + 1) / 251, (np.sum(deltas >= 0) + 1) / 251
    assert res.p_value == pytest.approx(min(1.0, 2 * min(below, above)))
    assert res.std_error == pytest.approx(np.std(deltas, ddof=1))
    assert res.seed_deltas == pytest.approx(tuple(a.mean(axis=1) - b.mean(axis=1)))


def test_hierarchical_bootstrap_with_a_statistic_of_the_resampled_rows():
    # rows [xx, en] per item; statistic: ratio of the means (a retained share with chance 0)
    rng = np.random.default_rng(4)
    a, b = rng.random((2, 15, 2)) + 0.1, rng.random((2, 15, 2)) + 0.1
    ratio = lambda x: float(x[..., 0].mean() / x[..., 1].mean())  # noqa: E731
    res = hierarchical_bootstrap(a, b, statistic=ratio, n_boot=120, seed=3)
    draw = np.random.default_rng(3)
    deltas = []
    for _ in range(120):
        seeds, items = draw.integers(0, 2, 2), draw.integers(0, 15, (2, 15))
        ra = np.array([a[s, items[k]] for k, s in enumerate(seeds)])
        rb = np.array([b[s, items[k]] for k, s in enumerate(seeds)])
        deltas.append(ra[..., 0].mean() / ra[..., 1].mean() - rb[..., 0].mean() / rb[..., 1].mean())
    assert res.delta == pytest.approx(ratio(a) - ratio(b))
    assert res.ci95 == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])))
    assert res.seed_deltas == pytest.approx((ratio(a[:1]) - ratio(b[:1]), ratio(a[1:]) - ratio(b[1:])))


def test_hierarchical_bootstrap_rejects_bad_inputs():
    with pytest.raises(ValueError, match="equal shapes"):
        hierarchical_bootstrap(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="equal shapes"):
        hierarchical_bootstrap(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        hierarchical_bootstrap([[np.nan, 1.0]], [[0.0, 1.0]])


def test_per_seed_tests_by_hand():
    # sign flips of [1, 2, 3]: only all + and all − reach |mean| 2 -> 2/8
    assert sign_flip_p([1, 2, 3]) == pytest.approx(0.25)
    # [1, -1, 3]: the 8 signed sums are ±3, ±3, ±5, ±1 -> |sum| >= 3 in 6 of 8
    assert sign_flip_p([1, -1, 3]) == pytest.approx(0.75)
    # t-test of [1, 2, 3] (mean 2, sd 1, t = 2√3, 2 df): p = 1 − t / sqrt(t² + 2)
    t = 2 * np.sqrt(3)
    a = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    res = hierarchical_bootstrap(a, np.zeros_like(a), n_boot=50)
    assert res.t_p_value == pytest.approx(1 - t / np.sqrt(t * t + 2))
    assert res.sign_flip_p == pytest.approx(0.25) and res.seeds_agree is True
    assert np.isnan(hierarchical_bootstrap(a[:1], np.zeros((1, 2)), n_boot=5).t_p_value)


def test_the_claim_rule_and_the_smallest_detectable_effect():
    assert seed_aware_claim(0.01, [0.02, 0.01, 0.03]) == (1, "significant, every seed agrees")
    assert seed_aware_claim(0.01, [-0.02, -0.01, -0.03])[0] == -1
    # the example: Holm p 0.024 but per-seed deltas +0.005, −0.007, −0.022 -> no claim
    assert seed_aware_claim(0.024, [0.005, -0.007, -0.022]) == (0, "seeds disagree in sign")
    assert seed_aware_claim(0.2, [0.02, 0.01, 0.03]) == (0, "not significant")
    assert seed_aware_claim(0.001, [0.02, 0.01]) == (0, "2 seed(s), fewer than 3")
    # (z_0.975 + z_0.8) · SE = (1.959964 + 0.841621) · 0.01
    assert minimum_detectable_effect(0.01) == pytest.approx(0.02801585, abs=1e-7)
    assert minimum_detectable_effect(0.01, power=0.5) == pytest.approx(0.01959964, abs=1e-7)
