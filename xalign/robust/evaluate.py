"""Accuracy of a trained classifier: per language, the generalized l1 × l2 matrix, and smoothed inference.

These helpers drive ``Trainer.predict`` (so DDP gathering and mixed precision are the Trainer's) and
reduce predictions to numbers; they write nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.data.tasks import generalized_pairs
from xalign.robust.features import PairDataset

if TYPE_CHECKING:  # pragma: no cover
    import datasets

    from xalign.robust.smoothing import NoiseSpec
    from xalign.robust.trainer import RobustTrainer


def accuracy_from_logits(logits: Any, labels: Any) -> float:
    """Share of rows whose argmax equals the label (ties: lowest index)."""
    logits = logits[0] if isinstance(logits, tuple) else logits
    pred = np.asarray(logits).argmax(-1)
    labels = np.asarray(labels)
    if pred.shape != labels.shape:
        raise ValueError(f"predictions {pred.shape} and labels {labels.shape} differ in shape")
    return float((pred == labels).mean()) if labels.size else float("nan")


def compute_accuracy(eval_pred: Any) -> dict[str, float]:
    """``compute_metrics`` for the Trainer: ``{"accuracy": ...}``."""
    return {"accuracy": accuracy_from_logits(eval_pred.predictions, eval_pred.label_ids)}


def dataset_accuracy(trainer: "RobustTrainer", data: "datasets.Dataset", *, max_length: int) -> float:
    """Plain (single deterministic pass) accuracy of ``trainer.model`` on ``data``."""
    out = trainer.predict(PairDataset.from_dataset(data, trainer.processing_class, max_length=max_length))
    return accuracy_from_logits(out.predictions, out.label_ids)


def language_accuracy(trainer: "RobustTrainer", by_lang: Mapping[str, "datasets.Dataset"], *,
                      max_length: int) -> dict[str, float]:
    """``{lang: accuracy}`` for every evaluation language."""
    return {lang: dataset_accuracy(trainer, ds, max_length=max_length) for lang, ds in by_lang.items()}


def generalized_matrix(trainer: "RobustTrainer", by_lang: Mapping[str, "datasets.Dataset"], languages: Sequence[str],
                       *, max_length: int, diagonal: Mapping[str, float] | None = None) -> list[list[float]]:
    """``matrix[i][j]`` = accuracy with sentence 1 in ``languages[i]`` and sentence 2 in ``languages[j]``
    (item-aligned data). Known diagonal values (plain per-language accuracy) are reused."""
    matrix = []
    for l1 in languages:
        row = []
        for l2 in languages:
            if l1 == l2 and diagonal is not None and l1 in diagonal:
                row.append(float(diagonal[l1]))
            else:
                row.append(dataset_accuracy(trainer, generalized_pairs(dict(by_lang), l1, l2), max_length=max_length))
        matrix.append(row)
    return matrix


def smoothed_accuracy(trainer: "RobustTrainer", by_lang: Mapping[str, "datasets.Dataset"], *, n: int,
                      noise: "NoiseSpec", seed: int, max_length: int) -> dict[str, float]:
    """``{lang: accuracy}`` of the smoothed classifier (majority vote over ``n`` noisy copies)."""
    out = {}
    for lang, ds in by_lang.items():
        with trainer.smoothed(n, noise, seed):
            out[lang] = dataset_accuracy(trainer, ds, max_length=max_length)
    return out


def evaluate_run(trainer: "RobustTrainer", by_lang: Mapping[str, "datasets.Dataset"], *, max_length: int,
                 generalized: bool = False, smooth_n: int = 0, noise: "NoiseSpec | None" = None,
                 seed: int = 0) -> dict[str, Any]:
    """``{"accuracy": {lang: …}, "generalized": {"languages", "matrix"}, "smoothed_accuracy": {lang: …},
    "smoothing": {...}}`` — the last three only when asked (generalized needs ≥ 2 item-aligned languages)."""
    from dataclasses import asdict

    accuracy = language_accuracy(trainer, by_lang, max_length=max_length)
    results: dict[str, Any] = {"accuracy": accuracy}
    if generalized and len(by_lang) > 1:
        langs = list(by_lang)
        results["generalized"] = {"languages": langs, "matrix": generalized_matrix(
            trainer, by_lang, langs, max_length=max_length, diagonal=accuracy)}
    if smooth_n > 0:
        if noise is None:
            raise ValueError("smoothed evaluation needs a NoiseSpec")
        results["smoothed_accuracy"] = smoothed_accuracy(trainer, by_lang, n=smooth_n, noise=noise, seed=seed,
                                                         max_length=max_length)
        results["smoothing"] = {"n": smooth_n, "noise": asdict(noise)}
    return results
