"""CKA against Kornblith's published demo values, a plain numpy HSIC reference and invariances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xalign.metrics.cka import MinibatchCKA, cka_grid, cross_lingual_cka, linear_cka, rbf_cka


@pytest.fixture(scope="module")
def kornblith():
    np.random.seed(1337)  # the demo's own global seeding, reproduced exactly
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    return x, y


def test_kornblith_demo_values(kornblith):
    x, y = kornblith
    assert round(linear_cka(x, y, device="cpu"), 5) == 0.55761
    assert round(rbf_cka(x, y, sigma_scale=0.5, device="cpu"), 5) == 0.65483
    assert round(linear_cka(x, y, debiased=True, device="cpu"), 5) == 0.51346


# ---- an independent reference: Gram matrices, the centring matrix H, and HSIC by definition ----

def _gram_linear(x):
    return x @ np.ascontiguousarray(x.T)


def _gram_rbf(x, t, with_diagonal=True):
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    vals = d2.ravel() if with_diagonal else d2[np.triu_indices(len(x), 1)]
    return np.exp(-d2 / (2 * t**2 * np.median(vals)))


def _hsic_biased(k, m):
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ m @ h) / (n - 1) ** 2


def _hsic_unbiased_ustat(k, m):
    """Song et al. (2012) as a U-statistic: sums over distinct index tuples (O(n^4), tiny n only)."""
    n = len(k)
    t1 = sum(k[i, j] * m[i, j] for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    t2 = sum(k[i, j] * m[q, r] for i, j, q, r in itertools.permutations(range(n), 4))
    t2 /= n * (n - 1) * (n - 2) * (n - 3)
    t3 = sum(k[i, j] * m[i, q] for i, j, q in itertools.permutations(range(n), 3)) / (n * (n - 1) * (n - 2))
    return t1 + t2 - 2 * t3


def _cka_ref(k, m, hsic):
    return hsic(k, m) / np.sqrt(hsic(k, k) * hsic(m, m))


def test_linear_matches_gram_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)) + 3.0  # uncentred on purpose
    y = x @ rng.standard_normal((6, 9)) + rng.standard_normal((40, 9))
    ref = _cka_ref(_gram_linear(x), _gram_linear(y), _hsic_biased)
    assert linear_cka(x, y, device="cpu") == pytest.approx(ref, rel=1e-10)


def test_debiased_linear_and_rbf_match_u_statistic():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 4)) + 1.0
    y = x[:, :3] + 0.7 * rng.standard_normal((9, 3))
    ref = _cka_ref(_gram_linear(x), _gram_linear(y), _hsic_unbiased_ustat)
    assert linear_cka(x, y, debiased=True, device="cpu") == pytest.approx(ref, rel=1e-9)
    ref_rbf = _cka_ref(_gram_rbf(x, 0.8), _gram_rbf(y, 0.8), _hsic_unbiased_ustat)
    assert rbf_cka(x, y, sigma_scale=0.8, debiased=True, device="cpu") == pytest.approx(ref_rbf, rel=1e-9)


@pytest.mark.parametrize("with_diagonal", [True, False])
def test_rbf_matches_gram_reference(with_diagonal):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 7))
    y[:, :5] += x
    ref = _cka_ref(_gram_rbf(x, 1.0, with_diagonal), _gram_rbf(y, 1.0, with_diagonal), _hsic_biased)
    got = rbf_cka(x, y, median_includes_diagonal=with_diagonal, device="cpu")
    assert got == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_invariances_and_symmetry(debiased):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 8))
    y = np.tanh(x @ rng.standard_normal((8, 5))) + 0.3 * rng.standard_normal((60, 5))
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    base = linear_cka(x, y, debiased=debiased, device="cpu")
    assert linear_cka(x, x @ q, debiased=debiased, device="cpu") == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x @ q, 7.5 * y, debiased=debiased, device="cpu") == pytest.approx(base, rel=1e-10)
    assert linear_cka(y, x, debiased=debiased, device="cpu") == pytest.approx(base, rel=1e-12)
    assert rbf_cka(x @ q, y, debiased=debiased, device="cpu") == pytest.approx(
        rbf_cka(3.0 * x, y, debiased=debiased, device="cpu"), rel=1e-9)  # RBF with a median bandwidth


def test_biased_is_inflated_for_independent_inputs_at_small_n():
    rng = np.random.default_rng(4)
    biased, debiased = [], []
    for _ in range(30):
        x, y = rng.standard_normal((32, 64)), rng.standard_normal((32, 64))
        biased.append(linear_cka(x, y, device="cpu"))
        debiased.append(linear_cka(x, y, debiased=True, device="cpu"))
    assert np.mean(biased) > 0.5  # d >> n: biased CKA of independent data is far from 0
    assert abs(np.mean(debiased)) < 0.03
    assert np.mean(biased) > 10 * abs(np.mean(debiased))


def test_minibatch_single_batch_equals_full_and_many_batches_equal_reference():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((120, 6))
    y = x @ rng.standard_normal((6, 4)) + rng.standard_normal((120, 4))
    one = MinibatchCKA(device="cpu")
    one.update(x, y)
    assert one.compute() == pytest.approx(linear_cka(x, y, debiased=True, device="cpu"), rel=1e-12)

    batches = [slice(0, 40), slice(40, 90), slice(90, 120)]
    mb = MinibatchCKA(device="cpu")
    for s in batches:
        mb.update(x[s], y[s])
    hsic = lambda a, b: _hsic_unbiased_song(_gram_linear(a), _gram_linear(b))  # noqa: E731
    xy = sum(hsic(x[s], y[s]) for s in batches)
    xx = sum(hsic(x[s], x[s]) for s in batches)
    yy = sum(hsic(y[s], y[s]) for s in batches)
    assert mb.compute() == pytest.approx(xy / np.sqrt(xx * yy), rel=1e-10)
    assert mb.n_batches == 3 and mb.n_examples == 120
    assert abs(mb.compute() - linear_cka(x, y, debiased=True, device="cpu")) < 0.05  # same quantity, estimated
    biased = MinibatchCKA(debiased=False, device="cpu")
    biased.update(x, y)
    assert biased.compute() == pytest.approx(linear_cka(x, y, device="cpu"), rel=1e-12)


def _hsic_unbiased_song(k, m):
    """Song et al.'s closed form (the U-statistic above, checked there) for larger n."""
    n = len(k)
    kt, lt = k.copy(), m.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    return (np.sum(kt * lt) + kt.sum() * lt.sum() / ((n - 1) * (n - 2))
            - 2 / (n - 2) * kt.sum(0) @ lt.sum(0)) / (n * (n - 3))


def test_minibatch_grid_and_errors():
    rng = np.random.default_rng(6)
    xs, ys = rng.standard_normal((3, 50, 5)), rng.standard_normal((2, 50, 4))
    mb = MinibatchCKA(device="cpu")
    mb.update(xs, ys)
    expected = np.array([[linear_cka(a, b, debiased=True, device="cpu") for b in ys] for a in xs])
    np.testing.assert_allclose(mb.compute(), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="same layout"):
        mb.update(xs[0], ys[0])
    with pytest.raises(ValueError, match="before any update"):
        MinibatchCKA().compute()
    mb.reset()
    assert mb.n_batches == 0


def test_grid_equals_pairwise_and_uses_symmetry():
    rng = np.random.default_rng(7)
    layers = rng.standard_normal((4, 70, 6)).cumsum(axis=0)  # correlated "layers"
    grid = cka_grid(layers, device="cpu")
    expected = np.array([[linear_cka(a, b, device="cpu") for b in layers] for a in layers])
    np.testing.assert_allclose(grid, expected, rtol=1e-10)
    np.testing.assert_allclose(np.diag(grid), 1.0)
    other = [rng.standard_normal((70, 3)), rng.standard_normal((70, 8))]  # dims may differ by layer
    cross = cka_grid(layers, other, debiased=True, device="cpu")
    expected = np.array([[linear_cka(a, b, debiased=True, device="cpu") for b in other] for a in layers])
    np.testing.assert_allclose(cross, expected, rtol=1e-10)
    per_layer = cross_lingual_cka(layers, layers[::-1] + 0.1, device="cpu")
    np.testing.assert_allclose(per_layer, [linear_cka(a, b, device="cpu") for a, b in zip(layers, layers[::-1] + 0.1)])


def test_degenerate_inputs_raise_instead_of_nan():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((20, 4))
    with pytest.raises(ValueError, match="no variance"):
        linear_cka(np.ones((20, 4)), x)
    with pytest.raises(ValueError, match="no variance"):
        linear_cka(x, np.tile(x[:1], (20, 1)), debiased=True)
    with pytest.raises(ValueError, match="at least 4"):
        linear_cka(x[:3], x[:3], debiased=True)
    with pytest.raises(ValueError, match="same examples"):
        linear_cka(x, x[:10])
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(np.full((20, 4), np.nan), x)
    with pytest.raises(ValueError, match="median"):
        rbf_cka(np.ones((20, 4)), x)
    with pytest.raises(ValueError, match="xs\\[1\\]"):
        cka_grid([x, np.zeros((20, 4))])


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu(kornblith):
    x, y = kornblith
    layers = np.stack([x, y, x + y])
    np.testing.assert_allclose(cka_grid(layers, device="cuda"), cka_grid(layers, device="cpu"), rtol=1e-10)
    assert rbf_cka(x, y, sigma_scale=0.5, device="cuda") == pytest.approx(0.65483, abs=5e-6)
