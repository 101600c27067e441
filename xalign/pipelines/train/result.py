"""Typed results of ``xalign train``: what ``train_metrics.json`` holds, as objects.

:class:`TrainMetrics` reads and writes the same JSON as before (``to_json``/``from_json`` round-trip
it); the CLI printer and other consumers take these objects instead of digging through dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xalign.errors import DataError


def _get(doc: Any, key: str, where: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        found = sorted(doc) if isinstance(doc, dict) else doc
        raise DataError(f"{where}: expected a key {key!r}, found {found!r}"[:300])
    return doc[key]


@dataclass
class SplitEval:
    """Accuracy per language on one evaluation split, with per-item correctness (``"0110…"``, item order)."""

    accuracy: dict[str, float]
    correct: dict[str, str] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)
    item_ids_sha256: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "correct": self.correct, "n": self.n,
                "item_ids_sha256": self.item_ids_sha256, "dropped": self.dropped}

    @classmethod
    def from_json(cls, doc: Any, where: str) -> "SplitEval":
        return cls(accuracy=dict(_get(doc, "accuracy", where)), correct=dict(doc.get("correct", {})),
                   n=dict(doc.get("n", {})), item_ids_sha256=dict(doc.get("item_ids_sha256", {})),
                   dropped=dict(doc.get("dropped", {})))


@dataclass
class GeneralizedEval:
    """The l1 × l2 accuracy matrix (rows: sentence 1's language, columns: sentence 2's) on ``n`` items."""

    split: str
    languages: list[str]
    matrix: list[list[float]]
    n: int | None = None
    item_ids_sha256: str | None = None
    correct: list[list[str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"split": self.split, "languages": self.languages, "n": self.n,
                "item_ids_sha256": self.item_ids_sha256, "matrix": self.matrix, "correct": self.correct}

    @classmethod
    def from_json(cls, doc: Any, where: str) -> "GeneralizedEval":
        return cls(split=str(doc.get("split", "")), languages=list(_get(doc, "languages", where)),
                   matrix=[list(r) for r in _get(doc, "matrix", where)], n=doc.get("n"),
                   item_ids_sha256=doc.get("item_ids_sha256"), correct=[list(r) for r in doc.get("correct", [])])


@dataclass
class EvalResult:
    """Zero-shot evaluation: every split (``split`` is the main one), the generalized matrix, smoothed accuracy."""

    split: str
    splits: dict[str, SplitEval]
    generalized: GeneralizedEval | None = None
    smoothed_accuracy: dict[str, float] | None = None
    smoothing: dict[str, Any] | None = None

    @property
    def main(self) -> SplitEval:
        return self.splits[self.split]

    @property
    def accuracy(self) -> dict[str, float]:
        return self.main.accuracy

    @property
    def correct(self) -> dict[str, str]:
        return self.main.correct

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.split, "accuracy": self.accuracy, "correct": self.correct,
                               "splits": {k: v.to_json() for k, v in self.splits.items()}}
        if self.generalized is not None:
            out["generalized"] = self.generalized.to_json()
        if self.smoothed_accuracy is not None:
            out["smoothed_accuracy"] = self.smoothed_accuracy
            out["smoothing"] = self.smoothing
        return out

    @classmethod
    def from_json(cls, doc: Any, where: str = "eval") -> "EvalResult":
        split = str(doc.get("split", "test")) if isinstance(doc, dict) else "test"
        raw = doc.get("splits") if isinstance(doc, dict) else None
        splits = ({k: SplitEval.from_json(v, f"{where}.splits.{k}") for k, v in raw.items()} if raw
                  else {split: SplitEval.from_json(doc, where)})  # files written before "splits" existed
        gen = doc.get("generalized")
        return cls(split=split, splits=splits,
                   generalized=GeneralizedEval.from_json(gen, f"{where}.generalized") if gen else None,
                   smoothed_accuracy=doc.get("smoothed_accuracy"), smoothing=doc.get("smoothing"))


@dataclass
class Selection:
    """Model selection on the dev set: the best step, its dev accuracy, and the dev curve."""

    best_step: int | None
    accuracy: float | None
    train_lang: str = "en"
    curve: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"best_step": self.best_step, "accuracy": self.accuracy,
                f"{self.train_lang}_dev_accuracy": self.accuracy, "curve": self.curve}

    @classmethod
    def from_json(cls, doc: Any, where: str = "select") -> "Selection":
        lang = next((k[: -len("_dev_accuracy")] for k in doc if k.endswith("_dev_accuracy")), "en")
        return cls(best_step=doc.get("best_step"), accuracy=_get(doc, "accuracy", where), train_lang=lang,
                   curve=list(doc.get("curve", [])))


@dataclass
class TrainMetrics:
    """The contents of ``train_metrics.json``."""

    method: str
    task: str
    config: dict[str, Any]
    robust: dict[str, Any]
    eval: EvalResult
    select: Selection
    steps: int
    history: list[dict[str, Any]] = field(default_factory=list)
    recipe: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    train_runtime_s: float | None = None
    wall_time_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "task": self.task, "config": self.config, "robust": self.robust,
                "recipe": self.recipe, "history": self.history, "eval": self.eval.to_json(),
                "select": self.select.to_json(), "data": self.data, "steps": self.steps,
                "train_runtime_s": self.train_runtime_s, "wall_time_s": self.wall_time_s}

    @classmethod
    def from_json(cls, doc: Any, where: str = "train_metrics.json") -> "TrainMetrics":
        return cls(method=_get(doc, "method", where), task=_get(doc, "task", where), config=_get(doc, "config", where),
                   robust=doc.get("robust", {}), eval=EvalResult.from_json(_get(doc, "eval", where), f"{where}: eval"),
                   select=Selection.from_json(_get(doc, "select", where), f"{where}: select"),
                   steps=int(_get(doc, "steps", where)), history=list(doc.get("history", [])),
                   recipe=doc.get("recipe"), data=dict(doc.get("data", {})),
                   train_runtime_s=doc.get("train_runtime_s"), wall_time_s=doc.get("wall_time_s"))


@dataclass
class TrainResult:
    """What a run produced: the run directory and its typed metrics (``train_metrics.json``). On a
    non-zero rank of a multi-device run ``metrics`` holds the evaluation and selection only."""

    run_dir: Path
    metrics: TrainMetrics

    @property
    def accuracy(self) -> dict[str, float]:
        return self.metrics.eval.accuracy


def read_train_metrics(path: str | Path) -> TrainMetrics:
    """``train_metrics.json`` (the file or its run folder) as :class:`TrainMetrics`."""
    from xalign.io import read_json

    p = Path(path)
    p = p / "train_metrics.json" if p.is_dir() else p
    return TrainMetrics.from_json(read_json(p), str(p))
