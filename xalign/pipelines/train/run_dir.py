"""The run folder of ``xalign train``: what is checked before anything is written or loaded, the claim
on ``--out``, ``config.json`` (with ``"command": "train"`` and the inputs' content hashes) and the
resume check.

Order of a run: :func:`check_train_inputs` (settings, input files, model weights, ``--out``) →
:func:`claim_run_folder` (lock; a fresh run is written in place so that a killed run can be resumed,
and removed again if it fails before its first checkpoint; ``overwrite`` builds the new run beside the
old one and swaps it in at the end) → :func:`prepare_run_dir` (resume check, ``config.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.errors import ConfigError, MissingFileError
from xalign.io import check_not_busy, check_output, claim_output_dir, output_lock, read_json, sha256_file, write_json

if TYPE_CHECKING:  # pragma: no cover
    from xalign.pipelines.train.config import TrainConfig

COLUMN_KEYS = ("sentence1", "sentence2", "label", "item_id")
INPUT_PATHS = ("train_file", "select_file", "eval_files", "synonyms", "dictionaries", "data_dir")
_NOT_COMPARED = ("out", "allow_pickle")  # may differ on resume (a moved run folder; the same weights)


def has_checkpoints(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds a checkpoint a run can resume from."""
    return any((Path(folder) / "checkpoints").glob("checkpoint-*"))


def _flag(name: str) -> str:
    """The flag of an input setting: ``eval_files.sw`` → ``--eval-file sw=…``, ``dictionaries.0`` →
    ``--dictionary``, ``train_file`` → ``--train-file``."""
    key, _, item = name.partition(".")
    if key == "eval_files":
        return f"--eval-file {item}=…"
    return "--dictionary" if key == "dictionaries" else "--" + key.replace("_", "-")


def input_files(config: "TrainConfig") -> dict[str, str]:
    """Every input file the settings name, by setting (``eval_files.sw``, ``dictionaries.0`` …)."""
    files = {"train_file": config.train_file, "select_file": config.select_file, "synonyms": config.synonyms}
    files.update({f"eval_files.{lang}": path for lang, path in config.eval_files.items()})
    files.update({f"dictionaries.{i}": path for i, path in enumerate(config.dictionaries)})
    return {k: str(v) for k, v in files.items() if v}


def _sha256_tree(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + sha256_file(path).encode())
    return h.hexdigest()


def input_hashes(config: "TrainConfig") -> dict[str, str]:
    """sha256 of every input file, and of ``data_dir`` (its file names and contents)."""
    hashes = {name: sha256_file(path) for name, path in input_files(config).items()}
    if config.data_dir:
        hashes["data_dir"] = _sha256_tree(Path(config.data_dir))
    return hashes


def check_train_inputs(config: "TrainConfig") -> None:
    """Refuse, in one line, everything that can be known wrong before a byte is written or the model is
    loaded: column keys, missing input files, ``--device cuda`` without CUDA, pickle-only weights without
    ``allow_pickle``, an ``out``
    xalign must not write, and a run state the flags do not fit (finished / unfinished / nothing to
    resume)."""
    from xalign.encoders.base import choose_device
    from xalign.encoders.loading import check_weights, resolve_model_path

    unknown = sorted(set(config.columns) - set(COLUMN_KEYS))
    if unknown:
        raise ConfigError(f"columns: unknown key(s) {', '.join(map(repr, unknown))}; expected any of "
                          f"{', '.join(COLUMN_KEYS)} (--column KEY=NAME)")
    for name, path in input_files(config).items():
        if not Path(path).is_file():
            raise MissingFileError(f"{_flag(name)}: expected a file at {path}, found none")
    if config.data_dir and not Path(config.data_dir).is_dir():
        raise MissingFileError(f"--data-dir: expected a folder at {config.data_dir}, found none")
    if config.resume and config.overwrite:
        raise ConfigError(f"--resume and --overwrite contradict each other: --resume continues the run in "
                          f"{config.out}, --overwrite replaces it")
    out = Path(config.out)
    check_output(out, kind="dir", command="train")
    if int(os.environ.get("RANK", "0")) == 0:  # rank 0 takes the lock; another train holding it: one line now
        check_not_busy(out)
    if config.resume and not has_checkpoints(out):
        raise ConfigError(f"--resume: nothing to resume in {out}: no checkpoints/checkpoint-* there")
    if not config.overwrite:
        if (out / "train_metrics.json").exists():
            raise ConfigError(f"{out} already holds a finished run (train_metrics.json); choose another --out "
                              f"or pass --overwrite")
        if has_checkpoints(out) and not config.resume:
            raise ConfigError(f"{out} holds checkpoints of an unfinished run; pass --resume to continue it "
                              f"or --overwrite to start over")
    check_weights(resolve_model_path(config.model), config.model, allow_pickle=config.allow_pickle,
                  trust_remote_code=config.trust_remote_code)
    choose_device(None if config.device == "auto" else config.device)  # --device cuda without CUDA: one line


@contextlib.contextmanager
def claim_run_folder(config: "TrainConfig", outputs: tuple[str, ...]) -> Iterator[Path]:
    """The folder this process writes the run into (see :func:`xalign.io.claim_output_dir`).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank writes the same folder (a checkpoint holds one
    RNG state per rank), so it is used in place: rank 0 holds the lock and, with ``overwrite``, removes
    the previous run's ``outputs`` once the checks have passed.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        with claim_output_dir(config.out, "train", overwrite=config.overwrite, resume=config.resume,
                              in_place=True, keep_partial=has_checkpoints) as work:
            yield work
        return
    out = Path(config.out)
    if int(os.environ.get("RANK", "0")) != 0:
        out.mkdir(parents=True, exist_ok=True)
        yield out
        return
    with output_lock(out):
        if config.overwrite:
            for name in outputs:
                target = out / name
                shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        yield out


def prepare_run_dir(config: "TrainConfig", out: Path, *, run_only: tuple[str, ...]) -> Path:
    """Write ``config.json`` into ``out``; on resume first check that the settings (except ``run_only``)
    and the *contents* of the input files match the run's (paths may change: a moved file is fine,
    an edited one is not)."""
    hashes = input_hashes(config)
    if config.resume:
        saved: dict[str, Any] = read_json(out / "config.json")
        now = config.to_dict()
        saved_hashes = saved.get("inputs_sha256")
        skip = {*run_only, *_NOT_COMPARED, *(INPUT_PATHS if isinstance(saved_hashes, dict) else ())}
        diff = sorted(k for k in now if k not in skip and saved.get(k) != now[k])
        if isinstance(saved_hashes, dict):
            diff += sorted(f"content of {k}" for k in saved_hashes.keys() | hashes.keys()
                           if saved_hashes.get(k) != hashes.get(k))
        if diff:
            raise ConfigError(f"cannot resume {config.out}: settings differ from its config.json: {', '.join(diff)}")
    write_json(out / "config.json", {"command": "train", **config.to_dict(), "inputs_sha256": hashes})
    return out
