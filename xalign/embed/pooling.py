"""Pooling of per-token hidden states (torch tensors in, tensors out)."""

from __future__ import annotations

from enum import Enum

import torch

from xalign.errors import ConfigError
from xalign.metrics.wordtypes import pool_subwords


class Pooling(str, Enum):
    MEAN = "mean"  # average over non-special tokens (attention-masked)
    MEAN_ALL = "mean_all"  # average over all tokens including specials: the XTREME protocol
    CLS = "cls"  # the first token's state

    @classmethod
    def parse(cls, value: "str | Pooling") -> "Pooling":
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"pooling must be one of {[p.value for p in cls]}, got {value!r}") from None


def pool_sentences(hidden: torch.Tensor, attention_mask: torch.Tensor, special_mask: torch.Tensor,
                   pooling: Pooling) -> torch.Tensor:
    """Pool ``hidden`` [layers, batch, tokens, dim] to [layers, batch, dim] in float32."""
    hidden = hidden.float()
    if pooling is Pooling.CLS:
        return hidden[:, :, 0, :]
    mask = attention_mask.bool()
    if pooling is Pooling.MEAN:
        keep = mask & ~special_mask.bool()
        # a text with no ordinary token (empty after tokenisation) falls back to all its tokens
        empty = keep.sum(1) == 0
        keep = torch.where(empty[:, None], mask, keep)
        mask = keep
    weights = mask.to(hidden.dtype)
    summed = torch.einsum("lbtd,bt->lbd", hidden, weights)
    return summed / weights.sum(1).clamp_min(1.0)[None, :, None]


def pool_words(hidden: torch.Tensor, word_ids: list[int | None], n_words: int, *, first: bool) -> torch.Tensor:
    """Word vectors [layers, n_words, dim] from one sentence's token states [layers, tokens, dim].

    The one subword pooler, :func:`xalign.metrics.wordtypes.pool_subwords` (its truncation rule: a word
    with no surviving token gets a zero vector).
    """
    return pool_subwords(hidden, word_ids, n_words, first=first)
