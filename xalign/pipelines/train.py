"""Robust fine-tuning for zero-shot cross-lingual transfer: ``train(TrainConfig(...)) -> TrainResult``.

A run directory holds ``config.json`` (written first), ``log.csv`` (per logging step), ``checkpoints/``
(safetensors; ``resume=True`` continues from the last one), then ``encoder/`` (opens with
``xalign.encoders.load_encoder``), ``model/`` (the classifier), ``manifest.json`` and, last and
atomically, ``train_metrics.json`` — a run without it did not finish. Settings: :mod:`train_config`;
data: :mod:`train_data`; the run folder: :mod:`train_run`.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError
from xalign.io import atomic_path, base_manifest, sha256_file, write_json
from xalign.pipelines.train_config import _OUTPUTS, _RUN_ONLY, TrainConfig  # TrainConfig is public here too
from xalign.pipelines.train_data import eval_steps_for, load_splits, write_copies

logger = logging.getLogger(__name__)


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
    from transformers import (AutoTokenizer, DataCollatorWithPadding, PrinterCallback, TrainingArguments,
                              set_seed)

    from xalign.encoders import resolve_model_path
    from xalign.encoders.loading import model_revision
    from xalign.encoders.loading import model_errors
    from xalign.robust import callbacks as cbs
    from xalign.robust import evaluate as ev
    from xalign.robust.features import PairDataset
    from xalign.robust.freeze import freeze_input_embeddings
    from xalign.robust.heads import build_classifier
    from xalign.robust.methods import get_method
    from xalign.robust.trainer import RobustTrainer

    started = time.time()
    robust = config._robust()
    out = _prepare_run_dir(config, work)
    splits = load_splits(config)
    names = splits.train.features["label"].names
    for what, ds in [("select", splits.select), *((f"{s}/{k}", v) for s, d in splits.eval_sets.items()
                                                  for k, v in d.items())]:
        if ds.features["label"].names != names:
            raise ConfigError(f"label sets differ: train has {names}, {what} has {ds.features['label'].names}")

    model_path = resolve_model_path(config.model)
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=config.trust_remote_code)
    with model_errors(config.model, allow_pickle=config.allow_pickle):
        model = build_classifier(model_path, config.head, names, trust_remote_code=config.trust_remote_code,
                                 use_safetensors=None if config.allow_pickle else True)
    if config.freeze_embeddings:
        freeze_input_embeddings(model)
    limit = int(getattr(model.config, "max_position_embeddings", 10**9))
    if 0 < tokenizer.model_max_length < 10**6:
        limit = min(limit, int(tokenizer.model_max_length))
    if config.max_length > limit:
        raise ConfigError(f"max_length {config.max_length} exceeds the model maximum of {limit} tokens")

    method = get_method(config.method).from_config(config)
    prepared = method.train_data(splits.train, tokenizer, max_length=config.max_length, seed=config.seed, model=model)
    train_ds = prepared.dataset
    if prepared.copies is not None:
        write_copies(out / "rsda_copies.tsv", prepared.copies)
    select_ds = PairDataset.from_dataset(splits.select, tokenizer, max_length=config.max_length)
    logger.info("data: %d train / %d select pairs (%d train pairs reach max_length %d); eval %s%s", len(train_ds),
                len(select_ds), train_ds.n_truncated(), config.max_length,
                {s: {k: len(v) for k, v in d.items()} for s, d in splits.eval_sets.items()},
                f"; generalized {splits.generalized.n} items × {len(splits.generalized.languages)}² cells"
                if splits.generalized else "")

    splits.info["train_pairs"] = len(train_ds)
    eval_steps, scaled = eval_steps_for(config, len(train_ds))
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
            raise ConfigError(f"batch_size {config.batch_size} is not divisible by grad_accum × devices "
                             f"({config.grad_accum} × {args.world_size})")
        args.per_device_train_batch_size = per_device

    callback_list = [cbs.CSVLogCallback(out / "log.csv", "eval_select_accuracy"), cbs.EpochCallback(train_ds),
                     cbs.FinalEvalCallback(), cbs.LoggerCallback(), *(callbacks or [])]
    tb = cbs.tensorboard_callback(out / "tensorboard", config.tensorboard)
    if tb is not None:
        callback_list.append(tb)
    trainer = RobustTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset={"select": select_ds},
                            data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
                            compute_metrics=ev.compute_accuracy, callbacks=callback_list, robust=robust,
                            method=method)
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
        command="train", model={"spec": config.model, "path": model_path, "revision": model_revision(model_path)},
        data=splits.fingerprint(), files={k: {"path": v, "sha256": sha256_file(v)} for k, v in files.items() if v},
        seed=config.seed, method=config.method, task=config.task, world_size=args.world_size,
        recipe={"name": config.recipe, "sources": config.sources, "scaled": scaled} if config.recipe else None,
        adv_objective=config.adv_objective if config.method == "adv" else None,
        freeze_embeddings=config.freeze_embeddings, head=config.head,
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
