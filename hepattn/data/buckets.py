"""Length-bucketed batches: events of similar object counts batched together.

:func:`~hepattn.data.dataset.collate` pads a batch to its own longest event, so a batch of
similar lengths wastes few slots (and, in the pair path, few of the N² pairs). Random batches
of jets with 10 to 150 towers almost always hold one long jet; bucketing removes most of that
padding while keeping batches random:

1. each epoch, one random permutation of all events (seeded by ``seed`` and the epoch, the
   same on every rank);
2. the permutation is cut into windows of ``window`` global batches; each window is sorted
   by length and cut into global batches of ``batch_size × world`` consecutive events;
3. the global batches are shuffled; rank r takes events r, r + W, … of each (similar lengths
   on every rank), so W ranks together see exactly the batches one process would see.

Each event is used once per epoch (the last incomplete global batch is dropped when
``drop_last``). The same ordering is available for streamed chunks (:func:`bucket_order`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

__all__ = ["BucketBatchSampler", "bucket_order"]


def bucket_order(
    lengths: np.ndarray, batch: int, window: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Batches of indices into ``lengths`` (int array (n,)): a random permutation, sorted by
    length within windows of ``window × batch`` events, cut into batches of ``batch``, the
    batches in random order. The last batch may be short."""
    perm = rng.permutation(len(lengths))
    span = max(batch * window, batch)
    batches: list[np.ndarray] = []
    for start in range(0, len(perm), span):
        part = perm[start : start + span]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch] for i in range(0, len(part), batch))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


class BucketBatchSampler(Sampler[list[int]]):
    """Batch sampler of length-bucketed batches, sharded over ranks (see the module docs).

    Args:
        lengths: real objects per event, shape (n,).
        batch_size: events per rank and step.
        world, rank: data-parallel ranks (1, 0 without DDP).
        window: global batches per sorting window (larger: less padding, less randomness).
        seed: shuffling seed (the epoch is added, see :meth:`set_epoch`).
        drop_last: drop a last global batch with fewer than ``batch_size × world`` events.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        *,
        world: int = 1,
        rank: int = 0,
        window: int = 50,
        seed: int = 0,
        drop_last: bool = True,
    ) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.world = world
        self.rank = rank
        self.window = window
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _global(self) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = bucket_order(self.lengths, self.batch_size * self.world, self.window, rng)
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size * self.world]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for b in self._global():
            yield b[self.rank :: self.world].tolist()

    def __len__(self) -> int:
        n, g = len(self.lengths), self.batch_size * self.world
        return n // g if self.drop_last else -(-n // g)
