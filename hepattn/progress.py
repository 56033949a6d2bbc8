"""Progress bars (tqdm) that library code shows only when its caller asks.

Library functions take ``progress: bool`` (default False); the command line passes
:func:`wanted` — True on a terminal unless ``--no-progress`` — so that logs, pipes and CI
never fill with bar updates. Bars go to stderr and disappear when done.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["bar", "wanted"]


class _NoBar:
    """Stands in for a tqdm bar that is not shown."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def bar(enabled: bool, total: int | None = None, desc: str = "", unit: str = "it"):
    """A tqdm bar on stderr when ``enabled``, else an object with the same methods that
    shows nothing (``update``, ``set_postfix``, ``close``, context manager)."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)


def wanted(no_progress: bool = False) -> bool:
    """Whether the command line shows bars: stderr is a terminal and not ``--no-progress``."""
    return not no_progress and sys.stderr.isatty()
