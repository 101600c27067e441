"""The one staging scheme every command writes through (the policy is :mod:`xalign.output_policy`).

The staging scheme, for a target ``<dir>/<name>`` (file or folder); nothing else beside it is touched:

* ``.<name>.lock``: held while one process writes ``<name>`` (:func:`output_lock`); removed on release.
* ``.<name>.<token>.tmp``: a throwaway staging folder (``token`` has no dot, so the leftovers of
  ``<name>`` and of ``<name>.v2`` never match each other; names are compared exactly, no glob). The
  new result is built inside and renamed onto ``<name>``; the previous ``<name>`` is parked inside as
  ``.old-<name>`` between the two renames. :func:`recover_output` removes what a kill left and puts a
  parked run back.
* ``.<name>.partial``: a resumable staging folder (``xalign embed``), kept across kills so a rerun
  continues it, and swapped in like the throwaway one.

When a run folder is replaced, entries of the previous run that xalign does not write
(:data:`RUN_OUTPUTS`: a user's ``NOTES.md``, the input files) are moved into the new run, never deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, OutputError
from xalign.output_policy import check_output, run_command

#: the top-level names xalign writes into run folders; anything else in a replaced run is the user's, and kept
RUN_OUTPUTS = frozenset({
    "manifest.json", "config.json", "metrics.json", "metrics.csv", "details.json", "embeddings", "report.html",
    "report_png", "compare.json", "train_metrics.json", "checkpoints", "encoder", "model", "tensorboard",
    "rsda_copies.tsv", "log.csv", "alignments.txt", "texts.json", "models", "compare.csv", "report_cache",
    "languages.csv"})
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,40}")


# --------------------------------------------------------------------------- the lock
def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None


def _busy(path: Any, lock_file: Path) -> OutputError:
    return OutputError(f"{path} is being written by another xalign process (lock {lock_file}); "
                       f"wait for it to finish or choose another --out")


def _flock(lock_file: Path, path: Any, wait: bool) -> int:
    """An exclusive ``flock`` on ``lock_file`` (created if needed), checked to be on the file that is still
    at that path (a holder removes it on release: a process that opened the old file tries again)."""
    import fcntl

    for _ in range(1000 if wait else 5):
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise _busy(path, lock_file) from None
        try:
            same = os.stat(lock_file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise _busy(path, lock_file)


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str], *, wait: bool = False) -> Iterator[Path]:
    """Hold ``.<name>.lock`` beside ``path``; another holder makes this raise :class:`OutputError` at once
    (``wait``: wait for it instead). The lock file is removed on release (where ``flock`` exists; elsewhere
    it stays)."""
    target = Path(os.path.abspath(path))
    _mkdir(target.parent)
    lock_file = target.parent / f".{target.name}.lock"
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows: filelock, and the file stays
        from filelock import FileLock, Timeout

        lock = FileLock(str(lock_file), timeout=-1 if wait else 0)
        try:
            lock.acquire()
        except Timeout:
            raise _busy(path, lock_file) from None
        try:
            yield target
        finally:
            lock.release()
        return
    fd = _flock(lock_file, path, wait)
    try:
        yield target
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_file)  # while still held: a waiter on this inode sees it gone and retries
        os.close(fd)


def check_not_busy(path: str | os.PathLike[str]) -> None:
    """Raise :class:`OutputError` now when another process holds ``path``'s lock, so that a command that
    will write ``path`` at its end fails before its work, not after it. Creates nothing."""
    target = Path(os.path.abspath(path))
    lock_file = target.parent / f".{target.name}.lock"
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: found out when the lock is taken
        return
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except OSError:
        return  # no lock file: nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise _busy(path, lock_file) from None
    finally:
        os.close(fd)  # closing releases the probe


# --------------------------------------------------------------------------- staging folders
def stage_dir(target: Path) -> Path:
    """A fresh throwaway staging folder ``.<name>.<token>.tmp`` beside ``target`` (created)."""
    _mkdir(target.parent)
    while True:
        stage = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            stage.mkdir()
            return stage
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue


def resume_dir(target: str | os.PathLike[str]) -> Path:
    """The resumable staging folder of ``target``: ``.<name>.partial`` beside it (kept across kills)."""
    target = Path(target)
    return target.parent / f".{target.name}.partial"


def is_stage_of(entry: str, name: str) -> bool:
    """Whether the file name ``entry`` is a throwaway staging folder of ``name`` (exact, no pattern)."""
    prefix = f".{name}."
    return (entry.startswith(prefix) and entry.endswith(".tmp")
            and _TOKEN.fullmatch(entry[len(prefix):-len(".tmp")]) is not None)


def final_path(path: str | os.PathLike[str]) -> Path:
    """The path ``path`` will have once its staging folder is swapped in (for log lines and messages: a
    staging folder is gone when the run ends). Paths outside staging folders come back unchanged."""
    parts = list(Path(path).parts)
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if nxt is not None and is_stage_of(part, nxt):  # .<name>.<token>.tmp/<name>
            out.append(nxt)
            i += 2
            continue
        if part.startswith(".") and part.endswith(".partial") and len(part) > len("..partial"):
            part = part[1:-len(".partial")]  # .<name>.partial
        out.append(part)
        i += 1
    return Path(*out) if out else Path(path)


def _carry_user_entries(old: Path, new: Path) -> None:
    """Move what the user put into the previous run ``old`` (names xalign does not write) into ``new``."""
    for entry in sorted(old.iterdir()):
        if entry.name not in RUN_OUTPUTS and not ((new / entry.name).exists() or (new / entry.name).is_symlink()):
            os.replace(entry, new / entry.name)


def recover_output(target: str | os.PathLike[str]) -> None:
    """Remove what killed writers left beside ``target`` (call with its lock held): its throwaway staging
    folders, matched exactly. A previous run parked by a swap that was killed half-way is put back
    first (or, when the new run is already in place, the user's files in it are moved over)."""
    target = Path(target)
    try:
        entries = [e for e in target.parent.iterdir() if is_stage_of(e.name, target.name)]
    except FileNotFoundError:
        return
    for stale in entries:
        if not stale.is_dir() or stale.is_symlink():
            continue
        old = stale / f".old-{target.name}"
        if old.is_dir() and not old.is_symlink():
            if not target.exists() and not target.is_symlink():
                os.replace(old, target)
            elif target.is_dir() and not target.is_symlink() and run_command(target) is not None:
                _carry_user_entries(old, target)  # a command's run folder: the user's files in the old one
        shutil.rmtree(stale, ignore_errors=True)


def _swap_in(new: Path, target: Path, stage: Path, *, carry: bool = False) -> None:
    """Rename ``new`` onto ``target``, parking the previous ``target`` in ``stage`` in between; with
    ``carry`` (a command's run folder) the user's entries of the previous run are moved into the new one."""
    old = stage / f".old-{target.name}"
    if target.exists() or target.is_symlink():
        os.replace(target, old)
    os.replace(new, target)
    if carry and old.is_dir() and not old.is_symlink() and target.is_dir():
        _carry_user_entries(old, target)


def swap_in_dir(new: str | os.PathLike[str], target: str | os.PathLike[str], *, carry: bool = True) -> Path:
    """Move the run folder ``new`` onto ``target`` (same file system; call with ``target``'s lock held),
    keeping the user's files of the previous run (``carry``). A kill between the renames loses nothing:
    :func:`recover_output` puts the parked run back."""
    new, target = Path(new), Path(target)
    stage = stage_dir(target)
    try:
        _swap_in(new, target, stage, carry=carry)
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
    stage = stage_dir(target)
    tmp_target = stage / target.name
    try:
        yield tmp_target
        made = "dir" if tmp_target.is_dir() else "file"
        check_output(target, kind=made, files=files)
        _swap_in(tmp_target, target, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


class OutputClaim:
    """One process's hold on the output folder ``path`` of a ``command`` run (``with OutputClaim(...)``).

    Entering checks the policy (absent, empty or a ``command`` run), takes the lock and cleans what
    killed runs left. :meth:`stage` gives the folder to write into, :meth:`commit` swaps it in; leaving
    the block without a commit removes a throwaway stage and keeps a resumable one.
    """

    def __init__(self, path: str | os.PathLike[str], command: str, *, overwrite: bool = False) -> None:
        self.target, self.command, self.overwrite = Path(path), command, overwrite
        self._stack = contextlib.ExitStack()
        self._throwaway: Path | None = None
        self.work: Path | None = None

    def __enter__(self) -> "OutputClaim":
        check_output(self.target, kind="dir", command=self.command)
        with contextlib.ExitStack() as stack:
            stack.enter_context(output_lock(self.target))
            check_output(self.target, kind="dir", command=self.command)  # again, now that nobody else writes it
            recover_output(self.target)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._throwaway is not None:
                shutil.rmtree(self._throwaway, ignore_errors=True)
        finally:
            self._stack.close()

    @property
    def existing(self) -> bool:
        """Whether the target holds an earlier run (a non-empty folder)."""
        return self.target.is_dir() and any(self.target.iterdir())

    def refuse_existing(self) -> None:
        if self.existing and not self.overwrite:
            raise OutputError(f"{self.target} already holds an xalign {self.command} run; pass --overwrite to "
                              f"replace it or choose another --out")

    def stage(self, *, resumable: bool = False) -> Path:
        """The folder to write the run into: a fresh throwaway one, or (``resumable``) ``.<name>.partial``,
        which survives a failure or kill so that the next run continues it."""
        if resumable:
            work = resume_dir(self.target)
            if work.is_symlink() or (work.exists() and not work.is_dir()):
                raise OutputError(f"refusing to write {work}: it is not a folder xalign made; remove it")
            _mkdir(work)
        else:
            self._throwaway = stage_dir(self.target)
            work = self._throwaway / self.target.name
            work.mkdir()
        self.work = work
        return work

    def commit(self) -> Path:
        """Swap the staged run in (the previous run, if any, goes; the user's files in it stay)."""
        if self.work is None:
            raise RuntimeError("commit() before stage()")
        self.refuse_existing()
        if self._throwaway is not None:
            _swap_in(self.work, self.target, self._throwaway, carry=True)
        else:
            swap_in_dir(self.work, self.target)
        return self.target


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
    with OutputClaim(path, command, overwrite=overwrite) as claim:
        target = claim.target
        if resume:
            if not claim.existing:
                raise ConfigError(f"nothing to resume in {target}: no xalign {command} run there")
            yield target
            return
        claim.refuse_existing()
        if in_place and not claim.existing:
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
        work = claim.stage()
        yield work
        claim.commit()
