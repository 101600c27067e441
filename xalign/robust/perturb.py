"""Perturbations of input embeddings: ℓ2/ℓ∞ balls, projected gradient ascent (PGD) and random noise.

All functions work on tensors shaped ``[batch, tokens, hidden]`` and take an optional ``mask``
(``[batch, tokens]``, 1 for real tokens, 0 for padding): masked positions are never perturbed and do
not count towards a norm. Norm balls are taken per ``scope``:

* ``"token"`` (default): every token's perturbation lies in its own ball of radius ``eps``
  (‖δ_t‖₂ ≤ ε, or |δ_{t,i}| ≤ ε for ℓ∞) — the radius does not depend on sentence length;
* ``"sequence"``: the whole sentence's perturbation (all real tokens × hidden) lies in one ball.

Randomness only comes from an explicit ``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xalign.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

NORMS = ("l2", "linf")
SCOPES = ("token", "sequence")
NOISES = ("gaussian", "uniform")
_TINY = 1e-12


def _check(norm: str, scope: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"norm must be one of {NORMS}, got {norm!r}")
    if scope not in SCOPES:
        raise ConfigError(f"scope must be one of {SCOPES}, got {scope!r}")


def _mask3(mask: "torch.Tensor | None", like: "torch.Tensor") -> "torch.Tensor | None":
    if mask is None:
        return None
    m = mask if mask.dim() == like.dim() else mask.unsqueeze(-1)
    return m.to(dtype=like.dtype)


def _dims(scope: str) -> tuple[int, ...]:
    return (-1,) if scope == "token" else (-2, -1)


def lp_norm(delta: "torch.Tensor", *, norm: str = "l2", scope: str = "token") -> "torch.Tensor":
    """ℓ2 or ℓ∞ norm over each ball (``keepdim``): ``[B, T, 1]`` for token scope, ``[B, 1, 1]`` for sequence."""
    _check(norm, scope)
    d = delta if delta.dtype.is_floating_point and delta.element_size() >= 4 else delta.float()
    if norm == "l2":
        return d.pow(2).sum(dim=_dims(scope), keepdim=True).sqrt()
    return d.abs().amax(dim=_dims(scope), keepdim=True)


def project(delta: "torch.Tensor", *, eps: float, norm: str = "l2", scope: str = "token",
            mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Project ``delta`` onto the ``eps``-ball (per ``scope``) and zero masked positions."""
    import torch

    _check(norm, scope)
    m = _mask3(mask, delta)
    if m is not None:
        delta = delta * m
    if norm == "linf":
        return delta.clamp(-eps, eps)
    factor = torch.clamp(eps / (lp_norm(delta, norm="l2", scope=scope) + _TINY), max=1.0)
    return delta * factor.to(delta.dtype)


def ascent_step(delta: "torch.Tensor", grad: "torch.Tensor", *, alpha: float, norm: str = "l2",
                scope: str = "token", mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """One steepest-ascent step of length ``alpha``: ``alpha·sign(g)`` (ℓ∞) or ``alpha·g/‖g‖₂`` (ℓ2)."""
    _check(norm, scope)
    m = _mask3(mask, grad)
    if m is not None:
        grad = grad * m
    if norm == "linf":
        step = grad.sign()
    else:
        step = grad / (lp_norm(grad, norm="l2", scope=scope) + _TINY).to(grad.dtype)
    return delta + alpha * step


def gaussian_noise(like: "torch.Tensor", *, sigma: float, generator: "torch.Generator",
                   mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """i.i.d. N(0, sigma²) noise shaped like ``like`` (zero on masked positions)."""
    import torch

    noise = torch.randn(like.shape, generator=generator, device=generator.device, dtype=torch.float32)
    noise = (noise * sigma).to(device=like.device, dtype=like.dtype)
    m = _mask3(mask, like)
    return noise if m is None else noise * m


def uniform_ball_noise(like: "torch.Tensor", *, eps: float, norm: str = "l2", scope: str = "token",
                       generator: "torch.Generator", mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Noise drawn uniformly from the ``eps``-ball of each ``scope`` unit (zero on masked positions).

    ℓ∞: i.i.d. U(-eps, eps) per coordinate. ℓ2: a uniform direction times ``eps·U^(1/d)``, where d is
    the number of perturbed coordinates of the ball (hidden size, or real tokens × hidden).
    """
    import torch

    _check(norm, scope)
    dev = generator.device
    m = _mask3(mask, like)
    if norm == "linf":
        noise = (torch.rand(like.shape, generator=generator, device=dev) * 2 - 1) * eps
    else:
        direction = torch.randn(like.shape, generator=generator, device=dev)
        if m is not None:
            direction = direction * m.to(dev, torch.float32)
        direction = direction / (lp_norm(direction, norm="l2", scope=scope) + _TINY)
        if scope == "token":
            dim = torch.full(direction.shape[:-1] + (1,), float(like.shape[-1]), device=dev)
        else:
            real = (m.to(dev, torch.float32).sum(dim=(-2, -1), keepdim=True) if m is not None
                    else torch.full(direction.shape[:-2] + (1, 1), float(like.shape[-2]), device=dev))
            per_token = like.shape[-1] if m is None or m.shape[-1] == 1 else 1
            dim = (real * per_token).clamp(min=1)
        u = torch.rand(dim.shape, generator=generator, device=dev)
        noise = direction * eps * u.pow(1.0 / dim)
    noise = noise.to(device=like.device, dtype=like.dtype)
    return noise if m is None else noise * m


def sample_noise(like: "torch.Tensor", *, kind: str, generator: "torch.Generator", sigma: float = 0.0,
                 eps: float = 0.0, norm: str = "l2", scope: str = "token",
                 mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Randomized-smoothing noise: ``kind="gaussian"`` (σ) or ``"uniform"`` (ε-ball, ``norm``/``scope``)."""
    if kind == "gaussian":
        return gaussian_noise(like, sigma=sigma, generator=generator, mask=mask)
    if kind == "uniform":
        return uniform_ball_noise(like, eps=eps, norm=norm, scope=scope, generator=generator, mask=mask)
    raise ConfigError(f"noise kind must be one of {NOISES}, got {kind!r}")


@dataclass
class PGDResult:
    """``delta``: the final perturbation (detached, inside the ball). ``first_loss``: the loss at the
    first iterate with its autograd graph kept (only when asked and the first iterate is δ = 0, so it
    is the clean loss and can be reused for the training objective). ``losses``: the (detached) loss at
    each iterate δ_0 … δ_{K-1} — ``losses[0]`` is the clean loss when PGD starts at δ = 0."""

    delta: "torch.Tensor"
    first_loss: "torch.Tensor | None" = None
    losses: "list[torch.Tensor]" = field(default_factory=list)


def pgd(loss_fn: Callable[["torch.Tensor", int], "torch.Tensor"], like: "torch.Tensor", *, eps: float,
        alpha: float, steps: int, norm: str = "l2", scope: str = "token", mask: "torch.Tensor | None" = None,
        random_start: bool = False, generator: "torch.Generator | None" = None, grad_scale: float = 1.0,
        keep_first: bool = False, init: "torch.Tensor | None" = None) -> PGDResult:
    """Projected gradient ascent on ``loss_fn(delta, step)`` over δ in the ``eps``-ball.

    ``steps`` iterations of: gradient of the loss w.r.t. δ only (``torch.autograd.grad``, model
    parameters get no gradient), :func:`ascent_step`, :func:`project`. δ starts at ``init`` if given,
    else at 0, or uniformly in the ball with ``random_start`` (needs ``generator``). ``grad_scale`` multiplies the loss before
    differentiation (use the fp16 loss scale to avoid underflow; the step direction is scale-free);
    non-finite gradient entries are zeroed. With ``keep_first`` (and no random start) the loss of the
    first iterate keeps its graph and is returned as ``first_loss``.
    """
    import torch

    _check(norm, scope)
    if steps < 0 or eps < 0 or alpha < 0:
        raise ConfigError(f"PGD needs steps >= 0, eps >= 0, alpha >= 0; got steps={steps}, eps={eps}, "
                          f"alpha={alpha}")
    if init is not None:
        delta = project(init.detach(), eps=eps, norm=norm, scope=scope, mask=mask)
        random_start = True  # the first iterate is not δ = 0: nothing to keep
    elif random_start:
        if generator is None:
            raise ConfigError("PGD with random_start=True needs a torch.Generator, got generator=None")
        delta = uniform_ball_noise(like, eps=eps, norm=norm, scope=scope, generator=generator, mask=mask)
    else:
        delta = torch.zeros_like(like)
    first_loss, losses = None, []
    for k in range(steps):
        delta = delta.detach().requires_grad_(True)
        loss = loss_fn(delta, k)
        losses.append(loss.detach())
        retain = keep_first and k == 0 and not random_start
        (grad,) = torch.autograd.grad(loss * grad_scale, delta, retain_graph=retain)
        if retain:
            first_loss = loss
        grad = torch.nan_to_num(grad.detach(), nan=0.0, posinf=0.0, neginf=0.0)
        delta = ascent_step(delta.detach(), grad, alpha=alpha, norm=norm, scope=scope, mask=mask)
        delta = project(delta, eps=eps, norm=norm, scope=scope, mask=mask)
    return PGDResult(delta.detach(), first_loss, losses)
