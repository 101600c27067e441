"""The errors a *user* can cause: bad settings, bad data, an output path xalign must not touch.

Each is also the matching built-in (``ConfigError`` is a ``ValueError``, ``MissingFileError`` a
``FileNotFoundError`` …), so callers that catch the built-ins keep working. The CLI turns an
:class:`XalignError` into one line and exit status 2; every other exception is a bug in xalign and
keeps its traceback. Messages say what was expected, what arrived, and where (file:line, field, value).
"""

from __future__ import annotations

__all__ = ["XalignError", "ConfigError", "DataError", "MissingFileError", "OutputError", "ModelError",
           "DependencyError"]


class XalignError(Exception):
    """Base of every user-facing error (one clear line, no traceback in the CLI)."""


class ConfigError(XalignError, ValueError):
    """A setting (flag, config-file key, argument) has a bad value or type, or settings contradict."""


class DataError(XalignError, ValueError):
    """An input file's content is wrong: names the file, the line and the value."""


class MissingFileError(XalignError, FileNotFoundError):
    """An input file or folder that the user named does not exist."""


class OutputError(XalignError, OSError):
    """xalign refuses to write where it was asked (it would replace a user's files, another run holds
    the folder, the location is not writable)."""


class ModelError(XalignError, OSError):
    """A model cannot be loaded as asked (not found offline, unsafe weights, missing capability)."""


class DependencyError(XalignError, ImportError):
    """An optional package is missing; names the extra to install."""
