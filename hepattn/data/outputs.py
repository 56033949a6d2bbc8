"""Output paths that never destroy anything: checks before computing, atomic writes.

Every file hepattn writes (ROOT friend trees, JSON, PNG, ONNX, model directories) goes
through two steps:

1. :func:`check_output`, before any computation: the output must not resolve to one of the
   inputs (``hepattn tag IN -o IN`` would replace the input), must not be an existing
   directory, device, FIFO or socket when a file is meant (as root, ``-o /dev/full`` would
   replace the device node), and its directory must exist or be creatable and be writable.
2. :func:`atomic_path`: the content is written to a temporary file with a unique name in
   the target directory (two runs writing the same output each finish with a complete file
   of their own, the last rename winning, or fail cleanly) and renamed into place only on
   success; on any failure, Ctrl-C included, the temporary file is removed and nothing
   appears under the final name.

``OSError`` (read-only file system, no space left, permission denied) becomes one
:class:`~hepattn.errors.DataError` line naming the path. :func:`write_text` and
:func:`write_json` (strict JSON, NaN and ±inf as ``null``, :func:`to_json`) write small text
files through :func:`atomic_path`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hepattn.errors import DataError

__all__ = ["atomic_path", "check_output", "os_error", "to_json", "write_json", "write_text"]

# The process's umask, to give the renamed file the permissions a plain open() would.
_UMASK = os.umask(0)
os.umask(_UMASK)


def os_error(path: str | os.PathLike, err: OSError, doing: str = "cannot write") -> DataError:
    """One clear line for an ``OSError`` on ``path``."""
    reason = err.strerror or str(err)
    return DataError(f"{path}: {doing} ({reason})")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_output(
    path: str | os.PathLike,
    inputs: Iterable[str | os.PathLike] = (),
    *,
    directory: bool = False,
    what: str = "output",
) -> Path:
    """Validate an output path before computing; return it as a :class:`Path`.

    ``inputs``: the files the command reads (resolved, links followed); ``directory``: the
    output is a directory (a model directory) rather than a file; ``what``: the word used in
    messages (e.g. ``"--json file"``).
    """
    out = Path(path)
    for inp in inputs:
        if _same_file(out, Path(inp)):
            raise DataError(f"{what} {out} is the input file {inp}; choose another output path")
    if out.exists() or out.is_symlink():
        try:
            mode = out.stat().st_mode
        except OSError as err:
            raise os_error(out, err, "cannot inspect the output") from err
        if directory and not stat.S_ISDIR(mode):
            raise DataError(f"{what} {out} exists and is not a directory")
        if not directory and not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise DataError(f"{what} {out} exists and is {kind}; refusing to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DataError(f"{what} {out}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"{what} {out}: directory {existing} is not writable")
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; rename it to ``path`` on success.

    >>> with atomic_path("out.json") as tmp:
    ...     tmp.write_text("{}")
    """
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        os.chmod(name, 0o666 & ~_UMASK)
    except OSError as err:
        raise os_error(out, err) from err
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, out)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise os_error(out, err) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def to_json(obj: Any) -> str:
    """JSON text with NaN and ±inf written as ``null`` (strict JSON, readable by jq)."""

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=2, allow_nan=False) + "\n"


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (:func:`to_json`) to ``path`` atomically."""
    return write_text(path, to_json(obj))
