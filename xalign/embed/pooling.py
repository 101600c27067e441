"""Pooling of per-token hidden states (torch tensors in, tensors out)."""

from __future__ import annotations

from enum import Enum

import torch

from xalign.errors import ConfigError


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

    ``word_ids`` comes from the fast tokenizer (None for special tokens). Words with no surviving
    token (cut by truncation) get zero vectors.
    """
    layers, _, dim = hidden.shape
    out = hidden.new_zeros((layers, n_words, dim), dtype=torch.float32)
    idx = [(t, w) for t, w in enumerate(word_ids) if w is not None]
    if not idx:
        return out
    tok = torch.tensor([t for t, _ in idx], device=hidden.device)
    wid = torch.tensor([w for _, w in idx], device=hidden.device)
    states = hidden[:, tok, :].float()
    if first:
        # the first token of each word: keep where wid changes
        is_first = torch.ones_like(wid, dtype=torch.bool)
        is_first[1:] = wid[1:] != wid[:-1]
        out[:, wid[is_first], :] = states[:, is_first, :]
        return out
    out.index_add_(1, wid, states)
    counts = torch.zeros(n_words, device=hidden.device).index_add_(0, wid, torch.ones_like(wid, dtype=torch.float32))
    return out / counts.clamp_min(1.0)[None, :, None]
