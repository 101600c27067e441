"""Gold word alignments: :class:`GoldAlignment`, :func:`load_gold` and :func:`write_pharaoh`.

Supported gold files:

* Pharaoh: one sentence a line, ``i-j`` sure links and ``i<mark>j`` possible links (mark ``p`` by
  default), 0- or 1-indexed, optionally preceded by ``id<TAB>`` (SimAlign's sample gold). The words
  come from a ``src ||| tgt`` bitext (pre-tokenized, split on whitespace) or from two sentence
  files (``id<TAB>sentence`` as in SimAlign's samples, or one sentence a line).
* JSONL: ``{"src_words": [...], "tgt_words": [...], "alignment": [[i, j], ...]}`` (sure links;
  an optional ``"possible"`` list adds possible links).

A link that points outside its sentence is dropped and counted in ``out_of_range`` with one
warning naming the first ``file:line`` (or rejected with ``on_out_of_range="error"``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from xalign.data.languages import parse_pair
from xalign.data.corpus import ParallelCorpus
from xalign.data.lines import LineFile, PathLike

from xalign.errors import DataError
logger = logging.getLogger(__name__)

Link = tuple[int, int]


@dataclass(repr=False)
class GoldAlignment:
    """Gold word alignments for a list of sentence pairs (0-indexed word positions).

    ``sure[k]`` and ``possible[k]`` are the link sets of sentence pair ``k``; ``possible ⊇ sure``.
    ``out_of_range`` counts the links the reader dropped because they pointed outside their
    sentence; ``sources`` lists the files read (``{"path", "sha256"}``).
    """

    src_words: list[list[str]]
    tgt_words: list[list[str]]
    sure: list[set[Link]]
    possible: list[set[Link]]
    out_of_range: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)
    src_lang: str | None = None
    tgt_lang: str | None = None
    name: str = ""
    ids: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.src_words)
        for attr in ("tgt_words", "sure", "possible"):
            if len(getattr(self, attr)) != n:
                raise DataError(f"GoldAlignment.{attr} has {len(getattr(self, attr))} entries, src_words has {n}")
        if self.ids is not None and len(self.ids) != n:
            raise DataError(f"GoldAlignment.ids has {len(self.ids)} entries for {n} sentence pairs")
        self.sure = [set(map(tuple, s)) for s in self.sure]
        self.possible = [set(map(tuple, p)) for p in self.possible]
        for k, (sw, tw, s, p) in enumerate(zip(self.src_words, self.tgt_words, self.sure, self.possible)):
            if not s <= p:
                extra = sorted(s - p)[0]
                raise DataError(f"GoldAlignment sentence {k}: sure link {extra} is not among the possible links "
                                 f"(possible must contain sure)")
            bad = next((x for x in sorted(p) if not (0 <= x[0] < len(sw) and 0 <= x[1] < len(tw))), None)
            if bad is not None:
                raise DataError(f"GoldAlignment sentence {k}: link {bad} is outside a {len(sw)}x{len(tw)} sentence "
                                 f"pair")

    def __len__(self) -> int:
        return len(self.src_words)

    def __repr__(self) -> str:
        return (f"GoldAlignment(pair={self.pair!r}, n={len(self)}, name={self.name!r}, "
                f"out_of_range={self.out_of_range})")

    @property
    def pair(self) -> str | None:
        """``"en-de"`` when both languages are known."""
        return f"{self.src_lang}-{self.tgt_lang}" if self.src_lang and self.tgt_lang else None

    def subset(self, indices: Iterable[int]) -> GoldAlignment:
        """A new gold set with the sentence pairs at ``indices``."""
        idx = [int(i) for i in indices]
        bad = next((i for i in idx if not 0 <= i < len(self)), None)
        if bad is not None:
            raise DataError(f"index {bad} is out of range for a gold set of {len(self)} sentence pairs")

        def pick(xs: list[Any]) -> list[Any]:
            return [xs[i] for i in idx]

        return GoldAlignment(pick(self.src_words), pick(self.tgt_words), [set(s) for s in pick(self.sure)],
                             [set(p) for p in pick(self.possible)], self.out_of_range, list(self.sources),
                             self.src_lang, self.tgt_lang, self.name, None if self.ids is None else pick(self.ids))

    def to_parallel(self) -> ParallelCorpus:
        """The sentences as a :class:`ParallelCorpus` (words joined by single spaces)."""
        if not self.src_lang or not self.tgt_lang:
            raise DataError("this GoldAlignment has no languages; load it with pair='en-de' to make a corpus")
        return ParallelCorpus(self.src_lang, self.tgt_lang, [" ".join(w) for w in self.src_words],
                              [" ".join(w) for w in self.tgt_words], self.name, list(self.sources), self.ids)


# --------------------------------------------------------------------------- Pharaoh text
def _link_pattern(possible_mark: str) -> re.Pattern[str]:
    if not isinstance(possible_mark, str) or not possible_mark or possible_mark.isdigit() or "-" in possible_mark \
            or any(c.isspace() for c in possible_mark):
        raise DataError(f"possible_mark must be a non-empty str without digits, '-' or spaces, got {possible_mark!r}")
    return re.compile(rf"^(\d+)(-|{re.escape(possible_mark)})(\d+)$")


def parse_pharaoh(line: str, *, one_indexed: bool = False, possible_mark: str = "p") -> tuple[set[Link], set[Link]]:
    """Parse one Pharaoh line into ``(sure, possible)`` 0-indexed link sets (``possible ⊇ sure``).

    No range check happens here (indices may be negative after 1-indexed conversion of a ``0``).
    """
    pattern = _link_pattern(possible_mark)
    sure: set[Link] = set()
    possible: set[Link] = set()
    shift = 1 if one_indexed else 0
    for token in line.split():
        m = pattern.match(token)
        if m is None:
            raise DataError(f"bad link {token!r}: expected 'i-j' (sure) or 'i{possible_mark}j' (possible)")
        link = (int(m.group(1)) - shift, int(m.group(3)) - shift)
        possible.add(link)
        if m.group(2) == "-":
            sure.add(link)
    return sure, possible


def write_pharaoh(links_per_sentence: Iterable[Iterable[Link]], *, possible: Sequence[Iterable[Link]] | None = None,
                  possible_mark: str = "p") -> str:
    """Pharaoh text, one line per sentence: 0-indexed ``i-j`` links sorted by ``(i, j)``.

    With ``possible`` (one link set per sentence), possible-only links are added as ``i<mark>j``.
    Every line ends with ``\\n``; a sentence without links gives an empty line.
    """
    _link_pattern(possible_mark)
    sure_list = [sorted(_checked_links(links, k)) for k, links in enumerate(links_per_sentence)]
    if possible is not None and len(possible) != len(sure_list):
        raise DataError(f"possible has {len(possible)} sentences, links_per_sentence has {len(sure_list)}")
    lines = []
    for k, sure in enumerate(sure_list):
        tokens = {link: f"{link[0]}-{link[1]}" for link in sure}
        if possible is not None:
            for link in _checked_links(possible[k], k):
                tokens.setdefault(link, f"{link[0]}{possible_mark}{link[1]}")
        lines.append(" ".join(tokens[link] for link in sorted(tokens)) + "\n")
    return "".join(lines)


def _checked_links(links: Iterable[Link], k: int) -> set[Link]:
    out = set()
    for link in links:
        i, j = link
        if isinstance(i, bool) or isinstance(j, bool) or int(i) != i or int(j) != j or i < 0 or j < 0:
            raise DataError(f"sentence {k}: link {link!r} is not a pair of non-negative ints")
        out.add((int(i), int(j)))
    return out


# --------------------------------------------------------------------------- file readers
def _split_id(line: str, has_ids: bool, loc: str) -> tuple[str | None, str]:
    if not has_ids:
        return None, line
    row_id, sep, rest = line.partition("\t")
    if not sep:
        raise DataError(f"{loc}: expected 'id<TAB>...' like the file's first line, found no tab")
    return row_id, rest


def _read_pharaoh_file(f: LineFile, one_indexed: bool, possible_mark: str) -> list[tuple[str | None, set, set, str]]:
    rows, has_ids = [], None
    for lineno, line in f:
        loc = f"{f.path}:{lineno}"
        has_ids = ("\t" in line) if has_ids is None else has_ids
        row_id, links = _split_id(line, has_ids, loc)
        try:
            sure, possible = parse_pharaoh(links, one_indexed=one_indexed, possible_mark=possible_mark)
        except ValueError as exc:
            raise DataError(f"{loc}: {exc}") from None
        rows.append((row_id, sure, possible, loc))
    return rows


def _read_sentences(f: LineFile) -> list[tuple[str | None, list[str]]]:
    rows, has_ids = [], None
    for lineno, line in f:
        has_ids = ("\t" in line) if has_ids is None else has_ids
        row_id, text = _split_id(line, has_ids, f"{f.path}:{lineno}")
        rows.append((row_id, text.split()))
    return rows


def _read_bitext(f: LineFile) -> list[tuple[None, list[str], list[str]]]:
    rows = []
    for lineno, line in f:
        left, sep, right = line.partition("|||")
        if not sep or "|||" in right:
            raise DataError(f"{f.path}:{lineno}: expected one 'src words ||| tgt words' separator, found "
                             f"{line.count('|||')}")
        rows.append((None, left.split(), right.split()))
    return rows


def _read_jsonl(f: LineFile, one_indexed: bool) -> list[tuple[list[str], list[str], set, set, str]]:
    rows, shift = [], 1 if one_indexed else 0
    for loc, obj in f.json_objects():
        if any(k not in obj for k in ("src_words", "tgt_words", "alignment")):
            have = sorted(obj)
            raise DataError(f"{loc}: expected an object with src_words, tgt_words and alignment, found {have}")
        links: dict[str, set[Link]] = {}
        for key in ("alignment", "possible"):
            links[key] = set()
            for x in obj.get(key, []):
                if not (isinstance(x, (list, tuple)) and len(x) == 2 and all(type(v) is int for v in x)):
                    raise DataError(f"{loc}: {key} entry {x!r} is not a pair of ints")
                links[key].add((x[0] - shift, x[1] - shift))
        for key in ("src_words", "tgt_words"):
            if not isinstance(obj[key], list) or not all(isinstance(w, str) for w in obj[key]):
                raise DataError(f"{loc}: {key} must be a list of strings")
        rows.append((obj["src_words"], obj["tgt_words"], links["alignment"], links["alignment"] | links["possible"],
                     loc))
    return rows


def _drop_out_of_range(sure: set[Link], possible: set[Link], n_src: int, n_tgt: int, loc: str, one_indexed: bool,
                       state: dict[str, Any], on_out_of_range: str) -> tuple[set[Link], set[Link]]:
    bad = sorted(x for x in possible if not (0 <= x[0] < n_src and 0 <= x[1] < n_tgt))
    if not bad:
        return sure, possible
    shift = 1 if one_indexed else 0
    i, j = bad[0][0] + shift, bad[0][1] + shift
    shown = f"{i}-{j}" if i >= 0 and j >= 0 else f"({i}, {j})"
    msg = (f"{loc}: link {shown} ({'1' if one_indexed else '0'}-indexed) is outside the sentence pair "
           f"({n_src} source words, {n_tgt} target words)")
    if on_out_of_range == "error":
        raise DataError(msg + "; pass on_out_of_range='drop' to skip such links")
    state["count"] += len(bad)
    state["first"] = state["first"] or msg
    keep = set(possible) - set(bad)
    return sure & keep, keep


def load_gold(gold: PathLike, *, bitext: PathLike | None = None, src_file: PathLike | None = None,
              tgt_file: PathLike | None = None, one_indexed: bool = False, possible_mark: str = "p",
              on_out_of_range: str = "drop", pair: str | None = None) -> GoldAlignment:
    """Read a gold word alignment (Pharaoh + words, or JSONL) into a :class:`GoldAlignment`.

    ``gold`` ending in ``.jsonl``/``.json`` is read as JSONL (words included); otherwise it is a
    Pharaoh file and the words come from ``bitext`` (``src ||| tgt`` lines) or from ``src_file`` and
    ``tgt_file``. When the gold file and the sentence files all carry ``id<TAB>`` columns, rows are
    matched by id (in the sentence files' order); otherwise by line. ``one_indexed`` shifts every
    index down by one. ``pair`` (e.g. ``"en-de"``) records the languages.
    """
    if on_out_of_range not in ("drop", "error"):
        raise DataError(f"on_out_of_range must be 'drop' or 'error', got {on_out_of_range!r}")
    _link_pattern(possible_mark)
    src_lang, tgt_lang = parse_pair(pair) if pair is not None else (None, None)
    g = LineFile(gold, what="gold alignment file")
    state: dict[str, Any] = {"count": 0, "first": None}
    rows: list[tuple[list[str], list[str], set[Link], set[Link], str]] = []
    ids: list[str] | None = None
    if g.path.suffix.lower() in (".jsonl", ".json"):
        if bitext is not None or src_file is not None or tgt_file is not None:
            raise DataError(f"{g.path} is JSONL and carries its own words; drop bitext=/src_file=/tgt_file=")
        rows = _read_jsonl(g, one_indexed)
        sources = [g.source()]
    else:
        links = _read_pharaoh_file(g, one_indexed, possible_mark)
        if bitext is not None and (src_file is not None or tgt_file is not None):
            raise DataError("pass either bitext= or src_file= and tgt_file=, not both")
        if bitext is not None:
            b = LineFile(bitext, what="bitext file")
            words = _read_bitext(b)
            files, sources = f"{b.path}", [g.source(), b.source()]
        elif src_file is not None and tgt_file is not None:
            fs, ft = LineFile(src_file, what="source sentence file"), LineFile(tgt_file, what="target sentence file")
            src_rows, tgt_rows = _read_sentences(fs), _read_sentences(ft)
            if len(src_rows) != len(tgt_rows):
                raise DataError(f"sentence counts differ: {fs.path} has {len(src_rows)} lines but {ft.path} has "
                                 f"{len(tgt_rows)}")
            words = [(s_id, s, t) for (s_id, s), (_, t) in zip(src_rows, tgt_rows)]
            files, sources = f"{fs.path}", [g.source(), fs.source(), ft.source()]
        else:
            raise DataError(f"{g.path} is a Pharaoh file without words: pass --bitext FILE ('src ||| tgt' "
                             f"lines; bitext=) or --src-file and --tgt-file (src_file=, tgt_file=)")
        if len(links) != len(words):
            raise DataError(f"{g.path} has {len(links)} lines but {files} has {len(words)} sentences")
        if all(r[0] is not None for r in links) and all(w[0] is not None for w in words):
            by_id = {r[0]: r for r in links}
            missing = next((w[0] for w in words if w[0] not in by_id), None)
            if missing is not None or len(by_id) != len(links):
                raise DataError(f"{g.path}: ids do not match {files} (first id without gold: {missing!r})")
            links = [by_id[w[0]] for w in words]
            ids = [str(w[0]) for w in words]
        rows = [(w[1], w[2], r[1], r[2], r[3]) for r, w in zip(links, words)]
    sure_all, possible_all = [], []
    for src_words, tgt_words, sure, possible, loc in rows:
        sure, possible = _drop_out_of_range(sure, possible, len(src_words), len(tgt_words), loc, one_indexed, state,
                                            on_out_of_range)
        sure_all.append(sure)
        possible_all.append(possible)
    if state["count"]:
        logger.warning("%s; dropped %d out-of-range link(s) in total", state["first"], state["count"])
    return GoldAlignment([r[0] for r in rows], [r[1] for r in rows], sure_all, possible_all, state["count"], sources,
                         src_lang, tgt_lang, g.path.stem, ids)
