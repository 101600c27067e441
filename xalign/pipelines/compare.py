"""``compare``: probe several models on identical inputs and test the differences.

Every model sees the same sentences, preset, layers and seeds. Per layer and metric the result holds
each model's value and, for every ``after`` model, the paired difference to ``before`` with a paired
bootstrap 95% CI and two-sided p-value (the same resampled sentence indices for both models).
Model × model layer CKA shows how far fine-tuning moved each layer.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.pipelines.probe import ProbeConfig, ProbeResult, probe

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data import ParallelCorpus

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
            raise ValueError("compare needs at least one --after model")
        n = 1 + len(self.after)
        if self.labels is None:
            self.labels = ["before"] + (["after"] if n == 2 else [f"after{i}" for i in range(1, n)])
        if len(self.labels) != n or len(set(self.labels)) != n:
            raise ValueError(f"labels must be {n} distinct names (before + each after), got {self.labels}")
        bad = [lab for lab in self.labels if not lab.replace("-", "").replace("_", "").isalnum()]
        if bad:
            raise ValueError(f"labels may use letters, digits, '-' and '_' only, got {bad}")

    @property
    def models(self) -> list[tuple[str, str]]:
        return list(zip(self.labels or [], [self.before, *self.after]))

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "labels": self.labels, "probe": self.probe.to_dict()}


@dataclass
class CompareResult:
    manifest: dict[str, Any]
    models: list[dict[str, Any]]
    pairs: dict[str, Any]
    probes: dict[str, ProbeResult] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "models": self.models, "pairs": self.pairs}


def _per_query_correct(queries: np.ndarray, keys: np.ndarray, method: str) -> np.ndarray:
    from xalign.metrics.retrieval import retrieval_scores

    base = method.removesuffix("_centered")
    res = retrieval_scores(queries, keys, method=base, center=method.endswith("_centered"))
    return (np.asarray(res.ranks) == 0).astype(np.float64)


def _paired(before: np.ndarray, after: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    from xalign.metrics.stats import paired_bootstrap

    res = paired_bootstrap(after, before, n_boot=n_boot, seed=seed)  # delta = after - before
    return {"delta": float(res.delta), "ci95": [float(res.ci95[0]), float(res.ci95[1])], "p_value": float(res.p_value)}


def _paired_cka(b_src, b_tgt, a_src, a_tgt, n_boot: int, seed: int) -> dict[str, Any]:
    from xalign.metrics.cka_bootstrap import paired_cka_difference

    delta, ci, p = paired_cka_difference(a_src, a_tgt, b_src, b_tgt, n_boot=n_boot, seed=seed)
    return {"delta": delta, "ci95": [ci[0], ci[1]], "p_value": p}


def compare_pair(pair: str, probes: dict[str, ProbeResult], labels: list[str], config: ProbeConfig) -> dict[str, Any]:
    """Per-layer values of every model and paired deltas of each after-model vs the first model."""
    from xalign.metrics.cka import cka_grid
    from xalign.pipelines.probe import flat_metrics

    before_label, after_labels = labels[0], labels[1:]
    res = {lab: probes[lab].pairs[pair] for lab in labels}
    b = res[before_label]
    layers_out = []
    for li, entry in enumerate(b.layers):
        flats = {lab: flat_metrics(res[lab].layers[li]) for lab in labels}
        metrics: dict[str, Any] = {}
        for key in flats[before_label]:
            metrics[key] = {lab: flats[lab].get(key) for lab in labels}
        # paired tests for headline metrics: P@1 of each rule and direction, and linear CKA
        for method in config.methods:
            for qs, ks, direction in ((0, 1, f"{b.src_lang}->{b.tgt_lang}"), (1, 0, f"{b.tgt_lang}->{b.src_lang}")):
                key = f"retrieval.{method}.{direction}.p@1"
                if key not in metrics:
                    continue
                vecs = {lab: (res[lab].src_vectors[li], res[lab].tgt_vectors[li]) for lab in labels}
                base = _per_query_correct(vecs[before_label][qs], vecs[before_label][ks], method)
                for lab in after_labels:
                    other = _per_query_correct(vecs[lab][qs], vecs[lab][ks], method)
                    test = _paired(base, other, config.n_boot or 1000, config.seed)
                    _attach(metrics[key], lab, test)
        if "cka.linear" in metrics and config.n_boot_cka:
            for lab in after_labels:
                test = _paired_cka(b.src_vectors[li], b.tgt_vectors[li], res[lab].src_vectors[li],
                                   res[lab].tgt_vectors[li], config.n_boot_cka, config.seed)
                _attach(metrics["cka.linear"], lab, test)
        for key, values in metrics.items():  # plain deltas for every other metric
            values.setdefault("delta", {})
            for lab in after_labels:
                if lab not in values["delta"] and values.get(lab) is not None and values.get(before_label) is not None:
                    values["delta"][lab] = values[lab] - values[before_label]
        layers_out.append({"layer": entry["layer"], "metrics": metrics})
    model_cka = {}
    both_b = np.concatenate([b.src_vectors, b.tgt_vectors], axis=1)
    for lab in after_labels:
        both_a = np.concatenate([res[lab].src_vectors, res[lab].tgt_vectors], axis=1)
        model_cka[lab] = np.round(cka_grid(both_b, both_a), 5).tolist()
    return {"src_lang": b.src_lang, "tgt_lang": b.tgt_lang, "n": b.n, "layers": layers_out, "model_cka": model_cka}


def _attach(values: dict[str, Any], label: str, test: dict[str, Any]) -> None:
    values.setdefault("delta", {})[label] = test["delta"]
    values.setdefault("ci95", {})[label] = test["ci95"]
    values.setdefault("p_value", {})[label] = test["p_value"]


def compare(config: CompareConfig, *, out_dir: str | Path | None = None,
            corpora: list["ParallelCorpus"] | None = None) -> CompareResult:
    """Probe each model on the same corpora and compare; with ``out_dir`` write the run directory."""
    from xalign.encoders import load_encoder
    from xalign.io import base_manifest
    from xalign.pipelines.probe import load_corpora

    pconf = config.probe
    corpora = corpora if corpora is not None else load_corpora(pconf)
    t0 = time.perf_counter()
    probes: dict[str, ProbeResult] = {}
    models = []
    for label, spec in config.models:
        logger.info("probing %s = %s", label, spec)
        encoder = load_encoder(spec, device=pconf.device, dtype=pconf.dtype)
        probes[label] = probe(pconf, encoder=encoder, corpora=corpora)
        models.append({"label": label, "name": spec, "revision": encoder.revision, "run_dir": f"models/{label}"})
        del encoder
    layer_sets = {lab: [e["layer"] for e in next(iter(p.pairs.values())).layers] for lab, p in probes.items()}
    if len({tuple(v) for v in layer_sets.values()}) != 1:
        raise ValueError(f"models have different layer counts, cannot compare layer by layer: {layer_sets}")
    pairs = {c.pair: compare_pair(c.pair, probes, config.labels or [], pconf) for c in corpora}
    manifest = base_manifest(command="compare", config=config.to_dict(), models=models,
                             preset=pconf.preset, seed=pconf.seed, seconds=round(time.perf_counter() - t0, 2))
    result = CompareResult(manifest=manifest, models=models, pairs=pairs, probes=probes)
    if out_dir is not None:
        write_compare_run(result, out_dir, report=pconf.report)
    return result


def write_compare_run(result: CompareResult, out_dir: str | Path, *, report: bool = True) -> Path:
    from xalign.io import atomic_path, write_json
    from xalign.pipelines.probe_io import write_probe_run

    target = Path(out_dir)
    with atomic_path(target) as tmp:
        tmp.mkdir(parents=True)
        for model in result.models:
            write_probe_run(result.probes[model["label"]], tmp / model["run_dir"], report=False)
        write_json(tmp / "manifest.json", result.manifest)
        write_json(tmp / "compare.json", result.to_dict())
        if report:
            try:
                from xalign.report import write_report

                write_report(tmp)
            except ImportError as exc:
                logger.warning("report skipped: %s", exc)
    return target
