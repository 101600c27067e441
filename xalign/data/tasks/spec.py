"""What a task is: :class:`TaskSpec` (labels, text columns, languages, splits, hub source, local layouts) and the
``Dataset`` every reader builds from it.

A task module (``xalign/data/tasks/xnli.py``) defines one ``TASK = TaskSpec(...)``; the registry
(:mod:`xalign.data.tasks.registry`) finds it. Every dataset of a task has the columns of ``text_columns``
(``sentence1`` for a one-sentence task, ``sentence1``/``sentence2`` for a pair task), ``label`` (a
``ClassLabel`` with the task's label names) and ``item_id`` (shared by the translations of one item).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

SPLITS = ("train", "dev", "test")
TEXT_COLUMNS = ("sentence1", "sentence2")
PAIR = ("sentence1", "sentence2")
SINGLE = ("sentence1",)

# one row of a local file: (item id, the texts of text_columns, the label as written)
Row = tuple[str, tuple[str, ...], str]


@dataclass(frozen=True)
class SplitSource:
    """Where one split of a task lives: its layout (name), folder and one file per language."""

    layout: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return sorted(self.files)


@dataclass(frozen=True)
class Layout:
    """One way a local copy of a task is laid out on disk.

    ``find(root, spec, split)`` lists the sources of ``split`` under ``root`` (the folder and its immediate
    subfolders); ``read(path, lang, split, spec)`` gives the rows of one file and the line numbers of the rows
    it dropped (an empty or ``NS`` sentence); ``wanted(split)`` says which files it looks for (for the one-line
    error when nothing is found)."""

    name: str
    find: Callable[[Path, "TaskSpec", str], list[SplitSource]]
    read: Callable[[Path, str, str, "TaskSpec"], tuple[list[Row], list[int]]]
    wanted: Callable[[str], str]


@dataclass(frozen=True)
class HubSource:
    """How the task reads from the Hugging Face hub with ``datasets.load_dataset(path, config(lang), split=...)``:
    the hub's field for each text column, for the label and for the item id (``None``: the row number)."""

    path: str
    columns: tuple[str, ...]
    label: str = "label"
    item_id: str | None = "id"
    splits: Mapping[str, str] = field(default_factory=lambda: {"train": "train", "dev": "validation",
                                                               "test": "test"})
    config: Callable[[str], str] = str


@dataclass(frozen=True)
class TaskSpec:
    """A named task: everything xalign needs to read it.

    ``labels`` are the class names (index = class id; an integer label in a file is an index into them);
    ``languages`` the codes the task names its languages by (on the hub and in its files); ``text_columns``
    ``("sentence1",)`` or ``("sentence1", "sentence2")``; ``layouts`` the local layouts, in the order ``auto``
    prefers on a tie; ``file_fields`` the field names a training file (``--train-file``) may use, tried in order
    (``{"sentence1": "premise", ...}``); ``lang_code`` maps a language as a user writes it to the task's code
    (``ValueError`` when it cannot; default :func:`~xalign.data.languages.normalize_lang`); ``item_order`` is a
    sort key of item ids that puts every language's rows in one order whatever the order of its file (default:
    the file's order)."""

    name: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    text_columns: tuple[str, ...] = PAIR
    splits: tuple[str, ...] = SPLITS
    hub: HubSource | None = None
    layouts: tuple[Layout, ...] = ()
    file_fields: tuple[Mapping[str, str], ...] = ()
    lang_code: Callable[[str], str] | None = None
    item_order: Callable[[str], Any] | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.text_columns not in (SINGLE, PAIR):
            raise ConfigError(f"task {self.name!r}: text_columns must be {SINGLE} or {PAIR}, "
                              f"got {self.text_columns}")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ConfigError(f"task {self.name!r}: labels must be at least two distinct names, got {self.labels}")

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2

    def layout(self, name: str) -> Layout:
        for lay in self.layouts:
            if lay.name == name:
                return lay
        raise ConfigError(f"task {self.name} has no data layout {name!r}: expected auto or one of "
                          f"{', '.join(x.name for x in self.layouts)}")

    def language(self, lang: str) -> str:
        """The task's code for ``lang``, or ``ConfigError`` naming its languages."""
        if lang in self.languages:
            return lang
        from xalign.data.languages import AmbiguousLanguageError, normalize_lang

        try:
            code = (self.lang_code or normalize_lang)(lang)
        except AmbiguousLanguageError:
            raise  # 'ace': the message lists ace_Arab and ace_Latn
        except (ValueError, TypeError):
            code = None
        if code not in self.languages:
            shown = ", ".join(self.languages[:20]) + (f", … ({len(self.languages)} in all)"
                                                      if len(self.languages) > 20 else "")
            raise ConfigError(f"{self.name} has no language {lang!r}: expected one of {shown}")
        return code

    def check_split(self, split: str) -> str:
        if split not in self.splits:
            raise ConfigError(f"unknown split {split!r} for {self.name}: expected one of {self.splits}")
        return split


def make_dataset(sentence1: Sequence[str], sentence2: Sequence[str] | None, labels: Sequence[int],
                 item_ids: Sequence[str], label_names: Sequence[str]) -> "datasets.Dataset":
    """The standard task ``Dataset`` (``label`` is a ``ClassLabel`` with ``label_names``); with ``sentence2``
    ``None`` a one-sentence dataset, which has no ``sentence2`` column."""
    import datasets

    n = len(sentence1)
    lengths = [n, *([len(sentence2)] if sentence2 is not None else []), len(labels), len(item_ids)]
    if len(set(lengths)) != 1:
        raise ConfigError(f"columns differ in length: {', '.join(map(str, lengths))}")
    if len(set(item_ids)) != n:
        raise ConfigError("item ids must be unique within a dataset")
    columns: dict[str, Any] = {"sentence1": list(sentence1)}
    features: dict[str, Any] = {"sentence1": datasets.Value("string")}
    if sentence2 is not None:
        columns["sentence2"] = list(sentence2)
        features["sentence2"] = datasets.Value("string")
    columns.update(label=[int(x) for x in labels], item_id=list(item_ids))
    features.update(label=datasets.ClassLabel(names=list(label_names)), item_id=datasets.Value("string"))
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def rows_dataset(rows: Sequence[Row], spec: TaskSpec, where: str) -> "datasets.Dataset":
    """The dataset of ``rows`` (labels by the task's names or their integer index; ordered by the task's
    ``item_order`` when it has one); ``where`` names the file."""
    if spec.item_order is not None:
        rows = sorted(rows, key=lambda r: spec.item_order(r[0]))
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise DataError(f"{where}: item id {dup!r} occurs more than once")
    labels = [label_index(r[2], spec.labels, f"{where} item {r[0]}") for r in rows]
    texts = list(zip(*(r[1] for r in rows)))
    return make_dataset(texts[0], texts[1] if spec.is_pair else None, labels, ids, spec.labels)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def label_index(value: Any, names: Sequence[str], where: str) -> int:
    """Class id of ``value``: a name in ``names``, or an integer index into that declared order."""
    text = str(value).strip()
    if text in names:
        return list(names).index(text)
    if _is_int(text) and len(text) < 19 and 0 <= int(text) < len(names):
        return int(text)
    raise DataError(f"{where}: label {value!r} is not one of {list(names)} (or 0..{len(names) - 1})")
