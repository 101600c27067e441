"""Turning a loaded run into page sections: which figures and tables a probe, compare or train report has.

Figures that cannot be drawn from malformed or partial inputs become a visible note (and a logged
warning) instead of failing the whole report; absent optional inputs simply leave their section out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

from xalign.report import figures, figures_compare, figures_train, maps, tables
from xalign.report.escaping import html_text
from xalign.report.loaders import CompareRun, PairEmbeddings, ProbeRun, TrainRun
from xalign.report.page import Block, Row, Section
from xalign.report.projection import project_pair_layers

from xalign.errors import ConfigError
logger = logging.getLogger(__name__)

__all__ = ["ReportOptions", "probe_sections", "compare_sections", "train_sections", "initial_layer"]

PROJECTIONS = ("auto", "umap", "pca")


@dataclass(frozen=True)
class ReportOptions:
    """What the page shows first and how maps are drawn.

    ``layer``: the layer shown first by sliders and summary tables (None: the best CSLS/cosine P@1
    layer of each pair); ``max_points``: sentences per language in an embedding map;
    ``projection``: auto (UMAP, PCA for tiny sets), umap or pca; ``seed``: subsampling and UMAP
    seed (None: the run manifest's seed, else 0).
    """

    layer: int | None = None
    max_points: int = 1000
    projection: str = "auto"
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.layer is not None and (isinstance(self.layer, bool) or not isinstance(self.layer, int)):
            raise TypeError(f"layer must be an int or None, got {type(self.layer).__name__}")
        if self.layer is not None and self.layer < 0:
            raise ConfigError(f"layer must be >= 0, got {self.layer}")
        if isinstance(self.max_points, bool) or not isinstance(self.max_points, int):
            raise TypeError(f"max_points must be an int, got {type(self.max_points).__name__}")
        if self.max_points < 1:
            raise ConfigError(f"max_points must be >= 1, got {self.max_points}")
        if self.projection not in PROJECTIONS:
            raise ConfigError(f"projection must be one of {list(PROJECTIONS)}, got {self.projection!r}")


def _safe(what: str, build: Callable[..., Any], *args: Any, **kwargs: Any) -> Block:
    try:
        return build(*args, **kwargs)
    except ValueError as exc:
        logger.warning("report: %s skipped: %s", what, exc)
        return tables.note(f"{what} could not be drawn: {exc}", cls="warn")


def _layers_of(block: dict[str, Any]) -> list[int]:
    return [int(e["layer"]) for e in block.get("layers") or []]


def initial_layer(block: dict[str, Any], requested: int | None) -> int:
    """``requested`` when the pair has it, else its best CSLS (or cosine) src→tgt P@1 layer, else the middle."""
    layers = _layers_of(block)
    if not layers:
        raise ConfigError("a pair without layers")
    if requested is not None and requested in layers:
        return requested
    best = block.get("best") or {}
    src, tgt = block.get("src_lang"), block.get("tgt_lang")
    preferred = [f"retrieval.csls.{src}->{tgt}.p@1", f"retrieval.cosine.{src}->{tgt}.p@1"]
    preferred += [k for k in best if k.startswith("retrieval.") and k.endswith(".p@1")]
    for key in preferred:
        layer = (best.get(key) or {}).get("layer")
        if layer in layers:
            return int(layer)
    return layers[len(layers) // 2]


def check_layer(requested: int | None, available: list[int], where: str) -> None:
    """Reject a ``--layer`` that no pair of the run has."""
    if requested is not None and requested not in available:
        raise ConfigError(f"layer {requested} is not in {where}; its layers are {sorted(set(available))}")


def _seed(opts: ReportOptions, manifest: dict[str, Any]) -> int:
    if opts.seed is not None:
        return opts.seed
    seed = manifest.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


def map_figure(emb: PairEmbeddings, opts: ReportOptions, *, seed: int, layer: int, title: str) -> Block:
    """Project (display only) and draw one pair's embedding map."""
    def build() -> Any:
        proj = project_pair_layers(emb.src, emb.tgt, emb.layers, max_points=opts.max_points, seed=seed,
                                   method=opts.projection)
        return maps.embedding_map(proj, emb.src_texts, emb.tgt_texts, src_lang=emb.src_lang, tgt_lang=emb.tgt_lang,
                                  initial_layer=layer, title=title)
    return _safe(f"embedding map {emb.pair}", build)


def probe_sections(run: ProbeRun, opts: ReportOptions, *, manifest_title: str = "Summary") -> list[Section]:
    """Summary, layer curves, CKA heatmaps, embedding maps, similarity distributions, word alignments."""
    pairs = run.pairs
    check_layer(opts.layer, [x for b in pairs.values() for x in _layers_of(b)], str(run.path))
    seed = _seed(opts, run.manifest)
    details = run.details.get("pairs") or {}
    start = {pair: initial_layer(block, opts.layer) for pair, block in pairs.items() if _layers_of(block)}
    summary: list[Block] = [
        tables.best_table(pairs, headline_only=True, caption="headline numbers: best layer per metric"),
        tables.notes_list(pairs),
        tables.collapsible("all metrics: best layer", tables.best_table(pairs))]
    for pair, block in pairs.items():
        if pair in start:
            summary.append(tables.layer_table(block, start[pair], pair=pair))
        bli = (details.get(pair) or {}).get("bli")
        if isinstance(bli, dict) and bli:
            summary.append(tables.table(["BLI", "value"], list(bli.items()), caption=f"{pair}: word translation"))
    sections = [Section(manifest_title, summary)]
    sections.append(Section("Layer curves", [
        _safe(f"layer curves {pair}", figures.layer_curves, block, title=f"{pair}: alignment per layer")
        for pair, block in pairs.items()]))
    cka: list[Block] = []
    for pair, block in pairs.items():
        grid = (details.get(pair) or {}).get("cka_layers")
        if isinstance(grid, dict) and grid:
            cka.append(_safe(f"layer CKA {pair}", figures.cka_layer_heatmaps, grid, _layers_of(block),
                             title=f"{pair}: layer × layer CKA within the model"))
    lang_cka = run.details.get("language_cka")
    if isinstance(lang_cka, dict):
        cka.append(_safe("language CKA", figures.language_cka_heatmap, lang_cka))
    if cka:
        sections.append(Section("CKA", cka))
    if run.embeddings:
        sections.append(Section("Embedding maps", [
            map_figure(emb, opts, seed=seed, layer=start.get(pair, emb.layers[0]),
                       title=f"{pair}: sentence embeddings") for pair, emb in run.embeddings.items()]))
    sims: list[Block] = []
    for pair in pairs:
        sim = (details.get(pair) or {}).get("similarity")
        if isinstance(sim, list) and sim:
            sims.append(_safe(f"similarity {pair}", figures.similarity_distributions, sim,
                              initial_layer=start.get(pair), title=f"{pair}: cosine of translations vs random pairs"))
    if sims:
        sections.append(Section("Similarity distributions", sims))
    words: list[Block] = []
    for pair in pairs:
        examples = (details.get(pair) or {}).get("word_alignment_examples")
        for i, ex in enumerate(examples if isinstance(examples, list) else []):
            if isinstance(ex, dict):
                words.append(_safe(f"word alignment {pair} #{i + 1}", figures.word_alignment_example, ex,
                                   title=f"{pair} example {i + 1}"))
    if words:
        sections.append(Section("Word alignments", words))
    sections.append(Section("Run details", [tables.collapsible("run manifest (model, data files and hashes, "
                                                               "versions)", tables.manifest_table(run.manifest))]))
    return sections


def compare_sections(run: CompareRun, opts: ReportOptions) -> list[Section]:
    """Summary, before/after curves with deltas, model × model CKA, side-by-side embedding maps."""
    doc = run.compare
    labels = [str(m["label"]) for m in doc["models"]]
    pairs: dict[str, Any] = doc.get("pairs") or {}
    check_layer(opts.layer, [x for b in pairs.values() for x in _layers_of(b)], str(run.path))
    seed = _seed(opts, run.manifest)
    rows = []
    for m in doc["models"]:
        sub = run.models.get(str(m["label"]))
        model = (sub.manifest.get("model") if sub is not None else None) or {}
        rows.append((m["label"], m.get("name", model.get("name", "")), m.get("revision", model.get("revision", "")),
                     m.get("run_dir", "")))
    summary: list[Block] = [tables.table(["label", "model", "revision", "run dir"], rows, caption="models")]
    first = run.models.get(labels[0]) if labels else None
    start: dict[str, int] = {}  # one layer per pair for the table and every model's map
    for pair, block in pairs.items():
        ref = first.pairs.get(pair) if first is not None else None
        if ref and _layers_of(ref):
            start[pair] = initial_layer(ref, opts.layer)
        elif _layers_of(block):
            start[pair] = initial_layer(block, opts.layer)
        else:
            continue
        keys = [k for k in figures_compare.compare_metric_keys(block) if tables.is_headline(k)]
        summary.append(tables.compare_table(block, labels, start[pair], keys))
    links = [lab for lab, sub in run.models.items() if sub is not None and (sub.path / "report.html").is_file()]
    if links:
        summary.append(tables.Html("<p>Each model's own report: " + ", ".join(
            f'<a href="{html_text(quote((run.models[lab].path / "report.html").relative_to(run.path).as_posix()))}">'
            f"{html_text(lab)}</a>" for lab in links) + "</p>"))
    sections = [Section("Summary", summary)]
    sections.append(Section("Before / after per layer", [
        _safe(f"compare curves {pair}", figures_compare.compare_curves, block, labels,
              title=f"{pair}: {' vs '.join(labels)}") for pair, block in pairs.items()]))
    ckas = [_safe(f"model CKA {pair}", figures_compare.model_cka_heatmaps, block["model_cka"], labels[0],
                  layers=_layers_of(block), title=f"{pair}: model × model layer CKA")
            for pair, block in pairs.items() if isinstance(block.get("model_cka"), dict) and block["model_cka"]]
    if ckas:
        sections.append(Section("Model × model CKA", ckas))
    maps_section: list[Block] = []
    for pair in pairs:
        row: list[Block] = []
        for label, sub in run.models.items():
            emb = sub.embeddings.get(pair) if sub is not None else None
            if emb is not None:
                row.append(map_figure(emb, opts, seed=seed, layer=start.get(pair, emb.layers[0]),
                                      title=f"{label}: {pair}"))
        if row:
            maps_section += [tables.Html(f"<h3>{html_text(pair)}</h3>"), Row(row)]
    if maps_section:
        sections.append(Section("Embedding maps side by side", maps_section))
    sections.append(Section("Run details", [tables.collapsible("run manifest", tables.manifest_table(run.manifest))]))
    return sections


def train_sections(run: TrainRun, opts: ReportOptions) -> list[Section]:
    """Summary (method, task, results, config, manifest), loss curve, accuracy bars, generalized heatmap,
    then the probe sections when the run directory also holds a probe."""
    doc = run.train
    ev = doc.get("eval") if isinstance(doc.get("eval"), dict) else {}
    select = doc.get("select") if isinstance(doc.get("select"), dict) else {}
    summary: list[Block] = [tables.table(["", ""], train_summary_rows(doc), caption="training run", cls="manifest")]
    raw: list[Block] = []
    for key, caption in (("config", "configuration"), ("robust", "robustness settings"), ("data", "data")):
        if isinstance(doc.get(key), dict) and doc[key]:
            raw.append(tables.collapsible(caption, tables.table(["field", "value"], list(doc[key].items()),
                                                                cls="manifest")))
    manifest = run.manifest or (doc.get("manifest") if isinstance(doc.get("manifest"), dict) else {})
    if manifest:
        raw.append(tables.collapsible("run manifest", tables.manifest_table(manifest)))
    sections = [Section("Training summary", summary)]
    figs: list[Block] = []
    if doc.get("history") or select.get("curve"):
        figs.append(_safe("loss curve", figures_train.loss_curve, doc.get("history") or [],
                          select_curve=select.get("curve"), best_step=select.get("best_step"), title="training"))
    if isinstance(ev.get("accuracy"), dict) or isinstance(ev.get("smoothed_accuracy"), dict):
        figs.append(_safe("accuracy bars", figures_train.accuracy_bars, ev, title="accuracy per language"))
    if isinstance(ev.get("generalized"), dict):
        figs.append(_safe("generalized accuracy", figures_train.generalized_heatmap, ev["generalized"],
                          title="generalized cross-lingual accuracy (l1 × l2)"))
    if figs:
        sections.append(Section("Training", figs))
    if run.probe is not None:
        sections += probe_sections(run.probe, opts, manifest_title="Probe summary")
    if raw:
        sections.append(Section("Run details", raw))
    return sections


_TRAIN_LABELS = {"method": "method", "task": "task", "steps": "training steps", "train_runtime_s": "training time",
                 "wall_time_s": "wall time"}


def _duration(seconds: Any) -> str:
    from xalign.report.style import finite

    v = finite(seconds)
    if v is None:
        return ""
    return f"{v / 60:.1f} min" if v >= 120 else f"{v:.0f} s"


def train_summary_rows(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    """Human-labelled, rounded facts of a training run: no per-item strings, no empty values."""
    from xalign.report.style import finite

    rows: list[tuple[str, Any]] = []
    for key, label in _TRAIN_LABELS.items():
        value = doc.get(key)
        if value in (None, "", {}, []):
            continue
        rows.append((label, _duration(value) if key.endswith("_s") else value))
    select = doc.get("select") if isinstance(doc.get("select"), dict) else {}
    if finite(select.get("accuracy")) is not None:
        rows.append(("selection accuracy (English dev)", f"{float(select['accuracy']):.3f}"))
    if isinstance(select.get("best_step"), int):
        rows.append(("selected step", select["best_step"]))
    ev = doc.get("eval") if isinstance(doc.get("eval"), dict) else {}
    if isinstance(ev.get("split"), str):
        rows.append(("evaluation split", ev["split"]))
    for lang, value in (ev.get("accuracy") or {}).items() if isinstance(ev.get("accuracy"), dict) else []:
        if finite(value) is not None:
            n = len(ev.get("correct", {}).get(lang, "")) if isinstance(ev.get("correct"), dict) else 0
            rows.append((f"accuracy {lang}", f"{float(value):.3f}" + (f" (n = {n})" if n else "")))
    return rows
