"""Bootstrap CIs against scipy.stats.bootstrap, paired tests on known cases, Wilson by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from xalign.metrics.stats import bootstrap_ci, paired_bootstrap, wilson_interval
from xalign.metrics.wordalign import scores_from_counts


def test_percentile_interval_of_the_mean_equals_scipy():
    rng = np.random.default_rng(0)
    values = rng.exponential(size=57)
    ours = bootstrap_ci(values, n_boot=500, seed=3, alpha=0.1)
    ref = scipy.stats.bootstrap((values,), np.mean, n_resamples=500, method="percentile", confidence_level=0.9,
                                rng=np.random.default_rng(3), vectorized=True)
    assert ours.low == pytest.approx(ref.confidence_interval.low, rel=1e-12)
    assert ours.high == pytest.approx(ref.confidence_interval.high, rel=1e-12)
    assert ours.std_error == pytest.approx(ref.standard_error, rel=1e-12)
    assert ours.estimate == pytest.approx(values.mean())
    low, high = ours  # unpacks as the interval
    assert (low, high) == (ours.low, ours.high)


def test_function_of_indices_equals_array_path_and_handles_corpus_statistics():
    rng = np.random.default_rng(1)
    values = rng.random(40)
    by_fn = bootstrap_ci(lambda idx: values[idx].mean(), n_items=40, n_boot=200, seed=5)
    by_array = bootstrap_ci(values, n_boot=200, seed=5)
    assert (by_fn.low, by_fn.high) == pytest.approx((by_array.low, by_array.high), rel=1e-12)
    counts = np.array([[3, 2, 1, 2], [1, 2, 1, 1], [2, 2, 2, 2], [4, 3, 1, 3]])
    aer = bootstrap_ci(lambda idx: scores_from_counts(counts[idx]).aer, n_items=4, n_boot=300, seed=0)
    assert aer.estimate == pytest.approx(scores_from_counts(counts).aer)
    assert aer.low <= aer.estimate <= aer.high


def test_seeded_and_reproducible():
    values = np.arange(30.0)
    assert bootstrap_ci(values, seed=1) == bootstrap_ci(values, seed=1)
    assert bootstrap_ci(values, seed=1) != bootstrap_ci(values, seed=2)
    with pytest.raises(ValueError, match="seed"):
        bootstrap_ci(values, seed=None)
    with pytest.raises(ValueError, match="n_items"):
        bootstrap_ci(lambda idx: 0.0)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci(np.array([1.0, np.nan]))


def test_paired_identical_inputs_give_zero_delta_and_p_one():
    a = np.random.default_rng(2).random(50)
    res = paired_bootstrap(a, a.copy(), n_boot=300, seed=0)
    assert res.delta == 0.0 and res.p_value == 1.0 and res.ci95 == (0.0, 0.0)


def test_paired_clear_difference_and_pairing_matters():
    rng = np.random.default_rng(3)
    base = rng.normal(size=200) * 5.0  # large item effect shared by both systems
    a, b = base + 0.5 + 0.1 * rng.normal(size=200), base
    res = paired_bootstrap(a, b, n_boot=500, seed=1)
    assert res.delta == pytest.approx(np.mean(a - b))
    assert res.ci95[0] > 0.4 and res.ci95[1] < 0.6
    assert res.p_value == pytest.approx(2 / 501)  # no bootstrap delta <= 0: the smallest attainable p
    # a statistic over rows (corpus-level AER from per-sentence counts)
    ca = np.array([[3, 2, 2, 3], [2, 2, 2, 2], [4, 3, 3, 4]] * 10)
    cb = np.array([[3, 2, 0, 1], [2, 2, 1, 1], [4, 3, 1, 2]] * 10)
    res = paired_bootstrap(ca, cb, statistic=lambda c: scores_from_counts(c).aer, n_boot=200, seed=0)
    assert res.delta == pytest.approx(scores_from_counts(ca).aer - scores_from_counts(cb).aer)
    assert res.delta < 0 and res.p_value < 0.05
    with pytest.raises(ValueError, match="equal shapes"):
        paired_bootstrap(a, b[:10])


def test_wilson_interval_by_hand():
    # 8 of 10, 95%: z = 1.959964; centre (0.8 + z^2/20) / (1 + z^2/10) = 0.716755;
    # half-width z * sqrt(0.016 + z^2/400) / (1 + z^2/10) = 0.226576 -> (0.4902, 0.9433)
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
