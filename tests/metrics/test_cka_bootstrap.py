"""The weighted-Gram bootstrap of linear CKA equals CKA of explicitly resampled rows."""

from __future__ import annotations

import numpy as np

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
