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
from pathlib import Path
from typing import TYPE_CHECKING

from xalign.errors import ConfigError
from xalign.pipelines.compare_core import (CompareConfig, CompareResult, check_models, compare_pair_typed,
                                           compare_results, metric_deltas, write_compare_files)
from xalign.pipelines.probe import ProbeResult, probe
from xalign.results.types import Comparison

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.corpus import ParallelCorpus

logger = logging.getLogger(__name__)

__all__ = ["CompareConfig", "CompareResult", "check_models", "compare", "compare_pair_typed", "compare_results",
           "metric_deltas", "write_compare_files"]


def compare(config: CompareConfig, *, out_dir: str | Path | None = None,
            corpora: list["ParallelCorpus"] | None = None) -> CompareResult:
    """Probe each model on the same inputs and compare; with ``out_dir`` write the run directory.

    The output folder is locked and every input (data, and each model's files) checked before any model
    loads. ``--pair xx-all`` compares language by language (:func:`xalign.pipelines.compare_many.compare_many`).
    """
    from xalign.io import claim_output_dir

    if config.probe.many:
        from xalign.pipelines.compare_many import compare_many

        return compare_many(config, out_dir=out_dir)
    if out_dir is None:
        return _compare_run(config, corpora, None)
    with claim_output_dir(out_dir, "compare", overwrite=True) as stage:
        return _compare_run(config, corpora, stage)


def _compare_run(config: CompareConfig, corpora: list["ParallelCorpus"] | None, stage: Path | None) -> CompareResult:
    from xalign.encoders import load_encoder
    from xalign.io import base_manifest
    from xalign.pipelines.probe.inputs import inputs_for, load_probe_inputs

    pconf = config.probe
    inputs = load_probe_inputs(pconf) if corpora is None else inputs_for(corpora, pconf)
    check_models(config)
    t0 = time.perf_counter()
    probes: dict[str, ProbeResult] = {}
    models = []
    for label, spec in config.models:
        logger.info("probing %s = %s", label, spec)
        encoder = load_encoder(spec, device=pconf.device, dtype=pconf.dtype, revision=pconf.revision,
                               trust_remote_code=pconf.trust_remote_code, allow_pickle_weights=pconf.allow_pickle,
                               require_fast_tokenizer=False)
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
    if stage is not None:
        write_compare_files(result, stage, report=pconf.report)
    return result
