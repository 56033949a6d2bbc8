"""Arguments several subcommands share, spelled the same everywhere.

- every output path is ``-o/--output`` (older spellings stay as aliases);
- ``--tree`` always names the tree read, ``--output-tree`` the tree written;
- ``--schema`` overrides the schema a model remembers (or the detected one);
- ``--no-progress`` turns the progress bars off (they are off anyway without a terminal).
"""

from __future__ import annotations

import argparse

__all__ = ["add_input", "add_model", "add_output", "add_output_tree", "add_progress"]


def add_output(p: argparse.ArgumentParser, help: str, *aliases: str, **kwargs) -> None:
    """``-o/--output`` (and ``aliases``, e.g. ``--out``), stored as ``args.output``."""
    p.add_argument("-o", "--output", *aliases, dest="output", help=help, **kwargs)


def add_input(p: argparse.ArgumentParser, schema_default: str) -> None:
    """``--schema`` and ``--tree`` of the files read."""
    p.add_argument(
        "--schema",
        help=f"schema of the input: a built-in name or a YAML file (default: {schema_default})",
    )
    p.add_argument("--tree", help="tree to read (default: the schema's)")


def add_model(p: argparse.ArgumentParser, task: str) -> None:
    p.add_argument(
        "--model",
        default="default",
        help=f"trained {task} directory, or 'default' for the bundled {task}",
    )


def add_output_tree(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output-tree",
        default="hepattn",
        metavar="NAME",
        help="name of the tree written (default: hepattn)",
    )


def add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (there is none anyway when stderr is not a terminal)",
    )
