"""Task data in your own files: a TSV (with a header) or JSONL (``.jsonl``/``.json``) file of labelled items.

Labels are never guessed. With declared names (a task's labels, or ``label_names``) a label is one of those
names or an integer index into that order. Without, a file's labels are all names (classes in sorted order) or
all integers, which must be the class ids ``0..k-1`` (a gap such as ``{0, 1, 2, 5}`` is refused, not read as 6
classes). A file mixing names and integers is refused. Every field is checked where it is read and a bad one
is one line naming ``file:line``: invalid UTF-8, a field over :data:`~xalign.data.tasks.layouts.MAX_FIELD`
characters, a JSON text that is not a string (``null``, a list), an empty sentence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.data.lines import LineFile, PathLike
from xalign.data.tasks.layouts import MAX_FIELD, tsv_fields, tsv_lines
from xalign.data.tasks.spec import _is_int, label_index, make_dataset
from xalign.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

    from xalign.data.tasks.spec import TaskSpec

Record = tuple[str, dict[str, Any]]  # ("file:line", fields)


def _jsonl_records(path: Path) -> list[Record]:
    return list(LineFile(path, what="JSONL file").json_objects())


def read_records(path: PathLike) -> list[Record]:
    """The rows of a JSONL or headed TSV file as ``("file:line", {field: value})``; no rows is an error."""
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".json"):
        records = _jsonl_records(path)
    else:
        lines = tsv_lines(path)
        first = next(lines, None)
        if first is None:
            raise DataError(f"{path}: empty file (expected a header line)")
        header = tsv_fields(first[1], f"{path}:{first[0]}")
        records = [(f"{path}:{n}", dict(zip(header, tsv_fields(line, f"{path}:{n}", len(header)))))
                   for n, line in lines]
    if not records:
        raise DataError(f"{path}: no data rows")
    return records


def check_label_names(names: Sequence[str] | None) -> list[str] | None:
    """``names`` as a list, or ``ConfigError`` when one is empty or given twice, or fewer than two are given."""
    if names is None:
        return None
    names = [str(x).strip() for x in names]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup or "" in names or len(names) < 2:
        why = f"{dup[0]!r} is given twice" if dup else ("a name is empty" if "" in names else "fewer than two")
        raise ConfigError(f"label names (--label-names) must be two or more distinct names in class order: "
                          f"{why} in {names}")
    return names


def _text(rec: dict[str, Any], name: str, where: str) -> str:
    value = rec[name]
    if not isinstance(value, str):
        raise DataError(f"{where}: field {name!r} must be a string, found {type(value).__name__} "
                        f"{json.dumps(value)[:60]}")
    if not value.strip():
        raise DataError(f"{where}: empty sentence in field {name!r}")
    if len(value) > MAX_FIELD:
        raise DataError(f"{where}: field {name!r} has {len(value):,} characters (at most {MAX_FIELD:,})")
    return value


def _label(rec: dict[str, Any], name: str, where: str) -> str:
    value = rec[name]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: label field {name!r} must be a name or an integer, found "
                        f"{type(value).__name__} {json.dumps(value)[:60]}")
    return str(value).strip()


def label_kind(records: Sequence[Record], values: Sequence[str], path: Path) -> str:
    """``"integers"`` or ``"names"``: what the labels of a file are; a mix is an error naming both lines."""
    is_int = [_is_int(v) for v in values]
    if any(is_int) and not all(is_int):
        k, j = is_int.index(True), is_int.index(False)
        raise DataError(f"{path}: labels mix integers and names ({records[k][0]}: {values[k]!r}, "
                        f"{records[j][0]}: {values[j]!r}); use one kind")
    return "integers" if all(is_int) else "names"


def _class_names(values: Sequence[str], kind: str, path: Path) -> list[str]:
    """The classes of a file without declared names: its names sorted, or its integers, which must be 0..k-1."""
    if kind == "names":
        return sorted(set(values))
    huge = any(len(v.lstrip("-")) > 18 for v in values)  # a typo such as 10**12 allocates nothing
    found = None if huge else sorted({int(v) for v in values})
    if found is None or found != list(range(len(found))):
        shown = sorted(set(values), key=lambda v: (len(v), v))
        raise DataError(f"{path}: integer labels must be the class ids 0..k-1, each used; found "
                        f"{', '.join(shown[:8])}{', …' if len(shown) > 8 else ''} (give the class names in order "
                        f"with label_names / --label-names)")
    return [str(i) for i in found]


def read_items(path: PathLike, fields: Mapping[str, str | None], *, label_names: Sequence[str] | None = None,
               records: list[Record] | None = None, same_kind_as: tuple[str, str] | None = None
               ) -> tuple["datasets.Dataset", str]:
    """The dataset of a file (``fields``: sentence1, sentence2 (``None``: one sentence), label, item_id (``None``:
    the row number) → the file's field) and the kind of its labels (``"names"`` or ``"integers"``).
    ``same_kind_as=(kind, other file)``: labels of another kind are refused before any is mapped."""
    path = Path(path)
    records = read_records(path) if records is None else records
    texts = [f for f in (fields["sentence1"], fields.get("sentence2")) if f]
    wanted = [*texts, fields["label"], *([fields["item_id"]] if fields.get("item_id") else [])]
    columns: list[list[str]] = [[] for _ in texts]
    values = []
    for where, rec in records:
        missing = [c for c in wanted if c not in rec]
        if missing:
            raise DataError(f"{where}: missing field(s) {missing}; found {sorted(rec)}")
        for col, name in zip(columns, texts):
            col.append(_text(rec, name, where))
        values.append(_label(rec, fields["label"], where))
    kind = label_kind(records, values, path)
    if same_kind_as and kind != same_kind_as[0]:
        raise DataError(f"{path} has {kind} as labels but {same_kind_as[1]} has {same_kind_as[0]}: write every "
                        f"file's labels the same way (all names or all class ids)")
    names = check_label_names(label_names) or _class_names(values, kind, path)
    labels = [label_index(v, names, where) for v, (where, _) in zip(values, records)]
    item = fields.get("item_id")
    ids = [str(r[item]).strip() for _, r in records] if item else [f"row-{i:06d}" for i in range(len(records))]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        k = next(i for i, x in enumerate(ids) if x in seen or seen.add(x))
        raise DataError(f"{records[k][0]}: item id {ids[k]!r} occurs more than once in column {item!r}")
    return make_dataset(columns[0], columns[1] if len(columns) == 2 else None, labels, ids, names), kind


def read_pairs_with_kind(path: PathLike, *, sentence1: str = "sentence1", sentence2: str | None = "sentence2",
                         label: str = "label", item_id: str | None = None, label_names: Sequence[str] | None = None,
                         same_kind_as: tuple[str, str] | None = None) -> tuple["datasets.Dataset", str]:
    """:func:`read_pairs` and the kind of labels the file holds: ``"names"`` or ``"integers"``."""
    return read_items(path, {"sentence1": sentence1, "sentence2": sentence2, "label": label, "item_id": item_id},
                      label_names=label_names, same_kind_as=same_kind_as)


def read_pairs(path: PathLike, *, sentence1: str = "sentence1", sentence2: str | None = "sentence2",
               label: str = "label", item_id: str | None = None, label_names: Sequence[str] | None = None
               ) -> "datasets.Dataset":
    """A generic TSV (with header) or JSONL file of labelled sentence pairs (``sentence2=None``: one sentence).

    Column names are configurable; ``item_id`` names an id column (default: the row number). See the module
    docstring for how labels are read."""
    return read_pairs_with_kind(path, sentence1=sentence1, sentence2=sentence2, label=label, item_id=item_id,
                                label_names=label_names)[0]


def read_task_file(path: PathLike, task: "str | TaskSpec", *, columns: Mapping[str, str] | None = None
                   ) -> "datasets.Dataset":
    """A task's training file with the task's declared labels. Its fields are the first of the task's
    ``file_fields`` the file has (XNLI: MultiNLI ``premise``/``hypothesis``; PAWS-X: ``id sentence1 sentence2
    label``; SIB-200: ``index_id category text``); an ``id`` field becomes the item id. ``columns``
    (sentence1/sentence2/label/item_id → field) overrides the detection."""
    from xalign.data.tasks.registry import task_spec

    spec = task_spec(task)
    records = read_records(path)
    first = records[0][1]
    options = [*spec.file_fields, dict(zip(spec.text_columns, spec.text_columns), label="label")]
    fields: dict[str, str | None] = dict(next((o for o in options if all(v in first for v in o.values())),
                                              options[-1]))
    fields.setdefault("item_id", "id" if "id" in first else None)
    fields.setdefault("sentence2", None)
    fields.update(columns or {})
    if not spec.is_pair and fields.get("sentence2"):
        raise ConfigError(f"task {spec.name} has one text column (sentence1); a sentence2 column was given")
    ds = read_items(path, fields, label_names=spec.labels, records=records)[0]
    if spec.item_order is not None and fields.get("item_id"):  # the order the task's own files are read in
        ids = ds["item_id"][:]
        ds = ds.select(sorted(range(len(ids)), key=lambda i: spec.item_order(ids[i])))
    return ds
