"""Data: parallel corpora, gold word alignments, bilingual dictionaries and the bundled demo set.

No torch here: these readers are plain Python and stream their files.
"""

from __future__ import annotations

from xalign.data.demo import DEMO_LANGS, demo_dictionary, demo_gold, demo_pairs, load_demo
from xalign.data.dictionaries import dictionary_for_pair, read_dictionary
from xalign.data.gold import GoldAlignment, load_gold, parse_pharaoh, write_pharaoh
from xalign.data.languages import (
    LanguageInfo,
    atlas_languages,
    flores_code,
    known_languages,
    language_info,
    language_name,
    normalize_lang,
    ntrex_code,
    parse_pair,
)
from xalign.data.parallel import ParallelCorpus, load_parallel
from xalign.data.folders import detect_folder, read_flores, read_ntrex

__all__ = [
    "DEMO_LANGS",
    "GoldAlignment",
    "LanguageInfo",
    "ParallelCorpus",
    "atlas_languages",
    "demo_dictionary",
    "detect_folder",
    "read_flores",
    "read_ntrex",
    "demo_gold",
    "demo_pairs",
    "dictionary_for_pair",
    "flores_code",
    "known_languages",
    "language_info",
    "language_name",
    "load_demo",
    "load_gold",
    "load_parallel",
    "normalize_lang",
    "ntrex_code",
    "parse_pair",
    "parse_pharaoh",
    "read_dictionary",
    "write_pharaoh",
]
