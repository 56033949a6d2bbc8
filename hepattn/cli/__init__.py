"""The ``hepattn`` command line: argument parsing and printing only.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``. Library work is done by calling :mod:`hepattn` functions, imported
inside ``run`` so that ``hepattn --help``, ``hepattn SUB --help`` and ``--version`` start
without importing torch or awkward.

Errors hepattn raises on purpose (:class:`~hepattn.errors.HepattnError`) and ``OSError`` s
(read-only file system, disk full, permission denied) print one line and exit with 1;
Ctrl-C prints one line and exits with 130 (writers never leave a partial file under the
final name). ``-v`` shows hepattn's debug messages, not those of other libraries.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hepattn import __version__
from hepattn.errors import HepattnError

# Subcommand modules, in the order `hepattn --help` lists them.
COMMANDS = (
    "inspect",
    "generate",
    "train",
    "eval",
    "tag",
    "match",
    "label",
    "compare",
    "convert",
    "export-onnx",
)
MODULES = {"eval": "evaluate", "export-onnx": "export_onnx"}


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.stderr`` is when a message comes."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


_handler = _StderrHandler()
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hepattn",
        description="Symmetry-aware attention for particle physics: tag jets, match jets to "
        "partons, compare with the chi2 baseline.",
    )
    parser.add_argument("--version", action="version", version=f"hepattn {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="show hepattn's debug messages"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"hepattn.cli.{MODULES.get(name, name)}").register(subparsers)
    return parser


def setup_logging(verbose: int) -> None:
    """hepattn's messages on stderr, INFO and up (DEBUG with ``-v``); other libraries'
    loggers are left alone (their warnings still show, their debug messages do not)."""
    logger = logging.getLogger("hepattn")
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def _one_line(err: object) -> str:
    """An error's text on one line (a library's message quoted in ours may span several)."""
    return " ".join(str(err).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # a subcommand may take its last positional after its options (`convert IN --to F OUT`),
    # which argparse alone cannot do once an optional positional was matched empty
    late = getattr(args, "late_positional", None)
    if late and len(extra) == 1 and getattr(args, late) is None and extra[0][:1] != "-":
        setattr(args, late, extra.pop())
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 2
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except HepattnError as err:
        print(f"hepattn {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except OSError as err:  # a disk's fault the writers did not name: still one line
        where = f"{err.filename}: " if err.filename else ""
        print(
            f"hepattn {args.command}: error: {where}{_one_line(err.strerror or err)}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"hepattn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
