"""Accuracy of a trained classifier: per language, the generalized l1 × l2 matrix, and smoothed inference.

These helpers drive ``Trainer.predict`` (so DDP gathering and mixed precision are the Trainer's) and
reduce predictions to numbers; they write nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.data.tasks.splits import generalized_pairs, ids_sha256
from xalign.errors import ConfigError
from xalign.training.features import PairDataset

if TYPE_CHECKING:  # pragma: no cover
    import datasets

    from xalign.data.tasks.splits import GeneralizedSet

    from xalign.robust.smoothing import NoiseSpec
    from xalign.robust.trainer import RobustTrainer


def check_generalized(data: "datasets.Dataset", *, task: str = "this task") -> None:
    """``ConfigError`` when ``data`` has one sentence per item (no ``sentence2`` column): the generalized
    evaluation puts sentence 1 and sentence 2 of an item in two languages, so it needs two."""
    if "sentence2" not in data.column_names:
        raise ConfigError(f"the generalized (mixed-language) evaluation needs two sentences per item, but {task} has "
                          f"one (columns {', '.join(data.column_names)}): leave out --generalized")


def accuracy_from_logits(logits: Any, labels: Any) -> float:
    """Share of rows whose argmax equals the label (ties: lowest index)."""
    logits = logits[0] if isinstance(logits, tuple) else logits
    pred = np.asarray(logits).argmax(-1)
    labels = np.asarray(labels)
    if pred.shape != labels.shape:
        raise ConfigError(f"predictions {pred.shape} and labels {labels.shape} differ in shape")
    return float((pred == labels).mean()) if labels.size else float("nan")


def compute_accuracy(eval_pred: Any) -> dict[str, float]:
    """``compute_metrics`` for the Trainer: ``{"accuracy": ...}``."""
    return {"accuracy": accuracy_from_logits(eval_pred.predictions, eval_pred.label_ids)}


def dataset_correct(trainer: "RobustTrainer", data: "datasets.Dataset", *, max_length: int) -> np.ndarray:
    """Per-item correctness (bool ``[n]``, dataset order) of ``trainer.model`` in one deterministic pass.

    The Trainer predicts in :func:`~xalign.training.features.length_order` (the ``RobustTrainer`` eval
    sampler); the result is put back into item order."""
    from xalign.training.features import length_order

    ds = PairDataset.from_dataset(data, trainer.processing_class, max_length=max_length)
    out = trainer.predict(ds)
    logits = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
    pred, labels = np.asarray(logits).argmax(-1), np.asarray(out.label_ids)
    if pred.shape != labels.shape or pred.shape != (len(ds),):
        raise ConfigError(f"predictions {pred.shape} and labels {labels.shape} do not match {len(ds)} items")
    order = np.asarray(length_order(ds.lengths), dtype=np.int64)
    if not np.array_equal(np.asarray(ds.labels)[order], labels):
        raise RuntimeError("the Trainer did not predict in length_order: per-item results cannot be mapped back")
    correct = np.empty(len(ds), dtype=bool)
    correct[order] = pred == labels
    return correct


def dataset_accuracy(trainer: "RobustTrainer", data: "datasets.Dataset", *, max_length: int) -> float:
    """Plain (single deterministic pass) accuracy of ``trainer.model`` on ``data``."""
    correct = dataset_correct(trainer, data, max_length=max_length)
    return float(correct.mean()) if correct.size else float("nan")


def correct_string(correct: np.ndarray) -> str:
    """Per-item correctness as a compact ``"0110…"`` string (item order), for paired tests across runs."""
    return "".join("1" if c else "0" for c in np.asarray(correct, dtype=bool))


def correct_from_string(text: str) -> np.ndarray:
    """Inverse of :func:`correct_string`: a float ``[n]`` array of 0/1."""
    if set(text) - {"0", "1"}:
        raise ConfigError(f"expected a string of 0/1 per item, got {text[:20]!r}…")
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.float64) - ord("0")


def language_correct(trainer: "RobustTrainer", by_lang: Mapping[str, "datasets.Dataset"], *,
                     max_length: int) -> dict[str, np.ndarray]:
    """``{lang: per-item correctness}`` for every evaluation language."""
    return {lang: dataset_correct(trainer, ds, max_length=max_length) for lang, ds in by_lang.items()}


def generalized_correct(trainer: "RobustTrainer", by_lang: Mapping[str, "datasets.Dataset"], languages: Sequence[str],
                        *, max_length: int, diagonal: Mapping[str, np.ndarray] | None = None
                        ) -> list[list[np.ndarray]]:
    """``cells[i][j]`` = per-item correctness with sentence 1 in ``languages[i]`` and sentence 2 in
    ``languages[j]`` (item-aligned data). Known diagonal cells (plain per-language runs) are reused."""
    cells = []
    for l1 in languages:
        row = []
        for l2 in languages:
            if l1 == l2 and diagonal is not None and l1 in diagonal:
                row.append(np.asarray(diagonal[l1], dtype=bool))
            else:
                row.append(dataset_correct(trainer, generalized_pairs(dict(by_lang), l1, l2), max_length=max_length))
        cells.append(row)
    return cells


def smoothed_accuracy(trainer: "RobustTrainer", by_lang: Mapping[str, "datasets.Dataset"], *, n: int,
                      noise: "NoiseSpec", seed: int, max_length: int) -> dict[str, float]:
    """``{lang: accuracy}`` of the smoothed classifier (majority vote over ``n`` noisy copies)."""
    out = {}
    for lang, ds in by_lang.items():
        with trainer.smoothed(n, noise, seed):
            out[lang] = dataset_accuracy(trainer, ds, max_length=max_length)
    return out


def _reuse_diagonal(per_lang: Mapping[str, "datasets.Dataset"], correct: Mapping[str, np.ndarray],
                    gen_by_lang: Mapping[str, "datasets.Dataset"]) -> dict[str, np.ndarray]:
    """Per-language correctness re-indexed to the generalized items (the diagonal cells need no new pass)."""
    out = {}
    for lang, ds in gen_by_lang.items():
        if lang in per_lang:
            pos = {x: i for i, x in enumerate(per_lang[lang]["item_id"])}
            ids = list(ds["item_id"])
            if all(x in pos for x in ids):
                out[lang] = np.asarray(correct[lang])[[pos[x] for x in ids]]
    return out


def evaluate_run(trainer: "RobustTrainer", eval_sets: Mapping[str, Mapping[str, "datasets.Dataset"]], *,
                 max_length: int, generalized: "GeneralizedSet | None" = None, smooth_n: int = 0,
                 noise: "NoiseSpec | None" = None, seed: int = 0, dropped: Mapping[str, Mapping[str, int]] | None = None
                 ) -> dict[str, Any]:
    """Accuracy and per-item correctness on every evaluation split, the generalized matrix, smoothed accuracy.

    Returns ``{"split": main, "accuracy": {lang: …}, "correct": {lang: "0110…"}, "splits": {split: {"accuracy",
    "correct", "n", "item_ids_sha256", "dropped"}}, "generalized": {"split", "languages", "matrix", "correct",
    "n", "item_ids_sha256"}, "smoothed_accuracy": {lang: …}, "smoothing": {...}}`` — ``accuracy``/``correct``
    are those of the first (main) split; the last three only when asked. ``correct`` holds per-item correctness
    in item order (see :func:`correct_from_string`), so runs on the same items can be compared with paired
    tests."""
    from dataclasses import asdict

    if not eval_sets:
        raise ConfigError("evaluate_run needs at least one evaluation split")
    splits: dict[str, Any] = {}
    raw: dict[str, dict[str, np.ndarray]] = {}
    for split, by_lang in eval_sets.items():
        raw[split] = language_correct(trainer, by_lang, max_length=max_length)
        splits[split] = {"accuracy": {k: float(c.mean()) for k, c in raw[split].items()},
                         "correct": {k: correct_string(c) for k, c in raw[split].items()},
                         "n": {k: int(c.size) for k, c in raw[split].items()},
                         "item_ids_sha256": {k: ids_sha256(ds) for k, ds in by_lang.items()},
                         "dropped": dict((dropped or {}).get(split, {}))}
    main = next(iter(eval_sets))
    results: dict[str, Any] = {"split": main, "accuracy": splits[main]["accuracy"],
                               "correct": splits[main]["correct"], "splits": splits}
    if generalized is not None:
        check_generalized(next(iter(generalized.by_lang.values())))
        langs = list(generalized.languages)
        diagonal = _reuse_diagonal(eval_sets.get(generalized.split, {}), raw.get(generalized.split, {}),
                                   generalized.by_lang)
        cells = generalized_correct(trainer, generalized.by_lang, langs, max_length=max_length, diagonal=diagonal)
        results["generalized"] = {"split": generalized.split, "languages": langs, "n": generalized.n,
                                  "item_ids_sha256": ids_sha256(generalized.by_lang[langs[0]]),
                                  "matrix": [[float(c.mean()) for c in row] for row in cells],
                                  "correct": [[correct_string(c) for c in row] for row in cells]}
    if smooth_n > 0:
        if noise is None:
            raise ConfigError("smoothed evaluation needs a NoiseSpec")
        results["smoothed_accuracy"] = smoothed_accuracy(trainer, eval_sets[main], n=smooth_n, noise=noise, seed=seed,
                                                         max_length=max_length)
        results["smoothing"] = {"n": smooth_n, "noise": asdict(noise)}
    return results
