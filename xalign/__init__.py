"""xalign: robust cross-lingual fine-tuning and alignment diagnostics for multilingual encoders.

The public API is re-exported here lazily, so ``import xalign`` stays fast and does not
import torch, transformers, faiss or plotly until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from xalign._version import __version__

_EXPORTS = {
    "Encoder": "xalign.encoders",
    "load_encoder": "xalign.encoders",
    "ParallelCorpus": "xalign.data",
    "load_parallel": "xalign.data",
    "load_demo": "xalign.data",
    "embed": "xalign.embed",
    "embed_words": "xalign.embed",
    "probe": "xalign.pipelines.probe",
    "ProbeConfig": "xalign.pipelines.probe",
    "compare": "xalign.pipelines.compare",
    "CompareConfig": "xalign.pipelines.compare",
    "train": "xalign.pipelines.train",
    "TrainConfig": "xalign.pipelines.train",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data import ParallelCorpus, load_demo, load_parallel
    from xalign.embed import embed, embed_words
    from xalign.encoders import Encoder, load_encoder


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xalign' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
