"""A deterministic validation split of the training files, by entry (``train --val-fraction``).

The entries of all training files are numbered as one chain (file after file, in the order
the paths and globs expand to: :func:`~hepattn.data.root.resolve_paths`), from 0. Entry ``i``
is a validation entry when

    ``splitmix64(splitmix64(seed) XOR i) / 2**64 < fraction``

(:data:`RULE`): a hash of the global entry index and the run's seed, so the split

- depends on nothing but the entry's position, the fraction and the seed — not on chunking,
  streaming, ranks or loader workers, nor on the events a task later leaves out;
- puts close to ``fraction`` of any large set of entries into validation, spread evenly over
  files and over the run of each file;
- is disjoint and complete: every entry is in exactly one part.

``--max-train N`` limits the entries split to the first N. The split (fraction, rule, seed)
is recorded in the run (``training.json``, the card, the checkpoint's run config, so that a
``--resume`` with another split is refused).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hepattn.config import ConfigError
from hepattn.data.reader import Events

__all__ = ["RULE", "EntrySplit", "file_offsets", "global_entries"]

#: The rule, as recorded in the run.
RULE = "splitmix64(splitmix64(seed) ^ global entry) / 2**64 < val_fraction"

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser of ``uint64`` values (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (x + np.uint64(0x9E3779B97F4A7C15)) & _M64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
        return z ^ (z >> np.uint64(31))


@dataclasses.dataclass(frozen=True)
class EntrySplit:
    """Validation entries: a ``fraction`` in (0, 1) of the global entry indices, by :data:`RULE`
    with ``seed``."""

    fraction: float
    seed: int

    def __post_init__(self) -> None:
        f = self.fraction
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0 < f < 1:
            raise ConfigError(
                f"the validation fraction (--val-fraction) must be a number between 0 and 1, "
                f"both excluded; got {f!r}"
            )

    def is_validation(self, entries: np.ndarray) -> np.ndarray:
        """``bool[B]``: which global entry indices ``entries`` are validation entries."""
        key = _splitmix64(np.array([self.seed % 2**64], np.uint64))[0]
        u = _splitmix64(np.asarray(entries, np.int64).astype(np.uint64) ^ key)
        return (u >> np.uint64(11)).astype(np.float64) * 2.0**-53 < self.fraction

    def part(self, ev: Events, which: str, offsets: Mapping[str, int] | None = None) -> Events:
        """The ``"train"`` or ``"val"`` entries of ``ev`` (see :func:`global_entries` for
        ``offsets``)."""
        if which not in ("train", "val"):
            raise ValueError(f"which must be 'train' or 'val', got {which!r}")
        val = self.is_validation(global_entries(ev, offsets))
        return ev.select(np.flatnonzero(val if which == "val" else ~val))

    def record(self) -> dict:
        """What the run records (``training.json``, the checkpoint's run config)."""
        return {"val_fraction": float(self.fraction), "rule": RULE, "seed": int(self.seed)}

    def describe(self) -> str:
        """One phrase for the model card."""
        return (
            f"{100 * self.fraction:g} % of the training entries, chosen by a hash of the "
            f"entry index and the seed ({self.seed}; rule in `training.json`)"
        )


def file_offsets(paths, tree: str | None = None, schema=None) -> dict[str, int]:
    """The global index of the first entry of each file of ``paths`` (ROOT files, as
    resolved by :func:`~hepattn.data.root.resolve_paths`), keyed by ``str(path)``."""
    from hepattn.data.root import open_tree, resolve_paths

    out, offset = {}, 0
    for p in resolve_paths(paths):
        out[str(p)] = offset
        offset += open_tree(Path(p), tree, schema).num_entries
    return out


def global_entries(ev: Events, offsets: Mapping[str, int] | None = None) -> np.ndarray:
    """``int64[B]``: each event's index in the chain of all training files.

    ``offsets``: the first global index of each file (:func:`file_offsets`); None when ``ev``
    holds every entry of its files from the chain's first entry on, in order (a whole read,
    or one up to ``entry_stop``): the offsets are then counted from ``ev`` itself.
    """
    if offsets is None:
        counts = np.bincount(ev.file_index, minlength=len(ev.files))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        whole = np.arange(len(ev), dtype=np.int64)
        if not np.array_equal(starts[ev.file_index] + ev.entry, whole):
            raise ValueError(
                "these events are not every entry of their files from the first on: "
                "give the files' offsets (file_offsets)"
            )
        return whole
    starts = np.array([offsets[str(f)] for f in ev.files], np.int64)
    return starts[ev.file_index] + ev.entry
