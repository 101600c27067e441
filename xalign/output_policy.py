"""Where xalign may write: the safe-output policy (used through :mod:`xalign.io`).

The safe-output policy (:func:`output_problem`; every writer goes through it):

* A **folder** may be replaced only if it is absent or empty, or is an xalign folder: a run whose
  ``manifest.json``/``config.json`` carries a ``"command"`` field (written by xalign), the cached
  default model (``xalign_source.json``), or a folder inside such a run. Commands that own a whole
  run folder ask for more: a run *of the same command*.
* A **file** may be replaced only if it is absent or a regular file; a file the user names as an
  output (``files="report"``) only if it is an xalign HTML report (it carries :data:`HTML_GENERATOR`):
  never another file inside a run or the model cache (a manifest, a config, the user's notes).
* **Never**: a symbolic link, a device, fifo or socket, a folder in place of a file or the reverse,
  the current folder or one of its parents.
Refusals raise :class:`~xalign.errors.OutputError` naming the path and the reason, before anything is
computed when the caller checks first.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from xalign.errors import OutputError

RUN_MARKERS = ("manifest.json", "config.json")  # an xalign run records its "command" in one of these
MODEL_MARKER = "xalign_source.json"  # the converted default model
HTML_GENERATOR = '<meta name="generator" content="xalign">'  # reports carry it in <head>
_REPORT_BOOT = b'setAttribute("data-report-ready"'  # the boot script at the end of reports without the meta
_MARKER_BYTES = 1 << 16


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


def is_xalign_report(path: str | os.PathLike[str]) -> bool:
    """Whether the file ``path`` is an HTML report xalign wrote (its generator meta or boot script)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(_MARKER_BYTES)
            fh.seek(max(0, p.stat().st_size - _MARKER_BYTES))
            tail = fh.read(_MARKER_BYTES)
    except OSError:
        return False
    return HTML_GENERATOR.encode() in head or (head.startswith(b"<!DOCTYPE html>") and _REPORT_BOOT in tail)


def _folder_problem(p: Path, command: str | None) -> str | None:
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


def output_problem(path: str | os.PathLike[str], *, kind: str | None = None, command: str | None = None,
                   files: str = "any") -> str | None:
    """Why xalign must not write ``path`` (a short reason), or None when it may.

    ``kind``: "file", "dir" or None (either). ``command``: a folder must be absent, empty or a run of
    this command (None: any xalign folder). ``files``: "any" (a regular file may be replaced) or
    "report" (only an xalign HTML report; "xalign" is the same).
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
        return "it is a folder; name a file" if kind == "file" else _folder_problem(p, command)
    if stat.S_ISREG(mode):
        if kind == "dir":
            return "it is a file; name a folder"
        if files in ("report", "xalign") and not is_xalign_report(p):
            if _inside_xalign_folder(p, levels=1):
                return "it is a file of an xalign run or model cache, not a report; name a new file"
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
