"""The metric extension point: a :class:`Metric` declares what it needs and the typed values it returns,
and the registry hands every registered metric to probe and compare.

A metric is one class (like torchmetrics' ``Metric`` or a sentence-transformers evaluator, but with no
I/O): ``name`` is the first part of its keys (``toy`` → ``toy.mean_cosine``), ``needs`` what it reads
from the :class:`PairContext` (:data:`NEEDS`), ``specs`` the :class:`~xalign.results.registry.MetricSpec`
of each value it returns (label, higher-is-better, CI, paired test, best layer), and
:meth:`Metric.compute` turns one pair's layer arrays into a :class:`StepOutput`. Register it with
:func:`register_metric` (or, for a while, :func:`registered`): probe writes its values to
``metrics.json``/``metrics.csv``, compare tests its before/after differences (:meth:`Metric.paired_delta`),
and the report labels it from its specs. See ``docs/extending.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.results.registry import MetricSpec, register_spec, unregister_spec
from xalign.results.types import MetricValue

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.gold import GoldAlignment
    from xalign.embed.vocab import VocabularyVectors
    from xalign.encoders import Encoder
    from xalign.metrics.retrieval import LayerRetrieval
    from xalign.pipelines.probe.config import ProbeConfig

__all__ = ["HUBNESS_K", "NEEDS", "RETRIEVAL_KS", "usable_ks", "Metric", "PairContext", "PairOutcome", "StepOutput", "metrics_for", "metric_for_key",
           "register_metric", "registered", "registered_metrics", "unregister_metric"]

#: what a metric may need: ``sentences`` (sentence vectors of every layer), ``topk`` (the shared per-layer
#: retrieval computation: one normalisation, one top-k search and one scan per direction), ``words``
#: (dictionary-word vectors; needs a tokenizer with ``word_ids()``), ``gold`` (gold word alignments of the
#: pair) and ``encoder`` (the model itself, e.g. to embed the gold sentences)
NEEDS = frozenset({"sentences", "topk", "words", "gold", "encoder"})
#: needs that sentence vectors alone satisfy (what a many-language probe and any tokenizer provide)
SENTENCE_LEVEL = frozenset({"sentences", "topk"})


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


@dataclass
class PairContext:
    """Everything a metric may read for one pair: layer arrays ``[layers, n, hidden]`` (row ``i`` of
    ``src`` translates row ``i`` of ``tgt``), the settings and, where available, word vectors, the
    dictionary, gold and the encoder. :meth:`retrieval` is the shared top-k computation, done once per
    layer and centring whichever metrics ask for it."""

    src_lang: str
    tgt_lang: str
    layers: list[int]
    src: np.ndarray
    tgt: np.ndarray
    config: "ProbeConfig"
    device: Any = None
    encoder: "Encoder | None" = None
    words: "tuple[VocabularyVectors, VocabularyVectors] | None" = None
    static_words: tuple[np.ndarray, np.ndarray] | None = None
    dictionary: list[tuple[str, str]] = field(default_factory=list)
    dictionary_source: str | None = None
    gold: "GoldAlignment | None" = None
    _retrieval: dict[tuple[int, bool], "LayerRetrieval"] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return int(self.src.shape[1])

    @property
    def directions(self) -> dict[str, str]:
        """``{"a->b": "en->sw", "b->a": "sw->en"}``: the retrieval directions and their names in keys."""
        return {"a->b": f"{self.src_lang}->{self.tgt_lang}", "b->a": f"{self.tgt_lang}->{self.src_lang}"}

    def available(self) -> frozenset[str]:
        have = {"sentences", "topk"}
        have |= {"words"} if self.words is not None else set()
        have |= {"gold"} if self.gold is not None else set()
        have |= {"encoder"} if self.encoder is not None else set()
        return frozenset(have)

    def retrieval(self, li: int, *, centred: bool = False) -> "LayerRetrieval":
        """Cosine, CSLS and margin retrieval of layer position ``li`` (both directions), computed once."""
        from xalign.metrics.retrieval import layer_retrieval

        key = (li, centred)
        if key not in self._retrieval:
            self._retrieval[key] = layer_retrieval(self.src[li], self.tgt[li], methods=["cosine", "csls", "margin"],
                                                   center=centred, ks=usable_ks(self.n)[0], device=self.device,
                                                   neighbours_k=HUBNESS_K)
        return self._retrieval[key]


@dataclass
class StepOutput:
    """What a metric returns for one pair: ``layers[i]`` the values of layer position ``i`` by key;
    ``correct[key][i]`` per-query 0/1 correctness where the value is a mean of it (compare's paired test
    and the study read it); ``info`` non-numeric per-layer facts; ``details`` report extras; ``notes``
    caveats written beside the results."""

    layers: list[dict[str, MetricValue]]
    correct: dict[str, list[np.ndarray]] = field(default_factory=dict)
    info: list[dict[str, str]] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class PairOutcome:
    """What compare needs of one model's pair for :meth:`Metric.paired_delta`: its layer arrays and the
    per-query correctness."""

    src: np.ndarray
    tgt: np.ndarray
    correct: dict[str, list[np.ndarray]]


class Metric:
    """Base class of a probe metric; subclass it, set ``name``/``needs``/``specs`` and write :meth:`compute`."""

    name: str = ""
    needs: frozenset[str] = frozenset({"sentences"})
    specs: tuple[MetricSpec, ...] = ()

    def applies(self, ctx: PairContext) -> bool:
        """Whether this metric has what it needs for ``ctx`` (by default: every need is available)."""
        return self.needs <= ctx.available()

    def compute(self, ctx: PairContext) -> StepOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def paired_delta(self, key: str, li: int, before: PairOutcome, after: PairOutcome,
                     config: "ProbeConfig", values: tuple[float, float]) -> MetricValue:
        """after − before for ``key`` at layer position ``li``: a paired bootstrap over the per-query
        correctness when the metric kept it (same resampled queries for both models), else the plain
        difference of ``values`` = (before, after)."""
        from xalign.metrics.stats import paired_bootstrap

        spec_paired = any(s.paired and key.split(".")[-1] == s.leaf for s in self.specs)
        if spec_paired and key in before.correct and key in after.correct and config.n_boot:
            test = paired_bootstrap(np.asarray(after.correct[key][li], dtype=np.float64),
                                    np.asarray(before.correct[key][li], dtype=np.float64),
                                    n_boot=config.n_boot, seed=config.seed)
            return MetricValue(test.delta, test.ci95, test.p_value)
        return MetricValue(values[1] - values[0])


_METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` (and its specs) to the registry; probe and compare pick it up from there."""
    unknown = set(metric.needs) - NEEDS
    if not metric.name or "." in metric.name or unknown:
        raise ValueError(f"a metric needs a name without dots and needs among {sorted(NEEDS)}; got "
                         f"{metric.name!r}, needs {sorted(metric.needs)}")
    if metric.name in _METRICS and _METRICS[metric.name] is not metric:
        raise ValueError(f"a metric named {metric.name!r} is already registered")
    for spec in metric.specs:
        if spec.section != metric.name:
            raise ValueError(f"metric {metric.name!r}: spec {spec.section}.{spec.leaf} must use section "
                             f"{metric.name!r}")
        register_spec(spec)
    _METRICS[metric.name] = metric
    return metric


def unregister_metric(name: str) -> None:
    metric = _METRICS.pop(name, None)
    for spec in metric.specs if metric else ():
        unregister_spec(spec)


@contextlib.contextmanager
def registered(metric: Metric) -> Iterator[Metric]:
    """``metric`` registered inside the block only (tests, notebooks)."""
    register_metric(metric)
    try:
        yield metric
    finally:
        unregister_metric(metric.name)


def registered_metrics() -> list[Metric]:
    """Every registered metric, in registration order (the built-ins register when
    :mod:`xalign.pipelines.probe` is imported, which any import of this module does first)."""
    return list(_METRICS.values())


def metrics_for(ctx: PairContext, *, sentence_level: bool = False) -> list[Metric]:
    """The registered metrics that apply to ``ctx`` (only sentence-level ones when ``sentence_level``)."""
    return [m for m in registered_metrics() if (not sentence_level or m.needs <= SENTENCE_LEVEL) and m.applies(ctx)]


def metric_for_key(key: str) -> Metric | None:
    """The registered metric whose values carry ``key`` (by its first part)."""
    return next((m for m in registered_metrics() if m.name == key.split(".")[0]), None)
