"""Configuration of the robust methods: :class:`RobustConfig` holds the hyper-parameters of one method
(saved with every run). Each is declared once with :func:`xalign.settings.setting` (default, help, bounds,
choices); :class:`xalign.pipelines.train.config.TrainConfig` takes them over with
:func:`xalign.settings.setting_from`, so the ``xalign train`` flags come from these declarations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from xalign.errors import ConfigError
from xalign.robust.perturb import NORMS, SCOPES  # noqa: F401  (re-exported)
from xalign.robust.smoothing import NoiseSpec
from xalign.robust.methods.adv import ADV_OBJECTIVES, AdvSettings  # noqa: F401  (re-exported)
from xalign.settings import check_settings, setting, setting_from
from xalign.settings.recipes import XTREME

METHODS = ("baseline", "adv", "rs-rp", "rs-da")
# mixed: CE(x) + w·CE(x + δ_K); adv-only: CE(x + δ_K) (Madry et al. 2018);
# freelb: mean_k CE(x + δ_k), k = 0 … K-1, from a random δ_0 (Zhu et al. 2020)


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
    adv_objective: str = setting_from(AdvSettings, "adv_objective")
    adv_steps: int = setting_from(AdvSettings, "adv_steps")
    adv_eps: float = setting_from(AdvSettings, "adv_eps")
    adv_alpha: float = setting_from(AdvSettings, "adv_alpha")
    adv_norm: str = setting_from(AdvSettings, "adv_norm")
    adv_scope: str = setting_from(AdvSettings, "adv_scope")
    adv_random_start: bool = setting_from(AdvSettings, "adv_random_start")
    adv_weight: float = setting_from(AdvSettings, "adv_weight")
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
