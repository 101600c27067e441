"""The steps of one training run, in the order :func:`xalign.pipelines.train.core._train_in` calls them:
load the classifier → build the datasets → make the trainer → (train) → save the weights once.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from xalign.errors import ConfigError
from xalign.io import atomic_path
from xalign.pipelines.train.data import write_copies

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.tasks.splits import TaskSplits
    from xalign.pipelines.train.config import TrainConfig

logger = logging.getLogger(__name__)


def label_names(splits: "TaskSplits") -> list[str]:
    """The label names every split shares (one ``ConfigError`` naming the split that differs)."""
    names = splits.train.features["label"].names
    others = [("select", splits.select), *((f"{s}/{k}", v) for s, d in splits.eval_sets.items() for k, v in d.items())]
    for what, ds in others:
        if ds.features["label"].names != names:
            raise ConfigError(f"label sets differ: train has {names}, {what} has {ds.features['label'].names}")
    return list(names)


def load_classifier(config: "TrainConfig", model_path: str, names: list[str]) -> tuple[Any, Any]:
    """``(tokenizer, classifier)`` over the encoder at ``model_path``, with ``config.max_length`` checked
    against the model's limit and the word embeddings frozen when asked."""
    from transformers import AutoTokenizer

    from xalign.encoders.loading import model_errors
    from xalign.training.freeze import freeze_input_embeddings
    from xalign.training.heads import build_classifier

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
        raise ConfigError(f"--max-length {config.max_length} exceeds the model maximum of {limit} tokens")
    return tokenizer, model


def build_datasets(config: "TrainConfig", splits: "TaskSplits", tokenizer: Any, model: Any, out: Path,
                   method: Any) -> tuple[Any, Any]:
    """``(train, select)`` datasets: the method prepares its training data (rs-da: substitution on the fly, or
    ``rsda_copies`` offline copies, written to ``out/rsda_copies.tsv``)."""
    from xalign.training.features import PairDataset

    prepared = method.train_data(splits.train, tokenizer, max_length=config.max_length, seed=config.seed, model=model)
    train_ds = prepared.dataset
    if prepared.copies is not None:
        write_copies(out / "rsda_copies.tsv", prepared.copies)
    select_ds = PairDataset.from_dataset(splits.select, tokenizer, max_length=config.max_length)
    logger.info("data: %d train / %d select pairs (%d train pairs reach max_length %d); eval %s%s", len(train_ds),
                len(select_ds), train_ds.n_truncated(), config.max_length,
                {s: f"{len(d)} languages, {sum(len(v) for v in d.values())} items" for s, d in splits.eval_sets.items()},
                f"; generalized {splits.generalized.n} items × {len(splits.generalized.languages)}² cells"
                if splits.generalized else "")
    return train_ds, select_ds


class LastStepLogCallback(TrainerCallback):
    """Log the loss at the last step too, so a run shorter than ``logging_steps`` still has a history."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps and state.global_step >= state.max_steps:
            control.should_log = True
        return control


def make_trainer(config: "TrainConfig", out: Path, model: Any, tokenizer: Any, datasets: tuple[Any, Any],
                 args: Any, callbacks: list | None, method: Any) -> Any:
    """The :class:`~xalign.robust.trainer.RobustTrainer` with xalign's callbacks (log.csv, epoch seeding,
    final evaluation, logging, last-step log, TensorBoard when wanted) and the caller's ``callbacks``."""
    from transformers import DataCollatorWithPadding, PrinterCallback

    from xalign.robust.trainer import RobustTrainer
    from xalign.training import callbacks as cbs
    from xalign.training import evaluate as ev

    train_ds, select_ds = datasets
    callback_list = [cbs.CSVLogCallback(out / "log.csv", "eval_select_accuracy"), cbs.EpochCallback(train_ds),
                     cbs.FinalEvalCallback(), cbs.LoggerCallback(), LastStepLogCallback(), *(callbacks or [])]
    tb = cbs.tensorboard_callback(out / "tensorboard", config.tensorboard)
    if tb is not None:
        callback_list.append(tb)
    trainer = RobustTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset={"select": select_ds},
                            data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
                            compute_metrics=ev.compute_accuracy, callbacks=callback_list, robust=config._robust(),
                            method=method)
    trainer.remove_callback(PrinterCallback)
    return trainer


_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")


def _weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.name in _WEIGHT_FILES or (p.name.startswith("model-") and p.name.endswith(".safetensors")))


def save_weights(model: Any, tokenizer: Any, out: Path) -> None:
    """``model/`` (the classifier, opens with ``AutoModelForSequenceClassification`` or
    :func:`xalign.training.heads.load_classifier`) and ``encoder/`` (opens with ``load_encoder``), with the
    weights on disk once: ``encoder/`` holds the encoder's config and tokenizer and hard links to
    ``model/``'s weight files (``from_pretrained`` of the bare encoder skips the head's tensors). Where
    the file system has no hard links, the encoder's own weights are written."""
    with atomic_path(out / "model") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    base = model.base_model
    with atomic_path(out / "encoder") as tmp:
        tmp = Path(tmp)
        config = copy.deepcopy(base.config)
        config.architectures = [type(base).__name__]
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            for src in _weight_files(out / "model"):
                os.link(src, tmp / src.name)
        except OSError as exc:
            logger.info("no hard links here (%s): encoder/ gets its own copy of the weights", exc)
            for stale in _weight_files(tmp):
                stale.unlink()
            base.save_pretrained(tmp)
