"""Word alignment of a gold-annotated corpus with an encoder (``xalign align`` and the probe)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.errors import ConfigError
if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.gold import GoldAlignment
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignMetrics:
    """Corpus-level word-alignment quality of one layer (fractions; ``aer_ci95`` a bootstrap CI over sentence
    pairs, None without resamples)."""

    method: str
    level: str
    precision: float
    recall: float
    f1: float
    aer: float
    aer_ci95: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The keys ``metrics.json`` has always had (``aer_ci95`` only when computed)."""
        out: dict[str, Any] = {"method": self.method, "level": self.level, "precision": self.precision,
                               "recall": self.recall, "f1": self.f1, "aer": self.aer}
        if self.aer_ci95 is not None:
            out["aer_ci95"] = list(self.aer_ci95)
        return out

    def summary(self) -> str:
        ci = f" [{self.aer_ci95[0]:.3f}, {self.aer_ci95[1]:.3f}]" if self.aer_ci95 else ""
        return (f"{self.method}/{self.level}: precision {self.precision:.3f} recall {self.recall:.3f} "
                f"F1 {self.f1:.3f} AER {self.aer:.3f}{ci}")


@dataclass
class AlignRun:
    layer: int
    method: str
    links: list[set[tuple[int, int]]]
    metrics: AlignMetrics
    examples: list[dict[str, Any]] = field(default_factory=list)


def align_corpus(encoder: "Encoder", gold: "GoldAlignment", *, layers: list[int], method: str = "itermax",
                 level: str = "subword", n_boot: int = 1000, seed: int = 0, n_examples: int = 0,
                 batch_size: int = 32) -> list[AlignRun]:
    """Align every sentence pair of ``gold`` at each layer and score it (precision/recall/F1/AER).

    ``level="subword"``: similarities between subwords, two words linked if any of their subwords
    are (SimAlign's default); ``level="word"``: subwords averaged into words first.
    """
    from xalign.embed import embed_words
    from xalign.metrics.stats import bootstrap_ci
    from xalign.metrics.wordalign import (align_batch, alignment_scores, average_subwords, per_sentence_counts,
                                          scores_from_counts,
                                          similarity, subword_to_word)

    if level not in {"subword", "word"}:
        raise ConfigError(f"level must be 'subword' or 'word', got {level!r}")
    src = embed_words(encoder, gold.src_words, layers=layers, pretokenized=True, subwords=True, batch_size=batch_size)
    tgt = embed_words(encoder, gold.tgt_words, layers=layers, pretokenized=True, subwords=True, batch_size=batch_size)
    runs = []
    for li, layer in enumerate(layers):
        if level == "subword":
            sims = [similarity(s.vectors[li], t.vectors[li]) for s, t in zip(src, tgt)]
        else:
            sims = [similarity(average_subwords(s.vectors[li], s.word_ids), average_subwords(t.vectors[li], t.word_ids))
                    for s, t in zip(src, tgt)]
        masks = align_batch(sims, method)
        if level == "subword":
            links = [subword_to_word(m, s.word_ids, t.word_ids) for m, s, t in zip(masks, src, tgt)]
        else:
            links = [{(int(i), int(j)) for i, j in zip(*np.nonzero(m))} for m in masks]
        scores = alignment_scores(links, gold.sure, gold.possible)
        ci = None
        if n_boot and len(links) > 1:
            counts = per_sentence_counts(links, gold.sure, gold.possible)

            def aer_of(idx: np.ndarray, c: np.ndarray = counts) -> float:
                return float(scores_from_counts(c[idx]).aer)

            lo, hi = bootstrap_ci(aer_of, n_items=len(links), n_boot=n_boot, seed=seed)
            ci = (float(lo), float(hi))
        metrics = AlignMetrics(method=method, level=level, precision=float(scores.precision),
                               recall=float(scores.recall), f1=float(scores.f1), aer=float(scores.aer), aer_ci95=ci)
        examples = []
        for k in range(min(n_examples, len(links))):
            examples.append({"src_tokens": src[k].tokens if level == "subword" else src[k].words,
                             "tgt_tokens": tgt[k].tokens if level == "subword" else tgt[k].words,
                             "src_words": gold.src_words[k], "tgt_words": gold.tgt_words[k],
                             "similarity": np.round(sims[k], 4).tolist(),
                             "pred_subword": [[int(i), int(j)] for i, j in zip(*np.nonzero(masks[k]))],
                             "src_word_ids": src[k].word_ids.tolist() if level == "subword" else None,
                             "tgt_word_ids": tgt[k].word_ids.tolist() if level == "subword" else None,
                             "pred": sorted([list(x) for x in links[k]]),
                             "gold_sure": sorted([list(x) for x in gold.sure[k]]),
                             "gold_possible": sorted([list(x) for x in gold.possible[k] - gold.sure[k]])})
        runs.append(AlignRun(layer=layer, method=method, links=links, metrics=metrics, examples=examples))
    return runs


def write_alignment_run(run: AlignRun, gold: "GoldAlignment", out_dir: str | Path, manifest: dict[str, Any]) -> Path:
    """``alignments.txt`` (0-indexed Pharaoh, one line per pair) and ``metrics.json``."""
    from xalign.data.gold import write_pharaoh
    from xalign.io import write_json, write_text

    out = Path(out_dir)
    write_text(out / "alignments.txt", write_pharaoh(run.links))
    write_json(out / "metrics.json", {"manifest": manifest, "layer": run.layer, **run.metrics.to_json(),
                                      "n_pairs": len(run.links), "gold_out_of_range": gold.out_of_range})
    return out


def align(gold_args: dict[str, Any], *, load_model: "Callable[[], Encoder]", layer: int, method: str, level: str,
          n_boot: int, seed: int, out_dir: str | Path) -> tuple[AlignRun, "GoldAlignment"]:
    """``xalign align``: check the settings, the gold files and ``out_dir`` before the model loads, align at
    ``layer``, write the run folder (replacing an earlier align run whole) and return the typed run.

    ``gold_args`` are :func:`xalign.data.gold.load_gold`'s arguments; ``load_model`` loads the encoder (called
    only after every check passed).
    """
    from xalign.data.gold import load_gold
    from xalign.embed.layers import resolve_layers
    from xalign.io import base_manifest, check_not_busy, check_output, claim_output_dir, sha256_file, write_json

    if n_boot < 0:
        raise ConfigError(f"--n-boot must be >= 0, got {n_boot}")
    check_output(out_dir, kind="dir", command="align")
    check_not_busy(out_dir)
    gold = load_gold(**gold_args)
    encoder = load_model()
    layers = resolve_layers([layer], encoder.num_layers)
    (run,) = align_corpus(encoder, gold, layers=layers, method=method, level=level, n_boot=n_boot, seed=seed)
    files = [f for key in ("gold", "bitext", "src_file", "tgt_file") if (f := gold_args.get(key))]
    manifest = base_manifest(command="align", model=encoder.describe(), method=method, level=level, layer=layers[0],
                             seed=seed, data=[{"path": f, "sha256": sha256_file(f)} for f in files])
    with claim_output_dir(out_dir, "align", overwrite=True) as work:
        write_json(work / "manifest.json", manifest)
        write_alignment_run(run, gold, work, manifest)
    return run, gold
