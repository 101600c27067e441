"""``probe``: every alignment metric on every layer of one encoder, for one or more language pairs.

Walk-through: :func:`~xalign.pipelines.probe.inputs.load_probe_inputs` (corpora, dictionaries, gold —
validated, and the output folder locked, before any model loads) → encoder → one forward pass per side
(sentence vectors of all layers, plus dictionary-word vectors when a registered metric needs them) → a
:class:`~xalign.pipelines.probe.steps.PairContext` → every registered metric that applies
(:mod:`~xalign.pipelines.probe.steps`; built-ins: retrieval from one shared top-k computation per layer,
CKA, BLI, word alignment) → typed :class:`~xalign.results.PairMetrics` → run directory (``run_dir``) →
report. ``--pair xx-all`` goes to :mod:`~xalign.pipelines.probe.many` instead (one language at a time).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.errors import ConfigError
from xalign.pipelines.probe.builtin import similarity_details
from xalign.pipelines.probe.config import ProbeConfig
from xalign.pipelines.probe.inputs import PairInputs, ProbeInputs, inputs_for, load_probe_inputs
from xalign.pipelines.probe.measure import chosen_layers, load_probe_encoder, measure_pair, word_level_note
from xalign.pipelines.probe.result import PairResult, ProbeResult
from xalign.pipelines.probe.steps import PairContext

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.corpus import ParallelCorpus
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)

__all__ = ["load_corpora", "probe", "probe_pair"]


def load_corpora(config: ProbeConfig) -> list["ParallelCorpus"]:
    """The corpora of ``config`` (see :func:`xalign.data.parallel.load_corpora`)."""
    return load_probe_inputs(config).corpora


def _wants_words(inputs: PairInputs, encoder: "Encoder") -> bool:
    from xalign.pipelines.probe.steps import registered_metrics

    return bool(inputs.dictionary) and word_level_note(encoder) is None and any(
        "words" in m.needs for m in registered_metrics())


def probe_pair(encoder: "Encoder", inputs: PairInputs, config: ProbeConfig, *, device: Any = None,
               clock: dict[str, float] | None = None) -> PairResult:
    """All registered metrics on all selected layers for one pair's inputs (``clock`` adds the seconds spent
    in ``extraction`` and ``metrics``)."""
    from xalign.embed.extract import embed
    from xalign.embed.vocab import embed_with_vocabulary, static_word_vectors
    from xalign.metrics.cka import cka_grid

    corpus = inputs.corpus
    layers = chosen_layers(encoder, config)
    t0 = time.perf_counter()
    # a bar per side on a terminal (issue 23: a default probe embedded for minutes in silence)
    bar = config.progress and sys.stderr.isatty()
    kw = dict(layers=layers, pooling=config.resolved_pooling, prefix=config.prefix, batch_size=config.batch_size,
              progress=bar)
    words = static = None
    if _wants_words(inputs, encoder):
        src_vecs, src_words = embed_with_vocabulary(encoder, corpus.src, vocabulary={s for s, _ in inputs.dictionary},
                                                    **kw)
        tgt_vecs, tgt_words = embed_with_vocabulary(encoder, corpus.tgt, vocabulary={t for _, t in inputs.dictionary},
                                                    **kw)
        words = (src_words, tgt_words)
        static = (static_word_vectors(encoder, src_words.words), static_word_vectors(encoder, tgt_words.words))
    else:
        src_vecs, tgt_vecs = embed(encoder, corpus.src, **kw), embed(encoder, corpus.tgt, **kw)
    t1 = time.perf_counter()
    logger.info("%s: embedded %d pairs x %d layers in %.1fs", corpus.pair, len(corpus), len(layers), t1 - t0)
    src, tgt = corpus.src_lang, corpus.tgt_lang
    ctx = PairContext(src_lang=src, tgt_lang=tgt, layers=layers, src=src_vecs, tgt=tgt_vecs, config=config,
                      device=device, words=words, static_words=static, dictionary=inputs.dictionary,
                      dictionary_source=inputs.dictionary_source, gold=inputs.gold,
                      encoder=encoder if word_level_note(encoder) is None else None)
    metrics, out = measure_pair(ctx)
    skipped = word_level_note(encoder)
    if skipped and (inputs.dictionary or inputs.gold is not None):
        metrics.notes.append(skipped)
    details: dict[str, Any] = {"similarity": similarity_details(src_vecs, tgt_vecs, layers, config.seed),
                               "cka_layers": {src: cka_grid(src_vecs, device=device).round(5).tolist(),
                                              tgt: cka_grid(tgt_vecs, device=device).round(5).tolist()},
                               **out.details}
    if clock is not None:
        clock["extraction"] = clock.get("extraction", 0.0) + t1 - t0
        clock["metrics"] = clock.get("metrics", 0.0) + time.perf_counter() - t1
    return PairResult(metrics=metrics, details=details, src_vectors=src_vecs, tgt_vectors=tgt_vecs,
                      src_texts=list(corpus.src), tgt_texts=list(corpus.tgt), correct=out.correct)


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

    The output folder is checked and locked, and the inputs read and checked, before the encoder loads:
    a second run into the same folder, or bad data, fails at once. ``inputs`` (or ``corpora``, wrapped
    without dictionaries or gold unless ``config`` names them) skip loading from ``config``. A pair
    ``xx-all`` runs the many-language probe (:func:`xalign.pipelines.probe.many.probe_many`).
    """
    from xalign.io import claim_output_dir

    if config.many:
        from xalign.pipelines.probe.many import probe_many

        if corpora is not None or inputs is not None:
            raise ConfigError("--pair xx-all reads its languages from --data; corpora=/inputs= do not apply")
        return probe_many(config, encoder=encoder, out_dir=out_dir)
    if out_dir is None:
        return _probe_run(config, encoder, corpora, inputs, None)
    with claim_output_dir(out_dir, "probe", overwrite=True) as stage:
        return _probe_run(config, encoder, corpora, inputs, stage)


def _probe_run(config: ProbeConfig, encoder: "Encoder | None", corpora: list["ParallelCorpus"] | None,
               inputs: ProbeInputs | None, stage: Path | None) -> ProbeResult:
    from xalign.io import base_manifest
    from xalign.metrics.retrieval import PRESETS
    from xalign.pipelines.embed_run import corpus_manifest
    from xalign.pipelines.probe.run_dir import write_probe_files

    t_start = time.perf_counter()
    if inputs is None:
        inputs = load_probe_inputs(config) if corpora is None else inputs_for(corpora, config)
    encoder = encoder if encoder is not None else load_probe_encoder(config)
    device = str(encoder.device)  # decided once: metrics run where the encoder runs
    t0 = time.perf_counter()
    clock = {"load": t0 - t_start}
    results = {p.pair: probe_pair(encoder, p, config, device=device, clock=clock) for p in inputs.pairs}
    first = next(iter(results.values()))
    layer_numbers = [e.layer for e in first.layers]
    pos = layer_numbers.index(8) if 8 in layer_numbers else len(layer_numbers) // 2
    language_cka = _language_cka(results, pos, device)
    stages = {k: round(v, 2) for k, v in clock.items()}
    manifest = base_manifest(command="probe", model=encoder.describe(), preset=config.preset,
                             preset_details=PRESETS[config.preset].to_dict(),
                             pooling=config.resolved_pooling, prefix=config.prefix, seed=config.seed,
                             data=[corpus_manifest(p.corpus) for p in inputs.pairs], config=config.to_dict(),
                             seconds=round(time.perf_counter() - t0, 2), stage_seconds=stages)
    result = ProbeResult(manifest=manifest, pairs=results, language_cka=language_cka)
    if stage is not None:
        write_probe_files(result, stage, report=config.report)
    return result
