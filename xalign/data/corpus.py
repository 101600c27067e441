"""The corpus type: :class:`ParallelCorpus` (sentence-aligned texts with provenance) and the helpers
readers share to build one (pairs with an empty side dropped or refused, languages resolved)."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xalign.data.languages import normalize_lang, parse_pair
from xalign.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


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
            raise DataError(f"ParallelCorpus needs as many src as tgt sentences, got {len(self.src)} and "
                             f"{len(self.tgt)}")
        if self.ids is not None:
            self.ids = [str(i) for i in self.ids]
            if len(self.ids) != len(self.src):
                raise DataError(f"ParallelCorpus.ids has {len(self.ids)} entries for {len(self.src)} sentence pairs")

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
            raise DataError(f"index {bad} is out of range for a corpus of {n} sentence pairs")
        return ParallelCorpus(
            self.src_lang, self.tgt_lang, [self.src[i] for i in idx], [self.tgt[i] for i in idx], self.name,
            [dict(s) for s in self.sources], None if self.ids is None else [self.ids[i] for i in idx],
            self.dropped_empty,
        )

    def head(self, n: int) -> ParallelCorpus:
        """The first ``n`` pairs (all of them when ``n >= len(self)``)."""
        if not isinstance(n, int) or n < 0:
            raise DataError(f"head(n) needs a non-negative int, got {n!r}")
        return self.subset(range(min(n, len(self))))

    def sample(self, n: int, seed: int) -> ParallelCorpus:
        """``n`` pairs drawn without replacement with ``random.Random(seed)``, kept in corpus order."""
        if not isinstance(n, int) or not 0 <= n <= len(self):
            raise DataError(f"sample(n) needs 0 <= n <= {len(self)} (the corpus size), got {n!r}")
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
            raise DataError(f"{empty}: empty line (strict=True rejects empty or whitespace-only sentences)")
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
            raise ConfigError(f"pair={pair!r} contradicts src_lang={src_lang!r}/tgt_lang={tgt_lang!r}")
        return p_src, p_tgt
    return (normalize_lang(src_lang) if src_lang else None, normalize_lang(tgt_lang) if tgt_lang else None)


def _need_langs(src_lang: str | None, tgt_lang: str | None, what: str) -> tuple[str, str]:
    if src_lang is None or tgt_lang is None:
        raise ConfigError(f"cannot tell the languages of {what}: pass --pair en-sw (pair='en-sw', "
                          f"or src_lang=/tgt_lang=)")
    if src_lang == tgt_lang:
        raise ConfigError(f"{what}: source and target language are both {src_lang!r}")
    return src_lang, tgt_lang


def _is_lang(cell: str) -> bool:
    try:
        normalize_lang(cell)
        return True
    except ValueError:
        return False
