"""The data of a training run: train/select/eval splits from files, a task folder or the hub; the offline RS-DA
copies file; the evaluation interval a recipe implies for this run's length."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, MissingFileError
from xalign.pipelines.train.config import TrainConfig

logger = logging.getLogger(__name__)


def read_files(config: TrainConfig):
    """task=pairs: train/select/eval files. Every file's labels must be of the training file's kind (names or
    integers), with or without ``label_names``: an integer means a class id only by one convention per run."""
    from xalign.data import tasks
    from xalign.data.tasks.splits import TaskSplits

    unknown = sorted(set(config.columns) - {"sentence1", "sentence2", "label", "item_id"})
    if unknown:
        raise ConfigError(f"unknown column key(s) {unknown}: expected sentence1, sentence2, label or item_id")
    cols = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label", "item_id": None, **config.columns}
    train, kind = tasks.read_pairs_with_kind(config.train_file, label_names=config.label_names, **cols)
    check_trainable(train, str(config.train_file))
    names = train.features["label"].names
    same = (kind, f"the training file {config.train_file}")
    read = {what: tasks.read_pairs_with_kind(path, label_names=names, same_kind_as=same, **cols)[0]
            for what, path in [("select", config.select_file), *config.eval_files.items()]}
    select = read.pop("select")
    return TaskSplits(train, select, read, "files", {"train_file": config.train_file,
                                                     "select_file": config.select_file, "eval_split": "eval"})


def _noleak(config: TrainConfig):
    from xalign.data import tasks
    from xalign.data.tasks.splits import noleak_splits

    loader = tasks.split_loader(config.task, data_dir=config.data_dir, layout=config.data_layout)

    def load(lang: str, split: str):
        return loader(lang, split)[0]

    langs = (tasks.task_languages(config.task, "dev", data_dir=config.data_dir, layout=config.data_layout)
             if config.eval_langs == ["all"] else config.eval_langs)
    return noleak_splits(load, train_lang=config.train_lang, languages=langs, n_train=config.n_train,
                         n_select=config.n_select, n_eval=config.n_eval,
                         seed=config.seed if config.data_seed is None else config.data_seed)


def eval_languages(config: TrainConfig) -> dict[str, list[str]]:
    """The languages to evaluate, per evaluation split: ``eval_langs`` that the split has (``all``: every
    language the data has); a language no split has is an error."""
    from xalign.data import tasks

    languages = {}
    for split in config.eval_splits:
        have = tasks.task_languages(config.task, split, data_dir=config.data_dir, layout=config.data_layout)
        want = have if config.eval_langs == ["all"] else [x for x in config.eval_langs if x in have]
        missing = [] if config.eval_langs == ["all"] else [x for x in config.eval_langs if x not in have]
        if missing:
            logger.info("%s %s has no %s: those languages are evaluated on the other splits only",
                        config.task, split, ", ".join(missing))
        if want:
            languages[split] = want
    absent = [x for x in config.eval_langs if x != "all" and not any(x in v for v in languages.values())]
    if absent or not languages:
        raise ConfigError(f"no {'/'.join(config.eval_splits)} data for {', '.join(absent) or 'any language'} "
                          f"in {config.data_dir or 'the hub'}")
    return languages


def _standard(config: TrainConfig):
    from xalign.data import tasks
    from xalign.data.tasks.splits import standard_splits

    load = tasks.split_loader(config.task, data_dir=config.data_dir, layout=config.data_layout)
    languages = eval_languages(config)
    if config.train_file:
        train = tasks.read_task_file(config.train_file, config.task, columns=config.columns)
    else:
        try:
            train = load(config.train_lang, "train")[0]
        except MissingFileError as exc:
            raise MissingFileError(f"{exc} (give a training file with train_file / --train-file, or use "
                                   f"protocol noleak)") from None
    splits = standard_splits(load, train_lang=config.train_lang, languages=languages, train=train,
                             n_train=config.n_train, n_select=config.n_select, n_eval=config.n_eval,
                             seed=config.seed, data_seed=config.data_seed)
    splits.info["train_source"] = config.train_file or f"{config.task} {config.train_lang} train"
    return splits


def check_trainable(train, where: str) -> None:
    """``DataError`` unless the training data holds at least two labels (one label trains a one-class model)."""
    from xalign.errors import DataError

    used = sorted(set(train["label"]))
    if len(used) < 2:
        names = train.features["label"].names
        raise DataError(f"{where}: every training item has the label {names[used[0]]!r} ({len(train)} items); "
                        f"a classifier needs at least two labels" if used else f"{where}: no training items")


def load_splits(config: TrainConfig):
    """Train/select/eval data of the run (:class:`xalign.data.tasks.splits.TaskSplits`): each dataset has the
    task's text columns (``sentence1``; ``sentence2`` for a pair task, absent for a one-sentence task),
    ``label`` and ``item_id``; ``splits.text_columns`` names them."""
    if config.task == "pairs":
        splits = read_files(config)
    elif config.protocol == "noleak":
        splits = _noleak(config)
    else:
        splits = _standard(config)
    check_trainable(splits.train, config.train_file or f"{config.task} {config.train_lang} training data")
    if config.generalized:
        import numpy as np

        from xalign.data.tasks.splits import generalized_set

        if "sentence2" not in splits.text_columns:
            raise ConfigError(f"the generalized setting (sentence 1 in one language, sentence 2 in another) needs "
                              f"a sentence-pair task; {config.task} has one text column")
        rng = np.random.default_rng([config.seed if config.data_seed is None else config.data_seed, 1])
        splits.generalized = generalized_set(splits.eval_sets, config.generalized_langs,
                                             split=config.generalized_split, n=config.generalized_n, rng=rng)
    return splits


def write_copies(path: Path, copies: dict[str, list]) -> None:
    """The offline RS-DA training set, as the released augment step writes it (each item's copies, no original):
    one TSV line per copy with its item id, copy number, sentence(s) and label name."""
    from xalign.io import final_path, write_text

    columns = list(copies)
    lines = ["\t".join(columns)]
    lines += ["\t".join(str(v) for v in row) for row in zip(*copies.values())]
    write_text(path, "\n".join(lines) + "\n")
    logger.info("rs-da: %d offline copies of %d items written to %s", max(copies["copy"], default=-1) + 1,
                len(set(copies["item_id"])), final_path(path))


def eval_steps_for(config: TrainConfig, n_train: int) -> tuple[int | None, dict[str, Any]]:
    """The evaluation interval to use, and a record of the scaling when the recipe's interval was too long
    for this run (:func:`xalign.settings.recipes.scaled_eval_steps`)."""
    import math

    if not (config.recipe and config.eval_steps and config.sources.get("eval_steps") == "recipe"):
        return config.eval_steps, {}
    from xalign.settings.recipes import scaled_eval_steps

    total = config.max_steps or math.ceil(math.ceil(n_train / config.batch_size) * config.epochs)
    used = scaled_eval_steps(config.recipe, config.task, config.eval_steps, total)
    if used == config.eval_steps:
        return used, {}
    logger.info("recipe %s evaluates every %d steps, but this run has %d steps: evaluating every %d steps instead "
                "(as many dev evaluations as the full-size run)", config.recipe, config.eval_steps, total, used)
    return used, {"eval_steps": {"recipe": config.eval_steps, "used": used, "total_steps": total}}
