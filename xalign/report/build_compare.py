"""The sections of a compare report: models, headline deltas, before/after curves, model × model CKA, and
the models' embedding maps projected jointly (one fit per layer) so that they can be compared."""

from __future__ import annotations

from urllib.parse import quote

from xalign.report import figures_compare, tables
from xalign.report.build import headline_layer, map_figures
from xalign.report.build_atlas import compare_atlas_sections, is_atlas, models_table
from xalign.report.options import ReportOptions, check_layer, layers_of, run_seed, safe
from xalign.report.escaping import html_text
from xalign.report.loaders import CompareRun
from xalign.report.page import Block, Row, Section

__all__ = ["compare_sections"]


def _start_layers(run: CompareRun, opts: ReportOptions) -> dict[str, tuple[int, str]]:
    """One layer per pair for the table and every model's map: the first model's headline layer."""
    first = run.models.get(run.labels[0]) if run.labels else None
    start: dict[str, tuple[int, str]] = {}
    for name, pair in run.comparison.pairs.items():
        ref = first.pairs.get(name) if first is not None else None
        if ref is not None and ref.layers:
            layer, why = headline_layer(ref, opts.layer)
            start[name] = (layer, f"{why} (as measured on {run.labels[0]})")
        elif pair.layers:
            layer = opts.layer if opts.layer in layers_of(pair) else layers_of(pair)[len(pair.layers) // 2]
            start[name] = (layer, f"Layer {layer} is shown first (the first model's probe run is not in the folder).")
    return start


def _links(run: CompareRun) -> list[Block]:
    labs = [lab for lab, sub in run.models.items() if sub is not None and (sub.path / "report.html").is_file()]
    if not labs:
        return []
    return [tables.Html("<p>Each model's own report: " + ", ".join(
        f'<a href="{html_text(quote((run.models[lab].path / "report.html").relative_to(run.path).as_posix()))}">'
        f"{html_text(lab)}</a>" for lab in labs) + "</p>")]


def _maps(run: CompareRun, opts: ReportOptions, start: dict[str, tuple[int, str]]) -> list[Block]:
    blocks: list[Block] = []
    seed = run_seed(opts, run.manifest)
    for name in run.comparison.pairs:
        embs = [(f"{label}: {name}", sub.embeddings[name]) for label, sub in run.models.items()
                if sub is not None and name in sub.embeddings]
        if embs:
            layer = start.get(name, (embs[0][1].layers[0],))[0]
            drawn = map_figures(embs, opts, seed=seed, layer=layer, cache_dir=run.path)
            notes = [b for b in drawn if isinstance(b, tables.Html)]
            figs = [b for b in drawn if not isinstance(b, tables.Html)]
            blocks += [tables.Html(f"<h3>{html_text(name)}</h3>"), *notes] + ([Row(figs)] if figs else [])
    return blocks


def compare_sections(run: CompareRun, opts: ReportOptions) -> list[Section]:
    """Summary, before/after curves with deltas, model × model CKA, side-by-side embedding maps; a
    comparison over many languages gets the atlas sections instead of one set of figures per pair."""
    labels, pairs = run.labels, run.comparison.pairs
    check_layer(opts.layer, [x for p in pairs.values() for x in layers_of(p)], str(run.path))
    if is_atlas(run.comparison):
        return compare_atlas_sections(run, opts)
    start = _start_layers(run, opts)
    summary: list[Block] = [models_table(run)]
    for name, pair in pairs.items():
        if name in start:
            keys = [k for k in figures_compare.compare_metric_keys(pair) if tables.is_headline(k)]
            summary += [tables.compare_table(pair, labels, start[name][0], keys), tables.note(start[name][1])]
    summary += [tables.note("Δ is the after-model minus the first model; its 95% CI and two-sided p-value come "
                            "from a paired bootstrap over the same sentences.")] + _links(run)
    sections = [Section("Summary", summary)]
    sections.append(Section("Before / after per layer", [
        safe(f"compare curves {name}", figures_compare.compare_curves, pair, labels,
             title=f"{name}: {' vs '.join(labels)}") for name, pair in pairs.items()]))
    ckas = [safe(f"model CKA {name}", figures_compare.model_cka_heatmaps, pair.model_cka, labels[0],
                 layers=layers_of(pair), title=f"{name}: model × model layer CKA")
            for name, pair in pairs.items() if pair.model_cka]
    if ckas:
        sections.append(Section("Model × model CKA", ckas))
    maps_section = _maps(run, opts, start)
    if maps_section:
        sections.append(Section("Embedding maps side by side", maps_section))
    sections.append(Section("Run details", [tables.collapsible("run manifest", tables.manifest_table(run.manifest))]))
    return sections
