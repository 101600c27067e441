"""Reading UTF-8 text files line by line: :class:`LineFile`, the one low-level reader every format uses.

It checks UTF-8 per line, hashes the bytes it reads (recorded in ``sources`` for manifests) and keeps
every line exactly as written apart from the line ending (``\\n`` or ``\\r\\n``) and a UTF-8
byte-order mark at the start of a file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from xalign.errors import DataError, MissingFileError

PathLike = str | os.PathLike[str]
_BOM = b"\xef\xbb\xbf"


class LineFile:
    """Iterate ``(line_number, text)`` over a UTF-8 text file, hashing its bytes on the way.

    Line numbers start at 1; the line ending (``\\n``, ``\\r\\n``) is removed, nothing else.
    Invalid UTF-8 raises ``ValueError`` naming ``file:line``; a missing file ``FileNotFoundError``
    naming the path. After a full pass :meth:`source` gives ``{"path", "sha256"}`` for manifests.
    """

    def __init__(self, path: PathLike, *, what: str = "text file") -> None:
        self.path = Path(path)
        self.n_lines = 0
        self._hash = hashlib.sha256()
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            raise MissingFileError(f"{what} not found: {self.path}") from None
        except OSError as exc:
            raise DataError(f"cannot read the {what} {self.path}: {exc.strerror}") from None
        if not stat.S_ISREG(mode):
            found = ("a directory" if stat.S_ISDIR(mode) else "a fifo (named pipe)" if stat.S_ISFIFO(mode) else
                     "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode) else
                     "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise DataError(f"expected a {what} at {self.path}, found {found}; xalign reads regular files only")

    def __iter__(self) -> Iterator[tuple[int, str]]:
        self._hash, self.n_lines = hashlib.sha256(), 0
        with self.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                self._hash.update(raw)
                self.n_lines = lineno
                raw = raw[:-1] if raw.endswith(b"\n") else raw
                raw = raw[:-1] if raw.endswith(b"\r") else raw
                if lineno == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM):]
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(f"{self.path}:{lineno}: invalid UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                                     f"{exc.start} of the line); expected UTF-8 text") from None
                yield lineno, text

    def json_objects(self) -> Iterator[tuple[str, dict]]:
        """``("file:line", object)`` for every non-blank line of a JSONL file: one :class:`DataError` naming the
        line for invalid JSON or a line that is not a JSON object."""
        import json

        for lineno, line in self:
            if not line.strip():
                continue
            loc = f"{self.path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{loc}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{loc}: expected a JSON object per line, found {type(obj).__name__}")
            yield loc, obj

    def source(self) -> dict[str, str]:
        """``{"path": <absolute path>, "sha256": ...}`` of the bytes read (the whole file after a full pass)."""
        return {"path": str(self.path.resolve()), "sha256": self._hash.hexdigest()}
