"""torch datasets over padded events, and the collate function that makes a :class:`Batch`.

- :class:`PaddedDataset`: map-style, over :class:`~hepattn.data.reader.Events` in memory.
- :class:`RootStreamDataset`: iterable, streams ROOT files chunk by chunk; the chunks are
  shared out between DataLoader workers (and between distributed ranks when
  ``torch.distributed`` is initialised), so each event is produced exactly once per epoch.

Both yield one event at a time as a dict of tensors; :func:`collate` stacks them into a
:class:`Batch` and trims slots that are padding in every event of the batch (objects are sorted
by p_T, so real objects come first). Both work with ``DataLoader(num_workers > 0)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from hepattn.data.btag import BtagPolicy
from hepattn.data.buckets import bucket_order
from hepattn.data.reader import Events, PadSpec, iterate_events
from hepattn.data.root import Paths, open_tree, resolve_friends, resolve_paths
from hepattn.data.schema import Schema, get_schema
from hepattn.data.standardize import Standardizer

__all__ = ["Batch", "PaddedDataset", "RootStreamDataset", "collate"]


@dataclass
class Batch:
    """A batch of B events with up to N objects each.

    Attributes:
        x: ``float32[B, N, F]`` (standardized) features; 0 where padded.
        p4: ``float32[B, N, 4]`` (px, py, pz, E) in GeV; 0 where padded.
        mask: ``bool[B, N]``, True = real object.
        index: ``int64[B, N]`` object position in the file's own order, −1 where padded.
        labels: name -> ``int64[B, N]`` per-object targets, −1 where padded / none.
        event: name -> ``[B]`` event-level values of the schema (weights, class labels, …).
        entry: ``int64[B]`` entry number of each event in its file.
        derived: name -> ``[B, ...]`` values a task derived (targets, checked labels, …; see
            :class:`~hepattn.data.reader.Events`).
    """

    x: torch.Tensor
    p4: torch.Tensor
    mask: torch.Tensor
    index: torch.Tensor
    entry: torch.Tensor
    labels: dict[str, torch.Tensor] = field(default_factory=dict)
    event: dict[str, torch.Tensor] = field(default_factory=dict)
    derived: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.mask.shape[0]

    def _map(self, fn) -> Batch:
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = {k: fn(t) for k, t in v.items()} if isinstance(v, dict) else fn(v)
        return Batch(**kw)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Batch:
        return self._map(lambda t: t.pin_memory())


def collate(items: Sequence[Mapping[str, Any]], trim: bool = True) -> Batch:
    """Stack per-event dicts (from the datasets here) into a :class:`Batch`."""
    mask = torch.stack([it["mask"] for it in items])
    n = mask.shape[1]
    if trim:
        n = max(int(mask.sum(dim=1).max()) if len(items) else 0, 1)

    def stack(key):
        return torch.stack([it[key][:n] for it in items])

    return Batch(
        x=stack("x"),
        p4=stack("p4"),
        mask=mask[:, :n],
        index=stack("index"),
        entry=torch.stack([it["entry"] for it in items]),
        labels={k: torch.stack([it["labels"][k][:n] for it in items]) for k in items[0]["labels"]},
        event={k: torch.stack([it["event"][k] for it in items]) for k in items[0]["event"]},
        derived={  # optional in hand-made items
            k: torch.stack([it["derived"][k] for it in items]) for k in items[0].get("derived", {})
        },
    )


def _tensors(events: Events, collection: str, standardizer: Standardizer | None) -> dict:
    """Whole-sample tensors for one collection of ``events``."""
    coll = events[collection]
    x = coll.values
    if standardizer is not None:
        x = standardizer.transform(x, coll.mask, coll.features)
    return {
        "x": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        "p4": torch.from_numpy(coll.p4),
        "mask": torch.from_numpy(coll.mask),
        "index": torch.from_numpy(coll.index),
        "entry": torch.from_numpy(events.entry),
        "labels": {k: torch.from_numpy(v) for k, v in coll.labels.items()},
        "event": {k: torch.from_numpy(np.asarray(v)) for k, v in events.event.items()},
        "derived": {k: torch.from_numpy(np.asarray(v)) for k, v in events.derived.items()},
    }


def _item(t: dict, i: int) -> dict:
    return {
        k: ({kk: vv[i] for kk, vv in v.items()} if isinstance(v, dict) else v[i])
        for k, v in t.items()
    }


class PaddedDataset(Dataset):
    """Map-style dataset: event ``i`` of ``events``, collection ``collection``."""

    def __init__(
        self, events: Events, collection: str, standardizer: Standardizer | None = None
    ) -> None:
        self.collection = collection
        self.features = events[collection].features
        self._t = _tensors(events, collection, standardizer)

    def __len__(self) -> int:
        return len(self._t["mask"])

    def __getitem__(self, i: int) -> dict:
        return _item(self._t, i)

    def lengths(self) -> np.ndarray:
        """Real objects per event, shape (n,) (for length-bucketed batches)."""
        return self._t["mask"].sum(dim=1).numpy()

    def batches(self, batch_size: int, trim: bool = True) -> Iterator[Batch]:
        """Consecutive batches in event order, sliced from the whole-sample tensors — the
        same batches as a ``DataLoader`` with :func:`collate`, without per-event Python work
        (the inference path)."""
        t = self._t
        for start in range(0, len(self), batch_size):
            sl = slice(start, start + batch_size)
            mask = t["mask"][sl]
            n = max(int(mask.sum(dim=1).max()), 1) if trim else mask.shape[1]
            yield Batch(
                x=t["x"][sl, :n],
                p4=t["p4"][sl, :n],
                mask=mask[:, :n],
                index=t["index"][sl, :n],
                entry=t["entry"][sl],
                labels={k: v[sl, :n] for k, v in t["labels"].items()},
                event={k: v[sl] for k, v in t["event"].items()},
                derived={k: v[sl] for k, v in t["derived"].items()},
            )


class RootStreamDataset(IterableDataset):
    """Stream events from ROOT files without holding them all in memory.

    The entries of all files (taken as one chain, up to ``entry_stop``) are cut into ranges of
    ``chunk_entries``; range ``r`` goes to shard ``r mod (world_size · num_workers)``. With
    ``shuffle`` the order of ranges and of events within a range change every epoch (call
    :meth:`set_epoch`), seeded by ``seed``. ``transform`` (``Events → Events``) runs on each
    chunk after reading: a task's label checks, derived fields, event selection. ``targets``:
    event-level target branches (name → branch) every file must hold, read into each chunk's
    :attr:`~hepattn.data.reader.Events.targets` (a matcher's regressions).

    ``len()`` is ``expected_events``: the number of entries unless set (e.g. to the entries
    times the fraction a selecting ``transform`` keeps); the training loop uses it only to
    size the learning-rate schedule and progress bars. Ranks may receive different numbers
    of events; :func:`hepattn.training.loop.fit` stops every rank at the same step.
    """

    def __init__(
        self,
        paths: Paths,
        schema: str | Schema,
        collection: str,
        spec: PadSpec,
        standardizer: Standardizer | None = None,
        *,
        tree: str | None = None,
        chunk_entries: int = 20_000,
        shuffle: bool = False,
        seed: int = 0,
        nonfinite: str = "error",
        transform: Callable[[Events], Events] | None = None,
        entry_stop: int | None = None,
        friends: Paths | None = None,
        btag: BtagPolicy | None = None,
        targets: Mapping[str, str] | None = None,
    ) -> None:
        self.paths = [str(p) for p in resolve_paths(paths)]
        found = resolve_friends(friends, [Path(p) for p in self.paths])
        #: one friend file per input file (:func:`~hepattn.data.root.iterate_branches`), or None
        self.friends = None if found is None else [str(p) for p in found]
        self.schema = get_schema(schema)
        self.collection = collection
        self.spec = spec
        self.standardizer = standardizer
        self.tree = tree
        self.chunk_entries = chunk_entries
        self.shuffle = shuffle
        self.seed = seed
        self.nonfinite = nonfinite
        self.btag = btag
        #: event-level target branches read with each chunk, required (regressions)
        self.targets = dict(targets or {})
        self.transform = transform
        self.epoch = 0
        #: (batch, window) to yield each chunk in length-bucketed batches (set by the training
        #: loop, see :mod:`hepattn.data.buckets`); None: plain shuffled order.
        self.bucket: tuple[int, int] | None = None
        self.num_entries = sum(
            open_tree(Path(p), tree, self.schema).num_entries for p in self.paths
        )
        if entry_stop is not None:
            self.num_entries = min(self.num_entries, max(int(entry_stop), 0))
        self.expected_events = self.num_entries

    def __len__(self) -> int:
        return self.expected_events

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _shard(self) -> tuple[int, int]:
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank * nw + wid, world * nw

    def __iter__(self) -> Iterator[dict]:
        shard, n_shards = self._shard()
        ranges = [
            (s, min(s + self.chunk_entries, self.num_entries))
            for s in range(0, self.num_entries, self.chunk_entries)
        ]
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        if self.shuffle:
            rng.shuffle(ranges)
        for start, stop in ranges[shard::n_shards]:
            for events in iterate_events(
                self.paths,
                self.schema,
                {self.collection: self.spec},
                tree=self.tree,
                step_size=stop - start,
                entry_start=start,
                entry_stop=stop,
                nonfinite=self.nonfinite,
                friends=self.friends,
                btag=self.btag,
                targets=self.targets,
                require_targets=bool(self.targets),
            ):
                if self.transform is not None:
                    events = self.transform(events)
                t = _tensors(events, self.collection, self.standardizer)
                order = list(range(len(events)))
                if self.shuffle and self.bucket is not None:
                    lengths = t["mask"].sum(dim=1).numpy()
                    nrng = np.random.default_rng([self.seed, self.epoch, start])
                    order = np.concatenate(bucket_order(lengths, *self.bucket, nrng)).tolist()
                elif self.shuffle:
                    rng.shuffle(order)
                for i in order:
                    yield _item(t, i)
