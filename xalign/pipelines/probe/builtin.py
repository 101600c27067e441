"""The per-metric steps of the probe: each turns layer arrays into typed values keyed by metric key.

They only compose :mod:`xalign.metrics` (no numeric kernel lives here) and open no file. Retrieval
is computed once per layer and centring: one normalisation, one top-k search per direction (CSLS and
margin neighbourhoods, hubness) and one scan per direction for every rule (:func:`layer_retrieval`);
the per-query correctness is kept so compare tests differences without recomputing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.pipelines.probe.steps import (HUBNESS_K, Metric, PairContext, PairOutcome, StepOutput, register_metric,
                                          usable_ks)
from xalign.results.registry import REGISTRY
from xalign.results.types import MetricValue

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.gold import GoldAlignment
    from xalign.embed.vocab import VocabularyVectors
    from xalign.encoders import Encoder
    from xalign.pipelines.probe.config import ProbeConfig

logger = logging.getLogger(__name__)

def retrieval_for_layer(ctx: PairContext, li: int, *, methods: list[str], preset: str, n_boot: int, seed: int
                        ) -> tuple[dict[str, MetricValue], dict[str, np.ndarray]]:
    """Every scoring rule, both directions, for layer position ``li`` from the shared top-k computation
    (:meth:`PairContext.retrieval`); plus the MTEB scores under that preset.

    Returns the values and, per ``retrieval.<rule>.<dir>.p@1`` key, the per-query correctness (0/1).
    """
    from xalign.metrics.retrieval import hubness, mteb_bitext_scores
    from xalign.metrics.stats import bootstrap_ci

    src, tgt = ctx.src[li], ctx.tgt[li]
    ks, _ = usable_ks(src.shape[0])
    values: dict[str, MetricValue] = {}
    correct: dict[str, np.ndarray] = {}
    for centred in (False, True):
        wanted = [m for m in methods if m.endswith("_centered") == centred]
        if not wanted:
            continue
        layer = ctx.retrieval(li, centred=centred)
        for d, name in ctx.directions.items():
            for m in wanted:
                b = m.removesuffix("_centered")
                res = layer.results[d][b]
                key = f"retrieval.{m}.{name}"
                hits = (np.asarray(res.ranks) == 0).astype(np.float64)
                ci = None
                if n_boot:
                    boot = bootstrap_ci(hits, n_boot=n_boot, seed=seed)
                    ci = (boot.low, boot.high)
                values[f"{key}.p@1"] = MetricValue(res.p_at[1], ci)
                for k in ks[1:]:
                    values[f"{key}.p@{k}"] = MetricValue(res.p_at[k])
                values[f"{key}.mrr"] = MetricValue(res.mrr)
                correct[f"{key}.p@1"] = hits
                if b == "cosine" and not centred:
                    k = min(HUBNESS_K, layer.k)
                    values[f"{key}.hubness"] = MetricValue(hubness(layer.neighbours[d][1], tgt.shape[0], k=k))
    if preset == "mteb":
        names = ctx.directions
        for (a, b), name in (((src, tgt), names["a->b"]), ((tgt, src), names["b->a"])):
            for k, v in mteb_bitext_scores(a, b, device=ctx.device).items():
                values[f"mteb.{name}.{k}"] = MetricValue(float(v))
    return values, correct


def cka_for_layer(src: np.ndarray, tgt: np.ndarray, *, n_boot: int, seed: int, device: Any) -> dict[str, MetricValue]:
    """Cross-lingual linear CKA (biased and debiased), with a bootstrap CI for the biased one."""
    from xalign.metrics.cka import linear_cka
    from xalign.metrics.cka_bootstrap import bootstrap_linear_cka

    ci = bootstrap_linear_cka(src, tgt, n_boot=n_boot, seed=seed) if n_boot and src.shape[0] >= 4 else None
    out = {"cka.linear": MetricValue(linear_cka(src, tgt, device=device), ci)}
    if src.shape[0] >= 4:
        out["cka.linear_debiased"] = MetricValue(linear_cka(src, tgt, debiased=True, device=device))
    return out


def similarity_details(src: np.ndarray, tgt: np.ndarray, layers: list[int], seed: int) -> list[dict[str, Any]]:
    """Cosine of true translation pairs vs random (derangement) pairs, per layer, for the report."""
    from xalign.metrics.search import prepare

    n = src.shape[1]
    rng = np.random.default_rng(seed)
    shift = rng.integers(1, n) if n > 1 else 0
    partner = (np.arange(n) + shift) % n  # a fixed random non-identity pairing
    out = []
    for li, layer in enumerate(layers):
        a, b = prepare(src[li], "src"), prepare(tgt[li], "tgt")
        true = np.einsum("nd,nd->n", a, b)
        rand = np.einsum("nd,nd->n", a, b[partner])
        out.append({"layer": layer, "true": np.round(true, 4).tolist(), "random": np.round(rand, 4).tolist()})
    return out


def bli_for_layers(src_words: "VocabularyVectors", tgt_words: "VocabularyVectors",
                   static: tuple[np.ndarray, np.ndarray], dictionary: list[tuple[str, str]], *, device: Any
                   ) -> tuple[list[dict[str, MetricValue]], dict[str, Any], str | None]:
    """BLI P@1/P@5 (cosine and CSLS) per layer from corpus-averaged contextual word vectors, and once
    from the static input-embedding matrix; P@5 is left out (with a note) when the target vocabulary
    has at most 5 words."""
    from xalign.metrics.bli import bli_scores

    if not src_words.words or not tgt_words.words:
        logger.warning("BLI skipped: no dictionary word occurs in the corpus")
        return [{} for _ in src_words.layers], {}, "BLI skipped: no dictionary word occurs in the corpus"
    n_tgt = len(tgt_words.words)
    ks = (1, 5) if n_tgt > 5 else (1,)
    note = None if n_tgt > 5 else f"BLI P@5 not reported: only {n_tgt} target words of the dictionary occur"

    def score(sv: np.ndarray, tv: np.ndarray) -> dict[str, MetricValue]:
        out: dict[str, MetricValue] = {}
        for method in ("cosine", "csls"):
            res = bli_scores(sv, src_words.words, tv, tgt_words.words, dictionary, method=method, ks=ks,
                             device=device)
            for k in ks:
                out[f"bli.{method}.p@{k}"] = MetricValue(float(res.p_at[k]))
            out[f"bli.{method}.n"] = MetricValue(float(res.n_queries))
        return out

    per_layer = [score(src_words.vectors[li], tgt_words.vectors[li]) for li in range(len(src_words.layers))]
    static_scores = {k.removeprefix("bli."): round(v.value, 6) for k, v in score(static[0], static[1]).items()}
    return per_layer, static_scores, note


def word_alignment_for_layers(encoder: "Encoder", layers: list[int], gold: "GoldAlignment", *, method: str,
                              n_boot: int, seed: int, batch_size: int
                              ) -> tuple[list[dict[str, MetricValue]], list[dict[str, str]], list[dict[str, Any]]]:
    """Word alignment (subword level, SimAlign-style) against this pair's gold at each layer, with an AER CI."""
    from xalign.pipelines.align import align_corpus

    runs = align_corpus(encoder, gold, layers=layers, method=method, n_boot=n_boot, seed=seed, n_examples=5,
                        batch_size=batch_size)
    values, info = [], []
    for r in runs:
        m = r.metrics
        values.append({"word_alignment.precision": MetricValue(m.precision),
                       "word_alignment.recall": MetricValue(m.recall), "word_alignment.f1": MetricValue(m.f1),
                       "word_alignment.aer": MetricValue(m.aer, m.aer_ci95)})
        info.append({"word_alignment.method": m.method, "word_alignment.level": m.level})
    shown = layers.index(8) if 8 in layers else len(runs) // 2
    return values, info, runs[shown].examples


def _specs(section: str) -> tuple:
    return tuple(s for s in REGISTRY if s.section == section)


class RetrievalMetric(Metric):
    """Sentence retrieval P@1/5/10, MRR and hubness for every rule and direction (and MTEB bitext-mining
    scores under the ``mteb`` preset), with the per-query P@1 correctness."""

    name = "retrieval"
    needs = frozenset({"sentences", "topk"})
    specs = _specs("retrieval")

    def compute(self, ctx: PairContext) -> StepOutput:
        out = StepOutput(layers=[])
        for li in range(len(ctx.layers)):
            values, hits = retrieval_for_layer(ctx, li, methods=list(ctx.config.methods or []),
                                               preset=ctx.config.preset, n_boot=ctx.config.n_boot,
                                               seed=ctx.config.seed)
            out.layers.append(values)
            for key, h in hits.items():
                out.correct.setdefault(key, []).append(h)
        note = usable_ks(ctx.n)[1]
        out.notes += [note] if note else []
        return out


class CkaMetric(Metric):
    """Cross-lingual linear CKA (biased with a bootstrap CI, and debiased); compare tests its difference
    with a paired bootstrap over sentences."""

    name = "cka"
    needs = frozenset({"sentences"})
    specs = _specs("cka")

    def compute(self, ctx: PairContext) -> StepOutput:
        cfg = ctx.config
        return StepOutput(layers=[cka_for_layer(ctx.src[li], ctx.tgt[li], n_boot=cfg.n_boot_cka, seed=cfg.seed,
                                                device=ctx.device) for li in range(len(ctx.layers))])

    def paired_delta(self, key: str, li: int, before: PairOutcome, after: PairOutcome,
                     config: "ProbeConfig", values: tuple[float, float]) -> MetricValue:
        from xalign.metrics.cka_bootstrap import paired_cka_difference

        if key != "cka.linear" or not config.n_boot_cka:
            return MetricValue(values[1] - values[0])
        delta, ci, p = paired_cka_difference(after.src[li], after.tgt[li], before.src[li], before.tgt[li],
                                             n_boot=config.n_boot_cka, seed=config.seed)
        return MetricValue(delta, (ci[0], ci[1]), p)


class BliMetric(Metric):
    """Bilingual lexicon induction from corpus-averaged contextual word vectors (per layer) and from the
    static input embeddings (in the details), when a dictionary for the pair is known."""

    name = "bli"
    needs = frozenset({"words"})
    specs = _specs("bli")

    def applies(self, ctx: PairContext) -> bool:
        return super().applies(ctx) and bool(ctx.dictionary)

    def compute(self, ctx: PairContext) -> StepOutput:
        assert ctx.words is not None and ctx.static_words is not None  # applies() checked it
        src_words, tgt_words = ctx.words
        per_layer, static, note = bli_for_layers(src_words, tgt_words, ctx.static_words, ctx.dictionary,
                                                 device=ctx.device)
        details = {"bli": {"dictionary": ctx.dictionary_source, "static_input_embeddings": static,
                           "src_vocabulary": len(src_words.words), "tgt_vocabulary": len(tgt_words.words)}}
        return StepOutput(layers=per_layer, details=details, notes=[note] if note else [])


class WordAlignmentMetric(Metric):
    """Word alignment against the pair's gold at each layer (precision, recall, F1, AER with a CI)."""

    name = "word_alignment"
    needs = frozenset({"gold", "encoder"})
    specs = _specs("word_alignment")

    def compute(self, ctx: PairContext) -> StepOutput:
        assert ctx.gold is not None and ctx.encoder is not None  # applies() checked it
        cfg = ctx.config
        values, info, examples = word_alignment_for_layers(ctx.encoder, ctx.layers, ctx.gold,
                                                           method=cfg.align_method, n_boot=cfg.n_boot,
                                                           seed=cfg.seed, batch_size=cfg.batch_size)
        return StepOutput(layers=values, info=info, details={"word_alignment_examples": examples})


for _metric in (RetrievalMetric(), CkaMetric(), BliMetric(), WordAlignmentMetric()):
    register_metric(_metric)
