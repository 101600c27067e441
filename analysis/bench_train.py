"""Cost of the robust-training methods relative to the baseline: step time and peak memory; prints one table.

    python analysis/bench_train.py                     # default encoder, batch 16 XNLI pairs, adv K = 1 and 3
    python analysis/bench_train.py --steps 8 --adv-steps 1,2,3 --batch 32 --objectives mixed,freelb
    python analysis/bench_train.py --model random      # a mid-size random BERT (no default encoder needed)

One fixed batch of English XNLI pairs (``../shared/data``; synthetic sentences when absent) goes through
``RobustTrainer.training_step`` (forward + backward of the method) + an AdamW step, as in training; the
batch is re-built from the dataset every step, so RS-DA's substitution and tokenization are included.
Each method runs in its own subprocess so peak memory is attributable: peak RSS (``ru_maxrss``) on CPU,
``torch.cuda.max_memory_allocated`` on a GPU. The first ``--warmup`` steps are not timed; the table shows
the median step, in wall time and, on CPU, in process CPU time (all threads; less sensitive to other jobs on
a shared machine — there the "× epoch" column uses it). Targets: rs-da ≤ 1.1×, rs-rp ≤ 1.15×, adv with K
steps ≈ (K+1)× the baseline for the ``mixed`` and ``adv-only`` objectives (K PGD passes + the update's
pass) and ≈ K× for ``freelb`` (its K passes are the update). ``rs-da offline N`` trains on N precomputed
copies per item (the original is not kept, as in Robust-XLT's augment step): a step costs what a baseline
step costs, but an epoch has N× the steps — the "× epoch" column. ``frozen`` rows freeze the word-embedding
matrix (``--freeze-embeddings``).
Timings depend on the machine's load: compare rows of one run.

Measured (``python analysis/bench_train.py --batch 8 --steps 2 --warmup 1``; default encoder = the offline
multilingual-e5-small; 2 CPU cores shared with five other jobs, load average 5-10, so wall times are mostly
waiting and even the CPU-time ratios are rough; an earlier batch-16 run and the reading are in
analysis/BENCH_TRAIN.md):

    model default, batch 8 pairs (271 real tokens), device cpu, 2 threads, median of 2 steps × 1 runs after 1
    warm-up (load average at start 6.5)
    method                    step s  × base   cpu s  × base   target  × epoch          peak RSS MB  × base
    baseline                  22.193    1.00   6.269    1.00        1     1.00                 2752    1.00
    baseline frozen           22.061    0.99   8.180    1.30      < 1     1.30                 1292    0.47
    rs-da                      7.557    0.34   5.414    0.86    ≤ 1.1     0.86                 2804    1.02
    rs-da offline 3            6.687    0.30   6.667    1.06      ≈ 1     3.19                 2792    1.01
    rs-rp                      7.868    0.35   7.775    1.24   ≤ 1.15     1.24                 2755    1.00
    adv mixed K=1             20.777    0.94  20.625    3.29      ≈ 2     3.29                 3258    1.18
    adv mixed K=3             24.385    1.10  24.191    3.86      ≈ 4     3.86                 3291    1.20
    adv adv-only K=1          11.458    0.52  11.400    1.82      ≈ 2     1.82                 2760    1.00
    adv adv-only K=3          17.557    0.79  17.472    2.79      ≈ 4     2.79                 2780    1.01
    adv freelb K=1             5.262    0.24   5.234    0.83      ≈ 1     0.83                 2761    1.00
    adv freelb K=3            21.757    0.98  14.452    2.31      ≈ 3     2.31                 3262    1.19
    adv mixed K=1 frozen      15.320    0.69  10.253    1.64              1.64                 1446    0.53
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _texts(n: int) -> tuple[list[str], list[str], list[int]]:
    xnli = DATA / "xnli_via_myxnli"
    if xnli.is_dir():
        from xalign.data.tasks import load_task

        ds = load_task("xnli", "en", "dev", data_dir=xnli).select(range(n))
        return list(ds["sentence1"]), list(ds["sentence2"]), list(ds["label"])
    base = "the quick brown fox jumps over the lazy dog while the cat watches from a good movie seat"
    words = base.split()
    a = [" ".join(words[i % 7:]) for i in range(n)]
    return a, [" ".join(reversed(s.split())) for s in a], [i % 3 for i in range(n)]


def _random_model(tmp: Path) -> str:
    """A 6-layer, hidden-384 random BERT with a WordPiece tokenizer trained on the benchmark texts."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    a, b, _ = _texts(200)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(a + b, trainers.WordPieceTrainer(vocab_size=8000, special_tokens=[
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=512)
    BertModel(BertConfig(vocab_size=len(fast), hidden_size=384, num_hidden_layers=6, num_attention_heads=6,
                         intermediate_size=1536)).save_pretrained(tmp)
    fast.save_pretrained(tmp)
    return str(tmp)


def worker(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding
    from transformers import TrainingArguments

    from xalign.encoders import resolve_model_path
    from xalign.robust.config import RobustConfig
    from xalign.robust.substitutions import augment_pairs, load_synonyms
    from xalign.robust.trainer import RobustTrainer
    from xalign.training.features import PairDataset
    from xalign.training.freeze import freeze_input_embeddings

    spec = json.loads(args.worker)
    method, k = spec["method"], spec.get("k", 1)
    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.model_path or resolve_model_path(args.model)
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
    if spec.get("frozen"):
        freeze_input_embeddings(model)
    a, b, y = _texts(args.batch)
    table, epoch_factor = None, 1.0
    if method == "rs-da":
        syn = DATA / "synonyms" / "counterfitted_neighbors.json"
        table = load_synonyms(syn) if syn.is_file() else {"the": ("a",), "good": ("fine", "nice")}
    if spec.get("copies"):  # offline RS-DA: the copies are the training set; a timed batch is one of them
        a2, b2, src = augment_pairs(a, b, table, copies=spec["copies"], seed=7)
        epoch_factor = len(src) / len(a)
        a, b, y, table = a2[:len(a)], b2[:len(a)], [y[i] for i in src[:len(a)]], None
    ds = PairDataset(a, b, y, tok, max_length=128, table=table, seed=7)
    robust = RobustConfig(method=method, adv_objective=spec.get("objective", "mixed"), adv_steps=int(k),
                          adv_eps=0.1, adv_alpha=0.1)
    targs = TrainingArguments(output_dir=args.tmp, report_to="none", per_device_train_batch_size=args.batch,
                              disable_tqdm=True, bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    trainer = RobustTrainer(model=model, args=targs, train_dataset=ds, data_collator=DataCollatorWithPadding(tok),
                            robust=robust)
    trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1  # set by the Trainer's loop, which we bypass
    model = trainer.model
    cuda = torch.cuda.is_available()
    times, cpu = [], []
    for step in range(args.warmup + args.steps):
        if cuda:
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        ds.set_epoch(step)
        batch = trainer.data_collator([ds[i] for i in range(len(ds))])
        trainer.state.global_step = step
        trainer.training_step(model, batch)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    peak = (torch.cuda.max_memory_allocated() / 2**20) if cuda else resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024.0
    tokens = int(batch["attention_mask"].sum())
    return {"spec": spec, "median_s": statistics.median(times), "times": times, "cpu": cpu, "peak_mb": peak,
            "epoch_factor": epoch_factor,
            "memory": "cuda max allocated" if cuda else "peak RSS", "tokens": tokens,
            "device": "cuda" if cuda else "cpu", "threads": torch.get_num_threads()}


def _rows(args: argparse.Namespace) -> dict[str, dict]:
    """The table's rows: name → worker spec (method, objective, K, frozen, offline copies)."""
    rows: dict[str, dict] = {"baseline": {"method": "baseline"}}
    if args.frozen:
        rows["baseline frozen"] = {"method": "baseline", "frozen": True}
    rows["rs-da"] = {"method": "rs-da"}
    if args.rsda_copies:
        rows[f"rs-da offline {args.rsda_copies}"] = {"method": "rs-da", "copies": args.rsda_copies}
    rows["rs-rp"] = {"method": "rs-rp"}
    ks = [int(k) for k in args.adv_steps.split(",") if k.strip()]
    for objective in [o.strip() for o in args.objectives.split(",") if o.strip()]:
        for k in ks:
            rows[f"adv {objective} K={k}"] = {"method": "adv", "objective": objective, "k": k}
    if args.frozen and ks:
        rows[f"adv mixed K={ks[0]} frozen"] = {"method": "adv", "objective": "mixed", "k": ks[0], "frozen": True}
    return rows


def _target(spec: dict) -> str:
    if spec.get("frozen"):
        return "< 1" if spec["method"] == "baseline" else ""
    if spec["method"] == "adv":
        return f"≈ {spec['k'] + (spec.get('objective') != 'freelb')}"
    if spec.get("copies"):
        return "≈ 1"
    return {"baseline": "1", "rs-da": "≤ 1.1", "rs-rp": "≤ 1.15"}[spec["method"]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="default", help="'default', 'random' (mid-size random BERT) or a model dir")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--adv-steps", default="1,3", help="comma-separated K values for adv")
    p.add_argument("--objectives", default="mixed,adv-only,freelb", help="adv objectives to time (comma-separated)")
    p.add_argument("--rsda-copies", type=int, default=3, help="offline RS-DA copies per item (0: no such row)")
    p.add_argument("--no-frozen", dest="frozen", action="store_false",
                   help="leave out the rows with a frozen word-embedding matrix")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--repeat", type=int, default=1, help="run every method this many times, interleaved; "
                                                          "the table shows the median over all timed steps")
    p.add_argument("--out", default=None, help="also write the rows as JSON here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--model-path", default=None, help=argparse.SUPPRESS)
    p.add_argument("--tmp", default="/tmp/xalign-bench-train", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args)))
        return

    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    model_path = _random_model(tmp / "model") if args.model == "random" else None
    methods = _rows(args)
    load = os.getloadavg()[0]
    results: dict[str, list[dict]] = {m: [] for m in methods}
    for _ in range(args.repeat):
        for m in methods:
            cmd = [sys.executable, __file__, "--worker", json.dumps(methods[m]), "--model", args.model,
                   "--batch", str(args.batch),
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads),
                   "--tmp", str(tmp / "out")]
            if model_path:
                cmd += ["--model-path", model_path]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not lines:
                sys.exit(f"{m} failed:\n{proc.stderr[-3000:]}")
            results[m].append(json.loads(lines[-1][len("RESULT "):]))
    rows = []
    for m in methods:
        times = [t for r in results[m] for t in r["times"]]
        cpu = [t for r in results[m] for t in r["cpu"]]
        rows.append(dict(results[m][0], name=m, times=times, median_s=statistics.median(times), cpu=cpu,
                         cpu_s=statistics.median(cpu),
                         peak_mb=max(r["peak_mb"] for r in results[m])))
    base = rows[0]
    print(f"model {args.model}, batch {args.batch} pairs ({base['tokens']} real tokens), device {base['device']}, "
          f"{base['threads']} threads, median of {args.steps} steps × {args.repeat} runs after {args.warmup} warm-up"
          f" (load average at start {load:.1f})")
    print(f"{'method':<24} {'step s':>7} {'× base':>7} {'cpu s':>7} {'× base':>7} {'target':>8} {'× epoch':>8} "
          f"{base['memory'] + ' MB':>20} {'× base':>7}")
    for r in rows:
        step, cpu = r["median_s"] / base["median_s"], r["cpu_s"] / base["cpu_s"]
        rel = cpu if base["device"] == "cpu" else step
        print(f"{r['name']:<24} {r['median_s']:7.3f} {step:7.2f} {r['cpu_s']:7.3f} {cpu:7.2f} {_target(r['spec']):>8} "
              f"{rel * r['epoch_factor']:8.2f} {r['peak_mb']:20.0f} {r['peak_mb'] / base['peak_mb']:7.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
