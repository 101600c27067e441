"""Alignment metrics: pure functions, arrays in, numbers/dataclasses out (no I/O, no printing).

Modules: ``search`` (the one top-k kernel, on faiss), ``retrieval`` (cosine/CSLS/margin
retrieval, hubness, presets), ``mining`` (BUCC/MTEB bitext mining), ``cka`` (linear/RBF,
debiased, minibatch, grids), ``wordalign`` (SimAlign/awesome-align extraction, AER),
``bli`` (word translation retrieval), ``stats`` (bootstrap CIs, paired tests).
Importing this package only imports numpy; torch, faiss and scipy load on first use.
"""

from xalign.metrics.bli import BLIResult, bli_scores, vocabulary_vectors
from xalign.metrics.cka import MinibatchCKA, cka_grid, cross_lingual_cka, linear_cka, rbf_cka
from xalign.metrics.mining import MiningResult, best_f1_threshold, bitext_mining, mteb_bitext_scores
from xalign.metrics.retrieval import (
    PRESETS,
    RetrievalPreset,
    RetrievalResult,
    bidirectional_retrieval,
    hubness,
    k_occurrence,
    retrieval_scores,
)
from xalign.metrics.search import csls_topk, topk_search
from xalign.metrics.stats import BootstrapResult, PairedResult, bootstrap_ci, paired_bootstrap, wilson_interval
from xalign.metrics.wordalign import (
    AlignmentScores,
    align,
    align_batch,
    alignment_scores,
    average_subwords,
    per_sentence_counts,
    scores_from_counts,
    similarity,
    subword_to_word,
)

__all__ = [
    "PRESETS",
    "AlignmentScores",
    "BLIResult",
    "BootstrapResult",
    "MinibatchCKA",
    "MiningResult",
    "PairedResult",
    "RetrievalPreset",
    "RetrievalResult",
    "align",
    "align_batch",
    "alignment_scores",
    "average_subwords",
    "best_f1_threshold",
    "bidirectional_retrieval",
    "bitext_mining",
    "bli_scores",
    "bootstrap_ci",
    "cka_grid",
    "cross_lingual_cka",
    "csls_topk",
    "hubness",
    "k_occurrence",
    "linear_cka",
    "mteb_bitext_scores",
    "paired_bootstrap",
    "per_sentence_counts",
    "rbf_cka",
    "retrieval_scores",
    "scores_from_counts",
    "similarity",
    "subword_to_word",
    "topk_search",
    "vocabulary_vectors",
    "wilson_interval",
]
