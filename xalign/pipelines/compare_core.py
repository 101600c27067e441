"""The pieces of ``compare`` shared by the single-pair and the many-language runs: :class:`CompareConfig`,
:class:`CompareResult`, the per-metric paired differences (each metric's own test, from the registry), model
× model CKA, the model checks made before any model loads, and the run folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xalign.errors import ConfigError, XalignError
from xalign.pipelines.probe import PairResult, ProbeConfig, ProbeResult
from xalign.pipelines.probe.steps import PairOutcome, metric_for_key
from xalign.results.json_io import COMPARE_RESERVED, comparison_to_json
from xalign.results.types import Comparison, LayerComparison, MetricComparison, MetricValue, PairComparison

logger = logging.getLogger(__name__)


@dataclass
class CompareConfig:
    before: str
    after: list[str]
    labels: list[str] | None = None  # labels for before + after models (default: before, after, after2 …)
    probe: ProbeConfig = field(default_factory=ProbeConfig)

    def __post_init__(self) -> None:
        if isinstance(self.after, str):
            self.after = [self.after]
        if not self.after:
            raise ConfigError("compare needs at least one --after model")
        n = 1 + len(self.after)
        if self.labels is None:
            self.labels = ["before"] + (["after"] if n == 2 else [f"after{i}" for i in range(1, n)])
        if len(self.labels) != n or len(set(self.labels)) != n:
            raise ConfigError(f"labels must be {n} distinct names (before + each after), got {self.labels}")
        bad = [lab for lab in self.labels if not lab.replace("-", "").replace("_", "").isalnum()
               or lab in COMPARE_RESERVED]
        if bad:
            raise ConfigError(f"labels may use letters, digits, '-' and '_' only and may not be "
                              f"{', '.join(COMPARE_RESERVED)}; got {bad}")

    @property
    def models(self) -> list[tuple[str, str]]:
        return list(zip(self.labels or [], [self.before, *self.after]))

    def to_dict(self) -> dict[str, Any]:
        probe_dict = {**self.probe.to_dict(), "model": None}  # each model is named in "models"
        return {"before": self.before, "after": self.after, "labels": self.labels, "probe": probe_dict}


@dataclass
class CompareResult:
    """``comparison`` is the typed result; ``pairs`` its JSON view (as in ``compare.json``)."""

    comparison: Comparison
    probes: dict[str, ProbeResult] = field(repr=False, default_factory=dict)

    manifest = property(lambda self: self.comparison.manifest)
    models = property(lambda self: self.comparison.models)

    @property
    def pairs(self) -> dict[str, Any]:
        return self.to_dict()["pairs"]

    def to_dict(self) -> dict[str, Any]:
        return comparison_to_json(self.comparison)


def metric_deltas(key: str, li: int, outcomes: dict[str, PairOutcome], values: dict[str, float | None],
                  labels: list[str], config: ProbeConfig) -> MetricComparison:
    """One metric at layer position ``li``: every model's value and each after-model's difference to the first,
    tested the way the metric that owns ``key`` says (:meth:`~xalign.pipelines.probe.steps.Metric.paired_delta`:
    a paired bootstrap over the per-query correctness by default, a paired CKA bootstrap for CKA)."""
    before = labels[0]
    mc = MetricComparison(values=values)
    metric = metric_for_key(key)
    for lab in labels[1:]:
        vb, va = values[before], values[lab]
        if va is None or vb is None:
            continue
        if metric is None:
            mc.deltas[lab] = MetricValue(va - vb)
        else:
            mc.deltas[lab] = metric.paired_delta(key, li, outcomes[before], outcomes[lab], config, (vb, va))
    return mc


def compare_pair_typed(pair: str, probes: dict[str, ProbeResult], labels: list[str],
                       config: ProbeConfig) -> PairComparison:
    """Per-layer values of every model and deltas of each after-model vs the first model."""
    res = {lab: probes[lab].pairs[pair] for lab in labels}
    outcomes = {lab: PairOutcome(r.src_vectors, r.tgt_vectors, r.correct) for lab, r in res.items()}
    device = probes[labels[0]].manifest.get("model", {}).get("device") if isinstance(
        probes[labels[0]].manifest.get("model"), dict) else None
    return compare_results(res, outcomes, labels, config, device)


def compare_results(res: dict[str, PairResult], outcomes: dict[str, PairOutcome], labels: list[str],
                    config: ProbeConfig, device: Any) -> PairComparison:
    """One pair's comparison from each model's result and layer arrays (``labels[0]`` is the reference)."""
    b = res[labels[0]]
    layers_out = []
    for li, entry in enumerate(b.layers):
        metrics = {key: metric_deltas(key, li, outcomes, {lab: res[lab].layers[li].value(key) for lab in labels},
                                      labels, config) for key in entry.values}
        layers_out.append(LayerComparison(layer=entry.layer, metrics=metrics))
    return PairComparison(pair=b.pair, src_lang=b.src_lang, tgt_lang=b.tgt_lang, n=b.n, layers=layers_out,
                          model_cka=model_cka(outcomes, labels, device))


def model_cka(outcomes: dict[str, PairOutcome], labels: list[str], device: Any) -> dict[str, list[list[float]]]:
    """Layer × layer linear CKA of each after-model with the first (both sides' sentences stacked)."""
    from xalign.metrics.cka import cka_grid

    both_b = np.concatenate([outcomes[labels[0]].src, outcomes[labels[0]].tgt], axis=1)
    out = {}
    for lab in labels[1:]:
        both_a = np.concatenate([outcomes[lab].src, outcomes[lab].tgt], axis=1)
        out[lab] = np.round(cka_grid(both_b, both_a, device=device), 5).tolist()
    return out


def check_models(config: CompareConfig) -> None:
    """Every model of ``config`` found (local folder with weights, cached or reachable hub id) before any loads."""
    from xalign.encoders.loading import check_weights, resolve_model_path

    pconf = config.probe
    for label, spec in config.models:
        flag = "--before" if spec == config.before and label == (config.labels or [""])[0] else "--after"
        try:
            location = resolve_model_path(spec, revision=pconf.revision)
        except XalignError as exc:
            raise type(exc)(f"{flag} {spec}: {exc}") from None
        check_weights(location, spec, allow_pickle=pconf.allow_pickle)


def write_compare_files(result: CompareResult, tmp: Path, *, report: bool = True) -> None:
    from xalign.io import write_json
    from xalign.pipelines.probe.run_dir import write_probe_files
    from xalign.results.json_io import write_comparison

    for model in result.models:
        if model["label"] in result.probes:
            write_probe_files(result.probes[model["label"]], tmp / model["run_dir"], report=False)
    write_json(tmp / "manifest.json", result.manifest)
    write_comparison(tmp, result.comparison)
    if report:
        try:
            from xalign.report import write_report

            write_report(tmp)
        except ImportError as exc:
            logger.warning("report skipped: %s", exc)
