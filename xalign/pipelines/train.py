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

from xalign.io import atomic_path, base_manifest, read_json, sha256_file, write_json
from xalign.robust.config import RobustConfig  # torch-free: torch is imported inside the functions that use it

logger = logging.getLogger(__name__)

TASK_CHOICES = ("xnli", "pawsx", "pairs")
PROTOCOLS = ("standard", "noleak")
RSDA_SOURCES = ("synonyms", "embedding", "dictionary")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_RUN_ONLY = ("resume", "overwrite", "progress", "num_workers", "report_to", "tensorboard", "keep_checkpoints")  # may change on resume
_OUTPUTS = ("checkpoints", "encoder", "model", "config.json", "log.csv", "manifest.json", "train_metrics.json",
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
    task: str = "xnli"  # xnli | pawsx | pairs (your own train/select/eval files)
    data_dir: str | None = None  # local copy (myXNLI / PAWS-X layout); None = the Hugging Face hub
    protocol: str = "standard"  # standard: train/dev/test; noleak: train on test, select/eval on disjoint dev items
    train_lang: str = "en"
    eval_langs: list[str] = field(default_factory=lambda: ["en"])
    generalized: bool = False  # also the l1 × l2 matrix (sentence 1 in l1, sentence 2 in l2)
    n_train: int | None = None
    n_select: int | None = None
    n_eval: int | None = None
    train_file: str | None = None  # task=pairs
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
    group_by_length: bool = True
    num_workers: int = 0
    report_to: list[str] = field(default_factory=lambda: ["none"])
    tensorboard: bool | None = None  # None: when the tensorboard package is installed
    progress: bool = False
    resume: bool = False
    overwrite: bool = False
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        for name in ("eval_langs", "rsda_sources", "dictionaries", "report_to"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, [v.strip() for v in value.split(",") if v.strip()])
        from xalign.robust.config import check_field_types

        check_field_types(self)
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
        if not self.epochs > 0 and self.max_steps is None:
            raise ValueError(f"epochs must be > 0 (or give max_steps), got {self.epochs}")
        if self.task == "pairs":
            if not self.train_file or not self.select_file or not self.eval_files:
                raise ValueError("task 'pairs' needs train_file, select_file and eval_files ({lang: file})")
            self.eval_langs = list(self.eval_files)
        else:
            from xalign.data.tasks import check_language, task_spec

            spec = task_spec(self.task)
            self.train_lang = check_language(spec, self.train_lang)
            self.eval_langs = [check_language(spec, lang) for lang in self.eval_langs]
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
        """Build from a mapping; unknown keys raise one ``ValueError`` naming them and the valid keys."""
        from xalign.robust.config import dataclass_from_dict

        return dataclass_from_dict(cls, data, source=source)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        """Read a YAML (``.yaml``/``.yml``) or JSON config file; ``overrides`` win over the file."""
        from xalign.robust.config import read_config_file

        return cls.from_dict({**read_config_file(path), **overrides}, source=str(path))


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: expected one of {', '.join(choices)}")


@dataclass
class TrainResult:
    """What a run produced: the run directory and the contents of ``train_metrics.json``."""

    run_dir: Path
    metrics: dict[str, Any]

    @property
    def accuracy(self) -> dict[str, float]:
        return self.metrics["eval"]["accuracy"]


# --------------------------------------------------------------------------- run directory
def _prepare_run_dir(config: TrainConfig) -> Path:
    out = Path(config.out)
    if config.overwrite:
        for name in _OUTPUTS:
            target = out / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    if (out / "train_metrics.json").exists():
        raise ValueError(f"{out} already holds a finished run (train_metrics.json); choose another out "
                         f"directory or pass overwrite")
    has_ckpt = any((out / "checkpoints").glob("checkpoint-*"))
    if config.resume:
        if not has_ckpt:
            raise ValueError(f"nothing to resume in {out}: no checkpoints/checkpoint-* there")
        saved = read_json(out / "config.json")
        now = config.to_dict()
        diff = sorted(k for k in now if k not in _RUN_ONLY and saved.get(k) != now[k])
        if diff:
            raise ValueError(f"cannot resume {out}: settings differ from its config.json: {', '.join(diff)}")
    elif has_ckpt:
        raise ValueError(f"{out} holds checkpoints of an unfinished run; pass resume to continue it "
                         f"or overwrite to start over")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config.to_dict())
    return out


def _load_splits(config: TrainConfig):
    from xalign.data import tasks

    if config.task == "pairs":
        cols = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label", "item_id": None, **config.columns}
        train = tasks.read_pairs(config.train_file, label_names=config.label_names, **cols)
        names = train.features["label"].names
        select = tasks.read_pairs(config.select_file, label_names=names, **cols)
        evals = {lang: tasks.read_pairs(path, label_names=names, **cols) for lang, path in config.eval_files.items()}
        return tasks.TaskSplits(train, select, evals, "files", {"train_file": config.train_file,
                                                                 "select_file": config.select_file})
    langs = list(dict.fromkeys(config.eval_langs))
    load = lambda lang, split: tasks.load_task(config.task, lang, split, data_dir=config.data_dir)  # noqa: E731
    maker = tasks.noleak_splits if config.protocol == "noleak" else tasks.standard_splits
    try:
        return maker(load, train_lang=config.train_lang, languages=langs, n_train=config.n_train,
                     n_select=config.n_select, n_eval=config.n_eval, seed=config.seed)
    except FileNotFoundError as exc:
        if config.protocol == "standard":
            raise FileNotFoundError(f"{exc} (the standard protocol needs train/dev/test splits; a local XNLI "
                                    f"copy has only dev/test: use protocol noleak)") from None
        raise


def _model_revision(path: str) -> str:
    from xalign.encoders import loading

    public = getattr(loading, "model_revision", None)
    return public(path) if public is not None else loading._revision_of(path, path)


# --------------------------------------------------------------------------- the pipeline
def train(config: TrainConfig, *, callbacks: list | None = None) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.task`` with ``config.method`` and evaluate zero-shot.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects. Raises ``ValueError``/
    ``FileNotFoundError``/``TypeError`` with one clear line for bad settings or data.
    """
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              PrinterCallback, TrainingArguments, set_seed)

    from xalign.encoders import resolve_model_path
    from xalign.robust import callbacks as cbs
    from xalign.robust import evaluate as ev
    from xalign.robust.features import PairDataset
    from xalign.robust.freeze import freeze_input_embeddings
    from xalign.robust.substitutions import augment_pairs, build_table
    from xalign.robust.trainer import RobustTrainer

    started = time.time()
    robust = config._robust()
    out = _prepare_run_dir(config)
    splits = _load_splits(config)
    names = splits.train.features["label"].names
    for what, ds in [("select", splits.select), *splits.eval.items()]:
        if ds.features["label"].names != names:
            raise ValueError(f"label sets differ: train has {names}, {what} has {ds.features['label'].names}")
    if config.generalized and len(splits.eval) > 1:
        from xalign.data.tasks import check_aligned

        check_aligned(splits.eval)

    model_path = resolve_model_path(config.model)
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=config.trust_remote_code)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        trust_remote_code=config.trust_remote_code)
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
    else:
        train_ds = PairDataset.from_dataset(train_src, tokenizer, max_length=config.max_length, table=table,
                                            seed=config.seed)
    select_ds = PairDataset.from_dataset(splits.select, tokenizer, max_length=config.max_length)
    logger.info("data: %d train / %d select pairs (%d train pairs reach max_length %d); eval %s", len(train_ds),
                len(select_ds), train_ds.n_truncated(), config.max_length,
                {k: len(v) for k, v in splits.eval.items()})

    cuda = config.device != "cpu" and torch.cuda.is_available()
    bf16 = config.precision == "bf16" or (config.precision == "auto" and cuda and torch.cuda.is_bf16_supported())
    strategy = "steps" if config.eval_steps else "epoch"
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=config.batch_size // config.grad_accum,
        per_device_eval_batch_size=config.eval_batch_size, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, adam_epsilon=config.adam_epsilon, weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler, warmup_steps=config.warmup_steps, max_grad_norm=config.max_grad_norm,
        num_train_epochs=config.epochs, max_steps=config.max_steps or -1, logging_steps=config.logging_steps,
        eval_strategy=strategy, save_strategy=strategy, eval_steps=config.eval_steps, save_steps=config.eval_steps,
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

    results = ev.evaluate_run(trainer, splits.eval, max_length=config.max_length, generalized=config.generalized,
                              smooth_n=config.smooth_n, noise=robust.noise, seed=config.seed)
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
        adv_objective=config.adv_objective if config.method == "adv" else None,
        freeze_embeddings=config.freeze_embeddings,
        device=str(args.device), precision="bf16" if bf16 else ("fp16" if config.precision == "fp16" else "fp32")))
    metrics = {"method": config.method, "task": config.task, "config": config.to_dict(), "robust": robust.to_dict(),
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
