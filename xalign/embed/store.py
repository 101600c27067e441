"""Streaming sentence vectors to disk: one ``.npy`` of ``[layers, n, hidden]`` built from shard files.

Texts are processed in fixed shards of input order. Each finished shard is written atomically as its
own file in ``<path>.shards/`` (so an interrupted run resumes where it stopped, whatever the number
of processes, and peak memory does not grow with the corpus). When every shard is there, rank 0
copies them in order into a memory map (reopened per shard) staged beside ``path`` by
:func:`xalign.io.atomic_path`, which renames it onto ``path``, and writes ``<path stem>.json`` last.

Under ``torchrun``/``accelerate launch`` the processes form one group (gloo on CPU, the launcher's
backend on GPU): rank 0 decides what is left to do and shares the list, each rank embeds every
``world_size``-th remaining shard into its own files (no file is written by two processes), and
rank 0 assembles after a barrier. The result equals a single-process run, in input order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.embed.extract import (DEFAULT_BATCH_SIZE, DEFAULT_MAX_TOKENS, ExtractionStats, embed,
                                  resolve_layers)
from xalign.errors import ConfigError, DataError, XalignError
from xalign.io import atomic_path, check_output, final_path, recover_output, sha256_texts, write_json

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


# --------------------------------------------------------------------------- process group
class ProcessGroup:
    """The processes of one launcher run (``torchrun``/``accelerate launch``), or just this one."""

    def __init__(self, rank: int = 0, world: int = 1) -> None:
        self.rank, self.world = rank, world

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def share(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a pickled broadcast)."""
        if self.world <= 1:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def decide(self, fn, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on rank 0 only and give its result to every rank; a user error raised there is
        raised on every rank (so no rank waits forever at the next barrier)."""
        outcome: tuple[str, Any] = ("ok", None)
        if self.is_main:
            try:
                outcome = ("ok", fn(*args, **kwargs))
            except XalignError as exc:
                outcome = ("error", exc)
        outcome = self.share(outcome)
        if outcome[0] == "error":
            raise outcome[1]
        return outcome[1]


def process_group(device: "Any" = None) -> ProcessGroup:
    """The launcher's process group, initialised on first use (gloo unless ``device`` is CUDA);
    a single process outside a launcher."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ProcessGroup()
    import torch.distributed as dist

    if not dist.is_initialized():
        from accelerate import PartialState

        # accelerate only forms a CPU group when asked; without cpu=True every rank would think it is alone
        PartialState(cpu=getattr(device, "type", str(device or "cpu")) != "cuda")
    return ProcessGroup(dist.get_rank(), dist.get_world_size())


# --------------------------------------------------------------------------- files
def auto_shard_size(n: int) -> int:
    """The default shard: at least 8 shards once there are 2,048 texts (so up to 8 processes share the
    work), at most 4,096 texts (the unit a kill loses), at least 256 (each shard fills several batches).
    It depends on ``n`` only, so a run resumes under any number of processes."""
    return int(min(4096, max(256, -(-n // 8))))


def store_fingerprint(encoder: "Encoder", texts: Sequence[str], layers: list[int], pooling: str,
                      prefix: str | None, shard_size: int, precision: str = "auto") -> str:
    """What the stored array depends on: model and revision, texts, layers, pooling, prefix, precision
    (and the shard size, which decides the shard files a resume may reuse)."""
    key = json.dumps([encoder.name, encoder.revision, str(getattr(encoder, "dtype", "")), layers, str(pooling),
                      prefix or "", shard_size, str(precision), sha256_texts(texts)])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def meta_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar (``<stem>.json``) written after the array: its fingerprint, shape and layers."""
    return Path(path).with_suffix(".json")


def npy_shape(path: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """The shape in a ``.npy`` header, or None when the file is missing or not a readable ``.npy``."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, _ = read(fh)
        return tuple(shape)
    except (OSError, ValueError, EOFError):
        return None


def _complete(target: Path, fp: str, shape: tuple[int, int, int]) -> dict[str, Any] | None:
    meta = meta_path(target)
    if not (target.is_file() and meta.is_file()):
        return None
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    if info.get("fingerprint") != fp or tuple(info.get("shape", ())) != shape or npy_shape(target) != shape:
        return None
    return info


def _shard_file(work: Path, s: int) -> Path:
    return work / f"{s:06d}.npy"


def _plan(target: Path, work: Path, fp: str, shape: tuple[int, int, int], shard_size: int) -> dict[str, Any]:
    """Rank 0: is the array complete; else which shards are left (the shard folder is reset when it
    belongs to other inputs)."""
    info = _complete(target, fp, shape)
    if info is not None:
        return {"complete": info}
    n_shards = (shape[1] + shard_size - 1) // shard_size
    meta = {"fingerprint": fp, "shape": list(shape), "shard_size": shard_size}
    saved = None
    if (work / "meta.json").is_file():
        try:
            saved = json.loads((work / "meta.json").read_text())
        except (OSError, ValueError):
            saved = None
    if saved != meta:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        write_json(work / "meta.json", meta)
    todo = []
    for s in range(n_shards):
        lo, hi = s * shard_size, min(shape[1], (s + 1) * shard_size)
        f = _shard_file(work, s)
        if npy_shape(f) == (shape[0], hi - lo, shape[2]) and f.with_suffix(".json").is_file():
            continue
        todo.append(s)
    return {"todo": todo, "n_shards": n_shards}


def _assemble(target: Path, work: Path, shape: tuple[int, int, int], shard_size: int) -> int:
    """Rank 0: copy the shard files in order into ``target`` (staged by :func:`xalign.io.atomic_path`); returns the number
    of truncated texts. The old sidecar goes first, so a kill never pairs a new array with an old sidecar."""
    n_shards = (shape[1] + shard_size - 1) // shard_size
    missing = [s for s in range(n_shards) if not _shard_file(work, s).is_file()]
    if missing:  # every rank passed the barrier, so a missing shard is a bug, not a user error
        raise RuntimeError(f"{work}: shards {missing} were not written by any process")
    n_truncated = 0
    with atomic_path(target, kind="file") as partial:  # xalign.io's staging: renamed onto target at the end
        np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=shape).flush()
        for s in range(n_shards):
            lo = s * shard_size
            block = np.load(_shard_file(work, s), mmap_mode="r")
            out = np.lib.format.open_memmap(partial, mode="r+")  # reopened per shard: written pages leave RSS
            out[:, lo:lo + block.shape[1], :] = block
            out.flush()
            del out, block
            n_truncated += int(json.loads(_shard_file(work, s).with_suffix(".json").read_text())["n_truncated"])
        meta_path(target).unlink(missing_ok=True)
    return n_truncated


# --------------------------------------------------------------------------- the store
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
    shard_size: int | None = None,
    precision: str = "auto",
    progress: bool = False,
) -> StoreInfo:
    """Embed ``texts`` into ``path`` (a ``.npy`` of ``[layers, n, hidden]`` float32), resuming if possible.

    The array is complete when ``path`` and its sidecar ``<stem>.json`` (fingerprint, shape) agree with
    the request; while running, finished shards (``shard_size`` texts each; default
    :func:`auto_shard_size`) live in ``<path>.shards/``. A rerun with the same model,
    texts, layers, pooling, prefix and precision continues from the finished shards (also with another
    number of processes); anything else starts over. Every process of a launcher run must call this
    with the same arguments; all of them return the same :class:`StoreInfo`.
    """
    texts = list(texts)
    target = Path(path)
    if not texts:
        raise DataError(f"nothing to embed into {target}: the text list is empty")
    shard_size = auto_shard_size(len(texts)) if shard_size is None else int(shard_size)
    if shard_size < 1:
        raise ConfigError(f"shard_size must be >= 1, got {shard_size}")
    chosen = resolve_layers(layers, encoder.num_layers)
    fp = store_fingerprint(encoder, texts, chosen, pooling, prefix, shard_size, precision)
    shape = (len(chosen), len(texts), encoder.hidden_size)
    work = target.with_name(target.name + ".shards")
    group = process_group(encoder.device)

    def plan() -> dict[str, Any]:
        check_output(target, kind="file")  # never a link, folder or device
        target.parent.mkdir(parents=True, exist_ok=True)
        recover_output(target)  # an assembly a kill interrupted
        return _plan(target, work, fp, shape, shard_size)

    decided = group.decide(plan)
    if "complete" in decided:
        logger.info("%s is complete; nothing to do", final_path(target))
        info = decided["complete"]
        return StoreInfo(**{**info, "shape": tuple(info["shape"]), "resumed_shards": 0})
    todo, n_shards = decided["todo"], decided["n_shards"]
    resumed = n_shards - len(todo)
    if resumed:
        logger.info("resuming %s: %d of %d shards already done", target.name, resumed, n_shards)
    for s in todo[group.rank::group.world]:
        stats = ExtractionStats()
        lo, hi = s * shard_size, min(len(texts), (s + 1) * shard_size)
        vecs = embed(encoder, texts[lo:hi], layers=chosen, pooling=pooling, prefix=prefix, batch_size=batch_size,
                     max_tokens=max_tokens, precision=precision, progress=progress, stats=stats)
        f = _shard_file(work, s)
        write_json(f.with_suffix(".json"), {"n_truncated": stats.n_truncated})
        tmp = f.with_name(f"{f.name}.tmp{group.rank}")
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(vecs, dtype=np.float32))
        os.replace(tmp, f)  # the .npy appears only when complete: it marks the shard done
        del vecs
    group.barrier()

    def finish() -> StoreInfo:
        n_truncated = _assemble(target, work, shape, shard_size)
        info = StoreInfo(path=str(target), shape=shape, layers=chosen, pooling=str(pooling),
                         n_truncated=n_truncated, resumed_shards=resumed, fingerprint=fp)
        write_json(meta_path(target), asdict(info))
        shutil.rmtree(work, ignore_errors=True)
        return info

    return group.decide(finish)
