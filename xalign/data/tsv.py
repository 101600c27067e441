"""Reader for a TSV file with (at least) two text columns, with or without a header row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from xalign.data.corpus import ParallelCorpus, _is_lang, _need_langs, _PairCollector
from xalign.data.languages import normalize_lang
from xalign.data.lines import LineFile, PathLike
from xalign.errors import ConfigError, DataError


_HEADER_WORDS = {"src", "tgt", "source", "target", "id", "index", "index_id", "text", "sentence", "sentence1",
                 "sentence2", "text_a", "text_b", "category", "label", "translation"}
_ID_WORDS = ("id", "index_id", "index")


def read_tsv(path: PathLike, src_lang: str | None, tgt_lang: str | None, *, columns: Sequence[int | str] | None = None,
             strict: bool = False) -> ParallelCorpus:
    """A TSV file with (at least) two text columns; see :func:`load_parallel` for header and ``columns``."""
    f = LineFile(path, what="TSV file")
    rows = iter(f)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{f.path} is empty; expected a TSV with two text columns")
    cells = first[1].split("\t")
    by_name = columns is not None and all(isinstance(c, str) for c in columns)
    header = by_name or all(c.strip().lower() in _HEADER_WORDS or _is_lang(c) for c in cells)
    names = [c.strip() for c in cells] if header else []
    lang_cols = {normalize_lang(c): k for k, c in enumerate(names) if _is_lang(c)}
    if columns is None:
        if src_lang in lang_cols and tgt_lang in lang_cols:
            columns = (lang_cols[src_lang], lang_cols[tgt_lang])
        elif len(cells) == 2:
            columns = (0, 1)
        elif len(lang_cols) == 2:
            columns = tuple(sorted(lang_cols.values()))
        else:
            raise ConfigError(f"{f.path} has {len(cells)} tab-separated columns; pick the two text columns with "
                             f"columns=(i, j) or, with a header, columns=('en', 'sw')")
    if len(columns) != 2:
        raise ConfigError(f"columns= needs two entries (source, target), got {columns!r}")
    if by_name:
        missing = [c for c in columns if c not in names]
        if missing:
            raise ConfigError(f"{f.path}:1: no column named {missing[0]!r}; header columns: {names}")
        cs, ct = names.index(columns[0]), names.index(columns[1])
    elif all(isinstance(c, int) for c in columns):
        cs, ct = columns
    else:
        raise TypeError(f"columns= needs two ints or two header names, got {columns!r}")
    if header:
        col_langs = [normalize_lang(names[c]) if _is_lang(names[c]) else None for c in (cs, ct)]
        for given, found, c in ((src_lang, col_langs[0], cs), (tgt_lang, col_langs[1], ct)):
            if given and found and given != found:
                raise DataError(f"{f.path}:1: column {c} is headed {names[c]!r} ({found}) but the requested "
                                 f"language is {given!r}; check pair=/columns=")
        src_lang, tgt_lang = src_lang or col_langs[0], tgt_lang or col_langs[1]
    src_lang, tgt_lang = _need_langs(src_lang, tgt_lang, str(f.path))
    id_col = next((names.index(w) for w in _ID_WORDS if w in names), None)
    width = max(cs, ct, -1 if id_col is None else id_col) + 1
    out = _PairCollector(f.path.name, strict)

    def rows_with_first() -> Iterator[tuple[int, str]]:
        if not header:
            yield first
        yield from rows

    for lineno, line in rows_with_first():
        parts = line.split("\t")
        if len(parts) < width:
            if not line.strip():
                parts = [""] * width
            else:
                raise DataError(f"{f.path}:{lineno}: expected at least {width} tab-separated fields, found "
                                 f"{len(parts)}")
        loc = f"{f.path}:{lineno}"
        out.add(parts[cs], parts[ct], loc, loc, parts[id_col] if id_col is not None else str(lineno))
    return out.finish(src_lang, tgt_lang, [f.source()], ids=id_col is not None)
