"""Task data: classification tasks (XNLI, PAWS-X, SIB-200, any :class:`TaskSpec`) and your own files, as
``datasets.Dataset``.

Every dataset has the task's text columns (``sentence1``, and ``sentence2`` for a pair task; a one-sentence
task has no ``sentence2`` column), ``label`` (a ``ClassLabel`` with the task's names) and ``item_id``. Item ids
are shared by the translations of one item (XTREME layout: ``dev-00042`` is row 42 of the dev split in every
language; PAWS-X x-final: the ``id`` column; SIB-200: ``index_id``), so protocols (:mod:`.splits`) match
languages by id, never by position.

* :mod:`.spec` — :class:`TaskSpec`, :class:`Layout`, :class:`HubSource`, the dataset builder;
* :mod:`.registry` — the tasks by name: one module per task (:mod:`.xnli`, :mod:`.pawsx`, :mod:`.sib200`)
  defines ``TASK``, and :func:`register_task` adds one from anywhere;
* :mod:`.layouts` — local copies: which layout a folder holds, one language of one split;
* :mod:`.hub` — the Hugging Face hub; :mod:`.files` — TSV/JSONL files; :mod:`.splits` — protocols.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from xalign.data.tasks.files import check_label_names, read_pairs, read_pairs_with_kind, read_task_file
from xalign.data.tasks.registry import check_language, register_task, task_names, task_spec, unregister_task
from xalign.data.tasks.spec import SPLITS, HubSource, Layout, SplitSource, TaskSpec, label_index, make_dataset

if TYPE_CHECKING:  # pragma: no cover
    import datasets

PathLike = str | os.PathLike[str]

__all__ = ["SPLITS", "HubSource", "Layout", "SplitSource", "TaskSpec", "check_label_names", "check_language",
           "label_index", "load_task", "load_task_split", "make_dataset", "read_pairs", "read_pairs_with_kind",
           "read_task_file", "register_task", "split_loader", "task_languages", "task_names", "task_spec", "unregister_task"]


def task_languages(task: str | TaskSpec, split: str, *, data_dir: PathLike | None = None,
                   layout: str = "auto") -> list[str]:
    """The languages ``split`` of ``task`` has: in the local copy's chosen source, or all on the hub."""
    spec = task_spec(task)
    if data_dir is None:
        return list(spec.languages)
    from xalign.data.tasks.layouts import choose_source

    return choose_source(Path(data_dir), spec, spec.check_split(split), layout).languages


def load_task_split(task: str | TaskSpec, lang: str, split: str, *, data_dir: PathLike | None = None,
                    layout: str = "auto") -> tuple["datasets.Dataset", int]:
    """``split`` of ``task`` in ``lang`` and the number of rows dropped (empty or ``NS`` sentence)."""
    spec = task_spec(task)
    lang = spec.language(lang)
    split = spec.check_split(split)
    if data_dir is None:
        from xalign.data.tasks.hub import from_hub

        return from_hub(spec, lang, split), 0
    from xalign.data.tasks.layouts import choose_source, read_split

    return read_split(choose_source(Path(data_dir), spec, split, layout), lang, spec, split)


def split_loader(task: str | TaskSpec, *, data_dir: PathLike | None = None, layout: str = "auto"
                 ) -> Callable[[str, str], tuple["datasets.Dataset", int]]:
    """``load(lang, split)`` as :func:`load_task_split`, choosing each split's local source once (a 205-language
    folder is scanned once per split, not once per language)."""
    spec = task_spec(task)
    if data_dir is None:
        return lambda lang, split: load_task_split(spec, lang, split)
    from xalign.data.tasks.layouts import choose_source, read_split

    sources: dict[str, SplitSource] = {}

    def load(lang: str, split: str) -> tuple["datasets.Dataset", int]:
        split = spec.check_split(split)
        if split not in sources:
            sources[split] = choose_source(Path(data_dir), spec, split, layout)
        return read_split(sources[split], spec.language(lang), spec, split)

    return load


def load_task(task: str | TaskSpec, lang: str, split: str, *, data_dir: PathLike | None = None,
              layout: str = "auto") -> "datasets.Dataset":
    """Load ``split`` (``train``/``dev``/``test``) of ``task`` in ``lang``, from ``data_dir`` or the hub."""
    return load_task_split(task, lang, split, data_dir=data_dir, layout=layout)[0]
