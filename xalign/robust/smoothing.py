"""Smoothed inference: the class most often predicted over N noisy copies of the input embeddings.

``g(x) = argmax_c #{i ≤ N : f(x + η_i) = c}`` with η_i drawn by :func:`xalign.robust.perturb.sample_noise`
(Gaussian σ, or uniform in an ε-ball) from an explicit ``torch.Generator``. Ties go to the lowest class
index (``torch.argmax`` semantics), so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xalign.errors import ConfigError
from xalign.robust.perturb import sample_noise

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class NoiseSpec:
    """Randomized-smoothing noise: ``kind`` ``"gaussian"`` (``sigma``) or ``"uniform"`` (``eps``-ball)."""

    kind: str = "gaussian"
    sigma: float = 0.01
    eps: float = 0.0
    norm: str = "l2"
    scope: str = "token"

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "uniform"):
            raise ConfigError(f"noise kind must be 'gaussian' or 'uniform', got {self.kind!r}")
        value = self.sigma if self.kind == "gaussian" else self.eps
        if not value > 0:
            raise ConfigError(f"{self.kind} noise needs a positive {'sigma' if self.kind == 'gaussian' else 'eps'}, "
                             f"got {value!r}")

    def sample(self, like: "torch.Tensor", generator: "torch.Generator",
               mask: "torch.Tensor | None" = None) -> "torch.Tensor":
        return sample_noise(like, kind=self.kind, sigma=self.sigma, eps=self.eps, norm=self.norm, scope=self.scope,
                            generator=generator, mask=mask)


def vote_counts(logits_fn: Callable[["torch.Tensor"], "torch.Tensor"], embeds: "torch.Tensor", *, n: int,
                noise: NoiseSpec, generator: "torch.Generator", num_classes: int,
                mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Votes ``[batch, num_classes]``: how often each class wins over ``n`` noisy copies.

    ``logits_fn(inputs_embeds) -> [batch, num_classes]`` is called ``n`` times under ``no_grad``.
    """
    import torch

    if n < 1:
        raise ConfigError(f"n (noisy copies) must be >= 1, got {n}")
    counts = torch.zeros(embeds.shape[0], num_classes, dtype=torch.long, device=embeds.device)
    with torch.no_grad():
        for _ in range(n):
            logits = logits_fn(embeds + noise.sample(embeds, generator, mask))
            counts += torch.nn.functional.one_hot(logits.argmax(-1), num_classes).to(counts.dtype)
    return counts


def majority_vote(counts: "torch.Tensor") -> "torch.Tensor":
    """The most-voted class per row; ties go to the lowest class index."""
    return counts.argmax(dim=-1)
