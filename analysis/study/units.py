"""One unit = task × method × seed: train into a scratch folder, probe the trained encoder, write ONE small
JSON atomically to ``analysis/results/<task>/<method>/seed<k>.json`` (``pretrained.json`` for the encoder
before training). A unit whose JSON exists is skipped and never retrained; a unit killed mid-way resumes
from its scratch folder (finished training is reused, checkpoints are resumed)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from analysis.study.design import OFFLINE_METHODS, Design

logger = logging.getLogger("study.units")
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


def unit_name(task: str, method: str, seed: int | None) -> str:
    return f"{task}/{method}/" + ("pretrained" if seed is None else f"seed{seed}")


def unit_path(results_dir: Path, task: str, method: str, seed: int | None) -> Path:
    return Path(results_dir) / f"{unit_name(task, method, seed)}.json"


def default_work_dir() -> Path:
    """``$XALIGN_STUDY_WORK`` or ``~/.cache/xalign-study`` (outside the repository: weights are not committed)."""
    import os

    return Path(os.environ.get("XALIGN_STUDY_WORK") or Path.home() / ".cache" / "xalign-study")


def train_kwargs(design: Design, task: str, method: str, seed: int, *, run_dir: Path, data_dir: Path,
                 data_root: Path) -> dict[str, Any]:
    """The ``TrainConfig`` fields of one unit (explicit values: no recipe defaults are relied on)."""
    t = design.tasks[task]
    kw: dict[str, Any] = dict(
        out=str(run_dir), model=design.model, task=task, data_dir=str(data_dir),
        train_file=str(data_root / t.train_file), protocol="standard", train_lang="en", eval_langs=["all"],
        eval_splits=list(t.eval_splits), generalized=True, generalized_langs=list(t.generalized_langs),
        generalized_n=t.generalized_n, generalized_split=t.generalized_split, n_train=t.n_train,
        method=method, seed=seed, epochs=t.epochs, learning_rate=t.learning_rate, eval_steps=t.eval_steps,
        max_length=design.max_length, batch_size=design.batch_size, freeze_embeddings=design.freeze_embeddings,
        device=design.device, data_seed=design.data_seed)  # dev halves and the generalized subsample: same items
        # for every model and seed, so per-item results pair across seeds
    synonyms = str(data_root / "synonyms" / "counterfitted_neighbors.json")
    if method in ("rs-da", "rs-da-offline"):
        kw.update(method="rs-da", rsda_sources=["synonyms"], synonyms=synonyms, rsda_copies=0)
    if method == "rs-rp":
        kw.update(design.rs)
    if method == "adv":
        kw.update(design.adv)
    if method in OFFLINE_METHODS:
        kw["n_train"] = t.offline_n_train
        if method == "rs-da-offline":
            kw.update(rsda_copies=t.offline_copies, epochs=1.0)
        else:
            kw.update(method="baseline", epochs=float(t.offline_copies))
    return kw


def train_or_reuse(run_dir: Path, kwargs: dict[str, Any], train: Callable[[dict[str, Any]], dict[str, Any]],
                   name: str) -> dict[str, Any]:
    """The metrics of the run in ``run_dir``: a finished run's ``train_metrics.json`` is reused, a killed one
    resumes from its last checkpoint, otherwise ``train(kwargs)`` starts it (``kwargs`` is left unchanged)."""
    done = run_dir / "train_metrics.json"
    if done.is_file():
        from xalign.io import read_json

        logger.info("%s: reusing finished training in %s", name, run_dir)
        return read_json(done)
    resume = any((run_dir / "checkpoints").glob("checkpoint-*"))
    logger.info("%s: training (%s)", name, "resume" if resume else "new")
    return train({**kwargs, "resume": resume})


def _train(kwargs: dict[str, Any]) -> dict[str, Any]:
    from xalign.pipelines.train import TrainConfig, train

    return train(TrainConfig(**kwargs)).metrics.to_json()


def _load_encoder(spec: str, device: str) -> Any:
    from xalign import load_encoder

    return load_encoder(spec, device=None if device == "auto" else device)


def _embed(encoder: Any, corpora: dict) -> dict:
    from analysis.study.probe import embed_corpora

    return embed_corpora(encoder, corpora)


def _prepare(design: Design, task: str, data_root: Path, out_dir: Path) -> dict:
    from analysis.study.evaldata import prepare_task_data

    return prepare_task_data(design, task, data_root, out_dir)


def _corpora(design: Design, task: str, data_root: Path) -> dict:
    from analysis.study.evaldata import probe_corpora

    return probe_corpora(design, task, data_root)


def _labels(kwargs: dict[str, Any]) -> dict[str, Any]:
    from analysis.study.labels import unit_labels

    return unit_labels(kwargs)


@dataclasses.dataclass
class Hooks:
    """The expensive steps, injectable (tests replace them; the study uses the defaults)."""

    train: Callable[[dict[str, Any]], dict[str, Any]] = _train
    load_encoder: Callable[[str, str], Any] = _load_encoder
    embed: Callable[[Any, dict], dict] = _embed
    prepare_data: Callable[[Design, str, Path, Path], dict] = _prepare
    probe_corpora: Callable[[Design, str, Path], dict] = _corpora
    labels: Callable[[dict[str, Any]], dict[str, Any] | None] = _labels  # gold labels of the evaluation items


def _reference(design: Design, task: str, corpora: dict, work: Path, hooks: Hooks, key: str) -> dict:
    """The pre-trained encoder's embeddings of the probe sentences, cached in the work folder."""
    path = work / "cache" / f"{task}-pretrained-{key[:16]}.npz"
    if path.is_file():
        with np.load(path) as z:
            out: dict[str, dict[str, np.ndarray]] = {}
            for k in z.files:
                name, lang = k.split("|")
                out.setdefault(name, {})[lang] = z[k]
            return out
    emb = hooks.embed(hooks.load_encoder(design.model, design.device), corpora)
    from xalign.io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{f"{n}|{lang}": a for n, by in emb.items() for lang, a in by.items()})
    return emb


def run_unit(design: Design, task: str, method: str, seed: int | None, *, results_dir: Path = RESULTS_DIR,
             work_dir: Path | None = None, data_root: Path, hooks: Hooks | None = None) -> Path:
    """Run one unit unless its JSON exists; returns the JSON path."""
    from xalign.io import package_versions, sha256_file, sha256_texts, write_json
    from analysis.study.evaldata import corpora_hashes
    from analysis.study.probe import alignment

    hooks = hooks or Hooks()
    target = unit_path(results_dir, task, method, seed)
    if target.is_file():
        logger.info("%s: finished (%s), skipped", unit_name(task, method, seed), target)
        return target
    work = Path(work_dir or default_work_dir())
    started = time.time()
    data_dir = work / "data" / f"{design.scale}-{task}"
    data_info = hooks.prepare_data(design, task, data_root, data_dir)
    corpora = hooks.probe_corpora(design, task, data_root)
    probe_hashes = corpora_hashes(corpora)
    key = sha256_texts([design.model, repr(sorted((n, sorted(h["sha256"].items())) for n, h in probe_hashes.items()))])
    record: dict[str, Any] = {"unit": {"task": task, "method": method, "seed": seed},
                              "design": design.to_dict(), "data": {"eval": data_info, "probe": probe_hashes}}
    timings: dict[str, float] = {}
    if seed is None:
        spec = design.model
    else:
        run_dir = work / "runs" / design.scale / task / method / f"seed{seed}"
        kwargs = train_kwargs(design, task, method, seed, run_dir=run_dir, data_dir=data_dir, data_root=data_root)
        t0 = time.time()
        metrics = train_or_reuse(run_dir, kwargs, hooks.train, unit_name(task, method, seed))
        timings["train_s"] = round(time.time() - t0, 1)
        record["train_config"] = kwargs
        record["data"]["train_file_sha256"] = sha256_file(kwargs["train_file"])
        for name in ("eval", "select", "steps", "train_runtime_s", "wall_time_s", "data"):
            if name in metrics:
                record["train_" + name if name == "data" else name] = metrics[name]
        labels = hooks.labels(kwargs)  # per-class recall and partial collapse need them (issue 25)
        if labels:
            record["labels"] = labels
        spec = str(run_dir / "encoder")
    t1 = time.time()
    reference = None if seed is None else _reference(design, task, corpora, work, hooks, key)
    emb = hooks.embed(hooks.load_encoder(spec, design.device), corpora)
    record["alignment"] = alignment(emb, reference=reference, n_boot=design.n_boot_cka, seed=design.data_seed)
    timings["probe_s"] = round(time.time() - t1, 1)
    timings["unit_s"] = round(time.time() - started, 1)
    import torch

    record.update(timings=timings, versions=package_versions(), host={"platform": platform.platform(),
                  "machine": platform.machine(), "torch_threads": torch.get_num_threads()}, created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    write_json(target, record)
    logger.info("%s: wrote %s in %.0f s", unit_name(task, method, seed), target, timings["unit_s"])
    return target


def missing_units(design: Design, results_dir: Path = RESULTS_DIR, tasks: tuple[str, ...] | None = None) -> list:
    return [u for u in design.units(tasks) if not unit_path(results_dir, *u).is_file()]


def parse_units(design: Design, names: list[str]) -> list[tuple[str, str, int | None]]:
    """Units of ``design`` named as ``task/method/seedN`` (or ``task/pretrained/pretrained``), in design order;
    a name the design does not have is one error that lists the valid ones."""
    known = {unit_name(*u): u for u in design.units()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--units: {', '.join(unknown)} not in the {design.scale} design; expected names like "
                         f"{', '.join(list(known)[:3])} (see --plan)")
    return [u for u in design.units() if unit_name(*u) in set(names)]


def run_all(design: Design, *, data_root: Path, results_dir: Path = RESULTS_DIR, work_dir: Path | None = None,
            tasks: tuple[str, ...] | None = None, max_hours: float | None = None, hooks: Hooks | None = None,
            clock: Callable[[], float] = time.time, only: list[tuple] | None = None) -> list[Path]:
    """Run the missing units in design order (with ``only``, just those units); with ``max_hours``, start no
    unit after that much time (a chunk ends between units, so a rerun continues where it stopped)."""
    from xalign.errors import OutputError
    from xalign.io import output_lock

    start = clock()
    written = []
    claims = Path(work_dir or default_work_dir()) / "claims" / design.scale
    for unit in missing_units(design, results_dir, tasks):
        if only is not None and unit not in only:
            continue
        if max_hours is not None and clock() - start > max_hours * 3600:
            logger.info("chunk limit of %.2f h reached; rerun to continue", max_hours)
            break
        with contextlib.ExitStack() as stack:
            try:  # several workers (--jobs) share the list: a unit another worker holds is skipped, not repeated
                stack.enter_context(output_lock(claims / unit_name(*unit).replace("/", "-")))
            except OutputError:
                logger.info("%s: another worker is running it, skipped", unit_name(*unit))
                continue
            written.append(run_unit(design, *unit, results_dir=results_dir, work_dir=work_dir, data_root=data_root,
                                    hooks=hooks))
    return written
