"""Benchmark of the language atlas (``xalign probe --data sib200:DIR --pair en-all``), issue 26 section 6.

    nice python analysis/bench_atlas.py --langs 20            # default encoder, SIB-200 test split (204 sentences)
    python analysis/bench_atlas.py --langs 20,50 --n-boot 100 --out analysis/bench_atlas.json
    python analysis/bench_atlas.py --model DIR --langs 3      # any encoder (a tiny one for a smoke run)

Each language count runs in its own interpreter (the first N SIB-200 folders in sorted order, English left
out), so its peak RSS is its own: ``ru_maxrss`` of the worker read right after the atlas run (before the
comparison embed) and the whole worker's from ``os.wait4``. In the worker, one encoder is loaded and warmed
up on a few sentences, then:

(a) the atlas run (``xalign.probe`` with ``--pair en-all``, all 13 layers, the CLI's defaults, report
    included) into a temporary folder; its manifest's ``stage_seconds`` split the time into extraction and
    everything after it (metrics + report; goal: after ≤ 10% of extraction);
(b) peak RSS per count (goal ≤ 2.5 GB and flat across counts);
(c) a bare ``xalign.embed`` of the same texts (the pivot once, then each language's rows matched to it by
    ``index_id``), same layers, pooling and batch size, same process: sentences per second of the atlas run
    (extraction + everything after it) against it (goal ≥ 0.95x);
(d) the full-corpus cost (1,004 sentences a language, ``--split all``) EXTRAPOLATED from the measured rates:
    extraction per sentence, after-extraction per language scaled linearly in sentences (retrieval is
    quadratic in n, so that part is a lower bound).

Writes the JSON (``--out``) and a markdown table beside it (``.md``), both atomically; logs to stderr and prints
only the final table. Timings depend on the machine's load (the 1-minute load average is recorded).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SIB200 = REPO.parent / "shared" / "data" / "sib200"
PIVOT, PIVOT_FOLDER, SPLIT = "en", "eng_Latn", "test"
FULL_SENTENCES = 1004
GOALS = {"after_over_extraction_max": 0.10, "peak_rss_gb_max": 2.5, "speed_ratio_min": 0.95}
logger = logging.getLogger("bench_atlas")


def pick_languages(root: Path, count: int) -> list[str]:
    """The first ``count`` SIB-200 folders holding the split, in sorted order, English left out."""
    from xalign.data.folders import sib_languages

    langs = [code for code in sib_languages(root, split=SPLIT) if code != PIVOT_FOLDER]
    if count > len(langs):
        raise SystemExit(f"--langs {count}: {root} holds only {len(langs)} languages besides {PIVOT_FOLDER}")
    return langs[:count]


def text_sets(root: Path, langs: list[str]) -> list[list[str]]:
    """The pivot's texts, then each language's texts matched to the pivot by ``index_id`` (as the atlas does)."""
    from xalign.data.folders import read_sib_language

    pivot = read_sib_language(root, PIVOT_FOLDER, split=SPLIT)
    sets = [pivot.texts]
    for code in langs:
        lang = read_sib_language(root, code, split=SPLIT)
        by_id = dict(zip(lang.ids, lang.texts))
        sets.append([by_id[i] for i, t in zip(pivot.ids, pivot.texts)
                     if by_id.get(i, "").strip() and t.strip()])
    return sets


def _rss_mb(kb: float) -> float:
    return round(kb / 1024, 1)  # ru_maxrss is in KiB on Linux


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """One language count in this process: warm-up, the atlas run, then a bare embed of the same texts."""
    import torch

    import xalign

    torch.set_num_threads(args.threads)
    root = Path(args.data)
    langs = pick_languages(root, args.count)
    work = Path(args.run_dir)
    work.mkdir(parents=True, exist_ok=True)
    langs_file = work / "langs.txt"
    langs_file.write_text("\n".join(langs) + "\n", encoding="utf-8")
    kw: dict[str, Any] = {} if args.n_boot is None else {"n_boot": args.n_boot}
    config = xalign.ProbeConfig(model=args.model, pairs=[f"{PIVOT}-all"], data=f"sib200:{root}", split=SPLIT,
                                langs=str(langs_file), progress=False, **kw)
    t0 = time.perf_counter()
    encoder = xalign.load_encoder(args.model)
    load_s = time.perf_counter() - t0
    sets = text_sets(root, langs)
    embed_kw = {"layers": "all", "pooling": config.resolved_pooling, "prefix": config.prefix,
                "batch_size": config.batch_size}
    xalign.embed(encoder, sets[0][:8], **embed_kw)  # warm-up, outside every clock
    logger.info("atlas run: %d languages, %d sentences", len(langs), sum(map(len, sets)))
    result = xalign.probe(config, encoder=encoder, out_dir=work / "atlas")
    rss_atlas = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    logger.info("bare embed of the same texts")
    t0 = time.perf_counter()
    for texts in sets:
        xalign.embed(encoder, texts, **embed_kw)
    embed_s = time.perf_counter() - t0
    manifest = result.manifest
    return {"languages": langs, "sentences": sum(map(len, sets)), "sentences_per_set": [len(s) for s in sets],
            "load_seconds": round(load_s, 2), "stage_seconds": manifest["stage_seconds"],
            "manifest_seconds": manifest.get("seconds"), "embed_seconds": round(embed_s, 2),
            "n_boot": config.n_boot, "layers": len(next(iter(result.pairs.values())).metrics.layers),
            "peak_rss_atlas_mb": _rss_mb(rss_atlas), "model": args.model, "threads": args.threads}


def summarise(raw: dict[str, Any], peak_process_kb: float, load: tuple[float, float]) -> dict[str, Any]:
    """The benchmark's numbers for one language count, from the worker's raw record."""
    stages = raw["stage_seconds"]
    extraction = float(stages["extraction"])
    after = sum(float(v) for k, v in stages.items() if k not in ("load", "extraction"))
    atlas_s = extraction + after
    n, n_langs = raw["sentences"], len(raw["languages"])
    atlas_sps = n / atlas_s if atlas_s > 0 else None
    embed_sps = n / raw["embed_seconds"] if raw["embed_seconds"] > 0 else None
    scale = FULL_SENTENCES / (n / (n_langs + 1))
    full = {"extrapolated": True, "sentences_per_language": FULL_SENTENCES,
            "method": "extraction x (1004 / measured sentences); after-extraction per language x the same "
                      "factor (retrieval is quadratic in n: a lower bound)"}
    for k in sorted({n_langs, 204}):
        full[f"seconds_{k}_languages"] = round((extraction + after) * scale * (k + 1) / (n_langs + 1), 1)
    return {
        "languages": n_langs, "language_codes": raw["languages"], "sentences": n, "n_boot": raw["n_boot"],
        "layers": raw["layers"],
        "stage_seconds": stages, "extraction_seconds": round(extraction, 2), "after_extraction_seconds": round(after, 2),
        "after_over_extraction": round(after / extraction, 4) if extraction > 0 else None,
        "peak_rss_atlas_mb": raw["peak_rss_atlas_mb"], "peak_rss_process_mb": _rss_mb(peak_process_kb),
        "atlas_sentences_per_second": round(atlas_sps, 3) if atlas_sps else None,
        "extraction_sentences_per_second": round(n / extraction, 3) if extraction > 0 else None,
        "embed_sentences_per_second": round(embed_sps, 3) if embed_sps else None,
        "speed_ratio": round(atlas_sps / embed_sps, 4) if atlas_sps and embed_sps else None,
        "embed_seconds": raw["embed_seconds"], "load_seconds": raw["load_seconds"],
        "loadavg_1min_start_end": [round(load[0], 2), round(load[1], 2)], "full_corpus": full,
    }


def run_count(args: argparse.Namespace, count: int, keep: Path | None) -> dict[str, Any]:
    """Run one language count in a child interpreter; its peak RSS comes from ``os.wait4``."""
    with tempfile.TemporaryDirectory(prefix="bench_atlas_") as tmp:
        run_dir = (keep / f"langs{count}") if keep else Path(tmp) / "run"
        raw_path = Path(tmp) / "raw.json"
        cmd = [sys.executable, __file__, "--worker", str(count), "--worker-out", str(raw_path),
               "--run-dir", str(run_dir), "--model", args.model, "--data", args.data, "--threads", str(args.threads)]
        if args.n_boot is not None:
            cmd += ["--n-boot", str(args.n_boot)]
        logger.info("langs=%d: %s", count, " ".join(cmd))
        load0 = os.getloadavg()[0]
        proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO)})
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"langs={count}: worker failed with exit status {proc.returncode}")
        raw = json.loads(raw_path.read_text(encoding="utf-8"))
    row = summarise(raw, usage.ru_maxrss, (load0, os.getloadavg()[0]))
    logger.info("langs=%d: extraction %.1fs, after %.1fs, peak RSS %.0f MB", count, row["extraction_seconds"],
                row["after_extraction_seconds"], row["peak_rss_atlas_mb"])
    return row


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each goal of issue 26 section 6, met or not, on the measured rows."""
    rss = [r["peak_rss_atlas_mb"] for r in rows]
    ratios = [r["after_over_extraction"] for r in rows if r["after_over_extraction"] is not None]
    speeds = [r["speed_ratio"] for r in rows if r["speed_ratio"] is not None]
    return {"after_over_extraction_ok": bool(ratios) and max(ratios) <= GOALS["after_over_extraction_max"],
            "peak_rss_ok": max(rss) / 1024 <= GOALS["peak_rss_gb_max"],
            "peak_rss_flat_within_10pct": max(rss) <= 1.1 * min(rss) if len(rss) > 1 else None,
            "speed_ratio_ok": bool(speeds) and min(speeds) >= GOALS["speed_ratio_min"]}


def markdown(doc: dict[str, Any]) -> str:
    head = ("| languages | sentences | extraction s | after s | after/extraction | peak RSS MB | atlas sent/s | "
            "embed sent/s | ratio | full corpus, 205 langs (extrapolated) |")
    lines = [f"Atlas benchmark ({doc['model']}, SIB-200 {SPLIT}, all layers, {doc['created_utc']}); goals: after/"
             f"extraction ≤ {GOALS['after_over_extraction_max']}, peak RSS ≤ {GOALS['peak_rss_gb_max']} GB flat, "
             f"ratio ≥ {GOALS['speed_ratio_min']}.", "", head, "|" + "---|" * 10]
    for r in doc["rows"]:
        full_h = r["full_corpus"]["seconds_204_languages"] / 3600
        lines.append(f"| {r['languages']} | {r['sentences']} | {r['extraction_seconds']} | "
                     f"{r['after_extraction_seconds']} | {r['after_over_extraction']} | {r['peak_rss_atlas_mb']} | "
                     f"{r['atlas_sentences_per_second']} | {r['embed_sentences_per_second']} | {r['speed_ratio']} | "
                     f"{full_h:.1f} h |")
    lines += ["", f"Goals met: {json.dumps(doc['verdict'])}"]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--langs", default="20", help="comma-separated language counts, each its own process")
    p.add_argument("--n-boot", type=int, default=None, help="bootstrap resamples (default: the probe's)")
    p.add_argument("--model", default="default", help="encoder (default: the bundled default encoder)")
    p.add_argument("--data", default=str(SIB200), help="SIB-200 folder")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2") or 2))
    p.add_argument("--out", default=str(REPO / "analysis" / "bench_atlas.json"))
    p.add_argument("--keep-runs", default=None, help="keep each count's atlas run folder under this folder")
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--run-dir", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    from xalign.io import write_json, write_text

    if args.worker is not None:
        args.count = args.worker
        write_json(args.worker_out, run_worker(args))
        return 0
    counts = [int(c) for c in args.langs.split(",") if c.strip()]
    keep = Path(args.keep_runs) if args.keep_runs else None
    rows = [run_count(args, c, keep) for c in counts]
    doc = {"benchmark": "atlas (xalign probe --pair en-all --data sib200)", "model": args.model, "split": SPLIT,
           "threads": args.threads, "goals": GOALS, "rows": rows, "verdict": verdict(rows),
           "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu_count": os.cpu_count()}
    out = Path(args.out)
    write_json(out, doc)
    table = markdown(doc)
    write_text(out.with_suffix(".md"), table)
    logger.info("wrote %s and %s", out, out.with_suffix(".md"))
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
