"""Fabricated run directories (probe, compare, train) with random but plausible numbers.

They follow the layout the probe/compare/train pipelines write (see xalign/report/loaders.py) and
carry hostile corpus lines, so every report test also exercises escaping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HOSTILE = [
    "<script>window.__xss = 1; alert(1)</script>",
    '<img src=x onerror="window.__xss = 1; alert(1)">',
    "closing </script><script>window.__xss = 1</script> tag",
    "%{customdata} {braces} & ampersands \"quotes\" 'single'",
]
RULES = ("cosine", "csls", "margin", "cosine_centered")


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")


def _sentences(n: int, lang: str, hostile: bool) -> list[str]:
    words = {"en": "the cat dog river school book reads runs over under".split(),
             "sw": "paka mbwa mto shule kitabu anasoma anakimbia juu chini na".split(),
             "ur": "بلی کتا دریا اسکول کتاب پڑھتا دوڑتا اوپر نیچے اور".split()}[lang]
    rng = np.random.default_rng(len(lang) + n)
    out = [" ".join(rng.choice(words, size=6)) + f" {i}." for i in range(n)]
    if hostile:
        for i, line in enumerate(HOSTILE):
            if i < n:
                out[i] = f"{lang}: {line}"
    return out


def _flatten(prefix: str, obj: Any, out: dict[str, float]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)


def flat(entry: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    _flatten("", {k: v for k, v in entry.items() if k != "layer"}, out)
    return out


def best_of(layers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for e in layers:
        for key, value in flat(e).items():
            if not key.endswith(("p@1", ".linear", ".f1", ".aer")) or "_ci95" in key:
                continue
            lower = key.endswith(".aer")
            cur = best.get(key)
            if cur is None or (value < cur["value"] if lower else value > cur["value"]):
                best[key] = {"layer": e["layer"], "value": value}
    return best


def _pair_metrics(rng: np.random.Generator, src: str, tgt: str, n_layers: int, n: int,
                  word_level: bool) -> dict[str, Any]:
    layers = []
    peak = rng.uniform(0.55, 0.95)
    for layer in range(n_layers):
        shape = np.sin(np.pi * (layer + 0.5) / n_layers)  # rises then falls, like real encoders
        entry: dict[str, Any] = {"layer": layer, "retrieval": {}}
        for ri, rule in enumerate(RULES):
            entry["retrieval"][rule] = {}
            for direction in (f"{src}->{tgt}", f"{tgt}->{src}"):
                p1 = float(np.clip(peak * shape + 0.03 * ri + rng.normal(0, 0.02), 0, 1))
                block = {"p@1": round(p1, 4), "p@5": round(min(1, p1 + 0.1), 4), "p@10": round(min(1, p1 + 0.15), 4),
                         "mrr": round(min(1, p1 + 0.05), 4),
                         "p@1_ci95": [round(max(0, p1 - 0.05), 4), round(min(1, p1 + 0.05), 4)]}
                if rule == "cosine":
                    block["hubness"] = round(float(rng.uniform(0, 1)), 4)
                entry["retrieval"][rule][direction] = block
        lin = float(np.clip(0.3 + 0.6 * shape + rng.normal(0, 0.02), 0, 1))
        entry["cka"] = {"linear": round(lin, 4), "linear_ci95": [round(lin - 0.04, 4), round(min(1, lin + 0.04), 4)],
                        "linear_debiased": round(lin - 0.1, 4)}
        if word_level:
            entry["bli"] = {"cosine": {"p@1": round(0.3 * shape, 4), "p@5": round(0.5 * shape, 4), "n": 100},
                            "csls": {"p@1": round(0.35 * shape, 4), "p@5": round(0.55 * shape, 4), "n": 100}}
            aer = round(0.6 - 0.3 * shape, 4)
            entry["word_alignment"] = {"method": "itermax", "precision": 0.7, "recall": 0.6,
                                       "f1": round(1 - aer, 4), "aer": aer, "aer_ci95": [aer - 0.05, aer + 0.05]}
        layers.append(entry)
    return {"src_lang": src, "tgt_lang": tgt, "n": n, "layers": layers, "best": best_of(layers)}


def _embeddings(rng: np.random.Generator, n_layers: int, n: int, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    latent = rng.standard_normal((n, hidden))
    src = np.empty((n_layers, n, hidden), dtype=np.float32)
    tgt = np.empty_like(src)
    for layer in range(n_layers):
        mix = 0.2 + 0.7 * np.sin(np.pi * (layer + 0.5) / n_layers)
        offset = rng.standard_normal(hidden) * 2
        src[layer] = mix * latent + (1 - mix) * rng.standard_normal((n, hidden))
        tgt[layer] = mix * latent + (1 - mix) * rng.standard_normal((n, hidden)) + offset * (1 - mix)
    return src, tgt


def _example(rng: np.random.Generator, hostile: bool) -> dict[str, Any]:
    src = ["The", "cat", "<b>sat</b>", "on", "the", "mat"] if hostile else ["The", "cat", "sat", "on", "the", "mat"]
    tgt = ["Paka", "<script>window.__xss=1</script>" if hostile else "ameketi", "kwenye", "mkeka"]
    sim = rng.uniform(0, 1, (len(src), len(tgt)))
    return {"src_tokens": src, "tgt_tokens": tgt, "similarity": np.round(sim, 4).tolist(),
            "pred": [[0, 0], [1, 0], [2, 1], [3, 2], [5, 3]], "gold_sure": [[1, 0], [2, 1], [5, 3]],
            "gold_possible": [[1, 0], [2, 1], [5, 3], [3, 2], [4, 3]]}


def make_probe_run(root: Path, *, pairs: tuple[str, ...] = ("en-sw",), n: int = 60, n_layers: int = 5,
                   hidden: int = 16, seed: int = 0, hostile: bool = True, word_level: bool = True,
                   embeddings: bool = True, model_name: str = "tiny-<b>model</b>") -> Path:
    """A probe run directory like the probe pipeline writes; returns ``root``."""
    rng = np.random.default_rng(seed)
    manifest = {"command": "probe", "model": {"name": model_name, "revision": "abc123", "num_layers": n_layers - 1,
                                              "hidden_size": hidden},
                "data": [{"path": f"data/{p}.tsv", "sha256": "0" * 64} for p in pairs], "preset": "default",
                "pooling": "mean", "seed": seed, "versions": {"xalign": "0.1.0", "plotly": "7"},
                "created": "2025-01-01T00:00:00+00:00"}
    metrics: dict[str, Any] = {"manifest": manifest, "pairs": {}}
    details: dict[str, Any] = {"pairs": {}}
    for pair in pairs:
        src, tgt = pair.split("-")
        metrics["pairs"][pair] = _pair_metrics(rng, src, tgt, n_layers, n, word_level)
        sims = []
        for layer in range(n_layers):
            true = np.clip(rng.normal(0.5 + 0.08 * layer, 0.1, n), -1, 1)
            rand = np.clip(rng.normal(0.2, 0.1, n), -1, 1)
            sims.append({"layer": layer, "true": np.round(true, 4).tolist(), "random": np.round(rand, 4).tolist()})
        grid = rng.uniform(0.2, 1, (n_layers, n_layers))
        grid = np.round((grid + grid.T) / 2, 4)
        np.fill_diagonal(grid, 1.0)
        det: dict[str, Any] = {"similarity": sims, "cka_layers": {src: grid.tolist(), tgt: grid[::-1, ::-1].tolist()}}
        if word_level:
            det["word_alignment_examples"] = [_example(rng, hostile), _example(rng, False)]
        details["pairs"][pair] = det
        if embeddings:
            s, t = _embeddings(rng, n_layers, n, hidden)
            folder = root / "embeddings" / pair
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"{src}.npy", s)
            np.save(folder / f"{tgt}.npy", t)
            _write(folder / "texts.json", {"src_lang": src, "tgt_lang": tgt, "src": _sentences(n, src, hostile),
                                           "tgt": _sentences(n, tgt, hostile)})
    if len(pairs) > 1:
        langs = [pairs[0].split("-")[0]] + [p.split("-")[1] for p in pairs]
        m = rng.uniform(0.4, 0.9, (len(langs), len(langs)))
        m = np.round((m + m.T) / 2, 4)
        np.fill_diagonal(m, 1.0)
        details["language_cka"] = {"layer": n_layers // 2, "languages": langs, "matrix": m.tolist()}
    _write(root / "manifest.json", manifest)
    _write(root / "metrics.json", metrics)
    _write(root / "details.json", details)
    return root


def make_compare_run(root: Path, *, labels: tuple[str, ...] = ("before", "after"), **probe_kwargs: Any) -> Path:
    """A compare run directory: ``models/<label>/`` probe runs plus ``compare.json``."""
    runs = {}
    for i, label in enumerate(labels):
        sub = make_probe_run(root / "models" / label, seed=i, model_name=f"model-{label}", **probe_kwargs)
        runs[label] = json.loads((sub / "metrics.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(42)
    before = labels[0]
    pairs: dict[str, Any] = {}
    for pair in runs[before]["pairs"]:
        layers = []
        n_layers = len(runs[before]["pairs"][pair]["layers"])
        for li in range(n_layers):
            values = {label: flat(runs[label]["pairs"][pair]["layers"][li]) for label in labels}
            metrics = {}
            for key, v0 in values[before].items():
                if "_ci95" in key or key.endswith(".n"):
                    continue
                m: dict[str, Any] = {label: values[label].get(key) for label in labels}
                m["delta"], m["ci95"], m["p_value"] = {}, {}, {}
                for label in labels[1:]:
                    d = round(values[label][key] - v0, 4)
                    m["delta"][label] = d
                    m["ci95"][label] = [round(d - 0.03, 4), round(d + 0.03, 4)]
                    m["p_value"][label] = round(float(rng.uniform(0, 1)), 4)
                metrics[key] = m
            layers.append({"layer": li, "metrics": metrics})
        pairs[pair] = {"layers": layers, "model_cka": {
            label: np.round(rng.uniform(0, 1, (n_layers, n_layers)), 4).tolist() for label in labels[1:]}}
    doc = {"manifest": {"command": "compare", "seed": 0, "created": "2025-01-01T00:00:00+00:00"},
           "models": [{"label": label, "name": f"model-{label}", "run_dir": f"models/{label}"} for label in labels],
           "pairs": pairs}
    _write(root / "compare.json", doc)
    return root


def make_train_run(root: Path, *, with_probe: bool = False) -> Path:
    """A train run directory (``train_metrics.json`` + ``manifest.json``), optionally beside probe files."""
    rng = np.random.default_rng(3)
    steps = list(range(10, 210, 10))
    history = [{"step": s, "epoch": s / 100, "loss": round(1.2 * np.exp(-s / 80) + 0.1 + float(rng.normal(0, 0.02)), 4),
                "lr": 2e-5 * (1 - s / 210), "grad_norm": 1.5, "clean_loss": 0.5, "adv_loss": 0.7} for s in steps]
    for h in history[::5]:
        h["eval_en_accuracy"] = round(0.5 + h["step"] / 600, 4)
    langs = ["en", "sw", "ur"]
    doc = {"method": "rsa", "task": "xnli", "config": {"epochs": 2, "lr": 2e-5, "model": "<i>tiny</i>"},
           "robust": {"noise": "word-substitution", "k": 8}, "history": history,
           "eval": {"accuracy": {"en": 0.81, "sw": 0.62, "ur": 0.58},
                    "generalized": {"languages": langs, "matrix": np.round(rng.uniform(0.5, 0.8, (3, 3)), 4).tolist()},
                    "smoothed_accuracy": {"en": 0.75, "sw": 0.55, "ur": 0.5}, "smoothing": {"n": 8}},
           "select": {"best_step": 100, "accuracy": 0.8, "en_dev_accuracy": 0.8,
                      "curve": [{"step": s, "epoch": s / 100, "value": round(0.6 + s / 1000, 4)}
                                for s in (50, 100, 150, 200)]},
           "data": {"train": 400}, "steps": 200, "train_runtime_s": 12.5, "wall_time_s": 14.0}
    if with_probe:
        make_probe_run(root, n=30)
    _write(root / "manifest.json", {"command": "train", "model": {"spec": "tiny", "path": "/x", "revision": "r1"},
                                    "seed": 0, "created": "2025-01-01T00:00:00+00:00"})
    _write(root / "train_metrics.json", doc)
    return root


@pytest.fixture
def probe_run(tmp_path: Path) -> Path:
    return make_probe_run(tmp_path / "probe")


@pytest.fixture
def probe_run_multi(tmp_path: Path) -> Path:
    return make_probe_run(tmp_path / "probe-multi", pairs=("en-sw", "en-ur"), n=30)


@pytest.fixture
def compare_run(tmp_path: Path) -> Path:
    return make_compare_run(tmp_path / "compare", n=30)


@pytest.fixture
def train_run(tmp_path: Path) -> Path:
    return make_train_run(tmp_path / "train")


# ----------------------------------------------------------------------------- atlas (many languages)
_SCRIPTS = ("Latn", "Arab", "Cyrl", "Deva", "Ethi")


def atlas_codes(n: int) -> list[str]:
    """``n`` FLORES-200 codes: the packaged table's (English left out) when xalign has it, then synthetic
    ``l000_Latn``-style codes that no table knows."""
    try:
        from xalign.data.languages import atlas_languages

        codes = [info.code for info in atlas_languages() if info.code != "eng_Latn"]
    except ImportError:
        codes = []
    codes += [f"l{i:03d}_{_SCRIPTS[i % len(_SCRIPTS)]}" for i in range(max(0, n - len(codes)))]
    return codes[:n]


def _atlas_pair(rng: np.random.Generator, pivot: str, lang: str, n_layers: int, n: int, quality: float):
    from xalign.results.types import LayerValues, MetricValue, PairMetrics

    layers = []
    for layer in range(n_layers):
        shape = np.sin(np.pi * (layer + 0.5) / n_layers)
        entry = LayerValues(layer=layer)
        for rule in ("cosine", "csls"):
            for a, b in ((pivot, lang), (lang, pivot)):
                p1 = float(np.clip(quality * shape + rng.normal(0, 0.02), 0, 1))
                entry.values[f"retrieval.{rule}.{a}->{b}.p@1"] = MetricValue(
                    round(p1, 4), (round(max(0.0, p1 - 0.06), 4), round(min(1.0, p1 + 0.06), 4)))
        lin = float(np.clip(0.2 + 0.7 * quality * shape, 0, 1))
        entry.values["cka.linear"] = MetricValue(round(lin, 4), (round(lin - 0.05, 4), round(lin + 0.05, 4)))
        layers.append(entry)
    return PairMetrics(pair=f"{pivot}-{lang}", src_lang=pivot, tgt_lang=lang, n=n, layers=layers,
                       notes=["P@10 not reported: n is small"])


def make_atlas_probe_run(root: Path, *, n_langs: int = 205, n_layers: int = 13, n: int = 204, seed: int = 0,
                         pivot: str = "eng_Latn") -> Path:
    """A probe over ``n_langs`` pairs ``pivot-xx`` in the long format the probe writes (no embeddings)."""
    from xalign.results.json_io import probe_to_json
    from xalign.results.types import ProbeMetrics

    rng = np.random.default_rng(seed)
    manifest = {"command": "probe", "model": {"name": "tiny-atlas", "revision": "r"}, "seed": seed,
                "created": "2025-01-01T00:00:00+00:00"}
    pairs = {}
    for lang in atlas_codes(n_langs):
        pm = _atlas_pair(rng, pivot, lang, n_layers, n, float(rng.uniform(0.05, 0.95)))
        pairs[pm.pair] = pm
    _write(root / "manifest.json", manifest)
    _write(root / "metrics.json", probe_to_json(ProbeMetrics(manifest=manifest, pairs=pairs)))
    return root


def make_atlas_compare_run(root: Path, *, n_langs: int = 205, n_layers: int = 13, p_values: list[float] | None = None,
                           deltas: list[float] | None = None) -> Path:
    """A compare of two models over ``n_langs`` pairs: Δ and p-values per language (given or drawn)."""
    from xalign.results.json_io import comparison_to_json
    from xalign.results.types import Comparison, LayerComparison, MetricComparison, MetricValue, PairComparison

    rng = np.random.default_rng(7)
    before = make_atlas_probe_run(root / "models" / "before", n_langs=n_langs, n_layers=n_layers)
    typed = json.loads((before / "metrics.json").read_text(encoding="utf-8"))
    pairs = {}
    for i, (name, block) in enumerate(typed["pairs"].items()):
        layers = []
        for e in block["layers"]:
            metrics = {}
            for key in (f"retrieval.csls.{block['src_lang']}->{block['tgt_lang']}.p@1", "cka.linear"):
                section, *rest = key.split(".")
                v0 = e[section]
                for part in rest:
                    v0 = v0[part]
                d = deltas[i] if deltas is not None else float(rng.normal(0.01, 0.03))
                p = p_values[i] if p_values is not None else float(rng.uniform(0, 1))
                metrics[key] = MetricComparison(values={"before": v0, "after": v0 + d},
                                                deltas={"after": MetricValue(d, (d - 0.02, d + 0.02), p)})
            layers.append(LayerComparison(layer=e["layer"], metrics=metrics))
        pairs[name] = PairComparison(pair=name, src_lang=block["src_lang"], tgt_lang=block["tgt_lang"], n=block["n"],
                                     layers=layers)
    doc = Comparison(manifest={"command": "compare", "seed": 0}, models=[
        {"label": "before", "name": "model-before", "run_dir": "models/before"},
        {"label": "after", "name": "model-after"}], pairs=pairs)
    _write(root / "compare.json", comparison_to_json(doc))
    return root
