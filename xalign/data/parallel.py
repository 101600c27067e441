"""Loading parallel corpora: :func:`load_parallel` picks the reader for a source (two text files, a
TSV, a FLORES/NTREX folder, the bundled demo set) and :func:`load_corpora` loads the corpora of a
run (one per pair, deduplicated, limited, checked non-empty) — the one corpus loader that probe,
compare and embed use.

Imports go one way: ``lines`` → ``corpus`` → readers (``line_pair``, ``tsv``, ``folders``) →
``gold`` → ``demo`` → this module.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from xalign.data.corpus import ParallelCorpus, _need_langs, _resolve_langs
from xalign.data.demo import demo_pairs, load_demo
from xalign.data.folders import detect_folder, read_flores, read_ntrex
from xalign.data.line_pair import read_line_pair
from xalign.data.lines import LineFile, PathLike
from xalign.data.tsv import read_tsv
from xalign.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

__all__ = ["LineFile", "ParallelCorpus", "PathLike", "load_corpora", "load_parallel", "read_line_pair", "read_tsv"]

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
            raise ConfigError(f"data={data!r} needs the folder: data='{key}:/path/to/folder' "
                             f"(the bundled FLORES-200 subset is data='demo')")
        return _DATA_NAMES[key], rest
    if Path(data).exists():
        return "auto", data
    raise ConfigError(f"unknown data={data!r}: expected 'demo', 'flores:<folder>', 'ntrex:<folder>' or an existing "
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
    if fmt not in _FORMATS:
        raise ConfigError(f"unknown fmt={fmt!r}: expected one of {', '.join(_FORMATS)}")
    s_lang, t_lang = _resolve_langs(pair, src_lang, tgt_lang)
    if data is not None:
        if src is not None or tgt is not None:
            raise ConfigError("pass either files (--src-file/--tgt-file, src=/tgt=) or a named corpus (--data, data=), "
                              "not both")
        kind, src = _parse_data(data)
        if kind == "demo":
            src = None
        elif kind != "auto":
            fmt = kind
    if src is None:
        if tgt is not None:
            raise ConfigError("tgt= was given without src=")
        if columns is not None:
            raise ConfigError("columns= does not apply to the bundled demo set")
        if s_lang is None or t_lang is None:
            raise ConfigError("nothing to load: pass src= and tgt= files, data='flores:<folder>', or pair= for the "
                             f"bundled demo set (available pairs: {', '.join(demo_pairs())})")
        return load_demo(f"{s_lang}-{t_lang}", split=split)
    path = Path(src)
    if fmt == "auto":
        fmt = detect_folder(path) if path.is_dir() else ("lines" if tgt is not None else "tsv")
    if split is not None and fmt != "flores":
        raise ConfigError(f"split= only applies to FLORES folders, not fmt={fmt!r}")
    if columns is not None and fmt != "tsv":
        raise ConfigError(f"columns= only applies to TSV files, not fmt={fmt!r}")
    if fmt == "lines":
        if tgt is None:
            raise ConfigError(f"fmt='lines' needs two files: src={src!r} and tgt=")
        return read_line_pair(src, tgt, s_lang, t_lang, strict=strict)
    if tgt is not None:
        raise ConfigError(f"fmt={fmt!r} reads one file or folder; tgt={tgt!r} is not used — drop it or use "
                         f"fmt='lines'")
    if fmt == "tsv":
        return read_tsv(src, s_lang, t_lang, columns=columns, strict=strict)
    s_lang, t_lang = _need_langs(s_lang, t_lang, f"folder {path}")
    if fmt == "flores":
        return read_flores(path, s_lang, t_lang, split=split, strict=strict)
    return read_ntrex(path, s_lang, t_lang, strict=strict)


def load_corpora(pairs: Sequence[str], *, src_file: PathLike | None = None, tgt_file: PathLike | None = None,
                 data: str | None = None, split: str | Sequence[str] | None = None, strict: bool = False,
                 limit: int | None = None) -> list[ParallelCorpus]:
    """The corpora of one run: one per pair (``src_file``/``tgt_file`` take exactly one pair).

    Pairs naming the same languages (``en-sw`` and ``en-swh``) are one pair: a repeat is refused
    with :class:`~xalign.errors.ConfigError`, as is a corpus left empty (all lines blank) or with a
    single sentence pair (retrieval, CKA and the bootstrap need at least two).
    """
    from xalign.data.languages import parse_pair

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit: expected a positive number of sentence pairs, got {limit!r}")
    if (src_file is None) != (tgt_file is None):
        raise ConfigError("--src-file and --tgt-file go together; got only one of them")
    pairs = list(pairs)
    seen: dict[tuple[str, str], str] = {}
    for p in pairs:
        langs = parse_pair(p)
        if langs in seen:
            raise ConfigError(f"pair {p!r} repeats {seen[langs]!r} (both are {langs[0]}-{langs[1]}); give each "
                              "language pair once")
        seen[langs] = p
    if src_file is not None:
        if len(pairs) > 1:
            raise ConfigError(f"--src-file/--tgt-file take one --pair, got {len(pairs)}: {pairs}")
        corpora = [load_parallel(src_file, tgt_file, pair=pairs[0] if pairs else None, strict=strict)]
    else:
        if not pairs:
            raise ConfigError("give --pair (e.g. --pair en-sw) or --src-file/--tgt-file")
        corpora = [load_parallel(pair=p, data=data, split=split, strict=strict) for p in pairs]
    if limit is not None:
        corpora = [c.head(limit) for c in corpora]
    for c in corpora:
        where = ", ".join(s.get("path", "?") for s in c.sources) or c.name
        if len(c) == 0:
            raise DataError(f"{c.pair}: no sentence pairs left in {where} (every line is empty or whitespace; "
                            f"{c.dropped_empty} dropped); expected at least 2 non-empty pairs")
        if len(c) == 1:
            raise DataError(f"{c.pair}: only 1 sentence pair in {where}; retrieval, CKA and bootstrap intervals "
                            "need at least 2")
    return corpora
