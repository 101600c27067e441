"""``compare``: probe several models on identical inputs and test the differences.

Inputs are loaded once (:func:`load_probe_inputs`) and every model sees the same sentences, preset,
layers and seeds. Per layer and metric the result holds each model's value and, for every ``after``
model, the difference to ``before``; metrics the registry marks ``paired`` get a paired bootstrap 95%
CI and two-sided p-value (the same resampled sentence indices for both models), computed from the
per-query correctness the probe already kept (nothing is re-ranked). Model × model layer CKA shows
how far fine-tuning moved each layer.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.errors import ConfigError
from xalign.pipelines.probe import ProbeConfig, ProbeResult, probe
from xalign.results.json_io import COMPARE_RESERVED, comparison_to_json
from xalign.results.registry import metric_spec
from xalign.results.types import Comparison, LayerComparison, MetricComparison, MetricValue, PairComparison

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.corpus import ParallelCorpus

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


def _paired_cka(b_src, b_tgt, a_src, a_tgt, n_boot: int, seed: int) -> MetricValue:
    from xalign.metrics.cka_bootstrap import paired_cka_difference

    delta, ci, p = paired_cka_difference(a_src, a_tgt, b_src, b_tgt, n_boot=n_boot, seed=seed)
    return MetricValue(delta, (ci[0], ci[1]), p)


def compare_pair_typed(pair: str, probes: dict[str, ProbeResult], labels: list[str],
                       config: ProbeConfig) -> PairComparison:
    """Per-layer values of every model and deltas of each after-model vs the first model."""
    from xalign.metrics.cka import cka_grid
    from xalign.metrics.stats import paired_bootstrap

    before, afters = labels[0], labels[1:]
    res = {lab: probes[lab].pairs[pair] for lab in labels}
    b = res[before]
    device = probes[before].manifest.get("model", {}).get("device") if isinstance(
        probes[before].manifest.get("model"), dict) else None
    layers_out = []
    for li, entry in enumerate(b.layers):
        metrics: dict[str, MetricComparison] = {}
        for key in entry.values:
            values = {lab: res[lab].layers[li].value(key) for lab in labels}
            mc = MetricComparison(values=values)
            spec = metric_spec(key)
            for lab in afters:
                if values[lab] is None or values[before] is None:
                    continue
                if spec.paired and key in b.correct and config.n_boot:
                    test = paired_bootstrap(res[lab].correct[key][li], b.correct[key][li], n_boot=config.n_boot,
                                            seed=config.seed)  # delta = after - before
                    mc.deltas[lab] = MetricValue(test.delta, test.ci95, test.p_value)
                elif spec.paired and key == "cka.linear" and config.n_boot_cka:
                    mc.deltas[lab] = _paired_cka(b.src_vectors[li], b.tgt_vectors[li], res[lab].src_vectors[li],
                                                 res[lab].tgt_vectors[li], config.n_boot_cka, config.seed)
                else:
                    mc.deltas[lab] = MetricValue(values[lab] - values[before])
            metrics[key] = mc
        layers_out.append(LayerComparison(layer=entry.layer, metrics=metrics))
    model_cka = {}
    both_b = np.concatenate([b.src_vectors, b.tgt_vectors], axis=1)
    for lab in afters:
        both_a = np.concatenate([res[lab].src_vectors, res[lab].tgt_vectors], axis=1)
        model_cka[lab] = np.round(cka_grid(both_b, both_a, device=device), 5).tolist()
    return PairComparison(pair=pair, src_lang=b.src_lang, tgt_lang=b.tgt_lang, n=b.n, layers=layers_out,
                          model_cka=model_cka)


def compare_pair(pair: str, probes: dict[str, ProbeResult], labels: list[str], config: ProbeConfig) -> dict[str, Any]:
    """:func:`compare_pair_typed` as its ``compare.json`` block."""
    typed = compare_pair_typed(pair, probes, labels, config)
    return comparison_to_json(Comparison(manifest={}, models=[], pairs={pair: typed}))["pairs"][pair]


def compare(config: CompareConfig, *, out_dir: str | Path | None = None,
            corpora: list["ParallelCorpus"] | None = None) -> CompareResult:
    """Probe each model on the same inputs and compare; with ``out_dir`` write the run directory."""
    from xalign.encoders import load_encoder
    from xalign.io import base_manifest
    from xalign.pipelines.probe_inputs import inputs_for, load_probe_inputs
    from xalign.pipelines.probe_io import check_output

    pconf = config.probe
    if out_dir is not None:
        check_output(out_dir, "compare")
    inputs = load_probe_inputs(pconf) if corpora is None else inputs_for(corpora, pconf)
    t0 = time.perf_counter()
    probes: dict[str, ProbeResult] = {}
    models = []
    for label, spec in config.models:
        logger.info("probing %s = %s", label, spec)
        encoder = load_encoder(spec, device=pconf.device, dtype=pconf.dtype, revision=pconf.revision,
                               trust_remote_code=pconf.trust_remote_code, allow_pickle_weights=pconf.allow_pickle)
        probes[label] = probe(pconf, encoder=encoder, inputs=inputs)
        models.append({"label": label, "name": encoder.name, "spec": spec, "revision": encoder.revision,
                       "run_dir": f"models/{label}"})
        del encoder
    layer_sets = {lab: [e.layer for e in next(iter(p.pairs.values())).layers] for lab, p in probes.items()}
    if len({tuple(v) for v in layer_sets.values()}) != 1:
        raise ConfigError(f"models have different layer counts, cannot compare layer by layer: {layer_sets}")
    pairs = {p.pair: compare_pair_typed(p.pair, probes, config.labels or [], pconf) for p in inputs.pairs}
    manifest = base_manifest(command="compare", config=config.to_dict(), models=models,
                             preset=pconf.preset, seed=pconf.seed, seconds=round(time.perf_counter() - t0, 2))
    result = CompareResult(comparison=Comparison(manifest=manifest, models=models, pairs=pairs), probes=probes)
    if out_dir is not None:
        write_compare_run(result, out_dir, report=pconf.report)
    return result


def write_compare_run(result: CompareResult, out_dir: str | Path, *, report: bool = True) -> Path:
    from xalign.io import claim_output_dir, write_json
    from xalign.pipelines.probe_io import write_probe_files
    from xalign.results.json_io import write_comparison

    target = Path(out_dir)
    with claim_output_dir(target, "compare", overwrite=True) as tmp:
        for model in result.models:
            write_probe_files(result.probes[model["label"]], tmp / model["run_dir"], report=False)
        write_json(tmp / "manifest.json", result.manifest)
        write_comparison(tmp, result.comparison)
        if report:
            try:
                from xalign.report import write_report

                write_report(tmp)
            except ImportError as exc:
                logger.warning("report skipped: %s", exc)
    return target
