"""The ``transformers.Trainer`` subclass that trains with the registered robust methods.

The method acts only inside :meth:`RobustTrainer.compute_loss` (and :meth:`prediction_step` for
smoothed inference), so mixed precision, gradient accumulation, DDP (``torchrun``/``accelerate
launch``), checkpointing and resuming are the Trainer's own. ``compute_loss`` asks the method registered
under ``robust.method`` (:mod:`xalign.robust.methods`: ``baseline``, ``adv``, ``rs-rp``, ``rs-da`` and any
method registered later) for the training loss; evaluation is always plain cross-entropy. Perturbations
go through ``inputs_embeds`` (word embeddings from ``model.get_input_embeddings()``), never a
re-implemented model.

A method uses the trainer through :meth:`ce`, :meth:`noise_generator`, :meth:`grad_scale`, :meth:`record`,
:attr:`retained` and ``accelerator``. Noise and random starts use a ``torch.Generator`` seeded from
``(seed, process, global step, micro-batch)``, so a resumed run draws exactly the noise an uninterrupted
run would.
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
from xalign.robust.methods import RobustMethod, get_method
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

    def __init__(self, *args: Any, robust: RobustConfig | None = None, method: RobustMethod | None = None,
                 **kwargs: Any) -> None:
        """``robust`` holds the method name and seed; ``method`` the method with its settings (default: read
        from ``robust`` by the registered method's ``from_config``)."""
        super().__init__(*args, **kwargs)
        self.robust = robust or RobustConfig()
        if method is not None and method.name != self.robust.method:
            raise ConfigError(f"method {method.name!r} given for a run of method {self.robust.method!r}")
        self.method = method if method is not None else get_method(self.robust.method).from_config(self.robust)
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

    def grad_scale(self) -> float:
        """The AMP loss scale (1.0 without fp16): multiply a loss by it before an input-gradient-only backward."""
        scaler = getattr(self.accelerator, "scaler", None)
        return float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else 1.0

    def noise_generator(self) -> torch.Generator:
        """The generator of this training micro-batch (seed, process, global step, micro-batch)."""
        return self._generator(_TAG_TRAIN, *self._micro_key)

    @property
    def retained(self) -> bool:
        """DeepSpeed/FSDP: one backward per step, so an objective keeps the graphs it needs for the Trainer's."""
        return bool(self.is_deepspeed_enabled or self.is_fsdp_enabled)

    def record(self, **parts: torch.Tensor) -> None:
        """Loss parts of this micro-batch (``clean_loss``, ``adv_loss``), averaged into the next training log."""
        self._parts.append(parts)

    # ------------------------------------------------------------------ training objective
    @staticmethod
    def ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy in float32."""
        return torch.nn.functional.cross_entropy(logits.float(), labels)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The method's training loss (:meth:`xalign.robust.methods.RobustMethod.loss`); plain CE in evaluation."""
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        if model.training:
            loss, outputs = self.method.loss(self, model, inputs, labels)
        else:
            outputs = model(**inputs)
            loss = self.ce(outputs.logits, labels)
        return (loss, outputs) if return_outputs else loss

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
            from xalign.training.features import LengthGroupedEpochSampler

            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            # mega-batches of the global batch (all ranks, all micro-batches): the same order under DDP
            global_batch = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
            return LengthGroupedEpochSampler(ds.lengths, global_batch, seed=seed)
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset):
        # transformers' eval sampler under group_by_length shuffles mega-batches at random; ours is a fixed
        # longest-first order, so predictions map back to items (xalign.training.evaluate.dataset_correct)
        if hasattr(eval_dataset, "lengths"):
            from xalign.training.features import length_order

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
