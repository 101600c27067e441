"""Local copies of XNLI and PAWS-X: find which layout a folder holds, and read one language of one split.

Layouts (``layout=`` / ``--data-layout``; ``auto`` picks, per split, the source with the most languages):

* ``xtreme``  — as XTREME's download script writes them: ``<split>-<lang>.tsv``, no header, columns
  ``sentence1 sentence2 label`` (XNLI labels by name, PAWS-X 0/1). The files may lie directly in the data
  folder, in a ``<split>/`` subfolder, or in any other immediate subfolder (``xtreme_dev/``). Row *i* is the
  same item in every language: its item id is ``<split>-<row>``.
* ``x-final`` — the official PAWS-X release: ``<lang>/{train,dev_2k,test_2k}.tsv`` with a header
  ``id sentence1 sentence2 label`` (``translated_train.tsv`` is read for ``train`` too), in the data folder
  or an immediate subfolder (``x_final/``). The ``id`` column is the item id.
* ``myxnli``  — ``<lang>.genre.<split>.tsv`` (``genre label sentence1_<lang> sentence2_<lang>``; English from
  the gold columns of ``my.genre.<split>.tsv``). Item id ``<split>-<row>``.

Items are matched across languages by item id, never by position. A row whose sentence is empty or ``NS``
(PAWS-X has a few upstream) is dropped from its language and counted: :func:`read_split` returns the count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from xalign.errors import ConfigError, DataError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

    from xalign.data.task_types import TaskSpec

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "xtreme", "x-final", "myxnli")
_XFINAL_FILES = {"train": ("train.tsv", "translated_train.tsv"), "dev": ("dev_2k.tsv",), "test": ("test_2k.tsv",)}
_BAD = ("", "NS")


@dataclass(frozen=True)
class SplitSource:
    """Where one split of a task lives: its layout, folder and one file per language."""

    layout: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return sorted(self.files)


def _subfolders(root: Path) -> list[Path]:
    return [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]


def _xtreme_sources(root: Path, spec: "TaskSpec", split: str) -> list[SplitSource]:
    out = []
    for folder in _subfolders(root):
        files = {lang: folder / f"{split}-{lang}.tsv" for lang in spec.languages}
        files = {lang: p for lang, p in files.items() if p.is_file()}
        if files:
            out.append(SplitSource("xtreme", folder, files))
    return out


def _xfinal_sources(root: Path, spec: "TaskSpec", split: str) -> list[SplitSource]:
    out = []
    for folder in _subfolders(root):
        files = {}
        for lang in spec.languages:
            hit = next((folder / lang / n for n in _XFINAL_FILES[split] if (folder / lang / n).is_file()), None)
            if hit is not None:
                files[lang] = hit
        if files:
            out.append(SplitSource("x-final", folder, files))
    return out


def _myxnli_sources(root: Path, spec: "TaskSpec", split: str) -> list[SplitSource]:
    files = {lang: root / f"{lang}.genre.{split}.tsv" for lang in spec.languages}
    files = {lang: p for lang, p in files.items() if p.is_file()}
    if "en" not in files and (root / f"my.genre.{split}.tsv").is_file() and "en" in spec.languages:
        files["en"] = root / f"my.genre.{split}.tsv"
    return [SplitSource("myxnli", root, files)] if files else []


_FINDERS = {"xtreme": _xtreme_sources, "x-final": _xfinal_sources, "myxnli": _myxnli_sources}


def find_sources(root: Path, spec: "TaskSpec", split: str, layout: str = "auto") -> list[SplitSource]:
    """Every source of ``split`` under ``root`` (of ``layout``, or of any layout for ``auto``), best first:
    most languages, then the order xtreme, x-final, myxnli."""
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown data layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise MissingFileError(f"expected a {spec.name} data folder at {root}, found none")
    names = list(_FINDERS) if layout == "auto" else [layout]
    found = [s for name in names for s in _FINDERS[name](root, spec, split)]
    return sorted(found, key=lambda s: (-len(s.files), names.index(s.layout)))


def choose_source(root: Path, spec: "TaskSpec", split: str, layout: str = "auto") -> SplitSource:
    """The source :func:`find_sources` ranks first, or one line saying which layouts were looked for."""
    found = find_sources(root, spec, split, layout)
    if not found:
        wanted = {"xtreme": f"{split}-<lang>.tsv (in the folder, {split}/ or a subfolder)",
                  "x-final": f"<lang>/{'|'.join(_XFINAL_FILES[split])} (in the folder or a subfolder)",
                  "myxnli": f"<lang>.genre.{split}.tsv"}
        names = list(wanted) if layout == "auto" else [layout]
        raise MissingFileError(f"no {spec.name} {split} data in {root}: looked for the layouts "
                               + "; ".join(f"{n}: {wanted[n]}" for n in names))
    best = found[0]
    if len(found) > 1:
        logger.info("%s %s: using %s layout in %s (%d languages); also found %s", spec.name, split, best.layout,
                    best.folder, len(best.files), ", ".join(f"{s.layout} in {s.folder}" for s in found[1:]))
    return best


def _split_row(line: str, path: Path, lineno: int, n: int) -> list[str]:
    row = line.rstrip("\r\n").split("\t")
    if len(row) != n:
        raise DataError(f"{path}:{lineno}: expected {n} tab-separated fields, found {len(row)}")
    return row


def _read_xtreme(path: Path, split: str) -> tuple[list[tuple[str, str, str, str]], list[int]]:
    rows, bad = [], []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            a, b, label = _split_row(line, path, i + 1, 3)
            if a.strip() in _BAD or b.strip() in _BAD:
                bad.append(i + 1)
            else:
                rows.append((f"{split}-{i:05d}", a, b, label))
    return rows, bad


def _read_header_tsv(path: Path, columns: tuple[str, str, str, str], split: str, row_ids: bool):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
        missing = [c for c in columns if c and c not in header]
        if missing:
            raise DataError(f"{path}:1: expected columns {[c for c in columns if c]}, found {header}")
        idx = [header.index(c) if c else None for c in columns]
        rows, bad = [], []
        for k, line in enumerate(fh):
            if not line.strip():
                continue
            row = _split_row(line, path, k + 2, len(header))
            item = f"{split}-{k:05d}" if row_ids else row[idx[0]].strip()
            a, b, label = row[idx[1]], row[idx[2]], row[idx[3]]
            if a.strip() in _BAD or b.strip() in _BAD:
                bad.append(k + 2)
            else:
                rows.append((item, a, b, label))
    return rows, bad


def read_split(source: SplitSource, lang: str, spec: "TaskSpec", split: str) -> tuple["datasets.Dataset", int]:
    """One language of one split as a pair dataset, and the number of rows dropped (empty or ``NS``)."""
    from xalign.data.task_types import label_index, make_dataset

    path = source.files.get(lang)
    if path is None:
        raise MissingFileError(f"{spec.name} {split} in {source.folder} ({source.layout} layout) has no language "
                               f"{lang!r}; it has {', '.join(source.languages)}")
    if source.layout == "xtreme":
        rows, bad = _read_xtreme(path, split)
    elif source.layout == "x-final":
        rows, bad = _read_header_tsv(path, ("id", "sentence1", "sentence2", "label"), split, row_ids=False)
    else:
        rows, bad = _read_header_tsv(path, ("", f"sentence1_{lang}", f"sentence2_{lang}", "label"), split,
                                     row_ids=True)
    if bad:
        logger.warning("%s: dropped %d row(s) with an empty or 'NS' sentence (lines %s%s)", path, len(bad),
                       ", ".join(map(str, bad[:5])), ", …" if len(bad) > 5 else "")
    if not rows:
        raise DataError(f"{path}: no usable data rows")
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{path}: item id {dup!r} occurs more than once")
    labels = [label_index(r[3], spec.labels, f"{path} item {r[0]}") for r in rows]
    return make_dataset([r[1] for r in rows], [r[2] for r in rows], labels, ids, spec.labels), len(bad)
