"""Local copies of a task: find which of its layouts a folder holds, and read one language of one split.

Each task lists its layouts (:class:`~xalign.data.tasks.spec.Layout`); ``layout="auto"`` (``--data-layout``)
picks, per split, the source with the most languages. The XTREME layout is shared by the pair tasks and lives
here; a layout only one task has lives in that task's module.

* ``xtreme`` — as XTREME's download script writes them: ``<split>-<lang>.tsv``, no header, columns
  ``sentence1 sentence2 label``. The files may lie directly in the data folder, in a ``<split>/`` subfolder,
  or in any other immediate subfolder (``xtreme_dev/``). Row *i* is the same item in every language: its item
  id is ``<split>-<row>``.

Items are matched across languages by item id, never by position. A row whose sentence is empty or ``NS``
(PAWS-X has a few upstream) is dropped from its language and counted: :func:`read_split` returns the count.
Every file is read through :class:`~xalign.data.lines.LineFile` (invalid UTF-8 is one line naming file:line),
and a field over :data:`MAX_FIELD` characters is refused the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from xalign.data.lines import LineFile
from xalign.data.tasks.spec import Layout, Row, SplitSource, TaskSpec, rows_dataset
from xalign.errors import ConfigError, DataError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

logger = logging.getLogger(__name__)

BAD = ("", "NS")
MAX_FIELD = 100_000  # characters: a sentence is far shorter; a longer field is a broken file


def subfolders(root: Path) -> list[Path]:
    """``root`` and its immediate, non-hidden subfolders."""
    return [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]


def tsv_fields(line: str, where: str, n: int | None = None) -> list[str]:
    """The tab-separated fields of ``line`` (``n`` of them when given), each at most :data:`MAX_FIELD` chars."""
    row = line.split("\t")
    if n is not None and len(row) != n:
        raise DataError(f"{where}: expected {n} tab-separated fields, found {len(row)}")
    for k, cell in enumerate(row):
        if len(cell) > MAX_FIELD:
            raise DataError(f"{where}: field {k + 1} has {len(cell):,} characters (at most {MAX_FIELD:,}: is a "
                            f"line break or quote missing?)")
    return row


def tsv_lines(path: Path, what: str = "TSV file") -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of the non-blank lines of ``path``."""
    for lineno, line in LineFile(path, what=what):
        if line.strip():
            yield lineno, line


def header_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """``(line number, [the values of columns])`` of a TSV file with a header holding ``columns``."""
    lines = tsv_lines(path)
    first = next(lines, None)
    header = tsv_fields(first[1], f"{path}:{first[0]}") if first else []
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}:1: expected columns {list(columns)}, found {header}")
    idx = [header.index(c) for c in columns]
    for lineno, line in lines:
        row = tsv_fields(line, f"{path}:{lineno}", len(header))
        yield lineno, [row[i] for i in idx]


def keep_row(rows: list[Row], bad: list[int], lineno: int, row: Row) -> None:
    """Append ``row`` to ``rows``, or its line to ``bad`` when a text is empty or ``NS``."""
    if any(t.strip() in BAD for t in row[1]):
        bad.append(lineno)
    else:
        rows.append(row)


def _xtreme_find(root: Path, spec: TaskSpec, split: str) -> list[SplitSource]:
    out = []
    for folder in subfolders(root):
        files = {lang: folder / f"{split}-{lang}.tsv" for lang in spec.languages}
        files = {lang: p for lang, p in files.items() if p.is_file()}
        if files:
            out.append(SplitSource("xtreme", folder, files))
    return out


def _xtreme_read(path: Path, lang: str, split: str, spec: TaskSpec) -> tuple[list[Row], list[int]]:
    rows: list[Row] = []
    bad: list[int] = []
    n = len(spec.text_columns) + 1
    for lineno, line in tsv_lines(path):
        *texts, label = tsv_fields(line, f"{path}:{lineno}", n)
        keep_row(rows, bad, lineno, (f"{split}-{lineno - 1:05d}", tuple(texts), label))
    return rows, bad


XTREME = Layout("xtreme", _xtreme_find, _xtreme_read,
                lambda split: f"{split}-<lang>.tsv (in the folder, {split}/ or a subfolder)")


def find_sources(root: Path, spec: TaskSpec, split: str, layout: str = "auto") -> list[SplitSource]:
    """Every source of ``split`` under ``root`` (of ``layout``, or of any of the task's layouts for ``auto``),
    best first: most languages, then the task's order of layouts."""
    names = [x.name for x in spec.layouts]
    if layout != "auto":
        spec.layout(layout)  # ConfigError naming the task's layouts
        names = [layout]
    if not root.is_dir():
        raise MissingFileError(f"expected a {spec.name} data folder at {root}, found none")
    found = [s for name in names for s in spec.layout(name).find(root, spec, split)]
    return sorted(found, key=lambda s: (-len(s.files), names.index(s.layout)))


def choose_source(root: Path, spec: TaskSpec, split: str, layout: str = "auto") -> SplitSource:
    """The source :func:`find_sources` ranks first, or one line saying which layouts were looked for."""
    if not spec.layouts:
        raise ConfigError(f"task {spec.name} has no local layout: leave out the data folder to read it from the hub")
    found = find_sources(root, spec, split, layout)
    if not found:
        names = [x.name for x in spec.layouts] if layout == "auto" else [layout]
        raise MissingFileError(f"no {spec.name} {split} data in {root}: looked for the layouts "
                               + "; ".join(f"{n}: {spec.layout(n).wanted(split)}" for n in names))
    best = found[0]
    if len(found) > 1:
        logger.info("%s %s: using %s layout in %s (%d languages); also found %s", spec.name, split, best.layout,
                    best.folder, len(best.files), ", ".join(f"{s.layout} in {s.folder}" for s in found[1:]))
    return best


def read_split(source: SplitSource, lang: str, spec: TaskSpec, split: str) -> tuple["datasets.Dataset", int]:
    """One language of one split as a task dataset, and the number of rows dropped (empty or ``NS``)."""
    path = source.files.get(lang)
    if path is None:
        raise MissingFileError(f"{spec.name} {split} in {source.folder} ({source.layout} layout) has no language "
                               f"{lang!r}; it has {', '.join(source.languages)}")
    rows, bad = spec.layout(source.layout).read(path, lang, split, spec)
    if bad:
        logger.warning("%s: dropped %d row(s) with an empty or 'NS' sentence (lines %s%s)", path, len(bad),
                       ", ".join(map(str, bad[:5])), ", …" if len(bad) > 5 else "")
    if not rows:
        raise DataError(f"{path}: no usable data rows")
    return rows_dataset(rows, spec, str(path)), len(bad)
