"""Parallel corpora: the :class:`ParallelCorpus` container and :func:`load_parallel`.

Readers stream their files line by line, check UTF-8 per line, hash the bytes they read
(recorded in ``sources`` for manifests) and keep every sentence exactly as written apart
from the line ending (``\\n`` or ``\\r\\n``) and a UTF-8 byte-order mark at the start of a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xalign.data.languages import normalize_lang, parse_pair

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- line reading
class LineFile:
    """Iterate ``(line_number, text)`` over a UTF-8 text file, hashing its bytes on the way.

    Line numbers start at 1; the line ending (``\\n``, ``\\r\\n``) is removed, nothing else.
    Invalid UTF-8 raises ``ValueError`` naming ``file:line``; a missing file ``FileNotFoundError``
    naming the path. After a full pass :meth:`source` gives ``{"path", "sha256"}`` for manifests.
    """

    def __init__(self, path: PathLike, *, what: str = "text file") -> None:
        self.path = Path(path)
        self.n_lines = 0
        self._hash = hashlib.sha256()
        if not self.path.exists():
            raise FileNotFoundError(f"{what} not found: {self.path}")
        if not self.path.is_file():
            raise ValueError(f"expected a {what} at {self.path}, found a directory")

    def __iter__(self) -> Iterator[tuple[int, str]]:
        self._hash, self.n_lines = hashlib.sha256(), 0
        with self.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                self._hash.update(raw)
                self.n_lines = lineno
                raw = raw[:-1] if raw.endswith(b"\n") else raw
                raw = raw[:-1] if raw.endswith(b"\r") else raw
                if lineno == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM):]
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"{self.path}:{lineno}: invalid UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                                     f"{exc.start} of the line); expected UTF-8 text") from None
                yield lineno, text

    def source(self) -> dict[str, str]:
        """``{"path": <absolute path>, "sha256": ...}`` of the bytes read (the whole file after a full pass)."""
        return {"path": str(self.path.resolve()), "sha256": self._hash.hexdigest()}


# --------------------------------------------------------------------------- container
@dataclass(repr=False)
class ParallelCorpus:
    """Sentence-aligned texts: ``src[i]`` translates ``tgt[i]``.

    ``src_lang``/``tgt_lang`` are canonical codes when the language is known to
    :func:`~xalign.data.languages.normalize_lang` (others are kept as given). ``sources`` lists
    the files read (``{"path", "sha256"}``; bundled files have paths ``"demo:<file>"``),
    ``ids`` optional row identifiers, ``dropped_empty`` the number of pairs the reader dropped
    because one side was empty.
    """

    src_lang: str
    tgt_lang: str
    src: list[str]
    tgt: list[str]
    name: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] | None = None
    dropped_empty: int = 0

    def __post_init__(self) -> None:
        for attr in ("src_lang", "tgt_lang"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value:
                raise TypeError(f"ParallelCorpus.{attr} must be a non-empty str, got {value!r}")
            try:
                setattr(self, attr, normalize_lang(value))
            except ValueError:
                pass  # unknown languages are allowed in hand-built corpora
        for attr in ("src", "tgt"):
            value = getattr(self, attr)
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise TypeError(f"ParallelCorpus.{attr} must be a list of str, got {type(value).__name__}")
            value = list(value)
            bad = next((i for i, t in enumerate(value) if not isinstance(t, str)), None)
            if bad is not None:
                raise TypeError(f"ParallelCorpus.{attr}[{bad}] must be a str, got {type(value[bad]).__name__}")
            setattr(self, attr, value)
        if len(self.src) != len(self.tgt):
            raise ValueError(f"ParallelCorpus needs as many src as tgt sentences, got {len(self.src)} and "
                             f"{len(self.tgt)}")
        if self.ids is not None:
            self.ids = [str(i) for i in self.ids]
            if len(self.ids) != len(self.src):
                raise ValueError(f"ParallelCorpus.ids has {len(self.ids)} entries for {len(self.src)} sentence pairs")

    def __len__(self) -> int:
        return len(self.src)

    def __repr__(self) -> str:  # the texts would flood logs and test reports
        return f"ParallelCorpus(pair={self.pair!r}, n={len(self)}, name={self.name!r})"

    @property
    def pair(self) -> str:
        """``"<src_lang>-<tgt_lang>"``, e.g. ``"en-sw"``."""
        return f"{self.src_lang}-{self.tgt_lang}"

    def subset(self, indices: Iterable[int]) -> ParallelCorpus:
        """A new corpus with the rows at ``indices`` (in the order given)."""
        idx = [int(i) for i in indices]
        n = len(self)
        bad = next((i for i in idx if not 0 <= i < n), None)
        if bad is not None:
            raise ValueError(f"index {bad} is out of range for a corpus of {n} sentence pairs")
        return ParallelCorpus(
            self.src_lang, self.tgt_lang, [self.src[i] for i in idx], [self.tgt[i] for i in idx], self.name,
            [dict(s) for s in self.sources], None if self.ids is None else [self.ids[i] for i in idx],
            self.dropped_empty,
        )

    def head(self, n: int) -> ParallelCorpus:
        """The first ``n`` pairs (all of them when ``n >= len(self)``)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"head(n) needs a non-negative int, got {n!r}")
        return self.subset(range(min(n, len(self))))

    def sample(self, n: int, seed: int) -> ParallelCorpus:
        """``n`` pairs drawn without replacement with ``random.Random(seed)``, kept in corpus order."""
        if not isinstance(n, int) or not 0 <= n <= len(self):
            raise ValueError(f"sample(n) needs 0 <= n <= {len(self)} (the corpus size), got {n!r}")
        return self.subset(sorted(random.Random(seed).sample(range(len(self)), n)))

    def swapped(self) -> ParallelCorpus:
        """The same corpus in the other direction (tgt → src)."""
        return ParallelCorpus(self.tgt_lang, self.src_lang, list(self.tgt), list(self.src), self.name,
                              [dict(s) for s in self.sources], None if self.ids is None else list(self.ids),
                              self.dropped_empty)

    def info(self) -> dict[str, Any]:
        """Provenance without the texts, for manifests."""
        return {"name": self.name, "pair": self.pair, "n": len(self), "sources": [dict(s) for s in self.sources],
                "dropped_empty": self.dropped_empty}


# --------------------------------------------------------------------------- validation helpers
class _PairCollector:
    """Collect sentence pairs, dropping (or, under strict, rejecting) pairs with an empty side."""

    def __init__(self, name: str, strict: bool) -> None:
        self.name, self.strict = name, strict
        self.src: list[str] = []
        self.tgt: list[str] = []
        self.ids: list[str] = []
        self.dropped = 0
        self.first_empty: str | None = None

    def add(self, s: str, t: str, s_loc: str, t_loc: str, row_id: str) -> None:
        empty = s_loc if not s.strip() else (t_loc if not t.strip() else None)
        if empty is None:
            self.src.append(s)
            self.tgt.append(t)
            self.ids.append(row_id)
            return
        if self.strict:
            raise ValueError(f"{empty}: empty line (strict=True rejects empty or whitespace-only sentences)")
        self.dropped += 1
        self.first_empty = self.first_empty or empty

    def finish(self, src_lang: str, tgt_lang: str, sources: list[dict[str, Any]], ids: bool) -> ParallelCorpus:
        if self.dropped:
            logger.warning("%s: dropped %d sentence pair(s) with an empty side (first at %s)", self.name,
                           self.dropped, self.first_empty)
        return ParallelCorpus(src_lang, tgt_lang, self.src, self.tgt, self.name, sources,
                              self.ids if ids else None, self.dropped)


def _lang_from_filename(path: Path) -> str | None:
    parts = path.name.split(".")
    if len(parts) > 1 and parts[-1].lower() in {"txt", "tsv", "text"}:
        parts = parts[:-1]
    if len(parts) < 2:
        return None
    try:
        return normalize_lang(parts[-1])
    except ValueError:
        return None


def _resolve_langs(pair: str | None, src_lang: str | None, tgt_lang: str | None) -> tuple[str | None, str | None]:
    if pair is not None:
        p_src, p_tgt = parse_pair(pair)
        if (src_lang and normalize_lang(src_lang) != p_src) or (tgt_lang and normalize_lang(tgt_lang) != p_tgt):
            raise ValueError(f"pair={pair!r} contradicts src_lang={src_lang!r}/tgt_lang={tgt_lang!r}")
        return p_src, p_tgt
    return (normalize_lang(src_lang) if src_lang else None, normalize_lang(tgt_lang) if tgt_lang else None)


def _need_langs(src_lang: str | None, tgt_lang: str | None, what: str) -> tuple[str, str]:
    if src_lang is None or tgt_lang is None:
        raise ValueError(f"cannot tell the languages of {what}: pass pair='en-sw' or src_lang=/tgt_lang=")
    if src_lang == tgt_lang:
        raise ValueError(f"{what}: source and target language are both {src_lang!r}")
    return src_lang, tgt_lang


# --------------------------------------------------------------------------- readers
def read_line_pair(src: PathLike, tgt: PathLike, src_lang: str | None, tgt_lang: str | None, *,
                   strict: bool = False, name: str | None = None, ids: bool = False) -> ParallelCorpus:
    """Two line-aligned text files: line ``i`` of ``src`` translates line ``i`` of ``tgt``.

    With ``ids=True`` the 1-based line numbers become the corpus ``ids``.
    """
    fs, ft = LineFile(src, what="source file"), LineFile(tgt, what="target file")
    src_lang = src_lang or _lang_from_filename(fs.path)
    tgt_lang = tgt_lang or _lang_from_filename(ft.path)
    src_lang, tgt_lang = _need_langs(src_lang, tgt_lang, f"{fs.path} and {ft.path}")
    out = _PairCollector(name or f"{fs.path.name}+{ft.path.name}", strict)
    it_s, it_t = iter(fs), iter(ft)
    for (ls, s), (lt, t) in zip(it_s, it_t):
        out.add(s, t, f"{fs.path}:{ls}", f"{ft.path}:{lt}", str(ls))
    for _ in it_s:  # zip stops at the shorter file: read both to the end to count their lines
        pass
    for _ in it_t:
        pass
    if fs.n_lines != ft.n_lines:
        raise ValueError(f"line counts differ: {fs.path} has {fs.n_lines} lines but {ft.path} has {ft.n_lines}")
    return out.finish(src_lang, tgt_lang, [fs.source(), ft.source()], ids=ids)


_HEADER_WORDS = {"src", "tgt", "source", "target", "id", "index", "index_id", "text", "sentence", "sentence1",
                 "sentence2", "text_a", "text_b", "category", "label", "translation"}
_ID_WORDS = ("id", "index_id", "index")


def _is_lang(cell: str) -> bool:
    try:
        normalize_lang(cell)
        return True
    except ValueError:
        return False


def read_tsv(path: PathLike, src_lang: str | None, tgt_lang: str | None, *, columns: Sequence[int | str] | None = None,
             strict: bool = False) -> ParallelCorpus:
    """A TSV file with (at least) two text columns; see :func:`load_parallel` for header and ``columns``."""
    f = LineFile(path, what="TSV file")
    rows = iter(f)
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{f.path} is empty; expected a TSV with two text columns")
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
            raise ValueError(f"{f.path} has {len(cells)} tab-separated columns; pick the two text columns with "
                             f"columns=(i, j) or, with a header, columns=('en', 'sw')")
    if len(columns) != 2:
        raise ValueError(f"columns= needs two entries (source, target), got {columns!r}")
    if by_name:
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"{f.path}:1: no column named {missing[0]!r}; header columns: {names}")
        cs, ct = names.index(columns[0]), names.index(columns[1])
    elif all(isinstance(c, int) for c in columns):
        cs, ct = columns
    else:
        raise TypeError(f"columns= needs two ints or two header names, got {columns!r}")
    if header:
        col_langs = [normalize_lang(names[c]) if _is_lang(names[c]) else None for c in (cs, ct)]
        for given, found, c in ((src_lang, col_langs[0], cs), (tgt_lang, col_langs[1], ct)):
            if given and found and given != found:
                raise ValueError(f"{f.path}:1: column {c} is headed {names[c]!r} ({found}) but the requested "
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
                raise ValueError(f"{f.path}:{lineno}: expected at least {width} tab-separated fields, found "
                                 f"{len(parts)}")
        loc = f"{f.path}:{lineno}"
        out.add(parts[cs], parts[ct], loc, loc, parts[id_col] if id_col is not None else str(lineno))
    return out.finish(src_lang, tgt_lang, [f.source()], ids=id_col is not None)


# --------------------------------------------------------------------------- entry point
_FORMATS = ("auto", "lines", "tsv", "flores", "ntrex")
_DATA_NAMES = {"flores": "flores", "flores200": "flores", "sib200": "flores", "ntrex": "ntrex", "ntrex128": "ntrex"}


def _parse_data(data: str) -> tuple[str, str | None]:
    if not isinstance(data, (str, os.PathLike)):
        raise TypeError(f"data= must be a str like 'demo' or 'flores:/path', got {type(data).__name__}")
    data = os.fspath(data)
    name, sep, rest = data.partition(":")
    key = name.strip().lower()
    if key == "demo" and not rest:
        return "demo", None
    if key in _DATA_NAMES:
        if not rest:
            raise ValueError(f"data={data!r} needs the folder: data='{key}:/path/to/folder' "
                             f"(the bundled FLORES-200 subset is data='demo')")
        return _DATA_NAMES[key], rest
    if Path(data).exists():
        return "auto", data
    raise ValueError(f"unknown data={data!r}: expected 'demo', 'flores:<folder>', 'ntrex:<folder>' or an existing "
                     f"file or folder")


def load_parallel(src: PathLike | None = None, tgt: PathLike | None = None, *, pair: str | None = None,
                  data: str | None = None, fmt: str = "auto", src_lang: str | None = None,
                  tgt_lang: str | None = None, split: str | Sequence[str] | None = None, strict: bool = False,
                  columns: Sequence[int | str] | None = None) -> ParallelCorpus:
    """Load a parallel corpus.

    Sources (``fmt="auto"`` tells them apart):

    * ``src`` and ``tgt``: two line-aligned text files (``fmt="lines"``); languages from ``pair``,
      ``src_lang``/``tgt_lang`` or file suffixes (``news.en``, ``flores200.sw.txt``).
    * ``src`` alone: a TSV (``fmt="tsv"``). Without ``columns`` a two-column file is used as is;
      a header row is recognised when every cell is a language code or a word like ``src``/``id``;
      language-code headers give the languages and let ``pair`` pick columns. ``columns=(i, j)``
      (0-based) or ``columns=("en", "sw")`` (header names) choose the two text columns.
    * a folder (``src`` or ``data="flores:<folder>"`` / ``data="ntrex:<folder>"``): FLORES-200 via
      SIB-200 (``<code>/{train,dev,test}.tsv`` joined on ``index_id``; ``split=None`` reads train,
      dev, test in that order), the original FLORES-200 layout (``dev``/``devtest``), or NTREX-128.
    * ``data="demo"`` or no source at all: the bundled demo set for ``pair`` (see
      :func:`xalign.data.demo_pairs`).

    Pairs with an empty (or whitespace-only) side are dropped with one warning that counts them;
    ``strict=True`` raises instead, naming the first ``file:line``. Errors name the file, line and
    counts involved.
    """
    from xalign.data.folders import detect_folder, read_flores, read_ntrex

    if fmt not in _FORMATS:
        raise ValueError(f"unknown fmt={fmt!r}: expected one of {', '.join(_FORMATS)}")
    s_lang, t_lang = _resolve_langs(pair, src_lang, tgt_lang)
    if data is not None:
        if src is not None or tgt is not None:
            raise ValueError("pass either files (src=, tgt=) or data=, not both")
        kind, src = _parse_data(data)
        if kind == "demo":
            src = None
        elif kind != "auto":
            fmt = kind
    if src is None:
        if tgt is not None:
            raise ValueError("tgt= was given without src=")
        if columns is not None:
            raise ValueError("columns= does not apply to the bundled demo set")
        from xalign.data.demo import demo_pairs, load_demo

        if s_lang is None or t_lang is None:
            raise ValueError("nothing to load: pass src= and tgt= files, data='flores:<folder>', or pair= for the "
                             f"bundled demo set (available pairs: {', '.join(demo_pairs())})")
        return load_demo(f"{s_lang}-{t_lang}", split=split)
    path = Path(src)
    if fmt == "auto":
        fmt = detect_folder(path) if path.is_dir() else ("lines" if tgt is not None else "tsv")
    if split is not None and fmt != "flores":
        raise ValueError(f"split= only applies to FLORES folders, not fmt={fmt!r}")
    if columns is not None and fmt != "tsv":
        raise ValueError(f"columns= only applies to TSV files, not fmt={fmt!r}")
    if fmt == "lines":
        if tgt is None:
            raise ValueError(f"fmt='lines' needs two files: src={src!r} and tgt=")
        return read_line_pair(src, tgt, s_lang, t_lang, strict=strict)
    if tgt is not None:
        raise ValueError(f"fmt={fmt!r} reads one file or folder; tgt={tgt!r} is not used — drop it or use "
                         f"fmt='lines'")
    if fmt == "tsv":
        return read_tsv(src, s_lang, t_lang, columns=columns, strict=strict)
    s_lang, t_lang = _need_langs(s_lang, t_lang, f"folder {path}")
    if fmt == "flores":
        return read_flores(path, s_lang, t_lang, split=split, strict=strict)
    return read_ntrex(path, s_lang, t_lang, strict=strict)
