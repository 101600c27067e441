"""``probe``: every alignment metric on every layer of one encoder, for one or more language pairs.

Walk-through: :func:`~xalign.pipelines.probe_inputs.load_probe_inputs` (corpora, dictionaries, gold
— validated before any model loads) → encoder → one forward pass per side (sentence vectors of all
layers + dictionary-word vectors) → per layer: retrieval (all rules, both directions, from one shared
top-k search and scan per direction), cross-lingual CKA, BLI, word alignment (for the pair the gold
belongs to) → typed :class:`~xalign.results.PairMetrics` → run directory (``probe_io``) → report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.errors import ConfigError
from xalign.pipelines.probe_inputs import PairInputs, ProbeInputs, inputs_for, load_probe_inputs, parse_layers
from xalign.pipelines.probe_steps import (bli_for_layers, cka_for_layer, retrieval_for_layer, similarity_details,
                                          usable_ks, word_alignment_for_layers)
from xalign.results.json_io import probe_to_json
from xalign.results.registry import RETRIEVAL_RULES
from xalign.results.types import LayerValues, PairMetrics, ProbeMetrics

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.corpus import ParallelCorpus
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)

RETRIEVAL_METHODS = RETRIEVAL_RULES
PRESET_NAMES = ("default", "xtreme-tatoeba", "mteb")
POOLINGS = ("mean", "mean_all", "cls")
ALIGN_METHODS = ("argmax", "itermax", "match", "softmax")


def _opt(default: Any = None, help: str = "", choices: tuple[str, ...] | None = None, **kw: Any) -> Any:
    meta = {"help": help, **({"choices": choices} if choices else {})}
    if callable(default):
        return field(default_factory=default, metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class ProbeConfig:
    """What to probe and how: each setting declared once, with its choices and help (the CLI builds its
    flags from these fields, see :func:`xalign.cli.common.add_config_args`). ``to_dict()`` is saved
    with every result."""

    model: str = _opt("default", "'default' (bundled multilingual-e5-small), a local HF directory or a hub id")
    pairs: list[str] = _opt(lambda: ["en-sw"], "language pairs such as en-sw; sw/swh/swa/swh_Latn are the same")
    data: str | None = _opt(None, "'demo', 'flores:DIR', 'ntrex:DIR' or a two-column TSV file")
    src_file: str | None = _opt(None, "source side: a text file with one sentence per line")
    tgt_file: str | None = _opt(None, "target side, line-aligned with --src-file")
    split: str | None = _opt(None, "split of a FLORES-style folder (train, dev, test; default: all)")
    limit: int | None = _opt(None, "use only the first N sentence pairs")
    strict: bool = _opt(False, "fail on empty lines instead of dropping them pairwise")
    layers: str | list[int] = _opt("all", "'all' or comma-separated hidden_states indices (each once)")
    preset: str = _opt("default", "published protocol to follow (recorded in the output)", PRESET_NAMES)
    pooling: str | None = _opt(None, "sentence pooling (default: the preset's)", POOLINGS)
    prefix: str | None = _opt(None, "text prepended to every sentence (off by default)")
    methods: list[str] | None = _opt(None, "retrieval rules (default: the preset's)")
    bli: bool = _opt(True, "bilingual lexicon induction when a dictionary for the pair is known")
    dictionary: str | None = _opt(None, "bilingual dictionary for BLI (default: the bundled one for the pair)")
    gold: str | None = _opt(None, "gold word alignments (Pharaoh or JSONL); scores word alignment for one pair")
    gold_pair: str | None = _opt(None, "the pair the gold belongs to (default: the only pair)")
    gold_bitext: str | None = _opt(None, "'src ||| tgt' file the gold refers to")
    gold_src_file: str | None = _opt(None, "source sentences the gold refers to")
    gold_tgt_file: str | None = _opt(None, "target sentences the gold refers to")
    gold_one_indexed: bool = _opt(False, "gold links count words from 1")
    align_method: str = _opt("itermax", "word-alignment method", ALIGN_METHODS)
    n_boot: int = _opt(1000, "bootstrap resamples for P@1/AER CIs and paired tests (0 = none)")
    n_boot_cka: int = _opt(200, "bootstrap resamples for CKA CIs and paired tests (0 = none)")
    seed: int = _opt(0, "seed of every resampling")
    batch_size: int = _opt(32, "sentences per forward pass (results agree across batch sizes to ~1e-6)")
    device: str | None = _opt(None, "cuda, cpu or mps (default: CUDA when available); used by model and metrics")
    dtype: str | None = _opt(None, "weights dtype: float32 (default), bf16, fp16, auto")
    revision: str | None = _opt(None, "hub revision (branch, tag or commit)")
    trust_remote_code: bool = _opt(False, "allow model code from the hub (off by default)")
    allow_pickle: bool = _opt(False, "also load pickle weights (pytorch_model.bin); default: safetensors only")
    report: bool = _opt(True, "write report.html")

    def __post_init__(self) -> None:
        from xalign.metrics.retrieval import PRESETS

        if self.preset not in PRESETS:
            raise ConfigError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if isinstance(self.pairs, str):
            self.pairs = [self.pairs]
        if not self.pairs and self.src_file is None:
            raise ConfigError("pairs must name at least one language pair such as 'en-sw'")
        if self.methods is None:
            preset = PRESETS[self.preset]
            self.methods = list(RETRIEVAL_METHODS) if self.preset == "default" else list(preset.methods)
        unknown = [m for m in self.methods if m not in RETRIEVAL_METHODS]
        if unknown:
            raise ConfigError(f"unknown retrieval method(s) {unknown}; expected some of {list(RETRIEVAL_METHODS)}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {list(POOLINGS)}, got {self.pooling!r}")
        if self.align_method not in ALIGN_METHODS:
            raise ConfigError(f"align_method must be one of {', '.join(ALIGN_METHODS)}, got {self.align_method!r}")
        for name in ("n_boot", "n_boot_cka"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0 (0 = no bootstrap), got {value!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if (self.src_file is None) != (self.tgt_file is None):
            raise ConfigError("src_file and tgt_file go together; got only one of them")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1, got {self.limit}")
        parse_layers(self.layers)

    @property
    def resolved_pooling(self) -> str:
        from xalign.metrics.retrieval import PRESETS

        return self.pooling or PRESETS[self.preset].pooling

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "resolved_pooling": self.resolved_pooling}


@dataclass
class PairResult:
    """A pair's typed metrics plus what the run directory and compare need: vectors, texts, the
    per-query correctness of every P@1 (``correct[key][layer position]``) and report details."""

    metrics: PairMetrics
    details: dict[str, Any]
    src_vectors: np.ndarray = field(repr=False)
    tgt_vectors: np.ndarray = field(repr=False)
    src_texts: list[str] = field(repr=False, default_factory=list)
    tgt_texts: list[str] = field(repr=False, default_factory=list)
    correct: dict[str, list[np.ndarray]] = field(repr=False, default_factory=dict)

    pair = property(lambda self: self.metrics.pair)
    src_lang = property(lambda self: self.metrics.src_lang)
    tgt_lang = property(lambda self: self.metrics.tgt_lang)
    n = property(lambda self: self.metrics.n)
    layers = property(lambda self: self.metrics.layers)
    best = property(lambda self: self.metrics.best)


@dataclass
class ProbeResult:
    manifest: dict[str, Any]
    pairs: dict[str, PairResult]
    language_cka: dict[str, Any] | None = None

    @property
    def typed(self) -> ProbeMetrics:
        return ProbeMetrics(manifest=self.manifest, pairs={k: v.metrics for k, v in self.pairs.items()})

    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` document."""
        return probe_to_json(self.typed)

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pairs": {k: v.details for k, v in self.pairs.items()}}
        if self.language_cka is not None:
            out["language_cka"] = self.language_cka
        return out


def load_corpora(config: ProbeConfig) -> list["ParallelCorpus"]:
    """The corpora of ``config`` (see :func:`xalign.data.parallel.load_corpora`)."""
    return load_probe_inputs(config).corpora


def probe_pair(encoder: "Encoder", inputs: PairInputs, config: ProbeConfig, *, device: Any = None) -> PairResult:
    """All metrics on all selected layers for one pair's inputs."""
    from xalign.embed.extract import resolve_layers
    from xalign.embed.vocab import embed_with_vocabulary, static_word_vectors
    from xalign.metrics.cka import cka_grid

    corpus, dictionary = inputs.corpus, inputs.dictionary
    layers = resolve_layers(config.layers, encoder.num_layers)
    t0 = time.perf_counter()
    embed_kw = dict(layers=layers, pooling=config.resolved_pooling, prefix=config.prefix, batch_size=config.batch_size)
    src_vecs, src_words = embed_with_vocabulary(encoder, corpus.src, vocabulary={s for s, _ in dictionary}, **embed_kw)
    tgt_vecs, tgt_words = embed_with_vocabulary(encoder, corpus.tgt, vocabulary={t for _, t in dictionary}, **embed_kw)
    logger.info("%s: embedded %d pairs x %d layers in %.1fs", corpus.pair, len(corpus), len(layers),
                time.perf_counter() - t0)
    src, tgt = corpus.src_lang, corpus.tgt_lang
    notes = [note] if (note := usable_ks(len(corpus))[1]) else []
    entries = [LayerValues(layer=layer) for layer in layers]
    correct: dict[str, list[np.ndarray]] = {}
    for li, entry in enumerate(entries):
        values, hits = retrieval_for_layer(src_vecs[li], tgt_vecs[li], src, tgt, methods=list(config.methods or []),
                                           preset=config.preset, n_boot=config.n_boot, seed=config.seed,
                                           device=device)
        entry.values.update(values)
        entry.values.update(cka_for_layer(src_vecs[li], tgt_vecs[li], n_boot=config.n_boot_cka, seed=config.seed,
                                          device=device))
        for key, h in hits.items():
            correct.setdefault(key, []).append(h)
    details: dict[str, Any] = {"similarity": similarity_details(src_vecs, tgt_vecs, layers, config.seed),
                               "cka_layers": {src: cka_grid(src_vecs, device=device).round(5).tolist(),
                                              tgt: cka_grid(tgt_vecs, device=device).round(5).tolist()}}
    if dictionary:
        static = (static_word_vectors(encoder, src_words.words), static_word_vectors(encoder, tgt_words.words))
        bli, bli_static, note = bli_for_layers(src_words, tgt_words, static, dictionary, device=device)
        for entry, values in zip(entries, bli):
            entry.values.update(values)
        notes += [note] if note else []
        details["bli"] = {"dictionary": inputs.dictionary_source, "static_input_embeddings": bli_static,
                          "src_vocabulary": len(src_words.words), "tgt_vocabulary": len(tgt_words.words)}
    if inputs.gold is not None:
        wa, info, examples = word_alignment_for_layers(encoder, layers, inputs.gold, method=config.align_method,
                                                       n_boot=config.n_boot, seed=config.seed,
                                                       batch_size=config.batch_size)
        for entry, values, facts in zip(entries, wa, info):
            entry.values.update(values)
            entry.info.update(facts)
        details["word_alignment_examples"] = examples
    metrics = PairMetrics(pair=corpus.pair, src_lang=src, tgt_lang=tgt, n=len(corpus), layers=entries, notes=notes)
    return PairResult(metrics=metrics, details=details, src_vectors=src_vecs, tgt_vectors=tgt_vecs,
                      src_texts=list(corpus.src), tgt_texts=list(corpus.tgt), correct=correct)


def _language_cka(results: dict[str, PairResult], layer_pos: int, device: Any) -> dict[str, Any] | None:
    """Language × language linear CKA when all pairs share the same source sentences (e.g. FLORES)."""
    from xalign.metrics.cka import linear_cka

    items = list(results.values())
    if len(items) < 2 or any(r.src_texts != items[0].src_texts or r.src_lang != items[0].src_lang for r in items):
        return None
    spaces = {items[0].src_lang: items[0].src_vectors[layer_pos]}
    for r in items:
        spaces[r.tgt_lang] = r.tgt_vectors[layer_pos]
    langs = list(spaces)
    matrix = [[linear_cka(spaces[a], spaces[b], device=device) for b in langs] for a in langs]
    return {"layer": items[0].layers[layer_pos].layer, "languages": langs, "matrix": np.round(matrix, 5).tolist()}


def probe(config: ProbeConfig, *, encoder: "Encoder | None" = None, out_dir: str | Path | None = None,
          corpora: list["ParallelCorpus"] | None = None, inputs: ProbeInputs | None = None) -> ProbeResult:
    """Run the probe; with ``out_dir`` also write metrics, details, embeddings and the report.

    Inputs and the output location are checked before the encoder loads. ``inputs`` (or ``corpora``,
    wrapped without dictionaries or gold unless ``config`` names them) skip loading from ``config``.
    """
    from xalign.io import base_manifest
    from xalign.metrics.retrieval import PRESETS
    from xalign.pipelines.extract import corpus_manifest
    from xalign.pipelines.probe_io import check_output, write_probe_run

    if out_dir is not None:
        check_output(out_dir)
    if inputs is None:
        inputs = load_probe_inputs(config) if corpora is None else inputs_for(corpora, config)
    if encoder is None:
        from xalign.encoders import load_encoder

        encoder = load_encoder(config.model, device=config.device, dtype=config.dtype, revision=config.revision,
                               trust_remote_code=config.trust_remote_code, allow_pickle_weights=config.allow_pickle)
    device = str(encoder.device)  # decided once: metrics run where the encoder runs
    t0 = time.perf_counter()
    results = {p.pair: probe_pair(encoder, p, config, device=device) for p in inputs.pairs}
    first = next(iter(results.values()))
    layer_numbers = [e.layer for e in first.layers]
    pos = layer_numbers.index(8) if 8 in layer_numbers else len(layer_numbers) // 2
    manifest = base_manifest(command="probe", model=encoder.describe(), preset=config.preset,
                             preset_details=PRESETS[config.preset].to_dict(),
                             pooling=config.resolved_pooling, prefix=config.prefix, seed=config.seed,
                             data=[corpus_manifest(p.corpus) for p in inputs.pairs], config=config.to_dict(),
                             seconds=round(time.perf_counter() - t0, 2))
    result = ProbeResult(manifest=manifest, pairs=results, language_cka=_language_cka(results, pos, device))
    if out_dir is not None:
        write_probe_run(result, out_dir, report=config.report)
    return result
