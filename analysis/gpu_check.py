"""One command that proves xalign's GPU path (issue 14, section 2), ≤ 10 minutes on one GPU.

    pip install 'xalign[gpu]'            # faiss-gpu-cu12, with a CUDA build of torch (see docs/gpu.md)
    python analysis/gpu_check.py         # writes analysis/gpu_check.json and analysis/gpu_check.md

Rows (each "ok", "FAIL" or "skipped: <why>"; the exit status is 1 when a row fails):

1. the ``gpu``-marked tests (``pytest -m gpu tests``);
2. extraction of the NTREX-128 en+sw corpus (all layers, mean pooling) on CUDA in fp32 and with bf16
   autocast: sentences/s, peak CUDA memory, and the max |difference| of bf16 vs fp32 per-layer means
   (mean over sentences) and the smallest per-sentence cosine; plus CUDA fp32 vs CPU fp32 on a subset;
3. retrieval top-1 with faiss-gpu vs faiss-cpu on the same 50k x 50k vectors (random unit vectors with a
   planted match): top-1 identical except ties (equal scores), and the time ratio;
4. linear CKA (and debiased) on CUDA vs CPU: equal to 1e-6;
5. 100 training steps per method (baseline, adv, rs-rp, rs-da) with bf16 autocast on CUDA: median step
   time, ratio to the same steps on CPU (fp32, a few steps), and every logged loss finite.

Without CUDA every CUDA row is skipped with a line saying so; the CPU reference parts still run, so the
script itself is tested on CPU (``tests/scale/test_gpu_check.py`` runs it with tiny sizes). TF32 is off
for every numeric comparison. Only the public API of xalign is used.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
METHODS = ("baseline", "adv", "rs-rp", "rs-da")


class Skip(Exception):
    """A row that cannot run here; the message says why. ``metrics``: what was measured before (CPU parts)."""

    def __init__(self, reason: str, metrics: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.metrics = dict(metrics or {})


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _need_cuda(measured: dict[str, Any] | None = None) -> None:
    if not _cuda():
        raise Skip("no CUDA device (torch.cuda.is_available() is False); CUDA part still to be measured on a GPU",
                   measured)


def _no_tf32() -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


# --------------------------------------------------------------------------- rows
def row_gpu_tests(args: argparse.Namespace) -> dict[str, Any]:
    if args.no_tests:
        raise Skip("--no-tests given")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "gpu", str(REPO / "tests")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=args.timeout)
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    counts = {key: int(n) for n, key in
              (part.split(" ", 1) for part in summary.strip("= ").split(" in ")[0].split(", ") if part[:1].isdigit())}
    if not _cuda():
        raise Skip("no CUDA device: the gpu tests skip here", {"summary": summary, "counts": counts})
    return {"ok": proc.returncode == 0, "summary": summary, "counts": counts}


def _corpus(args: argparse.Namespace):
    import xalign

    data = args.data or (f"ntrex:{SHARED / 'ntrex128'}" if (SHARED / "ntrex128").is_dir() else "demo")
    corpus = xalign.load_parallel(pair="en-sw", data=data)
    return corpus.head(args.limit) if args.limit else corpus


def _timed_embed(encoder, texts: list[str], precision: str, batch_size: int) -> tuple[np.ndarray, float]:
    import torch

    # not ``xalign.embed(...)``: once the subpackage xalign.embed is imported, that name is the module
    from xalign.embed import embed

    embed(encoder, texts[:8], layers="all", precision=precision, batch_size=batch_size)  # warm-up
    if encoder.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    vecs = embed(encoder, texts, layers="all", precision=precision, batch_size=batch_size)
    if encoder.device.type == "cuda":
        torch.cuda.synchronize()
    return vecs, time.perf_counter() - start


def row_extraction(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    import xalign

    corpus = _corpus(args)
    texts = list(corpus.src) + list(corpus.tgt)
    out: dict[str, Any] = {"n_sentences": len(texts), "corpus": corpus.name}
    sub = texts[: args.cpu_subset]
    cpu_enc = xalign.load_encoder(args.model, device="cpu")
    cpu_vecs, cpu_s = _timed_embed(cpu_enc, sub, "fp32", args.batch_size)
    out["cpu_fp32_sentences_per_s"] = round(len(sub) / cpu_s, 1)
    del cpu_enc
    _need_cuda(out)
    _no_tf32()
    enc = xalign.load_encoder(args.model, device="cuda")
    res = {}
    for precision in ("fp32", "bf16"):
        torch.cuda.reset_peak_memory_stats()
        vecs, secs = _timed_embed(enc, texts, precision, args.batch_size)
        res[precision] = vecs
        out[f"cuda_{precision}_sentences_per_s"] = round(len(texts) / secs, 1)
        out[f"cuda_{precision}_peak_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    a, b = res["fp32"].astype(np.float64), res["bf16"].astype(np.float64)
    out["bf16_vs_fp32_max_abs_diff_layer_means"] = float(np.abs(a.mean(1) - b.mean(1)).max())
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    out["bf16_vs_fp32_min_cosine"] = float(cos.min())
    out["cuda_fp32_vs_cpu_fp32_max_abs_diff"] = float(np.abs(res["fp32"][:, : len(sub)] - cpu_vecs).max())
    out["ok"] = out["cuda_fp32_vs_cpu_fp32_max_abs_diff"] < 1e-3 and out["bf16_vs_fp32_min_cosine"] > 0.99
    return out


def _planted(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((n, dim)).astype(np.float32)
    queries = keys + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    for x in (keys, queries):
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return queries, keys


def row_retrieval(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from xalign.metrics.search import topk_search

    from importlib import metadata

    def installed(dist: str) -> bool:
        try:
            return bool(metadata.version(dist))
        except metadata.PackageNotFoundError:
            return False

    q, keys = _planted(args.retrieval_n, args.dim)
    start = time.perf_counter()
    s_cpu, i_cpu = topk_search(q, keys, 1, device="cpu", backend="faiss")
    t_cpu = time.perf_counter() - start
    out: dict[str, Any] = {"n": args.retrieval_n, "dim": args.dim, "faiss_cpu_s": round(t_cpu, 3),
                           "planted_top1": float((i_cpu[:, 0] == np.arange(len(q))).mean()),
                           "faiss_cpu_installed": installed("faiss-cpu"), "faiss_gpu_installed": installed("faiss-gpu-cu12")}
    if args.retrieval_n <= 5000:  # small enough for an independent brute-force check on CPU
        out["faiss_cpu_equals_numpy_argmax"] = bool((i_cpu[:, 0] == (q @ keys.T).argmax(1)).all())
    _need_cuda(out)
    if faiss.get_num_gpus() < 1:
        raise Skip("faiss sees no GPU (install the gpu extra: pip install 'xalign[gpu]')", out)
    _no_tf32()
    topk_search(q[:100], keys, 1, device="cuda", backend="faiss")  # warm-up (GPU resources)
    start = time.perf_counter()
    s_gpu, i_gpu = topk_search(q, keys, 1, device="cuda", backend="faiss")
    t_gpu = time.perf_counter() - start
    differ = np.flatnonzero(i_gpu[:, 0] != i_cpu[:, 0])
    # a differing top-1 is a tie when both indices score the same for that query (to float32 rounding)
    alt = np.einsum("ij,ij->i", q[differ], keys[i_gpu[differ, 0]]) if len(differ) else np.zeros(0)
    ref = np.einsum("ij,ij->i", q[differ], keys[i_cpu[differ, 0]]) if len(differ) else np.zeros(0)
    non_ties = int((np.abs(alt - ref) > 1e-5).sum())
    out.update(faiss_gpu_s=round(t_gpu, 3), cpu_over_gpu_time=round(t_cpu / t_gpu, 1),
               top1_differ=int(len(differ)), top1_differ_not_ties=non_ties,
               max_abs_score_diff=float(np.abs(s_gpu - s_cpu).max()), ok=non_ties == 0)
    return out


def row_cka(args: argparse.Namespace) -> dict[str, Any]:
    from xalign.metrics.cka import linear_cka

    rng = np.random.default_rng(1)
    x = rng.standard_normal((args.cka_n, args.dim))
    y = x @ rng.standard_normal((args.dim, args.dim)) * 0.1 + rng.standard_normal((args.cka_n, args.dim))
    out = {"n": args.cka_n, "dim": args.dim, "cpu_linear": linear_cka(x, y, device="cpu"),
           "cpu_debiased": linear_cka(x, y, debiased=True, device="cpu")}
    _need_cuda(out)
    _no_tf32()
    out["cuda_linear"] = linear_cka(x, y, device="cuda")
    out["cuda_debiased"] = linear_cka(x, y, debiased=True, device="cuda")
    out["max_abs_diff"] = max(abs(out["cuda_linear"] - out["cpu_linear"]), abs(out["cuda_debiased"] - out["cpu_debiased"]))
    out["ok"] = out["max_abs_diff"] <= 1e-6
    return out


def _pairs_file(folder: Path, corpus, n: int) -> Path:
    """Synthetic labelled pairs from the corpus: 0 = same sentence, 1 = another sentence, 2 = words reversed."""
    src = list(corpus.src)
    rows = []
    for i in range(n):
        s = src[i % len(src)]
        other = [s, src[(i * 7 + 3) % len(src)], " ".join(reversed(s.split()))][i % 3]
        rows.append(f"{s}\t{other}\t{i % 3}\n")
    path = folder / "pairs.tsv"
    path.write_text("sentence1\tsentence2\tlabel\n" + "".join(rows), encoding="utf-8")
    return path


def _train_steps(args, folder: Path, method: str, device: str, steps: int, pairs: Path) -> dict[str, Any]:
    from transformers import TrainerCallback

    from xalign.pipelines.train import TrainConfig, train

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.losses: list[float] = []

        def on_step_begin(self, *a, **k):
            if device == "cuda":
                import torch

                torch.cuda.synchronize()
            self._t = time.perf_counter()

        def on_step_end(self, *a, **k):
            if device == "cuda":
                import torch

                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._t)

        def on_log(self, args_, state, control, logs=None, **k):
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    syn = SHARED / "synonyms" / "counterfitted_neighbors.json"
    if not syn.is_file():
        syn = folder / "syn.json"
        syn.write_text(json.dumps({"the": ["a"], "of": ["from"], "and": ["plus"], "in": ["inside"]}))
    extra = {"rs-da": {"rsda_sources": ["synonyms"], "synonyms": str(syn)}, "adv": {"adv_steps": 1}}.get(method, {})
    clock = Clock()
    train(TrainConfig(out=str(folder / f"{method}-{device}"), model=args.model, task="pairs", train_file=str(pairs),
                      select_file=str(pairs), eval_files={"en": str(pairs)}, method=method, max_steps=steps,
                      batch_size=args.train_batch, max_length=args.max_length, logging_steps=1,
                      eval_batch_size=64, device=device, precision="bf16" if device == "cuda" else "fp32",
                      learning_rate=2e-5, **extra), callbacks=[clock])
    timed = clock.times[1:] or clock.times  # the first step includes warm-up
    return {"median_step_s": statistics.median(timed), "losses_finite": all(map(math.isfinite, clock.losses)),
            "n_losses": len(clock.losses), "last_loss": clock.losses[-1] if clock.losses else None}


def row_training(args: argparse.Namespace) -> dict[str, Any]:
    corpus = _corpus(args)
    out: dict[str, Any] = {"steps": args.train_steps, "cpu_steps": args.cpu_steps, "batch_size": args.train_batch}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pairs = _pairs_file(folder, corpus, max(64, args.train_batch * 4))
        for method in args.methods:
            out[f"{method}_cpu"] = _train_steps(args, folder, method, "cpu", args.cpu_steps, pairs)
        _need_cuda(out)
        for method in args.methods:
            got = _train_steps(args, folder, method, "cuda", args.train_steps, pairs)
            got["cpu_over_cuda_step_time"] = round(out[f"{method}_cpu"]["median_step_s"] / got["median_step_s"], 1)
            out[f"{method}_cuda_bf16"] = got
    out["ok"] = all(v["losses_finite"] and v["n_losses"] > 0 for k, v in out.items() if isinstance(v, dict))
    return out


ROWS: list[tuple[str, str, Callable[[argparse.Namespace], dict[str, Any]]]] = [
    ("gpu tests", "pytest -m gpu passes", row_gpu_tests),
    ("extraction fp32/bf16", "CUDA fp32 = CPU fp32 (< 1e-3); bf16 cosine to fp32 > 0.99", row_extraction),
    ("faiss-gpu vs faiss-cpu", "top-1 identical except ties", row_retrieval),
    ("CKA CUDA vs CPU", "|difference| <= 1e-6", row_cka),
    ("training bf16", "every logged loss finite", row_training),
]


# --------------------------------------------------------------------------- report
def _brief(metrics: dict[str, Any]) -> str:
    parts = []
    for key, value in metrics.items():
        if key == "ok" or isinstance(value, dict):
            if isinstance(value, dict) and "median_step_s" in value:
                ratio = value.get("cpu_over_cuda_step_time")
                parts.append(f"{key}: {value['median_step_s']:.3g} s/step" + (f" ({ratio}x vs CPU)" if ratio else ""))
            continue
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return "; ".join(parts)


def run_checks(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    rows = []
    for name, criterion, fn in ROWS:
        if args.only and name.split()[0] not in args.only:
            continue
        start = time.perf_counter()
        row: dict[str, Any] = {"check": name, "criterion": criterion}
        try:
            metrics = fn(args)
            row.update(status="ok" if metrics.pop("ok", True) else "FAIL", metrics=metrics)
        except Skip as skip:
            row.update(status=f"skipped: {skip}", metrics=skip.metrics)
        except Exception as exc:  # a failing row is a finding; the other rows still run
            row.update(status="FAIL", error=f"{type(exc).__name__}: {exc}", metrics={})
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(f"{name}: {row['status']}" + (f" ({row['error']})" if "error" in row else ""), flush=True)
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "torch": torch.__version__,
            "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0) if _cuda() else "cpu only",
            "model": args.model, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# GPU check ({result['created']}, {result['device']}, torch {result['torch']}, model {result['model']})",
             "", "| check | status | result | criterion | s |", "|---|---|---|---|---|"]
    for row in result["rows"]:
        text = row.get("error") or _brief(row["metrics"])
        cells = [row["check"], row["status"], text, row["criterion"], str(row["seconds"])]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if not _cuda():
        lines += ["", "No CUDA device was available: the CUDA rows are still to be measured on a GPU."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=None, help="corpus for extraction/training (default: NTREX-128 if present)")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of the corpus")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cpu-subset", type=int, default=256, help="sentences embedded on CPU for the reference")
    parser.add_argument("--retrieval-n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--cka-n", type=int, default=5_000)
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--cpu-steps", type=int, default=4)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--no-tests", action="store_true", help="skip the pytest -m gpu row")
    parser.add_argument("--only", nargs="*", help="first words of the rows to run (gpu, extraction, faiss, CKA, training)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--out-dir", default=str(REPO / "analysis"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    result = run_checks(args)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("gpu_check.json", json.dumps(result, indent=2, default=float) + "\n"),
                       ("gpu_check.md", markdown(result))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)
    print(f"wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}")
    return 1 if any(row["status"] == "FAIL" for row in result["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
