"""The settings of ``xalign train``: :class:`TrainConfig` (validated on construction, saved as ``config.json``).

A ``recipe`` fills the keys the user does not give (:mod:`xalign.robust.recipes`); ``sources`` records which
values came from the recipe and which from the user.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError
from xalign.robust.config import RobustConfig  # torch-free

TASK_CHOICES = ("xnli", "pawsx", "pairs")
PROTOCOLS = ("standard", "noleak")
RSDA_SOURCES = ("synonyms", "embedding", "dictionary")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_RUN_ONLY = ("resume", "overwrite", "progress", "num_workers", "report_to", "tensorboard", "keep_checkpoints")  # may change on resume
_OUTPUTS = ("checkpoints", "encoder", "model", "config.json", "log.csv", "manifest.json", "train_metrics.json", "rsda_copies.tsv",
            "report.html", "tensorboard")


@dataclass
class TrainConfig:
    """Everything a training run depends on; validated on construction, saved as ``config.json``.

    Defaults are the Robust-XLT/XTREME recipe: AdamW lr 2e-5, eps 1e-8, no weight decay, linear decay
    without warm-up, gradient clipping 1.0, max length 128, effective batch 32, seed 7, the best
    checkpoint by dev accuracy in the training language.
    """

    out: str = "runs/train"
    model: str = "default"
    # data
    recipe: str | None = None  # a published recipe (robust-xlt): its settings unless given explicitly
    task: str = "xnli"  # xnli | pawsx | pairs (your own train/select/eval files)
    data_dir: str | None = None  # local copy (XTREME / x-final / myXNLI layout); None = the Hugging Face hub
    data_layout: str = "auto"  # auto | xtreme | x-final | myxnli
    protocol: str = "standard"  # standard: train/dev/test; noleak: train on test, select/eval on disjoint dev items
    train_lang: str = "en"
    eval_langs: list[str] = field(default_factory=lambda: ["en"])  # ["all"]: every language the data has
    eval_splits: list[str] = field(default_factory=lambda: ["test"])  # with "dev": select on half A, report half B
    generalized: bool = False  # also the l1 × l2 matrix (sentence 1 in l1, sentence 2 in l2)
    generalized_langs: list[str] | None = None  # default: the evaluation languages of the generalized split
    generalized_n: int | None = None  # a seeded subsample of items (the same in every cell)
    generalized_split: str | None = None  # default: the first evaluation split that has every generalized language
    n_train: int | None = None
    n_select: int | None = None
    n_eval: int | None = None
    data_seed: int | None = None  # seed of the item subsamples and the dev halves (default: seed)
    train_file: str | None = None  # task=pairs; or xnli/pawsx training data from a file (MultiNLI JSONL, PAWS TSV)
    select_file: str | None = None
    eval_files: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # sentence1/sentence2/label/item_id → file column
    label_names: list[str] | None = None
    # method
    method: str = "baseline"  # baseline | adv | rs-rp | rs-da
    adv_steps: int = RobustConfig.adv_steps  # the adversarial defaults live in RobustConfig
    adv_eps: float = RobustConfig.adv_eps
    adv_alpha: float = RobustConfig.adv_alpha
    adv_norm: str = RobustConfig.adv_norm
    adv_scope: str = RobustConfig.adv_scope
    adv_random_start: bool = RobustConfig.adv_random_start
    adv_weight: float = RobustConfig.adv_weight
    adv_objective: str = RobustConfig.adv_objective  # mixed | adv-only | freelb (method adv)
    rs_noise: str = "gaussian"
    rs_sigma: float = 0.01
    rs_eps: float = 0.1
    rs_norm: str = "l2"
    smooth_n: int = 0  # >0: also report smoothed accuracy (majority vote over N noisy copies)
    rsda_sources: list[str] = field(default_factory=lambda: ["synonyms"])
    synonyms: str | None = None
    dictionaries: list[str] = field(default_factory=list)
    embed_k: int = 8
    embed_min_cos: float = 0.5
    rsda_copies: int = 0  # 0: substitute on the fly (seeded per epoch/item); N: N precomputed copies
    rsda_paired: bool = False  # ablation: a word is replaced the same way in both sentences of an item
    freeze_embeddings: bool = False  # True: the word-embedding matrix does not train
    head: str = "stock"  # stock: the model's own classification head; mean: linear over mean-pooled tokens
    # optimisation
    learning_rate: float = 2e-5
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    max_length: int = 128
    batch_size: int = 32  # effective: per device × devices × grad_accum
    grad_accum: int = 1
    eval_batch_size: int = 64
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs
    eval_steps: int | None = None  # None: evaluate (and checkpoint) at each epoch end and at the last step
    logging_steps: int = 10
    save_total_limit: int = 2
    keep_checkpoints: bool = False  # False: delete checkpoints/ once the run has finished
    seed: int = 7
    precision: str = "auto"  # auto: bf16 on a bf16-capable GPU, else fp32
    device: str = "auto"
    group_by_length: bool = False  # random batches (measured: analysis/baseline_parity.json)
    num_workers: int = 0
    report_to: list[str] = field(default_factory=lambda: ["none"])
    tensorboard: bool | None = None  # None: when the tensorboard package is installed
    progress: bool = False
    resume: bool = False
    overwrite: bool = False
    trust_remote_code: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # recipe keys → "recipe" | "user" (filled in)
    allow_pickle: bool = False  # also load pytorch_model.bin (pickle) weights; off: safetensors only

    def __post_init__(self) -> None:
        for name in ("eval_langs", "eval_splits", "generalized_langs", "rsda_sources", "dictionaries", "report_to"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, [v.strip() for v in value.split(",") if v.strip()])
        from xalign.robust.config import check_field_types

        check_field_types(self)
        if self.recipe and not self.sources:  # built directly: a value that differs from its default was given
            from xalign.robust.recipes import resolve_recipe

            given = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                     if getattr(self, f.name) != _default(f)}
            values, self.sources = resolve_recipe(self.recipe, self.task, self.method, given)
            for key, value in values.items():
                setattr(self, key, value)
        _choice("data_layout", self.data_layout, ("auto", "xtreme", "x-final", "myxnli"))
        for split in self.eval_splits:
            _choice("eval_splits", split, ("dev", "test"))
        if not self.eval_splits or len(set(self.eval_splits)) != len(self.eval_splits):
            raise ConfigError(f"eval_splits must name dev and/or test once each, got {self.eval_splits}")
        for name in ("generalized_n", "data_seed"):
            if getattr(self, name) is not None and getattr(self, name) < (1 if name == "generalized_n" else 0):
                raise ConfigError(f"{name} must be >= {1 if name == 'generalized_n' else 0} (or null), "
                                  f"got {getattr(self, name)}")
        _choice("task", self.task, TASK_CHOICES)
        _choice("protocol", self.protocol, PROTOCOLS)
        _choice("precision", self.precision, PRECISIONS)
        _choice("lr_scheduler", self.lr_scheduler, ("linear", "constant", "cosine"))
        _choice("device", self.device, ("auto", "cpu", "cuda"))
        _choice("head", self.head, ("stock", "mean"))
        for src in self.rsda_sources:
            _choice("rsda_sources", src, RSDA_SOURCES)
        self._robust()  # validates method and its hyper-parameters
        for name in ("batch_size", "grad_accum", "eval_batch_size", "max_length", "logging_steps", "save_total_limit"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("smooth_n", "rsda_copies", "warmup_steps", "num_workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("n_train", "n_select", "n_eval", "max_steps", "eval_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1 (or null), got {getattr(self, name)}")
        if self.batch_size % self.grad_accum:
            raise ConfigError(f"batch_size ({self.batch_size}) must be divisible by grad_accum ({self.grad_accum})")
        if not 0 < self.learning_rate < float("inf"):  # also refuses NaN
            raise ConfigError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        if not self.epochs < float("inf") or (not self.epochs > 0 and self.max_steps is None):
            raise ConfigError(f"epochs must be a finite number > 0 (or give max_steps), got {self.epochs}")
        if self.task == "pairs":
            if not self.train_file or not self.select_file or not self.eval_files:
                raise ConfigError("task 'pairs' needs train_file, select_file and eval_files ({lang: file})")
            self.eval_langs = list(self.eval_files)
        else:
            from xalign.data.tasks import check_language, task_spec

            spec = task_spec(self.task)
            self.train_lang = check_language(spec, self.train_lang)
            if self.eval_langs != ["all"]:
                self.eval_langs = list(dict.fromkeys(check_language(spec, lang) for lang in self.eval_langs))
            if self.generalized_langs is not None:
                self.generalized_langs = list(dict.fromkeys(check_language(spec, x) for x in self.generalized_langs))
            if self.protocol == "noleak" and (self.train_file or self.eval_splits != ["test"]):
                raise ConfigError("protocol noleak trains on test items and evaluates on dev items: it takes no "
                                  "train_file and no eval_splits")
        if not self.eval_langs and not self.eval_files:
            raise ConfigError("give at least one evaluation language (eval_langs) or eval_files")
        if self.method == "rs-da":
            if not self.rsda_sources:
                raise ConfigError(f"method rs-da needs rsda_sources (any of {RSDA_SOURCES})")
            if "synonyms" in self.rsda_sources and not self.synonyms:
                raise ConfigError("rs-da with the 'synonyms' source needs synonyms=FILE (a JSON {word: [...]} file)")
            if "dictionary" in self.rsda_sources and not self.dictionaries:
                raise ConfigError("rs-da with the 'dictionary' source needs dictionaries=[FILE, ...] (foreign<TAB>english)")

    def _robust(self):
        from xalign.robust.smoothing import NoiseSpec

        uses_noise = self.method == "rs-rp" or self.smooth_n > 0
        noise = (NoiseSpec(kind=self.rs_noise, sigma=self.rs_sigma, eps=self.rs_eps, norm=self.rs_norm)
                 if uses_noise else NoiseSpec())
        return RobustConfig(method=self.method, seed=self.seed, adv_steps=self.adv_steps, adv_eps=self.adv_eps,
                            adv_alpha=self.adv_alpha, adv_norm=self.adv_norm, adv_scope=self.adv_scope,
                            adv_random_start=self.adv_random_start, adv_weight=self.adv_weight, noise=noise,
                            adv_objective=self.adv_objective)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> "TrainConfig":
        """Build from a mapping; unknown keys raise one ``ConfigError`` naming them and the valid keys.
        With a ``recipe``, the recipe's values fill the keys the mapping does not give."""
        from xalign.robust.config import dataclass_from_dict
        from xalign.robust.recipes import resolve_recipe

        data = {str(k).replace("-", "_"): v for k, v in data.items()}
        if data.get("recipe") and not data.get("sources"):
            values, sources = resolve_recipe(data["recipe"], str(data.get("task", cls.task)),
                                             str(data.get("method", cls.method)), data)
            data = {**data, **values, "sources": sources}
        return dataclass_from_dict(cls, data, source=source)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        """Read a YAML (``.yaml``/``.yml``) or JSON config file; ``overrides`` win over the file."""
        from xalign.robust.config import read_config_file

        return cls.from_dict({**read_config_file(path), **overrides}, source=str(path))


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}: expected one of {', '.join(choices)}")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING
