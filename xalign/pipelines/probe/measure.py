"""The probe's shared steps: the layers chosen, the encoder loaded for probing, and :func:`measure_pair` (every
registered metric that applies to one pair, merged into its typed metrics). The single-pair probe
(:mod:`.core`) and the many-language probe (:mod:`.many`) both use them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import xalign.pipelines.probe.builtin  # noqa: F401  (registers the built-in metrics)
from xalign.pipelines.probe.config import ProbeConfig
from xalign.pipelines.probe.steps import PairContext, StepOutput, metrics_for
from xalign.results.types import LayerValues, PairMetrics

if TYPE_CHECKING:  # pragma: no cover
    from xalign.encoders import Encoder

__all__ = ["chosen_layers", "load_probe_encoder", "measure_pair", "word_level_note"]


def chosen_layers(encoder: "Encoder", config: ProbeConfig) -> list[int]:
    """The hidden-state indices ``config.layers`` selects on ``encoder`` (:func:`xalign.embed.layers.resolve_layers`)."""
    from xalign.embed.layers import resolve_layers

    return resolve_layers(config.layers, encoder.num_layers)


def word_level_note(encoder: "Encoder") -> str | None:
    """Why word-level metrics are left out for ``encoder`` (a slow tokenizer has no ``word_ids()``), or None."""
    if getattr(encoder.tokenizer, "is_fast", False):
        return None
    return (f"word-level metrics (BLI, word alignment) left out: {type(encoder.tokenizer).__name__} is a slow "
            "tokenizer without word_ids(); sentence-level metrics (retrieval, CKA) are complete")


def measure_pair(ctx: PairContext, *, sentence_level: bool = False) -> tuple[PairMetrics, StepOutput]:
    """Every registered metric that applies to ``ctx``, merged into one pair's typed metrics; the merged
    :class:`StepOutput` carries the correctness, details and notes."""
    entries = [LayerValues(layer=layer) for layer in ctx.layers]
    merged = StepOutput(layers=[])
    for metric in metrics_for(ctx, sentence_level=sentence_level):
        out = metric.compute(ctx)
        if len(out.layers) != len(entries):
            raise RuntimeError(f"metric {metric.name!r} returned {len(out.layers)} layers for {len(entries)}")
        for entry, values, info in zip(entries, out.layers, out.info or [{}] * len(entries)):
            entry.values.update(values)
            entry.info.update(info)
        merged.correct.update(out.correct)
        merged.details.update(out.details)
        merged.notes += [n for n in out.notes if n not in merged.notes]
    metrics = PairMetrics(pair=f"{ctx.src_lang}-{ctx.tgt_lang}", src_lang=ctx.src_lang, tgt_lang=ctx.tgt_lang,
                          n=ctx.n, layers=entries, notes=merged.notes)
    return metrics, merged


def load_probe_encoder(config: ProbeConfig) -> "Encoder":
    from xalign.encoders import load_encoder

    return load_encoder(config.model, device=config.device, dtype=config.dtype, revision=config.revision,
                        trust_remote_code=config.trust_remote_code, allow_pickle_weights=config.allow_pickle,
                        require_fast_tokenizer=False)
