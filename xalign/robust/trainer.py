"""The ``transformers.Trainer`` subclass that trains with the Robust-XLT methods.

The method acts only inside :meth:`RobustTrainer.compute_loss` (and :meth:`prediction_step` for
smoothed inference), so mixed precision, gradient accumulation, DDP (``torchrun``/``accelerate
launch``), checkpointing and resuming are the Trainer's own. Perturbations go through
``inputs_embeds`` (word embeddings from ``model.get_input_embeddings()``), never a re-implemented model.

Methods (Huang et al., EMNLP 2021, "Improving Zero-Shot Cross-Lingual Transfer Learning via Robust
Training"):

* ``baseline`` — cross-entropy on clean inputs.
* ``adv`` — PGD on the word embeddings (``adv_steps`` = K steps of size ``adv_alpha`` in an ``adv_eps``
  ball, ℓ2 or ℓ∞, per token or per sentence, optional random start). ``adv_objective`` picks the loss:

  - ``mixed`` (default): CE(x) + ``adv_weight`` · CE(x + δ_K). The clean pass and its backward run first
    (outside DDP's gradient sync, through ``accelerator.backward`` so AMP loss scaling and accumulation
    scaling apply); without a random start that backward also gives the first PGD direction, so K steps
    cost K+1 forward+backward passes (K-1 of them input-gradient only). Logs ``clean_loss``/``adv_loss``.
  - ``adv-only`` (Madry et al., ICLR 2018): CE(x + δ_K), no clean term in the update. K input-gradient
    PGD passes + one forward/backward at δ_K: K+1 passes. Logs ``adv_loss``, and ``clean_loss`` when PGD
    starts at δ = 0 (its first iterate is the clean input; no extra pass is made for the log).
  - ``freelb`` (Zhu et al., ICLR 2020): δ_0 uniform in the ball, then for k = 0 … K-1 one forward/backward
    of CE(x + δ_k)/K that adds its parameter gradient and gives ∂/∂δ, then δ_{k+1} = Π(δ_k + α·ĝ):
    the update is the average of the K per-step parameter gradients, K passes in all. The first K-1
    backwards run here (outside DDP's sync, through ``accelerator.backward``), the Trainer's backward
    does the last. Logs ``adv_loss`` = CE(x + δ_{K-1}); FreeLB has no clean pass, so no ``clean_loss``.

  The PGD inner gradients are w.r.t. δ only. Under DeepSpeed/FSDP (one backward per step) the graphs
  the objective needs are kept and back-propagated together by the Trainer (more memory, same gradient).
* ``rs-rp`` — randomized smoothing with random perturbations: CE on embeddings + noise
  (Gaussian σ or uniform in an ε-ball); optional smoothed inference (majority vote over N noisy copies).
* ``rs-da`` — randomized smoothing with data augmentation: plain CE; the substitution happens in the data
  (:class:`xalign.robust.features.PairDataset`).

Noise and random starts use a ``torch.Generator`` seeded from ``(seed, process, global step,
micro-batch)``, so a resumed run draws exactly the noise an uninterrupted run would.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
from transformers import Trainer

from xalign.errors import ConfigError
from xalign.robust.config import ADV_OBJECTIVES, METHODS, RobustConfig
from xalign.robust.perturb import ascent_step, pgd, project, uniform_ball_noise
from xalign.robust.smoothing import NoiseSpec, vote_counts

logger = logging.getLogger(__name__)

__all__ = ["ADV_OBJECTIVES", "METHODS", "RobustConfig", "RobustTrainer", "step_generator"]

_TAG_TRAIN, _TAG_SMOOTH = 1, 2


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's (CPU and CUDA) global random states on exit."""
    import random

    import numpy as np

    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
              torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])


def step_generator(seed: int, *keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` whose state depends only on ``(seed, *keys)``."""
    import numpy as np

    state = np.random.SeedSequence([int(seed), *(int(k) for k in keys)]).generate_state(2, dtype=np.uint32)
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
    return gen


class RobustTrainer(Trainer):
    """``Trainer`` with ``robust=RobustConfig(...)``; everything else as in ``transformers.Trainer``."""

    # compute_loss returns a per-micro-batch mean; the Trainer divides by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, robust: RobustConfig | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.robust = robust or RobustConfig()
        self._micro_gs, self._micro = -1, 0
        self._micro_key = (0, 0)
        self._smoothing: tuple[int, NoiseSpec, int] | None = None
        self._smooth_batch = 0
        self._parts: list[dict[str, torch.Tensor]] = []  # per micro-batch: clean_loss / adv_loss
        cfg = getattr(self.model, "config", None)
        if getattr(cfg, "use_lang_emb", False) and int(getattr(cfg, "n_langs", 1) or 1) > 1:
            logger.warning("%s has language embeddings (n_langs=%s) but xalign passes no `langs` ids: it trains and "
                           "evaluates without them (as for XLM-100 and XLM-R, which have none)",
                           type(self.model).__name__, cfg.n_langs)

    # ------------------------------------------------------------------ randomness
    def _generator(self, tag: int, *keys: int) -> torch.Generator:
        return step_generator(self.robust.seed, tag, self.args.process_index, *keys, device=self.args.device)

    def training_step(self, model, inputs, num_items_in_batch=None):  # noqa: D102 - see Trainer
        gs = self.state.global_step
        if gs != self._micro_gs:
            self._micro_gs, self._micro = gs, 0
        self._micro_key = (gs, self._micro)
        self._micro += 1
        return super().training_step(model, inputs, num_items_in_batch)

    def _grad_scale(self) -> float:
        scaler = getattr(self.accelerator, "scaler", None)
        return float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else 1.0

    # ------------------------------------------------------------------ training objective
    @staticmethod
    def _ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits.float(), labels)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Cross-entropy of the chosen method (see the module docstring); plain CE in evaluation."""
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        method = self.robust.method
        if not model.training or method in ("baseline", "rs-da"):
            outputs = model(**inputs)
            loss = self._ce(outputs.logits, labels)
            return (loss, outputs) if return_outputs else loss
        inner = self.accelerator.unwrap_model(model)
        input_ids = inputs.pop("input_ids")
        embeds = inner.get_input_embeddings()(input_ids)
        mask = inputs.get("attention_mask")
        gen = self._generator(_TAG_TRAIN, *self._micro_key)
        if method == "rs-rp":
            outputs = model(inputs_embeds=embeds + self.robust.noise.sample(embeds, gen, mask), **inputs)
            loss = self._ce(outputs.logits, labels)
            return (loss, outputs) if return_outputs else loss
        retained = self.is_deepspeed_enabled or self.is_fsdp_enabled
        objective = self.robust.adv_objective
        if objective == "adv-only":
            loss, outputs = self._adv_only(model, inner, embeds, inputs, labels, mask, gen)
        elif objective == "freelb" and retained:
            loss, outputs = self._freelb_retained(model, embeds, inputs, labels, mask, gen)
        elif objective == "freelb":
            loss, outputs = self._freelb_fused(model, inner, input_ids, embeds, inputs, labels, mask, gen)
        elif retained:
            loss, outputs = self._adv_retained(model, inner, embeds, inputs, labels, mask, gen)
        else:
            loss, outputs = self._adv_fused(model, inner, input_ids, embeds, inputs, labels, mask, gen)
        return (loss, outputs) if return_outputs else loss

    def _pgd(self, inner, embeds, inputs, labels, mask, gen, **kw):
        rb = self.robust

        def loss_fn(delta: torch.Tensor, k: int) -> torch.Tensor:
            return self._ce(inner(inputs_embeds=embeds.detach() + delta, **inputs).logits, labels)

        return pgd(kw.pop("loss_fn", loss_fn), embeds.detach(), eps=rb.adv_eps, alpha=rb.adv_alpha, norm=rb.adv_norm,
                   scope=rb.adv_scope, mask=mask, generator=gen, grad_scale=self._grad_scale(), **kw)

    def _adv_fused(self, model, inner, input_ids, embeds, inputs, labels, mask, gen):
        """Clean pass first, with its backward done here (outside DDP's gradient sync): that one backward
        gives both the clean parameter gradients and ∂CE/∂δ at δ = 0, the first PGD direction. The Trainer
        then back-propagates only the adversarial term: K steps cost K + 1 forward/backward passes."""
        rb = self.robust
        first = None if rb.adv_random_start or rb.adv_steps == 0 else torch.zeros_like(embeds, requires_grad=True)
        ga = getattr(self, "current_gradient_accumulation_steps", 1) or 1
        with self.accelerator.no_sync(model):
            clean = self._ce(model(inputs_embeds=embeds if first is None else embeds + first, **inputs).logits,
                             labels)
            self.accelerator.backward(clean / ga)
        init, steps = None, rb.adv_steps
        if first is not None:
            grad = torch.nan_to_num(first.grad.detach(), nan=0.0, posinf=0.0, neginf=0.0)
            init, steps = ascent_step(torch.zeros_like(grad), grad, alpha=rb.adv_alpha, norm=rb.adv_norm,
                                      scope=rb.adv_scope, mask=mask), steps - 1
        result = self._pgd(inner, embeds, inputs, labels, mask, gen, steps=steps, init=init,
                           random_start=rb.adv_random_start)
        embeds = inner.get_input_embeddings()(input_ids)  # the first graph was freed by its backward
        outputs = model(inputs_embeds=embeds + result.delta, **inputs)
        adv = self._ce(outputs.logits, labels)
        self._parts.append({"clean_loss": clean.detach(), "adv_loss": adv.detach()})
        return clean.detach() + rb.adv_weight * adv, outputs  # same value; the clean gradient is already in

    def _adv_retained(self, model, inner, embeds, inputs, labels, mask, gen):
        """For DeepSpeed/FSDP (one backward per step): the clean graph is kept and back-propagated together
        with the adversarial one by the Trainer (one extra input-gradient pass)."""
        rb = self.robust
        reuse_clean = rb.adv_steps > 0 and not rb.adv_random_start

        def loss_fn(delta: torch.Tensor, k: int) -> torch.Tensor:
            if k == 0 and reuse_clean:  # δ = 0: the clean pass, kept for the objective
                return self._ce(model(inputs_embeds=embeds + delta, **inputs).logits, labels)
            return self._ce(inner(inputs_embeds=embeds.detach() + delta, **inputs).logits, labels)

        result = self._pgd(inner, embeds, inputs, labels, mask, gen, loss_fn=loss_fn, steps=rb.adv_steps,
                           random_start=rb.adv_random_start, keep_first=reuse_clean)
        clean = result.first_loss
        if clean is None:
            clean = self._ce(model(inputs_embeds=embeds, **inputs).logits, labels)
        outputs = model(inputs_embeds=embeds + result.delta, **inputs)
        adv = self._ce(outputs.logits, labels)
        self._parts.append({"clean_loss": clean.detach(), "adv_loss": adv.detach()})
        return clean + rb.adv_weight * adv, outputs

    def _adv_only(self, model, inner, embeds, inputs, labels, mask, gen):
        """Madry et al.: PGD (δ-gradients only), then CE at δ_K is the whole objective; the Trainer
        back-propagates it (same code for DDP and DeepSpeed/FSDP: there is one backward)."""
        rb = self.robust
        result = self._pgd(inner, embeds, inputs, labels, mask, gen, steps=rb.adv_steps,
                           random_start=rb.adv_random_start)
        outputs = model(inputs_embeds=embeds + result.delta, **inputs)
        adv = self._ce(outputs.logits, labels)
        parts = {"adv_loss": adv.detach()}
        if result.losses and not rb.adv_random_start:  # PGD's first iterate was δ = 0: the clean loss
            parts["clean_loss"] = result.losses[0]
        self._parts.append(parts)
        return adv, outputs

    def _freelb_start(self, like, mask, gen):
        rb = self.robust
        return uniform_ball_noise(like, eps=rb.adv_eps, norm=rb.adv_norm, scope=rb.adv_scope, generator=gen,
                                  mask=mask)

    def _freelb_ascent(self, delta, grad, mask):
        rb = self.robust
        grad = torch.nan_to_num(grad.detach(), nan=0.0, posinf=0.0, neginf=0.0)
        delta = ascent_step(delta.detach(), grad, alpha=rb.adv_alpha, norm=rb.adv_norm, scope=rb.adv_scope,
                            mask=mask)
        return project(delta, eps=rb.adv_eps, norm=rb.adv_norm, scope=rb.adv_scope, mask=mask)

    def _freelb_fused(self, model, inner, input_ids, embeds, inputs, labels, mask, gen):
        """FreeLB: steps 0 … K-2 back-propagate CE(x + δ_k)/K here (outside DDP's sync; the parameter
        gradients accumulate and δ gets its ascent direction from the same backward); the Trainer
        back-propagates the last step's CE/K. Returned value: the mean of the K losses."""
        rb = self.robust
        steps = rb.adv_steps
        ga = getattr(self, "current_gradient_accumulation_steps", 1) or 1
        delta = self._freelb_start(embeds.detach(), mask, gen)
        done = []
        for _ in range(steps - 1):
            delta = delta.detach().requires_grad_(True)
            with self.accelerator.no_sync(model):
                loss = self._ce(model(inputs_embeds=embeds + delta, **inputs).logits, labels)
                self.accelerator.backward(loss / (steps * ga))
            done.append(loss.detach())
            delta = self._freelb_ascent(delta, delta.grad, mask)
            embeds = inner.get_input_embeddings()(input_ids)  # the previous graph was freed by its backward
        outputs = model(inputs_embeds=embeds + delta.detach(), **inputs)
        last = self._ce(outputs.logits, labels)
        self._parts.append({"adv_loss": last.detach()})
        return (torch.stack(done).sum() if done else 0.0) / steps + last / steps, outputs

    def _freelb_retained(self, model, embeds, inputs, labels, mask, gen):
        """FreeLB for DeepSpeed/FSDP: the K graphs are kept and their mean back-propagated once by the
        Trainer (K× the activation memory of one step); δ ascends on input gradients only."""
        rb = self.robust
        delta = self._freelb_start(embeds.detach(), mask, gen)
        losses = []
        for k in range(rb.adv_steps):
            delta = delta.detach().requires_grad_(k < rb.adv_steps - 1)
            outputs = model(inputs_embeds=embeds + delta, **inputs)
            losses.append(self._ce(outputs.logits, labels))
            if k < rb.adv_steps - 1:
                (grad,) = torch.autograd.grad(losses[-1] * self._grad_scale(), delta, retain_graph=True)
                delta = self._freelb_ascent(delta, grad, mask)
        self._parts.append({"adv_loss": losses[-1].detach()})
        return torch.stack(losses).mean(), outputs

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds ``clean_loss``/``adv_loss`` (means since the last log, where the objective computes them)
        to training logs of ``adv``."""
        if "loss" in logs and self._parts:
            extra = {}
            for key in ("clean_loss", "adv_loss"):
                values = [p[key].float() for p in self._parts if key in p]
                if values:
                    extra[key] = round(torch.stack(values).mean().item(), 6)
            logs = {**logs, **extra}
            self._parts.clear()
        super().log(logs, start_time)

    # ------------------------------------------------------------------ data
    def _get_train_sampler(self, train_dataset=None):
        ds = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(ds, "lengths"):
            from xalign.robust.features import LengthGroupedEpochSampler

            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            # mega-batches of the global batch (all ranks, all micro-batches): the same order under DDP
            global_batch = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
            return LengthGroupedEpochSampler(ds.lengths, global_batch, seed=seed)
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset):
        # transformers' eval sampler under group_by_length shuffles mega-batches at random; ours is a fixed
        # longest-first order, so predictions map back to items (xalign.robust.evaluate.dataset_correct)
        if hasattr(eval_dataset, "lengths"):
            from xalign.robust.features import length_order

            return length_order(eval_dataset.lengths)
        return super()._get_eval_sampler(eval_dataset)

    def evaluate(self, *args: Any, **kwargs: Any):  # noqa: D102 - see Trainer
        # Evaluation must not move the training random stream (a DataLoader draws its base seed from the
        # global generator): with it, a run's batches and dropout masks do not depend on how often it is
        # evaluated, and a baseline run is step for step a plain transformers fine-tune.
        with preserved_rng():
            return super().evaluate(*args, **kwargs)

    # ------------------------------------------------------------------ smoothed inference
    @contextlib.contextmanager
    def smoothed(self, n: int, noise: NoiseSpec, seed: int) -> Iterator[None]:
        """Within this block ``predict``/``evaluate`` return vote counts over ``n`` noisy copies as
        "logits" (argmax = the smoothed prediction); noise is seeded by ``(seed, process, batch)``."""
        if n < 1:
            raise ConfigError(f"smoothing needs n >= 1 noisy copies, got {n}")
        self._smoothing, self._smooth_batch = (n, noise, seed), 0
        try:
            yield
        finally:
            self._smoothing = None

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if self._smoothing is None:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)
        n, noise, seed = self._smoothing
        inputs = dict(self._prepare_inputs(inputs))
        labels = inputs.pop("labels", None)
        input_ids = inputs.pop("input_ids")
        inner = self.accelerator.unwrap_model(model)
        gen = step_generator(seed, _TAG_SMOOTH, self.args.process_index, self._smooth_batch, device=self.args.device)
        self._smooth_batch += 1
        with torch.no_grad(), self.compute_loss_context_manager():
            embeds = inner.get_input_embeddings()(input_ids)
            counts = vote_counts(lambda e: model(inputs_embeds=e, **inputs).logits, embeds, n=n, noise=noise,
                                 generator=gen, num_classes=int(inner.config.num_labels),
                                 mask=inputs.get("attention_mask"))
        return None, counts.float(), labels
