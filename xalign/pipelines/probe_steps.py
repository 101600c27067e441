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

from xalign.results.types import MetricValue

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.gold import GoldAlignment
    from xalign.embed.vocab import VocabularyVectors
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)

RETRIEVAL_KS = (1, 5, 10)
HUBNESS_K = 10


def usable_ks(n_keys: int, ks: tuple[int, ...] = RETRIEVAL_KS) -> tuple[tuple[int, ...], str | None]:
    """Cut-offs below the number of candidates, and a note naming those dropped (P@k is trivially 1
    when k ≥ n)."""
    keep = tuple(k for k in ks if k == 1 or k < n_keys)
    dropped = [k for k in ks if k not in keep]
    note = (f"P@{', P@'.join(map(str, dropped))} not reported: with n = {n_keys} candidates, k ≥ n makes them "
            "trivially 1.0") if dropped else None
    return keep, note


def retrieval_for_layer(src: np.ndarray, tgt: np.ndarray, src_lang: str, tgt_lang: str, *, methods: list[str],
                        preset: str, n_boot: int, seed: int, device: Any
                        ) -> tuple[dict[str, MetricValue], dict[str, np.ndarray]]:
    """Every scoring rule, both directions, for one layer; plus the MTEB scores under that preset.

    Returns the values and, per ``retrieval.<rule>.<dir>.p@1`` key, the per-query correctness (0/1).
    """
    from xalign.metrics.retrieval import hubness, layer_retrieval, mteb_bitext_scores
    from xalign.metrics.stats import bootstrap_ci

    ks, _ = usable_ks(src.shape[0])
    dirs = {"a->b": f"{src_lang}->{tgt_lang}", "b->a": f"{tgt_lang}->{src_lang}"}
    values: dict[str, MetricValue] = {}
    correct: dict[str, np.ndarray] = {}
    for centred in (False, True):
        wanted = [m for m in methods if m.endswith("_centered") == centred]
        if not wanted:
            continue
        base = [m.removesuffix("_centered") for m in wanted]
        layer = layer_retrieval(src, tgt, methods=base, center=centred, ks=ks, device=device,
                                neighbours_k=HUBNESS_K)
        for d, name in dirs.items():
            for m, b in zip(wanted, base):
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
        for (a, b), name in (((src, tgt), dirs["a->b"]), ((tgt, src), dirs["b->a"])):
            for k, v in mteb_bitext_scores(a, b, device=device).items():
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
        ci = tuple(m["aer_ci95"]) if "aer_ci95" in m else None
        values.append({"word_alignment.precision": MetricValue(m["precision"]),
                       "word_alignment.recall": MetricValue(m["recall"]), "word_alignment.f1": MetricValue(m["f1"]),
                       "word_alignment.aer": MetricValue(m["aer"], ci)})
        info.append({"word_alignment.method": str(m["method"]), "word_alignment.level": str(m["level"])})
    shown = layers.index(8) if 8 in layers else len(runs) // 2
    return values, info, runs[shown].examples
