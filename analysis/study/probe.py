"""Alignment of one encoder on the study's parallel corpora, per layer, with CIs.

Per corpus, layer and English–xx pair: CSLS P@1 in both directions (``retrieval_scores``; per-query
correctness kept as a "01…" string so the aggregation can run paired tests over sentences × seeds; Wilson
95% interval), cross-lingual linear CKA (bias-shifted bootstrap interval), and per language the
model × model linear CKA of this encoder with the pre-trained one (how far the layer moved).
Uses only the public kernels; nothing here touches the file system except :func:`embed_corpora`'s encoder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xalign.metrics.cka import linear_cka
from xalign.metrics.cka_bootstrap import bootstrap_linear_cka
from xalign.metrics.retrieval import retrieval_scores
from xalign.metrics.stats import wilson_interval

Embeddings = dict[str, dict[str, np.ndarray]]  # corpus -> lang -> [n_layers, n, dim]


def embed_corpora(encoder: Any, corpora: dict[str, dict[str, list[str]]], *, batch_size: int = 64) -> Embeddings:
    """Every layer's mean-pooled sentence vectors (``xalign.embed``) of every corpus and language."""
    from xalign import embed

    return {name: {lang: embed(encoder, texts, layers="all", pooling="mean", batch_size=batch_size)
                   for lang, texts in by_lang.items()} for name, by_lang in corpora.items()}


def _bits(mask: np.ndarray) -> str:
    return "".join("1" if m else "0" for m in mask)


def _p1(src: np.ndarray, tgt: np.ndarray, device: Any) -> dict[str, Any]:
    res = retrieval_scores(src, tgt, method="csls", device=device)
    correct = np.asarray(res.ranks) == 0
    lo, hi = wilson_interval(int(correct.sum()), int(correct.size))
    return {"value": float(correct.mean()), "ci95": [lo, hi], "correct": _bits(correct)}


def _cka(x: np.ndarray, y: np.ndarray, n_boot: int, seed: int, device: Any) -> dict[str, Any]:
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    lo, hi = bootstrap_linear_cka(x64, y64, n_boot=n_boot, seed=seed)
    return {"value": float(linear_cka(x64, y64, device=device)), "ci95": [lo, hi]}


def _stack(entries: list[dict[str, Any]]) -> dict[str, list]:
    """Per-layer entries -> one dict of per-layer lists."""
    return {key: [e[key] for e in entries] for key in entries[0]}


def alignment(emb: Embeddings, *, reference: Embeddings | None = None, pivot: str = "en", n_boot: int = 100,
              seed: int = 0, device: Any = "cpu") -> dict[str, Any]:
    """``{corpus: {"n", "layers", "pairs": {"en-xx": {"p1_fwd", "p1_bwd", "cka"}}, "model_cka": {lang: ...}}}``
    with per-layer lists (``value``, ``ci95``, and ``correct`` for P@1). ``fwd`` is en→xx (English queries).
    ``reference`` (the pre-trained encoder's embeddings of the same sentences) adds ``model_cka``."""
    out: dict[str, Any] = {}
    for name, by_lang in emb.items():
        if pivot not in by_lang:
            raise ValueError(f"corpus {name}: expected a {pivot!r} side, got languages {sorted(by_lang)}")
        base = by_lang[pivot]
        n_layers = base.shape[0]
        pairs = {}
        for lang, arr in by_lang.items():
            if lang == pivot:
                continue
            if arr.shape != base.shape:
                raise ValueError(f"corpus {name}: {lang} has shape {arr.shape}, {pivot} {base.shape}")
            pairs[f"{pivot}-{lang}"] = {
                "p1_fwd": _stack([_p1(base[i], arr[i], device) for i in range(n_layers)]),
                "p1_bwd": _stack([_p1(arr[i], base[i], device) for i in range(n_layers)]),
                "cka": _stack([_cka(base[i], arr[i], n_boot, seed, device) for i in range(n_layers)]),
            }
        block: dict[str, Any] = {"n": int(base.shape[1]), "layers": list(range(n_layers)), "pairs": pairs}
        if reference is not None:
            ref = reference[name]
            block["model_cka"] = {lang: _stack([_cka(arr[i], ref[lang][i], n_boot, seed, device)
                                                for i in range(n_layers)]) for lang, arr in by_lang.items()}
        out[name] = block
    return out
