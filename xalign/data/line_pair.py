"""Reader for two line-aligned text files (line ``i`` of one translates line ``i`` of the other)."""

from __future__ import annotations

from xalign.data.corpus import ParallelCorpus, _lang_from_filename, _need_langs, _PairCollector
from xalign.data.lines import LineFile, PathLike
from xalign.errors import DataError


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
        raise DataError(f"line counts differ: {fs.path} has {fs.n_lines} lines but {ft.path} has {ft.n_lines}")
    return out.finish(src_lang, tgt_lang, [fs.source(), ft.source()], ids=ids)
