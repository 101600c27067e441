"""Per-language summary of a many-language probe: for each pair, the headline retrieval P@1 (CSLS, else
cosine; pivot → language) at its best layer and at the last layer. Derived from the typed results alone
(:class:`~xalign.results.types.ProbeMetrics`), written as ``languages.csv`` beside ``metrics.csv``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from xalign.results.registry import HEADLINE_RULES
from xalign.results.types import PairMetrics, ProbeMetrics

__all__ = ["LANGUAGE_FIELDS", "LanguageSummary", "headline_key", "language_summaries", "write_language_summary"]

LANGUAGE_FIELDS = ["pair", "src_lang", "tgt_lang", "n", "metric", "best_layer", "best_value", "best_ci95_lo",
                   "best_ci95_hi", "last_layer", "last_value", "last_ci95_lo", "last_ci95_hi"]


@dataclass(frozen=True)
class LanguageSummary:
    pair: str
    src_lang: str
    tgt_lang: str
    n: int
    metric: str
    best_layer: int
    best_value: float
    best_ci95_lo: float | None
    best_ci95_hi: float | None
    last_layer: int
    last_value: float
    last_ci95_lo: float | None
    last_ci95_hi: float | None


def headline_key(pair: PairMetrics) -> str | None:
    """``retrieval.<rule>.<src>-><tgt>.p@1`` for the first headline rule the pair has (CSLS, then cosine)."""
    keys = set(pair.layers[0].values) if pair.layers else set()
    for rule in HEADLINE_RULES:
        key = f"retrieval.{rule}.{pair.src_lang}->{pair.tgt_lang}.p@1"
        if key in keys:
            return key
    return None


def _summary(pair: PairMetrics) -> LanguageSummary | None:
    key = headline_key(pair)
    if key is None:
        return None
    best = max(pair.layers, key=lambda e: e.values[key].value)  # first of equal values
    last = pair.layers[-1]
    b, last_v = best.values[key], last.values[key]
    return LanguageSummary(pair=pair.pair, src_lang=pair.src_lang, tgt_lang=pair.tgt_lang, n=pair.n, metric=key,
                           best_layer=best.layer, best_value=b.value,
                           best_ci95_lo=b.ci95[0] if b.ci95 else None, best_ci95_hi=b.ci95[1] if b.ci95 else None,
                           last_layer=last.layer, last_value=last_v.value,
                           last_ci95_lo=last_v.ci95[0] if last_v.ci95 else None,
                           last_ci95_hi=last_v.ci95[1] if last_v.ci95 else None)


def language_summaries(result: ProbeMetrics) -> list[LanguageSummary]:
    """One summary per pair that has a headline P@1, in the order of the pairs."""
    return [s for p in result.pairs.values() if (s := _summary(p)) is not None]


def write_language_summary(folder: str | Path, result: ProbeMetrics) -> Path:
    """``languages.csv`` (one row per language, :data:`LANGUAGE_FIELDS`) into ``folder``."""
    from xalign.io import write_csv

    rows = [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(s).items()}
            for s in language_summaries(result)]
    return write_csv(Path(folder) / "languages.csv", rows, LANGUAGE_FIELDS)
