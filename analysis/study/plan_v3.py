"""Study v3, ready to run later (issue 25, items 1, 4 and 5): the equal-tuning search and the SIB-200 arm as
unit lists with a cost measured from the finished units. Nothing here trains; ``--plan`` prints it.

**Equal tuning** (every method the same number of trials on English dev, one seed, recorded as resumable
units under ``analysis/results/tuning/v3/``):

* stage 0, per task: the measured scale of the perturbations, the mean L2 norm ‖e‖ of a token's embedding-layer
  output over training sentences (``<task>-embedding-norm.json``); adv ε and rs-rp σ are set relative to it
  (adv: ε = r·‖e‖; rs-rp: per-coordinate σ = r·‖e‖/√d, so the noise vector's norm is about r·‖e‖ too);
* stage 1, every method: learning rate ∈ :data:`STAGE1_LR` at the method's middle strength;
* stage 2, every method at its stage-1 learning rate: three strength settings (the baseline, which has none,
  gets three more learning rates, so that every method has :data:`TRIALS_PER_METHOD` trials).
  adv: (r, PGD steps); rs-rp: r; rs-da (offline copies, the paper's main arm): (substitution rate, copies).
* selection: the best English dev accuracy at the selected step; ties go to the weaker setting.

**SIB-200 arm**: baseline, rs-rp, rs-da (offline copies), adv and the paired-substitution rs-da ablation ×
:data:`SIB_SEEDS`, zero-shot accuracy in every language (``xalign.train(task="sib200", eval_langs="all", ...)``)
and per-language FLORES retrieval per layer before (the pre-trained encoder) and after each run
(``xalign.probe(data="sib200:DIR", pair="en-all")``). Units whose API does not exist yet are marked with what
they need. The analysis they feed: Δalignment ↔ Δaccuracy across ~200 languages with a language-clustered CI
(``spearman_ci(groups=...)``), and gains by seen/unseen in pre-training, script, family and URIEL distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.study.design import Design, eval_items, method_cost, train_steps

TRIALS_PER_METHOD = 6
STAGE1_LR = (1e-5, 3e-5, 5e-5)
BASELINE_STAGE2_LR = (2e-5, 7e-5, 1e-4)
MIDDLE = {"adv": {"adv_eps_rel": 0.03, "adv_steps": 1}, "rs-rp": {"rs_sigma_rel": 0.03},
          "rs-da": {"rsda_rate": 0.5, "rsda_copies": "task"}}
STAGE2 = {"adv": ({"adv_eps_rel": 0.01, "adv_steps": 1}, {"adv_eps_rel": 0.1, "adv_steps": 1},
                  {"adv_eps_rel": 0.03, "adv_steps": 3}),
          "rs-rp": ({"rs_sigma_rel": 0.01}, {"rs_sigma_rel": 0.1}, {"rs_sigma_rel": 0.3}),
          "rs-da": ({"rsda_rate": 0.25, "rsda_copies": "task"}, {"rsda_rate": 1.0, "rsda_copies": "task"},
                    {"rsda_rate": 0.5, "rsda_copies": "double"})}
TUNING_METHODS = ("baseline", "adv", "rs-rp", "rs-da")
TUNING_SEED = 7
SIB_METHODS = ("baseline", "rs-rp", "rs-da", "adv", "rs-da-paired")
SIB_SEEDS = (7, 8, 9, 10, 11)
SIB = {"languages": 205, "n_train": 701, "n_dev": 99, "n_test": 204, "epochs": 10, "n_probe": 200}
NEEDS_SIB = "needs the sib200 task (xalign.train(task='sib200')) and the 205-language probe (data='sib200:DIR')"
NEEDS_RATE = "needs a substitution-rate setting in xalign.train (TrainConfig has none: every listed word is replaced)"
NEEDS_PAIRED = "needs paired substitution in xalign.train (the same word replaced the same way in both sentences)"


@dataclass(frozen=True)
class Trial:
    """One tuning run: ``changes`` to the method's unit config (``*_rel`` values are multiples of the measured
    embedding norm; ``learning_rate`` "stage1" = the method's stage-1 choice)."""

    task: str
    method: str
    stage: int
    index: int
    changes: dict[str, Any]
    needs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.task}-{self.method}-s{self.stage}-{self.index}"


def tuning_trials(design: Design, tasks: tuple[str, ...] | None = None) -> list[Trial]:
    """Every trial of the equal-tuning search, stage by stage (stage 2 reads stage 1's choice)."""
    out = []
    for task in tasks or tuple(design.tasks):
        for method in TUNING_METHODS:
            middle = MIDDLE.get(method, {})
            for i, lr in enumerate(STAGE1_LR):
                out.append(Trial(task, method, 1, i, {"learning_rate": lr, **middle}, _needs(middle)))
            second = ([{"learning_rate": lr} for lr in BASELINE_STAGE2_LR] if method == "baseline" else
                      [{"learning_rate": "stage1", **s} for s in STAGE2[method]])
            out += [Trial(task, method, 2, i, ch, _needs(ch)) for i, ch in enumerate(second)]
    return out


def _needs(changes: dict[str, Any]) -> tuple[str, ...]:
    return (NEEDS_RATE,) if "rsda_rate" in changes else ()


def trial_path(results_dir: Path, trial: Trial) -> Path:
    return Path(results_dir) / "tuning" / "v3" / f"{trial.name}.json"


def norm_path(results_dir: Path, task: str) -> Path:
    return Path(results_dir) / "tuning" / "v3" / f"{task}-embedding-norm.json"


def resolve(changes: dict[str, Any], *, norm: float, dim: int, stage1_lr: float | None,
            task_copies: int) -> dict[str, Any]:
    """A trial's ``changes`` as ``TrainConfig`` fields: relative strengths times the measured norm, the
    stage-1 learning rate filled in, copies from the task (``task``: its offline copies, ``double``: twice)."""
    out: dict[str, Any] = {}
    for k, v in changes.items():
        if k == "adv_eps_rel":
            out["adv_eps"] = out["adv_alpha"] = v * norm  # one PGD step of the full radius
        elif k == "rs_sigma_rel":
            out["rs_sigma"] = v * norm / math.sqrt(dim)
        elif k == "rsda_copies":
            out[k] = task_copies * (2 if v == "double" else 1)
        elif k == "learning_rate" and v == "stage1":
            if stage1_lr is None:
                raise ValueError("stage 2 needs the stage-1 learning rate: run stage 1 first")
            out[k] = stage1_lr
        else:
            out[k] = v
    return out


def choose(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The trial with the best English dev accuracy; ties go to the earlier (weaker) trial."""
    best = None
    for rec in records:
        if best is None or rec["select"]["accuracy"] > best["select"]["accuracy"]:
            best = rec
    return best


@dataclass(frozen=True)
class SibUnit:
    method: str
    seed: int | None  # None: the pre-trained probe
    train: dict[str, Any]
    probe: dict[str, Any]
    needs: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"sib200/{self.method}/" + ("pretrained" if self.seed is None else f"seed{self.seed}")


def sib200_available() -> bool:
    """Whether this xalign knows the sib200 task (another helper is adding it)."""
    from xalign.data.tasks import task_names

    return "sib200" in task_names()


def sib200_units(design: Design) -> list[SibUnit]:
    """The SIB-200 arm: the pre-trained probe, then every method × seed (seed by seed)."""
    needs = () if sib200_available() else (NEEDS_SIB,)
    probe = {"data": "sib200:DIR", "pair": "en-all", "layers": "all", "n": SIB["n_probe"]}
    out = [SibUnit("pretrained", None, {}, {**probe, "model": design.model}, needs)]
    for seed in SIB_SEEDS:
        for method in SIB_METHODS:
            train = {"task": "sib200", "eval_langs": "all", "train_lang": "en", "method": method.replace("-paired", ""),
                     "seed": seed, "epochs": SIB["epochs"], "model": design.model,
                     "freeze_embeddings": design.freeze_embeddings, "settings": "the v3 tuning's choice"}
            if method.startswith("rs-da"):
                train["rsda_copies"] = "the v3 tuning's choice"
            extra = (NEEDS_PAIRED,) if method == "rs-da-paired" else ()
            out.append(SibUnit(method, seed, train, {**probe, "model": "<this run's encoder>"}, needs + extra))
    return out


# --------------------------------------------------------------------------- cost, from the finished units
def measured_rates(design: Design, results: dict) -> dict[str, Any]:
    """Seconds per baseline-equivalent optimizer step per task and per probed sentence, fitted to the finished
    units: a unit's training time = cost-weighted steps × c + evaluated items × c / (3 · batch) (a forward pass
    costs about a third of a training pass on the same item); probe time / sentences embedded."""
    sizes = {"xnli": {"train": 9000, "eval": 5010, "dev": 2490}, "pawsx": {"train": 8000, "eval": 1967, "dev": 1967}}
    per_step: dict[str, list[float]] = {}
    per_sentence = []
    for (task, method, seed), rec in results.items():
        t = rec.get("timings", {})
        if seed is not None and t.get("train_s") and task in sizes:
            steps = train_steps(design, task, method, sizes[task]["train"]) * method_cost(design, method)
            items = eval_items(design, task, sizes[task])
            per_step.setdefault(task, []).append(t["train_s"] / (steps + items / (3 * design.batch_size)))
        if t.get("probe_s") and seed is not None:  # sentences embedded: n per language of each corpus
            n = sum(b.get("n", 0) * (len(b.get("pairs", {})) + 1) for b in rec.get("alignment", {}).values())
            if n:
                per_sentence.append(t["probe_s"] / n)
    step = {k: sum(v) / len(v) for k, v in per_step.items()}
    return {"sec_per_step": step, "sec_per_step_any": sum(step.values()) / len(step) if step else None,
            "sec_per_probe_sentence": sum(per_sentence) / len(per_sentence) if per_sentence else None}


def plan_costs(design: Design, results: dict) -> list[tuple[str, int, float | None, str]]:
    """``(group, units, unit-hours or None, note)`` for the v3 units, from :func:`measured_rates`."""
    r = measured_rates(design, results)
    step, sent = r["sec_per_step"], r["sec_per_probe_sentence"]
    sizes = {"xnli": {"train": 9000, "eval": 5010, "dev": 2490}, "pawsx": {"train": 8000, "eval": 1967, "dev": 1967}}
    rows = []
    for task in design.tasks:
        c = step.get(task)
        trials = [t for t in tuning_trials(design, (task,))]
        hours = None
        if c:
            n_sel = design.tasks[task].n_dev or sizes[task]["dev"]
            base = train_steps(design, task, "baseline", sizes[task]["train"])
            hours = sum(base * c * _trial_cost(t) + 4 * n_sel * c / (3 * design.batch_size) for t in trials) / 3600
        rows.append((f"tuning {task} ({len(trials) // len(TUNING_METHODS)} trials × {len(TUNING_METHODS)} methods, "
                     f"seed {TUNING_SEED}, English dev only)", len(trials), hours,
                     "rs-da trials " + NEEDS_RATE.split(" (")[0]))
    rows.append(main_rerun_cost(design, step, sizes))
    units = sib200_units(design)
    c = r["sec_per_step_any"]
    hours = None
    if c and sent:
        steps = math.ceil(SIB["n_train"] / design.batch_size) * SIB["epochs"]
        evals = SIB["languages"] * SIB["n_test"] + SIB["n_dev"] * SIB["epochs"]
        probe = SIB["languages"] * SIB["n_probe"] * sent
        hours = sum((0 if u.seed is None else steps * c * (2 if u.method == "adv" else 1)
                     + evals * c / (3 * design.batch_size)) + probe for u in units) / 3600
    rows.append((f"SIB-200 arm ({len(SIB_METHODS)} methods × {len(SIB_SEEDS)} seeds + pre-trained probe; "
                 f"{SIB['languages']} languages, {SIB['n_probe']} probe sentences each)", len(units), hours,
                 "" if sib200_available() else NEEDS_SIB))
    return rows


MAIN_PAWSX_EPOCHS = 3  # the recipe's epochs, so that the baseline leaves the majority class (issue 25 item 1)


V3_GENERALIZED_N = 400  # issue 25 item 3


def v3_main_design(design: Design) -> Design:
    """The main comparison of v3: the design with generalized_n 400 and PAWS-X at the recipe's epochs."""
    import dataclasses

    tasks = {k: dataclasses.replace(t, generalized_n=V3_GENERALIZED_N,
                                    epochs=float(MAIN_PAWSX_EPOCHS) if k == "pawsx" else t.epochs)
             for k, t in design.tasks.items()}
    return dataclasses.replace(design, tasks=tasks)


def main_rerun_cost(design: Design, step: dict[str, float], sizes: dict) -> tuple[str, int, float | None, str]:
    """The main comparison rerun with the chosen settings (:func:`v3_main_design`): 4 methods × the design's seeds
    per task, rs-da as offline copies of the full training set (one pass over them)."""
    v3 = v3_main_design(design)
    n_units, total = 0, 0.0
    for task, t in v3.tasks.items():
        c = step.get(task)
        for method in ("baseline", "rs-rp", "rs-da", "adv"):
            one_pass = train_steps(v3, task, "baseline", sizes[task]["train"]) / t.epochs
            steps = one_pass * t.offline_copies if method == "rs-da" else one_pass * t.epochs
            n_units += len(v3.seeds)
            if c:
                total += len(v3.seeds) * (steps * c * method_cost(v3, method)
                                          + eval_items(v3, task, sizes[task]) * c / (3 * v3.batch_size))
    return (f"main rerun with the chosen settings (4 methods × {len(v3.seeds)} seeds per task; PAWS-X "
            f"{MAIN_PAWSX_EPOCHS} epochs; generalized_n {V3_GENERALIZED_N}; rs-da = offline copies of the full "
            "training set)", n_units, total / 3600 if all(step.get(t) for t in v3.tasks) else None, "")


def _trial_cost(trial: Trial) -> float:
    """Relative cost of a trial's optimizer steps (adv: 1 + PGD steps passes; copies do not change steps)."""
    if trial.method != "adv":
        return 1.0
    return 1.0 + int(trial.changes.get("adv_steps", 1))


BUDGET_CPU_HOURS = 25.0  # issue 25: new units within 25 CPU-hours on the 2-core machine


def plan_lines(design: Design, results_dir: Path, results: dict) -> list[str]:
    """What ``--plan`` prints for v3: every tuning trial and SIB-200 unit with its state (done, missing, or
    what it needs), then the cost per group and in total against the budget."""
    lines = ["v3 equal-tuning trials (analysis/results/tuning/v3/; one seed; English dev only):"]
    for task in design.tasks:
        state = "done" if norm_path(results_dir, task).is_file() else "missing"
        lines.append(f"  {task}-embedding-norm (the scale of adv ε and rs-rp σ): {state}")
    for t in tuning_trials(design):
        state = "done" if trial_path(results_dir, t).is_file() else "missing" + "".join(f"; {n}" for n in t.needs)
        lines.append(f"  {t.name} {t.changes}: {state}")
    lines.append("v3 SIB-200 arm (analysis/results/sib200/):")
    for u in sib200_units(design):
        done = (Path(results_dir) / f"{u.name}.json").is_file()
        lines.append(f"  {u.name}: {'done' if done else 'missing'}{''.join(f'; {n}' for n in u.needs)}")
    total = 0.0
    lines.append("v3 cost, from the finished units' measured timings (unit-hours: one unit at one thread; two "
                 "units run at once on the 2-core machine):")
    for group, n, hours, note in plan_costs(design, results):
        total += hours or 0.0
        lines.append(f"  {group}: {n} units, " + ("no finished unit to measure from" if hours is None else
                                                  f"about {hours:.1f} unit-hours") + (f" ({note})" if note else ""))
    lines.append(f"  total about {total:.1f} unit-hours, i.e. about {total / 2:.1f} h of the 2-core machine at "
                 f"--jobs 2 (= {total:.1f} CPU-hours) against the issue's {BUDGET_CPU_HOURS:.0f} CPU-hours"
                 + (": over budget, so trim trials or SIB-200 seeds before running" if total > BUDGET_CPU_HOURS
                    else ""))
    return lines
