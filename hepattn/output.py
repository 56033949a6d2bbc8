"""Small output files written atomically: JSON (strict, NaN as null) and text.

Every file is written under a unique temporary name in the destination directory and
renamed into place when complete, so an interrupted run (Ctrl-C, a crash) never leaves a
partial file under the final name.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "to_json", "write_json", "write_text"]


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


def atomic_path(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` with a fresh temporary path next to ``path``, then rename it to
    ``path``; on any exception (KeyboardInterrupt included) the temporary is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_path(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (:func:`to_json`) to ``path`` atomically."""
    return write_text(path, to_json(obj))
