"""Running the v3 equal-tuning search (the trials of :mod:`analysis.study.plan_v3`) as resumable units.

``python -m analysis.study --tune-v3`` runs, per task: the embedding-norm measurement (no training: the word
embeddings of 256 training sentences), then stage 1, then stage 2 at each method's stage-1 learning rate.
Each trial writes one JSON atomically to ``analysis/results/tuning/v3/<task>-<method>-s<stage>-<k>.json``;
present = skipped, killed = resumed from its scratch folder (``train_or_reuse``). A trial whose setting the
trainer does not offer yet (``Trial.needs``) is skipped with one log line, never run half-configured.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from analysis.study.design import Design
from analysis.study.plan_v3 import TUNING_SEED, Trial, choose, norm_path, resolve, trial_path, tuning_trials

logger = logging.getLogger("study.tuning_v3")


def measure_embedding_norm(model: str, texts: list[str], *, max_length: int = 128) -> dict[str, Any]:
    """Mean (and median) L2 norm of a token's word-embedding vector (``get_input_embeddings()`` output, where
    adv and rs-rp perturb) over the non-padding tokens of ``texts``, and the embedding dimension."""
    import torch

    from xalign import load_encoder

    enc = load_encoder(model)
    batch = enc.tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    with torch.no_grad():
        emb = enc.model.get_input_embeddings()(batch["input_ids"])
    norms = emb.norm(dim=-1)[batch["attention_mask"].bool()]
    return {"mean_token_l2": float(norms.mean()), "median_token_l2": float(norms.median()),
            "dim": int(emb.shape[-1]), "n_tokens": int(norms.numel()), "n_sentences": len(texts)}


def _norm(design: Design, task: str, data_root: Path) -> dict[str, Any]:
    from xalign.data.tasks import read_task_file

    train = read_task_file(str(data_root / design.tasks[task].train_file), task)
    return measure_embedding_norm(design.model, list(train["sentence1"][:256]), max_length=design.max_length)


def _stage1_lr(results_dir: Path, design: Design, task: str, method: str) -> float | None:
    from xalign.io import read_json

    recs = [read_json(trial_path(results_dir, t)) for t in tuning_trials(design, (task,))
            if t.method == method and t.stage == 1 and trial_path(results_dir, t).is_file()]
    if len(recs) < sum(1 for t in tuning_trials(design, (task,)) if t.method == method and t.stage == 1):
        return None
    best = choose(recs)
    return None if best is None else float(best["train_config"]["learning_rate"])


def run_v3_tuning(design: Design, *, data_root: Path, results_dir: Path, work_dir: Path,
                  tasks: tuple[str, ...] | None = None, train: Callable | None = None,
                  norm: Callable[[Design, str, Path], dict[str, Any]] | None = None,
                  prepare: Callable | None = None) -> list[Path]:
    """Run the missing trials in order (``train``: ``dict -> metrics``, ``norm``: the measurement, ``prepare``:
    the evaluation-data writer; all injectable for tests). Returns the files written."""
    from analysis.study.evaldata import prepare_task_data

    from analysis.study.units import _train, train_kwargs, train_or_reuse
    from xalign.io import package_versions, read_json, write_json

    train, norm, prepare = train or _train, norm or _norm, prepare or prepare_task_data
    written: list[Path] = []
    for task in tasks or tuple(design.tasks):
        npath = norm_path(results_dir, task)
        if not npath.is_file():
            write_json(npath, {"task": task, "model": design.model, **norm(design, task, data_root)})
            written.append(npath)
        scale = read_json(npath)
        for trial in tuning_trials(design, (task,)):
            target = trial_path(results_dir, trial)
            if target.is_file():
                continue
            if trial.needs:
                logger.info("tuning %s: skipped, %s", trial.name, "; ".join(trial.needs))
                continue
            lr = _stage1_lr(results_dir, design, task, trial.method) if trial.stage == 2 else None
            if trial.stage == 2 and lr is None:
                logger.info("tuning %s: waits for the method's stage 1", trial.name)
                continue
            written.append(_run_trial(design, trial, scale, lr, data_root=data_root, work_dir=work_dir,
                                      target=target, train=train, helpers=(train_kwargs, train_or_reuse,
                                                                           package_versions, write_json, prepare)))
    return written


def _run_trial(design: Design, trial: Trial, scale: dict[str, Any], lr: float | None, *, data_root: Path,
               work_dir: Path, target: Path, train: Callable, helpers: tuple) -> Path:
    train_kwargs, train_or_reuse, package_versions, write_json, prepare_task_data = helpers
    started = time.time()
    data_dir = work_dir / "data" / f"{design.scale}-{trial.task}"
    prepare_task_data(design, trial.task, data_root, data_dir)
    run_dir = work_dir / "runs" / design.scale / "tuning-v3" / trial.name
    method = "rs-da-offline" if trial.method == "rs-da" else trial.method  # offline copies: the paper's main arm
    kwargs = train_kwargs(design, trial.task, method, TUNING_SEED, run_dir=run_dir, data_dir=data_dir,
                          data_root=data_root)
    kwargs.update(resolve(trial.changes, norm=scale["mean_token_l2"], dim=scale["dim"], stage1_lr=lr,
                          task_copies=design.tasks[trial.task].offline_copies))
    if trial.method == "rs-da":
        kwargs["n_train"] = design.tasks[trial.task].n_train  # copies of the full training set (issue 25 item 4)
    kwargs.update(eval_langs=["en"], generalized=False)
    metrics = train_or_reuse(run_dir, kwargs, train, f"tuning {trial.name}")
    write_json(target, {"trial": {"task": trial.task, "method": trial.method, "stage": trial.stage,
                                  "index": trial.index, "changes": trial.changes},
                        "embedding_norm": scale, "train_config": kwargs, "select": metrics["select"],
                        "steps": metrics.get("steps"), "timings": {"unit_s": round(time.time() - started, 1)},
                        "versions": package_versions(), "design": design.to_dict()})
    logger.info("tuning %s: wrote %s", trial.name, target)
    return target
