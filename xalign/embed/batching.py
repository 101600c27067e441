"""Length-sorted batching under a token budget; the caller restores the input order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xalign.errors import ConfigError


def plan_batches(lengths: Sequence[int], *, batch_size: int, max_tokens: int | None) -> list[np.ndarray]:
    """Group indices into batches sorted by length (longest first, so memory peaks early).

    A batch holds at most ``batch_size`` texts and at most ``max_tokens`` padded tokens
    (``len(batch) * longest``); a single text longer than the budget forms its own batch.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"max_tokens must be >= 1 or None, got {max_tokens}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    n = len(order)
    while start < n:
        longest = int(lengths[order[start]])
        size = batch_size
        if max_tokens is not None:
            size = max(1, min(batch_size, max_tokens // max(longest, 1)))
        batches.append(order[start:start + size])
        start += size
    return batches
