"""``rs-rp``: randomized smoothing with random perturbations (Huang et al., EMNLP 2021).

The loss is cross-entropy on the word embeddings plus noise: Gaussian N(0, σ²) per coordinate, or uniform in
an ε-ball (ℓ2 or ℓ∞, per token), drawn from the trainer's per-micro-batch generator. Smoothed inference
(``smooth_n``) is a run setting, open to every method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xalign.robust.methods.base import RobustMethod, check_settings, embedded, register, setting
from xalign.robust.perturb import NOISES, NORMS
from xalign.robust.smoothing import NoiseSpec


@dataclass(frozen=True)
class RsRpSettings:
    rs_noise: str = setting("gaussian", "noise added to the word embeddings: gaussian (sigma) or uniform (eps-ball)",
                            choices=NOISES)
    rs_sigma: float = setting(0.01, "standard deviation of the Gaussian noise (> 0 when used)", min=0.0)
    rs_eps: float = setting(0.1, "radius of the uniform noise ball (> 0 when used)", min=0.0)
    rs_norm: str = setting("l2", "norm of the uniform noise ball", choices=NORMS)

    def __post_init__(self) -> None:
        check_settings(self, method="rs-rp")
        self.noise  # noqa: B018 - NoiseSpec checks that the noise in use has a positive size

    @property
    def noise(self) -> NoiseSpec:
        return NoiseSpec(kind=self.rs_noise, sigma=self.rs_sigma, eps=self.rs_eps, norm=self.rs_norm)


@register
class RsRp(RobustMethod):
    name = "rs-rp"
    summary = "randomized smoothing: cross-entropy on word embeddings plus random noise"
    settings_type = RsRpSettings

    def __init__(self, settings: RsRpSettings | None = None, *, noise: NoiseSpec | None = None) -> None:
        super().__init__(settings)
        self.noise = noise if noise is not None else self.settings.noise

    @classmethod
    def from_config(cls, source: Any) -> "RsRp":
        """From a ``TrainConfig`` (``rs_*`` keys) or a ``RobustConfig`` (whose ``noise`` is the exact spec)."""
        noise = getattr(source, "noise", None)
        if isinstance(noise, NoiseSpec):
            settings = RsRpSettings(rs_noise=noise.kind, rs_sigma=noise.sigma if noise.sigma > 0 else 0.01,
                                    rs_eps=noise.eps if noise.eps > 0 else 0.1, rs_norm=noise.norm)
            return cls(settings, noise=noise)
        return cls(cls.settings_from(source))

    def loss(self, trainer, model, inputs, labels):
        e = embedded(trainer, model, inputs)
        gen = trainer.noise_generator()
        outputs = model(inputs_embeds=e.embeds + self.noise.sample(e.embeds, gen, e.mask), **e.inputs)
        return trainer.ce(outputs.logits, labels), outputs
