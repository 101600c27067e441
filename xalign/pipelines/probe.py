"""``probe``: every alignment metric on every layer of one encoder, for one or more language pairs.

Walk-through: corpora → encoder → one forward pass per side (sentence vectors of all layers +
dictionary-word vectors) → per layer: retrieval (all scoring rules, both directions), cross-lingual
CKA, BLI, word alignment (when gold is given) → bootstrap CIs → :class:`ProbeResult` →
``metrics.json``/``metrics.csv``/``details.json``/embeddings → ``report.html``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.pipelines.probe_steps import (bli_for_layers, cka_for_layers, retrieval_for_layer,
                                          similarity_details, word_alignment_for_layers)

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data import ParallelCorpus
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)

RETRIEVAL_METHODS = ("cosine", "csls", "margin", "cosine_centered")


@dataclass
class ProbeConfig:
    """What to probe and how. ``to_dict()`` is saved with every result."""

    model: str = "default"
    pairs: list[str] = field(default_factory=lambda: ["en-sw"])
    data: str | None = None
    src_file: str | None = None
    tgt_file: str | None = None
    split: str | None = None
    limit: int | None = None
    strict: bool = False
    layers: str | list[int] = "all"
    preset: str = "default"
    pooling: str | None = None  # None: the preset's pooling
    prefix: str | None = None
    methods: list[str] | None = None  # None: the preset's rules (default preset: all four)
    bli: bool = True
    dictionary: str | None = None  # path; None = the bundled test dictionary for the pair when there is one
    gold: str | None = None  # gold word alignments (probe runs word alignment only when given)
    gold_bitext: str | None = None
    gold_src_file: str | None = None
    gold_tgt_file: str | None = None
    gold_one_indexed: bool = False
    align_method: str = "itermax"
    n_boot: int = 1000
    n_boot_cka: int = 200
    seed: int = 0
    batch_size: int = 32
    device: str | None = None
    dtype: str | None = None
    report: bool = True

    def __post_init__(self) -> None:
        from xalign.metrics.retrieval import PRESETS

        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if isinstance(self.pairs, str):
            self.pairs = [self.pairs]
        if not self.pairs:
            raise ValueError("pairs must name at least one language pair such as 'en-sw'")
        if self.methods is None:
            preset = PRESETS[self.preset]
            self.methods = list(RETRIEVAL_METHODS) if self.preset == "default" else list(preset.methods)
        unknown = [m for m in self.methods if m not in RETRIEVAL_METHODS]
        if unknown:
            raise ValueError(f"unknown retrieval method(s) {unknown}; expected some of {list(RETRIEVAL_METHODS)}")
        if self.align_method not in {"argmax", "itermax", "match", "softmax"}:
            raise ValueError(f"align_method must be argmax, itermax, match or softmax, got {self.align_method!r}")
        if self.n_boot < 0 or self.n_boot_cka < 0:
            raise ValueError("n_boot and n_boot_cka must be >= 0")
        if (self.src_file is None) != (self.tgt_file is None):
            raise ValueError("src_file and tgt_file go together; got only one of them")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")

    @property
    def resolved_pooling(self) -> str:
        from xalign.metrics.retrieval import PRESETS

        return self.pooling or PRESETS[self.preset].pooling

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "resolved_pooling": self.resolved_pooling}


@dataclass
class PairResult:
    pair: str
    src_lang: str
    tgt_lang: str
    n: int
    layers: list[dict[str, Any]]
    best: dict[str, dict[str, Any]]
    details: dict[str, Any]
    src_vectors: np.ndarray = field(repr=False)
    tgt_vectors: np.ndarray = field(repr=False)
    src_texts: list[str] = field(repr=False, default_factory=list)
    tgt_texts: list[str] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"src_lang": self.src_lang, "tgt_lang": self.tgt_lang, "n": self.n, "layers": self.layers,
                "best": self.best}


@dataclass
class ProbeResult:
    manifest: dict[str, Any]
    pairs: dict[str, PairResult]
    language_cka: dict[str, Any] | None = None

    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` document."""
        return {"manifest": self.manifest, "pairs": {k: v.summary() for k, v in self.pairs.items()}}

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pairs": {k: v.details for k, v in self.pairs.items()}}
        if self.language_cka is not None:
            out["language_cka"] = self.language_cka
        return out


def _flatten(prefix: str, obj: Any, out: dict[str, float]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)


def flat_metrics(layer_entry: dict[str, Any]) -> dict[str, float]:
    """``{"retrieval.csls.en->sw.p@1": 0.93, "cka.linear": 0.8, ...}`` for one layer entry."""
    out: dict[str, float] = {}
    _flatten("", {k: v for k, v in layer_entry.items() if k != "layer"}, out)
    return out


def _best_layers(layers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Best layer for each headline metric (lowest for AER, highest otherwise)."""
    best: dict[str, dict[str, Any]] = {}
    for entry in layers:
        for key, value in flat_metrics(entry).items():
            if not (key.endswith(("p@1", ".linear", ".linear_debiased", ".f1", ".aer", ".mrr"))):
                continue
            lower = key.endswith(".aer")
            cur = best.get(key)
            if cur is None or (value < cur["value"] if lower else value > cur["value"]):
                best[key] = {"layer": entry["layer"], "value": value}
    return best


def load_corpora(config: ProbeConfig) -> list["ParallelCorpus"]:
    from xalign.data import load_parallel

    if config.src_file is not None:
        if len(config.pairs) != 1:
            raise ValueError(f"src_file/tgt_file take exactly one pair, got {config.pairs}")
        corpora = [load_parallel(config.src_file, config.tgt_file, pair=config.pairs[0], strict=config.strict)]
    else:
        corpora = [load_parallel(pair=p, data=config.data, split=config.split, strict=config.strict)
                   for p in config.pairs]
    if config.limit is not None:
        corpora = [c.head(config.limit) for c in corpora]
    return corpora


def _dictionary_for(config: ProbeConfig, corpus: "ParallelCorpus") -> tuple[list[tuple[str, str]], str | None]:
    from xalign.data import demo_dictionary
    from xalign.data.dictionaries import dictionary_for_pair, read_dictionary

    if not config.bli:
        return [], None
    if config.dictionary is not None:  # columns: source-language word, target-language word
        return read_dictionary(config.dictionary), config.dictionary
    found = dictionary_for_pair(corpus.pair)
    if not found:
        return [], None
    return found, f"bundled:{demo_dictionary(corpus.pair).name}"


def probe_pair(encoder: "Encoder", corpus: "ParallelCorpus", config: ProbeConfig) -> PairResult:
    """All metrics on all selected layers for one parallel corpus."""
    from xalign.embed.extract import resolve_layers
    from xalign.embed.vocab import embed_with_vocabulary, static_word_vectors

    layers = resolve_layers(config.layers, encoder.num_layers)
    pooling = config.resolved_pooling
    dictionary, dict_source = _dictionary_for(config, corpus)
    t0 = time.perf_counter()
    src_vocab = {s for s, _ in dictionary} if dictionary else set()
    tgt_vocab = {t for _, t in dictionary} if dictionary else set()
    src_vecs, src_words = embed_with_vocabulary(encoder, corpus.src, vocabulary=src_vocab, layers=layers,
                                                pooling=pooling, prefix=config.prefix, batch_size=config.batch_size)
    tgt_vecs, tgt_words = embed_with_vocabulary(encoder, corpus.tgt, vocabulary=tgt_vocab, layers=layers,
                                                pooling=pooling, prefix=config.prefix, batch_size=config.batch_size)
    logger.info("%s: embedded %d pairs x %d layers in %.1fs", corpus.pair, len(corpus), len(layers),
                time.perf_counter() - t0)
    src, tgt = corpus.src_lang, corpus.tgt_lang
    entries: list[dict[str, Any]] = [{"layer": layer} for layer in layers]
    for li, entry in enumerate(entries):
        entry["retrieval"] = retrieval_for_layer(src_vecs[li], tgt_vecs[li], src, tgt, config)
    for entry, cka in zip(entries, cka_for_layers(src_vecs, tgt_vecs, config)):
        entry["cka"] = cka
    details: dict[str, Any] = {"similarity": similarity_details(src_vecs, tgt_vecs, layers, config.seed)}
    from xalign.metrics.cka import cka_grid

    details["cka_layers"] = {src: cka_grid(src_vecs, src_vecs).round(5).tolist(),
                             tgt: cka_grid(tgt_vecs, tgt_vecs).round(5).tolist()}
    if dictionary:
        static = (static_word_vectors(encoder, src_words.words), static_word_vectors(encoder, tgt_words.words))
        bli, bli_static = bli_for_layers(src_words, tgt_words, static, dictionary)
        for entry, value in zip(entries, bli):
            entry["bli"] = value
        details["bli"] = {"dictionary": dict_source, "static_input_embeddings": bli_static,
                          "src_vocabulary": len(src_words.words), "tgt_vocabulary": len(tgt_words.words)}
    if config.gold is not None:
        wa, examples = word_alignment_for_layers(encoder, layers, config)
        for entry, value in zip(entries, wa):
            entry["word_alignment"] = value
        details["word_alignment_examples"] = examples
    return PairResult(pair=corpus.pair, src_lang=src, tgt_lang=tgt, n=len(corpus), layers=entries,
                      best=_best_layers(entries), details=details, src_vectors=src_vecs, tgt_vectors=tgt_vecs,
                      src_texts=list(corpus.src), tgt_texts=list(corpus.tgt))


def _language_cka(results: dict[str, PairResult], layer_pos: int) -> dict[str, Any] | None:
    """Language × language linear CKA when all pairs share the same source sentences (e.g. FLORES)."""
    from xalign.metrics.cka import linear_cka

    items = list(results.values())
    if len(items) < 2 or any(r.src_texts != items[0].src_texts or r.src_lang != items[0].src_lang for r in items):
        return None
    spaces = {items[0].src_lang: items[0].src_vectors[layer_pos]}
    for r in items:
        spaces[r.tgt_lang] = r.tgt_vectors[layer_pos]
    langs = list(spaces)
    matrix = [[linear_cka(spaces[a], spaces[b]) for b in langs] for a in langs]
    return {"layer": items[0].layers[layer_pos]["layer"], "languages": langs, "matrix": np.round(matrix, 5).tolist()}


def probe(config: ProbeConfig, *, encoder: "Encoder | None" = None, out_dir: str | Path | None = None,
          corpora: list["ParallelCorpus"] | None = None) -> ProbeResult:
    """Run the probe; with ``out_dir`` also write metrics, details, embeddings and the report."""
    from xalign.io import base_manifest
    from xalign.pipelines.extract import corpus_manifest

    corpora = corpora if corpora is not None else load_corpora(config)
    if encoder is None:
        from xalign.encoders import load_encoder

        encoder = load_encoder(config.model, device=config.device, dtype=config.dtype)
    t0 = time.perf_counter()
    results = {c.pair: probe_pair(encoder, c, config) for c in corpora}
    first = next(iter(results.values()))
    layer_numbers = [e["layer"] for e in first.layers]
    pos = layer_numbers.index(8) if 8 in layer_numbers else len(layer_numbers) // 2
    from xalign.metrics.retrieval import PRESETS

    manifest = base_manifest(command="probe", model=encoder.describe(), preset=config.preset,
                             preset_details=PRESETS[config.preset].to_dict(),
                             pooling=config.resolved_pooling, prefix=config.prefix, seed=config.seed,
                             data=[corpus_manifest(c) for c in corpora], config=config.to_dict(),
                             seconds=round(time.perf_counter() - t0, 2))
    result = ProbeResult(manifest=manifest, pairs=results, language_cka=_language_cka(results, pos))
    if out_dir is not None:
        from xalign.pipelines.probe_io import write_probe_run

        write_probe_run(result, out_dir, report=config.report)
    return result
