"""The bundled offline demo data (package data; sources and licences in this folder's README.md).

* ``flores200.<lang>.txt``: the 1,004 FLORES-200 sentences of SIB-200 (train + dev + test, in that
  order, joined on ``index_id``) for en, sw, ur, yo, hi, de, fr — multi-way parallel, one
  sentence a line; ``flores200.ids.tsv`` gives each line's ``index_id``, split and topic.
* ``dict.<xx>-en.test.tsv``: Wiktionary BLI test dictionaries (``foreign<TAB>english``).
* ``simalign_sample.*``: SimAlign's 5 en-de sentences with gold word alignments.

The files are regenerated from ``../shared/data`` by ``analysis/build_demo_data.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from xalign.data.gold import GoldAlignment, load_gold
from xalign.data.languages import parse_pair
from xalign.data.corpus import ParallelCorpus
from xalign.data.line_pair import read_line_pair
from xalign.data.lines import LineFile

from xalign.errors import DataError, MissingFileError
DEMO_LANGS = ("en", "sw", "ur", "yo", "hi", "de", "fr")
DICT_LANGS = ("sw", "ur", "yo", "hi", "de", "fr")
FLORES_FILE = "flores200.{lang}.txt"
IDS_FILE = "flores200.ids.tsv"
DICT_FILE = "dict.{lang}-en.test.tsv"
SPLITS = ("train", "dev", "test")
GOLD_FILES = ("simalign_sample.eng.txt", "simalign_sample.deu.txt", "simalign_sample.eng-deu.gold.txt")

__all__ = ["DEMO_LANGS", "demo_pairs", "load_demo", "demo_dictionary", "demo_gold", "demo_file"]


def demo_file(name: str) -> Path:
    """Path of a bundled file (``FileNotFoundError`` naming it when the installation lacks it)."""
    root = resources.files(__name__)
    if not isinstance(root, Path):  # pragma: no cover - zipped installs are not supported
        raise RuntimeError(f"xalign's demo data must be installed as files, found {type(root).__name__}")
    path = root / name
    if not path.is_file():
        raise MissingFileError(f"bundled demo file missing: {path} (reinstall xalign, or regenerate it with "
                                f"analysis/build_demo_data.py)")
    return path


def demo_pairs() -> list[str]:
    """The demo pairs: English with each other demo language (either order works in :func:`load_demo`)."""
    return [f"en-{lang}" for lang in DEMO_LANGS if lang != "en"]


def _demo_langs(pair: str) -> tuple[str, str]:
    try:
        src, tgt = parse_pair(pair)
    except ValueError as exc:
        raise DataError(f"{exc}; bundled demo pairs: {', '.join(demo_pairs())}") from None
    missing = [lang for lang in (src, tgt) if lang not in DEMO_LANGS]
    if missing:
        raise DataError(f"no bundled demo data for {src}-{tgt} ({missing[0]!r} is not bundled); available pairs: "
                         f"{', '.join(demo_pairs())} (either order; any two of {', '.join(DEMO_LANGS)} also work)")
    return src, tgt


def load_demo(pair: str, *, split: str | Sequence[str] | None = None) -> ParallelCorpus:
    """The bundled FLORES-200 demo corpus for ``pair`` (1,004 sentence pairs).

    Pairs of ``demo_pairs()`` work in either order (``"sw-en"`` too); since the sentences are
    multi-way parallel, any two demo languages (``"sw-hi"``) work as well. ``split`` keeps the
    SIB-200 ``train`` (701), ``dev`` (99) and/or ``test`` (204) rows; ``None`` keeps all, in that
    order. ``ids`` are FLORES ``index_id`` values; ``sources`` name ``demo:<file>`` with its sha256.
    """
    src, tgt = _demo_langs(pair)
    fs, ft = (demo_file(FLORES_FILE.format(lang=lang)) for lang in (src, tgt))
    corpus = read_line_pair(fs, ft, src, tgt, strict=True, name="flores200-demo")
    id_file = LineFile(demo_file(IDS_FILE), what="demo ids file")
    rows = [line.split("\t") for n, line in id_file if n > 1]
    if len(rows) != len(corpus):
        raise RuntimeError(f"{id_file.path} lists {len(rows)} ids for {len(corpus)} sentences; reinstall xalign")
    corpus.ids = [r[0] for r in rows]
    corpus.sources = [{"path": f"demo:{Path(s['path']).name}", "sha256": s["sha256"]}
                      for s in [*corpus.sources, id_file.source()]]
    if split is None:
        return corpus
    wanted = [split] if isinstance(split, str) else list(split)
    bad = [s for s in wanted if s not in SPLITS]
    if bad:
        raise DataError(f"unknown split {bad[0]!r} for the demo set: expected one of {', '.join(SPLITS)} (or None)")
    keep = [i for s in SPLITS if s in wanted for i, r in enumerate(rows) if r[1] == s]
    out = corpus.subset(keep)
    out.name = f"flores200-demo:{'+'.join(s for s in SPLITS if s in wanted)}"
    return out


def demo_dictionary(pair: str) -> Path | None:
    """Path of the bundled ``<xx>-en`` Wiktionary test dictionary for ``pair`` (either order), else ``None``.

    The file is ``foreign<TAB>english`` whatever the order of ``pair``; use
    :func:`xalign.data.dictionary_for_pair` for pairs oriented like the request.
    """
    src, tgt = parse_pair(pair)
    if "en" not in (src, tgt):
        return None
    other = tgt if src == "en" else src
    return demo_file(DICT_FILE.format(lang=other)) if other in DICT_LANGS else None


def demo_gold() -> GoldAlignment:
    """SimAlign's sample: 5 en-de sentence pairs with sure and possible gold links (MIT).

    The words are in ``.src_words``/``.tgt_words``; ``.to_parallel()`` gives the sentences as a
    :class:`ParallelCorpus`.
    """
    eng, deu, gold_file = (demo_file(name) for name in GOLD_FILES)
    gold = load_gold(gold_file, src_file=eng, tgt_file=deu, pair="en-de", on_out_of_range="error")
    gold.name = "simalign-sample"
    gold.sources = [{"path": f"demo:{Path(s['path']).name}", "sha256": s["sha256"]} for s in gold.sources]
    return gold
