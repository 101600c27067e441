"""Trainer callbacks: the per-step CSV log, the data epoch for RS-DA, and a final evaluation."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

logger = logging.getLogger(__name__)

LOG_FIELDS = ["step", "epoch", "loss", "lr", "grad_norm", "clean_loss", "adv_loss"]


def history_rows(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Training-loss rows of ``TrainerState.log_history`` as ``{"step", "loss", "lr", "epoch", ...}``."""
    rows = []
    for entry in log_history:
        if "loss" not in entry:
            continue
        row = {"step": entry.get("step"), "epoch": entry.get("epoch"), "loss": entry.get("loss"),
               "lr": entry.get("learning_rate")}
        for key in ("grad_norm", "clean_loss", "adv_loss"):
            if key in entry:
                row[key] = entry[key]
        rows.append(row)
    return rows


def eval_rows(log_history: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """``[{"step", "epoch", "value"}]`` for every logged evaluation of ``metric`` (e.g. ``eval_select_accuracy``)."""
    return [{"step": e.get("step"), "epoch": e.get("epoch"), "value": e[metric]} for e in log_history if metric in e]


class CSVLogCallback(TrainerCallback):
    """Rewrites ``path`` from the whole log history at every log event (so it survives resumes)."""

    def __init__(self, path: str | Path, eval_metric: str | None = None) -> None:
        self.path = Path(path)
        self.eval_metric = eval_metric

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        from xalign.io import write_csv

        rows = history_rows(state.log_history)
        fields = list(LOG_FIELDS)
        if self.eval_metric:
            by_step = {r["step"]: r["value"] for r in eval_rows(state.log_history, self.eval_metric)}
            steps = {r["step"] for r in rows}
            rows = [dict(r, **({self.eval_metric: by_step[r["step"]]} if r["step"] in by_step else {})) for r in rows]
            rows += [{"step": s, self.eval_metric: v} for s, v in by_step.items() if s not in steps]
            rows.sort(key=lambda r: (r["step"] or 0))
            fields.append(self.eval_metric)
        write_csv(self.path, rows, fields)


class EpochCallback(TrainerCallback):
    """Tells a dataset with ``set_epoch`` which epoch starts (before its loader workers start)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(int(math.floor((state.epoch or 0.0) + 1e-9)))


class FinalEvalCallback(TrainerCallback):
    """Evaluate and save at the last step (once), so the best-checkpoint choice sees the final model."""

    def __init__(self) -> None:
        self._last_eval_step = -1

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps and state.global_step >= state.max_steps:
            control.should_evaluate = True
            control.should_save = True

    def on_evaluate(self, args, state, control, **kwargs):
        self._last_eval_step = state.global_step

    def on_epoch_end(self, args, state, control, **kwargs):
        if self._last_eval_step == state.global_step:
            control.should_evaluate = False
            control.should_save = False


class LoggerCallback(TrainerCallback):
    """Sends the Trainer's log dicts to ``logging`` (instead of ``print``) on the main process."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            shown = {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in logs.items()}
            logger.info("step %d: %s", state.global_step, shown)


def tensorboard_callback(log_dir: str | Path, enabled: bool | None) -> TrainerCallback | None:
    """A TensorBoard callback writing to ``log_dir`` when ``enabled`` (None: when tensorboard is installed)."""
    if enabled is False:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if enabled:
            raise ImportError("tensorboard logging needs the tensorboard package: pip install tensorboard") from None
        return None
    from transformers.integrations import TensorBoardCallback

    return TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(log_dir)))
