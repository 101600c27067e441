"""The projection cache: 2-D maps are stored in the run folder, keyed by a hash of their inputs, so
``xalign report`` redraws a run without projecting again (UMAP costs about a second per layer after a
≈10 s numba start).

The key covers everything a map depends on: the projection method and seed, the layers, the subsample,
and the bytes of every embedding row that is projected. A changed embedding, seed or ``--max-points``
is a different file; an unreadable or inconsistent cache file is ignored and replaced. A folder that
cannot be written (read-only media) only costs the recomputation.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from xalign.report.projection import PairProjection, project_joint, resolve_method, subsample

logger = logging.getLogger(__name__)

__all__ = ["CACHE_DIR", "projection_key", "cached_projection"]

#: sub-folder of a run directory holding cached projections
CACHE_DIR = "report_cache"
_VERSION = b"xalign-projection-v2"


def projection_key(groups: list[tuple[np.ndarray, np.ndarray]], layers: list[int], *, max_points: int | None,
                   seed: int, method: str) -> str:
    """sha256 (hex) of the projection's inputs: method, seed, layers, subsample and the projected rows."""
    n = groups[0][0].shape[1]
    index = subsample(n, max_points, seed)
    used = resolve_method(method, 2 * len(index) * len(groups))
    h = hashlib.sha256(_VERSION)
    h.update(f"{used}|{seed}|{list(layers)}|{len(groups)}|{n}".encode())
    h.update(np.ascontiguousarray(index, dtype=np.int64).tobytes())
    for src, tgt in groups:
        for side in (src, tgt):
            h.update(str(side.dtype).encode() + str(side.shape).encode())
            for li in range(side.shape[0]):
                h.update(np.ascontiguousarray(side[li][index]).tobytes())
    return h.hexdigest()


def _read(path: Path, n_groups: int, layers: list[int]) -> list[PairProjection] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            index, method = np.asarray(data["index"]), str(data["method"])
            xy = [(np.asarray(data[f"src_{g}"]), np.asarray(data[f"tgt_{g}"])) for g in range(n_groups)]
    except (OSError, KeyError, ValueError) as exc:
        logger.info("projection cache %s unreadable (%s): projecting again", path, exc)
        return None
    shape = (len(layers), len(index), 2)
    if any(s.shape != shape or t.shape != shape for s, t in xy):
        logger.info("projection cache %s does not match its inputs: projecting again", path)
        return None
    return [PairProjection(index=index, layers=list(layers), src_xy=s.astype(np.float32), tgt_xy=t.astype(np.float32),
                           method=method) for s, t in xy]


def _write(path: Path, projections: list[PairProjection]) -> None:
    from xalign.io import atomic_path

    arrays = {"index": projections[0].index, "method": np.asarray(projections[0].method)}
    for g, p in enumerate(projections):
        arrays[f"src_{g}"], arrays[f"tgt_{g}"] = p.src_xy, p.tgt_xy
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    except OSError as exc:  # a read-only run folder: the report is still written, only slower next time
        logger.warning("could not cache the projection in %s (%s); the next report projects again", path.parent, exc)


def cached_projection(run_dir: str | Path | None, groups: list[tuple[np.ndarray, np.ndarray]], layers: list[int],
                      *, max_points: int | None, seed: int, method: str) -> list[PairProjection]:
    """:func:`~xalign.report.projection.project_joint`, read from ``run_dir/report_cache/`` when these exact
    inputs were projected before, else computed and stored there (``run_dir=None``: no cache)."""
    if run_dir is None:
        return project_joint(groups, layers, max_points=max_points, seed=seed, method=method)
    key = projection_key(groups, layers, max_points=max_points, seed=seed, method=method)
    path = Path(run_dir) / CACHE_DIR / f"projection-{key[:32]}.npz"
    if path.is_file():
        found = _read(path, len(groups), layers)
        if found is not None:
            logger.info("projection read from %s", path)
            return found
    projections = project_joint(groups, layers, max_points=max_points, seed=seed, method=method)
    _write(path, projections)
    return projections
