"""Substitution sets for randomized smoothing with data augmentation (RS-DA), and seeded augmentation.

A substitution table maps a word to a tuple of substitutes. Words are whitespace tokens, case kept
(as Robust-XLT): ``"movie,"`` is not ``"movie"``. Sources:

* :func:`load_synonyms` — a JSON ``{word: [neighbours]}`` file such as the counter-fitted synonym sets
  Robust-XLT uses (``synonyms/counterfitted_neighbors.json``);
* :func:`embedding_neighbours` — the encoder's own input-embedding nearest neighbours (top-k cosine
  over the whole-word pieces of its vocabulary);
* :func:`load_dictionary` — a bilingual dictionary ``foreign<TAB>english`` read as English → foreign
  (code-switching into the target languages).

:func:`substitute` replaces every word that has substitutes by a uniform draw from
``{word} ∪ substitutes`` (so the word is kept with probability 1/(n+1)); its randomness comes only from
the ``numpy.random.Generator`` passed in. :func:`item_rng` derives that generator from
``(seed, epoch, index)`` so augmentation is reproducible and the same in any data-loader worker.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xalign.errors import ConfigError, DataError, MissingFileError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

logger = logging.getLogger(__name__)

Table = dict[str, tuple[str, ...]]
PathLike = str | os.PathLike[str]


def load_synonyms(path: PathLike) -> Table:
    """Read a JSON ``{word: [substitute, ...]}`` file; words without substitutes are dropped."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"expected a JSON synonym file at {p}, found none")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DataError(f"{p}: expected a JSON object {{word: [substitutes]}}, found {type(data).__name__}")
    table: Table = {}
    for word, subs in data.items():
        if not isinstance(subs, list) or not all(isinstance(s, str) for s in subs):
            raise DataError(f"{p}: entry {word!r} must be a list of strings, found {subs!r}"[:300])
        kept = _clean(word, subs)
        if kept:
            table[word] = kept
    logger.info("%s: %d words with substitutes (of %d keys)", p, len(table), len(data))
    return table


def load_dictionary(path: PathLike, *, direction: str = "en->xx") -> Table:
    """Read a bilingual dictionary with lines ``foreign<TAB>english``.

    ``direction="en->xx"`` (default) maps each English word to its foreign translations, for
    code-switching English training text into the target language; ``"xx->en"`` the reverse.
    """
    if direction not in ("en->xx", "xx->en"):
        raise ConfigError(f"direction must be 'en->xx' or 'xx->en', got {direction!r}")
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"expected a bilingual dictionary (foreign<TAB>english) at {p}, found none")
    pairs: dict[str, list[str]] = {}
    with p.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise DataError(f"{p}:{lineno}: expected 'foreign<TAB>english', found {line!r}")
            foreign, english = parts[0].strip(), parts[1].strip()
            src, tgt = (english, foreign) if direction == "en->xx" else (foreign, english)
            if " " in src or " " in tgt:
                continue  # multi-word entries cannot replace one whitespace token
            pairs.setdefault(src, []).append(tgt)
    table = {w: kept for w, subs in pairs.items() if (kept := _clean(w, subs))}
    if not table:
        raise DataError(f"{p}: no usable single-word entries")
    return table


def _clean(word: str, subs: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for s in subs:
        s = s.strip()
        if s and s != word and not any(c.isspace() for c in s):
            seen.setdefault(s, None)
    return tuple(seen)


def merge_tables(*tables: Mapping[str, Sequence[str]]) -> Table:
    """Union of substitution tables (order of first appearance, duplicates and the word itself removed)."""
    out: dict[str, list[str]] = {}
    for table in tables:
        for word, subs in table.items():
            out.setdefault(word, []).extend(subs)
    return {w: kept for w, subs in out.items() if (kept := _clean(w, subs))}


def restrict(table: Mapping[str, Sequence[str]], words: Iterable[str]) -> Table:
    """Only the entries of ``table`` whose word is in ``words`` (e.g. the training vocabulary)."""
    wanted = set(words)
    return {w: tuple(s) for w, s in table.items() if w in wanted}


def text_vocabulary(texts: Iterable[str]) -> set[str]:
    """The set of whitespace tokens in ``texts`` (case kept)."""
    vocab: set[str] = set()
    for t in texts:
        vocab.update(t.split())
    return vocab


def whole_word_pieces(tokenizer) -> dict[str, int]:
    """Vocabulary entries that are a whole word on their own: ``surface → id``.

    A piece qualifies when its decoded surface is a non-empty run of letters and tokenizing that
    surface alone (no special tokens) gives exactly this piece — this keeps ``▁house`` but not the
    word-internal ``house`` (SentencePiece) and keeps ``house`` but not ``##house`` (WordPiece).
    """
    vocab = tokenizer.get_vocab()
    special = set(tokenizer.all_special_ids)
    surfaces, ids = [], []
    for token, idx in vocab.items():
        if idx in special:
            continue
        surface = tokenizer.convert_tokens_to_string([token]).strip()
        if surface and surface.isalpha():
            surfaces.append(surface)
            ids.append(idx)
    if not surfaces:
        return {}
    encoded = tokenizer(surfaces, add_special_tokens=False)["input_ids"]
    out: dict[str, int] = {}
    for surface, idx, enc in zip(surfaces, ids, encoded):
        if enc == [idx]:
            out.setdefault(surface, idx)
    return out


def embedding_neighbours(tokenizer, weight: "torch.Tensor", words: Iterable[str], *, k: int = 8,
                         min_cos: float = 0.5, chunk: int = 1024) -> Table:
    """Top-``k`` cosine neighbours among the encoder's whole-word input embeddings, for each of
    ``words`` that is itself a whole-word piece. Neighbours below ``min_cos`` are dropped.

    ``weight`` is the input-embedding matrix (``model.get_input_embeddings().weight``).
    """
    import torch

    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    pieces = whole_word_pieces(tokenizer)
    if not pieces:
        raise ModelError("the tokenizer has no whole-word pieces to draw substitutes from")
    surfaces = list(pieces)
    ids = torch.tensor([pieces[s] for s in surfaces])
    with torch.no_grad():
        w = weight.detach().float().cpu()
        cand = torch.nn.functional.normalize(w[ids], dim=-1)
        queries = [q for q in sorted(set(words)) if q in pieces]
        table: Table = {}
        from xalign.metrics.search import topk_search  # the one top-k kernel

        for start in range(0, len(queries), chunk):
            batch = queries[start:start + chunk]
            q = torch.nn.functional.normalize(w[torch.tensor([pieces[x] for x in batch])], dim=-1)
            sims, idx = topk_search(q.numpy(), cand.numpy(), min(k + 1, len(surfaces)), device="cpu")
            for word, row_s, row_i in zip(batch, sims.tolist(), idx.tolist()):
                subs = [surfaces[j] for s, j in zip(row_s, row_i) if s >= min_cos and surfaces[j] != word][:k]
                if subs:
                    table[word] = tuple(subs)
    logger.info("embedding neighbours: %d of %d words have substitutes (k=%d, min_cos=%.2f)",
                len(table), len(queries), k, min_cos)
    return table


def build_table(sources: Sequence[str], *, texts: Sequence[str], synonyms: PathLike | None = None,
                dictionaries: Sequence[PathLike] = (), tokenizer=None, embeddings: "torch.Tensor | None" = None,
                k: int = 8, min_cos: float = 0.5) -> Table:
    """The merged table of ``sources`` (``"synonyms"``, ``"dictionary"``, ``"embedding"``), restricted to
    the words of ``texts``; logs how many training tokens have substitutes."""
    vocab = text_vocabulary(texts)
    tables = []
    for source in sources:
        if source == "synonyms":
            if synonyms is None:
                raise ConfigError("the 'synonyms' source needs a JSON synonym file")
            tables.append(load_synonyms(synonyms))
        elif source == "dictionary":
            if not dictionaries:
                raise ConfigError("the 'dictionary' source needs at least one dictionary file")
            tables += [load_dictionary(path) for path in dictionaries]
        elif source == "embedding":
            if tokenizer is None or embeddings is None:
                raise ConfigError("the 'embedding' source needs the tokenizer and the input-embedding matrix")
            tables.append(embedding_neighbours(tokenizer, embeddings, vocab, k=k, min_cos=min_cos))
        else:
            raise ConfigError(f"unknown substitution source {source!r}: expected synonyms, dictionary or embedding")
    table = restrict(merge_tables(*tables), vocab)
    tokens = [w for t in texts for w in t.split()]
    covered = sum(1 for w in tokens if w in table) / max(1, len(tokens))
    logger.info("substitutions: %d training words have substitutes; they cover %.1f%% of training tokens",
                len(table), 100 * covered)
    return table


def item_rng(seed: int, *keys: int) -> "np.random.Generator":
    """A numpy Generator determined by ``(seed, *keys)`` only (e.g. ``(seed, epoch, index)``)."""
    import numpy as np

    return np.random.default_rng([int(seed), *(int(x) for x in keys)])


def substitute(text: str, table: Mapping[str, Sequence[str]], rng: "np.random.Generator") -> str:
    """Replace each whitespace word that has substitutes by a uniform draw from ``{word} ∪ subs``."""
    out = []
    for word in text.split():
        subs = table.get(word)
        if subs:
            j = int(rng.integers(len(subs) + 1))
            word = word if j == 0 else subs[j - 1]
        out.append(word)
    return " ".join(out)


def substitute_paired(texts: Sequence[str], table: Mapping[str, Sequence[str]], rng: "np.random.Generator"
                      ) -> list[str]:
    """Replace words consistently across ``texts`` (the sentences of one item): one uniform draw from
    ``{word} ∪ subs`` per word type, in order of first appearance (``texts[0]`` first), applied to every
    occurrence in every text — so "big" becomes "large" in both sentences, or stays "big" in both."""
    choice: dict[str, str] = {}
    for text in texts:
        for word in text.split():
            subs = table.get(word)
            if subs and word not in choice:
                j = int(rng.integers(len(subs) + 1))
                choice[word] = word if j == 0 else subs[j - 1]
    return [" ".join(choice.get(w, w) for w in text.split()) for text in texts]


def substitute_item(sentence1: str, sentence2: str | None, table: Mapping[str, Sequence[str]],
                    rng: "np.random.Generator", *, paired: bool = False) -> tuple[str, str | None]:
    """One item's substituted sentences: independently (sentence 1's draws, then sentence 2's, from ``rng``,
    as Robust-XLT) or ``paired`` (:func:`substitute_paired`). ``sentence2`` None: a one-sentence item."""
    texts = [sentence1] if sentence2 is None else [sentence1, sentence2]
    out = substitute_paired(texts, table, rng) if paired else [substitute(t, table, rng) for t in texts]
    return out[0], (None if sentence2 is None else out[1])


def augment_pairs(sentence1: Sequence[str], sentence2: Sequence[str] | None, table: Mapping[str, Sequence[str]], *,
                  copies: int, seed: int, paired: bool = False) -> tuple[list[str], list[str] | None, list[int]]:
    """``copies`` independently perturbed copies of every item (see :func:`substitute_item`).

    Returns ``(sentence1, sentence2, source_index)``; copy ``c`` of item ``i`` uses ``item_rng(seed, c, i)``.
    ``sentence2`` None (a one-sentence task) gives None for the second list."""
    if copies < 1:
        raise ConfigError(f"copies must be >= 1, got {copies}")
    if sentence2 is not None and len(sentence1) != len(sentence2):
        raise DataError(f"sentence lists differ in length: {len(sentence1)} vs {len(sentence2)}")
    a: list[str] = []
    b: list[str] | None = None if sentence2 is None else []
    src: list[int] = []
    for c in range(copies):
        for i, s1 in enumerate(sentence1):
            x, y = substitute_item(s1, None if sentence2 is None else sentence2[i], table, item_rng(seed, c, i),
                                   paired=paired)
            a.append(x)
            if b is not None:
                b.append(y)
            src.append(i)
    return a, b, src
