"""Writing per-event results as ROOT TTrees.

Outputs (class probabilities, jet assignments, generated samples) are written as a TTree with
one entry per input entry, in the input's order, so that users can attach it to their own tree
as a friend (``tree.AddFriend("hepattn", "out.root")`` in ROOT).

Branches are given as a mapping ``name -> array``:

- a 1-d numpy array gives a scalar branch;
- an ``(n, k)`` numpy array gives a fixed-size array branch of ``k`` values per entry;
- an awkward array of records with jagged fields (``ak.zip({"pt": ..., "eta": ...})`` under
  the name ``"jet"``) gives branches ``jet_pt``, ``jet_eta`` sharing one counter ``njet``;
- a plain jagged awkward array under ``"x"`` gives ``x`` with counter ``nx``.

Files are written under a unique temporary name in the target directory and renamed into
place when complete (:func:`hepattn.data.outputs.atomic_path`), so that a crash never leaves
a half-written file under the final name and concurrent writers never mix their data.
uproot's ``file[name] = {...}`` writes an RNTuple in uproot 5.7; we use ``mktree`` +
``extend`` to get a TTree.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepattn.data.outputs import atomic_path, os_error
from hepattn.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["TreeWriter", "write_tree"]


def _branch_type(name: str, value: Any) -> Any:
    """The ``mktree`` type of one branch, from its first chunk."""
    if isinstance(value, ak.Array):
        return ak.types.from_datashape(str(value.type.content), highlevel=False)
    arr = np.asarray(value)
    if arr.ndim == 0:
        raise DataError(f"branch {name!r}: expected one value per entry, got a scalar")
    if arr.ndim == 1:
        return arr.dtype
    return (arr.dtype, arr.shape[1:])


def _chunk_length(branches: Mapping[str, Any]) -> int:
    lengths = {name: len(value) for name, value in branches.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"branches to write have different numbers of entries: {lengths}")
    return next(iter(lengths.values()), 0)


class TreeWriter:
    """Write one TTree chunk by chunk; the file appears under ``path`` only on success.

    >>> with TreeWriter("out.root", tree="hepattn", metadata={"classes": "1,2,3"}) as w:
    ...     w.extend({"pred": np.array([0, 1]), "prob": np.zeros((2, 7), np.float32)})

    ``metadata`` values are written as ``TObjString`` objects next to the tree.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        tree: str = "hepattn",
        metadata: Mapping[str, str] | None = None,
        compression: Any = None,
    ) -> None:
        self.path = Path(path)
        self.tree_name = tree
        self.metadata = dict(metadata or {})
        self.compression = compression
        self.num_entries = 0
        self._atomic = atomic_path(self.path)
        self._tmp: Path | None = None
        self._file = None
        self._tree = None

    def __enter__(self) -> TreeWriter:
        self._tmp = self._atomic.__enter__()
        kwargs = {} if self.compression is None else {"compression": self.compression}
        try:
            self._file = uproot.recreate(self._tmp, **kwargs)
            for key, value in self.metadata.items():
                self._file[key] = str(value)
        except BaseException as err:
            self._atomic.__exit__(type(err), err, err.__traceback__)
            if isinstance(err, OSError):
                raise os_error(self.path, err) from err
            raise
        return self

    def add_metadata(self, metadata: Mapping[str, str]) -> None:
        """Write more ``TObjString`` metadata (known only once the entries are written)."""
        if self._file is None:
            raise RuntimeError("TreeWriter.add_metadata called outside its `with` block")
        try:
            for key, value in metadata.items():
                self._file[key] = str(value)
                self.metadata[key] = str(value)
        except OSError as err:
            raise os_error(self.path, err) from err

    def extend(self, branches: Mapping[str, Any]) -> None:
        """Append one chunk; every branch must hold the same number of entries."""
        if self._file is None:
            raise RuntimeError("TreeWriter.extend called outside its `with` block")
        n = _chunk_length(branches)
        branches = {  # regular awkward lists are written as jagged ones (TTree has no "N *")
            k: ak.from_regular(v, axis=1) if isinstance(v, ak.Array) and v.ndim > 1 else v
            for k, v in branches.items()
        }
        if self._tree is None:
            types = {name: _branch_type(name, value) for name, value in branches.items()}
            self._tree = self._file.mktree(self.tree_name, types)
        elif n == 0:
            return
        try:
            self._tree.extend(branches)
        except OSError as err:
            raise os_error(self.path, err) from err
        self.num_entries += n

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._file is not None
        try:
            self._file.close()
        except OSError as err:
            if exc_type is None:
                exc_type, exc, tb = type(err), err, err.__traceback__
        if exc_type is None and self._tree is None:
            exc = DataError(f"{self.path}: nothing was written (no chunk given to the writer)")
            exc_type, tb = DataError, None
        if exc_type is not None:
            self._atomic.__exit__(exc_type, exc, tb)  # removes the temporary file
            if isinstance(exc, OSError):
                raise os_error(self.path, exc) from exc
            if exc_type is DataError and tb is None:
                raise exc
            return
        self._atomic.__exit__(None, None, None)  # renames it into place
        log.debug("wrote %d entries to %s:%s", self.num_entries, self.path, self.tree_name)


def write_tree(
    path: str | os.PathLike,
    branches: Mapping[str, Any],
    tree: str = "hepattn",
    metadata: Mapping[str, str] | None = None,
    step: int = 100_000,
    compression: Any = None,
) -> Path:
    """Write ``branches`` as one TTree in ``step``-entry baskets; return the path written."""
    n = _chunk_length(branches)
    with TreeWriter(path, tree=tree, metadata=metadata, compression=compression) as writer:
        for start in range(0, max(n, 1), step):
            writer.extend({k: v[start : start + step] for k, v in branches.items()})
    return Path(path)
