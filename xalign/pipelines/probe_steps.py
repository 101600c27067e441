"""The per-metric steps of the probe: each turns layer arrays into plain result dicts.

They only compose :mod:`xalign.metrics`; no numeric kernel lives here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from xalign.embed.vocab import VocabularyVectors
    from xalign.encoders import Encoder
    from xalign.pipelines.probe import ProbeConfig

logger = logging.getLogger(__name__)


def _r(x: float) -> float:
    return float(round(float(x), 6))


def _direction(queries: np.ndarray, keys: np.ndarray, method: str, config: "ProbeConfig") -> dict[str, Any]:
    from xalign.metrics.retrieval import hubness, retrieval_scores, topk_search
    from xalign.metrics.stats import bootstrap_ci

    centered = method.endswith("_centered")
    base = method.removesuffix("_centered")
    res = retrieval_scores(queries, keys, method=base, center=centered)
    correct = (np.asarray(res.ranks) == 0).astype(np.float64)
    out = {"p@1": _r(res.p_at[1]), "p@5": _r(res.p_at[5]), "p@10": _r(res.p_at[10]), "mrr": _r(res.mrr)}
    if config.n_boot:
        lo, hi = bootstrap_ci(correct, n_boot=config.n_boot, seed=config.seed)
        out["p@1_ci95"] = [_r(lo), _r(hi)]
    if base == "cosine" and not centered:
        k = min(10, len(keys))
        _, idx = topk_search(queries, keys, k, metric="cosine")
        out["hubness"] = _r(hubness(idx, len(keys), k=k))
    return out


def retrieval_for_layer(src: np.ndarray, tgt: np.ndarray, src_lang: str, tgt_lang: str,
                        config: "ProbeConfig") -> dict[str, Any]:
    """Every scoring rule, both directions, for one layer; plus the MTEB scores under that preset."""
    out: dict[str, Any] = {}
    for method in config.methods:
        out[method] = {f"{src_lang}->{tgt_lang}": _direction(src, tgt, method, config),
                       f"{tgt_lang}->{src_lang}": _direction(tgt, src, method, config)}
    if config.preset == "mteb":
        from xalign.metrics.retrieval import mteb_bitext_scores

        out["mteb"] = {f"{src_lang}->{tgt_lang}": {k: _r(v) for k, v in mteb_bitext_scores(src, tgt).items()},
                       f"{tgt_lang}->{src_lang}": {k: _r(v) for k, v in mteb_bitext_scores(tgt, src).items()}}
    return out


def cka_for_layers(src: np.ndarray, tgt: np.ndarray, config: "ProbeConfig") -> list[dict[str, Any]]:
    """Cross-lingual linear CKA (biased and debiased) per layer, with a bootstrap CI for the biased one."""
    from xalign.metrics.cka import linear_cka
    from xalign.metrics.cka_bootstrap import bootstrap_linear_cka

    out = []
    for li in range(src.shape[0]):
        entry = {"linear": _r(linear_cka(src[li], tgt[li]))}
        if src.shape[1] >= 4:
            entry["linear_debiased"] = _r(linear_cka(src[li], tgt[li], debiased=True))
        if config.n_boot_cka and src.shape[1] >= 4:
            lo, hi = bootstrap_linear_cka(src[li], tgt[li], n_boot=config.n_boot_cka, seed=config.seed)
            entry["linear_ci95"] = [_r(lo), _r(hi)]
        out.append(entry)
    return out


def similarity_details(src: np.ndarray, tgt: np.ndarray, layers: list[int], seed: int) -> list[dict[str, Any]]:
    """Cosine of true translation pairs vs random (derangement) pairs, per layer, for the report."""
    n = src.shape[1]
    rng = np.random.default_rng(seed)
    shift = rng.integers(1, n) if n > 1 else 0
    partner = (np.arange(n) + shift) % n  # a fixed random non-identity pairing
    out = []
    for li, layer in enumerate(layers):
        a = src[li] / np.maximum(np.linalg.norm(src[li], axis=1, keepdims=True), 1e-12)
        b = tgt[li] / np.maximum(np.linalg.norm(tgt[li], axis=1, keepdims=True), 1e-12)
        true = np.einsum("nd,nd->n", a, b)
        rand = np.einsum("nd,nd->n", a, b[partner])
        out.append({"layer": layer, "true": np.round(true, 4).tolist(), "random": np.round(rand, 4).tolist()})
    return out


def bli_for_layers(src_words: "VocabularyVectors", tgt_words: "VocabularyVectors",
                   static: tuple[np.ndarray, np.ndarray],
                   dictionary: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """BLI P@1/P@5 (cosine and CSLS) per layer from corpus-averaged contextual word vectors, and once
    from the static input-embedding matrix."""
    from xalign.metrics.bli import bli_scores

    def score(sv: np.ndarray, tv: np.ndarray) -> dict[str, Any]:
        out = {}
        for method in ("cosine", "csls"):
            res = bli_scores(sv, src_words.words, tv, tgt_words.words, dictionary, method=method, ks=(1, 5))
            out[method] = {"p@1": _r(res.p_at[1]), "p@5": _r(res.p_at[5]), "n": int(res.n_queries)}
        return out

    if not src_words.words or not tgt_words.words:
        logger.warning("BLI skipped: no dictionary word occurs in the corpus")
        return [{} for _ in src_words.layers], {}
    per_layer = [score(src_words.vectors[li], tgt_words.vectors[li]) for li in range(len(src_words.layers))]
    return per_layer, score(static[0], static[1])


def word_alignment_for_layers(encoder: "Encoder", layers: list[int],
                              config: "ProbeConfig") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Word alignment (subword level, SimAlign-style) against gold at each layer, with an AER CI."""
    from xalign.data.gold import load_gold
    from xalign.pipelines.align import align_corpus

    gold = load_gold(config.gold, bitext=config.gold_bitext, src_file=config.gold_src_file,
                     tgt_file=config.gold_tgt_file, one_indexed=config.gold_one_indexed)
    runs = align_corpus(encoder, gold, layers=layers, method=config.align_method, n_boot=config.n_boot,
                        seed=config.seed, n_examples=5)
    return [r.metrics for r in runs], runs[len(runs) // 2 if 8 not in layers else layers.index(8)].examples
