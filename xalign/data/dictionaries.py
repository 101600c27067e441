"""Bilingual dictionaries for word retrieval / bilingual lexicon induction (BLI).

:func:`read_dictionary` reads two-column word lists: tab-separated (Wiktionary BLI's
``foreign<TAB>english``, GATITOS' ``english<TAB>translation``, entries may contain spaces) or
space-separated (MUSE's ``word translation``). The delimiter is decided by the first entry: a
tab there makes the whole file tab-separated. :func:`dictionary_for_pair` returns the bundled
Wiktionary test dictionary of a pair, oriented ``(src_lang word, tgt_lang word)``.
"""

from __future__ import annotations

import logging

from xalign.data.languages import parse_pair
from xalign.data.lines import LineFile, PathLike

from xalign.errors import DataError
logger = logging.getLogger(__name__)


def read_dictionary(path: PathLike, *, src_first: bool = True, lowercase: bool = False,
                    dedupe: bool = True, strict: bool = False) -> list[tuple[str, str]]:
    """Read a two-column dictionary into ``(word, translation)`` pairs, in file order.

    ``src_first=True`` returns ``(column 1, column 2)``; ``False`` swaps them. ``lowercase``
    lower-cases both sides; ``dedupe`` drops repeated pairs (after lower-casing), keeping the first.
    Fields are stripped of surrounding spaces. Empty lines are skipped; entries with an empty side
    (Wiktionary's ``sw-en`` has a few ``word<TAB>``) are skipped with one warning that counts them,
    or raise ``ValueError`` naming ``file:line`` under ``strict=True``. A line without the file's
    delimiter or with more than two fields raises ``ValueError`` naming ``file:line``.
    """
    return _read(path, src_first, lowercase, dedupe, strict, logging.WARNING)


def _read(path: PathLike, src_first: bool, lowercase: bool, dedupe: bool, strict: bool,
          empty_log_level: int) -> list[tuple[str, str]]:
    f = LineFile(path, what="dictionary file")
    pairs: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    tabbed: bool | None = None
    duplicates, half_empty, first_half_empty = 0, 0, ""
    for lineno, line in f:
        if not line.strip():
            continue
        if tabbed is None:
            tabbed = "\t" in line
        fields = line.split("\t") if tabbed else line.split()
        if len(fields) != 2:
            kind = "tab-separated" if tabbed else "space-separated"
            raise DataError(f"{f.path}:{lineno}: expected 2 {kind} fields (word, translation) like the file's first "
                             f"entry, found {len(fields)}: {line[:80]!r}")
        a, b = fields[0].strip(), fields[1].strip()
        if not a or not b:
            if strict:
                raise DataError(f"{f.path}:{lineno}: entry with an empty side: {line[:80]!r} (strict=True)")
            half_empty += 1
            first_half_empty = first_half_empty or f"{f.path}:{lineno}"
            continue
        if lowercase:
            a, b = a.lower(), b.lower()
        entry = (a, b) if src_first else (b, a)
        if dedupe:
            if entry in seen:
                duplicates += 1
                continue
            seen.add(entry)
        pairs.append(entry)
    if tabbed is None:
        raise DataError(f"{f.path} holds no dictionary entries; expected 'word<TAB>translation' lines")
    if half_empty:
        logger.log(empty_log_level, "%s: skipped %d entries with an empty side (first at %s)", f.path, half_empty,
                   first_half_empty)
    if duplicates:
        logger.debug("%s: skipped %d repeated entries", f.path, duplicates)
    return pairs


def dictionary_for_pair(pair: str, *, lowercase: bool = False) -> list[tuple[str, str]] | None:
    """The bundled Wiktionary BLI **test** dictionary for ``pair``, as ``(src_lang word, tgt_lang word)``;
    ``None`` when none is bundled for that pair.

    The bundled files are ``<xx>-en`` (foreign → English) for sw, ur, yo, hi, de, fr; ``"en-sw"``
    reads ``sw-en`` swapped. :func:`xalign.data.demo_dictionary` gives the file's path (for
    manifests). Raises ``ValueError`` only for a malformed ``pair``.
    """
    from xalign.data.demo import demo_dictionary

    src, tgt = parse_pair(pair)
    path = demo_dictionary(f"{src}-{tgt}")
    if path is None:
        logger.info("no bundled dictionary for %s-%s; read your own with read_dictionary(path)", src, tgt)
        return None
    # the bundled sw-en/hi-en files have a few known 'word<TAB>' lines: a fact of the shipped file, not news
    # to the user on every run, so only at DEBUG
    return _read(path, tgt == "en", lowercase, True, False, logging.DEBUG)
