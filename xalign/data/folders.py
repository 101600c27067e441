"""Folder formats: FLORES-200 / SIB-200 (``<root>/<flores code>/{train,dev,test}.tsv`` or the original
``dev``/``devtest`` layout, joined on ``index_id``) and NTREX-128 (``newstest2019-src.eng.txt`` +
``newstest2019-ref.<code>.txt``, CRLF line endings)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from xalign.data.languages import flores_code, normalize_lang, ntrex_code
from xalign.data.corpus import ParallelCorpus, _is_lang, _PairCollector
from xalign.data.line_pair import read_line_pair
from xalign.data.lines import LineFile, PathLike

from xalign.errors import DataError, MissingFileError
logger = logging.getLogger(__name__)

_SIB_SPLITS = ("train", "dev", "test")
_FLORES_SPLITS = ("dev", "devtest")


def _folder_langs(names: Iterable[str]) -> str:
    langs = sorted({normalize_lang(n) for n in names if _is_lang(n)})
    return f"available languages: {', '.join(langs) or 'none'} (any two of them make a pair, e.g. 'en-sw')"


def _pick_splits(split: str | Sequence[str] | None, known: tuple[str, ...], present: Any, root: Path) -> list[str]:
    if split is None or split == "all":
        chosen = [s for s in known if present(s)]
        if not chosen:
            raise MissingFileError(f"{root} holds none of the splits {', '.join(known)}")
        return chosen
    chosen = [split] if isinstance(split, str) else list(split)
    bad = [s for s in chosen if s not in known]
    if bad:
        raise DataError(f"unknown split {bad[0]!r} for {root}: expected one of {', '.join(known)} (or 'all')")
    return [s for s in known if s in chosen]


def _id_header(f: LineFile, head: str, columns: tuple[str, ...] = ("text",)) -> list[str]:
    names = head.split("	")
    if "index_id" not in names or any(c not in names for c in columns):
        raise DataError(f"{f.path}:1: expected a header with index_id and {' and '.join(columns)} columns, "
                        f"found {names}")
    return names


def check_sib_header(path: PathLike) -> None:
    """Refuse, from its first line alone, a SIB-200 file without ``index_id`` and ``text`` columns."""
    f = LineFile(path, what="SIB-200 file")
    for _, head in f:
        _id_header(f, head)
        return
    _id_header(f, "")


def _read_id_rows(f: LineFile, columns: tuple[str, ...] = ("text",)) -> list[tuple[str, ...]]:
    """Rows ``(index_id, *columns, "file:line")`` of a SIB-200 ``index_id<TAB>category<TAB>text`` file
    (``columns`` default: the text only)."""
    rows, seen = [], set()
    it = iter(f)
    _, head = next(it, (1, ""))
    names = _id_header(f, head, columns)
    ci, cols = names.index("index_id"), [names.index(c) for c in columns]
    for lineno, line in it:
        parts = line.split("\t")
        if len(parts) != len(names):
            raise DataError(f"{f.path}:{lineno}: expected {len(names)} tab-separated fields, found {len(parts)}")
        if parts[ci] in seen:
            raise DataError(f"{f.path}:{lineno}: duplicate index_id {parts[ci]!r}")
        seen.add(parts[ci])
        rows.append((parts[ci], *(parts[c] for c in cols), f"{f.path}:{lineno}"))
    return rows


def read_flores(root: PathLike, src_lang: str, tgt_lang: str, *, split: str | Sequence[str] | None = None,
                strict: bool = False) -> ParallelCorpus:
    """FLORES-200 sentences from a SIB-200 folder (``<root>/<code>/{train,dev,test}.tsv``, joined on
    ``index_id``) or from the original release (``<root>/{dev,devtest}/<code>.{dev,devtest}``)."""
    root = Path(root)
    if not root.is_dir():
        raise MissingFileError(f"FLORES folder not found: {root}")
    codes = {lang: flores_code(lang) for lang in (src_lang, tgt_lang)}
    original = (root / "dev").is_dir() or (root / "devtest").is_dir()
    if original:
        def path(lang: str, s: str) -> Path:
            return root / s / f"{codes[lang]}.{s}"
        splits = _pick_splits(split, _FLORES_SPLITS, lambda s: (root / s).is_dir(), root)
        listing = [p.name.rsplit(".", 1)[0] for s in splits for p in (root / s).glob(f"*.{s}")]
    else:
        def path(lang: str, s: str) -> Path:
            return root / codes[lang] / f"{s}.tsv"
        splits = _pick_splits(split, _SIB_SPLITS, lambda s: any(root.glob(f"*/{s}.tsv")), root)
        listing = [p.name for p in root.iterdir() if p.is_dir()]
    for lang in (src_lang, tgt_lang):
        for s in splits:
            if not path(lang, s).is_file():
                raise MissingFileError(f"{path(lang, s)} not found: no FLORES-200 {s} file for {lang!r} in {root}; "
                                        + _folder_langs(listing))
    out = _PairCollector(f"flores200:{'+'.join(splits)}", strict)
    sources: list[dict[str, Any]] = []
    unmatched, first_unmatched = 0, None
    for s in splits:
        files = [LineFile(path(lang, s), what="FLORES file") for lang in (src_lang, tgt_lang)]
        if original:
            both = [[(f"{s}:{n}", t, f"{f.path}:{n}") for n, t in f] for f in files]
        else:
            both = [_read_id_rows(f) for f in files]
        sources += [f.source() for f in files]
        tgt_by_id = {row_id: (text, loc) for row_id, text, loc in both[1]}
        src_ids = {row_id for row_id, _, _ in both[0]}
        for row_id, text, loc in both[0]:
            if row_id not in tgt_by_id:
                unmatched += 1
                first_unmatched = first_unmatched or f"{loc} (index_id {row_id!r} missing from {files[1].path})"
                continue
            out.add(text, tgt_by_id[row_id][0], loc, tgt_by_id[row_id][1], row_id)
        for row_id, _, loc in both[1]:
            if row_id not in src_ids:
                unmatched += 1
                first_unmatched = first_unmatched or f"{loc} (index_id {row_id!r} missing from {files[0].path})"
    if unmatched:
        if strict:
            raise DataError(f"{first_unmatched}: the two languages' files do not hold the same rows "
                             f"({unmatched} unmatched)")
        logger.warning("FLORES %s-%s: skipped %d row(s) present in only one language (first: %s)", src_lang,
                       tgt_lang, unmatched, first_unmatched)
    return out.finish(src_lang, tgt_lang, sources, ids=True)


@dataclass
class IdTexts:
    """One language's sentences of a SIB-200 folder: ``texts[i]`` has row id ``ids[i]`` (``index_id``), in file
    order over the chosen splits; ``sources`` the files read (path and sha256)."""

    lang: str
    ids: list[str]
    texts: list[str]
    sources: list[dict[str, Any]] = field(default_factory=list)


def sib_languages(root: PathLike, *, split: str | Sequence[str] | None = None) -> list[str]:
    """The language folders (FLORES-200 codes such as ``ace_Arab``) of a SIB-200 folder that hold every chosen
    split, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise MissingFileError(f"SIB-200 folder not found: {root}")
    splits = _pick_splits(split, _SIB_SPLITS, lambda s: any(root.glob(f"*/{s}.tsv")), root)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and all((p / f"{s}.tsv").is_file() for s in splits))


def sib_folder(root: PathLike, lang: str, languages: Sequence[str]) -> str:
    """The folder of ``lang`` among ``languages`` (a folder name as is, else through
    :func:`~xalign.data.languages.flores_code`: ``en`` → ``eng_Latn``); one error line naming the choices."""
    if lang in languages:
        return lang
    try:
        code = flores_code(lang)
    except ValueError:
        code = None
    if code in languages:
        return code
    raise DataError(f"language {lang!r} has no folder in {root} (expected a FLORES-200 code such as "
                    f"{', '.join(list(languages)[:3])}, …; {len(languages)} languages there)")


def read_sib_language(root: PathLike, folder: str, *, split: str | Sequence[str] | None = None,
                      lang: str | None = None) -> IdTexts:
    """The sentences of one language folder of a SIB-200 folder (``<root>/<folder>/<split>.tsv``), each with its
    ``index_id``; a row id repeated across the chosen splits is refused."""
    root = Path(root)
    splits = _pick_splits(split, _SIB_SPLITS, lambda s: (root / folder / f"{s}.tsv").is_file(), root)
    out = IdTexts(lang=lang or folder, ids=[], texts=[])
    seen: dict[str, str] = {}
    for s in splits:
        path = root / folder / f"{s}.tsv"
        if not path.is_file():
            raise MissingFileError(f"{path} not found: no SIB-200 {s} file for {folder!r} in {root}")
        f = LineFile(path, what="SIB-200 file")
        for row_id, text, loc in _read_id_rows(f):
            if row_id in seen:
                raise DataError(f"{loc}: index_id {row_id!r} also at {seen[row_id]}")
            seen[row_id] = loc
            out.ids.append(row_id)
            out.texts.append(text)
        out.sources.append(f.source())
    return out


def read_ntrex(root: PathLike, src_lang: str, tgt_lang: str, *, strict: bool = False) -> ParallelCorpus:
    """NTREX-128: ``<prefix>-src.eng.txt`` (English original) and ``<prefix>-ref.<code>.txt`` translations,
    line-aligned; any two languages form a pair through the shared English source."""
    root = Path(root)
    if not root.is_dir():
        raise MissingFileError(f"NTREX folder not found: {root}")
    src_files = sorted(root.glob("*-src.eng.txt"))
    if not src_files:
        raise MissingFileError(f"{root} has no NTREX source file (*-src.eng.txt, e.g. newstest2019-src.eng.txt)")
    prefix = src_files[0].name[: -len("-src.eng.txt")]
    refs = [p.name[len(prefix) + 5: -4] for p in root.glob(f"{prefix}-ref.*.txt")]

    def file_for(lang: str) -> Path:
        p = src_files[0] if lang == "en" else root / f"{prefix}-ref.{ntrex_code(lang)}.txt"
        if not p.is_file():
            raise MissingFileError(f"{p} not found: no NTREX reference for {lang!r} in {root}; "
                                    + _folder_langs(["en", *refs]))
        return p

    corpus = read_line_pair(file_for(src_lang), file_for(tgt_lang), src_lang, tgt_lang, strict=strict,
                            name=f"ntrex128:{prefix}", ids=True)
    return corpus


def detect_folder(root: PathLike) -> str:
    """``"ntrex"`` or ``"flores"`` for a corpus folder; ``ValueError`` when it is neither."""
    root = Path(root)
    if any(root.glob("*-src.eng.txt")):
        return "ntrex"
    if (root / "dev").is_dir() or (root / "devtest").is_dir() or any(root.glob("*/train.tsv")) or any(
            root.glob("*/dev.tsv")) or any(root.glob("*/test.tsv")):
        return "flores"
    raise DataError(f"cannot tell the format of folder {root}: expected FLORES/SIB-200 (<code>/train.tsv), "
                     f"FLORES-200 (dev/<code>.dev) or NTREX (newstest2019-src.eng.txt + -ref.<code>.txt)")
