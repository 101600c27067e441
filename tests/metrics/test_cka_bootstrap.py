"""The weighted-Gram bootstrap of linear CKA equals CKA of explicitly resampled rows."""

from __future__ import annotations

import numpy as np
import pytest

from xalign.metrics.cka_bootstrap import bootstrap_indices, bootstrap_linear_cka, linear_cka_bootstrap


def naive_linear_cka(x, y):
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_replicates_equal_explicit_resampling():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 7))
    y = x @ rng.normal(size=(7, 5)) + 0.5 * rng.normal(size=(60, 5))
    reps = linear_cka_bootstrap(x, y, n_boot=25, seed=11, batch=7)
    idx = bootstrap_indices(60, 25, 11)
    ref = np.array([naive_linear_cka(x[i], y[i]) for i in idx])
    np.testing.assert_allclose(reps, ref, rtol=1e-9, atol=1e-12)


def test_same_seed_gives_paired_draws_and_interval_contains_estimate():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 6))
    y = x + rng.normal(size=(200, 6))
    a = linear_cka_bootstrap(x, y, n_boot=50, seed=1)
    b = linear_cka_bootstrap(x, y, n_boot=50, seed=1)
    np.testing.assert_array_equal(a, b)
    lo, hi = bootstrap_linear_cka(x, y, n_boot=200, seed=0)
    assert lo < naive_linear_cka(x, y) < hi


def test_feature_form_fallback_matches_gram_form():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(80, 5))
    y = x[:, :3] + rng.normal(size=(80, 3))
    gram = linear_cka_bootstrap(x, y, n_boot=10, seed=2)
    feat = linear_cka_bootstrap(x, y, n_boot=10, seed=2, max_gram=10)
    np.testing.assert_allclose(gram, feat, rtol=1e-9)


def test_basic_interval_covers_estimate_at_small_n():
    # small n, many dims: resampled duplicates push replicates above the estimate
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 30))
    y = 0.3 * x + rng.normal(size=(40, 30))
    theta = naive_linear_cka(x, y)
    reps = linear_cka_bootstrap(x, y, n_boot=300, seed=0)
    assert np.mean(reps > theta) > 0.9  # the percentile interval would miss theta
    lo, hi = bootstrap_linear_cka(x, y, n_boot=300, seed=0)
    assert lo < theta < hi


def test_paired_difference_identical_and_shifted():
    from xalign.metrics.cka_bootstrap import paired_cka_difference

    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 8))
    y = x + rng.normal(size=(100, 8))
    delta, ci, p = paired_cka_difference(x, y, x, y, n_boot=100, seed=0)
    assert delta == 0.0 and ci == (0.0, 0.0) and p == 1.0
    z = rng.normal(size=(100, 8))
    delta, (lo, hi), p = paired_cka_difference(x, y, x, z, n_boot=200, seed=0)
    assert delta == pytest.approx(naive_linear_cka(x, y) - naive_linear_cka(x, z))
    assert lo < delta < hi and lo > 0 and p < 0.05
