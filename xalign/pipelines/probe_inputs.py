"""Everything a probe reads, loaded once at the pipeline's edge and validated before any model loads:
the corpora (one per pair), each pair's BLI dictionary and, for the one pair it belongs to, gold word
alignments. Computation downstream receives these values and never opens a file."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from xalign.embed.layers import parse_layers  # noqa: F401  (re-exported: the one layer parser)
from xalign.errors import ConfigError, DataError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.corpus import ParallelCorpus
    from xalign.data.gold import GoldAlignment
    from xalign.pipelines.probe import ProbeConfig

logger = logging.getLogger(__name__)

__all__ = ["PairInputs", "ProbeInputs", "inputs_for", "load_probe_inputs", "parse_layers"]


@dataclass
class PairInputs:
    """One pair's inputs: its corpus, its dictionary (``(src word, tgt word)``, empty without BLI), and
    gold alignments only when the gold belongs to this pair."""

    corpus: "ParallelCorpus"
    dictionary: list[tuple[str, str]] = field(default_factory=list)
    dictionary_source: str | None = None
    gold: "GoldAlignment | None" = None

    @property
    def pair(self) -> str:
        return self.corpus.pair


@dataclass
class ProbeInputs:
    pairs: list[PairInputs]

    @property
    def corpora(self) -> list["ParallelCorpus"]:
        return [p.corpus for p in self.pairs]


def _existing(path: str | None, what: str) -> None:
    if path is not None and not Path(path).is_file():
        raise MissingFileError(f"{what} not found: {path}")


def _gold_languages(config: "ProbeConfig") -> tuple[str, str] | None:
    """Languages the gold files name by their suffixes (``x.eng.txt`` + ``x.deu.txt`` → en, de), if any."""
    from xalign.data.corpus import _lang_from_filename

    if config.gold_src_file and config.gold_tgt_file:
        s, t = _lang_from_filename(Path(config.gold_src_file)), _lang_from_filename(Path(config.gold_tgt_file))
        if s and t:
            return s, t
    return None


def load_probe_inputs(config: "ProbeConfig") -> ProbeInputs:
    """Load and check every input of ``config`` (no model involved): bad data fails in seconds."""
    from xalign.data.parallel import load_corpora

    for path, what in ((config.gold, "gold alignment file"), (config.gold_bitext, "gold bitext"),
                       (config.gold_src_file, "gold source file"), (config.gold_tgt_file, "gold target file"),
                       (config.dictionary, "dictionary file")):
        _existing(path, what)
    corpora = load_corpora(config.pairs, src_file=config.src_file, tgt_file=config.tgt_file, data=config.data,
                           split=config.split, strict=config.strict, limit=config.limit)
    return inputs_for(corpora, config)


def inputs_for(corpora: list["ParallelCorpus"], config: "ProbeConfig") -> ProbeInputs:
    """Dictionaries and gold of ``config`` attached to already loaded corpora (gold to its own pair only)."""
    from xalign.data.demo import demo_dictionary
    from xalign.data.dictionaries import dictionary_for_pair, read_dictionary
    from xalign.data.gold import load_gold
    from xalign.data.languages import parse_pair

    gold_pair = None
    if config.gold is not None:
        names = [c.pair for c in corpora]
        if config.gold_pair is not None:
            wanted = parse_pair(config.gold_pair)
            gold_pair = next((c.pair for c in corpora if (c.src_lang, c.tgt_lang) == wanted), None)
            if gold_pair is None:
                raise ConfigError(f"--gold-pair {config.gold_pair!r} is not one of the probed pairs {names}")
        elif len(corpora) == 1:
            gold_pair = corpora[0].pair
        else:
            raise ConfigError(f"--gold belongs to one language pair: with several pairs ({', '.join(names)}) name it "
                              "with --gold-pair")
        named = _gold_languages(config)
        if named is not None and named != tuple(parse_pair(gold_pair)):
            raise DataError(f"gold files {config.gold_src_file} / {config.gold_tgt_file} are {named[0]}-{named[1]} "
                            f"but would be scored as {gold_pair}; gold belongs to its own pair (--pair "
                            f"{named[0]}-{named[1]} or --gold-pair)")
    out = []
    for corpus in corpora:
        item = PairInputs(corpus=corpus)
        if config.bli:
            if config.dictionary is not None:  # columns: source-language word, target-language word
                item.dictionary, item.dictionary_source = read_dictionary(config.dictionary), config.dictionary
            else:
                found = dictionary_for_pair(corpus.pair)
                if found:
                    path = demo_dictionary(corpus.pair)
                    item.dictionary, item.dictionary_source = found, f"bundled:{path.name if path else corpus.pair}"
        if corpus.pair == gold_pair:
            item.gold = load_gold(config.gold, bitext=config.gold_bitext, src_file=config.gold_src_file,
                                  tgt_file=config.gold_tgt_file, one_indexed=config.gold_one_indexed, pair=gold_pair)
            if len(item.gold) == 0:
                raise DataError(f"{config.gold}: no gold sentence pairs")
        out.append(item)
    return ProbeInputs(pairs=out)
