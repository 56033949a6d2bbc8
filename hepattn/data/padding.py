"""Jagged per-object arrays → fixed-size padded arrays with a mask.

Objects are sorted by p_T (descending, stable) within each event, then the first
``max_objects`` are kept. A padded array has shape ``[B, N, ...]`` with ``N = max_objects``;
``mask: bool[B, N]`` is True for real objects. Padded feature slots hold exactly 0, padded
label slots −1, padded ``index`` slots −1. ``index[b, n]`` is the position of the object in
the event's list as stored in the file, so results can be mapped back to the file's order.

The work is done on the flat content of the jagged arrays with one numpy scatter per
array, which is several times faster than ``pad_none`` + ``fill_none`` per branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

__all__ = ["JaggedLayout", "PaddedCollection", "TruncationStats"]


class JaggedLayout:
    """Where each object of a jagged array lands in the padded ``[B, N]`` grid.

    Built once per collection and chunk from the sort key (p_T); then :meth:`pad` places any
    jagged array with the same counts.
    """

    def __init__(self, sort_key: ak.Array, max_objects: int) -> None:
        if max_objects < 1:
            raise ValueError(f"max_objects must be ≥ 1, got {max_objects}")
        self.max_objects = max_objects
        self.counts = np.asarray(ak.num(sort_key, axis=1), dtype=np.int64)  # (B,)
        self.n_events = len(self.counts)
        starts = np.cumsum(self.counts) - self.counts  # (B,)
        order = ak.argsort(sort_key, axis=1, ascending=False, stable=True)
        # rank r of an object in its sorted event, and the flat position of the r-th object
        self.rank = np.asarray(ak.flatten(ak.local_index(sort_key, axis=1)), dtype=np.int64)
        self.event = np.repeat(np.arange(self.n_events), self.counts)
        local = np.asarray(ak.flatten(order), dtype=np.int64)
        self.gather = local + np.repeat(starts, self.counts)  # flat index, in sorted order
        keep = self.rank < max_objects  # objects that survive truncation
        # flat destinations in the (B·N) grid and flat sources, of the kept objects
        self._dest = self.event[keep] * max_objects + self.rank[keep]
        self._src = self.gather[keep]
        self._local = local[keep]  # file-order position of each kept object

    @property
    def mask(self) -> np.ndarray:
        """``bool[B, N]``, True for real (kept) objects."""
        return np.arange(self.max_objects) < np.minimum(self.counts, self.max_objects)[:, None]

    def pad(self, jagged: ak.Array, fill: float = 0, dtype=np.float32) -> np.ndarray:
        """Padded ``dtype[B, N]`` array of ``jagged`` in p_T order, ``fill`` in empty slots."""
        flat = np.asarray(ak.flatten(jagged, axis=1)).astype(dtype, copy=False)
        return self.pad_flat(flat, fill, dtype)

    def pad_flat(self, flat: np.ndarray, fill: float = 0, dtype=np.float32) -> np.ndarray:
        """As :meth:`pad`, for the flat content (file order) of a jagged array."""
        out = np.full(self.n_events * self.max_objects, fill, dtype=dtype)
        out[self._dest] = flat[self._src]
        return out.reshape(self.n_events, self.max_objects)

    def index(self) -> np.ndarray:
        """``int64[B, N]``: each slot's position in the file's own order, −1 for padding."""
        out = np.full(self.n_events * self.max_objects, -1, dtype=np.int64)
        out[self._dest] = self._local
        return out.reshape(self.n_events, self.max_objects)


@dataclass
class TruncationStats:
    """How many events and objects ``max_objects`` cut away, summed over chunks."""

    events: int = 0
    truncated_events: int = 0
    dropped_objects: int = 0
    largest: int = 0

    def add(self, counts: np.ndarray, max_objects: int) -> None:
        over = counts > max_objects
        self.events += len(counts)
        self.truncated_events += int(over.sum())
        self.dropped_objects += int((counts[over] - max_objects).sum())
        self.largest = max(self.largest, int(counts.max(initial=0)))


@dataclass
class PaddedCollection:
    """One collection, padded. Shapes use B events and N = ``max_objects`` slots.

    Attributes:
        values: ``float32[B, N, F]`` features named by ``features``; 0 where padded.
        mask: ``bool[B, N]``, True = real object.
        p4: ``float32[B, N, 4]`` as (px, py, pz, E) in GeV; 0 where padded.
        index: ``int64[B, N]`` position in the file's own object order; −1 where padded.
        labels: name -> ``int64[B, N]`` per-object targets; −1 where padded or "none".
        counts: ``int64[B]`` objects in each event before truncation.
    """

    values: np.ndarray
    mask: np.ndarray
    p4: np.ndarray
    index: np.ndarray
    features: tuple[str, ...]
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    counts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.mask)

    def __getitem__(self, sel) -> PaddedCollection:
        """The events ``sel`` (an index array, slice or boolean mask over B)."""
        return PaddedCollection(
            values=self.values[sel],
            mask=self.mask[sel],
            p4=self.p4[sel],
            index=self.index[sel],
            features=self.features,
            labels={k: v[sel] for k, v in self.labels.items()},
            counts=None if self.counts is None else self.counts[sel],
        )

    @classmethod
    def concatenate(cls, parts: Sequence[PaddedCollection]) -> PaddedCollection:
        first = parts[0]

        def cat(get):
            return np.concatenate([get(p) for p in parts], axis=0)

        return cls(
            values=cat(lambda p: p.values),
            mask=cat(lambda p: p.mask),
            p4=cat(lambda p: p.p4),
            index=cat(lambda p: p.index),
            features=first.features,
            labels={k: cat(lambda p, k=k: p.labels[k]) for k in first.labels},
            counts=None if first.counts is None else cat(lambda p: p.counts),
        )
