"""Smoothed inference: vote counting and majority vote."""

from __future__ import annotations

import pytest
import torch

from xalign.robust.smoothing import NoiseSpec, majority_vote, vote_counts


def test_majority_vote_ties_go_to_lowest_class():
    counts = torch.tensor([[2, 2, 1], [0, 1, 4], [3, 0, 3]])
    assert majority_vote(counts).tolist() == [0, 2, 0]


def test_vote_counts_against_a_hand_made_classifier():
    """Class = sign of the first coordinate's sum; with noise far from the boundary all votes agree, and
    near the boundary the votes follow P(x + η > 0) for Gaussian η."""
    embeds = torch.tensor([[[5.0, 0.0]], [[-5.0, 0.0]], [[0.0, 0.0]]])

    def logits_fn(e):
        s = e[:, :, 0].sum(1)
        return torch.stack([-s, s], dim=1)

    gen = torch.Generator().manual_seed(0)
    counts = vote_counts(logits_fn, embeds, n=400, noise=NoiseSpec(kind="gaussian", sigma=0.5), generator=gen,
                         num_classes=2)
    assert counts.sum(1).tolist() == [400, 400, 400]
    assert counts[0].tolist() == [0, 400] and counts[1].tolist() == [400, 0]
    assert 150 < counts[2, 1] < 250  # a fair coin at the boundary (binomial 400, 1/2: ±5 sd)
    assert majority_vote(counts)[:2].tolist() == [1, 0]


def test_vote_counts_reproducible_with_generator():
    embeds = torch.zeros(4, 3, 2)

    def logits_fn(e):
        return e.sum(1)

    noise = NoiseSpec(kind="uniform", eps=1.0, norm="linf")
    a = vote_counts(logits_fn, embeds, n=9, noise=noise, generator=torch.Generator().manual_seed(3), num_classes=2)
    b = vote_counts(logits_fn, embeds, n=9, noise=noise, generator=torch.Generator().manual_seed(3), num_classes=2)
    assert torch.equal(a, b)


def test_noise_spec_validation():
    with pytest.raises(ValueError, match="noise kind"):
        NoiseSpec(kind="salt")
    with pytest.raises(ValueError, match="positive sigma"):
        NoiseSpec(kind="gaussian", sigma=0.0)
    with pytest.raises(ValueError, match="positive eps"):
        NoiseSpec(kind="uniform", eps=-1.0)
    with pytest.raises(ValueError, match="n \\(noisy copies\\)"):
        vote_counts(lambda e: e, torch.zeros(1, 1, 1), n=0, noise=NoiseSpec(), generator=torch.Generator(),
                    num_classes=1)
