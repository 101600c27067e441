"""Robust training for zero-shot cross-lingual transfer (Huang et al., EMNLP 2021).

* :mod:`xalign.robust.perturb` — ℓ2/ℓ∞ balls, PGD and random noise on input embeddings;
* :mod:`xalign.robust.substitutions` — substitution sets (synonyms, embedding neighbours, dictionaries)
  and seeded word substitution (RS-DA);
* :mod:`xalign.robust.smoothing` — smoothed inference (majority vote over noisy copies);
* :mod:`xalign.robust.methods` — the methods (``baseline``, ``adv``, ``rs-rp``, ``rs-da``), one module each, and
  their registry (a new method is one module: ``docs/extending.md``);
* :mod:`xalign.robust.trainer` — the ``transformers.Trainer`` subclass applying the methods.

The generic training plumbing (heads, tokenised datasets, callbacks, evaluation, freezing) lives in
:mod:`xalign.training`.

Submodules are imported on first use (torch and transformers are heavy).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "pgd": "xalign.robust.perturb", "project": "xalign.robust.perturb", "sample_noise": "xalign.robust.perturb",
    "NoiseSpec": "xalign.robust.smoothing", "vote_counts": "xalign.robust.smoothing",
    "majority_vote": "xalign.robust.smoothing", "load_synonyms": "xalign.robust.substitutions",
    "load_dictionary": "xalign.robust.substitutions", "embedding_neighbours": "xalign.robust.substitutions",
    "substitute": "xalign.robust.substitutions", "augment_pairs": "xalign.robust.substitutions",
    "RobustConfig": "xalign.robust.config", "RobustMethod": "xalign.robust.methods",
    "get_method": "xalign.robust.methods", "RobustTrainer": "xalign.robust.trainer", "METHODS": "xalign.robust.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xalign.robust' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
