"""Published training recipes as presets: the settings a paper used, per task, and how they were resolved.

``robust-xlt`` (Huang et al., EMNLP 2021, run through XTREME's ``run_classify.py``; facts checked against the
released code): AdamW lr 2e-5, eps 1e-8, no weight decay, no warm-up, linear decay, clipping 1.0, max length
128, batch 32, random batches, seed 7; XNLI 1 epoch with a dev evaluation every 1000 steps, PAWS-X 3 epochs
every 500; the best checkpoint by English dev accuracy is kept and evaluated; RS-DA writes offline copies of
the training set (3 for XNLI, 10 for PAWS-X), each item's copies only (the original line is not kept).

A value the user gives explicitly always wins; :func:`resolve_recipe` says where each value came from.
Step-based settings are scaled to small data by :func:`scaled_eval_steps`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from xalign.errors import ConfigError

#: the optimisation settings XTREME's run_classify.py uses for every task — also xalign's defaults
XTREME = {"learning_rate": 2e-5, "adam_epsilon": 1e-8, "weight_decay": 0.0, "warmup_steps": 0,
           "lr_scheduler": "linear", "max_grad_norm": 1.0, "max_length": 128, "batch_size": 32, "seed": 7,
           "group_by_length": False}
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "robust-xlt": {
        "xnli": {**XTREME, "epochs": 1.0, "eval_steps": 1000, "rsda_copies": 3},
        "pawsx": {**XTREME, "epochs": 3.0, "eval_steps": 500, "rsda_copies": 10},
    },
}
# optimizer steps of the full-size runs the recipe was written for: MultiNLI 392,702 pairs × 1 epoch,
# PAWS-X 49,401 pairs × 3 epochs, at batch 32 — so the number of dev evaluations per run is known
REFERENCE_STEPS = {("robust-xlt", "xnli"): math.ceil(392_702 / 32), ("robust-xlt", "pawsx"): 3 * math.ceil(49_401 / 32)}
_ONLY_FOR = {"rsda_copies": ("rs-da",)}


def recipe_values(recipe: str, task: str, method: str) -> dict[str, Any]:
    """The settings ``recipe`` fixes for ``task`` and ``method`` (``ConfigError`` for unknown names)."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}: expected one of {', '.join(RECIPES)}")
    by_task = RECIPES[recipe]
    if task not in by_task:
        raise ConfigError(f"recipe {recipe!r} is defined for the tasks {', '.join(by_task)}, not {task!r}")
    return {k: v for k, v in by_task[task].items() if method in _ONLY_FOR.get(k, (method,))}


def resolve_recipe(recipe: str | None, task: str, method: str, given: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    """``(values to set, sources)``: the recipe's values for the keys not in ``given``; ``sources`` maps
    each recipe key to ``"recipe"`` or ``"user"`` (given explicitly, so it wins)."""
    if not recipe:
        return {}, {}
    values = recipe_values(recipe, task, method)
    return ({k: v for k, v in values.items() if k not in given},
            {k: ("user" if k in given else "recipe") for k in values})


def scaled_eval_steps(recipe: str, task: str, recipe_eval_steps: int, total_steps: int) -> int:
    """The recipe's evaluation interval, kept when the run is long enough, else scaled so that the run makes
    as many dev evaluations as the full-size run the recipe was written for (XNLI: 12, PAWS-X: 9)."""
    if total_steps <= 0:
        raise ConfigError(f"a run needs at least one optimizer step, got {total_steps}")
    if recipe_eval_steps * 2 <= total_steps:
        return recipe_eval_steps
    evaluations = max(1, REFERENCE_STEPS.get((recipe, task), total_steps) // recipe_eval_steps)
    return max(1, math.ceil(total_steps / evaluations))
