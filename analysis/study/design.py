"""The study design (issue 12) as data: tasks, methods, seeds, sizes, and the two scales.

Every number a reader needs sits here and is copied into each unit's JSON and into RESULTS.md.
``cpu`` is the default reduced scale (≤ 20 CPU-hours on a 2-core machine, see :func:`estimate_hours`);
``full`` is the GPU configuration (all evaluation items, no frozen embeddings, the paper's epochs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGS = ("de", "en", "es", "fr", "ja", "ko", "zh")
PAWSX_TEST_LANGS = ("de", "en", "fr", "ko", "zh")  # labelled test sets available here
MAIN_METHODS = ("baseline", "rs-rp", "rs-da", "adv")
OFFLINE_METHODS = ("rs-da-offline", "baseline-long")


@dataclass(frozen=True)
class TaskDesign:
    """One task at one scale. ``report`` maps a split to the languages whose accuracy the study reports."""

    task: str
    train_file: str  # relative to the data root
    n_train: int | None
    epochs: float
    eval_steps: int | None
    learning_rate: float
    report: dict[str, tuple[str, ...]]
    eval_splits: tuple[str, ...]
    n_eval: int | None  # items per language of every evaluation split (seeded, same items in every language)
    n_dev: int | None  # dev items written for selection (and, for PAWS-X, the dev half reported)
    generalized_langs: tuple[str, ...]
    generalized_split: str
    generalized_n: int | None
    probe_source: str  # parallel data for the alignment probe: sentence-1 column of this task's dev set
    probe_langs: tuple[str, ...]
    offline_copies: int  # rs-da offline copies (Robust-XLT: XNLI 3, PAWS-X 10)
    offline_n_train: int | None  # items given copies; baseline-long trains offline_copies epochs on them


@dataclass(frozen=True)
class Design:
    """Everything the study runs. Frozen; ``to_dict`` is recorded in every unit."""

    scale: str
    model: str
    tasks: dict[str, TaskDesign]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    offline_methods: tuple[str, ...]
    offline_seeds: tuple[int, ...]
    freeze_embeddings: bool
    max_length: int
    batch_size: int
    adv: dict[str, Any]
    rs: dict[str, Any]
    data_seed: int  # seeds the evaluation subsample and the probe subsample (never the training seed)
    n_probe: int | None  # parallel sentences per language in the probe (None: all)
    flores_pair: str
    n_boot: int
    n_boot_cka: int
    device: str = "auto"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def units(self, tasks: tuple[str, ...] | None = None) -> list[tuple[str, str, int | None]]:
        """All ``(task, method, seed)`` units, pre-trained encoders (seed None) first, then seed by seed (every
        method of one seed before the next seed), so that a chunked run completes paired comparisons early."""
        out: list[tuple[str, str, int | None]] = []
        for task in tasks or tuple(self.tasks):
            out.append((task, "pretrained", None))
            for s in self.seeds:
                out += [(task, m, s) for m in self.methods]
                out += [(task, m, s) for m in self.offline_methods if s in self.offline_seeds]
        return out


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _xnli(full: bool) -> TaskDesign:
    return TaskDesign(
        task="xnli", train_file="mnli_en_9k/train.jsonl", n_train=None, epochs=1.0,
        eval_steps=None if full else 94, learning_rate=3e-5,
        report={"test": XNLI_LANGS}, eval_splits=("test",),
        n_eval=None if full else 400, n_dev=None if full else 600,
        generalized_langs=XNLI_LANGS if full else ("en", "de", "zh", "sw", "ur"), generalized_split="test",
        generalized_n=None if full else 120, probe_source="xnli_xtreme/dev", probe_langs=XNLI_LANGS,
        offline_copies=3, offline_n_train=None if full else 3000)


def _pawsx(full: bool) -> TaskDesign:
    return TaskDesign(
        task="pawsx", train_file="paws_wiki_en/test.tsv", n_train=None, epochs=3.0 if full else 1.0,
        eval_steps=None if full else 125, learning_rate=3e-5,
        report={"test": PAWSX_TEST_LANGS, "dev": ("es", "ja")}, eval_splits=("test", "dev"),
        n_eval=None if full else 400, n_dev=None if full else 800,
        generalized_langs=PAWSX_LANGS, generalized_split="dev", generalized_n=None if full else 100,
        probe_source="pawsx_xtreme/xtreme_dev", probe_langs=PAWSX_LANGS,
        offline_copies=10, offline_n_train=None if full else 800)


CPU_NOTES = (
    "Word embeddings are frozen for every method (freeze_embeddings): the 250k x 384 embedding matrix is 80% of "
    "the encoder's parameters and most of a CPU step's optimizer cost; perturbations still act on the embedding "
    "outputs, so every method keeps its mechanics.",
    "Evaluation uses a seeded subsample of items (data_seed), the same rows in every language and for every "
    "model; selection uses a seeded subsample of the English dev set.",
    "XNLI trains one epoch on the 9,000 MultiNLI pairs (282 steps); PAWS-X one epoch on the 8,000 PAWS-Wiki "
    "pairs (250 steps) instead of the recipe's three.",
    "The offline-copies pair trains on a subset (XNLI 3,000 items x 3 copies, PAWS-X 800 items x 10 copies) so "
    "that rs-da-offline and baseline-long (copies epochs on the same items) take as many steps as the main units.",
    "Two seeds for the offline-copies pair (budget); three for the main comparison.",
)


def make_design(scale: str = "cpu", *, seeds: tuple[int, ...] | None = None, model: str = "default",
                device: str = "auto") -> Design:
    """The default design of issue 12 at ``scale`` (``cpu`` or ``full``)."""
    if scale not in ("cpu", "full"):
        raise ValueError(f"scale: expected 'cpu' or 'full', got {scale!r}")
    full = scale == "full"
    main_seeds = tuple(seeds) if seeds else ((7, 8, 9, 10, 11) if full else (7, 8, 9))
    return Design(
        scale=scale, model=model, tasks={"xnli": _xnli(full), "pawsx": _pawsx(full)},
        methods=MAIN_METHODS, seeds=main_seeds, offline_methods=OFFLINE_METHODS,
        offline_seeds=main_seeds if full else main_seeds[:2], freeze_embeddings=not full,
        max_length=128, batch_size=32,
        adv={"adv_steps": 1, "adv_eps": 0.1, "adv_alpha": 0.1, "adv_norm": "l2", "adv_scope": "token",
             "adv_objective": "mixed"},
        rs={"rs_noise": "gaussian", "rs_sigma": 0.01},
        data_seed=2024, n_probe=None if full else 400, flores_pair="en-sw",
        n_boot=2000 if full else 1000, n_boot_cka=200 if full else 100, device=device,
        notes=() if full else CPU_NOTES)


# --------------------------------------------------------------------------- budget
def method_cost(design: Design, method: str) -> float:
    """Optimizer-step cost relative to a baseline step: adversarial training adds ``adv_steps`` PGD
    forward/backward passes per step; the other methods cost one pass."""
    return 1.0 + design.adv["adv_steps"] if method == "adv" else 1.0


def train_steps(design: Design, task: str, method: str, n_train_items: int) -> int:
    """Optimizer steps of one unit (``n_train_items``: the size of the task's training file)."""
    t = design.tasks[task]
    if method == "pretrained":
        return 0
    if method in OFFLINE_METHODS:
        n = min(t.offline_n_train or n_train_items, n_train_items)
        return -(-n * t.offline_copies // design.batch_size)  # copies epochs of n items, or n x copies once
    n = min(t.n_train or n_train_items, n_train_items)
    return int(-(-n // design.batch_size) * t.epochs)


def eval_items(design: Design, task: str, n_full: dict[str, int]) -> int:
    """Sentence pairs one trained unit classifies (evaluation splits, generalized cells, selection passes)."""
    t = design.tasks[task]
    per_split = sum(len(t.report.get(s, ())) for s in t.eval_splits)
    n_eval = t.n_eval or n_full["eval"]
    gen = len(t.generalized_langs) ** 2 * (t.generalized_n or n_full["eval"])
    n_sel = (t.n_dev or n_full["dev"]) // (2 if "dev" in t.eval_splits else 1)
    n_evals = max(1, round(train_steps(design, task, "baseline", n_full["train"]) / (t.eval_steps or 10**9))) + 1
    return per_split * n_eval + gen + n_sel * n_evals


def estimate_hours(design: Design, *, sec_per_step: float = 4.5, sec_per_eval_item: float | None = None,
                   sec_per_probe_sentence: float = 0.03, sizes: dict[str, dict[str, int]] | None = None) -> dict:
    """Planned wall-clock hours per task and in total. ``sec_per_step`` is per optimizer step of 32 pairs;
    classifying a pair costs about a third of training on it (forward only) unless given."""
    sizes = sizes or {"xnli": {"train": 9000, "eval": 5010, "dev": 2490},
                      "pawsx": {"train": 8000, "eval": 1967, "dev": 1967}}
    per_eval = sec_per_eval_item if sec_per_eval_item is not None else sec_per_step / design.batch_size / 3
    out: dict[str, float] = {}
    for task, t in design.tasks.items():
        n_probe = (design.n_probe or 800) * (len(t.probe_langs) + 2)
        total = 0.0
        for _, method, _ in (u for u in design.units((task,))):
            steps = train_steps(design, task, method, sizes[task]["train"])
            total += steps * sec_per_step * method_cost(design, method)
            total += 0 if method == "pretrained" else eval_items(design, task, sizes[task]) * per_eval
            total += n_probe * sec_per_probe_sentence
        out[task] = total / 3600
    out["total"] = sum(out.values())
    return out
