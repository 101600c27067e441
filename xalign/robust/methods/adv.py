"""``adv``: adversarial training with PGD on the word embeddings (Huang et al., EMNLP 2021).

``adv_steps`` = K steps of size ``adv_alpha`` in an ``adv_eps`` ball (ℓ2 or ℓ∞, per token or per sentence,
optional random start). ``adv_objective`` picks the loss:

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
"""

from __future__ import annotations

from dataclasses import dataclass

from xalign.errors import ConfigError
from xalign.robust.methods.base import Embedded, RobustMethod, check_settings, embedded, register, setting
from xalign.robust.perturb import NORMS, SCOPES, ascent_step, pgd, project, uniform_ball_noise

# mixed: CE(x) + w·CE(x + δ_K); adv-only: CE(x + δ_K) (Madry et al. 2018);
# freelb: mean_k CE(x + δ_k), k = 0 … K-1, from a random δ_0 (Zhu et al. 2020)
ADV_OBJECTIVES = ("mixed", "adv-only", "freelb")


@dataclass
class AdvSettings:
    """``adv_random_start`` is set for ``freelb`` (its algorithm starts in the ball); ``adv_weight`` applies to
    ``mixed`` only."""

    adv_objective: str = setting("mixed", "what the update minimises: mixed, adv-only or freelb", choices=ADV_OBJECTIVES)
    adv_steps: int = setting(1, "PGD steps K", min=0)
    adv_eps: float = setting(0.1, "radius of the perturbation ball", min=0.0)
    adv_alpha: float = setting(0.1, "PGD step size", min=0.0)
    adv_norm: str = setting("l2", "norm of the perturbation ball", choices=NORMS)
    adv_scope: str = setting("token", "one ball per token, or one per sentence", choices=SCOPES)
    adv_random_start: bool = setting(False, "start PGD uniformly in the ball")
    adv_weight: float = setting(1.0, "weight of the adversarial loss (mixed only)", min=0.0)

    def __post_init__(self) -> None:
        check_settings(self, method="adv")
        if self.adv_objective == "freelb":
            if not self.adv_steps >= 1:
                raise ConfigError(f"adv_objective 'freelb' needs adv_steps >= 1 (its K ascent steps), got "
                                  f"{self.adv_steps}")
            self.adv_random_start = True


@register
class Adv(RobustMethod):
    name = "adv"
    summary = "adversarial training: PGD on the word embeddings (mixed, adv-only or FreeLB objective)"
    settings_type = AdvSettings

    def loss(self, trainer, model, inputs, labels):
        e = embedded(trainer, model, inputs)
        gen = trainer.noise_generator()
        objective, retained = self.settings.adv_objective, trainer.retained
        if objective == "adv-only":
            return self._adv_only(trainer, model, e, labels, gen)
        if objective == "freelb":
            return (self._freelb_retained if retained else self._freelb_fused)(trainer, model, e, labels, gen)
        return (self._mixed_retained if retained else self._mixed_fused)(trainer, model, e, labels, gen)

    # ------------------------------------------------------------------ PGD and the ball
    def _pgd(self, trainer, e: Embedded, labels, gen, **kw):
        s = self.settings

        def loss_fn(delta, k):
            return trainer.ce(e.inner(inputs_embeds=e.embeds.detach() + delta, **e.inputs).logits, labels)

        return pgd(kw.pop("loss_fn", loss_fn), e.embeds.detach(), eps=s.adv_eps, alpha=s.adv_alpha, norm=s.adv_norm,
                   scope=s.adv_scope, mask=e.mask, generator=gen, grad_scale=trainer.grad_scale(), **kw)

    def _ascend(self, delta, grad, mask):
        import torch

        s = self.settings
        grad = torch.nan_to_num(grad.detach(), nan=0.0, posinf=0.0, neginf=0.0)
        delta = ascent_step(delta.detach(), grad, alpha=s.adv_alpha, norm=s.adv_norm, scope=s.adv_scope, mask=mask)
        return project(delta, eps=s.adv_eps, norm=s.adv_norm, scope=s.adv_scope, mask=mask)

    def _start(self, like, mask, gen):
        s = self.settings
        return uniform_ball_noise(like, eps=s.adv_eps, norm=s.adv_norm, scope=s.adv_scope, generator=gen, mask=mask)

    # ------------------------------------------------------------------ objectives
    def _mixed_fused(self, trainer, model, e: Embedded, labels, gen):
        """Clean pass first, with its backward done here (outside DDP's gradient sync): that one backward
        gives both the clean parameter gradients and ∂CE/∂δ at δ = 0, the first PGD direction. The Trainer
        then back-propagates only the adversarial term: K steps cost K + 1 forward/backward passes."""
        import torch

        s = self.settings
        first = None if s.adv_random_start or s.adv_steps == 0 else torch.zeros_like(e.embeds, requires_grad=True)
        ga = getattr(trainer, "current_gradient_accumulation_steps", 1) or 1
        with trainer.accelerator.no_sync(model):
            clean = trainer.ce(model(inputs_embeds=e.embeds if first is None else e.embeds + first,
                                     **e.inputs).logits, labels)
            trainer.accelerator.backward(clean / ga)
        init, steps = None, s.adv_steps
        if first is not None:
            grad = torch.nan_to_num(first.grad.detach(), nan=0.0, posinf=0.0, neginf=0.0)
            init, steps = ascent_step(torch.zeros_like(grad), grad, alpha=s.adv_alpha, norm=s.adv_norm,
                                      scope=s.adv_scope, mask=e.mask), steps - 1
        result = self._pgd(trainer, e, labels, gen, steps=steps, init=init, random_start=s.adv_random_start)
        embeds = e.inner.get_input_embeddings()(e.input_ids)  # the first graph was freed by its backward
        outputs = model(inputs_embeds=embeds + result.delta, **e.inputs)
        adv = trainer.ce(outputs.logits, labels)
        trainer.record(clean_loss=clean.detach(), adv_loss=adv.detach())
        return clean.detach() + s.adv_weight * adv, outputs  # same value; the clean gradient is already in

    def _mixed_retained(self, trainer, model, e: Embedded, labels, gen):
        """For DeepSpeed/FSDP (one backward per step): the clean graph is kept and back-propagated together
        with the adversarial one by the Trainer (one extra input-gradient pass)."""
        s = self.settings
        reuse_clean = s.adv_steps > 0 and not s.adv_random_start

        def loss_fn(delta, k):
            if k == 0 and reuse_clean:  # δ = 0: the clean pass, kept for the objective
                return trainer.ce(model(inputs_embeds=e.embeds + delta, **e.inputs).logits, labels)
            return trainer.ce(e.inner(inputs_embeds=e.embeds.detach() + delta, **e.inputs).logits, labels)

        result = self._pgd(trainer, e, labels, gen, loss_fn=loss_fn, steps=s.adv_steps,
                           random_start=s.adv_random_start, keep_first=reuse_clean)
        clean = result.first_loss
        if clean is None:
            clean = trainer.ce(model(inputs_embeds=e.embeds, **e.inputs).logits, labels)
        outputs = model(inputs_embeds=e.embeds + result.delta, **e.inputs)
        adv = trainer.ce(outputs.logits, labels)
        trainer.record(clean_loss=clean.detach(), adv_loss=adv.detach())
        return clean + s.adv_weight * adv, outputs

    def _adv_only(self, trainer, model, e: Embedded, labels, gen):
        """Madry et al.: PGD (δ-gradients only), then CE at δ_K is the whole objective; the Trainer
        back-propagates it (same code for DDP and DeepSpeed/FSDP: there is one backward)."""
        s = self.settings
        result = self._pgd(trainer, e, labels, gen, steps=s.adv_steps, random_start=s.adv_random_start)
        outputs = model(inputs_embeds=e.embeds + result.delta, **e.inputs)
        adv = trainer.ce(outputs.logits, labels)
        parts = {"adv_loss": adv.detach()}
        if result.losses and not s.adv_random_start:  # PGD's first iterate was δ = 0: the clean loss
            parts["clean_loss"] = result.losses[0]
        trainer.record(**parts)
        return adv, outputs

    def _freelb_fused(self, trainer, model, e: Embedded, labels, gen):
        """FreeLB: steps 0 … K-2 back-propagate CE(x + δ_k)/K here (outside DDP's sync; the parameter
        gradients accumulate and δ gets its ascent direction from the same backward); the Trainer
        back-propagates the last step's CE/K. Returned value: the mean of the K losses."""
        import torch

        steps = self.settings.adv_steps
        ga = getattr(trainer, "current_gradient_accumulation_steps", 1) or 1
        embeds = e.embeds
        delta = self._start(embeds.detach(), e.mask, gen)
        done = []
        for _ in range(steps - 1):
            delta = delta.detach().requires_grad_(True)
            with trainer.accelerator.no_sync(model):
                loss = trainer.ce(model(inputs_embeds=embeds + delta, **e.inputs).logits, labels)
                trainer.accelerator.backward(loss / (steps * ga))
            done.append(loss.detach())
            delta = self._ascend(delta, delta.grad, e.mask)
            embeds = e.inner.get_input_embeddings()(e.input_ids)  # the previous graph was freed by its backward
        outputs = model(inputs_embeds=embeds + delta.detach(), **e.inputs)
        last = trainer.ce(outputs.logits, labels)
        trainer.record(adv_loss=last.detach())
        return (torch.stack(done).sum() if done else 0.0) / steps + last / steps, outputs

    def _freelb_retained(self, trainer, model, e: Embedded, labels, gen):
        """FreeLB for DeepSpeed/FSDP: the K graphs are kept and their mean back-propagated once by the
        Trainer (K× the activation memory of one step); δ ascends on input gradients only."""
        import torch

        steps = self.settings.adv_steps
        delta = self._start(e.embeds.detach(), e.mask, gen)
        losses = []
        for k in range(steps):
            delta = delta.detach().requires_grad_(k < steps - 1)
            outputs = model(inputs_embeds=e.embeds + delta, **e.inputs)
            losses.append(trainer.ce(outputs.logits, labels))
            if k < steps - 1:
                (grad,) = torch.autograd.grad(losses[-1] * trainer.grad_scale(), delta, retain_graph=True)
                delta = self._ascend(delta, grad, e.mask)
        trainer.record(adv_loss=losses[-1].detach())
        return torch.stack(losses).mean(), outputs
