"""Robust fine-tuning for zero-shot cross-lingual transfer: ``train(TrainConfig(...)) -> TrainResult``.

A run directory holds ``config.json`` (written first), ``log.csv`` (per logging step), ``checkpoints/``
(safetensors; ``resume=True`` continues from the last one), then ``encoder/`` (opens with
``xalign.encoders.load_encoder``), ``model/`` (the classifier), ``manifest.json`` and, last and
atomically, ``train_metrics.json`` — a run without it did not finish.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, MissingFileError
from xalign.io import atomic_path, base_manifest, sha256_file, write_json
from xalign.robust.config import RobustConfig  # torch-free: torch is imported inside the functions that use it

logger = logging.getLogger(__name__)

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
    freeze_embeddings: bool = False  # True: the word-embedding matrix does not train
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
        for src in self.rsda_sources:
            _choice("rsda_sources", src, RSDA_SOURCES)
        self._robust()  # validates method and its hyper-parameters
        for name in ("batch_size", "grad_accum", "eval_batch_size", "max_length", "logging_steps", "save_total_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("smooth_n", "rsda_copies", "warmup_steps", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("n_train", "n_select", "n_eval", "max_steps", "eval_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (or null), got {getattr(self, name)}")
        if self.batch_size % self.grad_accum:
            raise ValueError(f"batch_size ({self.batch_size}) must be divisible by grad_accum ({self.grad_accum})")
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
            raise ValueError("give at least one evaluation language (eval_langs) or eval_files")
        if self.method == "rs-da":
            if not self.rsda_sources:
                raise ValueError(f"method rs-da needs rsda_sources (any of {RSDA_SOURCES})")
            if "synonyms" in self.rsda_sources and not self.synonyms:
                raise ValueError("rs-da with the 'synonyms' source needs synonyms=FILE (a JSON {word: [...]} file)")
            if "dictionary" in self.rsda_sources and not self.dictionaries:
                raise ValueError("rs-da with the 'dictionary' source needs dictionaries=[FILE, ...] (foreign<TAB>english)")

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


@dataclass
class TrainResult:
    """What a run produced: the run directory and the contents of ``train_metrics.json``."""

    run_dir: Path
    metrics: dict[str, Any]

    @property
    def accuracy(self) -> dict[str, float]:
        return self.metrics["eval"]["accuracy"]


# --------------------------------------------------------------------------- run directory
def _prepare_run_dir(config: TrainConfig, out: Path) -> Path:
    """Resume check and ``config.json`` in the claimed folder ``out`` (see :mod:`xalign.pipelines.train_run`)."""
    from xalign.pipelines.train_run import prepare_run_dir

    return prepare_run_dir(config, out, run_only=_RUN_ONLY)


def _read_files(config: TrainConfig):
    """task=pairs: train/select/eval files; a file's labels must be of the training file's kind (names or
    integers) unless ``label_names`` declares the order."""
    from xalign.data import task_splits, tasks
    from xalign.errors import DataError

    cols = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label", "item_id": None, **config.columns}
    unknown = sorted(set(config.columns) - {"sentence1", "sentence2", "label", "item_id"})
    if unknown:
        raise ConfigError(f"unknown column key(s) {unknown}: expected sentence1, sentence2, label or item_id")
    train, kind = tasks.read_pairs_with_kind(config.train_file, label_names=config.label_names, **cols)
    names = train.features["label"].names
    read = {}
    for what, path in [("select", config.select_file), *config.eval_files.items()]:
        ds, other = tasks.read_pairs_with_kind(path, label_names=names, **cols)
        if other != kind and not config.label_names:
            raise DataError(f"{path} has {other} as labels but the training file {config.train_file} has {kind}; "
                            f"give label_names (--label-names) to say which integer is which name")
        read[what] = ds
    select = read.pop("select")
    return task_splits.TaskSplits(train, select, read, "files", {"train_file": config.train_file,
                                                           "select_file": config.select_file, "eval_split": "eval"})


def _load_splits(config: TrainConfig):
    from xalign.data import task_splits, tasks

    if config.task == "pairs":
        splits = _read_files(config)
    elif config.protocol == "noleak":
        load1 = lambda lang, split: tasks.load_task(config.task, lang, split, data_dir=config.data_dir,  # noqa: E731
                                                    layout=config.data_layout)
        langs = (tasks.task_languages(config.task, "dev", data_dir=config.data_dir, layout=config.data_layout)
                 if config.eval_langs == ["all"] else config.eval_langs)
        splits = task_splits.noleak_splits(load1, train_lang=config.train_lang, languages=langs,
                                           n_train=config.n_train, n_select=config.n_select, n_eval=config.n_eval,
                                           seed=config.seed if config.data_seed is None else config.data_seed)
    else:
        load = lambda lang, split: tasks.load_task_split(config.task, lang, split,  # noqa: E731
                                                         data_dir=config.data_dir, layout=config.data_layout)
        languages = {}
        for split in config.eval_splits:
            have = tasks.task_languages(config.task, split, data_dir=config.data_dir, layout=config.data_layout)
            want = have if config.eval_langs == ["all"] else [x for x in config.eval_langs if x in have]
            missing = [] if config.eval_langs == ["all"] else [x for x in config.eval_langs if x not in have]
            if missing:
                logger.info("%s %s has no %s: those languages are evaluated on the other splits only",
                            config.task, split, ", ".join(missing))
            if want:
                languages[split] = want
        absent = [x for x in config.eval_langs if x != "all" and not any(x in v for v in languages.values())]
        if absent or not languages:
            raise ConfigError(f"no {'/'.join(config.eval_splits)} data for {', '.join(absent) or 'any language'} "
                              f"in {config.data_dir or 'the hub'}")
        if config.train_file:
            train = tasks.read_task_file(config.train_file, config.task, columns=config.columns)
        else:
            try:
                train = load(config.train_lang, "train")[0]
            except MissingFileError as exc:
                raise MissingFileError(f"{exc} (give a training file with train_file / --train-file, or use "
                                       f"protocol noleak)") from None
        splits = task_splits.standard_splits(load, train_lang=config.train_lang, languages=languages, train=train,
                                             n_train=config.n_train, n_select=config.n_select, n_eval=config.n_eval,
                                             seed=config.seed, data_seed=config.data_seed)
        splits.info["train_source"] = config.train_file or f"{config.task} {config.train_lang} train"
    if config.generalized:
        import numpy as np

        rng = np.random.default_rng([config.seed if config.data_seed is None else config.data_seed, 1])
        splits.generalized = task_splits.generalized_set(splits.eval_sets, config.generalized_langs,
                                                         split=config.generalized_split, n=config.generalized_n,
                                                         rng=rng)
    return splits


def _write_copies(path: Path, a: list[str], b: list[str], src: list[int], train_src, copies: int) -> None:
    """The offline RS-DA training set, as the released augment step writes it (each item's copies, no original),
    with the item id, copy number and label of every line."""
    from xalign.io import write_text

    ids, labels, names = train_src["item_id"], train_src["label"], train_src.features["label"].names
    n = len(ids)
    lines = ["item_id\tcopy\tsentence1\tsentence2\tlabel"]
    lines += [f"{ids[i]}\t{k // n}\t{x}\t{y}\t{names[labels[i]]}" for k, (x, y, i) in enumerate(zip(a, b, src))]
    write_text(path, "\n".join(lines) + "\n")
    logger.info("rs-da: %d offline copies of %d items written to %s", copies, n, path)


def _eval_steps(config: TrainConfig, n_train: int) -> tuple[int | None, dict[str, Any]]:
    """The evaluation interval to use, and a record of the scaling when the recipe's interval was too long
    for this run (:func:`xalign.robust.recipes.scaled_eval_steps`)."""
    import math

    if not (config.recipe and config.eval_steps and config.sources.get("eval_steps") == "recipe"):
        return config.eval_steps, {}
    from xalign.robust.recipes import scaled_eval_steps

    total = config.max_steps or math.ceil(math.ceil(n_train / config.batch_size) * config.epochs)
    used = scaled_eval_steps(config.recipe, config.task, config.eval_steps, total)
    if used == config.eval_steps:
        return used, {}
    logger.info("recipe %s evaluates every %d steps, but this run has %d steps: evaluating every %d steps instead "
                "(as many dev evaluations as the full-size run)", config.recipe, config.eval_steps, total, used)
    return used, {"eval_steps": {"recipe": config.eval_steps, "used": used, "total_steps": total}}


def _model_revision(path: str) -> str:
    from xalign.encoders import loading

    public = getattr(loading, "model_revision", None)
    return public(path) if public is not None else loading._revision_of(path, path)


# --------------------------------------------------------------------------- the pipeline
def train(config: TrainConfig, *, callbacks: list | None = None) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.task`` with ``config.method`` and evaluate zero-shot.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects. Bad settings, data, weights or an
    ``out`` xalign must not write raise one :class:`xalign.errors.XalignError` line; input files,
    weights and ``out`` are checked before anything is written or loaded, and a run that fails before
    its first checkpoint leaves ``out`` as it was (an ``overwrite`` run replaces the old one only when
    it has finished).
    """
    from xalign.pipelines.train_run import check_train_inputs, claim_run_folder

    check_train_inputs(config)
    with claim_run_folder(config, _OUTPUTS) as work:
        result = _train_in(config, work, callbacks=callbacks)
    return TrainResult(Path(config.out), result.metrics)


def _train_in(config: TrainConfig, work: Path, *, callbacks: list | None = None) -> TrainResult:
    """The run, written into ``work`` (``config.out`` itself or the staging folder swapped in after)."""
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              PrinterCallback, TrainingArguments, set_seed)

    from xalign.encoders import resolve_model_path
    from xalign.encoders.loading import model_errors
    from xalign.robust import callbacks as cbs
    from xalign.robust import evaluate as ev
    from xalign.robust.features import PairDataset
    from xalign.robust.freeze import freeze_input_embeddings
    from xalign.robust.substitutions import augment_pairs, build_table
    from xalign.robust.trainer import RobustTrainer

    started = time.time()
    robust = config._robust()
    out = _prepare_run_dir(config, work)
    splits = _load_splits(config)
    names = splits.train.features["label"].names
    for what, ds in [("select", splits.select), *((f"{s}/{k}", v) for s, d in splits.eval_sets.items()
                                                  for k, v in d.items())]:
        if ds.features["label"].names != names:
            raise ConfigError(f"label sets differ: train has {names}, {what} has {ds.features['label'].names}")

    model_path = resolve_model_path(config.model)
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=config.trust_remote_code)
    with model_errors(config.model, allow_pickle=config.allow_pickle):
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path, num_labels=len(names), id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)}, trust_remote_code=config.trust_remote_code,
            use_safetensors=None if config.allow_pickle else True)
    if config.freeze_embeddings:
        freeze_input_embeddings(model)
    limit = int(getattr(model.config, "max_position_embeddings", 10**9))
    if 0 < tokenizer.model_max_length < 10**6:
        limit = min(limit, int(tokenizer.model_max_length))
    if config.max_length > limit:
        raise ValueError(f"max_length {config.max_length} exceeds the model maximum of {limit} tokens")

    train_src = splits.train
    table = None
    if config.method == "rs-da":
        table = build_table(config.rsda_sources, texts=list(train_src["sentence1"]) + list(train_src["sentence2"]),
                            synonyms=config.synonyms, dictionaries=config.dictionaries, tokenizer=tokenizer,
                            embeddings=model.get_input_embeddings().weight, k=config.embed_k,
                            min_cos=config.embed_min_cos)
    if table is not None and config.rsda_copies > 0:
        labels = list(train_src["label"])
        a, b, src = augment_pairs(list(train_src["sentence1"]), list(train_src["sentence2"]), table,
                                  copies=config.rsda_copies, seed=config.seed)
        train_ds = PairDataset(a, b, [labels[i] for i in src], tokenizer, max_length=config.max_length)
        _write_copies(out / "rsda_copies.tsv", a, b, src, train_src, config.rsda_copies)
    else:
        train_ds = PairDataset.from_dataset(train_src, tokenizer, max_length=config.max_length, table=table,
                                            seed=config.seed)
    select_ds = PairDataset.from_dataset(splits.select, tokenizer, max_length=config.max_length)
    logger.info("data: %d train / %d select pairs (%d train pairs reach max_length %d); eval %s%s", len(train_ds),
                len(select_ds), train_ds.n_truncated(), config.max_length,
                {s: {k: len(v) for k, v in d.items()} for s, d in splits.eval_sets.items()},
                f"; generalized {splits.generalized.n} items × {len(splits.generalized.languages)}² cells"
                if splits.generalized else "")

    splits.info["train_pairs"] = len(train_ds)
    eval_steps, scaled = _eval_steps(config, len(train_ds))
    cuda = config.device != "cpu" and torch.cuda.is_available()
    bf16 = config.precision == "bf16" or (config.precision == "auto" and cuda and torch.cuda.is_bf16_supported())
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
        dataloader_num_workers=config.num_workers, disable_tqdm=not config.progress, remove_unused_columns=False,
        dataloader_pin_memory=cuda)
    if args.world_size > 1:
        per_device, rest = divmod(config.batch_size, config.grad_accum * args.world_size)
        if rest or per_device < 1:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by grad_accum × devices "
                             f"({config.grad_accum} × {args.world_size})")
        args.per_device_train_batch_size = per_device

    callback_list = [cbs.CSVLogCallback(out / "log.csv", "eval_select_accuracy"), cbs.EpochCallback(train_ds),
                     cbs.FinalEvalCallback(), cbs.LoggerCallback(), *(callbacks or [])]
    tb = cbs.tensorboard_callback(out / "tensorboard", config.tensorboard)
    if tb is not None:
        callback_list.append(tb)
    trainer = RobustTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset={"select": select_ds},
                            data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
                            compute_metrics=ev.compute_accuracy, callbacks=callback_list, robust=robust)
    trainer.remove_callback(PrinterCallback)
    train_output = trainer.train(resume_from_checkpoint=True if config.resume else None)

    results = ev.evaluate_run(trainer, splits.eval_sets, max_length=config.max_length, generalized=splits.generalized,
                              smooth_n=config.smooth_n, noise=robust.noise, seed=config.seed,
                              dropped=splits.info.get("dropped"))
    state = trainer.state
    best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1]) if state.best_model_checkpoint else None
    select = {"best_step": best_step, "accuracy": state.best_metric,
              f"{config.train_lang}_dev_accuracy": state.best_metric,
              "curve": cbs.eval_rows(state.log_history, "eval_select_accuracy")}
    if not trainer.is_world_process_zero():
        return TrainResult(out, {"eval": results, "select": select})

    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    with atomic_path(out / "encoder") as tmp:
        unwrapped.base_model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    with atomic_path(out / "model") as tmp:
        unwrapped.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    files = {"synonyms": config.synonyms, **{f"dictionary:{p}": p for p in config.dictionaries}}
    write_json(out / "manifest.json", base_manifest(
        command="train", model={"spec": config.model, "path": model_path, "revision": _model_revision(model_path)},
        data=splits.fingerprint(), files={k: {"path": v, "sha256": sha256_file(v)} for k, v in files.items() if v},
        seed=config.seed, method=config.method, task=config.task, world_size=args.world_size,
        recipe={"name": config.recipe, "sources": config.sources, "scaled": scaled} if config.recipe else None,
        adv_objective=config.adv_objective if config.method == "adv" else None,
        freeze_embeddings=config.freeze_embeddings,
        device=str(args.device), precision="bf16" if bf16 else ("fp16" if config.precision == "fp16" else "fp32")))
    metrics = {"method": config.method, "task": config.task, "config": config.to_dict(), "robust": robust.to_dict(),
               "recipe": {"name": config.recipe, "sources": config.sources, "scaled": scaled} if config.recipe else None,
               "history": cbs.history_rows(state.log_history), "eval": results, "select": select,
               "data": splits.info, "steps": state.global_step, "train_runtime_s": train_output.metrics.get(
                   "train_runtime"), "wall_time_s": round(time.time() - started, 1)}
    write_json(out / "train_metrics.json", metrics)
    if not config.keep_checkpoints:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    try:
        from xalign.report import write_report
    except ImportError:
        write_report = None
    if write_report is not None:
        try:
            write_report(out)
        except Exception as exc:  # the report is a bonus; the run itself succeeded
            logger.warning("training finished but the report failed: %s: %s", type(exc).__name__, exc)
    return TrainResult(out, metrics)
