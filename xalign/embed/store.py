"""Streaming sentence vectors to disk: one memory-mapped ``.npy`` of ``[layers, n, hidden]``.

Texts are processed in fixed shards of input order; after each shard the memmap is flushed and a
progress file records it, so an interrupted run resumes where it stopped and peak memory does not
grow with the corpus. Under ``accelerate launch``/``torchrun`` each rank takes every
``world_size``-th shard of the same file; the result is identical to a single-process run.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xalign.embed.extract import (DEFAULT_BATCH_SIZE, DEFAULT_MAX_TOKENS, ExtractionStats, embed,
                                  resolve_layers)
from xalign.io import sha256_texts

if TYPE_CHECKING:  # pragma: no cover
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)


@dataclass
class StoreInfo:
    path: str
    shape: tuple[int, int, int]
    layers: list[int]
    pooling: str
    n_truncated: int
    resumed_shards: int
    fingerprint: str


def _fingerprint(encoder: "Encoder", texts: Sequence[str], layers: list[int], pooling: str,
                 prefix: str | None, shard_size: int) -> str:
    import hashlib

    key = json.dumps([encoder.name, encoder.revision, layers, pooling, prefix or "", shard_size,
                      sha256_texts(texts)])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _dist_state() -> tuple[int, int, object | None]:
    """(rank, world size, accelerate state) when launched distributed, else (0, 1, None)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, None
    from accelerate import PartialState

    state = PartialState()
    return state.process_index, state.num_processes, state


def embed_to_disk(
    encoder: "Encoder",
    texts: Sequence[str],
    path: str | os.PathLike[str],
    *,
    layers: "str | Sequence[int]" = "all",
    pooling: str = "mean",
    prefix: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    shard_size: int = 4096,
    precision: str = "auto",
    progress: bool = False,
) -> StoreInfo:
    """Embed ``texts`` into ``path`` (a ``.npy`` of ``[layers, n, hidden]`` float32), resuming if possible.

    The array is complete when ``path`` exists; while running it lives at ``path + ".partial"`` with a
    ``.progress.json`` beside it. A rerun with the same model, texts, layers and pooling continues
    from the last finished shard; anything else starts over.
    """
    texts = list(texts)
    target = Path(path)
    chosen = resolve_layers(layers, encoder.num_layers)
    fp = _fingerprint(encoder, texts, chosen, pooling, prefix, shard_size)
    shape = (len(chosen), len(texts), encoder.hidden_size)
    if target.exists():
        meta = target.with_suffix(".json")
        if meta.is_file() and json.loads(meta.read_text()).get("fingerprint") == fp:
            logger.info("%s is complete; nothing to do", target)
            info = json.loads(meta.read_text())
            return StoreInfo(**{**info, "shape": tuple(info["shape"]), "resumed_shards": 0})
    rank, world, state = _dist_state()
    partial = target.with_name(target.name + ".partial")
    progress_file = target.with_name(f"{target.name}.progress{rank}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        done_ok = False
        if partial.exists():
            try:
                arr = np.lib.format.open_memmap(partial, mode="r")
                done_ok = arr.shape == shape
                del arr
            except (ValueError, OSError):
                done_ok = False
        if not done_ok:
            for stale in target.parent.glob(f"{target.name}.progress*.json"):
                stale.unlink()
            np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=shape).flush()
    if state is not None:
        state.wait_for_everyone()
    done: set[int] = set()
    if progress_file.exists():
        saved = json.loads(progress_file.read_text())
        if saved.get("fingerprint") == fp:
            done = set(saved["done"])
    n_shards = (len(texts) + shard_size - 1) // shard_size
    mine = [s for s in range(n_shards) if s % world == rank]
    resumed = len(done & set(mine))
    if resumed:
        logger.info("resuming %s: %d of %d shards already done", target.name, resumed, len(mine))
    n_truncated = 0
    for s in mine:
        if s in done:
            continue
        stats = ExtractionStats()
        lo, hi = s * shard_size, min(len(texts), (s + 1) * shard_size)
        vecs = embed(encoder, texts[lo:hi], layers=chosen, pooling=pooling, prefix=prefix,
                                 batch_size=batch_size, max_tokens=max_tokens, precision=precision,
                     progress=progress, stats=stats)
        out = np.lib.format.open_memmap(partial, mode="r+")  # reopened per shard: written pages leave RSS
        out[:, lo:hi, :] = vecs
        out.flush()
        del out, vecs
        n_truncated += stats.n_truncated
        done.add(s)
        tmp = progress_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fp, "done": sorted(done), "n_truncated": n_truncated}))
        os.replace(tmp, progress_file)
    if state is not None:
        state.wait_for_everyone()
    info = StoreInfo(path=str(target), shape=shape, layers=chosen, pooling=str(pooling),
                     n_truncated=n_truncated, resumed_shards=resumed, fingerprint=fp)
    if rank == 0:
        totals = 0
        for pf in target.parent.glob(f"{target.name}.progress*.json"):
            totals += json.loads(pf.read_text()).get("n_truncated", 0)
        info.n_truncated = totals
        meta = target.with_suffix(".json")
        meta.write_text(json.dumps(asdict(info)))
        os.replace(partial, target)
        for pf in target.parent.glob(f"{target.name}.progress*.json"):
            pf.unlink()
    if state is not None:
        state.wait_for_everyone()
    return info
