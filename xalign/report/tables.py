"""HTML tables for the report's summary: every value passes through :func:`html_text`.

Functions return :class:`Html`, a ``str`` marking markup that is already safe to insert.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from xalign.report.escaping import html_text
from xalign.report.style import ci_pair, dig, finite

__all__ = ["Html", "table", "manifest_table", "best_table", "layer_table", "compare_table", "note", "collapsible",
           "is_headline", "notes_list"]


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


def _fmt_pct(value: Any) -> str:
    v = finite(value)
    return "" if v is None else f"{v:.3f}"


def _fmt_ci(value: Any) -> str:
    ci = ci_pair(value)
    return "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


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


def best_table(pairs: dict[str, Any], *, headline_only: bool = False, caption: str = "best layer per metric") -> Html:
    """For each pair, each ``best`` metric with its human label, layer and rounded value (registry)."""
    from xalign.results.registry import format_value, metric_label

    rows = []
    for pair, block in pairs.items():
        best = block.get("best") or {}
        n = block.get("n", "")
        for key, spec in best.items():
            if not headline_only or is_headline(key):
                rows.append((pair, n, metric_label(key), dig(spec, "layer"), format_value(key, finite(dig(spec, "value")))))
    return table(["pair", "n", "metric", "best layer", "value"], rows, caption=caption, cls="summary")


def notes_list(pairs: dict[str, Any]) -> Html:
    """Caveats recorded with the results (e.g. P@k not reported because k ≥ n), one paragraph each."""
    items = [f"{pair}: {note}" for pair, block in pairs.items() for note in (block.get("notes") or [])
             if isinstance(note, str)]
    return Html("".join(note(text, cls="warn") for text in items))


def collapsible(summary: str, content: Html) -> Html:
    """``content`` inside a closed ``<details>`` element."""
    return Html(f"<details><summary>{html_text(summary)}</summary>{content}</details>")


def layer_table(pair_block: dict[str, Any], layer: int, *, pair: str = "") -> Html:
    """Every retrieval rule and direction at one layer: P@1 (CI), P@5, P@10, MRR, hubness."""
    entry = next((e for e in pair_block.get("layers") or [] if e.get("layer") == layer), None)
    if entry is None:
        return note(f"layer {layer} is not in this run")
    rows = []
    for rule, by_dir in (entry.get("retrieval") or {}).items():
        for direction, vals in (by_dir or {}).items():
            if isinstance(vals, dict) and "p@1" in vals:
                rows.append((rule, direction, _fmt_pct(vals.get("p@1")), _fmt_ci(vals.get("p@1_ci95")),
                             _fmt_pct(vals.get("p@5")), _fmt_pct(vals.get("p@10")), _fmt_pct(vals.get("mrr")),
                             _fmt_pct(vals.get("hubness"))))
    cka = entry.get("cka") or {}
    if cka:
        rows.append(("CKA linear", "", _fmt_pct(cka.get("linear")), _fmt_ci(cka.get("linear_ci95")), "", "", "",
                     ""))
    return table(["rule", "direction", "P@1", "P@1 95% CI", "P@5", "P@10", "MRR", "hubness"], rows,
                 caption=f"{pair + ': ' if pair else ''}retrieval at layer {layer}", cls="summary")


def compare_table(pair_block: dict[str, Any], labels: list[str], layer: int, keys: list[str]) -> Html:
    """Selected metrics at one layer: each model's value, and delta / CI / p-value of each after-model."""
    entry = next((e for e in pair_block.get("layers") or [] if e.get("layer") == layer), None)
    if entry is None:
        return note(f"layer {layer} is not in this comparison")
    from xalign.results.registry import format_value, metric_label

    before, afters = labels[0], labels[1:]
    header = ["metric", *labels]
    for label in afters:
        header += [f"Δ {label}", "95% CI", "p"]
    rows = []
    for key in keys:
        m = dig(entry, "metrics", key)
        if not isinstance(m, dict):
            continue
        row: list[Any] = [metric_label(key)] + [format_value(key, finite(m.get(label))) for label in labels]
        for label in afters:
            d = finite(dig(m, "delta", label))
            p = finite(dig(m, "p_value", label))
            row += ["" if d is None else f"{d:+.3f}", _fmt_ci(dig(m, "ci95", label)),
                    "" if p is None else f"{p:.3g}"]
        rows.append(row)
    return table(header, rows, caption=f"{before} vs {', '.join(afters)} at layer {layer}", cls="summary")
