"""Length-bucketed batches: every event once per epoch, similar lengths, rank sharding."""

from __future__ import annotations

import numpy as np

from hepattn.data.buckets import BucketBatchSampler, bucket_order


def _padding(batches, lengths):
    """Fraction of padded slots when each batch is padded to its longest event."""
    slots = sum(len(b) * lengths[b].max() for b in batches)
    return 1 - lengths.sum() / slots


def test_every_event_once_and_less_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 150, 5000)
    sampler = BucketBatchSampler(lengths, 64, seed=3, drop_last=False)
    batches = [np.asarray(b) for b in sampler]
    assert len(batches) == len(sampler) == -(-5000 // 64)
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(5000))
    random_batches = np.array_split(rng.permutation(5000), len(batches))
    assert _padding(batches, lengths) < 0.1 < 0.4 < _padding(random_batches, lengths)


def test_epochs_differ_and_repeat_with_the_seed():
    lengths = np.random.default_rng(1).integers(1, 60, 1000)
    a = BucketBatchSampler(lengths, 32, seed=5)
    b = BucketBatchSampler(lengths, 32, seed=5)
    first = list(a)
    assert first == list(b)
    a.set_epoch(1)
    assert list(a) != first
    assert all(len(x) == 32 for x in first) and len(first) == len(a) == 1000 // 32


def test_ranks_share_the_global_batches():
    lengths = np.random.default_rng(2).integers(1, 100, 999)
    one = list(BucketBatchSampler(lengths, 64, seed=7))
    ranks = [list(BucketBatchSampler(lengths, 32, world=2, rank=r, seed=7)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(one)
    for glob, r0, r1 in zip(one, *ranks, strict=True):
        assert sorted(glob) == sorted(r0 + r1) and len(r0) == len(r1) == 32


def test_bucket_order_short_input():
    order = bucket_order(np.array([3, 1, 2]), 8, 4, np.random.default_rng(0))
    assert [sorted(b.tolist()) for b in order] == [[0, 1, 2]]
