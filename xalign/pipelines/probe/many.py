"""The many-language probe (``--pair en-all --data sib200:DIR``): one pivot language against every other
language of a SIB-200 folder (or those of ``--langs FILE``).

Each distinct text set is embedded once per run: the pivot's sentences once (not once per pair), then each
language's own. Languages are worked one at a time — read, embed, measure with every registered
sentence-level metric (:mod:`~xalign.pipelines.probe.steps`), keep — so memory does not grow with their
number. Each finished language is kept in ``.<out>.partial/`` beside the output folder (small JSON: the
values and the per-query correctness); a killed run started again with the same settings skips them, and
its result equals an uninterrupted one (both read every language back from the same JSON). Rows are
matched by ``index_id``, never by position. Word-level metrics (BLI, word alignment) are left out, with a
note: they need dictionaries and gold that do not exist for most of the 205 languages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.errors import ConfigError, DataError, MissingFileError
from xalign.pipelines.probe.config import ProbeConfig
from xalign.pipelines.probe.measure import chosen_layers, load_probe_encoder, measure_pair
from xalign.pipelines.probe.result import PairResult, ProbeResult
from xalign.pipelines.probe.steps import PairContext
from xalign.results.json_io import layer_from_json, layer_to_json
from xalign.results.types import PairMetrics

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data.folders import IdTexts
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)

__all__ = ["ManyPlan", "plan_many", "probe_many", "embed_pivot", "probe_language", "LanguageTexts"]

WORD_LEVEL_NOTE = ("word-level metrics (BLI, word alignment) are left out of a many-language probe; probe a single "
                   "pair with --dictionary/--gold for them")


@dataclass
class ManyPlan:
    """What a many-language run reads: the SIB-200 folder, the split, the pivot (as the user named it and its
    folder) and the target languages (``(name in outputs, folder)``, in order)."""

    root: Path
    split: str | None
    pivot: str
    pivot_folder: str
    targets: list[tuple[str, str]]

    def pair(self, name: str) -> str:
        return f"{self.pivot}-{name}"


@dataclass
class LanguageTexts:
    """One language joined to the pivot by ``index_id``: ``rows`` index the pivot's sentences."""

    name: str
    rows: np.ndarray
    texts: list[str]
    ids: list[str]
    sources: list[dict[str, Any]] = field(default_factory=list)
    unmatched: int = 0


def _sib_root(data: str | None) -> tuple[Path, str]:
    name, sep, rest = (data or "").partition(":")
    if not sep or name.strip().lower() not in ("sib200", "flores", "flores200") or not rest:
        raise ConfigError(f"--pair xx-all needs --data sib200:DIR (a SIB-200 folder <DIR>/<code>/<split>.tsv), got "
                          f"--data {data!r}")
    root = Path(rest)
    if not root.is_dir():
        raise MissingFileError(f"SIB-200 folder not found: {root} (from --data {data})")
    return root, rest


def _read_langs_file(path: str) -> list[tuple[str, int]]:
    file = Path(path)
    if not file.is_file():
        raise MissingFileError(f"--langs file not found: {path}")
    out = []
    for lineno, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0].strip()
        if code:
            out.append((code, lineno))
    if not out:
        raise DataError(f"{path}: no language codes (expected one code a line, e.g. ace_Arab)")
    return out


def plan_many(config: ProbeConfig) -> ManyPlan:
    """Check the data of a many-language run (folder, pivot, languages) before any model loads."""
    from xalign.data.folders import sib_folder, sib_languages

    if len(config.pairs) != 1:
        raise ConfigError(f"--pair xx-all probes one pivot against many languages; give it alone, got "
                          f"{', '.join(config.pairs)}")
    if config.src_file or config.gold or config.dictionary:
        raise ConfigError("--pair xx-all reads sentences from --data; --src-file/--gold/--dictionary do not apply")
    root, _ = _sib_root(config.data)
    pivot = config.pairs[0].removesuffix("-all")
    languages = sib_languages(root, split=config.splits)
    pivot_folder = sib_folder(root, pivot, languages)
    if config.langs is None:
        targets = [(code, code) for code in languages if code != pivot_folder]
    else:
        targets, seen = [], {}
        for code, lineno in _read_langs_file(config.langs):
            try:
                folder = sib_folder(root, code, languages)
            except DataError as exc:
                raise DataError(f"{config.langs}:{lineno}: {exc}") from None
            if folder in seen or folder == pivot_folder:
                why = f"repeats line {seen[folder]}" if folder in seen else f"is the pivot {pivot!r}"
                raise DataError(f"{config.langs}:{lineno}: {code!r} {why}; list each other language once")
            seen[folder] = lineno
            targets.append((code, folder))
    if not targets:
        raise DataError(f"{root}: no language besides the pivot {pivot!r} holds split {config.split or 'all'}")
    _check_headers(root, [pivot_folder, *(folder for _, folder in targets)], config.splits)
    return ManyPlan(root=root, split=config.splits, pivot=pivot, pivot_folder=pivot_folder, targets=targets)


def _check_headers(root: Path, folders: list[str], split: str | None) -> None:
    """Every file the run will read exists and has the SIB-200 header (first lines only), before any model loads."""
    from xalign.data.folders import check_sib_header

    splits = [split] if split else [p.stem for p in sorted((root / folders[0]).glob("*.tsv"))]
    for folder in folders:
        for s in splits:
            check_sib_header(root / folder / f"{s}.tsv")


def read_pivot(plan: ManyPlan, limit: int | None) -> "IdTexts":
    from xalign.data.folders import read_sib_language

    pivot = read_sib_language(plan.root, plan.pivot_folder, split=plan.split, lang=plan.pivot)
    if limit is not None:
        pivot.ids, pivot.texts = pivot.ids[:limit], pivot.texts[:limit]
    return pivot


def join_language(plan: ManyPlan, pivot: "IdTexts", name: str, folder: str, *, strict: bool) -> LanguageTexts:
    """The language ``folder`` matched to the pivot's rows by ``index_id`` (pivot order); rows present on one
    side only, or empty on either, are skipped (``strict``: refused)."""
    from xalign.data.folders import read_sib_language

    lang = read_sib_language(plan.root, folder, split=plan.split, lang=name)
    by_id = dict(zip(lang.ids, lang.texts))
    rows, texts, ids = [], [], []
    for i, (row_id, text) in enumerate(zip(pivot.ids, pivot.texts)):
        other = by_id.get(row_id)
        if other is not None and other.strip() and text.strip():
            rows.append(i)
            texts.append(other)
            ids.append(row_id)
    unmatched = len(pivot.ids) - len(rows)
    if unmatched and strict:
        raise DataError(f"{plan.root / folder}: {unmatched} of the pivot's {len(pivot.ids)} rows have no non-empty "
                        f"match by index_id (--strict)")
    if len(rows) < 2:
        raise DataError(f"{plan.root / folder}: only {len(rows)} row(s) match the pivot {plan.pivot!r} by index_id; "
                        "retrieval and CKA need at least 2")
    return LanguageTexts(name=name, rows=np.asarray(rows, dtype=np.int64), texts=texts, ids=ids,
                         sources=lang.sources, unmatched=unmatched)


def embed_texts(encoder: "Encoder", texts: list[str], config: ProbeConfig, layers: list[int]) -> np.ndarray:
    from xalign.embed.extract import embed

    return embed(encoder, texts, layers=layers, pooling=config.resolved_pooling, prefix=config.prefix,
                 batch_size=config.batch_size)


def embed_pivot(encoder: "Encoder", pivot: "IdTexts", config: ProbeConfig, layers: list[int]) -> np.ndarray:
    """The pivot's sentence vectors ``[layers, n, hidden]``, embedded once for every pair of the run."""
    return embed_texts(encoder, pivot.texts, config, layers)


def probe_language(pivot_vecs: np.ndarray, lang: LanguageTexts, tgt_vecs: np.ndarray, plan: ManyPlan,
                   config: ProbeConfig, layers: list[int], device: Any) -> PairResult:
    """Every registered sentence-level metric for one language against the pivot (no vectors kept)."""
    ctx = PairContext(src_lang=plan.pivot, tgt_lang=lang.name, layers=layers, src=pivot_vecs[:, lang.rows],
                      tgt=tgt_vecs, config=config, device=device)
    metrics, out = measure_pair(ctx, sentence_level=True)
    if lang.unmatched:
        metrics.notes.append(f"{lang.unmatched} pivot row(s) without a non-empty match by index_id were skipped")
    empty = np.zeros((0,), dtype=np.float32)
    return PairResult(metrics=metrics, details={}, src_vectors=empty, tgt_vectors=empty,
                      correct={k: [np.asarray(h, dtype=bool) for h in v] for k, v in out.correct.items()})


# ----------------------------------------------------------------------------- kept languages
def language_record(res: PairResult, fingerprint: str, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """One finished language as a JSON object (values as in metrics.json, correctness as '0'/'1' strings)."""
    m = res.metrics
    return {"fingerprint": fingerprint, "pair": m.pair, "src_lang": m.src_lang, "tgt_lang": m.tgt_lang, "n": m.n,
            "notes": list(m.notes), "layers": [layer_to_json(e) for e in m.layers], "sources": sources,
            "correct": {k: ["".join("1" if x else "0" for x in h) for h in v] for k, v in res.correct.items()}}


def result_from_record(rec: dict[str, Any], where: str) -> PairResult:
    """The :class:`PairResult` of a kept language (the inverse of :func:`language_record`)."""
    metrics = PairMetrics(pair=rec["pair"], src_lang=rec["src_lang"], tgt_lang=rec["tgt_lang"], n=int(rec["n"]),
                          layers=[layer_from_json(e, f"{where}.layers[{i}]") for i, e in enumerate(rec["layers"])],
                          notes=list(rec["notes"]))
    correct = {k: [np.frombuffer(s.encode(), dtype=np.uint8) == ord("1") for s in v]
               for k, v in rec["correct"].items()}
    empty = np.zeros((0,), dtype=np.float32)
    return PairResult(metrics=metrics, details={}, src_vectors=empty, tgt_vectors=empty, correct=correct)


def run_fingerprint(config: ProbeConfig, encoder: "Encoder", plan: ManyPlan, pivot: "IdTexts") -> str:
    """What makes kept languages reusable: the settings that change numbers, the model and the pivot files."""
    settings = {k: v for k, v in config.to_dict().items() if k not in ("progress", "report", "langs", "device")}
    model = encoder.describe()
    doc = {"config": settings, "model": {k: model.get(k) for k in ("name", "revision", "source")},
           "pivot": [s.get("sha256") for s in pivot.sources], "root": str(plan.root.resolve())}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _kept(partial: Path | None, folder: str, fingerprint: str) -> PairResult | None:
    if partial is None or not (partial / f"{folder}.json").is_file():
        return None
    try:
        rec = json.loads((partial / f"{folder}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a file a kill cut short: recompute it
    if rec.get("fingerprint") != fingerprint:
        return None
    return result_from_record(rec, str(partial / f"{folder}.json"))


def _keep(partial: Path | None, folder: str, record: dict[str, Any]) -> None:
    from xalign.io import write_json

    if partial is not None:
        write_json(partial / f"{folder}.json", record)


# ----------------------------------------------------------------------------- the run
def _languages(plan: ManyPlan, config: ProbeConfig) -> Iterator[tuple[str, str]]:
    from tqdm.auto import tqdm

    import sys

    on_terminal = config.progress and sys.stderr.isatty()
    bar = tqdm(plan.targets, desc=f"{plan.pivot}-all", unit="lang", disable=not on_terminal)
    try:
        for name, folder in bar:
            bar.set_postfix_str(name, refresh=False)
            yield name, folder
    finally:
        bar.close()


def _probe_all(config: ProbeConfig, encoder: "Encoder", plan: ManyPlan, partial: Path | None,
               clock: dict[str, float]) -> tuple[dict[str, PairResult], dict[str, Any]]:
    pivot = read_pivot(plan, config.limit)
    layers = chosen_layers(encoder, config)
    device = str(encoder.device)
    fingerprint = run_fingerprint(config, encoder, plan, pivot)
    pivot_vecs: np.ndarray | None = None
    results: dict[str, PairResult] = {}
    resumed = 0
    for name, folder in _languages(plan, config):
        kept = _kept(partial, folder, fingerprint)
        if kept is None:
            t0 = time.perf_counter()
            if pivot_vecs is None:
                pivot_vecs = embed_pivot(encoder, pivot, config, layers)
            lang = join_language(plan, pivot, name, folder, strict=config.strict)
            tgt_vecs = embed_texts(encoder, lang.texts, config, layers)
            t1 = time.perf_counter()
            fresh = probe_language(pivot_vecs, lang, tgt_vecs, plan, config, layers, device)
            record = language_record(fresh, fingerprint, lang.sources)
            _keep(partial, folder, record)
            kept = result_from_record(json.loads(json.dumps(record)), folder)  # the same path a resumed run takes
            clock["extraction"] += t1 - t0
            clock["metrics"] += time.perf_counter() - t1
        else:
            resumed += 1
        results[kept.pair] = kept
    info = {"pivot": plan.pivot, "pivot_folder": plan.pivot_folder, "root": str(plan.root), "split": config.split,
            "languages": [name for name, _ in plan.targets], "pivot_sources": pivot.sources,
            "n_pivot": len(pivot.texts), "resumed_languages": resumed, "notes": [WORD_LEVEL_NOTE]}
    return results, info


def probe_many(config: ProbeConfig, *, encoder: "Encoder | None" = None,
               out_dir: str | Path | None = None) -> ProbeResult:
    """Probe the pivot of ``--pair xx-all`` against every language (see the module docstring); with ``out_dir``
    write the run folder (the per-language summary in ``languages.csv``)."""
    from xalign.io import claim_output_dir

    plan = plan_many(config)
    if out_dir is None:
        return _run(config, encoder, plan, None, None)
    target = Path(out_dir)
    partial = target.parent / f".{target.name}.partial"
    with claim_output_dir(target, "probe", overwrite=True) as stage:
        partial.mkdir(parents=True, exist_ok=True)
        result = _run(config, encoder, plan, partial, stage)
    shutil.rmtree(partial, ignore_errors=True)
    return result


def _run(config: ProbeConfig, encoder: "Encoder | None", plan: ManyPlan, partial: Path | None,
         stage: Path | None) -> ProbeResult:
    from xalign.io import base_manifest
    from xalign.metrics.retrieval import PRESETS
    from xalign.pipelines.probe.run_dir import write_probe_files

    t_start = time.perf_counter()
    encoder = encoder if encoder is not None else load_probe_encoder(config)
    clock = {"load": time.perf_counter() - t_start, "extraction": 0.0, "metrics": 0.0}
    results, info = _probe_all(config, encoder, plan, partial, clock)
    stages = {k: round(v, 2) for k, v in clock.items()}
    manifest = base_manifest(command="probe", model=encoder.describe(), preset=config.preset,
                             preset_details=PRESETS[config.preset].to_dict(), pooling=config.resolved_pooling,
                             prefix=config.prefix, seed=config.seed, data=info, config=config.to_dict(),
                             seconds=round(time.perf_counter() - t_start, 2), stage_seconds=stages)
    result = ProbeResult(manifest=manifest, pairs=results)
    if stage is not None:
        from xalign.results.summary import write_language_summary

        write_probe_files(result, stage, report=config.report)
        write_language_summary(stage, result.typed)
    return result
