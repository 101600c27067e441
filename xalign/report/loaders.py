"""Reading a run directory into typed results (:mod:`xalign.results`) and arrays: the report's only I/O
besides the final write (and the projection cache, :mod:`xalign.report.cache`).

Three kinds of run directory exist (see :func:`detect_kind`):

* probe: ``manifest.json``, ``metrics.json``, optional ``details.json`` and ``embeddings/<pair>/``;
* compare: ``compare.json`` and ``models/<label>/`` (each a probe run directory);
* train: ``train_metrics.json`` (optionally next to a probe run's files).

Nothing here computes a metric; missing optional files load as empty values. Probe and compare results
are read by :mod:`xalign.results.json_io` (so every ``metrics.json``/``compare.json`` ever written reads the
same way); ``train_metrics.json`` stays a dict until train results are typed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xalign.errors import DataError, MissingFileError
from xalign.results.types import Comparison, PairMetrics, ProbeMetrics

logger = logging.getLogger(__name__)

__all__ = ["PairEmbeddings", "ProbeRun", "CompareRun", "TrainRun", "detect_kind", "load_probe_run",
           "load_compare_run", "load_train_run", "load_embeddings", "load_run_embeddings"]


@dataclass(frozen=True)
class PairEmbeddings:
    """Sentence embeddings of one language pair: ``src``/``tgt`` are [n_layers, n, hidden] (memory-mapped)."""

    pair: str
    src_lang: str
    tgt_lang: str
    layers: list[int]
    src: np.ndarray = field(repr=False)
    tgt: np.ndarray = field(repr=False)
    src_texts: list[str] = field(repr=False)
    tgt_texts: list[str] = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.src.shape[1])


@dataclass
class ProbeRun:
    """A probe run directory: ``metrics`` is the typed ``metrics.json``; ``details`` the parsed ``details.json``
    (figure data that is not a metric: similarity samples, layer CKA grids, word-alignment examples)."""

    path: Path
    manifest: dict[str, Any]
    metrics: ProbeMetrics
    details: dict[str, Any]
    embeddings: dict[str, PairEmbeddings]

    @property
    def pairs(self) -> dict[str, PairMetrics]:
        return self.metrics.pairs


@dataclass
class CompareRun:
    """A compare run directory: ``comparison`` is the typed ``compare.json``; ``models`` maps label → probe
    run (or None)."""

    path: Path
    manifest: dict[str, Any]
    comparison: Comparison
    models: dict[str, ProbeRun | None]

    @property
    def labels(self) -> list[str]:
        return [str(m["label"]) for m in self.comparison.models]


@dataclass
class TrainRun:
    """A train run directory: ``train`` is ``train_metrics.json``; ``probe`` when the run also probed."""

    path: Path
    train: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)
    probe: ProbeRun | None = None


def _read_json(path: Path) -> Any:
    from xalign.results.json_io import read_document

    return read_document(path)


def _expect_dict(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(obj).__name__}")
    return obj


def detect_kind(run_dir: str | Path) -> str:
    """``"compare"``, ``"probe"`` or ``"train"`` from the files present in ``run_dir``."""
    root = Path(run_dir)
    if not root.is_dir():
        raise MissingFileError(f"expected a run directory at {root}, found none")
    if (root / "compare.json").is_file():
        return "compare"
    if (root / "train_metrics.json").is_file():
        return "train"
    if (root / "metrics.json").is_file():
        return "probe"
    raise MissingFileError(
        f"{root} is not a run directory: expected metrics.json (probe), compare.json (compare) "
        f"or train_metrics.json (train), found {sorted(p.name for p in root.iterdir())[:10]}")


#: commands whose run folder has a ``metrics.json`` that is not a probe's, and what to open instead
_NOT_REPORTED = {"align": "its alignments.txt and metrics.json hold the result (no report is drawn for align)",
                 "embed": "run `xalign probe` on the same inputs for a report"}


def _refuse_other_commands(doc: Any, path: Path) -> None:
    """One clear line when ``metrics.json`` was written by a command that has no report (e.g. ``align``)."""
    manifest = doc.get("manifest") if isinstance(doc, dict) else None
    command = manifest.get("command") if isinstance(manifest, dict) else None
    if isinstance(doc, dict) and "pairs" not in doc and command in _NOT_REPORTED:
        raise DataError(f"{path.parent} is an `xalign {command}` run; `xalign report` draws probe, compare and "
                        f"train runs: {_NOT_REPORTED[command]}")


def load_probe_run(run_dir: str | Path, *, embeddings: bool = True) -> ProbeRun:
    """Read ``metrics.json`` (required), ``manifest.json``, ``details.json`` and the embeddings (optional)."""
    root = Path(run_dir)
    from xalign.results.json_io import probe_from_json

    doc = _read_json(root / "metrics.json")
    _refuse_other_commands(doc, root / "metrics.json")
    metrics = probe_from_json(doc, str(root / "metrics.json"))  # validates every field, names the bad one
    manifest_path = root / "manifest.json"
    manifest = (_expect_dict(_read_json(manifest_path), str(manifest_path)) if manifest_path.is_file()
                else dict(metrics.manifest))
    details_path = root / "details.json"
    details = _expect_dict(_read_json(details_path), str(details_path)) if details_path.is_file() else {}
    embs = load_run_embeddings(root, metrics) if embeddings else {}
    return ProbeRun(path=root, manifest=manifest, metrics=metrics, details=details, embeddings=embs)


def load_run_embeddings(run_dir: str | Path, metrics: ProbeMetrics) -> dict[str, PairEmbeddings]:
    """The stored embeddings of every pair of ``metrics`` that has them (memory-mapped)."""
    embs: dict[str, PairEmbeddings] = {}
    for name, pair in metrics.pairs.items():
        found = load_embeddings(run_dir, name, [e.layer for e in pair.layers])
        if found is not None:
            embs[name] = found
    return embs


def load_embeddings(run_dir: str | Path, pair: str, layers: list[int]) -> PairEmbeddings | None:
    """``embeddings/<pair>/{<src>.npy,<tgt>.npy,texts.json}`` memory-mapped, or None when absent.

    ``layers`` are the layer numbers of the stored rows (from ``metrics.json``); inconsistent
    shapes or text counts raise ``ValueError`` naming the file.
    """
    folder = Path(run_dir) / "embeddings" / pair
    texts_path = folder / "texts.json"
    if not texts_path.is_file():
        logger.info("no embeddings for %s (expected %s)", pair, texts_path)
        return None
    texts = _expect_dict(_read_json(texts_path), str(texts_path))
    try:
        src_lang, tgt_lang = str(texts["src_lang"]), str(texts["tgt_lang"])
        src_texts, tgt_texts = list(texts["src"]), list(texts["tgt"])
    except KeyError as exc:
        raise DataError(f"{texts_path}: expected keys src_lang, tgt_lang, src, tgt; missing {exc.args[0]!r}") from None
    arrays = []
    for lang in (src_lang, tgt_lang):
        path = folder / f"{lang}.npy"
        if not path.is_file():
            raise MissingFileError(f"expected embeddings at {path} (named by {texts_path}), found none")
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise DataError(f"{path}: not a readable .npy array ({exc})") from None
        if arr.ndim != 3:
            raise DataError(f"{path}: expected a [layers, n, hidden] array, found shape {arr.shape}")
        arrays.append(arr)
    src, tgt = arrays
    if src.shape != tgt.shape:
        raise DataError(f"{folder}: {src_lang}.npy has shape {src.shape} but {tgt_lang}.npy has {tgt.shape}")
    if len(src_texts) != src.shape[1] or len(tgt_texts) != src.shape[1]:
        raise DataError(f"{texts_path}: {len(src_texts)} src / {len(tgt_texts)} tgt texts for "
                         f"{src.shape[1]} embedded sentences")
    if len(layers) != src.shape[0]:
        layers = list(range(src.shape[0]))
    return PairEmbeddings(pair=pair, src_lang=src_lang, tgt_lang=tgt_lang, layers=list(layers), src=src, tgt=tgt,
                          src_texts=[str(t) for t in src_texts], tgt_texts=[str(t) for t in tgt_texts])


def load_compare_run(run_dir: str | Path, *, embeddings: bool = True) -> CompareRun:
    """Read ``compare.json`` and each ``models/<label>/`` probe run it lists (None where a model dir is absent)."""
    root = Path(run_dir)
    path = root / "compare.json"
    from xalign.results.json_io import comparison_from_json

    comparison = comparison_from_json(_read_json(path), str(path))  # validates every field, names the bad one
    runs: dict[str, ProbeRun | None] = {}
    for m in comparison.models:
        label = str(m["label"])
        sub = root / str(m.get("run_dir") or f"models/{label}")
        try:
            sub.resolve().relative_to(root.resolve())
        except ValueError:
            raise DataError(f"{path}: model {label!r} run_dir {m.get('run_dir')!r} points outside {root}") from None
        runs[label] = load_probe_run(sub, embeddings=embeddings) if (sub / "metrics.json").is_file() else None
    return CompareRun(path=root, manifest=dict(comparison.manifest), comparison=comparison, models=runs)


def load_train_run(run_dir: str | Path, *, embeddings: bool = True) -> TrainRun:
    """Read ``train_metrics.json`` (and the probe files when the same directory has them)."""
    root = Path(run_dir)
    path = root / "train_metrics.json"
    doc = _expect_dict(_read_json(path), str(path))
    if not isinstance(doc.get("history", []), list):
        raise DataError(f"{path}: expected 'history' as a list, found {type(doc['history']).__name__}")
    if not isinstance(doc.get("eval", {}), dict):
        raise DataError(f"{path}: expected 'eval' as an object, found {type(doc['eval']).__name__}")
    probe = load_probe_run(root, embeddings=embeddings) if (root / "metrics.json").is_file() else None
    manifest_path = root / "manifest.json"
    manifest = _expect_dict(_read_json(manifest_path), str(manifest_path)) if manifest_path.is_file() else {}
    return TrainRun(path=root, train=doc, manifest=manifest, probe=probe)
