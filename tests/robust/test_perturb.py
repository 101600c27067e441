"""Norm balls, PGD and random noise, checked against closed forms and distribution tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from xalign.robust.perturb import (ascent_step, gaussian_noise, lp_norm, pgd, project, sample_noise,
                                   uniform_ball_noise)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _mask():
    # two sentences: 5 and 3 real tokens out of 5
    return torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("scope", ["token", "sequence"])
def test_project_inside_ball_and_identity_inside(norm, scope):
    x = torch.randn(2, 5, 7, generator=_gen(1), dtype=torch.float64) * 3
    eps = 0.5
    p = project(x, eps=eps, norm=norm, scope=scope, mask=_mask())
    assert (lp_norm(p, norm=norm, scope=scope) <= eps + 1e-9).all()
    assert torch.all(p[1, 3:] == 0)  # padding never perturbed
    small = x * 1e-4
    np.testing.assert_allclose(project(small, eps=eps, norm=norm, scope=scope), small, atol=1e-12)


def test_l2_projection_is_radial_scaling():
    x = torch.tensor([[[3.0, 4.0]]], dtype=torch.float64)  # norm 5
    np.testing.assert_allclose(project(x, eps=1.0, norm="l2"), [[[0.6, 0.8]]], atol=1e-12)
    np.testing.assert_allclose(project(x, eps=1.0, norm="linf"), [[[1.0, 1.0]]], atol=1e-12)


def test_ascent_step_directions():
    g = torch.tensor([[[3.0, -4.0]]], dtype=torch.float64)
    d0 = torch.zeros_like(g)
    np.testing.assert_allclose(ascent_step(d0, g, alpha=0.5, norm="l2"), [[[0.3, -0.4]]], atol=1e-12)
    np.testing.assert_allclose(ascent_step(d0, g, alpha=0.5, norm="linf"), [[[0.5, -0.5]]], atol=1e-12)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_reaches_closed_form_optimum_of_linear_loss(norm):
    """max_δ <w, δ> over the ball: ε·w/‖w‖ per token (ℓ2) or ε·sign(w) (ℓ∞)."""
    w = torch.randn(2, 5, 6, generator=_gen(2), dtype=torch.float64)
    mask = _mask()
    eps = 0.3
    res = pgd(lambda d, k: (w * d).sum(), torch.zeros_like(w), eps=eps, alpha=eps, steps=3, norm=norm, mask=mask)
    m = mask.unsqueeze(-1).double()
    expected = eps * w / w.norm(dim=-1, keepdim=True) if norm == "l2" else eps * w.sign()
    np.testing.assert_allclose(res.delta, expected * m, atol=1e-9)
    assert res.first_loss is None


def test_pgd_sequence_scope_l2_optimum():
    w = torch.randn(2, 5, 4, generator=_gen(3), dtype=torch.float64)
    mask = _mask()
    m = mask.unsqueeze(-1).double()
    res = pgd(lambda d, k: (w * d).sum(), torch.zeros_like(w), eps=1.0, alpha=1.0, steps=2, norm="l2",
              scope="sequence", mask=mask)
    wm = w * m
    expected = wm / wm.flatten(1).norm(dim=1).view(2, 1, 1)
    np.testing.assert_allclose(res.delta, expected, atol=1e-9)


def test_pgd_keep_first_returns_clean_loss_with_graph():
    w = torch.randn(1, 3, 4, generator=_gen(4), dtype=torch.float64, requires_grad=True)
    res = pgd(lambda d, k: ((w + d) ** 2).sum(), torch.zeros(1, 3, 4, dtype=torch.float64), eps=0.1, alpha=0.1,
              steps=2, keep_first=True)
    assert res.first_loss is not None
    np.testing.assert_allclose(res.first_loss.item(), (w.detach() ** 2).sum().item())
    res.first_loss.backward()  # the graph was kept
    np.testing.assert_allclose(w.grad, 2 * w.detach())


def test_pgd_random_start_needs_generator_and_stays_in_ball():
    like = torch.zeros(2, 5, 8)
    with pytest.raises(ValueError, match="Generator"):
        pgd(lambda d, k: d.sum(), like, eps=0.1, alpha=0.1, steps=1, random_start=True)
    res = pgd(lambda d, k: -(d ** 2).sum(), like, eps=0.1, alpha=0.05, steps=0, random_start=True,
              generator=_gen(5), mask=_mask())
    norms = lp_norm(res.delta, norm="l2")
    assert (norms <= 0.1 + 1e-6).all() and (norms[0] > 0).all()
    assert torch.all(res.delta[1, 3:] == 0)


def test_gaussian_noise_has_requested_sigma():
    like = torch.zeros(64, 50, 32)
    sigma = 0.05
    noise = gaussian_noise(like, sigma=sigma, generator=_gen(6))
    x = noise.flatten().double().numpy()
    assert abs(x.std() - sigma) < 0.01 * sigma * 5 and abs(x.mean()) < 5 * sigma / np.sqrt(x.size)
    assert stats.kstest(x[:20000] / sigma, "norm").pvalue > 1e-3
    masked = gaussian_noise(torch.zeros(2, 5, 4), sigma=1.0, generator=_gen(6), mask=_mask())
    assert torch.all(masked[1, 3:] == 0) and torch.all(masked[0] != 0)


def test_noise_is_reproducible_per_generator_seed():
    like = torch.zeros(3, 4, 5)
    a = sample_noise(like, kind="gaussian", sigma=1.0, generator=_gen(7))
    b = sample_noise(like, kind="gaussian", sigma=1.0, generator=_gen(7))
    c = sample_noise(like, kind="gaussian", sigma=1.0, generator=_gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="noise kind"):
        sample_noise(like, kind="laplace", generator=_gen(0))


def test_uniform_l2_ball_radius_and_direction_distribution():
    """Uniform in a d-ball: P(‖x‖ ≤ r) = (r/ε)^d, and the direction is uniform (zero mean)."""
    d, eps = 3, 0.7
    noise = uniform_ball_noise(torch.zeros(4000, 1, d, dtype=torch.float64), eps=eps, norm="l2", generator=_gen(9))
    r = noise.norm(dim=-1).flatten().numpy()
    assert r.max() <= eps + 1e-12
    assert stats.kstest(r, lambda t: np.clip(t / eps, 0, 1) ** d).pvalue > 1e-3
    unit = (noise / noise.norm(dim=-1, keepdim=True)).reshape(-1, d).numpy()
    assert np.all(np.abs(unit.mean(0)) < 0.06)


def test_uniform_l2_sequence_ball_counts_only_real_tokens():
    d, eps = 2, 1.0
    mask = torch.tensor([[1, 0]]).repeat(3000, 1)  # one real token of two: the ball is 2-dimensional
    noise = uniform_ball_noise(torch.zeros(3000, 2, d, dtype=torch.float64), eps=eps, norm="l2", scope="sequence",
                               generator=_gen(10), mask=mask)
    assert torch.all(noise[:, 1] == 0)
    r = noise.flatten(1).norm(dim=1).numpy()
    assert stats.kstest(r, lambda t: np.clip(t / eps, 0, 1) ** d).pvalue > 1e-3


def test_uniform_linf_ball_is_uniform_per_coordinate():
    noise = uniform_ball_noise(torch.zeros(100, 10, 10), eps=0.2, norm="linf", generator=_gen(11))
    x = noise.flatten().double().numpy()
    assert np.abs(x).max() <= 0.2
    assert stats.kstest(x, "uniform", args=(-0.2, 0.4)).pvalue > 1e-3


def test_bad_norm_and_scope_are_rejected():
    with pytest.raises(ValueError, match="norm must be one of"):
        project(torch.zeros(1, 1, 1), eps=1.0, norm="l1")
    with pytest.raises(ValueError, match="scope must be one of"):
        project(torch.zeros(1, 1, 1), eps=1.0, scope="word")
    with pytest.raises(ValueError, match="steps >= 0"):
        pgd(lambda d, k: d.sum(), torch.zeros(1, 1, 1), eps=1.0, alpha=1.0, steps=-1)


def test_pgd_records_the_loss_of_every_iterate():
    """losses[k] = loss at δ_k: for <w, δ> from δ = 0 with ℓ2 steps of α, δ_k = k·α·w/‖w‖ (inside the
    ball), so the losses are 0, α‖w‖, 2α‖w‖."""
    w = torch.randn(1, 1, 5, generator=_gen(12), dtype=torch.float64)
    res = pgd(lambda d, k: (w * d).sum(), torch.zeros_like(w), eps=10.0, alpha=0.1, steps=3, norm="l2")
    norm = w.norm().item()
    np.testing.assert_allclose([x.item() for x in res.losses], [0.0, 0.1 * norm, 0.2 * norm], atol=1e-12)
    assert all(not x.requires_grad for x in res.losses)
