"""Robust fine-tuning for zero-shot cross-lingual transfer: ``train(TrainConfig(...)) -> TrainResult``.

A run directory holds ``config.json`` (written first), ``log.csv`` (per logging step), ``checkpoints/``
(safetensors; ``resume=True`` continues from the last one), then ``encoder/`` (opens with
``xalign.encoders.load_encoder``), ``model/`` (the classifier), ``manifest.json`` and, last and
atomically, ``train_metrics.json`` — a run without it did not finish. Settings: :mod:`.config`;
data: :mod:`.data`; the run folder: :mod:`.run_dir`; the steps: :mod:`.steps`; the typed results:
:mod:`.result`.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from xalign.io import base_manifest, sha256_file, write_json
from xalign.pipelines.train.config import _OUTPUTS, _RUN_ONLY, TrainConfig
from xalign.pipelines.train.data import eval_steps_for, load_splits
from xalign.pipelines.train.result import EvalResult, Selection, TrainMetrics, TrainResult

__all__ = ["TrainConfig", "TrainMetrics", "TrainResult", "train"]

logger = logging.getLogger(__name__)


def train(config: TrainConfig, *, callbacks: list | None = None) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.task`` with ``config.method`` and evaluate zero-shot.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects. Bad settings, data, weights or an
    ``out`` xalign must not write raise one :class:`xalign.errors.XalignError` line; input files,
    weights and ``out`` are checked before anything is written or loaded, and a run that fails before
    its first checkpoint leaves ``out`` as it was (an ``overwrite`` run replaces the old one only when
    it has finished).
    """
    from xalign.pipelines.train.run_dir import check_train_inputs, claim_run_folder

    check_train_inputs(config)
    with claim_run_folder(config, _OUTPUTS) as work:
        result = _train_in(config, work, callbacks=callbacks)
    return TrainResult(Path(config.out), result.metrics)


def _train_in(config: TrainConfig, work: Path, *, callbacks: list | None = None) -> TrainResult:
    """The run, written into ``work`` (``config.out`` itself or the staging folder swapped in after)."""
    import torch
    from transformers import set_seed

    from xalign.encoders import resolve_model_path
    from xalign.pipelines.train import steps as steps
    from xalign.pipelines.train.config import training_arguments
    from xalign.pipelines.train.run_dir import prepare_run_dir

    started = time.time()
    out = prepare_run_dir(config, work, run_only=_RUN_ONLY)
    splits = load_splits(config)
    model_path = resolve_model_path(config.model)
    set_seed(config.seed)
    tokenizer, model = steps.load_classifier(config, model_path, steps.label_names(splits))
    from xalign.robust.methods import get_method

    method = get_method(config.method).from_config(config)  # the registered method: its data and its loss
    train_ds, select_ds = steps.build_datasets(config, splits, tokenizer, model, out, method)
    splits.info["train_pairs"] = len(train_ds)

    eval_steps, scaled = eval_steps_for(config, len(train_ds))
    cuda = config.device != "cpu" and torch.cuda.is_available()
    bf16 = config.precision == "bf16" or (config.precision == "auto" and cuda and torch.cuda.is_bf16_supported())
    args = training_arguments(config, out, eval_steps=eval_steps, cuda=cuda, bf16=bf16)
    trainer = steps.make_trainer(config, out, model, tokenizer, (train_ds, select_ds), args, callbacks, method)
    train_output = trainer.train(resume_from_checkpoint=True if config.resume else None)

    metrics = _metrics(config, trainer, splits, scaled=scaled, runtime=train_output.metrics.get("train_runtime"),
                       started=started)
    if not trainer.is_world_process_zero():
        return TrainResult(out, metrics)
    steps.save_weights(trainer.accelerator.unwrap_model(trainer.model), tokenizer, out)
    write_json(out / "manifest.json", _manifest(config, model_path, splits, args, scaled=scaled, bf16=bf16))
    write_json(out / "train_metrics.json", metrics.to_json())
    _finish(config, out)
    return TrainResult(out, metrics)


def _recipe_record(config: TrainConfig, scaled: dict[str, Any]) -> dict[str, Any] | None:
    return {"name": config.recipe, "sources": config.sources, "scaled": scaled} if config.recipe else None


def _metrics(config: TrainConfig, trainer: Any, splits: Any, *, scaled: dict[str, Any], runtime: float | None,
             started: float) -> TrainMetrics:
    """Zero-shot evaluation of the selected model, and what the run did."""
    from xalign.training import callbacks as cbs
    from xalign.training import evaluate as ev

    robust = config._robust()
    results = ev.evaluate_run(trainer, splits.eval_sets, max_length=config.max_length, generalized=splits.generalized,
                              smooth_n=config.smooth_n, noise=robust.noise, seed=config.seed,
                              dropped=splits.info.get("dropped"))
    state = trainer.state
    best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1]) if state.best_model_checkpoint else None
    select = Selection(best_step=best_step, accuracy=state.best_metric, train_lang=config.train_lang,
                       curve=cbs.eval_rows(state.log_history, "eval_select_accuracy"))
    return TrainMetrics(method=config.method, task=config.task, config=config.to_dict(), robust=robust.to_dict(),
                        recipe=_recipe_record(config, scaled), history=cbs.history_rows(state.log_history),
                        eval=EvalResult.from_json(results), select=select, data=splits.info, steps=state.global_step,
                        train_runtime_s=runtime, wall_time_s=round(time.time() - started, 1))


def _manifest(config: TrainConfig, model_path: str, splits: Any, args: Any, *, scaled: dict[str, Any],
              bf16: bool) -> dict[str, Any]:
    from xalign.encoders.loading import model_revision

    files = {"synonyms": config.synonyms, **{f"dictionary:{p}": p for p in config.dictionaries}}
    return base_manifest(
        command="train", model={"spec": config.model, "path": model_path, "revision": model_revision(model_path)},
        data=splits.fingerprint(), files={k: {"path": v, "sha256": sha256_file(v)} for k, v in files.items() if v},
        seed=config.seed, method=config.method, task=config.task, world_size=args.world_size,
        recipe=_recipe_record(config, scaled), adv_objective=config.adv_objective if config.method == "adv" else None,
        freeze_embeddings=config.freeze_embeddings, head=config.head, device=str(args.device),
        precision="bf16" if bf16 else ("fp16" if config.precision == "fp16" else "fp32"))


def _finish(config: TrainConfig, out: Path) -> None:
    """Remove the checkpoints (unless kept) and draw the report (a bonus: its failure is only logged)."""
    if not config.keep_checkpoints:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    try:
        from xalign.report import write_report
    except ImportError:
        return
    try:
        write_report(out)
    except Exception as exc:  # the report is a bonus; the run itself succeeded
        logger.warning("training finished but the report failed: %s: %s", type(exc).__name__, exc)
