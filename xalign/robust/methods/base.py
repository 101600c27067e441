"""The robust-method protocol and its registry: a method is a name, a settings dataclass and a loss.

A method is a subclass of :class:`RobustMethod` registered with :func:`register`:

* ``name`` — what ``--method`` / ``TrainConfig.method`` selects;
* ``settings_type`` — a dataclass whose fields are the method's settings, each declared once with
  :func:`setting` (default, help, bounds or choices in the field metadata; the train flags are generated
  from them). Field names are the flat config keys (``adv_eps`` …), so ``config.json`` keeps them;
* :meth:`RobustMethod.loss` — the training loss of one micro-batch (evaluation is always plain CE);
* optionally :meth:`RobustMethod.train_data` — the training set it sees (RS-DA substitutes words there).

The loss gets the :class:`xalign.robust.trainer.RobustTrainer` as ``trainer``; the helpers a method may use
are ``trainer.ce(logits, labels)``, ``trainer.noise_generator()`` (seeded by seed, process, step and
micro-batch), ``trainer.grad_scale()``, ``trainer.record(clean_loss=…, adv_loss=…)`` (averaged into the
training log), ``trainer.retained`` (DeepSpeed/FSDP: one backward per step) and ``trainer.accelerator``.
See ``docs/extending.md`` ("A robust method").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from xalign.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import torch

__all__ = ["Embedded", "NoSettings", "RobustMethod", "TrainData", "check_settings", "embedded", "get_method",
           "import_package_modules", "load_entry_points", "method_names", "register", "setting", "settings_fields",
           "unregister"]


def setting(default: Any, help: str, **meta: Any) -> Any:
    """A method setting: :func:`xalign.settings.setting` (the one declaration; ``min``/``max``/``exclusive_min``,
    ``choices``, ``flag``/``sep``/``repeat``/``metavar``), so ``xalign train`` generates its flag."""
    from xalign.settings import setting as declare

    return declare(default, help, **meta)


def check_settings(settings: Any, *, method: str = "") -> None:
    """``ConfigError`` naming the flag when a field of ``settings`` is outside its declared bounds or choices:
    :func:`xalign.settings.check_settings`, the one checker (``method`` is kept for callers' readability)."""
    from xalign.settings import check_settings as check

    check(settings)


@dataclass(frozen=True)
class NoSettings:
    """The settings of a method that has none."""


@dataclass
class TrainData:
    """What a method trains on: the tokenized ``dataset`` and, for offline augmentation, the ``copies`` it made
    (a ``datasets.Dataset`` with ``item_id``, ``copy``, ``sentence1``, [``sentence2``], ``label``) that the
    pipeline writes next to the run."""

    dataset: Any
    copies: "datasets.Dataset | None" = None


class RobustMethod:
    """Base class of a robust training method (see the module docstring). Instances hold validated settings."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line for --help
    settings_type: ClassVar[type] = NoSettings

    def __init__(self, settings: Any = None) -> None:
        if settings is None:
            settings = self.settings_type()
        if not isinstance(settings, self.settings_type):
            raise ConfigError(f"method {self.name} expects settings of type {self.settings_type.__name__}, got "
                              f"{type(settings).__name__}")
        check_settings(settings, method=self.name)
        self.settings = settings

    @classmethod
    def settings_from(cls, source: Any) -> Any:
        """This method's settings read by field name from ``source`` (a mapping, or an object such as
        ``TrainConfig``/``RobustConfig``); absent keys keep their defaults."""
        values = {}
        for f in dataclasses.fields(cls.settings_type):
            if isinstance(source, Mapping):
                if f.name in source:
                    values[f.name] = source[f.name]
            elif hasattr(source, f.name):
                values[f.name] = getattr(source, f.name)
        return cls.settings_type(**values)

    @classmethod
    def from_config(cls, source: Any) -> "RobustMethod":
        return cls(cls.settings_from(source))

    def loss(self, trainer: Any, model: "torch.nn.Module", inputs: dict[str, "torch.Tensor"],
             labels: "torch.Tensor") -> tuple["torch.Tensor", Any]:
        """``(loss, outputs)`` of one training micro-batch; ``inputs`` holds ``input_ids``, ``attention_mask`` …
        (no labels). The default: cross-entropy on the clean inputs."""
        outputs = model(**inputs)
        return trainer.ce(outputs.logits, labels), outputs

    def train_data(self, data: "datasets.Dataset", tokenizer: Any, *, max_length: int, seed: int,
                   model: Any = None) -> TrainData:
        """The training set (default: ``data`` tokenized as it is, one or two sentences per item)."""
        from xalign.training.features import PairDataset

        return TrainData(PairDataset.from_dataset(data, tokenizer, max_length=max_length))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.name, **dataclasses.asdict(self.settings)}


@dataclass
class Embedded:
    """A batch moved to the embedding space: ``embeds`` = word embeddings of ``input_ids`` (with their graph),
    ``inputs`` = the other model inputs, ``mask`` = the attention mask (or None), ``inner`` = the unwrapped model."""

    inner: Any
    input_ids: "torch.Tensor"
    embeds: "torch.Tensor"
    inputs: dict[str, Any]
    mask: "torch.Tensor | None"


def embedded(trainer: Any, model: Any, inputs: Mapping[str, Any]) -> Embedded:
    """The batch as word embeddings, for methods that perturb them (``model(inputs_embeds=…, **e.inputs)``)."""
    rest = dict(inputs)
    inner = trainer.accelerator.unwrap_model(model)
    input_ids = rest.pop("input_ids")
    embeds = inner.get_input_embeddings()(input_ids)
    return Embedded(inner, input_ids, embeds, rest, rest.get("attention_mask"))


_REGISTRY: dict[str, type[RobustMethod]] = {}


def register(cls: type[RobustMethod], *, replace: bool = False) -> type[RobustMethod]:
    """Register a method class under ``cls.name`` (usable as a class decorator); a taken name needs ``replace``."""
    if not (isinstance(cls, type) and issubclass(cls, RobustMethod)) or not cls.name:
        raise ConfigError(f"a robust method is a RobustMethod subclass with a name, got {cls!r}")
    if not dataclasses.is_dataclass(cls.settings_type):
        raise ConfigError(f"method {cls.name}: settings_type must be a dataclass, got {cls.settings_type!r}")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls and not replace:
        raise ConfigError(f"a robust method named {cls.name!r} is already registered ({_REGISTRY[cls.name]!r})")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a registered method (tests that register a toy one)."""
    _REGISTRY.pop(name, None)


def method_names() -> tuple[str, ...]:
    """The registered method names, in registration order (the built-ins first)."""
    return tuple(_REGISTRY)


def get_method(name: str) -> type[RobustMethod]:
    """The method class registered as ``name`` (``ConfigError`` listing the known names). A name not yet
    registered is looked up once among the ``xalign.methods`` entry points of installed packages."""
    if isinstance(name, str) and name not in _REGISTRY:
        load_entry_points(name)
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown method {name!r}: expected one of {', '.join(_REGISTRY)}") from None


ENTRY_POINT_GROUP = "xalign.methods"


def load_entry_points(name: str) -> None:
    """Import the entry point ``name`` of the ``xalign.methods`` group (``name = "pkg.module"`` or
    ``"pkg.module:Class"``); importing the module registers its method (a class is registered here)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded = ep.load()
            if isinstance(loaded, type) and issubclass(loaded, RobustMethod):
                register(loaded)


def import_package_modules(package: str, path: Any) -> None:
    """Import every module of ``package`` (folder ``path``) not imported yet, in name order: a method module
    dropped into the folder registers itself with no other edit."""
    import importlib
    import pkgutil
    import sys

    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if f"{package}.{info.name}" not in sys.modules:
            importlib.import_module(f"{package}.{info.name}")


def settings_fields() -> dict[str, tuple[dataclasses.Field, tuple[str, ...]]]:
    """Every setting of every registered method: ``name → (field, the methods that declare it)`` (for
    generating flags; a name two methods share must mean the same thing)."""
    out: dict[str, tuple[dataclasses.Field, tuple[str, ...]]] = {}
    for name, cls in _REGISTRY.items():
        for f in dataclasses.fields(cls.settings_type):
            prev = out.get(f.name)
            out[f.name] = (prev[0] if prev else f, (*(prev[1] if prev else ()), name))
    return out
