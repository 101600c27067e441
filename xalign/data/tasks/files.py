"""Sentence-pair classification data (XNLI, PAWS-X, generic TSV/JSONL) as ``datasets.Dataset``.

Every dataset has the columns ``sentence1``, ``sentence2``, ``label`` (a ``ClassLabel``) and
``item_id``. Item ids are shared by the translations of one item (XTREME layout: ``dev-00042`` is row 42
of the dev split in every language; PAWS-X x-final: the ``id`` column), so protocols
(:mod:`xalign.data.task_splits`) match languages by id, never by position.

Local copies in the XTREME, PAWS-X x-final and myXNLI layouts are found and read by
:mod:`xalign.data.task_layouts`; any TSV (with a header) or JSONL file by :func:`read_pairs`.

Labels are never guessed: a task's labels are its declared names (XNLI entailment/neutral/contradiction,
PAWS-X not_paraphrase/paraphrase), and an integer label is the index in that declared order (MultiNLI's
0/1/2 and PAWS's 0/1 follow it). In a generic file, labels are all names or all integers; a mix is an error.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.data.task_types import (PAWSX_LABELS, PAWSX_LANGUAGES, SPLITS, TASKS, XNLI_LABELS,  # noqa: F401
                                     XNLI_LANGUAGES, TaskSpec, _check_split, _is_int, check_language, label_index,
                                     make_dataset, task_spec)
from xalign.errors import DataError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

_HUB = {"xnli": "facebook/xnli", "pawsx": "google-research-datasets/paws-x"}


def _read_tsv(path: Path) -> tuple[list[str], Iterable[tuple[int, list[str]]]]:
    if not path.is_file():
        raise MissingFileError(f"expected a TSV file at {path}, found none")
    fh = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None:
        fh.close()
        raise DataError(f"{path}: empty file (expected a header line)")

    def rows():
        with fh:
            for lineno, row in enumerate(reader, 2):
                if row:
                    yield lineno, row
    return header, rows()


# --------------------------------------------------------------------------- hub and dispatch
def _from_hub(spec: TaskSpec, lang: str, split: str) -> "datasets.Dataset":
    import datasets

    hub_split = {"dev": "validation"}.get(split, split)
    try:
        ds = datasets.load_dataset(_HUB[spec.name], lang, split=hub_split)
    except Exception as exc:  # offline, missing config, ...: one clear line
        raise MissingFileError(f"could not load {spec.name} {lang}/{split} from the Hugging Face hub "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                               f"pass a local data directory instead") from None
    ids = [str(x) for x in ds["id"]] if "id" in ds.column_names else [f"{split}-{i:05d}" for i in range(len(ds))]
    a, b = ("premise", "hypothesis") if spec.name == "xnli" else ("sentence1", "sentence2")
    return make_dataset(ds[a], ds[b], ds["label"], ids, spec.labels)


def task_languages(task: str, split: str, *, data_dir: PathLike | None = None, layout: str = "auto") -> list[str]:
    """The languages ``split`` of ``task`` has: in the local copy's chosen source, or all on the hub."""
    spec = task_spec(task)
    if data_dir is None:
        return list(spec.languages)
    from xalign.data.task_layouts import choose_source

    return choose_source(Path(data_dir), spec, _check_split(split), layout).languages


def load_task_split(task: str, lang: str, split: str, *, data_dir: PathLike | None = None,
                    layout: str = "auto") -> tuple["datasets.Dataset", int]:
    """``split`` of ``task`` in ``lang`` and the number of rows dropped (empty or ``NS`` sentence)."""
    spec = task_spec(task)
    lang = check_language(spec, lang)
    split = _check_split(split)
    if data_dir is None:
        return _from_hub(spec, lang, split), 0
    from xalign.data.task_layouts import choose_source, read_split

    return read_split(choose_source(Path(data_dir), spec, split, layout), lang, spec, split)


def load_task(task: str, lang: str, split: str, *, data_dir: PathLike | None = None,
              layout: str = "auto") -> "datasets.Dataset":
    """Load ``split`` (``train``/``dev``/``test``) of ``task`` in ``lang``, from ``data_dir`` or the hub."""
    return load_task_split(task, lang, split, data_dir=data_dir, layout=layout)[0]


def _records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    records: list[tuple[str, dict[str, Any]]] = []
    if path.suffix.lower() in (".jsonl", ".json"):
        if not path.is_file():
            raise MissingFileError(f"expected a JSONL file at {path}, found none")
        with path.open(encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
                if not isinstance(obj, dict):
                    raise DataError(f"{path}:{lineno}: expected a JSON object per line, found {type(obj).__name__}")
                records.append((f"{path}:{lineno}", obj))
    else:
        header, rows = _read_tsv(path)
        for lineno, row in rows:
            if len(row) != len(header):
                raise DataError(f"{path}:{lineno}: expected {len(header)} tab-separated fields, found {len(row)}")
            records.append((f"{path}:{lineno}", dict(zip(header, row))))
    if not records:
        raise DataError(f"{path}: no data rows")
    return records


def read_pairs_with_kind(path: PathLike, *, sentence1: str = "sentence1", sentence2: str = "sentence2",
                         label: str = "label", item_id: str | None = None, label_names: Sequence[str] | None = None
                         ) -> tuple["datasets.Dataset", str]:
    """:func:`read_pairs` and the kind of labels the file holds: ``"names"`` or ``"integers"``."""
    path = Path(path)
    return _pairs(path, _records(path), sentence1=sentence1, sentence2=sentence2, label=label, item_id=item_id,
                  label_names=label_names)


def _pairs(path: Path, records: list[tuple[str, dict[str, Any]]], *, sentence1: str, sentence2: str, label: str,
           item_id: str | None, label_names: Sequence[str] | None) -> tuple["datasets.Dataset", str]:
    wanted = [sentence1, sentence2, label] + ([item_id] if item_id else [])
    for where, rec in records:
        missing = [c for c in wanted if c not in rec]
        if missing:
            raise DataError(f"{where}: missing field(s) {missing}; found {sorted(rec)}")
        if not str(rec[sentence1]).strip() or not str(rec[sentence2]).strip():
            raise DataError(f"{where}: empty sentence")
    values = [str(r[label]).strip() for _, r in records]
    is_int = [_is_int(v) for v in values]
    if any(is_int) and not all(is_int):
        k, j = is_int.index(True), is_int.index(False)
        raise DataError(f"{path}: labels mix integers and names ({records[k][0]}: {values[k]!r}, "
                        f"{records[j][0]}: {values[j]!r}); use one kind")
    kind = "integers" if all(is_int) else "names"
    if label_names:
        names = list(label_names)
    elif kind == "names":
        names = sorted(set(values))
    else:
        names = [str(i) for i in range(max(int(v) for v in values) + 1)]
    labels = [label_index(r[label], names, where) for where, r in records]
    ids = [str(r[item_id]) for _, r in records] if item_id else [f"row-{i:06d}" for i in range(len(records))]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise DataError(f"{path}: item id {dup!r} occurs more than once in column {item_id!r}")
    return make_dataset([str(r[sentence1]) for _, r in records], [str(r[sentence2]) for _, r in records],
                        labels, ids, names), kind


def read_task_file(path: PathLike, task: str, *, columns: dict[str, str] | None = None) -> "datasets.Dataset":
    """A task's training file with the task's declared labels: MultiNLI JSONL (``premise``/``hypothesis``),
    or ``sentence1``/``sentence2`` JSONL/TSV (PAWS-Wiki: ``id sentence1 sentence2 label``); an ``id`` field
    becomes the item id. ``columns`` (sentence1/sentence2/label/item_id → field) overrides the detection."""
    spec = task_spec(task)
    path = Path(path)
    records = _records(path)
    first = records[0][1]
    cols: dict[str, Any] = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label", "item_id": None}
    if "premise" in first and "hypothesis" in first:
        cols.update(sentence1="premise", sentence2="hypothesis")
    if "id" in first:
        cols["item_id"] = "id"
    cols.update(columns or {})
    return _pairs(path, records, label_names=spec.labels, **cols)[0]


def read_pairs(path: PathLike, *, sentence1: str = "sentence1", sentence2: str = "sentence2", label: str = "label",
               item_id: str | None = None, label_names: Sequence[str] | None = None) -> "datasets.Dataset":
    """A generic TSV (with header) or JSONL (``.jsonl``/``.json`` lines) file of labelled sentence pairs.

    Column names are configurable; ``item_id`` names an id column (default: the row number). With
    ``label_names`` a label is one of those names or an integer index into them. Without, names are taken
    in sorted order and integers as class ids ``0..max`` (names ``"0"``, ``"1"``, …). A file whose labels
    mix names and integers is an error.
    """
    return read_pairs_with_kind(path, sentence1=sentence1, sentence2=sentence2, label=label, item_id=item_id,
                                label_names=label_names)[0]
