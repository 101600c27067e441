"""The RobustTrainer objective of each method, checked against naive re-computations."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import DataCollatorWithPadding, TrainingArguments

from xalign.robust.config import RobustConfig
from xalign.robust.smoothing import NoiseSpec
from xalign.robust.trainer import RobustTrainer
from xalign.training.features import PairDataset

from .conftest import synthetic_pairs


def _trainer(model, tok, tmp_path, robust, *, n=12, **kw):
    a, b, y = synthetic_pairs(n)
    ds = PairDataset(a, b, y, tok, max_length=64)
    defaults = dict(output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none", per_device_train_batch_size=4,
                    per_device_eval_batch_size=8, learning_rate=1e-2, max_steps=3, logging_steps=1,
                    save_strategy="no", disable_tqdm=True, seed=0)
    args = TrainingArguments(**{**defaults, **kw})
    return RobustTrainer(model=model, args=args, train_dataset=ds, eval_dataset=ds,
                         data_collator=DataCollatorWithPadding(tok), processing_class=tok, robust=robust), ds


def _batch(trainer, ds, n=4):
    return trainer.data_collator([ds[i] for i in range(n)])


def _ce(model, batch, **extra):
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    inputs.update(extra)
    if "inputs_embeds" in extra:
        inputs.pop("input_ids")
    return torch.nn.functional.cross_entropy(model(**inputs).logits, batch["labels"])


def _param_grads(loss, model):
    return [g.detach().clone() for g in torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)]


@pytest.mark.parametrize("path", ["fused", "retained"])
def test_adv_objective_matches_naive_single_step_pgd(tiny_classifier, tmp_path, path):
    """ℓ∞ PGD, one step, no random start: δ = ε·sign(∇_e CE) on real tokens; loss = CE(e) + w·CE(e + δ),
    and after the Trainer's backward the gradients are those of that objective (both implementations)."""
    model, tok = tiny_classifier
    eps, weight = 0.05, 0.7
    trainer, ds = _trainer(model, tok, tmp_path, RobustConfig(method="adv", adv_steps=1, adv_eps=eps, adv_alpha=eps,
                                                              adv_norm="linf", adv_weight=weight))
    trainer.is_fsdp_enabled = path == "retained"  # the DeepSpeed/FSDP code path (one backward per step)
    batch = _batch(trainer, ds)
    model.train()

    embeds = model.get_input_embeddings()(batch["input_ids"])
    leaf = embeds.detach().requires_grad_(True)
    clean_ref = _ce(model, batch, inputs_embeds=leaf)
    (grad,) = torch.autograd.grad(clean_ref, leaf, retain_graph=True)
    delta = eps * grad.sign() * batch["attention_mask"].unsqueeze(-1)
    clean = _ce(model, batch, inputs_embeds=embeds)
    adv = _ce(model, batch, inputs_embeds=embeds + delta)
    g_clean, g_adv = _param_grads(clean, model), _param_grads(adv, model)
    np.testing.assert_allclose(clean.item(), _ce(model, batch).item(), rtol=1e-6)  # inputs_embeds == input_ids
    assert adv.item() > clean.item()  # the perturbation increases the loss

    loss = trainer.compute_loss(model, batch)
    np.testing.assert_allclose(loss.item(), clean.item() + weight * adv.item(), rtol=1e-5)
    parts = trainer._parts[-1]
    np.testing.assert_allclose([parts["clean_loss"].item(), parts["adv_loss"].item()], [clean.item(), adv.item()],
                               rtol=1e-5)
    if path == "fused":  # the clean backward already happened inside compute_loss
        for p, g in zip(model.parameters(), g_clean):
            torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)
    else:
        assert all(p.grad is None for p in model.parameters())  # PGD differentiates w.r.t. δ only
    loss.backward()
    for p, gc, ga in zip(model.parameters(), g_clean, g_adv):
        torch.testing.assert_close(p.grad, gc + weight * ga, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_adv_increases_loss_within_ball_multi_step(tiny_classifier, tmp_path, norm):
    model, tok = tiny_classifier
    trainer, ds = _trainer(model, tok, tmp_path, RobustConfig(method="adv", adv_steps=3, adv_eps=0.2, adv_alpha=0.1,
                                                              adv_norm=norm, adv_random_start=True))
    batch = _batch(trainer, ds)
    model.train()
    trainer.compute_loss(model, batch)
    clean, adv = trainer._parts[-1]["clean_loss"].item(), trainer._parts[-1]["adv_loss"].item()
    np.testing.assert_allclose(clean, _ce(model, batch).item(), rtol=1e-6)
    assert adv > clean


def test_rs_rp_noise_is_seeded_per_step_and_scaled(tiny_classifier, tmp_path):
    model, tok = tiny_classifier
    model.train()
    losses = {}
    for sigma in (1e-7, 0.5):
        trainer, ds = _trainer(model, tok, tmp_path, RobustConfig(method="rs-rp", noise=NoiseSpec(sigma=sigma)))
        batch = _batch(trainer, ds)
        trainer._micro_key = (0, 0)
        first = trainer.compute_loss(model, batch).item()
        again = trainer.compute_loss(model, batch).item()
        trainer._micro_key = (1, 0)
        other = trainer.compute_loss(model, batch).item()
        losses[sigma] = (first, again, other)
    clean = _ce(model, batch).item()
    np.testing.assert_allclose(losses[1e-7][0], clean, rtol=1e-5)  # vanishing noise: the clean loss
    first, again, other = losses[0.5]
    assert first == again  # same (seed, step, micro-batch): the same noise
    assert first != other and abs(first - clean) > 1e-4


@pytest.mark.parametrize("method", ["baseline", "adv", "rs-rp", "rs-da"])
def test_each_method_trains_and_changes_the_loss(tiny_classifier, tmp_path, method):
    model, tok = tiny_classifier
    trainer, ds = _trainer(model, tok, tmp_path, RobustConfig(method=method, adv_eps=0.1, adv_alpha=0.1))
    if method == "rs-da":
        ds.table = {"The": ("A",), "cat": ("dog",)}
    batch = _batch(trainer, ds, 12)
    model.eval()
    with torch.no_grad():
        before = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    trainer.train()
    model.eval()
    with torch.no_grad():
        after = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 3 and np.isfinite(losses).all() and len(set(losses)) > 1
    assert (after - before).abs().max() > 1e-3
    if method == "adv":
        assert all("adv_loss" in h for h in trainer.state.log_history if "loss" in h)


def test_gradient_accumulation_gives_the_same_update(tiny_classifier, tmp_path):
    """SGD, one step: batch 4 at once == 2 micro-batches of 2 (the loss is a per-micro-batch mean)."""
    model, tok = tiny_classifier
    weights = []
    for bs, ga in ((4, 1), (2, 2)):
        m = copy.deepcopy(model)
        trainer, _ = _trainer(m, tok, tmp_path / f"{bs}", RobustConfig(method="baseline"), n=4, max_steps=1,
                              per_device_train_batch_size=bs, gradient_accumulation_steps=ga, optim="sgd",
                              learning_rate=0.5, max_grad_norm=0.0, train_sampling_strategy="sequential")
        trainer.train()
        weights.append(m.classifier.weight.detach().clone())
    assert not torch.equal(weights[0], model.classifier.weight)
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-5, atol=1e-6)


def test_smoothed_prediction_votes(tiny_classifier, tmp_path):
    model, tok = tiny_classifier
    trainer, ds = _trainer(model, tok, tmp_path, RobustConfig(method="rs-rp"))
    plain = trainer.predict(ds).predictions.argmax(-1)
    with trainer.smoothed(5, NoiseSpec(sigma=1e-7), seed=3):
        votes = trainer.predict(ds).predictions
    assert votes.sum(1).tolist() == [5.0] * len(ds)
    np.testing.assert_array_equal(votes.argmax(-1), plain)  # tiny noise: every vote is the clean prediction
    with trainer.smoothed(7, NoiseSpec(sigma=2.0), seed=3):
        a = trainer.predict(ds).predictions
    with trainer.smoothed(7, NoiseSpec(sigma=2.0), seed=3):
        b = trainer.predict(ds).predictions
    np.testing.assert_array_equal(a, b)
    assert trainer._smoothing is None


def test_robust_config_validation():
    with pytest.raises(ValueError, match="unknown --method 'fgsm'"):
        RobustConfig(method="fgsm")
    with pytest.raises(ValueError, match="--adv-norm"):
        RobustConfig(method="adv", adv_norm="l1")
    with pytest.raises(ValueError, match=">= 0"):
        RobustConfig(method="adv", adv_eps=-1.0)
