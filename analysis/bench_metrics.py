"""Benchmark of xalign's metric kernels against the obvious alternatives; prints one table.

    python analysis/bench_metrics.py            # full sizes (about 15-20 min on 2 CPU cores)
    python analysis/bench_metrics.py --quick    # smaller sizes (a few minutes)
    python analysis/bench_metrics.py --only retrieval,cka

1. Exact top-10 CSLS retrieval, n x n random unit vectors (d = 384; 50k full, 10k quick):
   xalign ``csls_topk`` (two faiss searches + a proven-exact candidate re-ranking) vs sklearn
   ``NearestNeighbors(algorithm="brute", metric="cosine")`` for both neighbourhoods plus sklearn's
   own chunked brute-force scan (``pairwise_distances_chunked``, what NearestNeighbors uses) for the
   CSLS re-scoring, vs a chunked torch matmul + topk. Also xalign ``retrieval_scores(method="csls")``,
   which adds exact ranks of every gold target. Each row runs in its own subprocess so peak RSS
   (``ru_maxrss``, including the interpreter, imports and both input matrices) is attributable.
2. 13 x 13 linear-CKA grid, n = 20k (quick 4k), d = 384: ``cka_grid`` (feature form, float64) vs the
   Gram form (n x n float32 torch Grams, centred, two held at a time, as Kornblith's ``cka(gram_linear(X),
   gram_linear(Y))`` per cell with each row's Gram reused).
3. Itermax word alignment on the en-fr and en-cz gold pairs (binaryalign_processed train + valid),
   default encoder, hidden_states[8], subword level: pairs/s of xalign's batched path (similarity +
   ``align_batch`` + ``subword_to_word``) vs a per-pair loop in SimAlign's style (sklearn cosine,
   SimAlign's ``iter_max``, its Python loop over the matrix), asserting identical alignments; and
   SimAlign 0.4 itself end to end (encoding included) on a local model directory when installed.

4. ``--only probe``: wall time of a whole ``xalign.probe`` (default encoder, en-sw demo, every layer, all
   four rules, CKA with CIs, BLI) in a fresh interpreter, for this checkout and, with
   ``--baseline-repo DIR``, for another checkout of xalign (e.g. before the shared per-layer top-k);
   prints both and their ratio. ``--probe-limit N`` sentence pairs (default 300).

Only the public API of xalign is used. Timings depend on the machine's load: compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "word_alignment" / "binaryalign_processed"
DIM = 384


# --------------------------------------------------------------------------------------- helpers

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _unit_rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _run_worker(task: str, n: int, timeout: float = 3600) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; returns its JSON line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", task, "--n", str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if proc.returncode != 0:
        return {"task": task, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- retrieval workers

def _csls_sklearn(q: np.ndarray, keys: np.ndarray, k: int, nb: int) -> np.ndarray:
    from sklearn.metrics import pairwise_distances_chunked
    from sklearn.neighbors import NearestNeighbors

    d_q, _ = NearestNeighbors(n_neighbors=nb, algorithm="brute", metric="cosine").fit(keys).kneighbors(q)
    d_k, _ = NearestNeighbors(n_neighbors=nb, algorithm="brute", metric="cosine").fit(q).kneighbors(keys)
    r_q, r_k = (1.0 - d_q).mean(1), (1.0 - d_k).mean(1)

    def reduce(block: np.ndarray, start: int) -> np.ndarray:
        score = 2.0 * (1.0 - block) - r_q[start:start + block.shape[0], None] - r_k[None, :]
        part = np.argpartition(-score, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(score, part, 1), axis=1)
        return np.take_along_axis(part, order, 1)

    return np.vstack(list(pairwise_distances_chunked(q, keys, metric="cosine", reduce_func=reduce)))


def _csls_torch(q: np.ndarray, keys: np.ndarray, k: int, nb: int, chunk: int = 4096) -> np.ndarray:
    import torch

    qt, kt = torch.from_numpy(q), torch.from_numpy(keys)

    def mean_topk(a: Any, b: Any) -> Any:
        return torch.cat([torch.topk(a[i:i + chunk] @ b.T, nb, dim=1).values.mean(1) for i in range(0, len(a), chunk)])

    with torch.no_grad():
        r_q, r_k = mean_topk(qt, kt), mean_topk(kt, qt)
        out = [torch.topk(2 * (qt[i:i + chunk] @ kt.T) - r_q[i:i + chunk, None] - r_k[None, :], k, dim=1).indices
               for i in range(0, len(qt), chunk)]
    return torch.cat(out).numpy()


def _preimport(task: str) -> None:
    """Import what a task needs before its clock starts (imports are not what is measured)."""
    if "sklearn" in task:
        import sklearn.metrics  # noqa: F401
        import sklearn.neighbors  # noqa: F401
    else:
        import faiss  # noqa: F401
        import torch  # noqa: F401

        import xalign.metrics  # noqa: F401


def _worker_retrieval(task: str, n: int) -> dict[str, Any]:
    q, keys = _unit_rows(n, 1), _unit_rows(n, 2)
    _preimport(task)
    t0 = time.perf_counter()
    if task == "csls-xalign":
        from xalign.metrics import csls_topk

        idx = csls_topk(q, keys, 10, neighbourhood=10, device="cpu")[1]
    elif task == "csls-sklearn":
        idx = _csls_sklearn(q, keys, 10, 10)
    elif task == "csls-torch":
        idx = _csls_torch(q, keys, 10, 10)
    elif task == "csls-ranks-xalign":
        from xalign.metrics import retrieval_scores

        res = retrieval_scores(q, keys, method="csls", device="cpu")
        idx = res.top1[:, None]
    else:
        raise ValueError(task)
    seconds = time.perf_counter() - t0
    out_path = Path(os.environ.get("XALIGN_BENCH_TMP", "/tmp")) / f"bench_{task}_{n}.npy"
    np.save(out_path, idx[:, :1].astype(np.int64))
    return {"task": task, "seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "top1_file": str(out_path)}


# ------------------------------------------------------------------------------------- CKA workers

def _gram_grid(layers: np.ndarray) -> np.ndarray:
    """Gram-form linear CKA grid: centred n x n float32 Grams (torch), two held at a time."""
    import torch

    def centred_gram(x: np.ndarray) -> Any:
        t = torch.from_numpy(x)
        g = t @ t.T
        g -= g.mean(dim=0, keepdim=True)
        g -= g.mean(dim=1, keepdim=True)
        return g

    def dot64(a: Any, b: Any, rows: int = 1024) -> float:  # <A, B>_F accumulated in float64, row blocks
        return sum(float((a[r:r + rows].double() * b[r:r + rows].double()).sum()) for r in range(0, a.shape[0], rows))

    n_layers = layers.shape[0]
    grid = np.eye(n_layers)
    norms: dict[int, float] = {}
    with torch.no_grad():
        for i in range(n_layers):
            gi = centred_gram(layers[i])
            norms.setdefault(i, dot64(gi, gi) ** 0.5)
            for j in range(i + 1, n_layers):
                gj = centred_gram(layers[j])
                norms.setdefault(j, dot64(gj, gj) ** 0.5)
                grid[i, j] = grid[j, i] = dot64(gi, gj) / (norms[i] * norms[j])
                del gj
            del gi
    return grid


def _cka_layers(n: int) -> np.ndarray:
    """13 correlated 'layers' (a random walk), float32 [13, n, 384]."""
    rng = np.random.default_rng(0)
    steps = rng.standard_normal((13, n, DIM), dtype=np.float32)
    steps[0] *= 3.0
    return np.cumsum(steps, axis=0, out=steps)  # in place: the input costs 13 * n * 384 * 4 bytes once


def _worker_cka(task: str, n: int) -> dict[str, Any]:
    layers = _cka_layers(n)
    _preimport(task)
    t0 = time.perf_counter()
    if task == "cka-xalign":
        from xalign.metrics import cka_grid

        grid = cka_grid(layers, device="cpu")
    elif task == "cka-gram":
        grid = _gram_grid(layers)
    else:
        raise ValueError(task)
    seconds = time.perf_counter() - t0
    return {"task": task, "seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "grid": grid.tolist()}


# ------------------------------------------------------------------------------ word alignment part

def _read_gold(pair_dir: str) -> tuple[list[list[str]], list[list[str]], list[set[tuple[int, int]]]]:
    src, tgt, sure = [], [], []
    for split in ("train", "valid"):
        for path in sorted((DATA / split / pair_dir).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    src.append(row["src_words"])
                    tgt.append(row["tgt_words"])
                    sure.append({(int(i), int(j)) for i, j in row["alignment"]})
    return src, tgt, sure


def _simalign_style(vec_s: list[np.ndarray], vec_t: list[np.ndarray], ids_s: list[np.ndarray],
                    ids_t: list[np.ndarray]) -> list[set[tuple[int, int]]]:
    """Per pair, as SimAlign 0.4's get_word_aligns: sklearn cosine, iter_max, Python loop over the matrix."""
    from sklearn.metrics.pairwise import cosine_similarity

    sys.path.insert(0, str(REPO))
    from tests.reference.simalign import iter_max  # SimAlign 0.4, verbatim (the one copy)

    out = []
    for vs, vt, bs, bt in zip(vec_s, vec_t, ids_s, ids_t):
        sim = (cosine_similarity(vs.astype(np.float64), vt.astype(np.float64)) + 1.0) / 2.0
        mat = iter_max(sim)
        aligns = set()
        for i in range(len(vs)):
            for j in range(len(vt)):
                if mat[i, j] > 0:
                    aligns.add((int(bs[i]), int(bt[j])))
        out.append(aligns)
    return out


def _wordalign_rows(quick: bool) -> list[dict[str, Any]]:
    from xalign.embed import embed_words
    from xalign.encoders import load_encoder
    from xalign.metrics import align_batch, alignment_scores, similarity, subword_to_word

    if not DATA.is_dir():
        return [{"name": "word alignment", "note": f"skipped: {DATA} is absent"}]
    import sklearn.metrics.pairwise  # noqa: F401  (imported before any clock starts)

    encoder = load_encoder("default", device="cpu")
    rows = []
    for pair_dir, label in (("en-fr", "en-fr"), ("en-cz", "en-cs")):
        src, tgt, sure = _read_gold(pair_dir)
        if quick:
            src, tgt, sure = src[:300], tgt[:300], sure[:300]
        t0 = time.perf_counter()
        es = embed_words(encoder, src, layers=[8], pretokenized=True, subwords=True)
        et = embed_words(encoder, tgt, layers=[8], pretokenized=True, subwords=True)
        t_embed = time.perf_counter() - t0
        vs = [e.vectors[0] for e in es]
        vt = [e.vectors[0] for e in et]
        ids_s = [e.word_ids for e in es]
        ids_t = [e.word_ids for e in et]
        t0 = time.perf_counter()
        masks = align_batch([similarity(a, b) for a, b in zip(vs, vt)], "itermax")
        ours = [subword_to_word(m, a, b) for m, a, b in zip(masks, ids_s, ids_t)]
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = _simalign_style(vs, vt, ids_s, ids_t)
        t_ref = time.perf_counter() - t0
        same = sum(a == b for a, b in zip(ours, ref))
        scores = alignment_scores(ours, sure)
        n = len(src)
        rows.append({"name": f"itermax {label} ({n} pairs) xalign align_batch", "seconds": t_ours,
                     "rate": n / t_ours, "note": f"F1 {scores.f1:.3f} AER {scores.aer:.3f}; encoding {t_embed:.1f}s"})
        rows.append({"name": f"itermax {label} ({n} pairs) SimAlign-style loop", "seconds": t_ref, "rate": n / t_ref,
                     "ratio": t_ref / t_ours, "note": f"identical alignments {same}/{n}"})
        if same != n:
            raise AssertionError(f"{label}: batched and SimAlign-style alignments differ on {n - same} pairs")
        rows.extend(_simalign_itself(label, src, tgt, sure, t_embed + t_ours, quick))
    return rows


def _simalign_itself(label: str, src: list[list[str]], tgt: list[list[str]], sure: list[set[tuple[int, int]]],
                     xalign_end_to_end: float, quick: bool) -> list[dict[str, Any]]:
    try:
        from simalign import SentenceAligner
    except ImportError:
        return [{"name": f"SimAlign 0.4 {label}", "note": "not installed (pip install simalign==0.4)"}]
    from xalign.encoders import resolve_model_path
    from xalign.metrics import alignment_scores

    limit = 100  # SimAlign encodes one pair per forward pass: ~1 pair/s here
    aligner = SentenceAligner(model=resolve_model_path("default"), token_type="bpe", matching_methods="i",
                              device="cpu", layer=8)
    src, tgt, sure = src[:limit], tgt[:limit], sure[:limit]
    t0 = time.perf_counter()
    preds = [set(map(tuple, aligner.get_word_aligns(s, t)["itermax"])) for s, t in zip(src, tgt)]
    seconds = time.perf_counter() - t0
    scores = alignment_scores(preds, sure)
    return [{"name": f"SimAlign 0.4 end to end {label} (first {len(src)} pairs)", "seconds": seconds,
             "rate": len(src) / seconds,
             "note": f"F1 {scores.f1:.3f}; xalign end to end (encode + align, all pairs) "
                     f"{xalign_end_to_end:.1f}s"}]


# ------------------------------------------------------------------------------------------ driver

def _fmt(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'benchmark':<72} {'seconds':>9} {'ratio':>7} {'peak RSS MB':>12} {'pairs/s':>9}  note",
             "-" * 130]
    for r in rows:
        sec = f"{r['seconds']:.2f}" if "seconds" in r else "-"
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else ""
        rss = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else ""
        rate = f"{r['rate']:.0f}" if "rate" in r else ""
        lines.append(f"{r['name']:<72} {sec:>9} {ratio:>7} {rss:>12} {rate:>9}  {r.get('note', '')}")
    return "\n".join(lines)


def _retrieval_rows(n: int) -> list[dict[str, Any]]:
    results = {t: _run_worker(t, n) for t in ("csls-xalign", "csls-torch", "csls-sklearn", "csls-ranks-xalign")}
    base = results["csls-xalign"]
    rows = []
    top1 = {t: np.load(r["top1_file"])[:, 0] for t, r in results.items() if "top1_file" in r}
    for task, label in (("csls-xalign", "xalign csls_topk (faiss)"), ("csls-sklearn", "sklearn NearestNeighbors brute"),
                        ("csls-torch", "torch chunked matmul + topk"),
                        ("csls-ranks-xalign", "xalign retrieval_scores csls (+ exact ranks)")):
        r = results[task]
        name = f"CSLS top-10 {n // 1000}k x {n // 1000}k x {DIM}: {label}"
        if "error" in r:
            rows.append({"name": name, "note": f"error: {r['error']}"})
            continue
        row = {"name": name, "seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]}
        if task != "csls-xalign" and "seconds" in base:
            row["ratio"] = r["seconds"] / base["seconds"]
        if task in top1 and "csls-xalign" in top1:
            row["note"] = f"top-1 agrees with xalign on {np.mean(top1[task] == top1['csls-xalign']):.4%}"
        rows.append(row)
    return rows


def _cka_rows(n: int) -> list[dict[str, Any]]:
    ours, gram = _run_worker("cka-xalign", n), _run_worker("cka-gram", n)
    rows = []
    name = f"linear CKA grid 13x13, n={n // 1000}k, d={DIM}: "
    if "error" in ours:
        return [{"name": name + "xalign", "note": f"error: {ours['error']}"}]
    rows.append({"name": name + "xalign cka_grid (feature form)", "seconds": ours["seconds"],
                 "peak_rss_mb": ours["peak_rss_mb"]})
    if "error" in gram:
        rows.append({"name": name + "Gram form", "note": f"error: {gram['error']}"})
    else:
        diff = float(np.max(np.abs(np.array(ours["grid"]) - np.array(gram["grid"]))))
        rows.append({"name": name + "Gram form (float32 torch)", "seconds": gram["seconds"],
                     "peak_rss_mb": gram["peak_rss_mb"], "ratio": gram["seconds"] / ours["seconds"],
                     "note": f"max |difference| {diff:.1e}"})
    return rows


_PROBE_SNIPPET = """
import json, sys, time
import xalign
from xalign.pipelines.probe import ProbeConfig, probe
enc = xalign.load_encoder("default", device="cpu")
corpus = xalign.load_parallel(pair="en-sw").head(int(sys.argv[1]))
config = ProbeConfig(pairs=["en-sw"], report=False)
probe(config, encoder=enc, corpora=[corpus.head(20)])  # warm-up (imports, faiss, torch kernels)
t0 = time.perf_counter()
probe(config, encoder=enc, corpora=[corpus])
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def _probe_seconds(repo: Path, limit: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    out = subprocess.run([sys.executable, "-c", _PROBE_SNIPPET, str(limit)], env=env, capture_output=True, text=True,
                         check=True, cwd=str(repo))
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def _probe_rows(limit: int, baseline: str | None) -> list[dict[str, Any]]:
    rows = [{"what": f"probe, this checkout (n = {limit})", "seconds": round(_probe_seconds(REPO, limit), 1)}]
    if baseline:
        before = _probe_seconds(Path(baseline), limit)
        rows.insert(0, {"what": f"probe, {baseline} (n = {limit})", "seconds": round(before, 1)})
        rows.append({"what": "speed-up (baseline / this)", "seconds": round(before / rows[-1]["seconds"], 2)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", default="retrieval,cka,wordalign", help="comma-separated parts")
    parser.add_argument("--baseline-repo", default=None, help="another xalign checkout to time the probe against")
    parser.add_argument("--probe-limit", type=int, default=300, help="sentence pairs of the probe timing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        fn = _worker_cka if args.worker.startswith("cka") else _worker_retrieval
        print(json.dumps(fn(args.worker, args.n)))
        return 0
    parts = set(args.only.split(","))
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if "retrieval" in parts:
        rows += _retrieval_rows(10_000 if args.quick else 50_000)
    if "cka" in parts:
        rows += _cka_rows(4_000 if args.quick else 20_000)
    if "wordalign" in parts:
        rows += _wordalign_rows(args.quick)
    probe_rows = _probe_rows(args.probe_limit, args.baseline_repo) if "probe" in parts else []
    import faiss
    import torch

    print(f"# bench_metrics ({'quick' if args.quick else 'full'}), {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), faiss {faiss.__version__}, load average at end "
          f"{os.getloadavg()[0]:.1f}, total {time.perf_counter() - t0:.0f}s")
    for row in probe_rows:
        print(f"{row['what']:<60} {row['seconds']}")
    if not rows:
        return 0
    print(_fmt(rows))
    print("ratio = seconds of that row / seconds of the xalign row of the same benchmark (> 1: xalign is faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
