"""The one place where probe and compare results become JSON/CSV documents and are read back.

``metrics.json`` (probe) nests each metric key by its dots: ``retrieval.csls.en->sw.p@1`` is
``layer["retrieval"]["csls"]["en->sw"]["p@1"]`` with its CI beside it as ``"p@1_ci95": [lo, hi]``;
each pair block also has ``"best"`` (``{key: {"layer", "value"}}``) and ``"notes"`` (caveats).
``compare.json`` keeps flat keys: ``layer["metrics"][key] = {label: value, "delta": {label: d},
"ci95": {label: [lo, hi]}, "p_value": {label: p}}``. Readers validate the structure and raise
:class:`~xalign.errors.DataError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xalign.errors import DataError
from xalign.results.types import (Comparison, LayerComparison, LayerValues, MetricComparison, MetricValue,
                                  PairComparison, PairMetrics, ProbeMetrics)

__all__ = ["CSV_FIELDS", "COMPARE_RESERVED", "probe_to_json", "probe_from_json", "comparison_to_json",
           "comparison_from_json", "iter_metrics_rows", "iter_probe_json", "pair_to_json", "layer_to_json",
           "layer_from_json", "metrics_rows", "read_document", "read_probe_metrics", "read_comparison",
           "write_probe_metrics", "write_comparison", "rounded"]

CSV_FIELDS = ["pair", "layer", "metric", "value", "ci95_lo", "ci95_hi"]
#: keys of a compare metric entry that are not model labels
COMPARE_RESERVED = ("delta", "ci95", "p_value", "p_holm")


def rounded(x: float, digits: int = 6) -> float:
    return float(round(float(x), digits))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _ci(v: Any, where: str) -> tuple[float, float]:
    if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_number(x) for x in v)):
        raise DataError(f"{where}: expected a 95% interval [low, high] of two numbers, found {v!r:.60}")
    return float(v[0]), float(v[1])


# ----------------------------------------------------------------------------- probe
def layer_to_json(entry: LayerValues) -> dict[str, Any]:
    """A layer's nested JSON object (values rounded to 6 digits)."""
    out: dict[str, Any] = {"layer": entry.layer}
    items: list[tuple[str, Any]] = [(k, v) for k, v in entry.info.items()]
    items += [(k, v) for k, v in entry.values.items()]
    for key, v in items:
        *path, leaf = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        if isinstance(v, MetricValue):
            node[leaf] = rounded(v.value)
            if v.ci95 is not None:
                node[f"{leaf}_ci95"] = [rounded(v.ci95[0]), rounded(v.ci95[1])]
            if v.p_value is not None:
                node[f"{leaf}_p_value"] = rounded(v.p_value)
        else:
            node[leaf] = v
    return out


def layer_from_json(obj: Any, where: str) -> LayerValues:
    if not isinstance(obj, dict) or not isinstance(obj.get("layer"), int) or isinstance(obj.get("layer"), bool):
        raise DataError(f"{where}: expected an object with an integer 'layer', found {obj!r:.80}")
    entry = LayerValues(layer=int(obj["layer"]))

    def visit(node: dict[str, Any], prefix: str) -> None:
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if k.endswith(("_ci95", "_p_value")):
                continue
            if isinstance(v, dict):
                visit(v, key)
            elif _is_number(v):
                ci = _ci(node[f"{k}_ci95"], f"{where}.{key}_ci95") if f"{k}_ci95" in node else None
                p = node.get(f"{k}_p_value")
                entry.values[key] = MetricValue(float(v), ci, float(p) if _is_number(p) else None)
            elif isinstance(v, str):
                entry.info[key] = v
            elif v is not None:
                raise DataError(f"{where}.{key}: expected a number, a string or an object, found {v!r:.60}")

    visit({k: v for k, v in obj.items() if k != "layer"}, "")
    return entry


def pair_to_json(p: PairMetrics) -> dict[str, Any]:
    """One pair's block of ``metrics.json``."""
    return {"src_lang": p.src_lang, "tgt_lang": p.tgt_lang, "n": p.n, "layers": [layer_to_json(e) for e in p.layers],
            "best": {k: {"layer": b.layer, "value": rounded(b.value)} for k, b in p.best.items()},
            "notes": list(p.notes)}


def probe_to_json(result: ProbeMetrics) -> dict[str, Any]:
    """The ``metrics.json`` document."""
    return {"manifest": result.manifest, "pairs": {name: pair_to_json(p) for name, p in result.pairs.items()}}


def _dumps(obj: Any, indent: int) -> str:
    """``obj`` as in an ``indent=2`` document, nested ``indent`` spaces deep."""
    from xalign.io import to_jsonable

    text = json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False)
    return text.replace("\n", "\n" + " " * indent)


def iter_probe_json(result: ProbeMetrics) -> Iterator[str]:
    """The text of ``metrics.json`` (exactly ``json.dumps(probe_to_json(result), indent=2)``), one pair at a time,
    so a 205-language run never holds the whole document."""
    yield '{\n  "manifest": ' + _dumps(result.manifest, 2) + ',\n  "pairs": '
    if not result.pairs:
        yield "{}"
    for i, (name, p) in enumerate(result.pairs.items()):
        yield ("{" if i == 0 else ",") + "\n    " + json.dumps(name, ensure_ascii=False) + ": " + _dumps(pair_to_json(p), 4)
    yield ("\n  }" if result.pairs else "") + "\n}\n"


def probe_from_json(doc: Any, where: str = "metrics.json") -> ProbeMetrics:
    if not isinstance(doc, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(doc).__name__}")
    pairs_doc = doc.get("pairs")
    if not isinstance(pairs_doc, dict):
        raise DataError(f"{where}: expected a 'pairs' object, found {type(pairs_doc).__name__}")
    pairs: dict[str, PairMetrics] = {}
    for name, block in pairs_doc.items():
        at = f"{where}: pairs[{name!r}]"
        if not isinstance(block, dict) or not isinstance(block.get("layers"), list):
            raise DataError(f"{at} needs a 'layers' list")
        src, tgt = (name.split("-", 1) + [""])[:2]
        n = block.get("n", 0)
        if not isinstance(n, int) or isinstance(n, bool):
            raise DataError(f"{at}.n: expected an integer, found {n!r:.40}")
        notes = block.get("notes", [])
        if not isinstance(notes, list):
            raise DataError(f"{at}.notes: expected a list of strings, found {type(notes).__name__}")
        pairs[name] = PairMetrics(
            pair=name, src_lang=str(block.get("src_lang", src)), tgt_lang=str(block.get("tgt_lang", tgt)), n=n,
            layers=[layer_from_json(e, f"{at}.layers[{i}]") for i, e in enumerate(block["layers"])],
            notes=[str(x) for x in notes])
    manifest = doc.get("manifest") or {}
    if not isinstance(manifest, dict):
        raise DataError(f"{where}: 'manifest' must be an object, found {type(manifest).__name__}")
    return ProbeMetrics(manifest=manifest, pairs=pairs)


def iter_metrics_rows(result: ProbeMetrics) -> Iterator[dict[str, Any]]:
    """Long-format rows for ``metrics.csv``: one per (pair, layer, metric), the CI beside the value."""
    for name, p in result.pairs.items():
        for entry in p.layers:
            for key, mv in entry.values.items():
                lo, hi = mv.ci95 if mv.ci95 is not None else (None, None)
                yield {"pair": name, "layer": entry.layer, "metric": key, "value": rounded(mv.value),
                       "ci95_lo": None if lo is None else rounded(lo), "ci95_hi": None if hi is None else rounded(hi)}


def metrics_rows(result: ProbeMetrics) -> list[dict[str, Any]]:
    """:func:`iter_metrics_rows` as a list."""
    return list(iter_metrics_rows(result))


# ----------------------------------------------------------------------------- compare
def comparison_to_json(result: Comparison) -> dict[str, Any]:
    """The ``compare.json`` document."""
    pairs = {}
    for name, p in result.pairs.items():
        layers = []
        for entry in p.layers:
            metrics: dict[str, Any] = {}
            for key, mc in entry.metrics.items():
                item: dict[str, Any] = dict(mc.values)  # full precision: delta = after - before exactly
                item["delta"] = {lab: d.value for lab, d in mc.deltas.items()}
                cis = {lab: [d.ci95[0], d.ci95[1]] for lab, d in mc.deltas.items() if d.ci95}
                ps = {lab: d.p_value for lab, d in mc.deltas.items() if d.p_value is not None}
                holm = {lab: d.p_holm for lab, d in mc.deltas.items() if d.p_holm is not None}
                if cis:
                    item["ci95"] = cis
                if ps:
                    item["p_value"] = ps
                if holm:
                    item["p_holm"] = holm
                metrics[key] = item
            layers.append({"layer": entry.layer, "metrics": metrics})
        pairs[name] = {"src_lang": p.src_lang, "tgt_lang": p.tgt_lang, "n": p.n, "layers": layers,
                       "model_cka": p.model_cka}
    out = {"manifest": result.manifest, "models": result.models, "pairs": pairs}
    if result.languages is not None:
        out["languages"] = result.languages
    return out


def comparison_from_json(doc: Any, where: str = "compare.json") -> Comparison:
    if not isinstance(doc, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(doc).__name__}")
    models = doc.get("models")
    if not isinstance(models, list) or not all(isinstance(m, dict) and "label" in m for m in models):
        raise DataError(f"{where}: expected 'models' as a list of objects with a 'label', found {models!r:.80}")
    pairs_doc = doc.get("pairs", {})
    if not isinstance(pairs_doc, dict):
        raise DataError(f"{where}: expected a 'pairs' object, found {type(pairs_doc).__name__}")
    labels = [str(m["label"]) for m in models]
    pairs: dict[str, PairComparison] = {}
    for name, block in pairs_doc.items():
        at = f"{where}: pairs[{name!r}]"
        if not isinstance(block, dict) or not isinstance(block.get("layers"), list):
            raise DataError(f"{at} needs a 'layers' list")
        layers = []
        for i, e in enumerate(block["layers"]):
            if not isinstance(e, dict) or not isinstance(e.get("layer"), int) or not isinstance(e.get("metrics"), dict):
                raise DataError(f"{at}.layers[{i}]: expected {{'layer': int, 'metrics': {{...}}}}, found {e!r:.80}")
            metrics = {}
            for key, item in e["metrics"].items():
                if not isinstance(item, dict):
                    raise DataError(f"{at}.layers[{i}].metrics[{key!r}]: expected an object, found {item!r:.40}")
                values = {lab: (float(item[lab]) if _is_number(item.get(lab)) else None) for lab in labels}
                deltas = {}
                for lab, d in (item.get("delta") or {}).items():
                    if _is_number(d):
                        ci = item.get("ci95", {}).get(lab)
                        p = item.get("p_value", {}).get(lab)
                        ph = item.get("p_holm", {}).get(lab)
                        deltas[lab] = MetricValue(float(d), _ci(ci, f"{at}.{key}.ci95") if ci is not None else None,
                                                  float(p) if _is_number(p) else None,
                                                  float(ph) if _is_number(ph) else None)
                metrics[key] = MetricComparison(values=values, deltas=deltas)
            layers.append(LayerComparison(layer=int(e["layer"]), metrics=metrics))
        model_cka = block.get("model_cka") or {}
        pairs[name] = PairComparison(pair=name, src_lang=str(block.get("src_lang", "")),
                                     tgt_lang=str(block.get("tgt_lang", "")), n=int(block.get("n", 0) or 0),
                                     layers=layers, model_cka=model_cka if isinstance(model_cka, dict) else {})
    languages = doc.get("languages")
    return Comparison(manifest=dict(doc.get("manifest") or {}), models=models, pairs=pairs,
                      languages=languages if isinstance(languages, dict) else None)


# ----------------------------------------------------------------------------- files
def read_document(path: str | Path) -> Any:
    """Parse a JSON file (:func:`xalign.io.read_json`: a missing file is :class:`MissingFileError`, bad JSON
    a :class:`DataError` naming the line)."""
    from xalign.io import read_json

    return read_json(path)


def read_probe_metrics(path: str | Path) -> ProbeMetrics:
    return probe_from_json(read_document(path), str(path))


def read_comparison(path: str | Path) -> Comparison:
    return comparison_from_json(read_document(path), str(path))


def write_probe_metrics(folder: str | Path, result: ProbeMetrics) -> None:
    """``metrics.json`` and ``metrics.csv`` into ``folder`` (each written atomically, streamed pair by pair)."""
    from xalign.io import atomic_path, write_csv

    write_csv(Path(folder) / "metrics.csv", iter_metrics_rows(result), CSV_FIELDS)
    with atomic_path(Path(folder) / "metrics.json", kind="file") as tmp:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(iter_probe_json(result))


def write_comparison(folder: str | Path, result: Comparison) -> None:
    from xalign.io import write_json

    write_json(Path(folder) / "compare.json", comparison_to_json(result))
