"""Batched forward passes over all layers, with sentence and word pooling."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.embed.batching import plan_batches
from xalign.embed.layers import resolve_layers  # noqa: F401  (re-exported: the one layer parser)
from xalign.embed.pooling import Pooling, pool_sentences, pool_words
from xalign.errors import ConfigError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_TOKENS = 16384


@dataclass
class ExtractionStats:
    """What happened during extraction (for manifests and warnings)."""

    n_texts: int = 0
    n_tokens: int = 0
    n_truncated: int = 0
    max_length: int = 0
    truncated_indices: list[int] = field(default_factory=list)


@dataclass
class WordEmbeddings:
    """Vectors of one sentence: per word, or per subword when extracted with ``subwords=True``.

    ``vectors`` is ``[n_layers_selected, n_items, hidden]``. For subwords, ``word_ids[t]`` is the word
    index of subword ``t`` and ``tokens`` its surface piece; special tokens are never included.
    """

    words: list[str]
    vectors: np.ndarray
    word_ids: np.ndarray | None = None
    tokens: list[str] | None = None


def _autocast(encoder: "Encoder", precision: str) -> contextlib.AbstractContextManager[Any]:
    import torch

    if precision not in {"auto", "fp32", "bf16", "fp16"}:
        raise ConfigError(f"precision must be 'auto', 'fp32', 'bf16' or 'fp16', got {precision!r}")
    if encoder.device.type != "cuda" or precision == "fp32" or encoder.dtype != torch.float32:
        return contextlib.nullcontext()
    if precision == "auto":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def _check_texts(texts: Any, *, pretokenized: bool) -> list:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, got a single string; wrap it in a list")
    texts = list(texts)
    for i, t in enumerate(texts):
        if pretokenized:
            if isinstance(t, str) or not all(isinstance(w, str) for w in t):
                raise TypeError(f"pretokenized input must be lists of word strings; item {i} is {type(t).__name__}")
        elif not isinstance(t, str):
            raise TypeError(f"texts must be strings; item {i} is {type(t).__name__}")
    return texts


def _tokenize(encoder: "Encoder", texts: list, *, prefix: str | None, pretokenized: bool) -> Any:
    if prefix:
        texts = [[prefix.strip(), *t] for t in texts] if pretokenized else [prefix + t for t in texts]
    return encoder.tokenizer(
        texts, is_split_into_words=pretokenized, truncation=True, max_length=encoder.max_length,
        return_special_tokens_mask=True, return_overflowing_tokens=False, return_length=False,
        return_attention_mask=True,
    )


def _count_truncated(encoder: "Encoder", texts: list, encodings: Any, *, prefix: str | None,
                     pretokenized: bool, stats: ExtractionStats) -> None:
    """A text was truncated when its untruncated length exceeds the limit (checked only for long ones)."""
    limit = encoder.max_length
    suspects = [i for i, ids in enumerate(encodings["input_ids"]) if len(ids) >= limit]
    if suspects:
        full = _tokenize_untruncated(encoder, [texts[i] for i in suspects], prefix=prefix, pretokenized=pretokenized)
        stats.truncated_indices = [i for i, ids in zip(suspects, full) if len(ids) > limit]
        stats.n_truncated = len(stats.truncated_indices)
        if stats.n_truncated:
            logger.warning("%d of %d texts were longer than %d tokens and were truncated (first: #%d)",
                           stats.n_truncated, len(texts), limit, stats.truncated_indices[0])


def _tokenize_untruncated(encoder: "Encoder", texts: list, *, prefix: str | None, pretokenized: bool) -> list:
    if prefix:
        texts = [[prefix.strip(), *t] for t in texts] if pretokenized else [prefix + t for t in texts]
    return encoder.tokenizer(texts, is_split_into_words=pretokenized, truncation=False, verbose=False)["input_ids"]


def iter_batches(encoder: "Encoder", texts: list, *, layers: list[int], batch_size: int, max_tokens: int | None,
                 prefix: str | None, pretokenized: bool, precision: str, progress: bool,
                 stats: ExtractionStats, desc: str = "embedding") -> Iterator[tuple[np.ndarray, Any, "torch.Tensor"]]:
    """Yield ``(indices, encoding batch, hidden [len(layers), B, T, H])`` in length-sorted order."""
    import torch
    from tqdm.auto import tqdm

    encodings = _tokenize(encoder, texts, prefix=prefix, pretokenized=pretokenized)
    lengths = [len(ids) for ids in encodings["input_ids"]]
    stats.n_texts = len(texts)
    stats.n_tokens = int(sum(lengths))
    stats.max_length = encoder.max_length
    _count_truncated(encoder, texts, encodings, prefix=prefix, pretokenized=pretokenized, stats=stats)
    batches = plan_batches(lengths, batch_size=batch_size, max_tokens=max_tokens)
    layer_index = torch.tensor(layers)
    bar = tqdm(total=len(texts), desc=desc, unit="sent", disable=not progress, leave=False)
    try:
        for idx in batches:
            features = {k: [encodings[k][i] for i in idx] for k in ("input_ids", "attention_mask",
                                                                     "special_tokens_mask")}
            if "token_type_ids" in encodings:
                features["token_type_ids"] = [encodings["token_type_ids"][i] for i in idx]
            padded = encoder.tokenizer.pad(features, padding=True, return_tensors="pt")
            special = padded.pop("special_tokens_mask")
            inputs = {k: v.to(encoder.device) for k, v in padded.items()}
            with torch.inference_mode(), _autocast(encoder, precision):
                out = encoder.model(**inputs, output_hidden_states=True, return_dict=True)
            hidden = torch.stack(out.hidden_states, 0)[layer_index.to(encoder.device)]
            yield idx, (inputs["attention_mask"], special.to(encoder.device), encodings, idx), hidden
            bar.update(len(idx))
    finally:
        bar.close()


def embed(
    encoder: "Encoder",
    texts: Sequence[str],
    *,
    layers: "str | int | Sequence[int]" = "all",
    pooling: "str | Pooling" = "mean",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    prefix: str | None = None,
    precision: str = "auto",
    progress: bool = False,
    stats: ExtractionStats | None = None,
) -> np.ndarray:
    """Sentence vectors of every selected layer, shaped ``[n_layers_selected, n_texts, hidden]``.

    One forward pass per batch yields all layers (``hidden_states[0..L]``, 0 = embedding output).
    Texts are batched by length under ``max_tokens`` padded tokens and returned in input order.
    ``pooling``: ``"mean"`` over non-special tokens, ``"mean_all"`` over all tokens incl. specials
    (XTREME), ``"cls"`` the first token. No prefix is prepended unless ``prefix`` is given
    (e.g. E5's ``"query: "``). Texts beyond the model maximum are truncated and counted in ``stats``.
    """
    texts = _check_texts(texts, pretokenized=False)
    mode = Pooling.parse(pooling)
    chosen = resolve_layers(layers, encoder.num_layers)
    stats = stats if stats is not None else ExtractionStats()
    out = np.zeros((len(chosen), len(texts), encoder.hidden_size), dtype=np.float32)
    if not texts:
        return out
    for idx, (mask, special, _, _), hidden in iter_batches(
            encoder, texts, layers=chosen, batch_size=batch_size, max_tokens=max_tokens, prefix=prefix,
            pretokenized=False, precision=precision, progress=progress, stats=stats):
        out[:, idx, :] = pool_sentences(hidden, mask, special, mode).cpu().numpy()
    return out


_NO_WORD_IDS = ("needs a fast tokenizer with word_ids(); {what} is a slow (Python) tokenizer without word "
                "boundaries (sentence-level measures still work; leave out word-level ones such as BLI)")


def require_word_ids(tokenizer: Any, *, what: str = "word pooling") -> None:
    """Raise :class:`~xalign.errors.ModelError` unless ``tokenizer`` gives word boundaries
    (``word_ids()``): only fast (Rust) tokenizers do — XLM's ``XLMTokenizer``, for one, is Python-only."""
    if not getattr(tokenizer, "is_fast", False):
        name = getattr(tokenizer, "name_or_path", "") or "?"
        raise ModelError(f"{what} " + _NO_WORD_IDS.format(what=f"{type(tokenizer).__name__} ({name})"))


def _word_spans(encodings: Any, i: int, text: str | list[str], pretokenized: bool) -> list[str]:
    if not getattr(encodings, "is_fast", True):
        raise ModelError("word-level vectors " + _NO_WORD_IDS.format(what="the model's tokenizer"))
    if pretokenized:
        return list(text)
    enc = encodings.encodings[i] if hasattr(encodings, "encodings") else None
    ids = [w for w in encodings.word_ids(i) if w is not None]
    n = (max(ids) + 1) if ids else 0
    words = []
    for w in range(n):
        span = encodings.word_to_chars(i, w) if enc is not None else None
        words.append(text[span.start:span.end].strip() if span is not None else "")
    return words


def embed_words(
    encoder: "Encoder",
    sentences: Sequence[str] | Sequence[Sequence[str]],
    *,
    layers: "str | int | Sequence[int]" = "all",
    word_pooling: str = "mean",
    pretokenized: bool = False,
    subwords: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    precision: str = "auto",
    progress: bool = False,
    stats: ExtractionStats | None = None,
) -> list[WordEmbeddings]:
    """Word vectors per sentence from the fast tokenizer's ``word_ids()``.

    With ``pretokenized=True`` each sentence is a list of words (e.g. from a gold alignment file) and
    word ``i`` of the result is word ``i`` of the input; otherwise words are the tokenizer's
    pre-tokenizer words, recovered by character offsets. ``word_pooling`` is ``"mean"`` (average of a
    word's subwords) or ``"first"``. With ``subwords=True`` the per-subword vectors are returned
    with their ``word_ids`` instead. Special tokens are located by the tokenizer, never by position.
    """
    if word_pooling not in {"mean", "first"}:
        raise ConfigError(f"word_pooling must be 'mean' or 'first', got {word_pooling!r}")
    require_word_ids(encoder.tokenizer)
    sentences = _check_texts(sentences, pretokenized=pretokenized)
    chosen = resolve_layers(layers, encoder.num_layers)
    stats = stats if stats is not None else ExtractionStats()
    results: list[WordEmbeddings | None] = [None] * len(sentences)
    for idx, (mask, _, encodings, _), hidden in iter_batches(
            encoder, sentences, layers=chosen, batch_size=batch_size, max_tokens=max_tokens, prefix=None,
            pretokenized=pretokenized, precision=precision, progress=progress, stats=stats, desc="words"):
        for b, i in enumerate(idx):
            i = int(i)
            word_ids = encodings.word_ids(i)
            n_tok = int(mask[b].sum())
            words = _word_spans(encodings, i, sentences[i], pretokenized)
            states = hidden[:, b, :n_tok, :]
            if subwords:
                keep = [t for t, w in enumerate(word_ids) if w is not None]
                tokens = encodings.tokens(i) if hasattr(encodings, "tokens") else None
                results[i] = WordEmbeddings(
                    words=words, vectors=states[:, keep, :].float().cpu().numpy(),
                    word_ids=np.asarray([word_ids[t] for t in keep], dtype=np.int64),
                    tokens=[tokens[t] for t in keep] if tokens is not None else None)
            else:
                vecs = pool_words(states, word_ids, len(words), first=word_pooling == "first")
                results[i] = WordEmbeddings(words=words, vectors=vecs.cpu().numpy())
    return [r if r is not None else WordEmbeddings(words=[], vectors=np.zeros((len(chosen), 0, encoder.hidden_size),
                                                                              dtype=np.float32))
            for r in results]
