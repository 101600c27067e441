"""The adversarial objectives (mixed, adv-only, FreeLB): measured perturbation norms, and parameter
gradients against hand computations on the 2-layer tiny classifier."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xalign.errors import ConfigError
from xalign.robust.config import RobustConfig

from .test_trainer import _batch, _ce, _trainer

OBJECTIVES = ["mixed", "adv-only", "freelb"]


class _Capture:
    """Records every ``inputs_embeds`` the classifier is called with (each PGD / FreeLB iterate)."""

    def __init__(self, model):
        self.seen: list[torch.Tensor] = []
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        if kwargs.get("inputs_embeds") is not None:
            self.seen.append(kwargs["inputs_embeds"].detach().clone())

    def deltas(self, model, batch):
        with torch.no_grad():
            clean = model.get_input_embeddings()(batch["input_ids"])
        return [e - clean for e in self.seen]


def _measured(delta, mask, norm, scope):
    """Norm of each ball, computed here from scratch: [B, T] per token, [B] per sentence (real tokens)."""
    m = mask.bool()
    if scope == "token":
        values = delta.abs().amax(-1) if norm == "linf" else delta.pow(2).sum(-1).sqrt()
        return values[m]
    out = []
    for b in range(delta.shape[0]):
        real = delta[b][m[b]]
        out.append(real.abs().max() if norm == "linf" else real.pow(2).sum().sqrt())
    return torch.stack(out)


def _params(model):
    return [p for p in model.parameters() if p.requires_grad]


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("scope", ["token", "sequence"])
def test_every_iterate_lies_in_the_ball(tiny_classifier, tmp_path, objective, norm, scope):
    """Step size 3ε: every ascent step leaves the ball, so the projection decides; the measured norm of
    each iterate is ≤ ε, padding is never perturbed, and the last iterate sits on the sphere."""
    model, tok = tiny_classifier
    eps = 0.05
    robust = RobustConfig(method="adv", adv_objective=objective, adv_steps=2, adv_eps=eps, adv_alpha=3 * eps,
                          adv_norm=norm, adv_scope=scope)
    trainer, ds = _trainer(model, tok, tmp_path, robust)
    batch = _batch(trainer, ds, 6)
    mask = batch["attention_mask"]
    assert (mask == 0).any()  # the batch has padding
    model.train()
    cap = _Capture(model)
    trainer.compute_loss(model, batch).backward()
    cap.handle.remove()
    deltas = cap.deltas(model, batch)
    # forwards: mixed = clean, PGD step 2, final; adv-only = PGD steps 1-2, final; freelb = its 2 steps
    assert len(deltas) == {"mixed": 3, "adv-only": 3, "freelb": 2}[objective]
    for delta in deltas:
        assert torch.all(delta[mask == 0] == 0)
        assert float(_measured(delta, mask, norm, scope).max()) <= eps * (1 + 1e-4)
    last = _measured(deltas[-1], mask, norm, scope)
    np.testing.assert_allclose(last.numpy(), eps, rtol=1e-3)  # projected back onto the sphere
    if objective == "freelb":  # δ_0: a random point strictly inside the ball (not 0, not on the sphere)
        first = _measured(deltas[0], mask, norm, scope)
        assert float(first.min()) > 0 and (norm == "linf" or float(first.max()) < eps)


def test_adv_only_gradient_is_that_of_the_adversarial_loss_alone(tiny_classifier, tmp_path):
    """Madry et al.: one ℓ∞ step from δ = 0 gives δ = ε·sign(∇_e CE); the parameter gradient is
    ∇_θ CE(e + δ) alone — no clean term (the mixed objective adds ∇_θ CE(e), which is not small)."""
    model, tok = tiny_classifier
    eps = 0.05
    trainer, ds = _trainer(model, tok, tmp_path, RobustConfig(method="adv", adv_objective="adv-only", adv_steps=1,
                                                              adv_eps=eps, adv_alpha=eps, adv_norm="linf"))
    batch = _batch(trainer, ds)
    model.train()
    embeds = model.get_input_embeddings()(batch["input_ids"])
    leaf = embeds.detach().requires_grad_(True)
    clean = _ce(model, batch, inputs_embeds=leaf)
    (grad,) = torch.autograd.grad(clean, leaf)
    delta = eps * grad.sign() * batch["attention_mask"].unsqueeze(-1)
    adv = _ce(model, batch, inputs_embeds=embeds + delta)
    g_adv = torch.autograd.grad(adv, _params(model), retain_graph=True)
    g_clean = torch.autograd.grad(_ce(model, batch, inputs_embeds=embeds), _params(model))

    loss = trainer.compute_loss(model, batch)
    assert all(p.grad is None for p in model.parameters())  # no clean backward happened
    np.testing.assert_allclose(loss.item(), adv.item(), rtol=1e-5)
    parts = trainer._parts[-1]
    np.testing.assert_allclose([parts["clean_loss"].item(), parts["adv_loss"].item()], [clean.item(), adv.item()],
                               rtol=1e-5)
    loss.backward()
    for p, ga in zip(_params(model), g_adv):
        torch.testing.assert_close(p.grad, ga, rtol=1e-4, atol=1e-6)
    assert max((gc.abs().max().item() for gc in g_clean)) > 1e-3  # a clean term would have been visible


def _hand_freelb(model, batch, delta0, *, steps, eps, alpha):
    """FreeLB by hand, ℓ2 over each sentence's real tokens: g = (1/K) Σ_k ∇_θ CE(e + δ_k),
    δ_{k+1} = Π_ε(δ_k + α·∇_δ/‖∇_δ‖)."""
    m = batch["attention_mask"].unsqueeze(-1).double()
    params = _params(model)
    total = [torch.zeros_like(p) for p in params]
    delta, deltas = delta0.clone(), []
    for _ in range(steps):
        deltas.append(delta.clone())
        leaf = delta.clone().requires_grad_(True)
        loss = _ce(model, batch, inputs_embeds=model.get_input_embeddings()(batch["input_ids"]) + leaf)
        grads = torch.autograd.grad(loss, params + [leaf])
        for t, g in zip(total, grads[:-1]):
            t += g / steps
        g = grads[-1].double() * m
        step = delta.double() + alpha * g / g.flatten(1).norm(dim=1).view(-1, 1, 1)
        norms = (step * m).flatten(1).norm(dim=1).view(-1, 1, 1)
        delta = (step * m * torch.clamp(eps / norms, max=1.0)).float()
    return total, deltas


@pytest.mark.parametrize("path", ["fused", "retained"])
def test_freelb_gradient_is_the_average_of_the_k_step_gradients(tiny_classifier, tmp_path, path):
    model, tok = tiny_classifier
    steps, eps, alpha = 3, 0.5, 0.2
    trainer, ds = _trainer(model, tok, tmp_path, RobustConfig(method="adv", adv_objective="freelb", adv_steps=steps,
                                                              adv_eps=eps, adv_alpha=alpha, adv_scope="sequence"))
    trainer.is_fsdp_enabled = path == "retained"  # the DeepSpeed/FSDP code path (one backward per step)
    batch = _batch(trainer, ds)
    model.train()
    cap = _Capture(model)
    loss = trainer.compute_loss(model, batch)
    loss.backward()
    cap.handle.remove()
    got = [p.grad.clone() for p in _params(model)]
    model.zero_grad(set_to_none=True)
    seen = cap.deltas(model, batch)
    assert len(seen) == steps

    expected, deltas = _hand_freelb(model, batch, seen[0], steps=steps, eps=eps, alpha=alpha)
    for mine, theirs in zip(deltas, seen):  # the same ascent path
        torch.testing.assert_close(theirs, mine, rtol=1e-4, atol=1e-6)
    losses = [_ce(model, batch, inputs_embeds=model.get_input_embeddings()(batch["input_ids"]) + d).item()
              for d in deltas]
    np.testing.assert_allclose(loss.item(), np.mean(losses), rtol=1e-5)  # the value is the mean of the K losses
    np.testing.assert_allclose(trainer._parts[-1]["adv_loss"].item(), losses[-1], rtol=1e-5)
    assert "clean_loss" not in trainer._parts[-1]
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)
    last = _ce(model, batch, inputs_embeds=model.get_input_embeddings()(batch["input_ids"]) + deltas[-1])
    last_only = torch.autograd.grad(last, _params(model))
    assert max((a - b).abs().max().item() for a, b in zip(got, last_only)) > 1e-4  # not the last step's gradient


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_gradient_accumulation_gives_the_same_update(tiny_classifier, tmp_path, objective):
    """SGD, one step: batch 4 at once == 2 micro-batches of 2. FreeLB with ε = 0 must equal the
    baseline (K per-step gradients of the clean loss, each weighted 1/K), which checks its 1/(K·GA)."""
    model, tok = tiny_classifier
    eps = 0.0 if objective == "freelb" else 0.05
    weights = {}
    for name, method, bs, ga in (("base", "baseline", 4, 1), ("one", "adv", 4, 1), ("acc", "adv", 2, 2)):
        m = copy.deepcopy(model)
        robust = RobustConfig(method=method, adv_objective=objective if method == "adv" else "mixed", adv_steps=2,
                              adv_eps=eps, adv_alpha=eps)
        trainer, _ = _trainer(m, tok, tmp_path / name, robust, n=4, max_steps=1, per_device_train_batch_size=bs,
                              gradient_accumulation_steps=ga, optim="sgd", learning_rate=0.5, max_grad_norm=0.0,
                              train_sampling_strategy="sequential")
        trainer.train()
        weights[name] = m.classifier.weight.detach().clone()
    assert not torch.equal(weights["one"], model.classifier.weight)
    torch.testing.assert_close(weights["acc"], weights["one"], rtol=1e-5, atol=1e-6)
    if objective == "freelb":
        torch.testing.assert_close(weights["one"], weights["base"], rtol=1e-5, atol=1e-6)
    else:
        assert (weights["one"] - weights["base"]).abs().max() > 1e-5


@pytest.mark.parametrize("objective,random_start,logged", [
    ("mixed", False, {"clean_loss", "adv_loss"}), ("mixed", True, {"clean_loss", "adv_loss"}),
    ("adv-only", False, {"clean_loss", "adv_loss"}), ("adv-only", True, {"adv_loss"}), ("freelb", True, {"adv_loss"})])
def test_logged_losses_per_objective(tiny_classifier, tmp_path, objective, random_start, logged):
    model, tok = tiny_classifier
    trainer, _ = _trainer(model, tok, tmp_path, RobustConfig(method="adv", adv_objective=objective, adv_steps=2,
                                                             adv_eps=0.1, adv_alpha=0.05,
                                                             adv_random_start=random_start))
    trainer.train()
    rows = [h for h in trainer.state.log_history if "loss" in h]
    assert len(rows) == 3
    for h in rows:
        assert {"clean_loss", "adv_loss"} & set(h) == logged
        if objective == "mixed":  # loss = clean + 1.0 · adv
            np.testing.assert_allclose(h["loss"], h["clean_loss"] + h["adv_loss"], atol=2e-3)
        elif objective == "adv-only":
            np.testing.assert_allclose(h["loss"], h["adv_loss"], atol=2e-3)


def test_objective_validation_and_recording():
    from xalign.cli.main import build_parser
    from xalign.cli.train import config_from_args

    with pytest.raises(ConfigError, match="unknown --adv-objective 'trades'.*mixed, adv-only, freelb"):
        RobustConfig(method="adv", adv_objective="trades")
    with pytest.raises(ConfigError, match="applies to method 'adv' only"):
        RobustConfig(method="rs-rp", adv_objective="freelb")
    with pytest.raises(ConfigError, match="adv_steps >= 1"):
        RobustConfig(method="adv", adv_objective="freelb", adv_steps=0)
    with pytest.raises(ConfigError, match="--adv-eps must be a finite number"):
        RobustConfig(method="adv", adv_eps=float("nan"))
    assert RobustConfig(method="adv", adv_objective="freelb").adv_random_start is True  # FreeLB's random start
    assert RobustConfig(method="adv").adv_objective == "mixed"
    args = build_parser().parse_args(["train", "--task", "xnli", "--method", "adv", "--adv-objective", "adv-only",
                                      "--freeze-embeddings"])
    config = config_from_args(args)
    assert config.adv_objective == "adv-only" and config.freeze_embeddings is True
    assert config._robust().adv_objective == "adv-only"
    assert config.to_dict()["adv_objective"] == "adv-only"
