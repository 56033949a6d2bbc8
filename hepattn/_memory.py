"""Keep the C heap from growing while a long run allocates and frees large tensors.

glibc's ``malloc`` serves blocks above a threshold with ``mmap`` (returned to the system on
``free``), but by default the threshold *rises* to the size of every such block freed (up
to 32 MiB). After the first inference batches, torch's tensors of a few MiB therefore come
from the heap, whose free space fragments as batches and chunks come and go: batch after
batch the peak memory grows although the live data do not. Measured with the bundled
tagger on chunks of 10,240 jets (one thread): 1.0, 1.2, 1.4 GB after one, two, three
chunks, of which 0.11 GB in use; the bundled matcher grows by 13–19 MB per chunk of
20,480 events. Fixing the threshold (``mallopt(M_MMAP_THRESHOLD)``, which also stops the
rise) at :data:`MMAP_THRESHOLD` keeps those blocks out of the heap and the peak flat
(tagger: 0.64, 0.65, 0.67 GB), at the price of page faults for every large tensor: about
twice the CPU time for the tagger, a few per cent for the matcher.

:func:`bounded_heap` does that for glibc on Linux (nothing elsewhere, nor when the
environment sets glibc's own ``MALLOC_MMAP_THRESHOLD_``, which then wins) and on exit
fixes the threshold at glibc's ceiling, where the rise would have taken it anyway.
:func:`hepattn.tasks.friends.write_friends` (``hepattn tag`` and ``match``) runs inside it
whenever it reads more than one chunk; Python callers streaming large files can use it too.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Iterator

log = logging.getLogger(__name__)

__all__ = ["CEILING", "MMAP_THRESHOLD", "bounded_heap"]

#: Blocks of at least this many bytes are mmapped while :func:`bounded_heap` is active.
MMAP_THRESHOLD = 4 << 20
#: glibc's ceiling of the rising threshold on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``).
CEILING = 32 << 20
_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


def _mallopt():
    """glibc's ``mallopt``, or None (not Linux, not glibc, or the environment decides)."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return None
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn


@contextlib.contextmanager
def bounded_heap(threshold: int = MMAP_THRESHOLD) -> Iterator[bool]:
    """Blocks of ``threshold`` bytes or more are mmapped inside the block; yields whether
    the threshold could be set."""
    mallopt = _mallopt()
    done = bool(mallopt and mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    log.debug("malloc mmap threshold fixed at %d bytes: %s", threshold, done)
    try:
        yield done
    finally:
        if done:
            mallopt(_M_MMAP_THRESHOLD, CEILING)
