"""HTML tables for the report's summary: every value passes through :func:`html_text`.

Functions return :class:`Html`, a ``str`` marking markup that is already safe to insert.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from xalign.report.escaping import html_text
from xalign.report.style import finite, format_ci, format_delta, format_p
from xalign.results.registry import RULE_LABELS, format_value, metric_label
from xalign.results.types import PairComparison, PairMetrics

__all__ = ["Html", "table", "manifest_table", "best_table", "layer_table", "compare_table", "note", "collapsible",
           "is_headline", "notes_list", "bli_table"]


class Html(str):
    """Markup that is already escaped (built only by this module and :mod:`xalign.report.page`)."""


def _cell(value: Any) -> str:
    if isinstance(value, Html):
        return value
    if isinstance(value, float):
        return html_text(f"{value:.4f}")
    if isinstance(value, (dict, list)):
        return f"<code>{html_text(json.dumps(value, ensure_ascii=False, sort_keys=True))}</code>"
    return html_text("" if value is None else value)


def table(header: list[str], rows: Iterable[Iterable[Any]], *, caption: str = "", cls: str = "") -> Html:
    """A table whose header and cells are escaped (``Html`` cells are inserted as they are)."""
    head = "".join(f"<th>{html_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{html_text(caption)}</caption>" if caption else ""
    klass = f' class="{html_text(cls)}"' if cls else ""
    return Html(f"<table{klass}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def note(text: str, *, cls: str = "note") -> Html:
    """A paragraph of escaped text."""
    return Html(f'<p class="{html_text(cls)}">{html_text(text)}</p>')


def _fmt(value: float | None) -> str:
    v = finite(value)
    return "" if v is None else f"{v:.3f}"


def manifest_table(manifest: dict[str, Any]) -> Html:
    """Model, revision, data files and hashes, preset, pooling, seed, versions and the rest of the manifest."""
    rows: list[tuple[str, Any]] = []
    model = manifest.get("model")
    if isinstance(model, dict):
        for key in ("name", "revision", "num_layers", "hidden_size"):
            if key in model:
                rows.append((f"model {key}", model[key]))
        rows += [(f"model {k}", v) for k, v in model.items() if k not in {"name", "revision", "num_layers",
                                                                          "hidden_size"}]
    elif model is not None:
        rows.append(("model", model))
    for key in ("command", "preset", "pooling", "prefix", "seed", "created", "seconds", "platform"):
        if key in manifest:
            rows.append((key, manifest[key]))
    data = manifest.get("data")
    if isinstance(data, list):
        for i, item in enumerate(data):
            rows.append((f"data {i + 1}", _data_cell(item) if isinstance(item, dict) else item))
    versions = manifest.get("versions")
    if isinstance(versions, dict):
        rows.append(("versions", Html(", ".join(f"{html_text(k)} {html_text(v)}" for k, v in versions.items()))))
    shown = {"model", "data", "versions", "command", "preset", "pooling", "prefix", "seed", "created", "seconds",
             "platform"}
    rows += [(k, v) for k, v in manifest.items() if k not in shown]
    return table(["field", "value"], rows, caption="run manifest", cls="manifest")


def is_headline(key: str) -> bool:
    """Metrics shown in the short summary (the registry decides: :func:`xalign.results.is_headline`)."""
    from xalign.results.registry import is_headline as registry_headline

    return registry_headline(key)


def _data_cell(item: dict[str, Any]) -> Html:
    """A data record: its path or name, hash, and each source file with its hash; other fields as JSON."""
    label = item.get("path") or item.get("name") or "?"
    parts = [_cell(label)]
    if "sha256" in item:
        parts.append(f"<code>sha256 {_cell(item['sha256'])}</code>")
    sources = item.get("sources")
    if isinstance(sources, list):
        for src in sources:
            if isinstance(src, dict):
                parts.append(f"<code>{_cell(src.get('path', '?'))} sha256 {_cell(src.get('sha256', '?'))}</code>")
    rest = {k: v for k, v in item.items() if k not in {"path", "sha256", "sources"}
            and not (k == "name" and label == v)}
    if rest:
        parts.append(_cell(rest))
    return Html("<br>".join(parts))


def best_table(pairs: dict[str, PairMetrics], *, headline_only: bool = False,
               caption: str = "best layer per metric") -> Html:
    """For each pair, each ``best`` metric with its human label, layer and rounded value (registry)."""
    rows = []
    for name, pair in pairs.items():
        for key, best in pair.best.items():
            if not headline_only or is_headline(key):
                rows.append((name, pair.n, metric_label(key), best.layer, format_value(key, finite(best.value))))
    return table(["pair", "n", "metric", "best layer", "value"], rows, caption=caption, cls="summary")


def notes_list(pairs: dict[str, PairMetrics]) -> Html:
    """Caveats recorded with the results (e.g. P@k not reported because k ≥ n), one paragraph each."""
    return Html("".join(note(f"{name}: {text}", cls="warn") for name, pair in pairs.items() for text in pair.notes))


def collapsible(summary: str, content: Html) -> Html:
    """``content`` inside a closed ``<details>`` element."""
    return Html(f"<details><summary>{html_text(summary)}</summary>{content}</details>")


def layer_table(pair: PairMetrics, layer: int, *, name: str = "") -> Html:
    """Every retrieval rule and direction at one layer: P@1 (CI), P@5, P@10, MRR, hubness (retrieval only)."""
    entry = pair.layer(layer)
    if entry is None:
        return note(f"layer {layer} is not in this run")
    rows = []
    for key, mv in entry.values.items():
        parts = key.split(".")
        if len(parts) != 4 or parts[0] != "retrieval" or parts[3] != "p@1":
            continue
        base = ".".join(parts[:3])
        rows.append((RULE_LABELS.get(parts[1], parts[1]), parts[2].replace("->", "→"), _fmt(mv.value),
                     format_ci(mv.ci95), *(_fmt(entry.value(f"{base}.{leaf}")) for leaf in ("p@5", "p@10", "mrr")),
                     format_value(f"{base}.hubness", entry.value(f"{base}.hubness"))))
    return table(["rule", "direction", "P@1", "P@1 95% CI", "P@5", "P@10", "MRR", "hubness"], rows,
                 caption=f"{name + ': ' if name else ''}retrieval at layer {layer}", cls="summary")


def bli_table(facts: dict[str, Any], *, caption: str) -> Html:
    """``details.bli`` as readable rows: the dictionary, vocabulary sizes, and the static input-embedding
    scores one per row with their registry labels (never a raw JSON object)."""
    labels = {"dictionary": "dictionary", "src_vocabulary": "source words found in the corpus",
              "tgt_vocabulary": "target words found in the corpus"}
    rows: list[tuple[str, Any]] = []
    for key, value in facts.items():
        if key == "static_input_embeddings" and isinstance(value, dict):
            for sub, v in value.items():
                rows.append((f"{metric_label('bli.' + sub)}, static input embeddings",
                             format_value("bli." + sub, finite(v))))
        elif isinstance(value, dict):
            rows += [(f"{labels.get(key, key)}: {k}", v) for k, v in value.items()]
        else:
            rows.append((labels.get(key, key), value))
    return table(["BLI", "value"], rows, caption=caption)


def compare_table(pair: PairComparison, labels: list[str], layer: int, keys: list[str]) -> Html:
    """Selected metrics at one layer: each model's value, and delta / CI / p-value of each after-model."""
    entry = next((e for e in pair.layers if e.layer == layer), None)
    if entry is None:
        return note(f"layer {layer} is not in this comparison")
    before, afters = labels[0], labels[1:]
    header = ["metric", *labels]
    for label in afters:
        header += [f"Δ {label}", "Δ 95% CI", "p (paired)"]
    rows = []
    for key in keys:
        m = entry.metrics.get(key)
        if m is None:
            continue
        row: list[Any] = [metric_label(key)] + [format_value(key, finite(m.values.get(label))) for label in labels]
        for label in afters:
            d = m.deltas.get(label)
            row += ["", "", ""] if d is None else [format_delta(d.value), format_ci(d.ci95, delta=True),
                                                   format_p(d.p_value)]
        rows.append(row)
    return table(header, rows, caption=f"{before} vs {', '.join(afters)} at layer {layer}", cls="summary")
