"""The ``xalign`` entry point.

Every command lives in ``xalign/cli/<command>.py`` and provides ``add_parser(subparsers)``
(which registers its arguments and sets ``func``) and ``run(args) -> int``. Only this
module configures logging. A user error (:class:`xalign.errors.XalignError`: bad settings, data,
output path, model or missing extra) becomes one line and exit status 2; any other exception is a
bug in xalign: its traceback is printed with one line asking to report it, exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator

import traceback

from xalign._version import __version__
from xalign.errors import XalignError

COMMANDS = ("env", "embed", "probe", "align", "report", "train", "compare")

# Errors a user can cause with bad input or environment: one line, exit 2.
# What a user or the environment causes: one line, exit 2. XalignError is raised by validation (bad settings,
# data, output paths, models); an OSError naming a file is the environment (permission denied, disk full).
# Anything else is a bug in xalign and keeps its traceback.
def _is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, XalignError) or (isinstance(exc, OSError) and getattr(exc, "filename", None) is not None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xalign",
        description="Cross-lingual alignment diagnostics and robust fine-tuning for multilingual encoders.",
    )
    parser.add_argument("--version", action="version", version=f"xalign {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"xalign.cli.{name}")
        module.add_parser(sub)
    return parser


@contextlib.contextmanager
def _configure_logging(verbose: int, quiet: bool) -> Iterator[None]:
    """The ``xalign`` logger prints to stderr while a command runs; its earlier state comes back afterwards
    (``main`` called in-process, by tests or notebooks, leaves no logging set-up behind)."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(name)s: %(message)s"))
    root = logging.getLogger("xalign")
    saved = (root.handlers[:], root.level, root.propagate)
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    try:
        yield
    finally:
        root.handlers[:], root.propagate = saved[0], saved[2]
        root.setLevel(saved[1])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    with _configure_logging(args.verbose, args.quiet):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("xalign: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _is_user_error(exc):
            return _bug(args, exc)
        if args.verbose > 1:
            raise
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"xalign {args.command}: error: {message}", file=sys.stderr)
        return 2


def _bug(args: argparse.Namespace, exc: BaseException) -> int:
    """A bug in xalign: keep the traceback, say so in one line."""
    traceback.print_exception(exc, file=sys.stderr)
    print(f"xalign {args.command}: internal error ({type(exc).__name__}): this is a bug in xalign "
          f"{__version__}; please report it with the command line, the traceback above and the output of "
          f"'xalign env'", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
