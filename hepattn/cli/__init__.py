"""The ``hepattn`` command line: argument parsing and printing only.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``. Library work is done by calling :mod:`hepattn` functions.
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
    "compare",
    "convert",
    "export-onnx",
)
MODULES = {"eval": "evaluate", "export-onnx": "export_onnx"}


def to_json(obj) -> str:
    """JSON text with NaN and ±inf written as ``null`` (strict JSON, readable by jq)."""
    import json
    import math

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=2, allow_nan=False) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hepattn",
        description="Symmetry-aware attention for particle physics: tag jets, match jets to "
        "partons, compare with the chi2 baseline.",
    )
    parser.add_argument("--version", action="version", version=f"hepattn {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"hepattn.cli.{MODULES.get(name, name)}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except HepattnError as err:
        print(f"hepattn {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
