"""The training and validation loaders of one run: sharding over ranks, length bucketing.

- A streamed training set (an ``IterableDataset``) shards itself (files → ranges → ranks ×
  loader workers); with ``cfg.bucket`` it yields each chunk in length-bucketed batches.
- A map-style training set with ``lengths()`` gets length-bucketed global batches from one
  permutation per epoch shared by all ranks (:class:`~hepattn.data.buckets.BucketBatchSampler`).
- Any other map-style set gets one random permutation per epoch shared by all ranks, rank r
  taking every W-th event (``DistributedSampler``).

Validation: rank r evaluates events r, r + W, r + 2W, … (no padding, no double counts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset, Subset

from hepattn.data.buckets import BucketBatchSampler
from hepattn.training import distributed as dist_utils

__all__ = ["Loaders", "make_loaders"]


@dataclass
class Loaders:
    """The loaders of a run and what the epoch loop needs to drive them."""

    train: DataLoader
    val: DataLoader
    #: what ``set_epoch(epoch)`` is called on each epoch (the sampler, or the streamed set)
    epoch_source: Any
    steps_per_epoch: int
    streaming: bool


def make_loaders(
    train_set: Dataset, val_set: Dataset, collate_fn: Callable, cfg, world: int
) -> Loaders:
    """Loaders for ``world`` ranks with the per-rank batch ``cfg.batch_size // world``."""
    per_rank = cfg.batch_size // world
    streaming = isinstance(train_set, IterableDataset)
    if streaming:  # sharded by the dataset itself (files → ranges → ranks × workers)
        sampler = None
        if cfg.bucket:
            train_set.bucket = (per_rank, cfg.bucket_window)
        train_loader = DataLoader(
            train_set, batch_size=per_rank, collate_fn=collate_fn, num_workers=cfg.num_workers
        )
        steps_per_epoch = max(1, len(train_set) // cfg.batch_size)  # an estimate
    elif cfg.bucket and hasattr(train_set, "lengths"):
        # length-bucketed global batches from one permutation per epoch, shared by all ranks
        sampler = BucketBatchSampler(
            train_set.lengths(),
            per_rank,
            world=world,
            rank=dist_utils.rank(),
            window=cfg.bucket_window,
            seed=cfg.seed,
            drop_last=len(train_set) > cfg.batch_size,
        )
        train_loader = DataLoader(
            train_set, batch_sampler=sampler, collate_fn=collate_fn, num_workers=cfg.num_workers
        )
        steps_per_epoch = len(train_loader)
    else:
        # one random permutation per epoch, shared by all ranks; rank r takes every W-th event
        sampler = DistributedSampler(
            train_set,
            num_replicas=world,
            rank=dist_utils.rank(),
            shuffle=True,
            seed=cfg.seed,
            drop_last=True,
        )
        train_loader = DataLoader(
            train_set,
            batch_size=per_rank,
            sampler=sampler,
            collate_fn=collate_fn,
            num_workers=cfg.num_workers,
            drop_last=len(train_set) > cfg.batch_size,
        )
        steps_per_epoch = len(train_loader)
    # validation: rank r evaluates events r, r + W, r + 2W, … (no padding, no double counts)
    val_shard = (
        val_set if world == 1 else Subset(val_set, range(dist_utils.rank(), len(val_set), world))
    )
    val_loader = DataLoader(
        val_shard, batch_size=cfg.batch_size * 2, collate_fn=collate_fn, num_workers=cfg.num_workers
    )
    return Loaders(
        train=train_loader,
        val=val_loader,
        epoch_source=train_set if streaming else sampler,
        steps_per_epoch=steps_per_epoch,
        streaming=streaming,
    )
