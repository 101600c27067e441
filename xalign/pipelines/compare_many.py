"""``compare`` over many languages (``--pair en-all --data sib200:DIR``): per language and layer each model's
values and the paired differences (CI, p-value) exactly as a single-pair compare computes them, then the
p-values Holm-adjusted across languages (one family per metric, layer and after-model), and the languages
whose headline P@1 gained or lost significantly.

Every model is loaded once and embeds the pivot once; languages are worked one at a time (read, embed with
each model, measure, compare, drop the vectors), so memory does not grow with their number.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.errors import ConfigError
from xalign.pipelines.compare_core import (CompareConfig, CompareResult, check_models, compare_results,
                                           write_compare_files)
from xalign.pipelines.probe.many import (embed_pivot, embed_texts, join_language, plan_many, probe_language,
                                         read_pivot)
from xalign.pipelines.probe.measure import chosen_layers
from xalign.pipelines.probe.steps import PairOutcome
from xalign.results.registry import HEADLINE_RULES
from xalign.results.types import Comparison, MetricValue, PairComparison

if TYPE_CHECKING:  # pragma: no cover
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)

__all__ = ["ALPHA", "compare_many", "family_key", "holm_across_languages", "significant_languages"]

#: family-wise error rate of the gained/lost lists
ALPHA = 0.05


def family_key(key: str, src: str, tgt: str) -> str:
    """``key`` with the pair's direction written generically (``retrieval.csls.en->sw.p@1`` →
    ``retrieval.csls.src->tgt.p@1``), so the same metric of every language is one family."""
    parts = key.split(".")
    swap = {f"{src}->{tgt}": "src->tgt", f"{tgt}->{src}": "tgt->src"}
    return ".".join(swap.get(p, p) for p in parts)


def holm_across_languages(pairs: dict[str, PairComparison], labels: list[str]) -> dict[str, PairComparison]:
    """Fill ``p_holm`` of every delta that has a p-value: Holm's step-down adjustment over the languages, one
    family per (metric, layer, after-model)."""
    from xalign.metrics.significance import holm

    families: dict[tuple[str, int, str], list[tuple[Any, str, str]]] = {}
    for pc in pairs.values():
        for entry in pc.layers:
            for key, mc in entry.metrics.items():
                for lab, d in mc.deltas.items():
                    if d.p_value is not None:
                        fam = (family_key(key, pc.src_lang, pc.tgt_lang), entry.layer, lab)
                        families.setdefault(fam, []).append((mc, key, lab))
    for members in families.values():
        adjusted = holm([mc.deltas[lab].p_value for mc, _, lab in members])
        for (mc, _, lab), p in zip(members, adjusted):
            d = mc.deltas[lab]
            mc.deltas[lab] = MetricValue(d.value, d.ci95, d.p_value, float(p))
    return pairs


def significant_languages(pairs: dict[str, PairComparison], labels: list[str], *,
                          alpha: float = ALPHA) -> dict[str, Any] | None:
    """The languages whose headline P@1 (CSLS, else cosine; pivot → language) at the last layer changed with a
    Holm-adjusted p below ``alpha``: ``{"metric", "layer", "alpha", "gained": {label: [...]}, "lost": {...}}``."""
    first = next(iter(pairs.values()), None)
    if first is None or not first.layers:
        return None
    last = first.layers[-1].layer
    for rule in HEADLINE_RULES:
        fam = f"retrieval.{rule}.src->tgt.p@1"
        if f"retrieval.{rule}.{first.src_lang}->{first.tgt_lang}.p@1" in first.layers[-1].metrics:
            break
    else:
        return None
    out: dict[str, Any] = {"metric": fam, "layer": last, "alpha": alpha, "correction": "holm across languages",
                           "gained": {lab: [] for lab in labels[1:]}, "lost": {lab: [] for lab in labels[1:]}}
    for pc in pairs.values():
        entry = next(e for e in pc.layers if e.layer == last)
        mc = entry.metrics.get(f"retrieval.{fam.split('.')[1]}.{pc.src_lang}->{pc.tgt_lang}.p@1")
        for lab, d in (mc.deltas.items() if mc else ()):
            if d.p_holm is not None and d.p_holm < alpha and d.value != 0:
                out["gained" if d.value > 0 else "lost"][lab].append(pc.tgt_lang)
    return out


def _load(config: CompareConfig) -> dict[str, "Encoder"]:
    from xalign.encoders import load_encoder

    p = config.probe
    return {lab: load_encoder(spec, device=p.device, dtype=p.dtype, revision=p.revision,
                              trust_remote_code=p.trust_remote_code, allow_pickle_weights=p.allow_pickle,
                              require_fast_tokenizer=False) for lab, spec in config.models}


def _compare_all(config: CompareConfig, plan: Any, encoders: dict[str, "Encoder"]) -> dict[str, PairComparison]:
    from tqdm.auto import tqdm

    pconf, labels = config.probe, config.labels or []
    layer_sets = {lab: chosen_layers(enc, pconf) for lab, enc in encoders.items()}
    if len({tuple(v) for v in layer_sets.values()}) != 1:
        raise ConfigError(f"models have different layer counts, cannot compare layer by layer: {layer_sets}")
    layers = layer_sets[labels[0]]
    device = str(encoders[labels[0]].device)
    pivot = read_pivot(plan, pconf.limit)
    pivot_vecs = {lab: embed_pivot(enc, pivot, pconf, layers) for lab, enc in encoders.items()}
    pairs: dict[str, PairComparison] = {}
    for name, folder in tqdm(plan.targets, desc=f"{plan.pivot}-all", unit="lang", disable=not pconf.progress):
        lang = join_language(plan, pivot, name, folder, strict=pconf.strict)
        results, outcomes = {}, {}
        for lab, enc in encoders.items():
            tgt = embed_texts(enc, lang.texts, pconf, layers)
            results[lab] = probe_language(pivot_vecs[lab], lang, tgt, plan, pconf, layers, device)
            outcomes[lab] = PairOutcome(pivot_vecs[lab][:, lang.rows], tgt, results[lab].correct)
        pairs[plan.pair(name)] = compare_results(results, outcomes, labels, pconf, device)
    return holm_across_languages(pairs, labels)


def compare_many(config: CompareConfig, *, out_dir: str | Path | None = None) -> CompareResult:
    """Compare the models of ``config`` on every language of ``--pair xx-all`` (see the module docstring)."""
    from xalign.io import claim_output_dir

    plan = plan_many(config.probe)
    check_models(config)
    if out_dir is None:
        return _run(config, plan, None)
    with claim_output_dir(out_dir, "compare", overwrite=True) as stage:
        return _run(config, plan, stage)


def _run(config: CompareConfig, plan: Any, stage: Path | None) -> CompareResult:
    from xalign.io import base_manifest

    t0 = time.perf_counter()
    encoders = _load(config)
    pairs = _compare_all(config, plan, encoders)
    models = [{"label": lab, "name": enc.name, "spec": spec, "revision": enc.revision, "run_dir": None}
              for (lab, spec), enc in zip(config.models, encoders.values())]
    pconf = config.probe
    manifest = base_manifest(command="compare", config=config.to_dict(), models=models, preset=pconf.preset,
                             seed=pconf.seed, seconds=round(time.perf_counter() - t0, 2),
                             data={"pivot": plan.pivot, "root": str(plan.root), "split": pconf.split,
                                   "languages": [name for name, _ in plan.targets]})
    languages = significant_languages(pairs, config.labels or [])
    result = CompareResult(comparison=Comparison(manifest=manifest, models=models, pairs=pairs, languages=languages))
    if stage is not None:
        write_compare_files(result, stage, report=pconf.report)
    return result
