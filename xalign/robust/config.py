"""Configuration of the robust methods: :class:`RobustConfig` holds the hyper-parameters of one method
(saved with every run). Each is declared once with :func:`xalign.settings.setting` (default, help, bounds,
choices); :class:`xalign.pipelines.train.config.TrainConfig` takes them over with
:func:`xalign.settings.setting_from`, so the ``xalign train`` flags come from these declarations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from xalign.errors import ConfigError
from xalign.robust.perturb import NORMS, SCOPES
from xalign.robust.smoothing import NoiseSpec
from xalign.settings import check_settings, setting
from xalign.settings.recipes import XTREME

METHODS = ("baseline", "adv", "rs-rp", "rs-da")
# mixed: CE(x) + w·CE(x + δ_K); adv-only: CE(x + δ_K) (Madry et al. 2018);
# freelb: mean_k CE(x + δ_k), k = 0 … K-1, from a random δ_0 (Zhu et al. 2020)
ADV_OBJECTIVES = ("mixed", "adv-only", "freelb")


def _method_names() -> tuple[str, ...]:
    """The registered methods, asked at check time (a method registered later is accepted)."""
    from xalign.robust.methods import method_names

    return tuple(method_names())


@dataclass
class RobustConfig:
    """Hyper-parameters of the robust training method (saved with every run).

    ``adv_objective`` (method ``adv`` only) chooses what the update minimises, see
    :mod:`xalign.robust.trainer`: ``"mixed"`` (default, the objective xalign always had), ``"adv-only"``
    or ``"freelb"``. FreeLB always starts from a random point in the ball (its algorithm), so
    ``adv_random_start`` is set to True for it, and ``adv_weight`` applies to ``"mixed"`` only."""

    method: str = setting("baseline", "robust training method — see below", choices=lambda: _method_names())
    seed: int = setting(XTREME["seed"], "seed for data subsets, initialisation, dropout and noise", ge=0, le=2**32 - 1)
    adv_objective: str = setting("mixed", "what the adv update minimises — see below", choices=ADV_OBJECTIVES)
    adv_steps: int = setting(1, "PGD steps K", ge=0)
    adv_eps: float = setting(0.1, "radius of the perturbation ball", ge=0)
    adv_alpha: float = setting(0.1, "PGD step size", ge=0)
    adv_norm: str = setting("l2", "norm of the perturbation ball", choices=NORMS)
    adv_scope: str = setting("token", "token: one ball per token; sequence: one ball per sentence", choices=SCOPES)
    adv_random_start: bool = setting(False, "start PGD uniformly in the ball")
    adv_weight: float = setting(1.0, "weight of the adversarial loss (adv-objective mixed only)", ge=0)
    noise: NoiseSpec = field(default_factory=NoiseSpec)

    def __post_init__(self) -> None:
        if isinstance(self.noise, dict):
            self.noise = NoiseSpec(**self.noise)
        check_settings(self)  # types, choices, finite values within bounds
        from xalign.robust.methods import get_method

        get_method(self.method)  # ConfigError naming the registered methods
        if self.adv_objective != "mixed" and self.method != "adv":
            raise ConfigError(f"adv_objective {self.adv_objective!r} applies to method 'adv' only, got method "
                              f"{self.method!r}")
        if self.adv_objective == "freelb":
            if self.adv_steps < 1:
                raise ConfigError(f"adv_objective 'freelb' needs adv_steps >= 1 (its K ascent steps), got "
                                  f"{self.adv_steps}")
            self.adv_random_start = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
