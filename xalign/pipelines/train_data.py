"""The data of a training run: train/select/eval splits from files, a task folder or the hub; the offline RS-DA
copies file; the evaluation interval a recipe implies for this run's length."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, MissingFileError
from xalign.pipelines.train_config import TrainConfig

logger = logging.getLogger(__name__)


def read_files(config: TrainConfig):
    """task=pairs: train/select/eval files; a file's labels must be of the training file's kind (names or
    integers) unless ``label_names`` declares the order."""
    from xalign.data import task_splits, tasks
    from xalign.errors import DataError

    cols = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label", "item_id": None, **config.columns}
    unknown = sorted(set(config.columns) - {"sentence1", "sentence2", "label", "item_id"})
    if unknown:
        raise ConfigError(f"unknown column key(s) {unknown}: expected sentence1, sentence2, label or item_id")
    train, kind = tasks.read_pairs_with_kind(config.train_file, label_names=config.label_names, **cols)
    names = train.features["label"].names
    read = {}
    for what, path in [("select", config.select_file), *config.eval_files.items()]:
        ds, other = tasks.read_pairs_with_kind(path, label_names=names, **cols)
        if other != kind and not config.label_names:
            raise DataError(f"{path} has {other} as labels but the training file {config.train_file} has {kind}; "
                            f"give label_names (--label-names) to say which integer is which name")
        read[what] = ds
    select = read.pop("select")
    return task_splits.TaskSplits(train, select, read, "files", {"train_file": config.train_file,
                                                           "select_file": config.select_file, "eval_split": "eval"})


def load_splits(config: TrainConfig):
    from xalign.data import task_splits, tasks

    if config.task == "pairs":
        splits = read_files(config)
    elif config.protocol == "noleak":
        load1 = lambda lang, split: tasks.load_task(config.task, lang, split, data_dir=config.data_dir,  # noqa: E731
                                                    layout=config.data_layout)
        langs = (tasks.task_languages(config.task, "dev", data_dir=config.data_dir, layout=config.data_layout)
                 if config.eval_langs == ["all"] else config.eval_langs)
        splits = task_splits.noleak_splits(load1, train_lang=config.train_lang, languages=langs,
                                           n_train=config.n_train, n_select=config.n_select, n_eval=config.n_eval,
                                           seed=config.seed if config.data_seed is None else config.data_seed)
    else:
        load = lambda lang, split: tasks.load_task_split(config.task, lang, split,  # noqa: E731
                                                         data_dir=config.data_dir, layout=config.data_layout)
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
        if config.train_file:
            train = tasks.read_task_file(config.train_file, config.task, columns=config.columns)
        else:
            try:
                train = load(config.train_lang, "train")[0]
            except MissingFileError as exc:
                raise MissingFileError(f"{exc} (give a training file with train_file / --train-file, or use "
                                       f"protocol noleak)") from None
        splits = task_splits.standard_splits(load, train_lang=config.train_lang, languages=languages, train=train,
                                             n_train=config.n_train, n_select=config.n_select, n_eval=config.n_eval,
                                             seed=config.seed, data_seed=config.data_seed)
        splits.info["train_source"] = config.train_file or f"{config.task} {config.train_lang} train"
    if config.generalized:
        import numpy as np

        rng = np.random.default_rng([config.seed if config.data_seed is None else config.data_seed, 1])
        splits.generalized = task_splits.generalized_set(splits.eval_sets, config.generalized_langs,
                                                         split=config.generalized_split, n=config.generalized_n,
                                                         rng=rng)
    return splits


def write_copies(path: Path, copies: dict[str, list]) -> None:
    """The offline RS-DA training set, as the released augment step writes it (each item's copies, no original):
    one TSV line per copy with its item id, copy number, sentence(s) and label name."""
    from xalign.io import write_text

    columns = list(copies)
    lines = ["\t".join(columns)]
    lines += ["\t".join(str(v) for v in row) for row in zip(*copies.values())]
    write_text(path, "\n".join(lines) + "\n")
    logger.info("rs-da: %d offline copies of %d items written to %s", max(copies["copy"], default=-1) + 1,
                len(set(copies["item_id"])), path)


def eval_steps_for(config: TrainConfig, n_train: int) -> tuple[int | None, dict[str, Any]]:
    """The evaluation interval to use, and a record of the scaling when the recipe's interval was too long
    for this run (:func:`xalign.robust.recipes.scaled_eval_steps`)."""
    import math

    if not (config.recipe and config.eval_steps and config.sources.get("eval_steps") == "recipe"):
        return config.eval_steps, {}
    from xalign.robust.recipes import scaled_eval_steps

    total = config.max_steps or math.ceil(math.ceil(n_train / config.batch_size) * config.epochs)
    used = scaled_eval_steps(config.recipe, config.task, config.eval_steps, total)
    if used == config.eval_steps:
        return used, {}
    logger.info("recipe %s evaluates every %d steps, but this run has %d steps: evaluating every %d steps instead "
                "(as many dev evaluations as the full-size run)", config.recipe, config.eval_steps, total, used)
    return used, {"eval_steps": {"recipe": config.eval_steps, "used": used, "total_steps": total}}
