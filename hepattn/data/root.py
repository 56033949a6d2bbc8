"""ROOT file access: paths and globs, opening, finding trees and branches, chunked reads.

This module only does I/O and turns every failure of uproot into a :class:`DataError` that
names the file, the tree or the branch at fault. Interpretation of the branches (kinematics,
padding) is elsewhere.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import uproot

from hepattn.data.schema import Schema, close_matches, detect_schema, get_schema
from hepattn.errors import DataError, InputNotFoundError, SchemaMismatchError

log = logging.getLogger(__name__)

__all__ = [
    "Chunk",
    "detect_file_schema",
    "iterate_branches",
    "open_file",
    "open_tree",
    "Friend",
    "friend_file_paths",
    "resolve_friends",
    "split_friend",
    "resolve_paths",
    "schema_for",
    "tree_names",
]

PathLike = str | os.PathLike
Paths = PathLike | Sequence[PathLike]


def resolve_paths(paths: Paths) -> list[Path]:
    """Expand one path, a list of paths or glob patterns into existing files (sorted per glob)."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise InputNotFoundError("no input files given")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            hits = sorted(glob.glob(text))
            if not hits:
                raise InputNotFoundError(f"{text}: the pattern matches no file")
            out += [Path(h) for h in hits]
        else:
            p = Path(text)
            if not p.exists():
                raise InputNotFoundError(f"{text}: no such file")
            if p.is_dir():
                raise DataError(
                    f"{text}: is a directory, not a ROOT file (use a glob like dir/*.root)"
                )
            out.append(p)
    return out


def open_file(path: Path):
    """Open a ROOT file, turning uproot's failures into a :class:`DataError` naming it."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror})") from None
    if magic != b"root":
        what = "is empty (0 bytes)" if not magic else f"starts with {magic!r}, not b'root'"
        raise DataError(f"{path}: not a ROOT file: it {what}")
    try:
        file = uproot.open(path)
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such file") from None
    except Exception as err:  # uproot raises ValueError, OSError, struct.error, …
        raise DataError(f"{path}: cannot be opened as a ROOT file ({err})") from None
    _check_complete(path, file)
    return file


def _check_complete(path: Path, file) -> None:
    """A :class:`DataError` if ``path`` is shorter than its ROOT header says (``fEND``): a
    file cut off near its end may still open and list its trees, but its last baskets and
    keys are gone."""
    end = getattr(getattr(file, "file", None), "fEND", None)
    size = os.path.getsize(path)
    if isinstance(end, int) and size < end:
        raise DataError(
            f"{path}: truncated: the file has {size:,} bytes but its ROOT header says "
            f"{end:,}; copy or regenerate it"
        )


def tree_names(file) -> list[str]:
    """Names of the TTrees in an open file, without cycle numbers."""
    try:
        classes = file.classnames(recursive=True)
    except Exception as err:
        raise DataError(f"{file.file_path}: the ROOT directory is unreadable ({err})") from None
    return sorted({k.split(";")[0] for k, c in classes.items() if c in ("TTree", "TNtuple")})


def _detect(file, names: Sequence[str], collections=None) -> tuple[Schema, str] | None:
    """The first built-in schema that reads one of the trees ``names`` of an open file."""
    for name in names:
        try:
            keys = file[name].keys(recursive=True)
        except Exception as err:
            raise DataError(f"{file.file_path}: tree {name!r} is unreadable ({err})") from None
        found = detect_schema(name, keys, collections)
        if found is not None:
            return found, name
    return None


def detect_file_schema(
    path: PathLike, tree: str | None = None, collections: Sequence[str] | None = None
) -> tuple[Schema, str] | None:
    """``(schema, tree)``: the built-in schema that reads ``path`` (its tree ``tree``, or
    any of its trees; only ``collections`` if given), as ``hepattn inspect`` finds it; None
    if none fits."""
    file = open_file(Path(path))
    return _detect(file, [tree] if tree is not None else tree_names(file), collections)


def schema_for(
    paths: Paths,
    schema: str | Schema | None = None,
    tree: str | None = None,
    collections: Sequence[str] | None = None,
) -> Schema:
    """``schema``, or when None the built-in schema detected on the first of ``paths``
    (:func:`detect_file_schema`); a :class:`SchemaMismatchError` if none fits."""
    if schema is not None:
        return get_schema(schema)
    first = resolve_paths(paths)[0]
    found = detect_file_schema(first, tree, collections)
    if found is None:
        raise SchemaMismatchError(
            f"{first}: no built-in schema fits this file"
            + (f" (reading {list(collections)})" if collections else "")
            + "; pass --schema NAME|FILE.yaml"
        )
    log.info("%s: detected schema %r", first, found[0].name)
    return found[0]


def _hint(file, schema: Schema | None) -> str:
    """What to do when ``schema`` does not fit an open file: the built-in schema that fits,
    or pass one."""
    found = _detect(file, tree_names(file))
    if found is not None and (schema is None or found[0].name != schema.name):
        return f"the built-in schema {found[0].name!r} fits this file (--schema {found[0].name})"
    return "pass --schema NAME|FILE.yaml with a schema for this file"


def open_tree(path: Path, tree: str | None, schema: Schema | None = None):
    """Open ``path`` and return its TTree ``tree`` (or the schema's, or the only one)."""
    file = open_file(path)
    names = tree_names(file)
    want = tree or (schema.tree if schema else None)
    if want is None:
        if len(names) != 1:
            raise DataError(
                f"{path}: say which tree to read; the file has "
                + (f"trees {names}" if names else "no TTree")
            )
        want = names[0]
    if want not in names:
        what = f"schema {schema.name!r} reads " if schema is not None and tree is None else ""
        raise SchemaMismatchError(
            f"{path}: tree {want!r} not found; "
            + (f"the file has trees {names}" if names else "the file has no TTree at all")
            + (f" ({what}tree {want!r}; {_hint(file, schema)})" if names else "")
        )
    try:
        return file[want]
    except Exception as err:
        raise DataError(f"{path}: tree {want!r} cannot be read ({err})") from None


def _branch_names(tree) -> set[str]:
    # split-object branches (Delphes' Jet/Jet.PT) are found by their short or full name
    return set(tree.keys(recursive=True, full_paths=True)) | set(
        tree.keys(recursive=True, full_paths=False)
    )


def check_branches(tree, schema: Schema, branches: Sequence[str], friend=None) -> None:
    """Raise a :class:`DataError` naming the schema, branch and close matches if one is
    missing from ``tree`` (and from its ``friend`` tree, when given)."""
    have = _branch_names(tree)
    if friend is not None:
        have |= _branch_names(friend)
    for name in branches:
        if name not in have:
            close = close_matches(name, have)
            raise SchemaMismatchError(
                f"{tree.file.file_path}: tree {tree.name!r} has no branch {name!r} "
                + (
                    f"and neither has its friend {friend.file.file_path} (tree {friend.name!r}) "
                    if friend is not None
                    else ""
                )
                + f"(schema {schema.name!r} reads it)"
                + (f"; close matches: {close}" if close else "")
                + f"; {_hint(getattr(tree.file, 'root_directory', tree.file), schema)}"
            )


#: Trees a friend file is read from when it holds several (``hepattn label`` writes
#: ``labels``, ``hepattn tag`` / ``match`` write ``hepattn`` by default).
FRIEND_TREES = ("labels", "hepattn")


@dataclass(frozen=True)
class Friend:
    """A friend file and, optionally, the tree in it to read (``FILE:TREE``)."""

    path: Path
    tree: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.tree}" if self.tree else str(self.path)


def split_friend(text: str | os.PathLike) -> tuple[str, str | None]:
    """``FILE:TREE`` (uproot's notation) → ``(FILE, TREE)``; a plain path or glob → ``(it,
    None)``. A path that exists as given is never split."""
    text = os.fspath(text)
    if ":" in text and not Path(text).exists():
        head, tail = text.rsplit(":", 1)
        named = tail and not any(c in tail for c in "/\\")
        if named and (glob.has_magic(head) or Path(head).exists()):
            return head, tail
    return text, None


def friend_file_paths(friends: Paths | None) -> list[str]:
    """The file parts of ``friends`` (``FILE:TREE`` → ``FILE``), e.g. to check outputs."""
    if friends is None:
        return []
    items = [friends] if isinstance(friends, str | os.PathLike) else list(friends)
    return [split_friend(x)[0] for x in items]


def resolve_friends(friends: Paths | None, files: Sequence[Path]) -> list[Friend] | None:
    """The friend files of the input ``files`` (already resolved): ``friends`` (paths or
    globs, resolved as :func:`resolve_paths`, each optionally ``FILE:TREE`` to name the tree
    to read, :func:`split_friend`) paired one to one with ``files`` in order; a
    :class:`DataError` if the counts differ. None when ``friends`` is None."""
    if friends is None:
        return None
    items = [friends] if isinstance(friends, str | os.PathLike) else list(friends)
    out = []
    for item in items:
        text, tree = split_friend(item)
        out += [Friend(p, tree) for p in resolve_paths(text)]
    if len(out) != len(files):
        raise DataError(
            f"{len(out)} friend file(s) for {len(files)} input file(s): give one friend per "
            "input, in the same order (a glob resolves in sorted order)"
        )
    return out


def open_friend(friend: Friend | Path, main, main_path: Path):
    """The friend tree of ``friend`` for the open tree ``main`` of ``main_path``: the tree it
    names, else the file's only tree or the one named as in :data:`FRIEND_TREES`; a
    :class:`DataError` naming both files if its number of entries differs."""
    if not isinstance(friend, Friend):
        friend = Friend(Path(friend))
    path = friend.path
    file = open_file(path)
    names = tree_names(file)
    if friend.tree is not None:
        if friend.tree not in names:
            raise DataError(
                f"friend {path}: no tree {friend.tree!r}; the file has "
                + (f"trees {names}" if names else "no TTree")
            )
        names = [friend.tree]
    if len(names) != 1:
        names = [n for n in FRIEND_TREES if n in names] or names
    if len(names) != 1:
        raise DataError(
            f"friend {path}: say which tree is the friend of {main_path}: the file has "
            + (f"trees {names}, none named {' or '.join(FRIEND_TREES)}" if names else "no TTree")
            + f"; name it as {path}:TREE"
        )
    try:
        friend = file[names[0]]
    except Exception as err:
        raise DataError(f"friend {path}: tree {names[0]!r} cannot be read ({err})") from None
    if friend.num_entries != main.num_entries:
        raise DataError(
            f"friend {path} (tree {friend.name!r}) has {friend.num_entries:,} entries but "
            f"{main_path} (tree {main.name!r}) has {main.num_entries:,}: a friend must be "
            "aligned entry by entry with its input"
        )
    return friend


@dataclass
class Chunk:
    """One chunk of raw branches from one file: entries [start, stop) of ``path``.

    In-memory input (:func:`hepattn.data.reader.iterate_events` given a mapping of arrays) is
    one chunk whose ``path`` is a label and whose branches are called ``field`` s in messages.
    """

    path: Path | str
    start: int
    stop: int
    arrays: ak.Array | Mapping[str, ak.Array]  # one field per branch name
    what: str = "branch"
    friend: Path | None = None  # the friend file the branches ``from_friend`` were read from
    from_friend: tuple[str, ...] = ()


def _read_friend(friend, branches: Sequence[str], start: int, stop: int) -> dict[str, ak.Array]:
    """``branches`` of the friend tree for entries [start, stop)."""
    try:
        arrays = friend.arrays(list(branches), entry_start=start, entry_stop=stop, library="ak")
    except Exception as err:
        raise DataError(
            f"friend {friend.file.file_path}: tree {friend.name!r} is damaged or truncated, "
            f"reading entries {start}-{stop} failed ({type(err).__name__}: {err})"
        ) from None
    return {b: arrays[b] for b in branches}


def iterate_branches(
    paths: Paths,
    schema: Schema,
    branches: Sequence[str],
    tree: str | None = None,
    step_size: int | str = "100 MB",
    entry_start: int = 0,
    entry_stop: int | None = None,
    friends: Paths | None = None,
    optional: Sequence[str] = (),
) -> Iterator[Chunk]:
    """Yield :class:`Chunk` s of ``branches`` from every file, in file then entry order.

    ``optional``: branches read where a file (or its friend) has them and left out of the
    chunk's arrays where it has not (regression targets, needed only to train).

    ``friends``: friend files (``hepattn label`` output, …), one per input file in the same
    order (:func:`resolve_friends`; each read through :func:`open_friend`, which refuses a
    different number of entries). Branches the main tree lacks are read from the friend for
    the same entries; a branch both have is read from the main tree.

    ``step_size`` is a number of entries or a memory size ("100 MB"), as in ``uproot.iterate``;
    chunks never cross files. ``entry_start`` / ``entry_stop`` select a range of entries
    counted over all files, as if they were one chain. Files with zero entries are skipped
    with a warning; if nothing is left to read a :class:`DataError` is raised.
    """
    files = resolve_paths(paths)
    friend_files = resolve_friends(friends, files)
    total = 0  # entries yielded
    offset = 0  # global index of the current file's first entry
    for i, path in enumerate(files):
        if entry_stop is not None and offset >= entry_stop:
            break
        t = open_tree(path, tree, schema)
        ft = None if friend_files is None else open_friend(friend_files[i], t, path)
        check_branches(t, schema, branches, ft)
        own = _branch_names(t)
        have = own | (_branch_names(ft) if ft is not None else set())
        wanted = [*branches, *(b for b in optional if b in have and b not in branches)]
        main_branches = [b for b in wanted if b in own]
        friend_branches = [b for b in wanted if b not in own]
        n = t.num_entries
        if n == 0:
            log.warning("%s: tree %r has zero entries; skipped", path, t.name)
            continue
        start = max(0, entry_start - offset)
        stop = n if entry_stop is None else min(n, entry_stop - offset)
        offset += n
        if start >= stop:
            continue
        last = start
        try:
            for arrays, report in t.iterate(
                main_branches,
                step_size=step_size,
                entry_start=start,
                entry_stop=stop,
                library="ak",
                report=True,
            ):
                if friend_branches:
                    arrays = {b: arrays[b] for b in main_branches} | _read_friend(
                        ft, friend_branches, report.tree_entry_start, report.tree_entry_stop
                    )
                yield Chunk(
                    path,
                    report.tree_entry_start,
                    report.tree_entry_stop,
                    arrays,
                    friend=None if ft is None else friend_files[i].path,
                    from_friend=tuple(friend_branches),
                )
                total += report.tree_entry_stop - report.tree_entry_start
                last = report.tree_entry_stop
        except DataError:  # the friend's, already naming it
            raise
        except Exception as err:  # decompression / deserialization failures of damaged files
            raise DataError(
                f"{path}: tree {t.name!r} is damaged or truncated, reading failed after entry "
                f"{last} ({type(err).__name__}: {err})"
            ) from None
    if total == 0:
        raise DataError(
            "no entries to read: "
            + ", ".join(str(p) for p in files)
            + (" is empty" if len(files) == 1 else " are empty")
        )
