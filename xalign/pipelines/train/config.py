"""The settings of ``xalign train``: :class:`TrainConfig` (validated on construction, saved as ``config.json``).

Each setting is declared once, as a field made by :func:`xalign.settings.setting` (default, help, choices,
flag name, bounds); the ``xalign train`` flags are generated from these fields (:mod:`xalign.cli.flags`),
and the robust method's settings are taken over from :class:`xalign.robust.config.RobustConfig`. A
``recipe`` fills the settings the user does not give (:mod:`xalign.settings.recipes`); ``sources`` records
which values came from the recipe and which from the user. :func:`training_arguments` is the one place
where the settings become ``transformers.TrainingArguments``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import InitVar, dataclass
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, DependencyError
from xalign.robust.config import RobustConfig  # torch-free
from xalign.robust.methods.rs_da import RsDaSettings  # torch-free
from xalign.settings import check_settings, default_of, flag_of, from_mapping, read_config_file, setting, setting_from
from xalign.settings.recipes import RECIPES, XTREME, resolve_recipe

PROTOCOLS = ("standard", "noleak")
from xalign.robust.methods.rs_da import RSDA_SOURCES  # noqa: E402  (declared once, by the method)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# may change on resume
_RUN_ONLY = ("resume", "overwrite", "progress", "num_workers", "report_to", "tensorboard", "keep_checkpoints")
_OUTPUTS = ("checkpoints", "encoder", "model", "config.json", "log.csv", "manifest.json", "train_metrics.json",
            "rsda_copies.tsv", "report.html", "tensorboard")
_R = RobustConfig


@dataclass
class TrainConfig:
    """Everything a training run depends on; validated on construction, saved as ``config.json``.

    The optimisation defaults are XTREME's (:data:`xalign.settings.recipes.XTREME`, the Robust-XLT recipe):
    AdamW with a linear schedule, the best checkpoint by dev accuracy in the training language.
    """

    out: str = setting("runs/train", "run directory")
    model: str = setting("default", "'default' (bundled multilingual-e5-small), a local HF directory or a hub id")
    # data
    recipe: str | None = setting(
        None, "a published recipe: robust-xlt (Huang et al. 2021 via XTREME: lr 2e-5, batch 32, max length 128, "
        "random batches; XNLI 1 epoch, dev evaluation every 1000 steps; PAWS-X 3 epochs, every 500; best checkpoint "
        "by English dev accuracy; rs-da with 3 / 10 offline copies). Flags you give win; config.json records each "
        "value's source; a too-long evaluation interval is scaled to the run and logged", choices=tuple(RECIPES))
    task: str = setting("xnli", "xnli, pawsx, sib200 (any registered task: docs/extending.md), or pairs (your "
                        "--train-file/--select-file/--eval-file)")
    data_dir: str | None = setting(
        None, "local copy of the task's dev/test data: XTREME layout (<split>-<lang>.tsv, flat, in dev/ and test/ or "
        "any subfolder), PAWS-X x-final (<lang>/dev_2k.tsv …) or myXNLI; SIB-200: <flores code>/{train,dev,test}.tsv; "
        "default: the HF hub")
    data_layout: str = setting("auto", "auto (per split, the source with the most languages) or one of the task's "
                               "layouts: xtreme, x-final, myxnli (XNLI/PAWS-X), sib200")
    protocol: str = setting("standard", "standard (train/dev/test) or noleak (train on test items, select and "
                            "evaluate on disjoint dev items; for local XNLI copies)", choices=PROTOCOLS)
    train_lang: str = setting("en", "training language")
    eval_langs: list[str] = setting(lambda: ["en"], "comma-separated evaluation languages, or all", sep=",")
    eval_splits: list[str] = setting(lambda: ["test"], "test, dev, or test,dev: with dev, English dev items are "
                                     "halved (selection on one half, dev evaluation on the other)", sep=",",
                                     choices=("dev", "test"))
    generalized: bool = setting(False, "also the l1 x l2 accuracy matrix (sentence 1 in l1, sentence 2 in l2), on "
                                "the items every one of its languages has")
    generalized_langs: list[str] | None = setting(None, "comma-separated languages of the matrix (default: all "
                                                  "evaluated)", sep=",")
    generalized_n: int | None = setting(None, "a seeded subsample of items for the matrix (same in every cell)", ge=1)
    generalized_split: str | None = setting(None, "split of the matrix (default: the first that has its languages)")
    n_train: int | None = setting(None, "training items (default: all)", ge=1)
    n_select: int | None = setting(None, "model-selection (dev) items (default: all / half the dev set)", ge=1)
    n_eval: int | None = setting(None, "evaluation items per language (default: all)", ge=1)
    data_seed: int | None = setting(None, "seed of item subsamples and dev halves (default: --seed)", ge=0,
                                    le=2**32 - 1)
    train_file: str | None = setting(None, "training file: TSV (with header) or JSONL; with --task xnli/pawsx a "
                                     "MultiNLI JSONL (premise/hypothesis/label) or PAWS TSV (id sentence1 sentence2 "
                                     "label)")
    select_file: str | None = setting(None, "task pairs: model-selection file")
    eval_files: dict[str, str] = setting(dict, "task pairs: evaluation file", flag="eval_file", repeat=True,
                                         metavar="LANG=FILE")
    columns: dict[str, str] = setting(dict, "task pairs: file column for sentence1, sentence2, label or item_id",
                                      flag="column", repeat=True, metavar="KEY=NAME")
    label_names: list[str] | None = setting(None, "task pairs: comma-separated label names in class order", sep=",")
    # method
    method: str = setting_from(_R, "method")
    adv_steps: int = setting_from(_R, "adv_steps")
    adv_eps: float = setting_from(_R, "adv_eps")
    adv_alpha: float = setting_from(_R, "adv_alpha")
    adv_norm: str = setting_from(_R, "adv_norm")
    adv_scope: str = setting_from(_R, "adv_scope")
    adv_random_start: bool = setting_from(_R, "adv_random_start")
    adv_weight: float = setting_from(_R, "adv_weight")
    adv_objective: str = setting_from(_R, "adv_objective")
    rs_noise: str = setting("gaussian", "noise of rs-rp and smoothed accuracy", choices=("gaussian", "uniform"))
    rs_sigma: float = setting(0.01, "Gaussian noise standard deviation", ge=0)
    rs_eps: float = setting(0.1, "uniform-noise ball radius", ge=0)
    rs_norm: str = setting("l2", "uniform-noise ball norm", choices=("l2", "linf"))
    smooth_n: int = setting(0, "also report smoothed accuracy over N noisy copies (0: off)", ge=0)
    rsda_sources: list[str] = setting_from(RsDaSettings, "rsda_sources")
    synonyms: str | None = setting_from(RsDaSettings, "synonyms")
    dictionaries: list[str] = setting_from(RsDaSettings, "dictionaries")
    embed_k: int = setting_from(RsDaSettings, "embed_k")
    embed_min_cos: float = setting_from(RsDaSettings, "embed_min_cos")
    rsda_copies: int = setting_from(RsDaSettings, "rsda_copies")
    rsda_paired: bool = setting_from(RsDaSettings, "rsda_paired")
    freeze_embeddings: bool = setting(False, "do not train the word-embedding matrix (position/type embeddings and "
                                      "layers still train)")
    head: str = setting("stock", "classification head: stock (the model's own; for BERT a [CLS] pooler, freshly "
                        "initialised when the encoder stores none, as e5 does) or mean (one linear layer over the "
                        "mean of every token's last hidden state, how e5 pools)", choices=("stock", "mean"))
    # optimisation
    learning_rate: float = setting(XTREME["learning_rate"], "learning rate", flag="lr", gt=0)
    adam_epsilon: float = setting(XTREME["adam_epsilon"], "AdamW epsilon", gt=0)
    weight_decay: float = setting(XTREME["weight_decay"], "AdamW weight decay", ge=0)
    lr_scheduler: str = setting(XTREME["lr_scheduler"], "learning-rate schedule",
                                choices=("linear", "constant", "cosine"))
    warmup_steps: int = setting(XTREME["warmup_steps"], "warm-up steps", ge=0)
    max_grad_norm: float = setting(XTREME["max_grad_norm"], "gradient clipping (0: none)", ge=0)
    max_length: int = setting(XTREME["max_length"], "max tokens per pair", ge=1)
    batch_size: int = setting(XTREME["batch_size"], "effective batch size over devices and accumulation", ge=1)
    grad_accum: int = setting(1, "gradient accumulation steps", ge=1)
    eval_batch_size: int = setting(64, "evaluation batch size per device", ge=1)
    epochs: float = setting(1.0, "training epochs (--max-steps, when given, decides)", gt=0)
    max_steps: int | None = setting(None, "optimizer steps (overrides --epochs)", ge=1)
    eval_steps: int | None = setting(None, "evaluate and checkpoint every N steps (default: each epoch end and the "
                                     "last step)", ge=1)
    logging_steps: int = setting(10, "log the loss every N steps (and at the last step)", ge=1)
    save_total_limit: int = setting(2, "checkpoints kept besides the best", ge=1)
    keep_checkpoints: bool = setting(False, "keep checkpoints/ after a finished run (default: delete)")
    seed: int = setting_from(_R, "seed")
    # hardware and logging
    precision: str = setting("auto", "auto: bf16 on a capable GPU, else fp32", choices=PRECISIONS)
    device: str = setting("auto", "auto: CUDA when available", choices=("auto", "cpu", "cuda"))
    group_by_length: bool = setting(XTREME["group_by_length"], "batch pairs of similar length (default off: random "
                                    "batches, as the recipe and a plain transformers fine-tune; see "
                                    "analysis/baseline_parity.json)")
    num_workers: int = setting(0, "data-loader workers (at most the number of CPUs)", ge=0)
    report_to: list[str] = setting(lambda: ["none"], "comma-separated Trainer integrations, e.g. wandb", sep=",")
    tensorboard: bool | None = setting(None, "TensorBoard logs in <out>/tensorboard (default: when tensorboard is "
                                       "installed)")
    progress: bool | None = setting(None, "show progress bars (default: when stderr is a terminal)")
    resume: bool = setting(False, "continue the unfinished run in --out from its last checkpoint")
    overwrite: bool = setting(False, "replace the xalign train run in --out: the new run is built beside it and "
                              "swapped in when it finishes (a failed or killed new run leaves the old one intact)")
    trust_remote_code: bool = setting(False, "allow model code from the hub")
    sources: dict[str, str] = setting(dict, "recipe keys → 'recipe' or 'user' (filled in)", cli=False)
    allow_pickle: bool = setting(False, "also load pickle weights (pytorch_model.bin) when a model has no "
                                 "safetensors; unpickling can run code, so only for files you trust (default: "
                                 "safetensors only)")
    given: InitVar[Any] = None  # the keys given explicitly (from_dict); None: those that differ from the default

    def __post_init__(self, given: Any = None) -> None:
        check_settings(self)  # types, choices, finite values within their bounds; errors name the flag
        if self.recipe and not self.sources:
            self._apply_recipe(given)
            check_settings(self)
        if len(set(self.eval_splits)) != len(self.eval_splits) or not self.eval_splits:
            raise ConfigError(f"--eval-splits must name dev and/or test once each, got {self.eval_splits}")
        self._robust()  # the method's own cross-checks
        if self.batch_size % self.grad_accum:
            raise ConfigError(f"--batch-size ({self.batch_size}) must be divisible by --grad-accum ({self.grad_accum})")
        cpus = os.cpu_count() or 1
        if self.num_workers > cpus:
            raise ConfigError(f"--num-workers must be at most the {cpus} CPUs of this machine, got {self.num_workers}")
        self._check_task()
        self._check_method_inputs()

    def _apply_recipe(self, given: Any) -> None:
        """Fill the recipe's values for the settings not ``given`` (default: those still at their default)."""
        if given is None:
            given = [f.name for f in dataclasses.fields(self) if getattr(self, f.name) != default_of(f)]
        values, self.sources = resolve_recipe(self.recipe, self.task, self.method, dict.fromkeys(given))
        for key, value in values.items():
            setattr(self, key, value)

    def _check_task(self) -> None:
        from xalign.data.tasks import check_label_names

        self.label_names = check_label_names(self.label_names)  # the one check, shared with the file readers
        if self.task == "pairs":
            if not self.train_file or not self.select_file or not self.eval_files:
                raise ConfigError("--task pairs needs --train-file, --select-file and --eval-file LANG=FILE")
            self.eval_langs = list(self.eval_files)
            return
        from xalign.data.tasks import check_language, task_spec

        spec = task_spec(self.task)  # any registered task, by its name or an alias; one line naming them otherwise
        self.task = spec.name
        if self.data_layout != "auto":
            spec.layout(self.data_layout)
        self.train_lang = check_language(spec, self.train_lang)
        if self.eval_langs != ["all"]:
            self.eval_langs = list(dict.fromkeys(check_language(spec, lang) for lang in self.eval_langs))
        if self.generalized_langs is not None:
            self.generalized_langs = list(dict.fromkeys(check_language(spec, x) for x in self.generalized_langs))
        if self.protocol == "noleak" and (self.train_file or self.eval_splits != ["test"]):
            raise ConfigError("--protocol noleak trains on test items and evaluates on dev items: it takes no "
                              "--train-file and no --eval-splits")
        if not self.eval_langs:
            raise ConfigError("give at least one evaluation language (--eval-langs) or --eval-file")

    def _check_method_inputs(self) -> None:
        if self.method == "rs-da":
            if not self.rsda_sources:
                raise ConfigError(f"--method rs-da needs --rsda-sources (any of {', '.join(RSDA_SOURCES)})")
            if "synonyms" in self.rsda_sources and not self.synonyms:
                raise ConfigError("rs-da with the 'synonyms' source needs --synonyms FILE (a JSON {word: [...]} file)")
            if "dictionary" in self.rsda_sources and not self.dictionaries:
                raise ConfigError("rs-da with the 'dictionary' source needs --dictionary FILE (foreign<TAB>english)")
        wanted = [x for x in self.report_to if x not in ("none", "all")]
        if wanted:
            from transformers.integrations import get_available_reporting_integrations

            missing = sorted(set(wanted) - set(get_available_reporting_integrations()))
            if missing:
                raise DependencyError(f"--report-to {','.join(self.report_to)}: {', '.join(missing)} is not "
                                      f"installed here; pip install {' '.join(missing)}, or leave --report-to out")

    def _robust(self) -> RobustConfig:
        """The method's settings, as the trainer takes them."""
        from xalign.robust.smoothing import NoiseSpec

        uses_noise = self.method == "rs-rp" or self.smooth_n > 0
        noise = (NoiseSpec(kind=self.rs_noise, sigma=self.rs_sigma, eps=self.rs_eps, norm=self.rs_norm)
                 if uses_noise else NoiseSpec())
        names = [f.name for f in dataclasses.fields(RobustConfig) if f.name != "noise"]
        return RobustConfig(**{name: getattr(self, name) for name in names}, noise=noise)

    @property
    def show_progress(self) -> bool:
        """``progress``, or when unset: whether stderr is a terminal."""
        return self.progress if self.progress is not None else sys.stderr.isatty()

    def flag(self, name: str) -> str:
        """The CLI flag of setting ``name`` (``--lr`` for ``learning_rate``)."""
        return flag_of(self, name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> "TrainConfig":
        """Build from a mapping; unknown keys raise one ``ConfigError`` naming them and the valid keys.
        With a ``recipe``, the recipe's values fill the keys the mapping does not give."""
        aliases = {"lr": "learning_rate"}
        keys = (str(k).replace("-", "_") for k in data) if isinstance(data, dict) else None
        given = [aliases.get(k, k) for k in keys] if keys is not None else None
        return from_mapping(cls, data, source=source, aliases=aliases, given=given)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        """Read a YAML (``.yaml``/``.yml``) or JSON config file; ``overrides`` win over the file."""
        return cls.from_dict({**read_config_file(path), **overrides}, source=str(path))


def training_arguments(config: TrainConfig, out: Path, *, eval_steps: int | None, cuda: bool, bf16: bool) -> Any:
    """The one place where the settings become ``transformers.TrainingArguments`` (checkpoints in
    ``out/checkpoints``; the best checkpoint by dev accuracy is loaded at the end)."""
    from transformers import TrainingArguments

    strategy = "steps" if eval_steps else "epoch"
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=config.batch_size // config.grad_accum,
        per_device_eval_batch_size=config.eval_batch_size, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, adam_epsilon=config.adam_epsilon, weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler, warmup_steps=config.warmup_steps, max_grad_norm=config.max_grad_norm,
        num_train_epochs=config.epochs, max_steps=config.max_steps or -1, logging_steps=config.logging_steps,
        eval_strategy=strategy, save_strategy=strategy, eval_steps=eval_steps, save_steps=eval_steps,
        save_total_limit=config.save_total_limit, load_best_model_at_end=True,
        metric_for_best_model="eval_select_accuracy", greater_is_better=True, seed=config.seed,
        report_to=config.report_to, bf16=bf16, fp16=config.precision == "fp16", use_cpu=config.device == "cpu",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        dataloader_num_workers=config.num_workers, disable_tqdm=not config.show_progress,
        remove_unused_columns=False, dataloader_pin_memory=cuda)
    if args.world_size > 1:
        per_device, rest = divmod(config.batch_size, config.grad_accum * args.world_size)
        if rest or per_device < 1:
            raise ConfigError(f"--batch-size {config.batch_size} is not divisible by --grad-accum × devices "
                              f"({config.grad_accum} × {args.world_size})")
        args.per_device_train_batch_size = per_device
    return args
