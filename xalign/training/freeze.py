"""Freezing the word-embedding matrix during fine-tuning (``TrainConfig.freeze_embeddings``).

Only the matrix returned by ``model.get_input_embeddings()`` stops training; position, token-type and
language embeddings, the layer norms and every layer above keep training. For multilingual encoders
that matrix is most of the parameters (250k × 384 of multilingual-e5-small's 118M), so freezing it
saves its gradient and its AdamW update, and keeps the vocabulary of languages never seen in
training where pre-training left it — a published transfer practice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from xalign.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger(__name__)

__all__ = ["freeze_input_embeddings"]


def freeze_input_embeddings(model: "torch.nn.Module") -> int:
    """Set ``requires_grad=False`` on ``model.get_input_embeddings().weight``; returns its number of
    elements. Raises :class:`~xalign.errors.ModelError` when the model exposes no input embedding matrix."""
    get = getattr(model, "get_input_embeddings", None)
    layer = get() if callable(get) else None
    weight = getattr(layer, "weight", None)
    if weight is None:
        raise ModelError(f"freeze_embeddings: {type(model).__name__} exposes no word-embedding matrix "
                         f"(get_input_embeddings() returned {type(layer).__name__})")
    weight.requires_grad_(False)
    total = sum(p.numel() for p in model.parameters())
    logger.info("froze the word-embedding matrix %s: %d of %d parameters (%.0f%%) no longer train",
                tuple(weight.shape), weight.numel(), total, 100.0 * weight.numel() / max(total, 1))
    return int(weight.numel())
