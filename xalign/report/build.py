"""Turning a loaded probe run into page sections (which figures and tables a probe report has), its
headline layer and its embedding maps; a run over many languages is handed to
:mod:`~xalign.report.build_atlas`. Compare and train: :mod:`~xalign.report.build_compare`,
:mod:`~xalign.report.build_train`.

Figures that cannot be drawn from malformed or partial inputs become a visible note (and a logged
warning) instead of failing the whole report; absent optional inputs simply leave their section out.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError
from xalign.report import figures, maps, tables
from xalign.report.build_atlas import accuracy_alignment_block, atlas_sections, is_atlas
from xalign.report.cache import cached_projection
from xalign.report.loaders import PairEmbeddings, ProbeRun
from xalign.report.options import ReportOptions, TaskAccuracy, check_layer, layers_of, run_seed, safe
from xalign.report.page import Block, Section
from xalign.results.registry import format_value, metric_label
from xalign.results.types import PairMetrics

logger = logging.getLogger(__name__)

__all__ = ["ReportOptions", "probe_sections", "initial_layer", "headline_layer", "map_figures", "accuracy_section"]


def _headline_keys(pair: PairMetrics) -> list[str]:
    """The P@1 keys a headline layer is chosen by, in order of preference."""
    src, tgt = pair.src_lang, pair.tgt_lang
    preferred = [f"retrieval.csls.{src}->{tgt}.p@1", f"retrieval.cosine.{src}->{tgt}.p@1"]
    return preferred + sorted(k for k in pair.best if k.startswith("retrieval.") and k.endswith(".p@1"))


def initial_layer(pair: PairMetrics, requested: int | None) -> int:
    """``requested`` when the pair has it, else its best CSLS (or cosine) src→tgt P@1 layer, else the middle."""
    return headline_layer(pair, requested)[0]


def headline_layer(pair: PairMetrics, requested: int | None) -> tuple[int, str]:
    """The layer tables and sliders show first, and one sentence saying why it was chosen."""
    layers = layers_of(pair)
    if not layers:
        raise ConfigError("a pair without layers")
    if requested is not None and requested in layers:
        return requested, f"Layer {requested} is shown first because it was asked for (--layer {requested})."
    best = pair.best
    for key in _headline_keys(pair):
        if key in best and best[key].layer in layers:
            b = best[key]
            return b.layer, (f"Layer {b.layer} is shown first: it has the highest {metric_label(key)} "
                             f"({format_value(key, b.value)}) of the {len(layers)} layers probed; "
                             "`xalign report --layer N` shows another.")
    middle = layers[len(layers) // 2]
    return middle, f"Layer {middle} (the middle probed layer) is shown first: this run has no retrieval P@1."


def map_figures(embs: list[tuple[str, PairEmbeddings]], opts: ReportOptions, *, seed: int, layer: int,
                cache_dir: Path | None) -> list[Block]:
    """Project (display only, one joint fit per layer for all of ``embs``) and draw one map per ``(title, emb)``.

    Several models' embeddings of the same pair share one projection, so their maps can be compared;
    models of different hidden sizes cannot be fitted together and are projected one by one (with a note).
    """
    def draw(projections: list[Any]) -> list[Block]:
        return [maps.embedding_map(proj, emb.src_texts, emb.tgt_texts, src_lang=emb.src_lang, tgt_lang=emb.tgt_lang,
                                   initial_layer=layer, title=title, joint=len(embs) if len(projections) > 1 else 1)
                for proj, (title, emb) in zip(projections, embs)]

    def build() -> list[Block]:
        groups = [(emb.src, emb.tgt) for _, emb in embs]
        kw = dict(max_points=opts.max_points, seed=seed, method=opts.projection)
        cache = cache_dir if opts.cache else None
        if len({g[0].shape for g in groups}) == 1 and len({tuple(e.layers) for _, e in embs}) == 1:
            return draw(cached_projection(cache, groups, embs[0][1].layers, **kw))
        out: list[Block] = [tables.note("These models differ in hidden size or layers, so each map is projected on "
                                        "its own: positions are not comparable across maps.")]
        return out + [draw(cached_projection(cache, [g], e.layers, **kw))[0] for g, (_, e) in zip(groups, embs)]

    try:
        return build()
    except ValueError as exc:
        logger.warning("report: embedding map %s skipped: %s", embs[0][1].pair, exc)
        return [tables.note(f"embedding map {embs[0][1].pair} could not be drawn: {exc}", cls="warn")]


def _summary(run: ProbeRun, start: dict[str, tuple[int, str]]) -> list[Block]:
    pairs = run.pairs
    details = run.details.get("pairs") or {}
    blocks: list[Block] = [
        tables.best_table(pairs, headline_only=True, caption="headline numbers: best layer per metric"),
        tables.notes_list(pairs),
        tables.collapsible("all metrics: best layer", tables.best_table(pairs))]
    for name, pair in pairs.items():
        if name in start:
            blocks += [tables.layer_table(pair, start[name][0], name=name), tables.note(start[name][1])]
        bli = (details.get(name) or {}).get("bli")
        if isinstance(bli, dict) and bli:
            blocks.append(tables.bli_table(bli, caption=f"{name}: word translation (BLI)"))
    return blocks


def _detail_sections(run: ProbeRun, start: dict[str, tuple[int, str]]) -> list[Section]:
    """CKA heatmaps, similarity distributions and word alignments from ``details.json`` (those present)."""
    details = run.details.get("pairs") or {}
    cka: list[Block] = []
    for name, pair in run.pairs.items():
        grid = (details.get(name) or {}).get("cka_layers")
        if isinstance(grid, dict) and grid:
            cka.append(safe(f"layer CKA {name}", figures.cka_layer_heatmaps, grid, layers_of(pair),
                            title=f"{name}: layer × layer CKA within the model"))
    lang_cka = run.details.get("language_cka")
    if isinstance(lang_cka, dict):
        cka.append(safe("language CKA", figures.language_cka_heatmap, lang_cka))
    sims: list[Block] = []
    words: list[Block] = []
    for name in run.pairs:
        sim = (details.get(name) or {}).get("similarity")
        if isinstance(sim, list) and sim:
            sims.append(safe(f"similarity {name}", figures.similarity_distributions, sim,
                             initial_layer=start.get(name, (None,))[0],
                             title=f"{name}: cosine of translations vs random pairs"))
        examples = (details.get(name) or {}).get("word_alignment_examples")
        for i, ex in enumerate(examples if isinstance(examples, list) else []):
            if isinstance(ex, dict):
                words.append(safe(f"word alignment {name} #{i + 1}", figures.word_alignment_example, ex,
                                  title=f"{name} example {i + 1}"))
    return [Section(title, blocks) for title, blocks in (("CKA", cka), ("Similarity distributions", sims),
                                                          ("Word alignments", words)) if blocks]


def accuracy_section(run: ProbeRun, task: TaskAccuracy) -> Section:
    """A train run's accuracy against this probe's alignment, one point per language both have."""
    block = accuracy_alignment_block(run, task.eval, chance=task.chance)
    if block is None:
        block = tables.note(f"{task.source}: fewer than 3 of its evaluation languages are probed here, so accuracy "
                            "cannot be drawn against alignment.", cls="warn")
    return Section("Accuracy against alignment", [block])


def probe_sections(run: ProbeRun, opts: ReportOptions, *, manifest_title: str = "Summary",
                   task: TaskAccuracy | None = None) -> list[Section]:
    """Summary, layer curves, CKA heatmaps, embedding maps, similarity distributions, word alignments; a run
    over many languages (the atlas) gets the atlas sections instead of one set of figures per pair; ``task``
    adds a train run's accuracy against alignment."""
    pairs = run.pairs
    check_layer(opts.layer, [x for p in pairs.values() for x in layers_of(p)], str(run.path))
    extra = [accuracy_section(run, task)] if task is not None and isinstance(task.eval.get("accuracy"), dict) else []
    if is_atlas(run.metrics):
        sections = atlas_sections(run, opts, manifest_title=manifest_title)
        return sections[:2] + extra + sections[2:]
    seed = run_seed(opts, run.manifest)
    start = {name: headline_layer(pair, opts.layer) for name, pair in pairs.items() if pair.layers}
    sections = [Section(manifest_title, _summary(run, start))]
    sections.append(Section("Layer curves", [
        safe(f"layer curves {name}", figures.layer_curves, pair, title=f"{name}: alignment per layer")
        for name, pair in pairs.items()]))
    details = _detail_sections(run, start)
    sections += extra + [s for s in details if s.title == "CKA"]
    if run.embeddings:
        maps_blocks: list[Block] = []
        for name, emb in run.embeddings.items():
            maps_blocks += map_figures([(f"{name}: sentence embeddings", emb)], opts, seed=seed,
                                       layer=start.get(name, (emb.layers[0],))[0], cache_dir=run.path)
        sections.append(Section("Embedding maps", maps_blocks))
    sections += [s for s in details if s.title != "CKA"]
    sections.append(Section("Run details", [tables.collapsible("run manifest (model, data files and hashes, "
                                                               "versions)", tables.manifest_table(run.manifest))]))
    return sections
